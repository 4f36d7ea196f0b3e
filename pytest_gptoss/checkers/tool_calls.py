"""The ``tool_calls`` checker: which tools the model called, how often, in what order, with what arguments.

It reads the ``tool_calls`` channel: ``{"calls": [...], "final_generation": i}``, the exchange's
calls as :mod:`pytest_gptoss.tools` describes them and the generation that gave the final answer
(null without one); a call came before the final answer when its ``generation`` is less. Any other
text (a case without tools) has no calls. Tools are named as a case names them (``lookup`` for
``functions.lookup``, ``python``); a spec may also write the ``functions.`` prefix.

Spec keys (all optional; at least one):

- ``called`` / ``not_called``: a name or a list of names, each called at least once / never called;
  ``not_called: true``: no tool called at all.
- ``count``: ``{name: n}`` (exactly n calls) or ``{name: {min: n, max: m}}`` (either bound optional).
- ``min_calls``, ``max_calls``: bounds on the number of calls, all tools together.
- ``order``: names the calls show in this relative order (others may come between; a name given
  twice needs two calls).
- ``calls``: ``[{name, arguments, schema}, ...]`` matched in order: each entry takes the first call of
  its name, after the call the entry before took, whose arguments are JSON, hold every key of
  ``arguments`` with an equal value (JSON equality: ``1`` is ``1.0``, nested values compared whole)
  and validate against ``schema`` (Draft 2020-12). A call answered with an error may still match.
- ``before_final: true``: the first call of each ``called`` name and the call each ``calls`` entry
  took (with neither key: at least one call) came before the final answer.
- ``errors: false``: no call was answered with an error (arguments not JSON, schema broken, unknown
  function, tool failure).

The verdict lists the calls made, numbered; ``why`` names the first requirement unmet, and
``details["problems"]`` every one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.json.find import json_path
from pytest_gptoss.checkers.json.spec import check_json_data, check_schema
from pytest_gptoss.checkers.json.validate import json_equal, schema_problems
from pytest_gptoss.clipping import clip_line
from pytest_gptoss.tools import FUNCTIONS, describe_calls, tool_name
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "tool_calls"
KEYS = ("called", "not_called", "count", "min_calls", "max_calls", "order", "calls", "before_final", "errors")
CALL_KEYS = ("name", "arguments", "schema")
BOUND_KEYS = ("min", "max")
#: how much of a value or an error one ``why`` shows
SHOWN = 80


@dataclass(frozen=True, kw_only=True)
class Bounds:
    """How many calls are allowed: ``least`` to ``most`` (no upper bound when None)."""

    least: int
    most: int | None

    def holds(self, count: int) -> bool:
        return self.least <= count and (self.most is None or count <= self.most)

    def words(self) -> str:
        if self.most is None:
            return f"at least {self.least}"
        if self.least == self.most:
            return str(self.least)
        return f"at most {self.most}" if self.least == 0 else f"{self.least} to {self.most}"


@dataclass(frozen=True, kw_only=True)
class CallExpectation:
    """One entry of ``calls``: a call of ``name`` whose arguments hold ``arguments`` and fit ``schema``."""

    name: str
    arguments: dict[str, Any] | None  # None when the entry gives none; the same for schema
    schema: Any


@dataclass(frozen=True, kw_only=True)
class ToolCallsSpec:
    """A parsed ``tool_calls`` spec; names are bare (``lookup``, not ``functions.lookup``)."""

    called: tuple[str, ...]
    not_called: tuple[str, ...]
    no_calls: bool  # not_called: true
    count: dict[str, Bounds]
    total: Bounds | None  # min_calls and max_calls
    order: tuple[str, ...]
    calls: tuple[CallExpectation, ...]
    before_final: bool
    errors_allowed: bool


def parse(spec: Any) -> ToolCallsSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    spec = check_keys(spec, KEYS, name=NAME, usage=f"{NAME} takes a mapping of {', '.join(KEYS)} (at least one)")
    if spec.get("not_called") is False:
        raise SpecError("'not_called: false' asks nothing; give names, or true for no tool calls at all",
                        ("not_called",))
    no_calls = spec.get("not_called") is True
    parsed = ToolCallsSpec(
        called=_names(spec, "called"),
        not_called=() if no_calls else _names(spec, "not_called"),
        no_calls=no_calls,
        count=_count(spec["count"]) if "count" in spec else {},
        total=_bounds(spec, "min_calls", "max_calls", ()) if {"min_calls", "max_calls"} & spec.keys() else None,
        order=_names(spec, "order", single=False),
        calls=_expectations(spec["calls"]) if "calls" in spec else (),
        before_final=_flag(spec, "before_final", False),
        errors_allowed=_flag(spec, "errors", True),
    )
    if not (spec.keys() - {"before_final", "errors"} or parsed.before_final or not parsed.errors_allowed):
        raise SpecError(f"{NAME} asks nothing; give at least one of {', '.join(KEYS)} "
                        "(before_final: true or errors: false)")
    return parsed


def judge(spec: ToolCallsSpec, text: str) -> Verdict:
    """Pass when the exchange's calls meet every requirement of ``spec``."""
    calls, final = read_calls(text)
    names = [tool_name(call) for call in calls]
    verdict = functools.partial(Verdict, checker=NAME, expected=expectation(spec), found=describe_calls(calls))
    try:
        matched, unmatched = _matched(spec.calls, calls, names)
        problems = [
            *_counted(spec, names),
            *_ordered(spec.order, names),
            *([unmatched] if unmatched else []),
            *(_before_final(spec, calls, names, final, matched) if spec.before_final else ()),
            *(() if spec.errors_allowed else (
                f"call {i + 1} ({names[i]}) was answered with an error: {clip_line(str(call['error']), SHOWN)}"
                for i, call in enumerate(calls) if call.get("error"))),
        ]
    except _Unjudgeable as exc:
        return verdict(passed=False, why=str(exc), error=True)
    return verdict(passed=not problems, why=problems[0] if problems else "",
                   details={"calls": len(calls), "final_generation": final, "matched": [i + 1 for i in matched],
                            "problems": problems})


def unoffered(spec: ToolCallsSpec, offered: Sequence[str]) -> str | None:
    """What is wrong when ``spec`` names a tool the case does not offer (a typo, most often), or None."""
    named = [*spec.called, *spec.not_called, *spec.count, *spec.order, *(want.name for want in spec.calls)]
    missing = sorted(set(named) - set(offered), key=named.index)
    if not missing:
        return None
    offers = (f"it offers {_listed(offered, 'and')}" if offered
              else "it offers no tools (see tools: and builtin_tools:)")
    return f"{NAME} names {_listed([repr(name) for name in missing], 'and')}, which the case does not offer; {offers}"


def read_calls(text: str) -> tuple[list[dict[str, Any]], int | None]:
    """The calls and the final answer's generation that the channel holds; no calls for any other text."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return [], None
    calls = data.get("calls") if isinstance(data, dict) else None
    if not isinstance(calls, list) or not all(isinstance(call, dict) for call in calls):
        return [], None
    return calls, _generation(data.get("final_generation"))


def expectation(spec: ToolCallsSpec) -> str:
    """What ``spec`` asks, on one line."""
    parts = [f"{_listed(spec.called, 'and')} called"] if spec.called else []
    if spec.no_calls:
        parts.append("no tool calls")
    if spec.not_called:
        parts.append(f"{_listed(spec.not_called, 'or')} never called")
    parts += [f"{name} called {_times(bounds, 'time')}" for name, bounds in spec.count.items()]
    if spec.total:
        parts.append(f"{_times(spec.total, 'call')} in all")
    if spec.order:
        parts.append(f"calls in the order {' → '.join(spec.order)}")
    if spec.calls:
        parts.append("calls " + ", then ".join(_expected_call(want) for want in spec.calls))
    if spec.before_final:
        parts.append("made before the final answer")
    if not spec.errors_allowed:
        parts.append("none answered with an error")
    return clip_line("; ".join(parts), 400)


class _Unjudgeable(Exception):
    """The spec cannot be applied (a schema's $ref that resolves to nothing)."""


def _counted(spec: ToolCallsSpec, names: list[str]) -> Iterator[str]:
    """The problems of called, not_called, count, min_calls and max_calls."""
    yield from (f"{name} was never called" for name in spec.called if name not in names)
    if spec.no_calls and names:
        yield clip_line(f"expected no tool calls; {_made(len(names))} ({', '.join(names)})", 200)
    for name in spec.not_called:
        if name in names:
            yield f"{name} was called ({_call_numbers(_calls_of(name, names))}); expected it never to be"
    for name, bounds in spec.count.items():
        if not bounds.holds(names.count(name)):
            yield f"{name} {_was_called(names.count(name))}; expected {bounds.words()}"
    if spec.total and not spec.total.holds(len(names)):
        yield f"{_made(len(names))}; expected {spec.total.words()}"


def _ordered(order: Sequence[str], names: list[str]) -> Iterator[str]:
    start, previous = 0, -1
    for step, name in enumerate(order):
        found = next((i for i in range(start, len(names)) if names[i] == name), None)
        if found is not None:
            start, previous = found + 1, found
            continue
        made, needed = _calls_of(name, names), order.count(name)
        if not made:
            yield f"order: {name} was never called"
        elif len(made) < needed:
            yield f"order: {name} {_was_called(len(made))}; the order names it {needed} times"
        elif made[-1] != previous:
            yield f"order: {name} (call {made[-1] + 1}) came before {order[step - 1]} (call {previous + 1})"
        else:
            yield (f"order: no {name} call after {order[step - 1]} (call {previous + 1}); "
                   f"{name} was called as {_call_numbers(made)}")
        return


def _matched(
    expected: Sequence[CallExpectation], calls: list[dict[str, Any]], names: list[str]
) -> tuple[list[int], str]:
    """The index of the call each entry took, in order, and why the first entry that took none did not."""
    matched: list[int] = []
    for want in expected:
        start = matched[-1] + 1 if matched else 0
        misses: list[tuple[int, str]] = []
        for index in range(start, len(calls)):
            if names[index] != want.name:
                continue
            miss = _mismatch(want, calls[index])
            if miss is None:
                matched.append(index)
                break
            misses.append((index, miss))
        else:
            made = _calls_of(want.name, names)
            if misses:
                others = [index for index, _ in misses[1:]]
                either = f"; {_call_numbers(others)} ({want.name}) did not match either" if others else ""
                return matched, f"call {misses[0][0] + 1} ({want.name}): {misses[0][1]}{either}"
            if not matched or not made:
                return matched, f"{want.name} was never called"
            return matched, (f"no {want.name} call after call {matched[-1] + 1} ({names[matched[-1]]}); "
                             f"{want.name} was called as {_call_numbers(made)}")
    return matched, ""


def _mismatch(want: CallExpectation, call: Mapping[str, Any]) -> str | None:
    """Why ``call``'s arguments do not meet ``want``, or None when they do."""
    if want.arguments is None and want.schema is None:
        return None
    raw = call.get("arguments")
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        return f"arguments are not JSON ({exc.msg} at character {exc.pos}): {clip_line(str(raw), SHOWN)}"
    except RecursionError:
        return "arguments are nested too deeply to read"
    if want.arguments is not None:
        if not isinstance(arguments, dict):
            return f"arguments are {_show(arguments)}, not a JSON object"
        for key, value in want.arguments.items():
            if key not in arguments:
                return f"argument {key!r} is missing"
            if not json_equal(arguments[key], value):
                return f"argument {key!r} is {_show(arguments[key])}, expected {_show(value)}"
    if want.schema is not None:
        from referencing.exceptions import Unresolvable

        try:
            problems = schema_problems(want.schema, arguments)
        except RecursionError:
            return "arguments are nested too deeply to validate"
        except Unresolvable as exc:
            raise _Unjudgeable(f"the schema for {want.name} could not be applied: {clip_line(str(exc), 200)}") from None
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return f"arguments break the schema at {json_path(problems[0].path)}: {problems[0].message}{more}"
    return None


def _before_final(
    spec: ToolCallsSpec, calls: list[dict[str, Any]], names: list[str], final: int | None, matched: list[int]
) -> Iterator[str]:
    if final is None:
        yield "there was no final answer for the calls to come before"
        return
    made_in = [_generation(call.get("generation")) for call in calls]
    if not spec.called and not spec.calls:
        if not any(generation is not None and generation < final for generation in made_in):
            yield f"no tool was called before the final answer (it came from generation {final})"
        return
    firsts = {names.index(name) for name in spec.called if name in names}
    for index in sorted(firsts | set(matched)):
        generation = made_in[index]
        if generation is None or generation >= final:
            when = "its generation is unknown" if generation is None else f"it was made in generation {generation}"
            yield (f"call {index + 1} ({names[index]}) came after the final answer ({when}; "
                   f"the final answer came from generation {final})")


def _generation(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _names(spec: Mapping[str, Any], key: str, single: bool = True) -> tuple[str, ...]:
    """The tool names under ``key``: a name (when ``single``) or a non-empty list of names."""
    if key not in spec:
        return ()
    raw = spec[key]
    if single and isinstance(raw, str):
        items: list[Any] = [raw]
        paths: list[tuple[str | int, ...]] = [(key,)]
    elif isinstance(raw, list) and raw:
        items, paths = raw, [(key, index) for index in range(len(raw))]
    else:
        usage = "a tool name or a non-empty list of them" if single else "a non-empty list of tool names"
        raise SpecError(f"'{key}' takes {usage}, not {_show(raw)}", (key,))
    return tuple(_name(name, path) for name, path in zip(items, paths))


def _name(name: Any, path: tuple[str | int, ...]) -> str:
    if not isinstance(name, str) or not name.removeprefix(FUNCTIONS):
        raise SpecError(f"a tool name is a non-empty string, not {_show(name)}", path)
    return name.removeprefix(FUNCTIONS)


def _count(raw: Any) -> dict[str, Bounds]:
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError("'count' takes a non-empty mapping {name: n} or {name: {min: n, max: m}}", ("count",))
    counts: dict[str, Bounds] = {}
    for key, value in raw.items():
        path: tuple[str | int, ...] = ("count", key)
        name = _name(key, path)
        if name in counts:
            raise SpecError(f"{name} is counted twice", path)
        if not isinstance(value, Mapping):
            counts[name] = Bounds(least=_whole(value, path), most=_whole(value, path))
            continue
        try:
            check_keys(value, BOUND_KEYS, name="a count", usage="")
        except SpecError as exc:
            raise exc.prefixed(*path) from None
        if not value:
            raise SpecError("a count's bounds need 'min', 'max' or both", path)
        counts[name] = _bounds(value, "min", "max", path)
    return counts


def _bounds(spec: Mapping[str, Any], least_key: str, most_key: str, path: tuple[str | int, ...]) -> Bounds:
    least = _whole(spec.get(least_key, 0), (*path, least_key))
    most = _whole(spec[most_key], (*path, most_key)) if most_key in spec else None
    if most is not None and least > most:
        raise SpecError(f"'{least_key}' ({least}) is more than '{most_key}' ({most})", path or (least_key,))
    return Bounds(least=least, most=most)


def _expectations(raw: Any) -> tuple[CallExpectation, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError("'calls' takes a non-empty list of {name, arguments, schema}", ("calls",))
    expected = []
    for index, entry in enumerate(raw):
        try:
            entry = check_keys(entry, CALL_KEYS, name="a calls entry", usage="a calls entry is a mapping "
                               "{name, arguments, schema}")
            if "name" not in entry:
                raise SpecError("'name' is required: the name of the tool called", ("name",))
            arguments = entry.get("arguments")
            if "arguments" in entry and not isinstance(arguments, Mapping):
                raise SpecError(f"'arguments' takes a mapping {{argument: value}}, not {_show(arguments)}",
                                ("arguments",))
            check_json_data(arguments, ("arguments",))
            if "schema" in entry:
                check_schema(entry["schema"])
            expected.append(CallExpectation(name=_name(entry["name"], ("name",)), schema=entry.get("schema"),
                                            arguments=None if arguments is None else dict(arguments)))
        except SpecError as exc:
            raise exc.prefixed("calls", index) from None
    return tuple(expected)


def _whole(value: Any, path: tuple[str | int, ...]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SpecError(f"a count is a whole number, 0 or more, not {_show(value)}", path)
    return value


def _flag(spec: Mapping[str, Any], key: str, default: bool) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"'{key}' is true or false, not {_show(value)}", (key,))
    return value


def _show(value: Any) -> str:
    return clip_line(repr(value), SHOWN)


def _listed(names: Sequence[str], joint: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joint} {names[-1]}"


def _calls_of(name: str, names: list[str]) -> list[int]:
    return [index for index, called in enumerate(names) if called == name]


def _call_numbers(indexes: Sequence[int]) -> str:
    return f"call{'s' if len(indexes) > 1 else ''} {', '.join(str(i + 1) for i in indexes)}"


def _was_called(count: int) -> str:
    return {0: "was never called", 1: "was called once"}.get(count, f"was called {count} times")


def _made(count: int) -> str:
    return {0: "no tool calls were made", 1: "1 tool call was made"}.get(count, f"{count} tool calls were made")


def _times(bounds: Bounds, noun: str) -> str:
    """``bounds`` with its noun: ``1 call``, ``at most 1 call``, ``1 to 3 calls``."""
    one = bounds.most == 1 or (bounds.most is None and bounds.least == 1)
    return f"{bounds.words()} {noun}{'' if one else 's'}"


def _expected_call(want: CallExpectation) -> str:
    held = ", ".join(f"{key}={_show(value)}" for key, value in (want.arguments or {}).items())
    return f"{want.name}({held})" + (" fitting its schema" if want.schema is not None else "")


CHECKER = Checker(name=NAME, parse=parse, judge=judge, reads="tool_calls")
