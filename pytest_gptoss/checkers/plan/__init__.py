"""The ``plan`` checker: read a proposed plan from the answer and replay it step by step in a puzzle's state machine.

Spec keys:

``puzzle`` (required)
    Which puzzle the plan solves, a key of :data:`PUZZLES`:
    ``river-crossing-5`` (a farmer with a tiger, a sheep, a snake, a chicken
    and a basket of apples; the boat takes the farmer and one of them; left
    without the farmer the tiger eats the sheep unless the chicken is there,
    the snake eats the chicken unless the tiger is there, the sheep eats the
    apples unless the snake is there) or ``river-crossing-3`` (wolf, goat,
    cabbage).
``max_steps``
    The most moves the plan may take (default: no limit).

How the plan is found in the answer: :mod:`.reader`; how a puzzle's moves are
written and replayed: :mod:`.puzzle` and the puzzle's own module
(:mod:`.river`). A step that reads like a move but cannot be read (an unknown
thing in the boat) makes the plan fail there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.plan.puzzle import Puzzle, Replay, Unreadable, replay
from pytest_gptoss.checkers.plan.reader import PlanStep, read_plan
from pytest_gptoss.checkers.plan.river import RIVER_CROSSING_3, RIVER_CROSSING_5
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import clip
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "plan"
KEYS = ("puzzle", "max_steps")
SHOWN_STEPS = 14
QUOTE_WIDTH = 40

#: puzzle key -> puzzle; a new puzzle is one :class:`.Puzzle` and one line here
PUZZLES: dict[str, Puzzle[Any]] = {p.key: p for p in (RIVER_CROSSING_5, RIVER_CROSSING_3)}


@dataclass(frozen=True, kw_only=True)
class PlanSpec:
    """A parsed ``plan`` spec: the puzzle itself, and the most moves a plan may take (None: no limit)."""

    puzzle: Puzzle[Any]
    max_steps: int | None = None


def parse(spec: Any) -> PlanSpec:
    """``spec`` as a :class:`PlanSpec`, or :class:`SpecError` naming the bad field."""
    check_keys(spec, KEYS, name="plan", usage=f"'plan' takes a mapping with 'puzzle' (one of: {', '.join(PUZZLES)})")
    if "puzzle" not in spec:
        raise SpecError(f"'puzzle' is required (one of: {', '.join(PUZZLES)})")
    puzzle = PUZZLES.get(spec["puzzle"]) if isinstance(spec["puzzle"], str) else None
    if puzzle is None:
        raise SpecError(f"unknown puzzle {spec['puzzle']!r}; known puzzles: {', '.join(PUZZLES)}", ("puzzle",))
    max_steps = spec.get("max_steps")
    if "max_steps" in spec and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise SpecError("'max_steps' must be a whole number, at least 1", ("max_steps",))
    return PlanSpec(puzzle=puzzle, max_steps=max_steps)


def judge(parsed: PlanSpec, text: str) -> Verdict:
    """Read the plan in ``text`` and replay it in the spec's puzzle."""
    puzzle, max_steps = parsed.puzzle, parsed.max_steps
    expected = f"a plan for {puzzle.key} ({puzzle.title}) that ends with {puzzle.goal()}"
    if max_steps is not None:
        expected += f", in at most {max_steps} moves"

    plan = read_plan(puzzle, text)
    if not plan.steps:
        found = f"answer ({len(text)} chars): {_one_line(text)}" if text.strip() else "(empty answer)"
        if plan.lone_move is None:
            return Verdict(
                passed=False, checker=NAME, expected=expected, found=found, where="",
                why="no plan found: no line of the answer describes a move",
            )
        # one move-like sentence in prose (often the puzzle told again) is no plan to replay
        lone = plan.lone_move
        where = f"the only move-like words, answer line {lone.line}: {_one_line(lone.quote, QUOTE_WIDTH * 2)}"
        why = "no plan found: no list of steps, and the prose describes one move at most (a plan is a sequence)"
        return Verdict(passed=False, checker=NAME, expected=expected, found=found, where=where, why=why)

    result = replay(puzzle, [step.move for step in plan.steps], max_steps)
    found = _show_steps(puzzle, plan.steps, result)
    details = {
        "puzzle": puzzle.key,
        "read_from": plan.source,
        "steps": [
            {"quote": step.quote, "line": step.line, "move": _describe(puzzle, step.move)} for step in plan.steps
        ],
        "failed_step": result.failed_step,
        "final_state": puzzle.describe_state(result.states[-1]),
    }
    where = f"read from {plan.source}"
    if result.passed:
        return Verdict(passed=True, checker=NAME, expected=expected, found=found, where=where, details=details)
    if result.failed_step is not None:
        step = plan.steps[result.failed_step - 1]
        where += f"\nstep {result.failed_step}: {snippet(text, *step.span)}"
        if not isinstance(step.move, Unreadable):
            if len(result.states) > result.failed_step:
                where += f"\nafter it: {puzzle.describe_state(result.states[result.failed_step])}"
            else:
                where += f"\nbefore it: {puzzle.describe_state(result.states[result.failed_step - 1])}"
    else:
        where += f"\nat the end: {puzzle.describe_state(result.states[-1])}"
    return Verdict(
        passed=False, checker=NAME, expected=expected, found=found, where=where, why=result.why, details=details,
    )


def _describe(puzzle: Puzzle, move: Any) -> str:
    return f"unreadable: {move.why}" if isinstance(move, Unreadable) else puzzle.describe_move(move)


def _show_steps(puzzle: Puzzle, steps: list[PlanStep], result: Replay) -> str:
    lines = []
    for number, step in enumerate(steps[:SHOWN_STEPS], start=1):
        move = result.made[number - 1] if number <= len(result.made) else step.move
        mark = "  ✗" if number == result.failed_step else ""
        lines.append(f"{number}. {_describe(puzzle, move)}  ({clip(step.quote, QUOTE_WIDTH)}){mark}")
    if len(steps) > SHOWN_STEPS:
        lines.append(f"… and {len(steps) - SHOWN_STEPS} more")
    return f"{len(steps)} steps:\n" + "\n".join(lines)


def _one_line(text: str, width: int = 120) -> str:
    """``text``'s lines, trimmed and joined by ``⏎``, clipped to ``width``."""
    return clip(" ⏎ ".join(line.strip() for line in text.strip().splitlines() if line.strip()), width)


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
