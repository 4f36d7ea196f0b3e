"""Running the harness in the sandbox on a batch of inputs, reading what it reports, and shrinking a failure.

:func:`run_inputs` sends :mod:`.harness` (its source, read from this package)
with the run's data into :func:`pytest_gptoss.sandbox.run_program` and turns
the records it prints into a :class:`Run`: one :class:`Outcome` per input
called, or why the run ended early, in words a verdict can show.
:func:`shrink` looks for a simpler failing input, one sandboxed run per round.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_gptoss.checkers.python_function.strategies import Args, Strategy, encode, key, size
from pytest_gptoss.clipping import clip

if TYPE_CHECKING:
    from pytest_gptoss.checkers.python_function.harness import Described, Payload, Record
    from pytest_gptoss.checkers.python_function.spec import PythonFunctionSpec
    from pytest_gptoss.sandbox import RunResult

#: how much of a value's repr, or of an exception's message, a verdict shows
RESULT_WIDTH = 300
#: how much of the sandbox's stderr, and of a call, a verdict shows
SHOWN_WIDTH = 200
SHRINK_ROUNDS = 25
SHRINK_SECONDS = 15.0
SHRINK_CANDIDATES = 60  # per round

_HARNESS = Path(__file__).with_name("harness.py")


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one input did: the reference's result, the answer's, and whether they agree."""

    index: int
    ok: bool
    expected: Described
    actual: Described


@dataclass(frozen=True, kw_only=True)
class Run:
    """One sandboxed run over a list of inputs."""

    outcomes: list[Outcome] = field(default_factory=list)
    reference_error: str = ""
    load_error: str = ""
    missing: str = ""
    stopped_at: int | None = None  # the input the answer was running when the run ended early
    stopped_why: str = ""
    isolation: str = ""


def run_inputs(spec: PythonFunctionSpec, code: str, inputs: Sequence[Args]) -> Run:
    """Call the reference and the function ``code`` defines on every input, in one sandboxed run.

    Raises :class:`pytest_gptoss.sandbox.SandboxError` when the sandbox cannot start.
    """
    from pytest_gptoss.sandbox import run_program

    nonce = secrets.token_hex(8)
    payload: Payload = {
        "nonce": nonce, "inputs": [encode(list(args)) for args in inputs], "width": RESULT_WIDTH + 1,
        "reference": spec.reference, "reference_name": spec.reference_name, "code": code, "function": spec.function,
    }
    program = f"{_harness_source()}\nmain({json.dumps(payload)!r})\n"
    result = run_program(program, timeout=spec.timeout, memory_mb=spec.memory_mb)
    records: list[Record] = []
    for line in result.stdout.splitlines():
        if line.startswith(nonce):
            try:
                records.append(json.loads(line[len(nonce) :]))
            except ValueError:
                continue
    isolation = result.isolation
    outcomes: list[Outcome] = []
    last_reference = last_answer = None
    reference_done = done = False
    for record in records:
        if "reference_raised" in record:
            raised = clip(record["reference_raised"], RESULT_WIDTH)
            return Run(reference_error=f"the reference fails when it runs: {raised}", isolation=isolation)
        if "reference_missing" in record:
            return Run(reference_error="the reference does not define a function " + spec.reference_name,
                       isolation=isolation)
        if "load_raised" in record:
            return Run(load_error="raised " + clip(record["load_raised"], RESULT_WIDTH), isolation=isolation)
        if "missing" in record:
            return Run(missing="functions defined: " + (", ".join(record["missing"]) or "none"), isolation=isolation)
        if "reference_start" in record:
            last_reference = record["reference_start"]
        elif "reference_done" in record:
            reference_done = True
        elif "start" in record:
            last_answer = record["start"]
        elif "index" in record:
            outcomes.append(Outcome(index=record["index"], ok=record["ok"], expected=_result(record["expected"]),
                                    actual=_result(record["actual"])))
        elif "done" in record:
            done = True
    if done:
        return Run(outcomes=outcomes, isolation=isolation)
    stopped = _stop_reason(result, spec.timeout, spec.memory_mb)
    tail = " | ".join(result.stderr.strip().splitlines()[-3:])
    tail = f" ({clip(tail, SHOWN_WIDTH)})" if tail else ""
    if not reference_done:
        on = f" on {call_text(spec.reference_name, inputs[last_reference])}" if last_reference is not None else ""
        return Run(reference_error=f"the reference {stopped}{on}{tail}", isolation=isolation)
    if last_answer is None:
        return Run(load_error=f"{stopped}{tail}", isolation=isolation)
    if outcomes and outcomes[-1].index == last_answer:  # ended between two calls
        stopped_at = last_answer + 1 if last_answer + 1 < len(inputs) else None
        return Run(outcomes=outcomes, stopped_at=stopped_at, stopped_why=stopped, isolation=isolation)
    return Run(outcomes=outcomes, stopped_at=last_answer, stopped_why=stopped, isolation=isolation)


def shrink(run: Callable[[list[Args]], Run], strategies: Sequence[Strategy], args: Args) -> tuple[Args, Outcome] | None:
    """A simpler failing input than ``args`` and its outcome, or None when none is found."""
    best: tuple[Args, Outcome] | None = None
    current = args
    deadline = time.monotonic() + SHRINK_SECONDS
    for _ in range(SHRINK_ROUNDS):
        if time.monotonic() > deadline:
            break
        seen = {key(current)}
        candidates = []
        for i, strategy in enumerate(strategies):
            for simpler in strategy.shrinks(current[i]):
                candidate = current[:i] + (simpler,) + current[i + 1 :]
                if key(candidate) not in seen and size(candidate) < size(current):
                    seen.add(key(candidate))
                    candidates.append(candidate)
        if not candidates:
            break
        candidates = sorted(candidates, key=size)[:SHRINK_CANDIDATES]
        result = run(candidates)
        failing = [o for o in result.outcomes if not o.ok]
        if not failing:
            break
        smallest = min(failing, key=lambda o: size(candidates[o.index]))
        current = candidates[smallest.index]
        best = (current, smallest)
    return best


def call_text(function: str, args: Args) -> str:
    """``function(arg, ...)`` as a verdict shows the call."""
    return clip(f"{function}({', '.join(repr(a) for a in args)})", SHOWN_WIDTH)


@functools.cache
def _harness_source() -> str:
    return _HARNESS.read_text(encoding="utf-8")


def _result(reported: Described) -> Described:
    """A result the harness reported, its texts clipped for showing."""
    if "raised" in reported:
        return {"raised": reported["raised"], "message": clip(reported["message"], RESULT_WIDTH)}
    return {"value": clip(reported["value"], RESULT_WIDTH), "type": reported["type"]}


def _stop_reason(result: RunResult, timeout: float, memory_mb: int) -> str:
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
