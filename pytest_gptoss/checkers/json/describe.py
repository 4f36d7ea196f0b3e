"""How the ``json`` checker's verdicts word things: what a spec expects, a schema in one line, values shown.

:func:`expectation` turns a spec into the verdict's ``expected`` text, the
schema summarised TypeScript-like (``array (≥3) of {a: integer, b?: string}``);
:func:`show` writes a value as compact JSON and :func:`where_values` quotes
the answer where its values lie.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from typing import Any

from pytest_gptoss.checkers.json.find import Span, line_of
from pytest_gptoss.checkers.json.spec import JsonSpec
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import clip_line

SHOWN_WIDTH = 160
EXPECTED_WIDTH = 400


def expectation(spec: JsonSpec) -> str:
    """What ``spec`` expects, in one line."""
    described = _describe(spec.schema)
    if spec.shape == "value":
        out = f"exactly one JSON value: {described}"
    elif spec.shape == "sequence":
        out = f"a sequence of JSON values (one array, fenced blocks or bare values), as a list: {described}"
    else:
        out = f"JSON: {described}"
    if spec.consecutive:
        out += f"; {spec.consecutive} runs 1, 2, 3, …"
    if spec.others:
        out += "; every item but the last has " + ", ".join(f"{k} = {show(v)}" for k, v in spec.others.items())
    if spec.last:
        out += "; the last item has " + ", ".join(f"{k} = {show(v)}" for k, v in spec.last.items())
    return clip_line(out, EXPECTED_WIDTH)


def _describe(schema: Any, depth: int = 0) -> str:
    """A one-line summary of a schema, TypeScript-like: ``array (≥3) of {a: integer, b?: string}``."""
    if schema is True or schema == {}:
        return "any JSON"
    if schema is False:
        return "nothing (the schema is false)"
    if not isinstance(schema, Mapping):
        return show(schema)
    if depth > 2:
        return "…"
    if "const" in schema:
        return show(schema["const"])
    if isinstance(schema.get("enum"), list):
        return "one of " + " | ".join(show(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return "(" + " | ".join(_describe(s, depth + 1) for s in schema[key]) + ")"
    kind = schema.get("type")
    words = "/".join(kind) if isinstance(kind, list) else (kind or "")
    if kind == "array" or any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        words = "array" + _bounds(schema.get("minItems"), schema.get("maxItems"))
        if isinstance(schema.get("items"), (Mapping, bool)):
            words += " of " + _describe(schema["items"], depth + 1)
    elif kind == "object" or "properties" in schema or "required" in schema:
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        properties = schema.get("properties", {})
        names = list(properties) + [r for r in required if r not in properties]
        fields = [
            f"{name}{'' if name in required else '?'}: {_describe(properties.get(name, True), depth + 1)}"
            for name in names
        ]
        words = "{" + ", ".join(fields) + "}" if fields else "object"
    elif kind == "string":
        if schema.get("minLength") == 1:
            words = "non-empty string"
        if "format" in schema:
            words += f" ({schema['format']})"
        if "pattern" in schema:
            words += f" matching /{schema['pattern']}/"
    elif kind in ("integer", "number"):
        if "minimum" in schema:
            words += f" ≥ {schema['minimum']}"
        if "maximum" in schema:
            words += f" ≤ {schema['maximum']}"
    return words or "(schema) " + show(schema)


def _bounds(low: Any, high: Any) -> str:
    if low is not None and low == high:
        return f" (exactly {low})"
    if low and high is not None:
        return f" ({low} to {high})"
    if low:
        return f" (≥{low})"
    if high is not None:
        return f" (≤{high})"
    return ""


def show(value: Any, width: int = SHOWN_WIDTH) -> str:
    """``value`` as compact JSON (its repr if it is not JSON), on one line of at most ``width`` characters."""
    try:
        shown = _json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    return clip_line(shown, width)


def where_values(text: str, spans: tuple[Span, ...]) -> str:
    """The answer's line and text from the first value's start to the last one's end ("" for no values)."""
    if not spans:
        return ""
    start, end = spans[0][0], spans[-1][1]
    return f"line {line_of(text, start)}: {snippet(text, start, end)}"
