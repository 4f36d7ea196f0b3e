"""Finding an answer's JSON values, strictly parsed, and where each value, and each path in it, lies in the answer.

:func:`find_json` takes the values from where :mod:`pytest_gptoss.checkers.json`
says, in that order, and raises :class:`BadJSON` for text meant as JSON that
does not parse, NaN, Infinity, numbers too large for a double and duplicate
keys. :func:`locate` follows a JSON path into a value's text.
"""

from __future__ import annotations

import json as _json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.blocks import FencedBlock, fenced_blocks

JSON_TAGS = frozenset({"json", "jsonl", "ndjson"})

JsonPath = tuple[Any, ...]
Span = tuple[int, int]

_WS = re.compile(r"[ \t\r\n]*")
_BARE_START = re.compile(r'\{(?=[ \t\r\n]*")|\[(?=[ \t\r\n]*[\[{"])')


@dataclass(frozen=True)
class Found:
    """The JSON values of an answer, each with its span in the answer, and where they came from."""

    values: tuple[Any, ...]
    spans: tuple[Span, ...]
    source: str


class BadJSON(ValueError):
    """Text that is meant as JSON and is not: the parser's message and the answer offset."""

    def __init__(self, message: str, position: int, source: str, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.end = position + 1 if end is None else end
        self.source = source


class _NonFinite:
    """Stands in for NaN, Infinity or an overflowing number until the value is judged."""

    def __init__(self, token: str) -> None:
        self.token = token


class _Object(dict[str, Any]):
    duplicate: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicate = key
                break
            seen.add(key)
    return obj


def _float(token: str) -> float | _NonFinite:
    value = float(token)
    return value if math.isfinite(value) else _NonFinite(token)


_STRICT = _json.JSONDecoder(parse_constant=_NonFinite, parse_float=_float, object_pairs_hook=_object)
_PLAIN = _json.JSONDecoder()


def find_json(text: str) -> Found:
    """The answer's JSON values (:mod:`pytest_gptoss.checkers.json` says where they are taken from).

    Raises :class:`BadJSON` for text that is meant as JSON and does not parse,
    and for NaN, Infinity, out-of-range numbers and duplicate keys.
    """
    blocks = fenced_blocks(text)
    tagged = [b for b in blocks if b.tag in JSON_TAGS]
    untagged = [b for b in blocks if not b.tag and text[b.start:b.end].lstrip()[:1] in ("{", "[")]
    chosen = tagged or untagged
    if chosen:
        label = f"```{chosen[0].tag}" if tagged else "untagged fenced"
        if tagged and len({b.tag for b in tagged}) > 1:
            label = "```json"
        plural = "s" if len(chosen) > 1 else ""
        source = f"{len(chosen)} {label} block{plural} ({_lines_of(text, [b.fence_start for b in chosen])})"
        pairs = [p for block in chosen for p in _decode_all(text, block.start, block.end, source)]
    else:
        try:
            pairs = _decode_all(text, 0, len(text), "the whole answer")
            source = "the whole answer"
        except BadJSON:
            pairs = []
        if not pairs:
            masked = _mask(text, blocks)
            pairs = _decode_bare(masked)
            source = f"bare JSON in the text ({_lines_of(text, [s for _, (s, _) in pairs])})"
    found = Found(tuple(v for v, _ in pairs), tuple(s for _, s in pairs), source)
    for index, (value, span) in enumerate(pairs):
        bad = _first_non_json(value)
        if bad is not None:
            path, message, duplicate = bad
            prefix = f"value {index + 1}, " if len(pairs) > 1 else ""
            at = locate(text, span, path, duplicate)
            raise BadJSON(f"{prefix}{json_path(path)}: {message}", at[0], source, at[1])
    return found


def _mask(text: str, blocks: list[FencedBlock]) -> str:
    for block in blocks:
        width = block.fence_end - block.fence_start
        text = text[: block.fence_start] + " " * width + text[block.fence_end :]
    return text


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _decode_all(text: str, start: int, end: int, source: str) -> list[tuple[Any, Span]]:
    scoped = text[:end]
    pairs = []
    pos = _skip_ws(scoped, start)
    while pos < end:
        value, stop = _decode_one(scoped, pos, source)
        pairs.append((value, (pos, stop)))
        pos = _skip_ws(scoped, stop)
    return pairs


def _decode_bare(text: str) -> list[tuple[Any, Span]]:
    pairs = []
    pos = 0
    while (start := _BARE_START.search(text, pos)) is not None:
        value, stop = _decode_one(text, start.start(), "bare JSON in the text")
        pairs.append((value, (start.start(), stop)))
        pos = stop
    return pairs


def _decode_one(text: str, pos: int, source: str) -> tuple[Any, int]:
    try:
        return _STRICT.raw_decode(text, pos)
    except _json.JSONDecodeError as exc:
        raise BadJSON(f"{exc.msg} (line {line_of(text, exc.pos)} column {_column(text, exc.pos)})",
                      exc.pos, source) from None
    except (ValueError, RecursionError) as exc:
        raise BadJSON(f"cannot be read: {exc}", pos, source) from None


def _first_non_json(value: Any) -> tuple[JsonPath, str, str | None] | None:
    """The first NaN, Infinity, overflow or duplicate key in ``value``, in document order."""
    stack: list[tuple[Any, JsonPath]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _NonFinite):
            if node.token in ("NaN", "Infinity", "-Infinity"):
                return path, f"{node.token} is not valid JSON (JSON has no NaN or Infinity)", None
            return path, f"the number {node.token} is too large for a double", None
        if isinstance(node, _Object):
            if node.duplicate is not None:
                return path, f"duplicate key {node.duplicate!r}", node.duplicate
            stack.extend((child, (*path, key)) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((child, (*path, i)) for i, child in reversed(list(enumerate(node))))
    return None


# -- locating a path in the answer ---------------------------------------------


def members(text: str, start: int) -> Iterator[tuple[Any, int, Span]]:
    """(key or index, key start, value span) of the object or array that opens at ``start``."""
    is_object = text[start] == "{"
    pos = _skip_ws(text, start + 1)
    index = 0
    while pos < len(text) and text[pos] not in "}]":
        key_start = pos
        if is_object:
            key, pos = _PLAIN.raw_decode(text, pos)
            pos = _skip_ws(text, _skip_ws(text, pos) + 1)
        else:
            key = index
        value_start = pos
        _, pos = _PLAIN.raw_decode(text, pos)
        yield key, key_start, (value_start, pos)
        index += 1
        pos = _skip_ws(text, pos)
        if pos >= len(text) or text[pos] != ",":
            return
        pos = _skip_ws(text, pos + 1)


def locate(text: str, span: Span, path: JsonPath, duplicate: str | None = None) -> Span:
    """The span of ``path`` inside the JSON value at ``span`` (as deep as it can be followed)."""
    try:
        for step in path:
            if text[span[0]] not in "{[":
                break
            child = next((s for key, _, s in members(text, span[0]) if key == step), None)
            if child is None:
                break
            span = child
        if duplicate is not None and text[span[0]] == "{":
            seen = [(k_start, s[1]) for key, k_start, s in members(text, span[0]) if key == duplicate]
            if len(seen) > 1:
                return seen[1]
    except (ValueError, IndexError, RecursionError):
        pass
    return span


# -- paths and positions --------------------------------------------------------


def json_path(path: JsonPath) -> str:
    """``path`` written as a JSON path: ``$[0]['name']``."""
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f"[{step!r}]" for step in path)


def line_of(text: str, pos: int) -> int:
    """The 1-based line of ``text`` that offset ``pos`` is on."""
    return text.count("\n", 0, pos) + 1


def _column(text: str, pos: int) -> int:
    return pos - (text.rfind("\n", 0, pos) + 1) + 1


def _lines_of(text: str, starts: list[int]) -> str:
    lines = [line_of(text, s) for s in starts]
    shown = ", ".join(str(n) for n in lines[:6]) + (", …" if len(lines) > 6 else "")
    return ("line " if len(lines) == 1 else "lines ") + shown


