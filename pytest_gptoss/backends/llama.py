"""Generation through llama-cpp-python, in process, on CPU, Metal or CUDA.

A gpt-oss GGUF gets a harmony prompt rendered by :mod:`pytest_gptoss.harmony`
and is decoded until ``<|return|>`` or ``<|call|>``. Any other GGUF (no
harmony tokens in its vocabulary) is prompted through its own chat template,
and its whole answer is the final channel. Either way the tokens go through
one :class:`~pytest_gptoss.backends.engine.Engine` per loaded model, which
decodes the requests of many cases together.
"""

from __future__ import annotations

import atexit
import ctypes
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_gptoss import harmony
from pytest_gptoss.backends import BackendError, Generation, Request
from pytest_gptoss.backends.engine import Engine, EngineError, EngineRequest, EngineResult, EngineSettings
from pytest_gptoss.gguf_files import model_identity, read_gguf_metadata, read_gguf_tensors, training_context

__all__ = ["BackendError", "LlamaBackend", "Runtime", "close_all", "llama_build", "load", "unreadable"]

#: how many sequences decode together unless --gptoss-parallel says otherwise (bench/README.md)
DEFAULT_PARALLEL = 8
#: context a sequence of an exchange with tools keeps free for its calls' answers, so the next generation
#: rarely makes the engine's context grow
TOOL_ROOM = 1024


def unreadable(path: Path, exc: Exception) -> BackendError:
    """The error for a model file that cannot be read as GGUF."""
    return BackendError(f"cannot load model {path}: not a readable GGUF file ({exc})")


@dataclass(frozen=True)
class Runtime:
    """How a model is loaded and run: context per sequence, GPU offload, threads, batching."""

    ctx: int = 32768
    n_gpu_layers: int = -1
    threads: int | None = None
    parallel: int = DEFAULT_PARALLEL
    flash_attn: str = "auto"
    #: where tokens are sampled: "auto" (in llama.cpp's graph where it can), "backend" or "cpu"
    sampling: str = "auto"
    share_prefix: bool = True
    #: a request reuses what a finished one left in its slot's memory (the benchmark turns it off)
    reuse_memory: bool = True


class LoadedModel:
    """A llama.cpp model, its vocabulary, its prompt format and its engine, for one process."""

    def __init__(self, path: Path, n_gpu_layers: int, ctx: int) -> None:
        import llama_cpp

        self._llama = llama_cpp
        self.path = path
        try:
            trained = training_context(path)
        except (OSError, ValueError) as exc:
            raise unreadable(path, exc) from None
        _backend_init()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0x7FFFFFFF if n_gpu_layers < 0 else n_gpu_layers
        if hasattr(params, "use_extra_bufts") and avoids_extra_buffer_types(path):
            # llama.cpp's AMX matrix kernels (an extra CPU buffer type) crashed the process on prompts of
            # more than one token (SmolLM2's Q4_1 weights); the plain CPU kernels do not. Other models
            # (gpt-oss's MXFP4 experts) keep the extra buffer types and their weight repacking.
            params.use_extra_bufts = False
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            said = f": {_load_error()}" if _LOG else ""
            raise BackendError(f"cannot load model {path}: llama.cpp could not load it{said}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        cap = ctx if ctx > 0 else (trained or 4096)
        self.ctx_cap = min(cap, trained) if trained else cap
        self.harmony_ids = self._harmony_ids()
        self.engines: dict[EngineSettings, Engine] = {}
        self._formatter: Any = None

    def engine(self, runtime: Runtime) -> Engine:
        """The engine for ``runtime``'s batching settings, one per process."""
        settings = EngineSettings(parallel=runtime.parallel, ctx_cap=self.ctx_cap, threads=runtime.threads,
                                  flash_attn=runtime.flash_attn, sampling=runtime.sampling,
                                  share_prefix=runtime.share_prefix, reuse_memory=runtime.reuse_memory)
        if settings not in self.engines or self.engines[settings].closed:
            self.engines[settings] = Engine(self.model, self.vocab, settings)
        return self.engines[settings]

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 16
        while True:
            buffer = (self._llama.llama_token * size)()
            count = self._llama.llama_tokenize(self.vocab, data, len(data), buffer, size, add_special, True)
            if count >= 0:
                return list(buffer[:count])
            size = -count

    def detokenize(self, tokens: Sequence[int]) -> str:
        pieces = []
        buffer = ctypes.create_string_buffer(256)
        for token in tokens:
            length = self._llama.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, True)
            if length < 0:
                buffer = ctypes.create_string_buffer(-length)
                length = self._llama.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, True)
            pieces.append(buffer.raw[:length])
        return b"".join(pieces).decode("utf-8", errors="replace")

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The model's own chat template applied to ``messages``, as llama-cpp-python applies it."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llama = self._llama
            template = llama.llama_model_chat_template(self.model, None)
            if not template:
                raise BackendError(f"{self.path.name} has neither harmony tokens nor a chat template")
            eos, bos = llama.llama_vocab_eos(self.vocab), llama.llama_vocab_bos(self.vocab)
            self._formatter = Jinja2ChatFormatter(
                template=template.decode("utf-8"),
                eos_token=llama.llama_vocab_get_text(self.vocab, eos).decode() if eos != -1 else "",
                bos_token=llama.llama_vocab_get_text(self.vocab, bos).decode() if bos != -1 else "",
            )
        try:
            return str(self._formatter(messages=messages).prompt)
        except Exception as exc:  # a template that raises is the model's problem, not the run's
            raise BackendError(f"{self.path.name}: its chat template failed: {exc}") from None

    def _harmony_ids(self) -> dict[str, int] | None:
        """The ids of the harmony control tokens, or None for a model without them."""
        ids = {}
        for text in harmony.CONTROL_TOKENS:
            tokens = self.tokenize(text)
            if len(tokens) == 1:
                ids[text] = tokens[0]
        essential = (harmony.START, harmony.END, harmony.MESSAGE, harmony.CHANNEL, harmony.RETURN, harmony.CALL)
        return ids if all(token in ids for token in essential) else None

    def close(self) -> None:
        stopped = [engine.close() for engine in self.engines.values()]
        if all(stopped) and self.model:
            self._llama.llama_model_free(self.model)
            self.model = None


#: loaded models, one per (path, GPU layers, context cap) for the life of the process
_LOADED: dict[tuple[str, int, int], LoadedModel] = {}
_BACKEND_READY = False


#: llama.cpp's last warnings and errors: its log is kept off the terminal, and a load error quotes it
_LOG: deque[str] = deque(maxlen=20)


def _keep_log(level: int, text: bytes, _data: Any) -> None:
    # warnings and errors: 2 and 3 in older ggml builds, 3 and 4 since ggml put DEBUG first (2 is then INFO)
    if level in (2, 3, 4):
        line = text.decode("utf-8", errors="replace").strip()
        if line:
            _LOG.append(line)


def _load_error() -> str:
    """llama.cpp's own reason for the last failed load: its last line that says error, else its last line."""
    said = [line for line in _LOG if "error" in line.lower()]
    return (said or list(_LOG))[-1]


_LOG_CALLBACK: Any = None


def _backend_init() -> None:
    global _BACKEND_READY, _LOG_CALLBACK
    if not _BACKEND_READY:
        import llama_cpp

        _LOG_CALLBACK = llama_cpp.llama_log_callback(_keep_log)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        _BACKEND_READY = True


def avoids_extra_buffer_types(path: Path) -> bool:
    """Whether ``path`` must load without llama.cpp's extra CPU buffer types (its AMX kernels), see LoadedModel."""
    return _amx_build() and _amx_weights(path)


def _amx_build() -> bool:
    """Whether this llama.cpp build uses Intel AMX on this CPU."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


#: GGML types that llama.cpp's AMX kernels take (ggml-cpu/amx/common.h): Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS
AMX_TYPES = frozenset({2, 3, 8, 12, 13, 14, 23})


def _amx_weights(path: Path) -> bool:
    """Whether a matrix of the model (any weight but the token embeddings) has a type AMX kernels take."""
    tensors, _ = read_gguf_tensors(path, read_gguf_metadata(path, lambda key: False))
    return any(kind in AMX_TYPES and name != "token_embd.weight" for name, kind in tensors)


def load(path: Path, runtime: Runtime) -> LoadedModel:
    """The loaded model for ``path``, once per process."""
    key = (str(path), runtime.n_gpu_layers, runtime.ctx)
    if key not in _LOADED:
        if not _LOADED:
            atexit.register(close_all)
        _LOADED[key] = LoadedModel(Path(path), runtime.n_gpu_layers, runtime.ctx)
    return _LOADED[key]


def close_all() -> None:
    """Stop every engine and free every model while llama_cpp is still intact."""
    while _LOADED:
        _, model = _LOADED.popitem()
        model.close()


def llama_build() -> dict[str, Any]:
    """The llama-cpp-python version and llama.cpp's own build description."""
    try:
        import llama_cpp
    except ImportError:
        return {}
    info = llama_cpp.llama_print_system_info()
    return {
        "llama_cpp_python": getattr(llama_cpp, "__version__", "unknown"),
        "system_info": info.decode("utf-8", "replace").strip() if isinstance(info, bytes) else str(info),
    }


def harmony_prompt(request: Request) -> str:
    """The harmony prompt of ``request``: its messages, its tools, and the exchange so far."""
    if not (request.tools or request.builtin_tools or request.history):
        return harmony.render_prompt(request.messages, request.reasoning)
    builtin = tuple((name, harmony.PYTHON_TOOL) for name in request.builtin_tools if name == "python")
    messages = [harmony.Message(role, content) for role, content in request.messages] + list(request.history)
    return harmony.render_conversation(messages, harmony.SystemConfig(reasoning=request.reasoning,
                                                                      builtin_tools=builtin), tools=request.tools)


class LlamaBackend:
    """Generates with one GGUF model through the batched engine."""

    def __init__(self, label: str, path: Path, runtime: Runtime = Runtime()) -> None:
        self.label = label
        self.path = Path(path)
        self.runtime = runtime
        self._model: LoadedModel | None = None

    @property
    def model(self) -> LoadedModel:
        if self._model is None:
            self._model = load(self.path, self.runtime)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def is_harmony(self) -> bool:
        return self.model.harmony_ids is not None

    def prompt_text(self, request: Request) -> str:
        """What the model is given for ``request``, as text."""
        if self.is_harmony:
            return harmony_prompt(request)
        if request.tools or request.builtin_tools:
            raise BackendError(
                f"case '{request.case}' offers tools, but {self.path.name} has no harmony tokens (it is no gpt-oss "
                "model), so its calls could not be read; run cases with tools on a gpt-oss model"
            )
        return self.model.chat_prompt([
            {"role": "system" if role == "developer" else role, "content": content}
            for role, content in request.messages
        ])

    def submit(self, requests: Sequence[Request]) -> list[Future[Generation | None]]:
        model = self.model
        outer: list[Future[Generation | None]] = []
        work: list[tuple[Request, EngineRequest, Future[Generation | None]]] = []
        for request in requests:
            future: Future[Generation | None] = Future()
            outer.append(future)
            try:
                work.append((request, self._engine_request(request), future))
            except BackendError as exc:
                future.set_exception(exc)
        inner = model.engine(self.runtime).submit([engine_request for _, engine_request, _ in work])
        for (request, engine_request, future), done in zip(work, inner):
            done.add_done_callback(self._resolver(request, engine_request, future))
        return outer

    def stats(self) -> dict[str, Any]:
        return {"model": self.label, **self.engine.stats()} if self._model is not None else {}

    def identity(self) -> dict[str, Any]:
        """The GGUF file's identity (:func:`~pytest_gptoss.gguf_files.model_identity`): its header alone is read."""
        try:
            return model_identity(self.path)
        except (OSError, ValueError) as exc:
            raise unreadable(self.path, exc) from None

    @property
    def engine(self) -> Engine:
        return self.model.engine(self.runtime)

    def close(self) -> None:
        """Stop this backend's engine; requests not finished fail."""
        if self._model is not None:
            self.engine.close()

    def _engine_request(self, request: Request) -> EngineRequest:
        model = self.model
        prompt = model.tokenize(self.prompt_text(request))
        if len(prompt) >= model.ctx_cap:
            raise BackendError(
                f"case '{request.case}': the prompt is {len(prompt)} tokens but a sequence's context holds "
                f"{model.ctx_cap}; raise --gptoss-ctx (the model was trained for at most its own context)"
            )
        if model.harmony_ids is not None:
            ids = model.harmony_ids
            stops = frozenset(ids[token] for token in (*harmony.STOP_TOKENS, harmony.ENDOFTEXT) if token in ids)
        else:
            stops = frozenset()
        return EngineRequest(
            prompt=tuple(prompt),
            budget=min(request.max_tokens, model.ctx_cap - len(prompt)),
            seed=request.seed,
            temperature=request.temperature,
            top_p=request.top_p,
            stops=stops,
            # an exchange with tools goes on with its calls' answers and the next generation in the same slot
            room=TOOL_ROOM if request.tools or request.builtin_tools else 0,
        )

    def _resolver(self, request: Request, engine_request: EngineRequest,
                  future: Future[Generation | None]) -> Any:
        def resolve(done: Future[EngineResult]) -> None:
            try:
                result = done.result()
                future.set_result(self._generation(request, engine_request, result))
            except EngineError as exc:
                future.set_exception(BackendError(f"case '{request.case}': {exc}"))
            except Exception as exc:  # the engine thread must never take an exception with it
                future.set_exception(BackendError(f"case '{request.case}': {type(exc).__name__}: {exc}"))

        return resolve

    def _generation(self, request: Request, engine_request: EngineRequest, result: EngineResult) -> Generation:
        tokens = list(result.tokens)
        common: dict[str, Any] = dict(
            case=request.case,
            model=self.label,
            reasoning=request.reasoning,
            sample=request.sample,
            prompt_tokens=len(engine_request.prompt),
            completion_tokens=len(tokens),
            seconds=result.seconds,
            seed=request.seed,
        )
        if not self.is_harmony:
            if tokens and self.model._llama.llama_vocab_is_eog(self.model.vocab, tokens[-1]):
                tokens = tokens[:-1]
            return Generation(final=self.model.detokenize(tokens).strip(), has_final=True,
                              finish_reason=result.finish, **common)
        text = self.model.detokenize(tokens)
        parsed = harmony.parse_completion(text)
        return Generation(
            final=parsed.final,
            analysis=parsed.analysis,
            commentary=parsed.commentary,
            finish_reason=parsed.finish_reason,
            has_final=parsed.has_final,
            reasoning_tokens=self._reasoning_tokens(tokens),
            tool_calls=[
                {"recipient": c.recipient, "content_type": c.content_type, "arguments": c.arguments,
                 "channel": c.channel}
                for c in parsed.tool_calls
            ],
            raw="" if parsed.has_final else text,
            **common,
        )

    def _reasoning_tokens(self, tokens: list[int]) -> int:
        """Tokens spent before the final channel's content began (all of them without one)."""
        ids = self.model.harmony_ids
        assert ids is not None
        header_start = None
        for index, token in enumerate(tokens):
            if token == ids[harmony.CHANNEL]:
                header_start = index + 1
            elif token == ids[harmony.MESSAGE] and header_start is not None:
                header = self.model.detokenize(tokens[header_start:index])
                if header.strip().startswith("final"):
                    return index + 1
                header_start = None
        return len(tokens)
