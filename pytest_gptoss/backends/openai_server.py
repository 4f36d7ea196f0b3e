"""Generation through an OpenAI-compatible server: vLLM, Ollama, LM Studio, llama-server, transformers serve.

Each request is one chat completion through the official ``openai`` client,
``--gptoss-parallel`` of them in flight at once, so a server with parallel
slots or continuous batching decodes the suite together. The answer becomes
the same :class:`~pytest_gptoss.backends.Generation` as in process: the final
answer from ``message.content``, the reasoning from whichever field the server
fills (``reasoning_content`` or ``reasoning``), the token counts from
``usage``.

A case with tools sends them as the API's ``tools`` (gpt-oss's python tool as
a function ``python`` taking ``code``, since no server offers the built-in one
through this API), and each generation after the first carries the exchange so
far: one assistant message per turn with its reasoning passed back in the
field that kind of server reads, its calls, and each tool's answer. The calls
a response makes come back as the generation's ``tool_calls``.

Every fault is a one-line :class:`~pytest_gptoss.backends.BackendError` for
the request it hit. Rate limits (429), server errors (5xx) and dropped
connections are retried with backoff; a timeout is not, since the same
generation would take as long again.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from pytest_gptoss import harmony
from pytest_gptoss.backends import BackendError, Generation, Request
from pytest_gptoss.servers import Server, client, connection_failure, redact, status_line

#: attempts after the first for a retryable fault (429, 5xx, 408, 409, a dropped connection)
RETRIES = 3
#: seconds before the first retry; doubled for each next one, at most MAX_BACKOFF
BACKOFF = 0.5
MAX_BACKOFF = 8.0
#: the longest Retry-After honoured, in seconds
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUS = (408, 409, 429)

PYTHON = "python"
#: the python tool as a function: servers offer no gpt-oss built-in tool through the chat API
PYTHON_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {"code": {"type": "string"}},
                                     "required": ["code"]}
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
#: per kind of server (:func:`pytest_gptoss.servers.identity`), the assistant message's fields it reads the
#: reasoning back from: vLLM's harmony input parser reads ``reasoning``; llama-server copies
#: ``reasoning_content`` into the template's ``thinking``; Ollama's /v1 layer maps ``reasoning`` to ``thinking``
REASONING_FIELDS = {"vllm": ("reasoning",), "llama.cpp": ("reasoning_content",), "ollama": ("reasoning",)}
#: any other server (transformers serve, LM Studio, ...) gets both names, and reads the one it knows
DEFAULT_REASONING_FIELDS = ("reasoning_content", "reasoning")


class ServerBackend:
    """Sends each request as a chat completion to one served model; ``parallel`` requests in flight.

    ``identity`` is what the server said of itself (:func:`pytest_gptoss.servers.identity`).
    """

    def __init__(self, label: str, server: Server, *, identity: Mapping[str, Any], parallel: int,
                 timeout: float) -> None:
        self.label = label
        self.server = server
        self._identity = dict(identity)
        self.parallel = max(1, parallel)
        self.timeout = timeout
        self.kind = str(identity.get("kind") or "openai-compatible")
        #: llama-server reads the effort from the chat template's kwargs (older builds only there)
        self.template_effort = self.kind == "llama.cpp"
        self._client: Any = None
        self._queue: queue.SimpleQueue[tuple[Request, Future[Generation | None]] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._submitted = self._finished = self._in_flight = self._peak = 0
        self._tokens = self._prompt_tokens = 0
        self._busy = 0.0
        self._busy_since: float | None = None

    # --- the Backend protocol -------------------------------------------------------------

    def submit(self, requests: Sequence[Request]) -> list[Future[Generation | None]]:
        futures: list[Future[Generation | None]] = []
        for request in requests:
            future: Future[Generation | None] = Future()
            futures.append(future)
            if self._closed.is_set():
                future.set_exception(BackendError(f"case '{request.case}': the run is stopping"))
                continue
            with self._lock:
                self._submitted += 1
            self._queue.put((request, future))
        self._start_workers()
        return futures

    def stats(self) -> dict[str, Any]:
        with self._lock:
            busy = self._busy + (time.monotonic() - self._busy_since if self._busy_since is not None else 0.0)
            return {
                "model": self.label,
                "tokens": self._tokens,
                "prefill_tokens": self._prompt_tokens,
                "busy_seconds": round(busy, 3),
                "peak_in_flight": self._peak,
                "in_flight": self._in_flight,
                "submitted": self._submitted,
                "finished": self._finished,
                "parallel": self.parallel,
                "sampling": "server",
            }

    def identity(self) -> dict[str, Any]:
        """What the server said of itself: its model entry, its kind and build."""
        return dict(self._identity)

    def close(self) -> None:
        """Stop sending; requests not sent fail, and requests in flight are abandoned."""
        if self._closed.is_set():
            return
        self._closed.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                request, future = item
                if future.set_running_or_notify_cancel():
                    future.set_exception(BackendError(f"case '{request.case}': the run stopped before it was sent"))
        for _ in self._workers:
            self._queue.put(None)
        if self._client is not None:
            self._client.close()

    def prompt_text(self, request: Request) -> str:
        """The request as sent, tools and the exchange so far included (the API key travels in a header,
        never here)."""
        return f"POST {self.server.url}/chat/completions\n" + json.dumps(self.body(request), ensure_ascii=False,
                                                                           indent=1)

    # --- requests ---------------------------------------------------------------------------

    def body(self, request: Request) -> dict[str, Any]:
        """The chat completion request for ``request``: its messages and the exchange so far, its tools,
        effort, seed and sampling."""
        body: dict[str, Any] = {
            "model": self.server.model,
            "messages": [{"role": "system" if role == "developer" else role, "content": content}
                         for role, content in request.messages] + history_messages(request.history, self.kind),
        }
        if request.tools or request.builtin_tools:
            body["tools"] = tool_specs(request)
        body |= {
            "reasoning_effort": request.reasoning,
            "seed": request.seed,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        }
        if self.template_effort:
            body["chat_template_kwargs"] = {"reasoning_effort": request.reasoning}
        return body

    def _start_workers(self) -> None:
        with self._lock:
            if self._client is None:
                self._client = client(self.server.url, timeout=self.timeout, key=self.server.key)
            while len(self._workers) < self.parallel and not self._closed.is_set():
                # daemon threads: a generation still in flight at exit must not hold the process
                worker = threading.Thread(target=self._work, name=f"gptoss-server-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
                worker.start()

    def _work(self) -> None:
        while not self._closed.is_set():
            item = self._queue.get()
            if item is None:
                return
            request, future = item
            if not future.set_running_or_notify_cancel():
                continue
            self._enter()
            try:
                generation = self._generate(request)
            except BackendError as exc:
                future.set_exception(exc)
            except Exception as exc:  # a worker thread must never take an exception with it
                message = redact(f"{type(exc).__name__}: {exc}".splitlines()[0], self.server.key)
                future.set_exception(BackendError(f"case '{request.case}': {message}"))
            else:
                future.set_result(generation)
            finally:
                self._leave()

    def _enter(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._busy_since = time.monotonic()
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._finished += 1
            if self._in_flight == 0 and self._busy_since is not None:
                self._busy += time.monotonic() - self._busy_since
                self._busy_since = None

    def _generate(self, request: Request) -> Generation:
        started = time.monotonic()
        data = self._complete(request)
        generation = generation_from(data, request, self.label, time.monotonic() - started)
        generation.server = {"url": self.server.url, **{key: data[key] for key in ("model", "system_fingerprint")
                                                         if isinstance(data.get(key), str)}}
        with self._lock:
            self._tokens += generation.completion_tokens
            self._prompt_tokens += generation.prompt_tokens
        return generation

    def _complete(self, request: Request) -> dict[str, Any]:
        """The response's JSON, after the retries a fault allows; a fault left is a BackendError."""
        import openai

        body = self.body(request)
        extra = {key: body.pop(key) for key in ("chat_template_kwargs",) if key in body}
        where = f"case '{request.case}': server {self.server.url}"
        for attempt in range(RETRIES + 1):
            retry_after: float | None = None
            try:
                raw = self._client.chat.completions.with_raw_response.create(**body, extra_body=extra or None)
                return parse_json(raw.http_response.content, where)
            except openai.APITimeoutError:
                raise BackendError(f"{where} gave no answer within {self.timeout:g} s (--gptoss-timeout); "
                                   "not retried, since the same generation would take as long again") from None
            except openai.APIConnectionError as exc:
                fault = connection_failure(exc)
                failure = f"{where}: {fault}"
            except openai.APIStatusError as exc:
                status = exc.status_code
                fault = f"answered {status_line(exc, self.server.key)}"
                failure = f"{where} {fault}"
                if status in (401, 403):
                    raise BackendError(f"{failure}; set GPTOSS_API_KEY (or OPENAI_API_KEY) to the "
                                       "server's API key") from None
                if status == 404 or (status in (400, 422) and _about_the_model(str(exc.body))):
                    raise BackendError(f"{failure}; it has no model '{self.server.model}' there, or the "
                                       "URL is not the API's base (it usually ends in /v1)") from None
                if status not in RETRYABLE_STATUS and status < 500:
                    raise BackendError(failure) from None
                retry_after = _retry_after(exc.response.headers)
            if attempt == RETRIES or self._closed.is_set():
                tries = f" ({attempt + 1} attempts)" if attempt else ""
                raise BackendError(failure + tries)
            delay = retry_after if retry_after is not None else min(BACKOFF * 2 ** attempt, MAX_BACKOFF)
            if self._closed.wait(delay):
                raise BackendError(f"{where}: the run stopped while waiting to retry ({fault})")
        raise AssertionError("unreachable")


def _about_the_model(said: str) -> bool:
    """Whether an error message says the model is unknown (some servers answer so with 400, not 404)."""
    said = said.lower()
    return "model" in said and any(words in said for words in ("not found", "does not exist", "not loaded",
                                                                 "unknown", "no such"))


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= MAX_RETRY_AFTER else None


def tool_specs(request: Request) -> list[dict[str, Any]]:
    """The API's ``tools`` for ``request``: the case's functions, then the python tool where it is offered."""
    specs = [{"type": "function", "function": {"name": tool.name, "description": tool.description,
                                               "parameters": dict(tool.parameters or NO_PARAMETERS)}}
             for tool in request.tools]
    if PYTHON in request.builtin_tools:
        specs.append({"type": "function", "function": {"name": PYTHON, "description": harmony.PYTHON_TOOL,
                                                       "parameters": PYTHON_PARAMETERS}})
    return specs


def history_messages(history: Sequence[harmony.Message], kind: str) -> list[dict[str, Any]]:
    """The exchange after the case's messages as chat messages for a server of ``kind``.

    The assistant's messages up to a tool's answer are one assistant message: its preamble as ``content``,
    its reasoning in the fields ``kind`` reads (:data:`REASONING_FIELDS`), its calls as ``tool_calls``. A
    call the server gave no id (or one already used) is named by its place among the calls, ``call_0``,
    and its answer carries the same id.
    """
    messages: list[dict[str, Any]] = []
    turn: list[harmony.Message] = []
    #: the calls not answered yet: (the id the history gives, the id sent, the function's name)
    pending: list[tuple[str | None, str, str]] = []
    used: set[str] = set()
    position = 0

    def close_turn() -> None:
        nonlocal position
        if not turn:
            return
        reasoning = "\n\n".join(m.content for m in turn if m.channel == "analysis" and not m.recipient)
        said = "\n\n".join(m.content for m in turn if m.channel != "analysis" and not m.recipient)
        calls = []
        for call in (m for m in turn if m.recipient):
            name = _function_name(call.recipient)
            sent = call.call_id if call.call_id and call.call_id not in used else _made_id(position, used)
            used.add(sent)
            position += 1
            pending.append((call.call_id, sent, name))
            arguments = json.dumps({"code": call.content}, ensure_ascii=False) if call.recipient == PYTHON \
                else call.content
            calls.append({"id": sent, "type": "function", "function": {"name": name, "arguments": arguments}})
        message: dict[str, Any] = {"role": "assistant", "content": said or (None if calls else "")}
        if reasoning:
            if kind == "llama.cpp" and calls:
                # gpt-oss's template refuses content beside thinking on a call (llama.cpp issue 17040)
                message["content"] = None
            message.update(dict.fromkeys(REASONING_FIELDS.get(kind, DEFAULT_REASONING_FIELDS), reasoning))
        if calls:
            message["tool_calls"] = calls
        messages.append(message)
        turn.clear()

    for item in history:
        if item.role == "assistant":
            turn.append(item)
            continue
        close_turn()
        if item.role != "tool":
            messages.append({"role": item.role, "content": item.content})
            continue
        name = _function_name(item.name)
        index = next((i for i, (given, _, _) in enumerate(pending) if item.call_id and given == item.call_id),
                     next((i for i, (_, _, called) in enumerate(pending) if called == name), 0))
        if pending:
            _, sent, _ = pending.pop(index)
        else:  # an answer to no call in the history: still a well-formed message
            sent = item.call_id or _made_id(position, used)
            used.add(sent)
        messages.append({"role": "tool", "tool_call_id": sent, "name": name, "content": item.content})
    close_turn()
    return messages


def _function_name(recipient: str | None) -> str:
    """``lookup`` for ``functions.lookup``; the python tool is the function ``python``."""
    return (recipient or "").removeprefix("functions.")


def _made_id(position: int, used: set[str]) -> str:
    made = f"call_{position}"
    while made in used:
        made += "_"
    return made


def parse_json(content: bytes, where: str) -> dict[str, Any]:
    """The response body as a JSON object; anything else is a one-line BackendError."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        shown = content[:80].decode("utf-8", "replace").replace("\n", " ")
        raise BackendError(f"{where} sent a response that is not JSON ({exc}): {shown!r}") from None
    if not isinstance(data, dict):
        raise BackendError(f"{where} sent JSON that is not a chat completion (a {type(data).__name__})")
    return data


def generation_from(data: dict[str, Any], request: Request, label: str, seconds: float) -> Generation:
    """The generation a chat completion response holds, as the in-process backend would give it."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    message = choice.get("message") if choice is not None else None
    if not isinstance(message, dict):
        error = data.get("error")
        said = f": {error.get('message') if isinstance(error, dict) else error}" if error else ""
        raise BackendError(f"case '{request.case}': the server's response has no choices[0].message{said}")
    content = _text(message.get("content"))
    reasoning = _text(message.get("reasoning_content")) or _text(message.get("reasoning"))
    finish = str(choice.get("finish_reason") or "stop") if choice is not None else "stop"
    finish = {"tool_calls": "tool_call", "function_call": "tool_call"}.get(finish, finish)
    commentary = ""
    calls = _tool_calls(message.get("tool_calls"), request)
    if not reasoning and harmony.CHANNEL in content:
        # a server that passes the harmony text through (llama-server --reasoning-format none)
        parsed = harmony.parse_completion(content)
        content, reasoning, commentary = parsed.final, parsed.analysis, parsed.commentary
        made = [m for m in parsed.messages if m.recipient]
        calls += [_call(call.recipient, call.arguments, call.content_type, sent.channel, request)
                  for call, sent in zip(parsed.tool_calls, made)]
        if not parsed.has_final and finish == "stop" and not calls:
            finish = parsed.finish_reason
    if calls:
        # some servers say "stop" when the model stopped to call; what came with the calls is their preamble
        finish = "tool_call" if finish == "stop" else finish
        commentary = "\n\n".join(text for text in (commentary, content) if text)
        content = ""
    usage = _object(data.get("usage"))
    details = _object(usage.get("completion_tokens_details"))
    completion_tokens = _count(usage.get("completion_tokens"))
    has_final = bool(content.strip())
    reasoning_tokens = _count(details.get("reasoning_tokens"))
    if not reasoning_tokens and not has_final:
        # with no final answer every token generated was spent before one
        reasoning_tokens = completion_tokens
    return Generation(
        case=request.case,
        model=label,
        reasoning=request.reasoning,
        sample=request.sample,
        final=content if has_final else "",
        analysis=reasoning,
        commentary=commentary,
        finish_reason=finish,
        has_final=has_final,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning_tokens,
        seconds=round(seconds, 3),
        seed=request.seed,
        tool_calls=calls,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}]
        return "".join(part.get("text", "") for part in value if isinstance(part, dict)
                       and isinstance(part.get("text"), str))
    return ""


def _object(value: Any) -> dict[str, Any]:
    """A JSON object of the response, or an empty one where the server sent something else."""
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _tool_calls(calls: Any, request: Request) -> list[dict[str, Any]]:
    """The calls of a response's ``message.tool_calls``, with the id the server gave each (where it gave one)."""
    if not isinstance(calls, list):
        return []
    found = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # Ollama's native shape: the arguments as a JSON object
            arguments = "" if arguments is None else json.dumps(arguments, ensure_ascii=False)
        made = _call(f"functions.{function.get('name')}", arguments, "json", "commentary", request)
        if isinstance(call.get("id"), str) and call["id"]:
            made["id"] = call["id"]
        found.append(made)
    return found


def _call(recipient: str, arguments: str, content_type: str | None, channel: str | None,
          request: Request) -> dict[str, Any]:
    """One call as the tool loop reads it; a call of the function ``python`` is a call of the python tool
    (unless the case has a function of that name)."""
    code = None
    if recipient == PYTHON:
        code = arguments
    elif recipient == f"functions.{PYTHON}" and all(tool.name != PYTHON for tool in request.tools):
        code = _python_code(arguments)
    if code is not None:
        return {"recipient": PYTHON, "arguments": code, "content_type": None, "channel": "analysis"}
    return {"recipient": recipient, "arguments": arguments, "content_type": content_type,
            "channel": channel or "commentary"}


def _python_code(arguments: str) -> str | None:
    """The code of a call of the function ``python``: its ``code``, or the arguments themselves where they are
    not JSON (gpt-oss writes the python tool's code bare); None for JSON of another shape."""
    try:
        given = json.loads(arguments)
    except ValueError:
        return arguments if arguments.strip() else None
    code = given.get("code") if isinstance(given, dict) else None
    return code if isinstance(code, str) else None
