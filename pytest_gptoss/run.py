"""One pytest session's run: its settings, its models and their backends, and handing requests over.

The run lives under ``config.stash[RUN_KEY]``. An item asks it for its
generations (:meth:`Run.submit`, then :meth:`Run.wait`); judging them is
:mod:`pytest_gptoss.judging`'s, showing progress :mod:`pytest_gptoss.progress`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_gptoss.backends import Backend, BackendError, Generation, Request, sample_seed
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.cache import CachedBackend, ResponseCache
from pytest_gptoss.cases import Case
from pytest_gptoss.models import ModelSpec, cache_dir, resolve
from pytest_gptoss.options import Settings
from pytest_gptoss.progress import Progress
from pytest_gptoss.transcripts import Writer

if TYPE_CHECKING:
    from pytest_gptoss.servers import Server


@dataclass
class Run:
    """Everything a session needs to turn cases into results."""

    settings: Settings
    replay: ReplayBackend | None = None
    writer: Writer | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    case_ids: dict[str, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)
    config: pytest.Config | None = None
    #: the futures of every item whose requests were handed to its backend, by node id
    futures: dict[str, list[Future[Generation | None]]] = field(default_factory=dict)
    #: node ids whose requests were handed over, so none is generated twice
    submitted: set[str] = field(default_factory=set)
    progress: Progress | None = None
    #: each served model's identity (what its server says of itself), or why it cannot be used
    identities: dict[str, dict[str, Any] | BackendError] = field(default_factory=dict)

    def marker(self, name: str) -> str:
        """A case's category or tag as a registered marker name (``-m math`` works)."""
        marker = name.replace("-", "_")
        if marker not in self.markers and self.config is not None:
            self.config.addinivalue_line("markers", f"{marker}: gpt-oss cases tagged '{name}'")
            self.markers.add(marker)
        return marker

    @property
    def model_labels(self) -> tuple[str, ...]:
        if self.replay is not None:
            return self.replay.models
        return tuple(spec.label for spec in self.settings.models)

    def spec(self, label: str) -> ModelSpec | None:
        return next((s for s in self.settings.models if s.label == label), None)

    def resolve_models(self, *, download: bool) -> None:
        """Find (and, on the controller, download) every model's file, and ask every server who it is.

        Raises :class:`~pytest_gptoss.servers.ServerUnreachable` when nothing
        answers at a server's address; any other fault of a server is kept, to
        be each of its cases' error.
        """
        for spec in self.settings.models:
            if spec.kind == "server":
                try:
                    self.server_identity(spec.label, unreachable_raises=True)
                except BackendError:
                    pass  # kept: each of its cases reports it
            elif spec.label not in self.paths:
                self.paths[spec.label] = resolve(spec, download=download)

    def server(self, label: str) -> Server:
        from pytest_gptoss.servers import Server, api_key

        spec = self.spec(label)
        assert spec is not None and spec.url is not None and spec.served is not None
        return Server(spec.url, spec.served, api_key())

    def server_identity(self, label: str, *, unreachable_raises: bool = False) -> dict[str, Any]:
        """What the server of ``label`` says of itself, asked once per process; a BackendError if it cannot serve."""
        from pytest_gptoss.servers import ServerError, ServerUnreachable, identity

        if label not in self.identities:
            try:
                self.identities[label] = identity(self.server(label))
            except ServerUnreachable as exc:
                if unreachable_raises:
                    raise
                self.identities[label] = BackendError(str(exc))
            except ServerError as exc:
                self.identities[label] = BackendError(str(exc))
        found = self.identities[label]
        if isinstance(found, BackendError):
            raise found
        return found

    def backend(self, label: str) -> Backend:
        if label in self.backends:
            return self.backends[label]
        if self.replay is not None:
            self.backends[label] = self.replay.for_model(label)
        elif (spec := self.spec(label)) is not None and spec.kind == "server":
            self.backends[label] = self._served(label)
        else:
            from pytest_gptoss.backends.llama import LlamaBackend

            assert spec is not None
            path = self.paths.get(label) or resolve(spec, download=False)
            backend = LlamaBackend(label, path, self.runtime)
            self.backends[label] = self._cached(backend, path) if not self.settings.no_cache else backend
        return self.backends[label]

    @property
    def runtime(self) -> Any:
        from pytest_gptoss.backends.llama import Runtime

        settings = self.settings
        return Runtime(ctx=settings.ctx, n_gpu_layers=settings.n_gpu_layers, threads=settings.threads,
                       parallel=settings.parallel, flash_attn=settings.flash_attn)

    def _cached(self, backend: Backend, path: Path) -> Backend:
        from pytest_gptoss.backends.llama import llama_build, unreadable
        from pytest_gptoss.gguf_files import model_identity

        try:
            identity = model_identity(path)
        except (OSError, ValueError) as exc:
            raise unreadable(path, exc) from None
        model = {key: identity[key] for key in ("header_sha256", "size", "architecture")}
        runtime = {
            "ctx": self.settings.ctx,
            "n_gpu_layers": self.settings.n_gpu_layers,
            "threads": self.settings.threads,
            "build": llama_build(),
            # batch composition and sampling placement change the arithmetic, so the tokens
            "engine": {"version": ENGINE_VERSION, "parallel": self.settings.parallel,
                       "flash_attn": self.settings.flash_attn, "sampling": "auto"},
        }
        return CachedBackend(backend, ResponseCache(self.cache_directory), model, runtime)

    def _served(self, label: str) -> Backend:
        from pytest_gptoss.backends.openai_server import ServerBackend

        identity = self.server_identity(label)
        backend = ServerBackend(label, self.server(label), parallel=self.settings.parallel,
                                timeout=self.settings.timeout, kind=str(identity.get("kind", "")))
        if self.settings.no_cache:
            return backend
        # the server's batching is its own (other clients share it), so --gptoss-parallel is no part of the key
        return CachedBackend(backend, ResponseCache(self.cache_directory), identity,
                             {"backend": "openai-chat", "version": SERVER_REQUEST_VERSION})

    @property
    def cache_directory(self) -> Path:
        return self.settings.cache_dir or cache_dir() / "responses"

    def requests(self, case: Case, reasoning: str) -> list[Request]:
        settings = self.settings
        samples = case.samples or settings.samples
        return [
            Request(
                case=case.id,
                messages=case.messages,
                reasoning=reasoning,
                sample=index,
                seed=sample_seed(settings.seed, case.id, index),
                max_tokens=case.max_tokens or settings.max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
            )
            for index in range(samples)
        ]


    def submit(self, item: Any, batch: Sequence[Any]) -> list[Future[Generation | None]]:
        """The futures of ``item``'s generations; the first item of a model hands over ``batch``.

        ``batch`` holds the items this process will run for the item's model, in
        run order, so the backend decodes them together and the next ones first.
        """
        if item.nodeid not in self.submitted:
            waiting = [other for other in batch if other.nodeid not in self.submitted]
            if item not in waiting:
                waiting.insert(0, item)
            backend = self.backend(item.model)
            requests = [self.requests(other.case, other.reasoning) for other in waiting]
            futures = backend.submit([request for group in requests for request in group])
            self.submitted.update(other.nodeid for other in waiting)
            for other, group in zip(waiting, requests):
                self.futures[other.nodeid], futures = futures[:len(group)], futures[len(group):]
                if self.progress is not None:
                    self.progress.expect(other.nodeid, self.futures[other.nodeid])
        return self.futures.pop(item.nodeid)

    def wait(self, futures: list[Future[Generation | None]]) -> list[Generation | None]:
        """The generations, once all are made; progress is shown meanwhile."""
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if self.progress is not None:
                self.progress.tick(self.backends.values())
        errors = [future.exception() for future in futures if future.exception() is not None]
        if errors:
            error = errors[0]
            if isinstance(error, BackendError):
                raise error
            raise BackendError(f"{type(error).__name__}: {error}")
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop every backend's work; generations not finished are dropped."""
        for backend in self.backends.values():
            backend.close()


#: where a session keeps its run
RUN_KEY = pytest.StashKey[Run]()
#: engine format: bump when the engine's schedule or sampling changes the tokens
ENGINE_VERSION = 1
#: the chat request's format: bump when what is sent to a server changes
SERVER_REQUEST_VERSION = 1
