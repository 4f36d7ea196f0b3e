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

This module judges; :mod:`.spec` reads the spec, :mod:`.find` finds the JSON
values and where they lie, :mod:`.validate` shapes them and lists what is
wrong, and :mod:`.describe` words the verdict.
"""

from __future__ import annotations

from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.json.describe import expectation, show, where_values
from pytest_gptoss.checkers.json.find import BadJSON, find_json, json_path, line_of
from pytest_gptoss.checkers.json.spec import JsonSpec, parse
from pytest_gptoss.checkers.json.validate import Problem, schema_problems, sequence_problems, shaped, span_of
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import answer_head, clip_line
from pytest_gptoss.verdict import Verdict

NAME = "json"

#: problems spelled out in ``why``, and located in ``where``, so a verdict fits a screen
SHOWN_PROBLEMS = 6
LOCATED_PROBLEMS = 3


def judge(parsed: JsonSpec, text: str) -> Verdict:
    """Find the answer's JSON, shape it as ``spec`` says, and validate it."""
    from referencing.exceptions import Unresolvable

    expected = expectation(parsed)

    def fail(found: str, why: str, where: str = "", error: bool = False, **details: object) -> Verdict:
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=found, where=where, why=why, error=error,
            details=details,
        )

    try:
        found = find_json(text)
    except BadJSON as exc:
        where = where_values(text, ((exc.position, min(exc.end, len(text))),))
        return fail(f"JSON that does not parse, in {exc.source}", exc.message, where,
                    values=0, source=exc.source, problems=[{"path": None, "message": exc.message}])
    if not found.values:
        head = answer_head(text)
        return fail("no JSON in the answer", "found no JSON value, fenced or bare", head,
                    values=0, source="", problems=[])

    count = len(found.values)
    if parsed.shape == "value" and count != 1:
        return fail(
            f"{count} JSON values from {found.source}",
            f"expected exactly one JSON value; found {count} (use 'shape: sequence' to judge them as a list)",
            where_values(text, found.spans),
            values=count,
            source=found.source,
            problems=[],
        )
    instance, items, described = shaped(parsed.shape, found, text)
    found_text = f"{described}: {show(instance)}"

    try:
        problems = schema_problems(parsed.schema, instance)
    except RecursionError:
        return fail(found_text, "the value is nested too deeply to validate")
    except Unresolvable as exc:
        return fail(found_text, f"the schema could not be applied: {clip_line(str(exc), 200)}", error=True)
    if items is not None and parsed.shape == "sequence":
        reported = {p.path for p in problems}
        problems += [p for p in sequence_problems(parsed, instance) if p.path not in reported]

    located = [Problem(p.path, p.message, span_of(text, p.path, items, found)) for p in problems]
    details: dict[str, Any] = {
        "values": count,
        "source": found.source,
        "problems": [{"path": json_path(p.path), "message": p.message} for p in located],
    }
    if not located:
        return Verdict(
            passed=True, checker=NAME, expected=expected, found=found_text, where=where_values(text, found.spans),
            details=details,
        )
    shown = [f"{json_path(p.path)}: {p.message}" for p in located[:SHOWN_PROBLEMS]]
    if len(located) > SHOWN_PROBLEMS:
        shown.append(f"… and {len(located) - SHOWN_PROBLEMS} more")
    where = "\n".join(
        f"{json_path(p.path)} (line {line_of(text, p.span[0])}): {snippet(text, *p.span)}"
        for p in located[:LOCATED_PROBLEMS]
        if p.span is not None
    )
    return fail(found_text, "\n".join(shown), where, **details)


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
