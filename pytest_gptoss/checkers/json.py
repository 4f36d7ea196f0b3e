"""JSON checker: finds the answer's JSON values and validates them with JSON Schema.

Where the JSON is taken from, in order:

1. fenced blocks tagged ``json`` (or ``jsonl``, ``ndjson``); a block may hold
   several values one after another;
2. else untagged fenced blocks that start with ``{`` or ``[``;
3. else the whole answer, if it is nothing but JSON values;
4. else bare values in the prose: objects that open with a key, and arrays that
   open with an object, an array or a string (so that ``[1]`` or ``{name}`` in a
   sentence is not read as JSON). Other fenced blocks (```python, ...) are skipped.

Parsing is strict JSON: ``NaN``, ``Infinity``, numbers too large for a double
and duplicate keys are rejected, with the JSON path where they occur. Text that
claims to be JSON (a JSON block, a bare value's opening) but does not parse fails
with the parser's message and position.

Spec keys (all optional):

``schema``
    a JSON Schema (Draft 2020-12, written as YAML). ``format`` is checked; a
    format the installed ``jsonschema`` cannot check is a spec error, never a
    silent pass.
``shape``
    ``any`` (default): one value is judged as it is, several as the list of them;
    ``value``: exactly one JSON value; ``sequence``: one or more values judged as
    a list, whether the answer wrote one array, several fenced blocks, or bare
    values one after another.
``consecutive`` (sequence only)
    a key whose value must run 1, 2, 3, ... across the items.
``others`` and ``last`` (sequence only)
    ``{key: value}`` that every item but the last, and the last item, must have.
    JSON Schema cannot address the last item of an array of any length.
"""

from __future__ import annotations

import json as _json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.blocks import FencedBlock, fenced_blocks
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import clip_line
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "json"
KEYS = ("schema", "shape", "consecutive", "others", "last")
SHAPES = ("any", "value", "sequence")
SEQUENCE_ONLY = ("consecutive", "others", "last")
JSON_TAGS = frozenset({"json", "jsonl", "ndjson"})
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

#: problems spelled out in ``why``, and located in ``where``, so a verdict fits a screen
SHOWN_PROBLEMS = 6
LOCATED_PROBLEMS = 3
SHOWN_WIDTH = 160
EXPECTED_WIDTH = 400

Path = tuple[Any, ...]
Span = tuple[int, int]

_WS = re.compile(r"[ \t\r\n]*")
_BARE_START = re.compile(r'\{(?=[ \t\r\n]*")|\[(?=[ \t\r\n]*[\[{"])')

# Subschema-holding keywords of Draft 2020-12, to find every ``format`` in a schema.
_ONE_SUBSCHEMA = (
    "additionalProperties", "items", "contains", "propertyNames", "not", "if", "then", "else",
    "unevaluatedItems", "unevaluatedProperties", "contentSchema",
)
_LIST_OF_SUBSCHEMAS = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP_OF_SUBSCHEMAS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


# -- spec ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    schema: Any
    shape: str
    consecutive: str | None
    others: dict[str, Any]
    last: dict[str, Any]


def parse(spec: Any) -> _Spec:
    if spec is None:
        spec = {}
    check_keys(spec, KEYS, name="json", usage=f"json takes a mapping of {', '.join(KEYS)} (all optional)")
    shape = spec.get("shape", "any")
    if shape not in SHAPES:
        raise SpecError(f"'shape' must be one of {', '.join(SHAPES)}, not {shape!r}", ("shape",))
    for key in SEQUENCE_ONLY:
        if key in spec and shape != "sequence":
            raise SpecError(f"'{key}' judges the items of a sequence; it needs 'shape: sequence'", (key,))
    schema = spec.get("schema", True)
    if "schema" in spec:
        _check_schema(schema)
    consecutive = spec.get("consecutive")
    if consecutive is not None and (not isinstance(consecutive, str) or not consecutive):
        raise SpecError(
            f"'consecutive' takes the key whose value runs 1, 2, 3, ... (a string), not {consecutive!r}",
            ("consecutive",),
        )
    return _Spec(schema, shape, consecutive, _key_values(spec, "others"), _key_values(spec, "last"))


def _key_values(spec: Mapping[str, Any], key: str) -> dict[str, Any]:
    if key not in spec:
        return {}
    value = spec[key]
    if not isinstance(value, Mapping) or not value:
        raise SpecError(f"'{key}' takes a non-empty mapping {{key: value}} that the items must have", (key,))
    for name, expected in value.items():
        if not isinstance(name, str):
            raise SpecError(f"'{key}' keys must be strings (JSON object keys), not {name!r}", (key, name))
        _check_json_data(expected, (key, name))
    return dict(value)


def _check_schema(schema: Any) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, (Mapping, bool)):
        raise SpecError(
            "'schema' must be a JSON Schema written as a YAML mapping (or true/false), "
            f"not {type(schema).__name__}",
            ("schema",),
        )
    _check_json_data(schema, ("schema",))
    if isinstance(schema, Mapping) and schema.get("$schema", DRAFT_2020_12).rstrip("#") != DRAFT_2020_12:
        raise SpecError(
            f"schemas are read as Draft 2020-12; '$schema' must be {DRAFT_2020_12} or left out",
            ("schema", "$schema"),
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SpecError(f"not a valid JSON Schema: {clip_line(exc.message, 200)}", ("schema", *exc.path)) from None
    checked = Draft202012Validator.FORMAT_CHECKER.checkers
    for path, name in _formats(schema, ("schema",)):
        if name not in checked:
            raise SpecError(
                f"format {name!r} cannot be checked with the installed jsonschema, so it would pass "
                f"anything (checked here: {', '.join(sorted(checked))}; more come with "
                "pip install 'jsonschema[format-nongpl]')",
                path,
            )


def _check_json_data(value: Any, path: Path) -> None:
    """Reject what YAML gives but JSON has no word for: dates, non-string keys, NaN."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise SpecError(f"{item!r} is not a JSON number", where)
            continue
        if isinstance(item, list):
            stack.extend((child, (*where, index)) for index, child in enumerate(item))
            continue
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise SpecError(f"JSON object keys are strings; quote {key!r}", (*where, key))
                stack.append((child, (*where, key)))
            continue
        raise SpecError(f"{item!r} ({type(item).__name__}) is not JSON data; quote it if it is a string", where)


def _formats(schema: Any, path: Path) -> Iterator[tuple[Path, str]]:
    stack = [(schema, path)]
    while stack:
        node, where = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get("format"), str):
            yield (*where, "format"), node["format"]
        for key in _ONE_SUBSCHEMA:
            if key in node:
                stack.append((node[key], (*where, key)))
        for key in _LIST_OF_SUBSCHEMAS:
            if isinstance(node.get(key), list):
                stack.extend((sub, (*where, key, i)) for i, sub in enumerate(node[key]))
        for key in _MAP_OF_SUBSCHEMAS:
            if isinstance(node.get(key), Mapping):
                stack.extend((sub, (*where, key, name)) for name, sub in node[key].items())


# -- finding the JSON ---------------------------------------------------------


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
    """The answer's JSON values (see the module docstring for where they are taken from).

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
            at = _locate(text, span, path, duplicate)
            raise BadJSON(f"{prefix}{_json_path(path)}: {message}", at[0], source, at[1])
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
        raise BadJSON(f"{exc.msg} (line {_line(text, exc.pos)} column {_column(text, exc.pos)})",
                      exc.pos, source) from None
    except (ValueError, RecursionError) as exc:
        raise BadJSON(f"cannot be read: {exc}", pos, source) from None


def _first_non_json(value: Any) -> tuple[Path, str, str | None] | None:
    """The first NaN, Infinity, overflow or duplicate key in ``value``, in document order."""
    stack: list[tuple[Any, Path]] = [(value, ())]
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


def _members(text: str, start: int) -> Iterator[tuple[Any, int, Span]]:
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


def _locate(text: str, span: Span, path: Path, duplicate: str | None = None) -> Span:
    """The span of ``path`` inside the JSON value at ``span`` (as deep as it can be followed)."""
    try:
        for step in path:
            if text[span[0]] not in "{[":
                break
            child = next((s for key, _, s in _members(text, span[0]) if key == step), None)
            if child is None:
                break
            span = child
        if duplicate is not None and text[span[0]] == "{":
            seen = [(k_start, s[1]) for key, k_start, s in _members(text, span[0]) if key == duplicate]
            if len(seen) > 1:
                return seen[1]
    except (ValueError, IndexError, RecursionError):
        pass
    return span


# -- judging ------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    path: Path
    message: str
    span: Span | None


def judge(parsed: _Spec, text: str) -> Verdict:
    """Find the answer's JSON, shape it as ``spec`` says, and validate it."""
    from referencing.exceptions import Unresolvable

    expected = _expected(parsed)

    def fail(found: str, why: str, where: str = "", error: bool = False, **details: object) -> Verdict:
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=found, where=where, why=why, error=error,
            details=details,
        )

    try:
        found = find_json(text)
    except BadJSON as exc:
        end = min(exc.end, len(text))
        where = f"line {_line(text, exc.position)}: {snippet(text, exc.position, end)}"
        return fail(f"JSON that does not parse, in {exc.source}", exc.message, where,
                    values=0, source=exc.source, problems=[{"path": None, "message": exc.message}])
    if not found.values:
        head = f"answer: {clip_line(text.strip(), 60)}" if text.strip() else "the answer is empty"
        return fail("no JSON in the answer", "found no JSON value, fenced or bare", head,
                    values=0, source="", problems=[])

    count = len(found.values)
    if parsed.shape == "value" and count != 1:
        return fail(
            f"{count} JSON values from {found.source}",
            f"expected exactly one JSON value; found {count} (use 'shape: sequence' to judge them as a list)",
            _where_values(text, found.spans),
            values=count,
            source=found.source,
            problems=[],
        )
    instance, items, described = _shaped(parsed.shape, found, text)
    found_text = f"{described}: {_show(instance)}"

    try:
        problems = _schema_problems(parsed.schema, instance)
    except RecursionError:
        return fail(found_text, "the value is nested too deeply to validate")
    except Unresolvable as exc:
        return fail(found_text, f"the schema could not be applied: {clip_line(str(exc), 200)}", error=True)
    if items is not None and parsed.shape == "sequence":
        reported = {p.path for p in problems}
        problems += [p for p in _sequence_problems(parsed, instance) if p.path not in reported]

    located = [_Problem(p.path, p.message, _span_of(text, p.path, items, found)) for p in problems]
    details: dict[str, Any] = {
        "values": count,
        "source": found.source,
        "problems": [{"path": _json_path(p.path), "message": p.message} for p in located],
    }
    if not located:
        return Verdict(
            passed=True, checker=NAME, expected=expected, found=found_text, where=_where_values(text, found.spans),
            details=details,
        )
    shown = [f"{_json_path(p.path)}: {p.message}" for p in located[:SHOWN_PROBLEMS]]
    if len(located) > SHOWN_PROBLEMS:
        shown.append(f"… and {len(located) - SHOWN_PROBLEMS} more")
    where = "\n".join(
        f"{_json_path(p.path)} (line {_line(text, p.span[0])}): {snippet(text, *p.span)}"
        for p in located[:LOCATED_PROBLEMS]
        if p.span is not None
    )
    return fail(found_text, "\n".join(shown), where, **details)


def _shaped(shape: str, found: Found, text: str) -> tuple[Any, list[tuple[Any, Span]] | None, str]:
    """What the schema judges, its items with their spans (None for a single value), and a description."""
    count = len(found.values)
    if shape == "sequence" and count == 1 and isinstance(found.values[0], list):
        spans = [span for _, _, span in _members(text, found.spans[0][0])]
        items = list(zip(found.values[0], spans))
        plural = "s" if len(items) != 1 else ""
        return found.values[0], items, f"one array of {len(items)} item{plural} from {found.source}"
    if shape == "sequence" or count > 1:
        described = f"{count} value{'s' if count > 1 else ''} from {found.source}"
        if shape == "any":
            described += ", judged as a list"
        return list(found.values), list(zip(found.values, found.spans)), described
    return found.values[0], None, f"one value from {found.source}"


def _schema_problems(schema: Any, instance: Any) -> list[_Problem]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: _path_key(e.absolute_path))
    problems = []
    for error in errors:
        error = best_match([error]) or error
        problems.append(_Problem(tuple(error.absolute_path), _message(error), None))
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


def _sequence_problems(spec: _Spec, items: list[Any]) -> list[_Problem]:
    """Problems with ``consecutive``, ``others`` and ``last``, item by item."""
    problems = []

    def differs(index: int, key: str, expected: Any, rule: str) -> None:
        item = items[index]
        if key not in item:
            problems.append(_Problem((index,), f"{key!r} is missing ({rule})", None))
        elif not _json_equal(item[key], expected):
            shown = clip_line(repr(item[key]), 40)
            problems.append(_Problem((index, key), f"{shown} where {expected!r} was expected ({rule})", None))

    for index, item in enumerate(items):
        is_last = index == len(items) - 1
        wanted = spec.last if is_last else spec.others
        if not isinstance(item, dict):
            if spec.consecutive or wanted:
                problems.append(_Problem((index,), f"{clip_line(repr(item), 40)} is not an object", None))
            continue
        if spec.consecutive is not None:
            differs(index, spec.consecutive, index + 1, f"{spec.consecutive} must run 1, 2, 3, …")
        for key, value in wanted.items():
            differs(index, key, value, "the last item" if is_last else "every item but the last")
    return problems


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, objects ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _span_of(text: str, path: Path, items: list[tuple[Any, Span]] | None, found: Found) -> Span:
    if items is not None and path and isinstance(path[0], int) and path[0] < len(items):
        return _locate(text, items[path[0]][1], path[1:])
    if items is not None:
        return found.spans[0] if len(found.spans) == 1 else (found.spans[0][0], found.spans[-1][1])
    return _locate(text, found.spans[0], path)


# -- explaining ---------------------------------------------------------------


def _expected(spec: _Spec) -> str:
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
        out += "; every item but the last has " + ", ".join(f"{k} = {_show(v)}" for k, v in spec.others.items())
    if spec.last:
        out += "; the last item has " + ", ".join(f"{k} = {_show(v)}" for k, v in spec.last.items())
    return clip_line(out, EXPECTED_WIDTH)


def _describe(schema: Any, depth: int = 0) -> str:
    """A one-line summary of a schema, TypeScript-like: ``array (≥3) of {a: integer, b?: string}``."""
    if schema is True or schema == {}:
        return "any JSON"
    if schema is False:
        return "nothing (the schema is false)"
    if not isinstance(schema, Mapping):
        return _show(schema)
    if depth > 2:
        return "…"
    if "const" in schema:
        return _show(schema["const"])
    if isinstance(schema.get("enum"), list):
        return "one of " + " | ".join(_show(v) for v in schema["enum"])
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
    return words or "(schema) " + _show(schema)


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


def _show(value: Any, width: int = SHOWN_WIDTH) -> str:
    try:
        shown = _json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    return clip_line(shown, width)


def _json_path(path: Path) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f"[{step!r}]" for step in path)


def _path_key(path: Any) -> tuple[tuple[int, Any], ...]:
    return tuple((0, step) if isinstance(step, int) else (1, str(step)) for step in path)


def _where_values(text: str, spans: tuple[Span, ...]) -> str:
    if not spans:
        return ""
    start, end = spans[0][0], spans[-1][1]
    return f"line {_line(text, start)}: {snippet(text, start, end)}"


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _column(text: str, pos: int) -> int:
    return pos - (text.rfind("\n", 0, pos) + 1) + 1


def _lines_of(text: str, starts: list[int]) -> str:
    lines = [_line(text, s) for s in starts]
    shown = ", ".join(str(n) for n in lines[:6]) + (", …" if len(lines) > 6 else "")
    return ("line " if len(lines) == 1 else "lines ") + shown


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
