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
from typing import Any

import pytest

from pytest_gptoss.backends import Backend, BackendError, Generation, Request, sample_seed
from pytest_gptoss.backends.factory import make_backend
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.cases import Case
from pytest_gptoss.models import ModelSpec, resolve
from pytest_gptoss.options import Settings
from pytest_gptoss.progress import Progress
from pytest_gptoss.tools.loop import ToolLoop
from pytest_gptoss.transcripts import Writer


@dataclass
class Run:
    """A session's models and the generations asked of them: settings, files, backends, requests in flight."""

    settings: Settings
    replay: ReplayBackend | None = None
    writer: Writer | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    #: the futures of every item whose requests were handed to its backend, by node id
    futures: dict[str, list[Future[Generation | None]]] = field(default_factory=dict)
    #: node ids whose requests were handed over, so none is generated twice
    submitted: set[str] = field(default_factory=set)
    progress: Progress | None = None
    #: why a model's backend could not be made, so that each of its cases says so without asking again
    broken: dict[str, BackendError] = field(default_factory=dict)
    #: per model, the loop that answers the tool calls of its cases' exchanges
    loops: dict[str, ToolLoop] = field(default_factory=dict)

    @property
    def model_labels(self) -> tuple[str, ...]:
        if self.replay is not None:
            return self.replay.models
        return tuple(spec.label for spec in self.settings.models)

    def spec(self, label: str) -> ModelSpec | None:
        return next((s for s in self.settings.models if s.label == label), None)

    def resolve_models(self, *, download: bool) -> None:
        """Find (and, on the controller, download) every model's file, and ask every server who it is.

        Raises :class:`~pytest_gptoss.models.ModelNotFound` for a file that
        cannot be had and :class:`~pytest_gptoss.servers.ServerUnreachable`
        when nothing answers at a server's address; any other fault of a
        model is kept, to be each of its cases' error.
        """
        from pytest_gptoss.servers import ServerUnreachable

        for spec in self.settings.models:
            if spec.kind == "server":
                try:
                    self.backend(spec.label)
                except ServerUnreachable:
                    raise
                except BackendError:
                    pass  # kept: each of its cases reports it
            elif spec.label not in self.paths:
                self.paths[spec.label] = resolve(spec, download=download)

    def backend(self, label: str) -> Backend:
        """The backend of the model ``label``, made once per process by :func:`~.backends.factory.make_backend`.

        A backend that cannot be made raises the same :class:`BackendError` for every case of its model.
        """
        if label in self.broken:
            raise self.broken[label]
        if label not in self.backends:
            try:
                self.backends[label] = make_backend(label, self.settings, spec=self.spec(label),
                                                    path=self.paths.get(label), replay=self.replay)
            except BackendError as exc:
                self.broken[label] = exc
                raise
        return self.backends[label]

    def identity(self, label: str) -> dict[str, Any]:
        """Who the model ``label`` is, for the results file: its backend's identity, or why it cannot be had."""
        try:
            return self.backend(label).identity()
        except BackendError as exc:
            named = {"file": self.paths[label].name} if label in self.paths else {}
            return {**named, "error": str(exc)}

    def describe(self, label: str) -> str:
        """One line for the terminal: the model's file and its size, or who serves it."""
        from pytest_gptoss.servers import describe

        if label in self.paths:
            path = self.paths[label]
            return f"{path} ({path.stat().st_size / 1e9:.2f} GB)"
        try:
            return describe(self.backend(label).identity())
        except BackendError as exc:
            return str(exc)

    def requests(self, case: Case, reasoning: str) -> list[Request]:
        settings = self.settings
        samples = case.samples or settings.samples
        toolbox = case.toolbox
        tools = tuple(tool.describe() for tool in toolbox.functions) if toolbox is not None else ()
        builtin = toolbox.builtin_names if toolbox is not None else ()
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
                tools=tools,
                builtin_tools=builtin,
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
                mine, futures = futures[:len(group)], futures[len(group):]
                toolbox = other.case.toolbox
                if toolbox is not None and self.replay is None:  # a replay's exchanges are recorded whole
                    loop = self.loops.setdefault(item.model, ToolLoop(backend))
                    mine = [loop.follow(request, toolbox, first) for request, first in zip(group, mine)]
                self.futures[other.nodeid] = mine
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
        for loop in self.loops.values():
            loop.close()
        for backend in self.backends.values():
            backend.close()


#: where a session keeps its run
RUN_KEY = pytest.StashKey[Run]()
