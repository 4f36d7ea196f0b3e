"""Transcript files (JSONL): written by ``--gptoss-record``, read by ``--gptoss-replay``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class TranscriptError(Exception):
    """A transcript file cannot be read; the message names the file and line."""


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Yield every transcript line; each needs at least ``case`` and ``final``."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise TranscriptError(f"cannot read transcripts {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TranscriptError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
            if not isinstance(data, dict) or not isinstance(data.get("case"), str):
                raise TranscriptError(f"{path}:{number}: a transcript line needs a 'case' string")
            if not isinstance(data.get("final"), str):
                raise TranscriptError(f"{path}:{number}: a transcript line needs a 'final' string")
            yield data


class Writer:
    """Appends transcript lines and flushes each, so a crash loses nothing written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = open(path, "w", encoding="utf-8")

    def write(self, transcript: dict[str, Any]) -> None:
        self._handle.write(json.dumps(transcript, ensure_ascii=False, sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
