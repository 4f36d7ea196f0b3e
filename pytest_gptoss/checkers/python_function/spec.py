"""The ``python_function`` spec: read once, at collection, into a :class:`PythonFunctionSpec`.

The reference is parsed and must define its function; the strategies are
checked (Hypothesis itself is imported only when inputs are drawn), examples
must be plain data, and defaults are applied. Every problem is a
:class:`SpecError` with the bad field's path.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, sandbox_limits
from pytest_gptoss.checkers.python_function.strategies import Args, Strategy, check_value, parse_strategy
from pytest_gptoss.verdict import SpecError, check_keys

KEYS = ("function", "reference", "reference_name", "strategy", "examples", "max_examples", "timeout", "memory_mb")
DEFAULT_MAX_EXAMPLES = 100
MAX_MAX_EXAMPLES = 10_000

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, kw_only=True)
class PythonFunctionSpec:
    """A parsed ``python_function`` spec, defaults applied."""

    function: str
    reference: str  # Python source that parses and defines reference_name
    reference_name: str
    strategies: tuple[Strategy, ...] | None  # one per argument; None when the spec has no 'strategy'
    examples: tuple[Args, ...] = ()
    max_examples: int = DEFAULT_MAX_EXAMPLES
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB


def parse(spec: Any) -> PythonFunctionSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    spec = check_keys(spec, KEYS, name="python_function",
                      usage="'python_function' takes a mapping with 'function', 'reference' and 'strategy' or "
                            "'examples'")
    for name in ("function", "reference"):
        if name not in spec:
            raise SpecError(f"'{name}' is required")
    for name in ("function", "reference_name"):
        if name in spec and (not isinstance(spec[name], str) or not _IDENTIFIER.fullmatch(spec[name])):
            raise SpecError(f"'{name}' must be a Python identifier", (name,))
    reference = spec["reference"]
    if not isinstance(reference, str) or not reference.strip():
        raise SpecError("'reference' must be Python source text", ("reference",))
    try:
        tree = ast.parse(reference)
    except SyntaxError as exc:
        raise SpecError(f"the reference does not parse: {exc.msg} (line {exc.lineno})", ("reference",)) from None
    reference_name = spec.get("reference_name", spec["function"])
    if not defines(tree, reference_name):
        raise SpecError(f"the reference does not define {reference_name}", ("reference",))
    strategies = _strategies(spec["strategy"]) if "strategy" in spec else None
    examples = _examples(spec["examples"]) if "examples" in spec else ()
    count = spec.get("max_examples", DEFAULT_MAX_EXAMPLES)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_MAX_EXAMPLES:
        raise SpecError(f"'max_examples' must be a whole number from 0 to {MAX_MAX_EXAMPLES}", ("max_examples",))
    if not examples and (strategies is None or count == 0):
        raise SpecError("nothing to try: give 'strategy' (and max_examples above 0) or 'examples'")
    timeout, memory = sandbox_limits(spec)
    return PythonFunctionSpec(
        function=spec["function"], reference=reference, reference_name=reference_name, strategies=strategies,
        examples=examples, max_examples=count, timeout=timeout, memory_mb=memory,
    )


def defines(tree: ast.AST, name: str) -> bool:
    """Whether the module ``tree`` binds ``name`` anywhere: a def, a class, an assignment or an import."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name) == name for alias in node.names
        ):
            return True
    return False


def _strategies(raw: Any) -> tuple[Strategy, ...]:
    if not isinstance(raw, Mapping) or set(raw) != {"args"} or not isinstance(raw["args"], list):
        raise SpecError("'strategy' takes a mapping {args: [...]}, one strategy per argument", ("strategy",))
    return tuple(parse_strategy(s, ("strategy", "args", i)) for i, s in enumerate(raw["args"]))


def _examples(raw: Any) -> tuple[Args, ...]:
    if not isinstance(raw, list):
        raise SpecError("'examples' takes a list of argument lists, e.g. [[0], [10]]", ("examples",))
    for i, example in enumerate(raw):
        if not isinstance(example, list):
            raise SpecError("each example is a list of arguments, e.g. [10]", ("examples", i))
        for j, value in enumerate(example):
            check_value(value, ("examples", i, j))
    return tuple(tuple(example) for example in raw)
