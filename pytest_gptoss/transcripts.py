"""Transcript files (JSONL): written by ``--gptoss-record``, read by ``--gptoss-replay``."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any


class TranscriptError(Exception):
    """A transcript file cannot be read; the message names the file and line."""


_TEXT = {"type": "string"}
_MAYBE_TEXT = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}
_SECONDS = {"type": "number", "minimum": 0}
_FLAG = {"type": "boolean"}
#: one generation of an exchange with tools, as a line's ``generations`` holds it
_TURN = {"type": "object", "properties": {
    "analysis": _TEXT, "commentary": _TEXT, "final": _TEXT, "raw": _TEXT, "has_final": _FLAG,
    "finish_reason": _TEXT, "prompt_tokens": _COUNT, "completion_tokens": _COUNT, "reasoning_tokens": _COUNT,
    "seconds": _SECONDS, "cached": _FLAG}}
#: one tool call, as a line's ``tool_calls`` holds it
_CALL = {"type": "object", "properties": {
    "recipient": _TEXT, "arguments": _TEXT, "content_type": _MAYBE_TEXT, "channel": _MAYBE_TEXT,
    "generation": _COUNT, "result": _TEXT, "error": _TEXT, "seconds": _SECONDS, "id": _MAYBE_TEXT}}
#: the fields a line may have, by type; others are kept and not read
LINE_SCHEMA = {"type": "object", "properties": {
    "model": _TEXT, "reasoning": _TEXT, "sample": _COUNT, "analysis": _TEXT, "commentary": _TEXT, "raw": _TEXT,
    "finish_reason": _TEXT, "has_final": _FLAG, "prompt_tokens": _COUNT, "completion_tokens": _COUNT,
    "reasoning_tokens": _COUNT, "seconds": _SECONDS, "seed": {"type": ["integer", "null"]}, "cached": _FLAG,
    "server": {"type": "object"}, "tool_calls": {"type": "array", "items": _CALL},
    "generations": {"type": "array", "items": _TURN}}}


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
            problem = line_problem(data)
            if problem:
                raise TranscriptError(f"{path}:{number}: {problem}")
            yield data


def line_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a line's fields, in one line, or None: the first field of a wrong type."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is None:
        return None
    field = ".".join(str(part) for part in error.absolute_path)
    return f"field '{field}': {error.message}" if field else error.message


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


@functools.cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(LINE_SCHEMA)
