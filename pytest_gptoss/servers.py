"""OpenAI-compatible servers as models: their URLs, their API key, their model and who they are.

A server spec is ``http(s)://HOST:PORT/PATH`` (usually ending in ``/v1``),
optionally followed by ``#MODEL``. Without a model the server's only model is
used, as ``GET /v1/models`` lists it. The API key comes from
``GPTOSS_API_KEY`` or ``OPENAI_API_KEY`` and goes into request headers only:
never into a spec, a label, an identity, a message or a file.

A server's identity is what it says of itself, read once per process: its
``/v1/models`` entry and, where the server answers them, llama-server's
``/props``, vLLM's ``/version``, Ollama's ``/api/version`` and ``/api/show``,
LM Studio's ``/api/v0/models/MODEL``. A new build or quantization behind the
same URL then has a new identity, which the results file, the response cache
and the gate all see.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from pytest_gptoss.backends import BackendError

#: the environment variables that may hold the API key, first one set wins
KEY_VARIABLES = ("GPTOSS_API_KEY", "OPENAI_API_KEY")
#: sent when no key is set: the openai client needs one, servers without auth ignore it
NO_KEY = "no-key"
#: seconds the identity probes may take each (the generations have --gptoss-timeout)
PROBE_SECONDS = 10.0
#: fields of a /v1/models entry that change from one request to the next
VOLATILE = ("created", "permission", "permissions")
SERVER_HELP = "use http(s)://HOST:PORT/v1 or http(s)://HOST:PORT/v1#MODEL"


class ServerError(BackendError):
    """A server cannot be used; the message is one line and names the URL."""


class ServerUnreachable(ServerError):
    """Nothing answers at the server's address (refused, unknown host, no route)."""


def is_server_spec(value: str) -> bool:
    return value.strip().lower().startswith(("http://", "https://"))


def parse_server_spec(value: str) -> tuple[str, str | None]:
    """The base URL (no trailing slash) and the model named after ``#``, if any.

    Raises ValueError with a one-line message for a URL that cannot be used.
    """
    spec = value.strip()
    parts = urllib.parse.urlsplit(spec)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{spec}' is not a server URL; {SERVER_HELP}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"'{_without_userinfo(spec)}': credentials in the URL would be written into reports; "
                         f"put the API key in {KEY_VARIABLES[0]} instead")
    if parts.query:
        raise ValueError(f"'{spec}': a query string is not supported; {SERVER_HELP}")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError(f"'{spec}' has a port that is not a number; {SERVER_HELP}") from None
    base = urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))
    model = parts.fragment.strip() or None
    return base, model


def _without_userinfo(spec: str) -> str:
    return re.sub(r"//[^/@]*@", "//", spec, count=1)


def served_label(model: str) -> str:
    """The model id as a node-id label: a file's stem for a GGUF path, else the id with odd characters as '-'."""
    name = model.strip()
    if name.lower().endswith(".gguf"):
        name = re.split(r"[\\/]", name)[-1][: -len(".gguf")]
        name = re.sub(r"-\d{5}-of-\d{5}$", "", name)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "server"


def api_key() -> str | None:
    """The API key from the environment, or None."""
    for name in KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def redact(text: str, key: str | None = None) -> str:
    """``text`` with the API key (if any) replaced, for anything shown or written."""
    key = key if key is not None else api_key()
    return text.replace(key, "***") if key else text


@dataclass(frozen=True)
class Server:
    """Where a served model is and how to reach it; the key stays out of repr and equality."""

    url: str
    model: str
    key: str | None = field(default=None, repr=False, compare=False)

    @property
    def root(self) -> str:
        """The server's own root, where llama-server, vLLM, Ollama and LM Studio answer their native paths."""
        return self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url


def client(url: str, *, timeout: float, key: str | None = None) -> Any:
    """An openai client for ``url`` that never retries by itself (the backend decides what is retried)."""
    import openai

    return openai.OpenAI(base_url=url, api_key=key or api_key() or NO_KEY, max_retries=0,
                         timeout=openai.Timeout(timeout, connect=min(timeout, PROBE_SECONDS)))


def list_models(url: str, key: str | None = None) -> list[dict[str, Any]]:
    """The entries of ``GET URL/models``, as plain dicts.

    Raises :class:`ServerUnreachable` when nothing answers there and
    :class:`ServerError` for any other failure, each with a one-line message.
    """
    import openai

    api = client(url, timeout=PROBE_SECONDS, key=key)
    try:
        raw = api.models.with_raw_response.list()
        data = json.loads(raw.http_response.content)
    except openai.APITimeoutError:
        raise ServerError(f"server {url} did not answer GET /models within {PROBE_SECONDS:.0f} s") from None
    except openai.APIConnectionError as exc:
        raise ServerUnreachable(f"cannot reach server {url}: {connection_failure(exc)}; is it running?") from None
    except openai.APIStatusError as exc:
        raise ServerError(f"server {url} answered GET /models with {status_line(exc, key)}") from None
    except ValueError as exc:
        raise ServerError(f"server {url} answered GET /models with something that is not JSON ({exc})") from None
    finally:
        api.close()
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str)
                                                 for e in entries):
        raise ServerError(f"server {url} answered GET /models without a list of models under 'data'")
    return entries


def only_model(url: str) -> str:
    """The id of the server's only model; raises :class:`ServerError` unless there is exactly one."""
    try:
        entries = list_models(url)
    except ServerUnreachable:
        raise
    except ServerError as exc:
        raise ServerError(f"{exc}; name the model as {url}#MODEL") from None
    ids = [entry["id"] for entry in entries]
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise ServerError(f"server {url} lists no model; load one, or name it as {url}#MODEL")
    raise ServerError(f"server {url} serves {len(ids)} models ({', '.join(ids)}); name one as {url}#MODEL")


def listed(entries: list[dict[str, Any]], model: str) -> dict[str, Any] | None:
    """The entry of ``model``, where Ollama's ``NAME`` also finds ``NAME:latest``."""
    for name in (model, f"{model}:latest"):
        for entry in entries:
            if entry.get("id") == name:
                return entry
    return None


def identity(server: Server) -> dict[str, Any]:
    """Who serves ``server.model`` at ``server.url``: plain data for the results file and the cache key.

    Raises :class:`ServerUnreachable` when nothing answers. A server that will
    not list its models (401, 404), or does not list this one, still gets an
    identity, without an ``entry``: some servers load any model they are asked
    for (transformers serve lists a few examples only), and a server that has
    no such model says so to each request.
    """
    found: dict[str, Any] = {"server": server.url, "model": server.model, "kind": "openai-compatible"}
    try:
        entries = list_models(server.url, server.key)
    except ServerUnreachable:
        raise
    except ServerError as exc:
        found["models_error"] = redact(str(exc).removeprefix(f"server {server.url} "), server.key)
    else:
        entry = listed(entries, server.model)
        if entry is None:
            found["entry"] = None
            found["listed_models"] = [e["id"] for e in entries]
        else:
            found["entry"] = {k: v for k, v in entry.items() if k not in VOLATILE}
    found.update(_native(server))
    return found


def _native(server: Server) -> dict[str, Any]:
    """What the server's native endpoints say of its build and model, for each kind of server that answers."""
    headers = {"Authorization": f"Bearer {server.key or api_key() or NO_KEY}", "Accept": "application/json"}
    said: dict[str, Any] = {}

    def get(path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON a native endpoint answers with 200, or None for anything else."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(server.root + path, data=data, method="POST" if data else "GET",
                                         headers={**headers, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=PROBE_SECONDS) as response:
                return json.loads(response.read()) if response.status == 200 else None
        except (OSError, ValueError, http.client.HTTPException):
            return None

    props = get("/props")
    if isinstance(props, dict) and ("build_info" in props or "default_generation_settings" in props):
        settings = props.get("default_generation_settings") or {}
        said["kind"] = "llama.cpp"
        said["llama.cpp"] = {
            "build_info": props.get("build_info"),
            "model_path": props.get("model_path"),
            "total_slots": props.get("total_slots"),
            "n_ctx": settings.get("n_ctx") if isinstance(settings, dict) else None,
            "chat_template_sha256": _sha256(props.get("chat_template")),
        }
        return said
    ollama = get("/api/version")
    if isinstance(ollama, dict) and isinstance(ollama.get("version"), str) and get("/api/tags") is not None:
        show = get("/api/show", {"model": server.model, "name": server.model})
        said["kind"] = "ollama"
        said["ollama"] = {"version": ollama["version"]}
        if isinstance(show, dict):
            said["ollama"].update({
                "details": show.get("details"),
                "parameters": show.get("parameters"),
                "modelfile_sha256": _sha256(show.get("modelfile")),
                "template_sha256": _sha256(show.get("template")),
            })
        return said
    lmstudio = get(f"/api/v0/models/{urllib.parse.quote(server.model, safe='/:')}")
    if isinstance(lmstudio, dict) and lmstudio.get("id") == server.model and "quantization" in lmstudio:
        said["kind"] = "lmstudio"
        said["lmstudio"] = {key: lmstudio.get(key) for key in (
            "publisher", "arch", "compatibility_type", "quantization", "max_context_length")}
        return said
    vllm = get("/version")
    if isinstance(vllm, dict) and isinstance(vllm.get("version"), str):
        said["kind"] = "vllm"
        said["vllm"] = {"version": vllm["version"]}
    return said


def _sha256(text: Any) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if isinstance(text, str) else None


def describe(found: dict[str, Any]) -> str:
    """One line for the terminal: the model, where it is served and by what."""
    kind = found.get("kind", "openai-compatible")
    said_of_itself = found.get(kind)
    native = said_of_itself if isinstance(said_of_itself, dict) else {}
    version = native.get("build_info") or native.get("version") or native.get("quantization") or ""
    said = f"{kind} {version}".strip()
    line = f"{found['model']} served at {found['server']} ({said})"
    if "listed_models" in found:
        names = ", ".join(found["listed_models"]) or "none"
        line += f"; the server does not list this model (it lists: {names}), so its requests will say if it has none"
    elif "models_error" in found:
        line += f"; its models could not be listed: {found['models_error']}"
    return line


# --- one-line descriptions of what went wrong -------------------------------------------


def connection_failure(exc: BaseException) -> str:
    """Why a connection failed, from the exceptions under the openai client's."""
    cause: BaseException | None = exc
    while cause is not None:
        text = str(cause)
        if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "unknown host"
        if type(cause).__name__ == "RemoteProtocolError":
            return f"the connection closed before the response was complete ({_first_line(text)})"
        cause = cause.__cause__ or cause.__context__
    inner = exc.__cause__ or exc.__context__
    return f"{type(inner).__name__}: {_first_line(str(inner))}" if inner is not None else _first_line(str(exc))


def status_line(exc: Any, key: str | None = None) -> str:
    """``401 Unauthorized: <the server's own message>``, one line, with any key redacted."""
    response = exc.response
    reason = getattr(response, "reason_phrase", "") or ""
    said = _server_message(exc.body) or _first_line(getattr(response, "text", "") or "")
    line = f"{response.status_code} {reason}".strip() + (f": {said}" if said else "")
    return redact(line[:300], key)


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return _first_line(str(error.get("message") or error.get("detail") or ""))
        if isinstance(error, str):
            return _first_line(error)
        detail = body.get("detail")
        if detail:
            return _first_line(json.dumps(detail, ensure_ascii=False) if not isinstance(detail, str) else detail)
    if isinstance(body, str):
        return _first_line(body)
    return ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:200] if lines else ""
