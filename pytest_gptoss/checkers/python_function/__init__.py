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

Inputs are generated on the host with Hypothesis (deterministically) and sent as
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

This module judges; :mod:`.spec` reads the spec, :mod:`.strategies` holds the
argument strategies, :mod:`.harness` is the program that runs in the sandbox,
and :mod:`.run` runs it and reads what it reports.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.python_function.run import SHOWN_WIDTH, Run, call_text, run_inputs, shrink
from pytest_gptoss.checkers.python_function.spec import PythonFunctionSpec, defines, parse
from pytest_gptoss.checkers.python_function.strategies import Args, generate, key, size
from pytest_gptoss.clipping import clip, clip_words
from pytest_gptoss.verdict import Verdict

if TYPE_CHECKING:
    from pytest_gptoss.checkers.code import CodeBlock
    from pytest_gptoss.checkers.python_function.harness import Described

NAME = "python_function"


def judge(spec: PythonFunctionSpec, text: str) -> Verdict:
    """Run the answer's function and the reference on the spec's inputs and compare what they return."""
    from pytest_gptoss.sandbox import SandboxError

    function = spec.function
    strategies = spec.strategies or ()
    try:
        generated = generate(strategies, spec.max_examples) if spec.strategies is not None else []
    except Exception as exc:  # Hypothesis rejects a combination that parse() let through
        return Verdict(
            passed=False, checker=NAME, expected=f"{function}(...) to agree with the reference", found="", where="",
            why=f"could not generate inputs from 'strategy': {exc}", error=True,
        )
    inputs = list({key(args): args for args in [*spec.examples, *generated]}.values())
    expected = (
        f"{function}(...) to return what the reference returns, on {len(inputs)} inputs "
        f"({len(spec.examples)} given, {len(inputs) - len(spec.examples)} generated)"
    )

    def fail(found: str, why: str, where: str = "", **details: Any) -> Verdict:
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=found, where=where, why=why, details=details,
        )

    def error(why: str, where: str = "") -> Verdict:
        return Verdict(passed=False, checker=NAME, expected=expected, found="", where=where, why=why, error=True)

    block = function_code(text, function)
    if block is None:
        return fail(clip_words(text, SHOWN_WIDTH) or "(empty answer)", "no Python code in the answer")
    where = block.describe()
    if block.syntax_error:
        return fail("code that does not parse", f"syntax error: {block.syntax_error}", where)

    def run(batch: list[Args]) -> Run:
        return run_inputs(spec, block.code, batch)

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
        call = call_text(function, args)
        details.update(input=clip(repr(list(args)), SHOWN_WIDTH), call=call)
        return fail(f"{call} {result.stopped_why}", f"{passed} inputs agreed before {call} stopped the run",
                    where, **details)

    first = min(failures, key=lambda o: size(inputs[o.index]))
    args, outcome = inputs[first.index], first
    shrunk_from = None
    if strategies and len(strategies) == len(args):
        try:
            small = shrink(run, strategies, args)
        except SandboxError:
            small = None
        if small is not None:
            shrunk_from, (args, outcome) = args, small
    call = call_text(function, args)
    found = f"{call} {_said(outcome.actual)}"
    why = (f"the reference {_said(outcome.expected, present=True)}; "
           f"{len(failures)} of {len(result.outcomes)} inputs disagree")
    if shrunk_from is not None:
        why += f" (shrunk from {call_text(function, shrunk_from)})"
    if result.stopped_at is not None:
        why += f"; then {call_text(function, inputs[result.stopped_at])} {result.stopped_why}"
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


def _defines_in(code: str, name: str) -> bool:
    try:
        return defines(ast.parse(code), name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _said(result: Described, *, present: bool = False) -> str:
    """What a call did (``returned 1``, ``raised ValueError: ...``), or in the present tense what it does."""
    if "raised" in result:
        verb = "raises" if present else "raised"
        return f"{verb} {result['raised']}" + (f": {result['message']}" if result["message"] else "")
    return f"{'returns' if present else 'returned'} {result['value']}"


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
