"""Shaping an answer's JSON values as the spec says, and the problems JSON Schema and the sequence rules find.

:func:`shaped` gives what the schema judges (one value, or the list of them);
:func:`schema_problems` and :func:`sequence_problems` list what is wrong, each
at its JSON path; :func:`span_of` finds where that path lies in the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.json.find import Found, JsonPath, Span, locate, members
from pytest_gptoss.checkers.json.spec import JsonSpec
from pytest_gptoss.clipping import clip_line


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the JSON: at which path, what, and where in the answer (once located)."""

    path: JsonPath
    message: str
    span: Span | None


def shaped(shape: str, found: Found, text: str) -> tuple[Any, list[tuple[Any, Span]] | None, str]:
    """What the schema judges, its items with their spans (None for a single value), and a description."""
    count = len(found.values)
    if shape == "sequence" and count == 1 and isinstance(found.values[0], list):
        spans = [span for _, _, span in members(text, found.spans[0][0])]
        items = list(zip(found.values[0], spans))
        plural = "s" if len(items) != 1 else ""
        return found.values[0], items, f"one array of {len(items)} item{plural} from {found.source}"
    if shape == "sequence" or count > 1:
        described = f"{count} value{'s' if count > 1 else ''} from {found.source}"
        if shape == "any":
            described += ", judged as a list"
        return list(found.values), list(zip(found.values, found.spans)), described
    return found.values[0], None, f"one value from {found.source}"


def schema_problems(schema: Any, instance: Any) -> list[Problem]:
    """Every place ``instance`` breaks ``schema`` (formats checked), in path order, each with its best message."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: _path_key(e.absolute_path))
    problems = []
    for error in errors:
        error = best_match([error]) or error
        problems.append(Problem(tuple(error.absolute_path), _message(error), None))
    return problems


def _message(error: Any) -> str:
    message = error.message
    shown = repr(error.instance)
    if message.startswith(shown) and len(shown) > 40:
        message = clip_line(shown, 40) + message[len(shown) :]
    if error.validator in ("minItems", "maxItems") and isinstance(error.instance, list):
        size = len(error.instance)
        message += f" (it has {size} item{'s' if size != 1 else ''}, {error.validator} is {error.validator_value})"
    return clip_line(message, 200)


def sequence_problems(spec: JsonSpec, items: list[Any]) -> list[Problem]:
    """Problems with ``consecutive``, ``others`` and ``last``, item by item."""
    problems = []

    def differs(index: int, key: str, expected: Any, rule: str) -> None:
        item = items[index]
        if key not in item:
            problems.append(Problem((index,), f"{key!r} is missing ({rule})", None))
        elif not json_equal(item[key], expected):
            shown = clip_line(repr(item[key]), 40)
            problems.append(Problem((index, key), f"{shown} where {expected!r} was expected ({rule})", None))

    for index, item in enumerate(items):
        is_last = index == len(items) - 1
        wanted = spec.last if is_last else spec.others
        if not isinstance(item, dict):
            if spec.consecutive or wanted:
                problems.append(Problem((index,), f"{clip_line(repr(item), 40)} is not an object", None))
            continue
        if spec.consecutive is not None:
            differs(index, spec.consecutive, index + 1, f"{spec.consecutive} must run 1, 2, 3, …")
        for key, value in wanted.items():
            differs(index, key, value, "the last item" if is_last else "every item but the last")
    return problems


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, objects ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def span_of(text: str, path: JsonPath, items: list[tuple[Any, Span]] | None, found: Found) -> Span:
    """Where in the answer the value at ``path`` of what was judged (see :func:`shaped`) lies."""
    if items is not None and path and isinstance(path[0], int) and path[0] < len(items):
        return locate(text, items[path[0]][1], path[1:])
    if items is not None:
        return found.spans[0] if len(found.spans) == 1 else (found.spans[0][0], found.spans[-1][1])
    return locate(text, found.spans[0], path)


def _path_key(path: Any) -> tuple[tuple[int, Any], ...]:
    return tuple((0, step) if isinstance(step, int) else (1, str(step)) for step in path)
