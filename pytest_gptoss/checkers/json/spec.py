"""The ``json`` spec: read once, at collection, into a :class:`JsonSpec`.

A schema is checked against Draft 2020-12 and must be JSON data; every
``format`` in it must be one the installed ``jsonschema`` can check.
``consecutive``, ``others`` and ``last`` need ``shape: sequence``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.json.find import JsonPath
from pytest_gptoss.clipping import clip_line
from pytest_gptoss.verdict import SpecError, check_keys

KEYS = ("schema", "shape", "consecutive", "others", "last")
SHAPES = ("any", "value", "sequence")
SEQUENCE_ONLY = ("consecutive", "others", "last")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Subschema-holding keywords of Draft 2020-12, to find every ``format`` in a schema.
_ONE_SUBSCHEMA = (
    "additionalProperties", "items", "contains", "propertyNames", "not", "if", "then", "else",
    "unevaluatedItems", "unevaluatedProperties", "contentSchema",
)
_LIST_OF_SUBSCHEMAS = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP_OF_SUBSCHEMAS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


@dataclass(frozen=True, kw_only=True)
class JsonSpec:
    """A parsed ``json`` spec, defaults applied."""

    schema: Any  # a checked Draft 2020-12 schema: a mapping, or true when the spec gives none
    shape: str  # one of SHAPES
    consecutive: str | None
    others: dict[str, Any]  # empty unless the spec gives it; the same for last
    last: dict[str, Any]


def parse(spec: Any) -> JsonSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
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
    return JsonSpec(schema=schema, shape=shape, consecutive=consecutive, others=_key_values(spec, "others"),
                    last=_key_values(spec, "last"))


def _key_values(spec: Mapping[str, Any], key: str) -> dict[str, Any]:
    if key not in spec:
        return {}
    value = spec[key]
    if not isinstance(value, Mapping) or not value:
        raise SpecError(f"'{key}' takes a non-empty mapping {{key: value}} that the items must have", (key,))
    for name, expected in value.items():
        if not isinstance(name, str):
            raise SpecError(f"'{key}' keys must be strings (JSON object keys), not {name!r}", (key, name))
        check_json_data(expected, (key, name))
    return dict(value)


def check_schema(schema: Any, at: JsonPath = ("schema",)) -> None:
    """:class:`SpecError` (its path under ``at``) unless ``schema`` is a Draft 2020-12 schema every format of
    which the installed ``jsonschema`` can check."""
    try:
        _check_schema(schema)
    except SpecError as exc:
        raise SpecError(exc.message, (*at, *exc.path[1:])) from None


def _check_schema(schema: Any) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, (Mapping, bool)):
        raise SpecError(
            "'schema' must be a JSON Schema written as a YAML mapping (or true/false), "
            f"not {type(schema).__name__}",
            ("schema",),
        )
    check_json_data(schema, ("schema",))
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


def check_json_data(value: Any, path: JsonPath) -> None:
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


def _formats(schema: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
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
