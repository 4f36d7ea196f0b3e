"""Grading recorded transcripts instead of running a model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pytest_gptoss import transcripts
from pytest_gptoss.backends import Generation, Request, done

#: the model label of transcripts that name none
UNNAMED = "replay"


class ReplayBackend:
    """Answers each request with the matching recorded transcript.

    Transcripts are grouped by the model they name (a recording of a
    two-model run replays as two models); a case's transcripts serve as its
    samples in file order, and where they name a reasoning effort only those of
    the requested effort are used.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        models: dict[str, None] = {}
        for line in transcripts.read(path):
            model = str(line.get("model") or UNNAMED)
            models[model] = None
            self._lines[(model, line["case"])].append(line)
        self.models = tuple(models) or (UNNAMED,)

    def for_model(self, label: str) -> ReplayModel:
        return ReplayModel(self, label)

    def find(self, label: str, request: Request) -> Generation | None:
        lines = self._lines.get((label, request.case), [])
        matching = [line for line in lines if line.get("reasoning") in (None, "", request.reasoning)]
        if request.sample >= len(matching):
            return None
        line = matching[request.sample]
        return Generation.from_transcript({
            **line, "model": label, "sample": request.sample, "reasoning": line.get("reasoning") or request.reasoning,
        })


class ReplayModel:
    """The transcripts of one recorded model, as a backend."""

    def __init__(self, replay: ReplayBackend, label: str) -> None:
        self.replay = replay
        self.label = label

    def submit(self, requests: Sequence[Request]) -> list[Future[Generation | None]]:
        return [done(self.replay.find(self.label, request)) for request in requests]

    def stats(self) -> dict[str, Any]:
        return {}

    def identity(self) -> dict[str, Any]:
        """The transcripts' file: all that a replay knows of the model that answered."""
        return {"transcripts": str(self.replay.path)}

    def close(self) -> None:
        """Nothing runs: every answer is already recorded."""

    def prompt_text(self, request: Request) -> str:
        return "(replayed from a transcript: no model was prompted in this run)"
