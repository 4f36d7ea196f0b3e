"""Which backend a model of the run gets, by the kind of its spec: transcripts, a server, or a GGUF file.

:func:`make_backend` is the one place that decides. Recorded transcripts
(``--gptoss-replay``) answer as they are; a served model (``http(s)://...``)
and a GGUF file run in process are wrapped in the response cache unless
``--gptoss-no-cache``, keyed on the backend's own identity and on the
settings that change what it generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_gptoss.backends import Backend
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.cache import CachedBackend, ResponseCache
from pytest_gptoss.models import ModelSpec, cache_dir, resolve
from pytest_gptoss.options import Settings

#: engine format: bump when the engine's schedule or sampling changes the tokens
#: (2: a request reuses the memory a finished one left in its slot)
ENGINE_VERSION = 2
#: the chat request's format: bump when what is sent to a server changes
SERVER_REQUEST_VERSION = 1
#: what of a GGUF file's identity changes its tokens (its name does not)
GGUF_KEY = ("header_sha256", "size", "architecture")


def make_backend(label: str, settings: Settings, *, spec: ModelSpec | None, path: Path | None = None,
                 replay: ReplayBackend | None = None) -> Backend:
    """The backend of the model ``label``: ``replay``'s transcripts when given, else the one ``spec`` names.

    ``path`` is the GGUF file where the run already found it. Raises
    :class:`~pytest_gptoss.backends.BackendError` where the backend cannot be
    had (a file that is not GGUF, a server that does not answer) and
    :class:`~pytest_gptoss.models.ModelNotFound` for a file that is not here.
    """
    if replay is not None:
        return replay.for_model(label)
    assert spec is not None
    if spec.kind == "server":
        return _served(spec, settings)
    return _in_process(spec, path or resolve(spec, download=False), settings)


def _in_process(spec: ModelSpec, path: Path, settings: Settings) -> Backend:
    from pytest_gptoss.backends.llama import LlamaBackend, Runtime, llama_build

    runtime = Runtime(ctx=settings.ctx, n_gpu_layers=settings.n_gpu_layers, threads=settings.threads,
                      parallel=settings.parallel, flash_attn=settings.flash_attn)
    backend = LlamaBackend(spec.label, path, runtime)
    if settings.no_cache:
        return backend
    identity = backend.identity()
    return _cached(backend, settings, {key: identity[key] for key in GGUF_KEY}, {
        "ctx": settings.ctx,
        "n_gpu_layers": settings.n_gpu_layers,
        "threads": settings.threads,
        "build": llama_build(),
        # batch composition and sampling placement change the arithmetic, so the tokens
        "engine": {"version": ENGINE_VERSION, "parallel": settings.parallel,
                   "flash_attn": settings.flash_attn, "sampling": "auto"},
    })


def _served(spec: ModelSpec, settings: Settings) -> Backend:
    from pytest_gptoss.backends.openai_server import ServerBackend
    from pytest_gptoss.servers import Server, api_key, identity

    assert spec.url is not None and spec.served is not None
    server = Server(spec.url, spec.served, api_key())
    backend = ServerBackend(spec.label, server, identity=identity(server), parallel=settings.parallel,
                            timeout=settings.timeout)
    if settings.no_cache:
        return backend
    # the server's batching is its own (other clients share it), so --gptoss-parallel is no part of the key
    return _cached(backend, settings, backend.identity(), {"backend": "openai-chat", "version": SERVER_REQUEST_VERSION})


def _cached(backend: Backend, settings: Settings, model: dict[str, Any], runtime: dict[str, Any]) -> Backend:
    directory = settings.cache_dir or cache_dir() / "responses"
    return CachedBackend(backend, ResponseCache(directory), model, runtime)
