"""Grading recorded transcripts instead of running a model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_gptoss import transcripts
from pytest_gptoss.backends import Generation, Request


class ReplayBackend:
    """Answers each request with the matching recorded transcript.

    A case's transcripts serve as its samples in file order; where transcripts
    name a reasoning effort, only those of the requested effort are used.
    """

    label = "replay"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in transcripts.read(path):
            self._by_case[line["case"]].append(line)

    def generate(self, requests: Sequence[Request]) -> list[Generation | None]:
        return [self._find(request) for request in requests]

    def _find(self, request: Request) -> Generation | None:
        lines = self._by_case.get(request.case, [])
        matching = [line for line in lines if line.get("reasoning") in (None, "", request.reasoning)]
        if request.sample >= len(matching):
            return None
        generation = Generation.from_transcript(matching[request.sample])
        generation.reasoning = generation.reasoning or request.reasoning
        return generation

    def has_case(self, case: str) -> bool:
        return case in self._by_case
