"""A case's tools, read once at collection: ``tools``, ``builtin_tools`` and ``max_tool_calls``.

A function tool has a ``name``, a ``description``, ``parameters`` (a JSON
Schema for its argument object) and exactly one way to answer:

``result``
    the same answer to every call (any JSON value; a string is sent as it is);
``results``
    a list of ``{arguments: {...}, result: ...}``, the first whose arguments
    all match answering (a value matches when equal, or when it is written
    ``{regex: PATTERN}`` and the argument, as text, matches it whole); an
    entry ``{default: ...}`` answers when none matches;
``python``
    the body of a function whose parameters are the schema's properties,
    run in the sandbox for each call; its return value (JSON) is the answer.
    ``timeout`` and ``memory_mb`` bound each run.

``builtin_tools: [python]`` offers gpt-oss's own python tool (or
``builtin_tools: {python: {timeout: 10, memory_mb: 512}}`` with limits).
Every problem is a :class:`SpecError` whose path points at the bad field.
"""

from __future__ import annotations

import json
import keyword
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.json.spec import check_json_data, check_schema
from pytest_gptoss.checkers.json.validate import json_equal
from pytest_gptoss.checkers.limits import sandbox_limits
from pytest_gptoss.harmony import Tool
from pytest_gptoss.verdict import SpecError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TOOL_KEYS = ("name", "description", "parameters", "result", "results", "python", "timeout", "memory_mb")
ANSWERS = ("result", "results", "python")
BUILTINS = ("python",)
DEFAULT_MAX_TOOL_CALLS = 8
NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Pattern:
    """An argument value written ``{regex: ...}``: matches the argument's text whole."""

    regex: re.Pattern[str]

    def matches(self, value: Any) -> bool:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return self.regex.fullmatch(text) is not None


@dataclass(frozen=True, kw_only=True)
class Choice:
    """One entry of ``results``: the arguments it answers (all of them must match), and its answer."""

    arguments: Mapping[str, Any]
    result: Any

    def matches(self, given: Mapping[str, Any]) -> bool:
        return all(key in given and _value_matches(want, given[key]) for key, want in self.arguments.items())


@dataclass(frozen=True, kw_only=True)
class FunctionTool:
    """One function a case declares, and how it answers."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    #: ``("result", value)``, ``("results", (choices, default))`` or ``("python", body)``
    answer: tuple[str, Any]
    timeout: float
    memory_mb: int

    def describe(self) -> Tool:
        """The tool as the prompt describes it."""
        return Tool(self.name, self.description, self.parameters)


@dataclass(frozen=True, kw_only=True)
class PythonTool:
    """gpt-oss's python tool: each call's code runs in a fresh sandbox."""

    timeout: float
    memory_mb: int


@dataclass(frozen=True, kw_only=True)
class Toolbox:
    """What a case offers the model, and how many calls it answers."""

    functions: tuple[FunctionTool, ...]
    python: PythonTool | None
    max_calls: int

    def function(self, name: str) -> FunctionTool | None:
        return next((tool for tool in self.functions if tool.name == name), None)

    @property
    def builtin_names(self) -> tuple[str, ...]:
        return ("python",) if self.python is not None else ()

    def offered(self) -> list[str]:
        """The tools by the names a case gives them: each function's name, then ``python``."""
        return [tool.name for tool in self.functions] + list(self.builtin_names)

    def names(self) -> list[str]:
        """Every recipient a call may name: ``functions.x`` for each function, ``python``."""
        return [f"functions.{tool.name}" for tool in self.functions] + list(self.builtin_names)


#: what ``results`` has for a default when it gives none
NO_DEFAULT: Any = object()


def parse_toolbox(tools: Any, builtin: Any, max_calls: Any) -> Toolbox | None:
    """The case's toolbox, None where it declares no tools; :class:`SpecError` with a path under the case."""
    if tools is None and builtin is None:
        if max_calls is not None:
            raise SpecError("max_tool_calls limits tool calls, but the case declares no 'tools' or 'builtin_tools'",
                            ("max_tool_calls",))
        return None
    functions = _functions(tools) if tools is not None else ()
    python = _builtin(builtin) if builtin is not None else None
    if python is not None and any(tool.name == "python" for tool in functions):
        raise SpecError("a function named 'python' would read as the python tool in the checks; rename it",
                        ("tools", next(i for i, t in enumerate(functions) if t.name == "python"), "name"))
    if max_calls is None:
        max_calls = DEFAULT_MAX_TOOL_CALLS
    elif isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise SpecError(f"{max_calls!r}; use a positive integer (default {DEFAULT_MAX_TOOL_CALLS})",
                        ("max_tool_calls",))
    return Toolbox(functions=functions, python=python, max_calls=max_calls)


def _functions(tools: Any) -> tuple[FunctionTool, ...]:
    if not isinstance(tools, list) or not tools:
        raise SpecError("use a non-empty list of functions, each with name, description, parameters and one of "
                        "result, results or python", ("tools",))
    parsed: list[FunctionTool] = []
    for index, raw in enumerate(tools):
        try:
            tool = _function(raw)
        except SpecError as exc:
            raise exc.prefixed("tools", index) from None
        if any(other.name == tool.name for other in parsed):
            raise SpecError(f"a second function named '{tool.name}'", ("tools", index, "name"))
        parsed.append(tool)
    return tuple(parsed)


def _function(raw: Any) -> FunctionTool:
    if not isinstance(raw, Mapping):
        raise SpecError("each function is a mapping with name, description, parameters and how it answers")
    for key in raw:
        if key not in TOOL_KEYS:
            raise SpecError(f"unknown key {key!r}; a function takes {', '.join(TOOL_KEYS)}", (key,))
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError(f"{name!r}; a function's name is letters, digits and underscores, not starting with a "
                        "digit", ("name",))
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SpecError("use a string: what the function does, as the model will read it", ("description",))
    parameters = raw.get("parameters", NO_PARAMETERS)
    _check_parameters(parameters)
    given = [key for key in ANSWERS if key in raw]
    if len(given) != 1:
        said = f"it gives {' and '.join(given)}" if given else "it gives none"
        raise SpecError(f"a function answers through exactly one of result, results or python; {said}",
                        (given[1],) if len(given) > 1 else ())
    how = given[0]
    if how == "python":
        answer: tuple[str, Any] = ("python", _body(raw["python"], parameters))
    elif how == "results":
        answer = ("results", _results(raw["results"]))
    else:
        check_json_data(raw["result"], ("result",))
        answer = ("result", raw["result"])
    if how != "python":
        for key in ("timeout", "memory_mb"):
            if key in raw:
                raise SpecError(f"'{key}' bounds a 'python' function's runs; this one answers with '{how}'", (key,))
    timeout, memory_mb = sandbox_limits(raw)
    return FunctionTool(name=name, description=description, parameters=dict(parameters), answer=answer,
                        timeout=timeout, memory_mb=memory_mb)


def _check_parameters(parameters: Any) -> None:
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise SpecError("'parameters' is a JSON Schema of the argument object: a mapping with type: object and "
                        "properties", ("parameters",))
    properties = parameters.get("properties", {})
    if not isinstance(properties, Mapping):
        raise SpecError("'properties' maps each argument's name to its schema", ("parameters", "properties"))
    check_schema(parameters, ("parameters",))


def _body(body: Any, parameters: Mapping[str, Any]) -> str:
    if not isinstance(body, str) or not body.strip():
        raise SpecError("use the body of a Python function (a string) whose parameters are the schema's "
                        "properties, returning the answer", ("python",))
    for name in parameters.get("properties", {}):
        if not NAME.match(name) or keyword.iskeyword(name):
            raise SpecError(f"argument {name!r} cannot be a Python parameter; a 'python' function's arguments "
                            "are identifiers", ("parameters", "properties", name))
    try:
        compile(wrapped_body(body, list(parameters.get("properties", {}))), "<tool>", "exec")
    except SyntaxError as exc:
        raise SpecError(f"not valid Python: {exc.msg} (line {max((exc.lineno or 2) - 1, 1)} of the body)",
                        ("python",)) from None
    return textwrap.dedent(body)


def wrapped_body(body: str, names: list[str]) -> str:
    """The function a ``python`` tool's body is the inside of: every argument a keyword, None when not given."""
    signature = ", ".join(f"{name}=None" for name in names)
    return f"def tool({signature}):\n" + textwrap.indent(textwrap.dedent(body), "    ")


def _results(results: Any) -> tuple[tuple[Choice, ...], Any]:
    if not isinstance(results, list) or not results:
        raise SpecError("use a list of {arguments: {...}, result: ...} entries, and optionally {default: ...}",
                        ("results",))
    choices: list[Choice] = []
    default: Any = NO_DEFAULT
    for index, entry in enumerate(results):
        at = ("results", index)
        if isinstance(entry, Mapping) and set(entry) == {"default"}:
            if default is not NO_DEFAULT:
                raise SpecError("a second default", at)
            check_json_data(entry["default"], (*at, "default"))
            default = entry["default"]
            continue
        if not isinstance(entry, Mapping) or set(entry) != {"arguments", "result"}:
            raise SpecError("each entry is {arguments: {...}, result: ...}, or {default: ...}", at)
        arguments = entry["arguments"]
        if not isinstance(arguments, Mapping) or not arguments:
            raise SpecError("the arguments this entry answers: a mapping of argument name to its value or "
                            "{regex: ...}", (*at, "arguments"))
        matched = {str(key): _matcher(value, (*at, "arguments", key)) for key, value in arguments.items()}
        check_json_data(entry["result"], (*at, "result"))
        choices.append(Choice(arguments=matched, result=entry["result"]))
    if not choices:
        raise SpecError("results needs at least one {arguments, result} entry beside the default", ("results",))
    return tuple(choices), default


def _matcher(value: Any, at: tuple[str | int, ...]) -> Any:
    if isinstance(value, Mapping) and set(value) == {"regex"}:
        try:
            return Pattern(re.compile(str(value["regex"])))
        except re.error as exc:
            raise SpecError(f"not a valid regex: {exc}", (*at, "regex")) from None
    check_json_data(value, at)
    return value


def _value_matches(want: Any, value: Any) -> bool:
    if isinstance(want, Pattern):
        return want.matches(value)
    return json_equal(want, value)


def _builtin(builtin: Any) -> PythonTool:
    if isinstance(builtin, str):
        builtin = [builtin]
    if isinstance(builtin, list):
        unknown = [name for name in builtin if name not in BUILTINS]
        if unknown or not builtin:
            raise SpecError(f"{unknown[0]!r} is no built-in tool; the one there is: python" if unknown
                            else "name the built-in tools: [python]", ("builtin_tools",))
        limits: Any = {}
    elif isinstance(builtin, Mapping) and set(builtin) == {"python"}:
        limits = builtin["python"] or {}
        if not isinstance(limits, Mapping) or set(limits) - {"timeout", "memory_mb"}:
            raise SpecError("the python tool takes timeout and memory_mb", ("builtin_tools", "python"))
    else:
        raise SpecError("use [python], or {python: {timeout: SECONDS, memory_mb: MIB}}", ("builtin_tools",))
    try:
        timeout, memory_mb = sandbox_limits(limits)
    except SpecError as exc:
        raise exc.prefixed("builtin_tools", "python") from None
    return PythonTool(timeout=timeout, memory_mb=memory_mb)
