"""The ``python_function`` checker: call the answer's function against a reference on many inputs.

Spec keys:

``function`` (required)
    The name of the function the answer must define.
``reference`` (required)
    Python source that defines the reference function (named ``function``,
    or ``reference_name``).
``reference_name``
    The reference function's name, when it differs from ``function``.
``strategy``
    How to generate the arguments: ``{args: [S, ...]}``, one strategy per
    positional argument. A strategy is a name (``integers``, ``floats``,
    ``text``, ``booleans``) or a one-key mapping::

        integers: {min_value: 0, max_value: 30}        # both optional
        floats: {min_value: -1.0, max_value: 1.0, allow_nan: false, allow_infinity: false}
        text: {alphabet: "abc", min_size: 0, max_size: 10}
        lists: {of: S, min_size: 0, max_size: 10, unique: false}
        tuples: [S, S, ...]
        booleans: {}
        sampled_from: [value, ...]

``examples``
    Argument lists always tried first, e.g. ``[[0], [1], [10]]``.
``max_examples``
    How many inputs to generate (default 100; fewer when the strategy has
    fewer distinct values).
``timeout``
    Wall-clock seconds for one run over all the inputs (default 10).
``memory_mb``
    Address-space limit in MiB (default 1024).

Inputs are generated here with Hypothesis (deterministically) and sent as
data to one sandboxed child process, which computes every reference result
first, then runs the answer's code and calls its function on each input
(arguments are rebuilt for every call, so mutating them changes nothing).
Return values agree when they are equal and of the same type, except that
ints and floats compare as numbers: ints exactly, however large, and with a
relative tolerance of 1e-9 once a float is involved (NaN equals NaN); a bool
only equals a bool. Where the reference raises, the answer must raise an
exception of the same type (the message may differ). A failing input is shrunk (a few sandboxed rounds
of simpler inputs that the strategy allows); the verdict shows the smallest
one found, what the reference returns and what the answer did.

The code taken from the answer is chosen as the ``code`` checker chooses it;
when that block does not define the function, the last other block that does
is taken instead (an answer often ends with a usage example). The answer's
``if __name__ == "__main__":`` part does not run.

A reference that does not parse or define its function is a spec error; one
that fails or hangs when run is an error. A sandbox that cannot start is an
error.
"""

from __future__ import annotations

import ast
import json
import math
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.clipping import clip
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

if TYPE_CHECKING:
    from pytest_gptoss.checkers.code import CodeBlock

NAME = "python_function"
KEYS = ("function", "reference", "reference_name", "strategy", "examples", "max_examples", "timeout", "memory_mb")
DEFAULT_MAX_EXAMPLES = 100
MAX_MAX_EXAMPLES = 10_000
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 3600.0
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 32
SHRINK_ROUNDS = 25
SHRINK_SECONDS = 15.0
SHRINK_CANDIDATES = 60  # per round
SHOWN_WIDTH = 200

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- argument strategies ----------------------------------------------------------


class _Strategy:
    """One argument strategy: builds the Hypothesis strategy and proposes simpler values."""

    def build(self, st: Any) -> Any:
        raise NotImplementedError

    def shrinks(self, value: Any) -> Iterator[Any]:
        """Simpler values the strategy could also produce (maybe none)."""
        return iter(())


@dataclass(frozen=True)
class _Integers(_Strategy):
    min_value: int | None = None
    max_value: int | None = None

    def build(self, st: Any) -> Any:
        return st.integers(self.min_value, self.max_value)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if isinstance(value, bool) or not isinstance(value, int):
            return
        target = _clamp(0, self.min_value, self.max_value)
        if value == target:
            return
        candidates = [target, target + (value - target) // 2, value - 1 if value > target else value + 1]
        if value < 0:
            candidates.insert(1, -value)
        yield from _fresh(value, (c for c in candidates if self._allows(c)))

    def _allows(self, value: int) -> bool:
        return _clamp(value, self.min_value, self.max_value) == value


@dataclass(frozen=True)
class _Floats(_Strategy):
    min_value: float | None = None
    max_value: float | None = None
    allow_nan: bool = False
    allow_infinity: bool = False

    def build(self, st: Any) -> Any:
        bounded = self.min_value is not None and self.max_value is not None
        return st.floats(
            self.min_value, self.max_value, allow_nan=self.allow_nan,
            allow_infinity=None if bounded else self.allow_infinity,
        )

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, float):
            return
        target = float(_clamp(0.0, self.min_value, self.max_value))
        candidates = [target]
        if math.isfinite(value):
            candidates += [-value, float(math.trunc(value)), round(value, 1), round(value, 3), value / 2]
        yield from _fresh(value, (c for c in candidates if self._allows(c)))

    def _allows(self, value: float) -> bool:
        return _clamp(value, self.min_value, self.max_value) == value


@dataclass(frozen=True)
class _Text(_Strategy):
    alphabet: str | None = None
    min_size: int = 0
    max_size: int | None = None

    def build(self, st: Any) -> Any:
        if self.alphabet is None:
            return st.text(min_size=self.min_size, max_size=self.max_size)
        return st.text(alphabet=self.alphabet, min_size=self.min_size, max_size=self.max_size)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, str):
            return
        simplest = self.alphabet[0] if self.alphabet else "0"
        candidates = [value[: self.min_size], value[: len(value) // 2]]
        candidates += [value[:i] + value[i + 1 :] for i in range(min(len(value), 10))]
        candidates += [value[:i] + simplest + value[i + 1 :] for i in range(min(len(value), 10))]
        yield from _fresh(value, (c for c in candidates if len(c) >= self.min_size))


@dataclass(frozen=True)
class _Lists(_Strategy):
    of: _Strategy
    min_size: int = 0
    max_size: int | None = None
    unique: bool = False

    def build(self, st: Any) -> Any:
        return st.lists(self.of.build(st), min_size=self.min_size, max_size=self.max_size, unique=self.unique)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, list):
            return
        candidates = [value[: self.min_size], value[: len(value) // 2]]
        candidates += [value[:i] + value[i + 1 :] for i in range(min(len(value), 10))]
        with suppress(TypeError, ValueError):
            candidates.append(sorted(value, key=lambda element: _size((element,))))
        for i, element in enumerate(value[:10]):
            for simpler in _first(self.of.shrinks(element), 3):
                candidates.append(value[:i] + [simpler] + value[i + 1 :])
        fits = (c for c in candidates if len(c) >= self.min_size and (not self.unique or _distinct(c)))
        yield from _fresh(value, fits)


@dataclass(frozen=True)
class _Tuples(_Strategy):
    elements: tuple[_Strategy, ...]

    def build(self, st: Any) -> Any:
        return st.tuples(*(e.build(st) for e in self.elements))

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, tuple) or len(value) != len(self.elements):
            return
        for i, (element, strategy) in enumerate(zip(value, self.elements, strict=True)):
            for simpler in _first(strategy.shrinks(element), 3):
                yield value[:i] + (simpler,) + value[i + 1 :]


@dataclass(frozen=True)
class _Booleans(_Strategy):
    def build(self, st: Any) -> Any:
        return st.booleans()

    def shrinks(self, value: Any) -> Iterator[Any]:
        if value is True:
            yield False


@dataclass(frozen=True)
class _SampledFrom(_Strategy):
    values: tuple[Any, ...]

    def build(self, st: Any) -> Any:
        return st.sampled_from(self.values)

    def shrinks(self, value: Any) -> Iterator[Any]:
        index = next((i for i, v in enumerate(self.values) if type(v) is type(value) and v == value), None)
        if index:
            yield from _fresh(value, (self.values[0], self.values[index // 2], self.values[index - 1]))


_SIMPLE = {"integers": _Integers, "floats": _Floats, "text": _Text, "booleans": _Booleans}
_PARAMETERS: dict[str, dict[str, tuple[type, ...]]] = {
    "integers": {"min_value": (int,), "max_value": (int,)},
    "floats": {"min_value": (int, float), "max_value": (int, float), "allow_nan": (bool,), "allow_infinity": (bool,)},
    "text": {"alphabet": (str,), "min_size": (int,), "max_size": (int,)},
    "lists": {"of": (), "min_size": (int,), "max_size": (int,), "unique": (bool,)},
    "booleans": {},
}
STRATEGIES = ("integers", "floats", "text", "lists", "tuples", "booleans", "sampled_from")


def parse_strategy(raw: Any, path: tuple[str | int, ...] = ()) -> _Strategy:
    """The strategy a spec describes; raises :class:`SpecError` (with ``path``) if malformed."""
    if isinstance(raw, str):
        if raw not in _SIMPLE:
            raise SpecError(f"unknown strategy {raw!r}; known: {', '.join(STRATEGIES)}", path)
        return _SIMPLE[raw]()
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpecError(f"a strategy is a name or a mapping with one key, one of: {', '.join(STRATEGIES)}", path)
    ((name, params),) = raw.items()
    here = (*path, name)
    if name == "tuples":
        if not isinstance(params, list):
            raise SpecError("'tuples' takes a list of strategies", here)
        return _Tuples(tuple(parse_strategy(p, (*here, i)) for i, p in enumerate(params)))
    if name == "sampled_from":
        if not isinstance(params, list) or not params:
            raise SpecError("'sampled_from' takes a non-empty list of values", here)
        for i, value in enumerate(params):
            _check_value(value, (*here, i))
        return _SampledFrom(tuple(params))
    if name not in _PARAMETERS:
        raise SpecError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}", here)
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise SpecError(f"'{name}' takes a mapping of parameters ({', '.join(_PARAMETERS[name]) or 'none'})", here)
    allowed = _PARAMETERS[name]
    for key, value in params.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise SpecError(f"unknown parameter '{key}' for {name}; known: {known}", (*here, key))
        if allowed[key] and (isinstance(value, bool) != (bool in allowed[key]) or not isinstance(value, allowed[key])):
            kinds = " or ".join(t.__name__ for t in allowed[key])
            raise SpecError(f"'{key}' must be of type {kinds}", (*here, key))
    for key in ("min_size", "max_size"):
        if params.get(key, 0) < 0:
            raise SpecError(f"'{key}' must not be negative", (*here, key))
    low = params.get("min_value", params.get("min_size"))
    high = params.get("max_value", params.get("max_size"))
    if low is not None and high is not None and low > high:
        raise SpecError(f"the lower bound {low} is above the upper bound {high}", here)
    if name == "lists":
        if "of" not in params:
            raise SpecError("'lists' needs 'of', the strategy of its elements", here)
        return _Lists(parse_strategy(params["of"], (*here, "of")), **{k: v for k, v in params.items() if k != "of"})
    if name == "text" and params.get("alphabet") == "":
        raise SpecError("'alphabet' must not be empty", (*here, "alphabet"))
    if name == "floats":
        params = {k: float(v) if k in ("min_value", "max_value") else v for k, v in params.items()}
    return _SIMPLE[name](**params)


def generate(strategies: list[_Strategy], count: int) -> list[tuple[Any, ...]]:
    """Up to ``count`` distinct argument tuples, the same ones on every call."""
    if count <= 0:
        return []
    if not strategies:
        return [()]
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    drawn: dict[str, tuple[Any, ...]] = {}

    @settings(
        max_examples=count, database=None, derandomize=True, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*(s.build(st) for s in strategies)))
    def collect(args: tuple[Any, ...]) -> None:
        drawn.setdefault(_key(args), args)

    collect()
    return list(drawn.values())


# --- spec -------------------------------------------------------------------------


def validate(spec: Any) -> None:
    """Raise :class:`SpecError` if the ``python_function`` spec is malformed."""
    check_keys(spec, KEYS, name="python_function",
               usage="'python_function' takes a mapping with 'function', 'reference' and 'strategy' or 'examples'")
    for key in ("function", "reference"):
        if key not in spec:
            raise SpecError(f"'{key}' is required")
    for key in ("function", "reference_name"):
        if key in spec and (not isinstance(spec[key], str) or not _IDENTIFIER.fullmatch(spec[key])):
            raise SpecError(f"'{key}' must be a Python identifier", (key,))
    reference = spec["reference"]
    if not isinstance(reference, str) or not reference.strip():
        raise SpecError("'reference' must be Python source text", ("reference",))
    try:
        tree = ast.parse(reference)
    except SyntaxError as exc:
        raise SpecError(f"the reference does not parse: {exc.msg} (line {exc.lineno})", ("reference",)) from None
    name = spec.get("reference_name", spec["function"])
    if not _defines(tree, name):
        raise SpecError(f"the reference does not define {name}", ("reference",))
    if "strategy" in spec:
        _strategies(spec["strategy"])
    if "examples" in spec:
        examples = spec["examples"]
        if not isinstance(examples, list):
            raise SpecError("'examples' takes a list of argument lists, e.g. [[0], [10]]", ("examples",))
        for i, example in enumerate(examples):
            if not isinstance(example, list):
                raise SpecError("each example is a list of arguments, e.g. [10]", ("examples", i))
            for j, value in enumerate(example):
                _check_value(value, ("examples", i, j))
    count = spec.get("max_examples", DEFAULT_MAX_EXAMPLES)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_MAX_EXAMPLES:
        raise SpecError(f"'max_examples' must be a whole number from 0 to {MAX_MAX_EXAMPLES}", ("max_examples",))
    if not spec.get("examples") and ("strategy" not in spec or count == 0):
        raise SpecError("nothing to try: give 'strategy' (and max_examples above 0) or 'examples'")
    timeout = spec.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise SpecError(f"'timeout' must be a number of seconds, above 0 and at most {MAX_TIMEOUT:g}", ("timeout",))
    memory = spec.get("memory_mb", DEFAULT_MEMORY_MB)
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < MIN_MEMORY_MB:
        raise SpecError(f"'memory_mb' must be a whole number of MiB, at least {MIN_MEMORY_MB}", ("memory_mb",))


def _strategies(raw: Any) -> list[_Strategy]:
    if not isinstance(raw, Mapping) or set(raw) != {"args"} or not isinstance(raw["args"], list):
        raise SpecError("'strategy' takes a mapping {args: [...]}, one strategy per argument", ("strategy",))
    return [parse_strategy(s, ("strategy", "args", i)) for i, s in enumerate(raw["args"])]


def _check_value(value: Any, path: tuple[str | int, ...]) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, (*path, i))
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_value(key, path)
            _check_value(item, (*path, key))
        return
    kind = type(value).__name__
    raise SpecError(f"a value must be a number, string, boolean, null, list or mapping, not {kind}", path)


# --- the checker --------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What one input did: the reference's result, the answer's, and whether they agree."""

    index: int
    ok: bool
    expected: dict[str, str]
    actual: dict[str, str]


@dataclass(frozen=True)
class _Run:
    """One sandboxed run over a list of inputs."""

    outcomes: list[_Outcome]
    reference_error: str = ""
    load_error: str = ""
    missing: str = ""
    stopped_at: int | None = None  # the input the answer was running when the run ended early
    stopped_why: str = ""
    isolation: str = ""


def judge(spec: Mapping[str, Any], text: str) -> Verdict:
    """Run the answer's function and the reference on the spec's inputs and compare what they return."""
    from pytest_gptoss.sandbox import SandboxError

    function = spec["function"]
    reference_name = spec.get("reference_name", function)
    strategies = _strategies(spec["strategy"]) if "strategy" in spec else []
    examples = [tuple(example) for example in spec.get("examples", [])]
    try:
        generated = generate(strategies, spec.get("max_examples", DEFAULT_MAX_EXAMPLES)) if "strategy" in spec else []
    except Exception as exc:  # Hypothesis rejects a combination validate() let through
        return Verdict(
            passed=False, checker=NAME, expected=f"{function}(...) to agree with the reference", found="", where="",
            why=f"could not generate inputs from 'strategy': {exc}", error=True,
        )
    inputs = list({_key(args): args for args in [*examples, *generated]}.values())
    timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
    memory_mb = int(spec.get("memory_mb", DEFAULT_MEMORY_MB))
    expected = (
        f"{function}(...) to return what the reference returns, on {len(inputs)} inputs "
        f"({len(examples)} given, {len(inputs) - len(examples)} generated)"
    )

    def fail(found: str, why: str, where: str = "", **details: Any) -> Verdict:
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=found, where=where, why=why, details=details,
        )

    def error(why: str, where: str = "") -> Verdict:
        return Verdict(passed=False, checker=NAME, expected=expected, found="", where=where, why=why, error=True)

    block = function_code(text, function)
    if block is None:
        return fail(clip(" ".join(text.split()), SHOWN_WIDTH) or "(empty answer)", "no Python code in the answer")
    where = block.describe()
    if block.syntax_error:
        return fail("code that does not parse", f"syntax error: {block.syntax_error}", where)

    def run(batch: list[tuple[Any, ...]]) -> _Run:
        return _run(spec["reference"], reference_name, block.code, function, batch, timeout, memory_mb)

    try:
        result = run(inputs)
    except SandboxError as exc:
        return error(f"the sandbox could not run the code: {exc}", where)
    if result.reference_error:
        return error(result.reference_error, where)
    if result.load_error:
        return fail(f"the code {result.load_error}", f"the answer's code fails before {function} can be called", where)
    if result.missing:
        return fail(result.missing, f"the answer's code does not define a function {function}", where)

    failures = [o for o in result.outcomes if not o.ok]
    passed = sum(o.ok for o in result.outcomes)
    details: dict[str, Any] = {"inputs": len(inputs), "agreed": passed, "block": block.index,
                               "isolation": result.isolation}
    if not failures and result.stopped_at is None:
        return Verdict(
            passed=True, checker=NAME, expected=expected, found=f"all {len(inputs)} results agree", where=where,
            details=details,
        )

    if not failures and result.stopped_at is not None:  # the answer hung or crashed on one input
        args = inputs[result.stopped_at]
        call = _call(function, args)
        details.update(input=clip(repr(list(args)), SHOWN_WIDTH), call=call)
        return fail(f"{call} {result.stopped_why}", f"{passed} inputs agreed before {call} stopped the run",
                    where, **details)

    first = min(failures, key=lambda o: _size(inputs[o.index]))
    args, outcome = inputs[first.index], first
    shrunk_from = None
    if strategies and len(strategies) == len(args):
        try:
            small = _shrink(run, strategies, args)
        except SandboxError:
            small = None
        if small is not None:
            shrunk_from, (args, outcome) = args, small
    call = _call(function, args)
    found = f"{call} {_did(outcome.actual)}"
    why = f"the reference {_does(outcome.expected)}; {len(failures)} of {len(result.outcomes)} inputs disagree"
    if shrunk_from is not None:
        why += f" (shrunk from {_call(function, shrunk_from)})"
    if result.stopped_at is not None:
        why += f"; then {_call(function, inputs[result.stopped_at])} {result.stopped_why}"
    details.update(
        input=clip(repr(list(args)), SHOWN_WIDTH), call=call, expected=outcome.expected, actual=outcome.actual,
        failures=len(failures),
        shrunk_from=clip(repr(list(shrunk_from)), SHOWN_WIDTH) if shrunk_from is not None else None,
    )
    return fail(found, why, where, **details)


def function_code(text: str, function: str) -> CodeBlock | None:
    """The answer's code block that defines ``function``.

    The block the ``code`` checker would run, unless it does not define the
    function and an earlier block does; None when the answer has no code.
    """
    from pytest_gptoss.checkers.code import extract_code

    chosen = extract_code(text)
    if chosen is None or chosen.index == 0 or chosen.syntax_error or _defines_in(chosen.code, function):
        return chosen
    lines, block, seen = text.splitlines(), chosen, {chosen.index}
    while True:
        # Spoil the block just tried, so that the same choice falls on the next one.
        for n in range(block.line - 1, min(block.line - 1 + len(block.code.splitlines()), len(lines))):
            if not _FENCE_LINE.match(lines[n]):
                lines[n] = ")"
        following = extract_code("\n".join(lines))
        if following is None or following.index in seen or following.index == 0 or following.syntax_error:
            return chosen
        if _defines_in(following.code, function):
            return following
        block = following
        seen.add(block.index)


_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")


def _defines(tree: ast.AST, name: str) -> bool:
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


def _defines_in(code: str, name: str) -> bool:
    try:
        return _defines(ast.parse(code), name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


# --- running in the sandbox -----------------------------------------------------------


def _run(
    reference: str, reference_name: str, code: str, function: str,
    inputs: list[tuple[Any, ...]], timeout: float, memory_mb: int,
) -> _Run:
    from pytest_gptoss.sandbox import run_program

    nonce = secrets.token_hex(8)
    source = _HARNESS.format(
        nonce=nonce, inputs=json.dumps([_encode(list(args)) for args in inputs]),
        reference=reference, reference_name=reference_name, code=code, function=function,
    )
    result = run_program(source, timeout=timeout, memory_mb=memory_mb)
    records = []
    for line in result.stdout.splitlines():
        if line.startswith(nonce):
            try:
                records.append(json.loads(line[len(nonce) :]))
            except ValueError:
                continue
    outcomes: list[_Outcome] = []
    last_reference = last_answer = None
    reference_done = done = False
    for record in records:
        if "reference_error" in record:
            return _Run([], reference_error=record["reference_error"], isolation=result.isolation)
        if "load_error" in record:
            return _Run([], load_error=record["load_error"], isolation=result.isolation)
        if "missing" in record:
            return _Run([], missing=record["missing"], isolation=result.isolation)
        if "reference_start" in record:
            last_reference = record["reference_start"]
        elif "reference_done" in record:
            reference_done = True
        elif "start" in record:
            last_answer = record["start"]
        elif "index" in record:
            outcomes.append(_Outcome(record["index"], record["ok"], record["expected"], record["actual"]))
        elif "done" in record:
            done = True
    if done:
        return _Run(outcomes, isolation=result.isolation)
    stopped = _stop_reason(result, timeout, memory_mb)
    tail = " | ".join(result.stderr.strip().splitlines()[-3:])
    tail = f" ({clip(tail, SHOWN_WIDTH)})" if tail else ""
    if not reference_done:
        on = f" on {_call(reference_name, inputs[last_reference])}" if last_reference is not None else ""
        return _Run([], reference_error=f"the reference {stopped}{on}{tail}", isolation=result.isolation)
    if last_answer is None:
        return _Run([], load_error=f"{stopped}{tail}", isolation=result.isolation)
    if outcomes and outcomes[-1].index == last_answer:  # ended between two calls
        return _Run(outcomes, stopped_at=last_answer + 1 if last_answer + 1 < len(inputs) else None,
                    stopped_why=stopped, isolation=result.isolation)
    return _Run(outcomes, stopped_at=last_answer, stopped_why=stopped, isolation=result.isolation)


def _stop_reason(result: Any, timeout: float, memory_mb: int) -> str:
    reason = result.killed_reason
    if reason == "timeout":
        return f"did not return: the run was stopped at the {timeout:g} s time limit"
    if reason == "cpu":
        return f"did not return: the run used more than {math.ceil(timeout + 1)} s of CPU time"
    if reason == "memory":
        return f"ran out of memory (limit {memory_mb} MiB)"
    if reason == "output":
        return "wrote more output than the sandbox keeps"
    if reason:
        return f"was killed ({reason})"
    return f"ended the process (exit status {result.returncode})"


def _shrink(run: Any, strategies: list[_Strategy], args: tuple[Any, ...]) -> tuple[tuple[Any, ...], _Outcome] | None:
    """A simpler failing input than ``args`` and its outcome, or None when none is found."""
    best: tuple[tuple[Any, ...], _Outcome] | None = None
    current = args
    deadline = time.monotonic() + SHRINK_SECONDS
    for _ in range(SHRINK_ROUNDS):
        if time.monotonic() > deadline:
            break
        seen = {_key(current)}
        candidates = []
        for i, strategy in enumerate(strategies):
            for simpler in strategy.shrinks(current[i]):
                candidate = current[:i] + (simpler,) + current[i + 1 :]
                if _key(candidate) not in seen and _size(candidate) < _size(current):
                    seen.add(_key(candidate))
                    candidates.append(candidate)
        if not candidates:
            break
        candidates = sorted(candidates, key=_size)[:SHRINK_CANDIDATES]
        result = run(candidates)
        failing = [o for o in result.outcomes if not o.ok]
        if not failing:
            break
        smallest = min(failing, key=lambda o: _size(candidates[o.index]))
        current = candidates[smallest.index]
        best = (current, smallest)
    return best


_HARNESS = r'''
import io, json, math, sys, traceback

NONCE = {nonce!r}
INPUTS = json.loads({inputs!r})
REFERENCE, REFERENCE_NAME = {reference!r}, {reference_name!r}
CODE, FUNCTION = {code!r}, {function!r}
SHOWN = 300
OUT = sys.stdout


def emit(**record):
    OUT.write(NONCE + json.dumps(record) + "\n")
    OUT.flush()


class Sink(io.TextIOBase):
    def writable(self):
        return True

    def write(self, text):
        return len(text)


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(decode(v) for v in value["tuple"])
        return {{decode(k): decode(v) for k, v in value["dict"]}}
    return value


def clip(text):
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "\u2026"


def call(function, index):
    args = decode(INPUTS[index])
    sys.stdout = Sink()
    try:
        return ("value", function(*args))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return ("raise", type(exc).__name__, clip(str(exc)))
    finally:
        sys.stdout = OUT


def describe(result):
    if result[0] == "raise":
        return {{"raised": result[1], "message": result[2]}}
    try:
        shown = repr(result[1])
    except BaseException as exc:
        shown = "<unprintable " + type(result[1]).__name__ + ">"
    return {{"value": clip(shown), "type": type(result[1]).__name__}}


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if not isinstance(a, float) and not isinstance(b, float):
            return a == b  # ints are exact, however large
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        try:
            return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        except (OverflowError, TypeError):
            return False
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def agree(want, got):
    if want[0] == "raise" or got[0] == "raise":
        return want[0] == got[0] == "raise" and want[1] == got[1]
    return same(want[1], got[1])


def load(source, name, module):
    namespace = {{"__name__": module, "__builtins__": __builtins__}}
    sys.stdout = Sink()
    try:
        exec(compile(source, module + ".py", "exec"), namespace)
    finally:
        sys.stdout = OUT
    return namespace.get(name), namespace


try:
    reference, _ = load(REFERENCE, REFERENCE_NAME, "reference")
except BaseException as exc:
    emit(reference_error="the reference fails when it runs: " + clip(traceback.format_exception_only(exc)[-1].strip()))
    sys.exit(0)
if not callable(reference):
    emit(reference_error="the reference does not define a function " + REFERENCE_NAME)
    sys.exit(0)
expected = []
for index in range(len(INPUTS)):
    emit(reference_start=index)
    expected.append(call(reference, index))
emit(reference_done=True)

try:
    function, namespace = load(CODE, FUNCTION, "answer")
except BaseException as exc:
    emit(load_error="raised " + clip(traceback.format_exception_only(exc)[-1].strip()))
    sys.exit(0)
if not callable(function):
    defined = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))
    emit(missing="functions defined: " + (", ".join(defined) if defined else "none"))
    sys.exit(0)
for index in range(len(INPUTS)):
    emit(start=index)
    got = call(function, index)
    emit(index=index, ok=agree(expected[index], got), expected=describe(expected[index]), actual=describe(got))
emit(done=True)
'''


# --- values and how they show -----------------------------------------------------------


def _encode(value: Any) -> Any:
    """Plain JSON for a value, keeping tuples and non-string keys."""
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    return value


def _key(args: Any) -> str:
    return json.dumps(_encode(list(args)), sort_keys=True)


def _size(args: Any) -> tuple[int, str]:
    key = _key(args)
    return len(key), key


def _call(function: str, args: tuple[Any, ...]) -> str:
    return clip(f"{function}({', '.join(repr(a) for a in args)})", SHOWN_WIDTH)


def _did(result: dict[str, str]) -> str:
    if "raised" in result:
        return f"raised {result['raised']}" + (f": {result['message']}" if result["message"] else "")
    return f"returned {result['value']}"


def _does(result: dict[str, str]) -> str:
    if "raised" in result:
        return f"raises {result['raised']}" + (f": {result['message']}" if result["message"] else "")
    return f"returns {result['value']}"


def _clamp(value: Any, low: Any, high: Any) -> Any:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _fresh(value: Any, candidates: Iterator[Any] | tuple[Any, ...]) -> Iterator[Any]:
    """``candidates`` without repeats and without ``value`` itself."""
    seen = [value]
    for candidate in candidates:
        if not any(type(candidate) is type(s) and candidate == s for s in seen):
            seen.append(candidate)
            yield candidate


def _first(values: Iterator[Any], n: int) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if len(out) == n:
            break
        out.append(value)
    return out


def _distinct(values: list[Any]) -> bool:
    return all(a != b for i, a in enumerate(values) for b in values[i + 1 :])


def parse(spec: Any) -> Mapping[str, Any]:
    validate(spec)
    return spec


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
