"""A local stand-in for an OpenAI-compatible server, speaking the documented shapes of each server the
plugin supports, with faults on demand. Written for the tests from the servers' public API docs.

Every stand-in listens on 127.0.0.1 at a free port, answers from its own threads (so concurrent
requests really are concurrent), records every chat request it got, and counts how many were in
flight at once.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: per server: (model id, the reasoning field of its messages)
FLAVOURS = {
    "vllm": ("openai/gpt-oss-20b", "reasoning"),
    "llama.cpp": ("gpt-oss-20b-mxfp4.gguf", "reasoning_content"),
    "ollama": ("gpt-oss:20b", "reasoning"),
    "lmstudio": ("openai/gpt-oss-20b", "reasoning"),
    "transformers": ("openai/gpt-oss-20b", "reasoning_content"),
    # OpenAI's own shape: the reasoning token count in completion_tokens_details, no reasoning text
    "openai": ("gpt-oss-20b", None),
}


@dataclass
class Reply:
    """What one chat completion answers; ``fault`` replaces it with a failure."""

    content: str | None = "The answer is 2700 ml."
    reasoning: str = "12 yuan buys 4 bottles; 4 empties buy 2 more, then 1, then 1."
    #: None: "tool_calls" where the reply makes calls, "stop" otherwise
    finish_reason: str | None = None
    #: the calls the reply makes: ``name``, ``arguments`` (a str as it is, anything else as JSON text), ``id``
    #: (left out of the response where None)
    tool_calls: list[dict[str, Any]] | None = None
    prompt_tokens: int = 31
    completion_tokens: int = 57
    reasoning_tokens: int = 40
    #: "401", "403", "404", "429", "503" (a status), "slow" (sleep past any timeout), "badjson", "cut", "nochoices"
    fault: str | None = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandIn:
    """A running stand-in server of one ``flavour``; ``answer`` decides each chat reply from its request."""

    flavour: str = "vllm"
    models: list[str] | None = None
    answer: Callable[[dict[str, Any]], Reply] = lambda body: Reply()
    key: str | None = None
    delay: float = 0.0
    build: str = "b6100-1a2b3c4"
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    peak: int = 0
    _active: int = 0

    def __post_init__(self) -> None:
        self.model = FLAVOURS[self.flavour][0]
        if self.models is None:
            self.models = [self.model]
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", free_port()), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what each endpoint answers ---------------------------------------------------------

    def model_entries(self) -> list[dict[str, Any]]:
        now = int(time.time())
        entries = []
        for name in self.models or []:
            entry: dict[str, Any] = {"id": name, "object": "model", "created": now}
            if self.flavour == "vllm":
                entry.update(owned_by="vllm", root=name, parent=None, max_model_len=131072,
                             permission=[{"id": f"modelperm-{now}", "object": "model_permission", "created": now}])
            elif self.flavour == "llama.cpp":
                entry.update(owned_by="llamacpp", meta={"vocab_type": 2, "n_vocab": 201088, "n_ctx_train": 131072,
                                                        "n_embd": 2880, "n_params": 20914757184,
                                                        "size": 12109565632})
            elif self.flavour == "ollama":
                entry.update(owned_by="library")
            else:
                entry.update(owned_by="organization_owner")
            entries.append(entry)
        return entries

    def native(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """The server's own endpoints, for the flavours that have them; None is a 404."""
        if self.flavour == "llama.cpp" and path == "/props":
            return {"default_generation_settings": {"n_ctx": 8192, "params": {"temperature": 0.8}},
                    "total_slots": 4, "model_path": f"/models/{self.model}",
                    "chat_template": "{{ messages }}", "build_info": self.build,
                    "modalities": {"vision": False, "audio": False}}
        if self.flavour == "vllm" and path == "/version":
            return {"version": "0.10.1"}
        if self.flavour == "ollama":
            if path == "/api/version":
                return {"version": "0.11.4"}
            if path == "/api/tags":
                return {"models": [{"name": self.model, "model": self.model, "digest": "e95023cf3b7b"}]}
            if path == "/api/show" and method == "POST" and body.get("model") == self.model:
                return {"modelfile": "FROM /root/.ollama/models/blobs/sha256-b112e727c6f1", "parameters":
                        "temperature 1", "template": "{{ .Prompt }}", "capabilities": ["completion", "thinking"],
                        "details": {"parent_model": "", "format": "gguf", "family": "gptoss",
                                    "families": ["gptoss"], "parameter_size": "20.9B",
                                    "quantization_level": "MXFP4"}, "modified_at": "2025-08-07T10:00:00Z"}
        if self.flavour == "lmstudio" and path == f"/api/v0/models/{self.model}":
            return {"id": self.model, "object": "model", "type": "llm", "publisher": "openai", "arch": "gpt-oss",
                    "compatibility_type": "gguf", "quantization": "MXFP4", "state": "loaded",
                    "max_context_length": 131072}
        return None

    def completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        field_name = FLAVOURS[self.flavour][1]
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if field_name:
            message[field_name] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [self.tool_call(call, index) for index, call in enumerate(reply.tool_calls)]
        usage: dict[str, Any] = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                                 "total_tokens": reply.prompt_tokens + reply.completion_tokens}
        if self.flavour == "openai":
            usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
        data: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                                "model": body.get("model"), "usage": usage,
                                "choices": [{"index": 0, "message": message, "logprobs": None,
                                             "finish_reason": reply.finish_reason
                                             or ("tool_calls" if reply.tool_calls else "stop")}]}
        if self.flavour == "llama.cpp":
            data["system_fingerprint"] = self.build
            data["timings"] = {"prompt_n": reply.prompt_tokens, "predicted_n": reply.completion_tokens}
        elif self.flavour == "ollama":
            data["system_fingerprint"] = "fp_ollama"
        return data

    def tool_call(self, call: dict[str, Any], index: int) -> dict[str, Any]:
        """One call in the OpenAI shape, which every flavour's /v1 endpoint answers with (Ollama's adds its index)."""
        arguments = call["arguments"]
        made: dict[str, Any] = {"id": call.get("id")} if call.get("id") is not None else {}
        if self.flavour == "ollama":
            made["index"] = index
        made.update(type="function", function={"name": call["name"], "arguments": arguments
                                               if isinstance(arguments, str) else json.dumps(arguments)})
        return made

    def enter(self) -> None:
        with self._lock:
            self._active += 1
            self.peak = max(self.peak, self._active)

    def leave(self) -> None:
        with self._lock:
            self._active -= 1


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection the stand-in cut on purpose is no error to report."""


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._route("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            self._route("POST", body)

        def _route(self, method: str, body: dict[str, Any]) -> None:
            given = self.headers.get("Authorization", "")
            if standin.key is not None and given != f"Bearer {standin.key}":
                # as some proxies do, the message quotes what it got
                self._send(401, {"error": {"message": f"Incorrect API key provided: {given.removeprefix('Bearer ')}",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}})
                return
            path = self.path.split("?")[0]
            if method == "GET" and path == "/v1/models":
                data = {"object": "list", "data": standin.model_entries()}
                if standin.flavour == "llama.cpp":
                    data["models"] = [{"name": e["id"], "model": e["id"]} for e in data["data"]]
                self._send(200, data)
            elif method == "POST" and path == "/v1/chat/completions":
                self._chat(body)
            else:
                native = standin.native(method, path, body)
                self._send(200, native) if native is not None else self._send(404, {"detail": "Not Found"})

        def _chat(self, body: dict[str, Any]) -> None:
            with standin._lock:
                standin.requests.append(body)
                standin.headers.append({k.lower(): v for k, v in self.headers.items()})
            standin.enter()
            try:
                if standin.delay:
                    time.sleep(standin.delay)
                reply = standin.answer(body)
                fault = reply.fault
                if body.get("model") not in (standin.models or []) and standin.flavour != "llama.cpp":
                    fault = "404"  # llama-server answers with its one model whatever is asked; the others refuse
                if fault is None:
                    self._send(200, standin.completion(body, reply))
                elif fault.isdigit():
                    status = int(fault)
                    message = {404: f"The model `{body.get('model')}` does not exist.",
                               429: "Rate limit reached", 503: "Server overloaded"}.get(status, "Forbidden")
                    self._send(status, {"error": {"message": message, "type": "error", "code": status}})
                elif fault == "slow":
                    time.sleep(5)
                    self._send(200, standin.completion(body, reply))
                elif fault == "badjson":
                    self._send_raw(200, b"<html>upstream proxy error</html>", "application/json")
                elif fault == "nochoices":
                    self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "choices": []})
                elif fault == "cut":
                    whole = json.dumps(standin.completion(body, reply)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(whole)))
                    self.end_headers()
                    self.wfile.write(whole[: len(whole) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
            finally:
                standin.leave()

        def _send(self, status: int, data: Any) -> None:
            self._send_raw(status, json.dumps(data).encode(), "application/json")

        def _send_raw(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def running(**kwargs: Any) -> Iterator[StandIn]:
    """A stand-in for a fixture: started, yielded, stopped."""
    standin = StandIn(**kwargs)
    try:
        yield standin
    finally:
        standin.stop()
