"""Load and validate case files (``cases/*.yaml``).

Every problem is reported as ``file:line: case 'id': field 'a.b': what is wrong``,
with the line of the offending YAML node, so a user can jump straight to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_gptoss import checkers
from pytest_gptoss.checkers.registry import Registry
from pytest_gptoss.checkers.tool_calls import ToolCallsSpec, unoffered
from pytest_gptoss.harmony import REASONING_EFFORTS
from pytest_gptoss.tools.spec import Toolbox, parse_toolbox
from pytest_gptoss.verdict import SpecError

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
ROLES = ("system", "developer", "user", "assistant")
CASE_FIELDS = (
    "id", "prompt", "messages", "category", "context_files", "reasoning", "max_tokens",
    "samples", "min_pass_rate", "xfail", "tags", "check", "tools", "builtin_tools", "max_tool_calls",
)
TOP_LEVEL_FIELDS = ("defaults", "cases")
TAG_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Path_ = tuple[str | int, ...]


class CaseLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so ``on: analysis`` keeps its key and ``no`` stays a word."""


CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CaseLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str) -> Any:
    """Parse YAML the way case files are parsed."""
    return yaml.load(text, Loader=CaseLoader)  # noqa: S506 - CaseLoader is a SafeLoader


@dataclass(frozen=True)
class Case:
    """One validated case, ready to become pytest items."""

    id: str
    file: str
    line: int
    messages: tuple[tuple[str, str], ...]
    #: the case's check, every checker's spec parsed
    check: checkers.Check
    category: str | None = None
    reasoning: str | None = None
    max_tokens: int | None = None
    samples: int | None = None
    min_pass_rate: float | None = None
    xfail: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    #: the functions and built-in tools it offers the model, and how many calls it answers; None: no tools
    toolbox: Toolbox | None = None


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CaseFileError(Exception):
    """A case file holds one or more problems; each is one line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


#: how many folders up from where pytest ran a hint looks for the case files
HINT_LEVELS = 3


def nearest_cases(start: Path) -> Path | None:
    """The ``cases`` folder with case files nearest above ``start`` (or beside a folder above it)."""
    for folder in [start, *start.parents][: HINT_LEVELS + 1]:
        for candidate in (folder, folder / "cases"):
            if candidate.name == "cases" and candidate.is_dir() and any(
                    path.suffix in (".yaml", ".yml") for path in candidate.iterdir()):
                return candidate
    return None


def load_file(path: Path, display: str | None = None, registry: Registry | None = None) -> list[Case]:
    """Read and validate one case file; raise :class:`CaseFileError` listing every problem.

    ``registry`` holds the checkers its cases can name (by default the installed ones).
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError([Problem(name, 1, f"cannot read the file: {exc}")]) from None
    try:
        loader = CaseLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError([Problem(name, line, f"not valid YAML: {problem}")]) from None
    lines = _NodeLines(node)
    problems = list(lines.duplicate_keys(name))
    cases = _Validator(path, name, lines, problems, registry or Registry()).file(data)
    if problems:
        raise CaseFileError(problems)
    return cases


class _NodeLines:
    """Maps a path of keys/indexes inside the document to its YAML line."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._lines: dict[Path_, int] = {}
        self._duplicates: list[tuple[Path_, int]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self._lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    self._duplicates.append((path + (key,), key_node.start_mark.line + 1))
                seen.add(key)
                self._walk(value_node, path + (key,))
                self._lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, path + (index,))

    def line(self, path: Path_) -> int:
        while path and path not in self._lines:
            path = path[:-1]
        return self._lines.get(path, 1)

    def duplicate_keys(self, name: str) -> list[Problem]:
        return [
            Problem(name, line, f"field '{_dotted(path)}': key '{path[-1]}' appears twice")
            for path, line in self._duplicates
        ]


class _Validator:
    def __init__(self, path: Path, name: str, lines: _NodeLines, problems: list[Problem], registry: Registry) -> None:
        self.path = path
        self.registry = registry
        self.name = name
        self.lines = lines
        self.problems = problems

    def problem(self, at: Path_, message: str, case_id: str | None = None) -> None:
        prefix = f"case '{case_id}': " if case_id else ""
        self.problems.append(Problem(self.name, self.lines.line(at), prefix + message))

    def file(self, data: Any) -> list[Case]:
        if not isinstance(data, Mapping):
            self.problem((), "a case file is a mapping with 'cases:' (a list) and optional 'defaults:'")
            return []
        for key in data:
            if key not in TOP_LEVEL_FIELDS:
                self.problem((key,), f"field '{key}': unknown top-level field; expected one of "
                             f"{', '.join(TOP_LEVEL_FIELDS)}")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            self.problem(("defaults",), "field 'defaults': must be a mapping of case fields")
            defaults = {}
        for key in defaults:
            if key == "id" or key not in CASE_FIELDS:
                self.problem(("defaults", key), f"field 'defaults.{key}': not a field a default "
                             "can set")
        raw_cases = data.get("cases")
        if not isinstance(raw_cases, list) or not raw_cases:
            self.problem(("cases",), "field 'cases': must be a non-empty list of cases")
            return []
        cases = []
        for index, raw in enumerate(raw_cases):
            case = self.case(index, raw, defaults)
            if case is not None:
                cases.append(case)
        return cases

    def case(self, index: int, raw: Any, defaults: Mapping[str, Any]) -> Case | None:
        at: Path_ = ("cases", index)
        if not isinstance(raw, Mapping):
            self.problem(at, f"field 'cases.{index}': each case is a mapping with id, prompt and check")
            return None
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not ID_PATTERN.match(case_id):
            shown = f"'{case_id}'" if case_id is not None else "missing"
            self.problem(at + ("id",), f"field 'id': {shown}; an id is required and matches "
                         "[a-z0-9][a-z0-9-]*")
            return None
        before = len(self.problems)

        def bad(key: str | Path_, message: str) -> None:
            sub = (key,) if isinstance(key, str) else key
            if sub[0] in raw:
                where = at + sub
            elif sub[0] in defaults:
                where = ("defaults",) + sub
            else:  # a missing field: point at the case
                where = at
            self.problem(where, f"field '{_dotted(sub)}': {message}", case_id)

        for key in raw:
            if key not in CASE_FIELDS:
                bad(key, f"unknown field; known fields: {', '.join(CASE_FIELDS)}")
        merged = {**defaults, **raw}

        messages = self.messages(merged, bad)
        context = merged.get("context_files") or []
        if messages and context:
            messages = self.with_context(messages, context, bad)

        raw_check, check = merged.get("check"), None
        if raw_check is None:
            bad("check", "missing; every case needs a checker (numeric, text, sql, code, ...)")
        else:
            try:
                check = checkers.parse(raw_check, self.registry)
            except SpecError as exc:
                bad(("check",) + exc.path, exc.message)

        toolbox = None
        try:
            toolbox = parse_toolbox(merged.get("tools"), merged.get("builtin_tools"), merged.get("max_tool_calls"))
        except SpecError as exc:
            bad(exc.path or ("tools",), exc.message)
        else:
            problem = _unoffered_tools(check, toolbox)
            if problem:
                bad("check", problem)

        reasoning = merged.get("reasoning")
        if reasoning is not None and reasoning not in REASONING_EFFORTS:
            bad("reasoning", f"'{reasoning}'; use one of {', '.join(REASONING_EFFORTS)}")
        max_tokens = _positive_int(merged, "max_tokens", bad)
        samples = _positive_int(merged, "samples", bad)
        min_pass_rate = merged.get("min_pass_rate")
        if min_pass_rate is not None and (
            isinstance(min_pass_rate, bool)
            or not isinstance(min_pass_rate, (int, float))
            or not 0 <= min_pass_rate <= 1
        ):
            bad("min_pass_rate", f"{min_pass_rate!r}; use a number from 0 to 1")
        xfail = merged.get("xfail") or {}
        if not isinstance(xfail, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in xfail.items()
        ):
            bad("xfail", "use a mapping of model spec ('20b', 'tiny', '*') to a reason")
            xfail = {}
        tags = merged.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not all(
            isinstance(t, str) and TAG_PATTERN.match(t) for t in tags
        ):
            bad("tags", "use a list of marker names (letters, digits, underscores)")
            tags = []
        category = merged.get("category")
        if category is not None and not isinstance(category, str):
            bad("category", "use a string")
        if len(self.problems) > before or not messages or check is None:
            return None
        return Case(
            id=case_id,
            file=self.name,
            line=self.lines.line(at),
            messages=tuple(messages),
            check=check,
            category=category,
            reasoning=reasoning,
            max_tokens=max_tokens,
            samples=samples,
            min_pass_rate=float(min_pass_rate) if min_pass_rate is not None else None,
            xfail=dict(xfail),
            tags=tuple(tags),
            toolbox=toolbox,
        )

    def messages(self, merged: Mapping[str, Any], bad: Any) -> list[tuple[str, str]]:
        prompt, messages = merged.get("prompt"), merged.get("messages")
        if (prompt is None) == (messages is None):
            bad("prompt", "give exactly one of 'prompt' (a string) or 'messages' (a list)")
            return []
        if prompt is not None:
            if not isinstance(prompt, str) or not prompt.strip():
                bad("prompt", "must be a non-empty string")
                return []
            return [("user", prompt)]
        if not isinstance(messages, list) or not messages:
            bad("messages", "must be a non-empty list of {role, content}")
            return []
        result = []
        for index, message in enumerate(messages):
            if not isinstance(message, Mapping) or set(message) != {"role", "content"}:
                bad(("messages", index), "each message is a mapping with exactly 'role' and 'content'")
                continue
            if message["role"] not in ROLES:
                bad(("messages", index, "role"), f"'{message['role']}'; use one of {', '.join(ROLES)}")
                continue
            if not isinstance(message["content"], str):
                bad(("messages", index, "content"), "must be a string")
                continue
            result.append((message["role"], message["content"]))
        if result and result[-1][0] != "user":
            bad(("messages", len(messages) - 1), "the last message must be the user's")
        return result

    def with_context(
        self, messages: list[tuple[str, str]], context: Any, bad: Any
    ) -> list[tuple[str, str]]:
        if isinstance(context, str):
            context = [context]
        if not isinstance(context, list) or not all(isinstance(c, str) for c in context):
            bad("context_files", "use a list of paths relative to the case file")
            return messages
        documents = []
        for index, relative in enumerate(context):
            document = self.path.parent / relative
            try:
                documents.append(f"<document name=\"{relative}\">\n"
                                 f"{document.read_text(encoding='utf-8').strip()}\n</document>")
            except (OSError, UnicodeDecodeError) as exc:
                bad(("context_files", index), f"cannot read '{relative}': {exc.__class__.__name__}")
        role, content = messages[-1]
        return messages[:-1] + [(role, "\n\n".join(documents + [content]))]


def _positive_int(merged: Mapping[str, Any], key: str, bad: Any) -> int | None:
    value = merged.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        bad(key, f"{value!r}; use a positive integer")
        return None
    return value


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _unoffered_tools(check: checkers.Check | None, toolbox: Toolbox | None) -> str | None:
    """A ``tool_calls`` check that names a tool the case does not offer, said in one line; None otherwise."""
    offered = toolbox.offered() if toolbox is not None else []
    for part in checkers.judges(check) if check is not None else ():
        if isinstance(part.spec, ToolCallsSpec):
            problem = unoffered(part.spec, offered)
            if problem:
                return problem
    return None
