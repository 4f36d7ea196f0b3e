"""Generation through llama-cpp-python, in process, on CPU, Metal or CUDA.

A gpt-oss GGUF gets a harmony prompt rendered by :mod:`pytest_gptoss.harmony`
and is decoded token by token until ``<|return|>`` or ``<|call|>``. Any other
GGUF (no harmony tokens in its vocabulary) is prompted through its own chat
template, and its whole answer is the final channel.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_gptoss import harmony
from pytest_gptoss.backends import Generation, Request


class BackendError(Exception):
    """The model could not be loaded or could not generate; the message is one line."""


def unreadable(path: Path, exc: Exception) -> BackendError:
    """The error for a model file that cannot be read as GGUF."""
    return BackendError(f"cannot load model {path}: not a readable GGUF file ({exc})")


@dataclass(frozen=True)
class Runtime:
    """How a model is loaded: context size, GPU offload, CPU threads."""

    ctx: int = 32768
    n_gpu_layers: int = -1
    threads: int | None = None


#: how often (in generated tokens) a generation reports its progress
PROGRESS_EVERY_TOKENS = 32

#: loaded models, one per (path, runtime) for the life of the process
_LOADED: dict[tuple[str, Runtime], Any] = {}


def load(path: Path, runtime: Runtime) -> Any:
    """The ``llama_cpp.Llama`` for ``path``, loaded once per process."""
    key = (str(path), runtime)
    if key not in _LOADED:
        import llama_cpp

        if not _LOADED:
            atexit.register(close_all)

        from pytest_gptoss.models import training_context

        try:
            trained = training_context(path)
        except (OSError, ValueError) as exc:
            raise unreadable(path, exc) from None
        n_ctx = runtime.ctx if runtime.ctx > 0 else (trained or 4096)
        if trained:
            n_ctx = min(n_ctx, trained)
        try:
            _LOADED[key] = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_gpu_layers=runtime.n_gpu_layers,
                n_threads=runtime.threads,
                verbose=False,
            )
        except Exception as exc:  # llama_cpp reports load failures as bare ValueError
            raise BackendError(f"cannot load model {path}: {exc}") from None
    return _LOADED[key]


def close_all() -> None:
    """Free every loaded model while llama_cpp is still intact (not at interpreter teardown)."""
    while _LOADED:
        _, llm = _LOADED.popitem()
        llm.close()


class LlamaBackend:
    """Generates with one GGUF model through llama-cpp-python."""

    def __init__(self, label: str, path: Path, runtime: Runtime = Runtime()) -> None:
        self.label = label
        self.path = Path(path)
        self.runtime = runtime
        self._llm: Any = None
        self._harmony_ids: dict[str, int] | None = None
        #: called now and then during a generation with (request, tokens so far, seconds so far)
        self.on_progress: Callable[[Request, int, float], None] | None = None

    @property
    def llm(self) -> Any:
        if self._llm is None:
            self._llm = load(self.path, self.runtime)
            self._harmony_ids = _harmony_ids(self._llm)
        return self._llm

    @property
    def is_harmony(self) -> bool:
        _ = self.llm
        return self._harmony_ids is not None

    def generate(self, requests: Sequence[Request]) -> list[Generation | None]:
        return [self._generate_one(request) for request in requests]

    def _generate_one(self, request: Request) -> Generation:
        if self.is_harmony:
            return self._generate_harmony(request)
        return self._generate_chat(request)

    def _generate_harmony(self, request: Request) -> Generation:
        llm = self.llm
        ids = self._harmony_ids
        assert ids is not None
        prompt = harmony.render_prompt(request.messages, request.reasoning)
        prompt_tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        budget = self._budget(request, len(prompt_tokens))
        stops = {ids[token] for token in (*harmony.STOP_TOKENS, harmony.ENDOFTEXT) if token in ids}
        started = time.perf_counter()
        tokens: list[int] = []
        llm.reset()  # no prefix reuse: a generation must not depend on the one before it
        llm.set_seed(request.seed)
        for token in llm.generate(
            prompt_tokens,
            top_k=0,
            top_p=request.top_p,
            min_p=0.0,
            typical_p=1.0,
            temp=request.temperature,
            repeat_penalty=1.0,
        ):
            tokens.append(token)
            if token in stops or len(tokens) >= budget:
                break
            if self.on_progress is not None and len(tokens) % PROGRESS_EVERY_TOKENS == 0:
                self.on_progress(request, len(tokens), time.perf_counter() - started)
        seconds = time.perf_counter() - started
        text = llm.detokenize(tokens, special=True).decode("utf-8", errors="replace")
        parsed = harmony.parse_completion(text)
        return Generation(
            case=request.case,
            model=self.label,
            reasoning=request.reasoning,
            sample=request.sample,
            final=parsed.final,
            analysis=parsed.analysis,
            commentary=parsed.commentary,
            finish_reason=parsed.finish_reason,
            has_final=parsed.has_final,
            prompt_tokens=len(prompt_tokens),
            completion_tokens=len(tokens),
            reasoning_tokens=self._reasoning_tokens(tokens),
            seconds=round(seconds, 3),
            seed=request.seed,
            tool_calls=[
                {"recipient": c.recipient, "content_type": c.content_type, "arguments": c.arguments}
                for c in parsed.tool_calls
            ],
            raw="" if parsed.has_final else text,
        )

    def _generate_chat(self, request: Request) -> Generation:
        llm = self.llm
        messages = [
            {"role": "system" if role == "developer" else role, "content": content}
            for role, content in request.messages
        ]
        started = time.perf_counter()
        llm.reset()
        try:
            result = llm.create_chat_completion(
                messages=messages,
                temperature=request.temperature,
                top_p=request.top_p,
                top_k=0,
                min_p=0.0,
                repeat_penalty=1.0,
                max_tokens=request.max_tokens,
                seed=request.seed,
            )
        except ValueError as exc:  # e.g. the prompt does not fit the context
            raise BackendError(f"{self.label}: {exc}") from None
        seconds = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(
            case=request.case,
            model=self.label,
            reasoning=request.reasoning,
            sample=request.sample,
            final=choice["message"].get("content") or "",
            finish_reason=finish,
            has_final=True,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=round(seconds, 3),
            seed=request.seed,
        )

    def _budget(self, request: Request, prompt_tokens: int) -> int:
        room = self.llm.n_ctx() - prompt_tokens
        if room < 1:
            raise BackendError(
                f"case '{request.case}': the prompt is {prompt_tokens} tokens but the context holds "
                f"{self.llm.n_ctx()}; raise --gptoss-ctx"
            )
        return min(request.max_tokens, room)

    def _reasoning_tokens(self, tokens: list[int]) -> int:
        """Tokens spent before the final channel's content began (all of them without one)."""
        ids = self._harmony_ids
        assert ids is not None
        header_start = None
        for index, token in enumerate(tokens):
            if token == ids[harmony.CHANNEL]:
                header_start = index + 1
            elif token == ids[harmony.MESSAGE] and header_start is not None:
                header = self.llm.detokenize(tokens[header_start:index], special=True)
                if header.strip().startswith(b"final"):
                    return index + 1
                header_start = None
        return len(tokens)


def _harmony_ids(llm: Any) -> dict[str, int] | None:
    """The ids of the harmony control tokens, or None for a model without them."""
    ids = {}
    for text in harmony.CONTROL_TOKENS:
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) == 1:
            ids[text] = tokens[0]
    essential = (harmony.START, harmony.END, harmony.MESSAGE, harmony.CHANNEL, harmony.RETURN, harmony.CALL)
    return ids if all(token in ids for token in essential) else None
