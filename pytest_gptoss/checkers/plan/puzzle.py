"""What a puzzle is to the ``plan`` checker, and what it does with one.

A :class:`Puzzle` is a state machine (a start, the moves from a state, which
states are unsafe, the goal) plus how its moves are written in answers.
:func:`replay` plays a proposed plan in it step by step and names the first
problem; :func:`solve` searches it for a shortest plan, which proves the puzzle
solvable. Each puzzle has its own module (:mod:`.river`) and a line in
:data:`pytest_gptoss.checkers.plan.PUZZLES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar


@dataclass(frozen=True)
class Unreadable:
    """A step that reads like a move but cannot be turned into one."""

    why: str


class Reading(NamedTuple):
    """A move as read from an answer: the move, its words, and whether the words name it outright.

    ``plain`` is False for a move guessed from what the words leave out
    (``农夫过河`` with nothing in the boat); a list item's own text loses to a
    plainer line under it (a title ``第一次过河`` over ``- 农夫带羊过河``).
    """

    move: Any
    quote: str
    plain: bool = True


#: a puzzle's state
S = TypeVar("S", bound=Hashable)


class Puzzle(ABC, Generic[S]):
    """A puzzle as a state machine, plus how its moves are written in answers."""

    key: str
    title: str

    @abstractmethod
    def initial(self) -> S:
        """The starting state."""

    @abstractmethod
    def moves(self, state: S) -> Iterable[Any]:
        """Every move worth trying from ``state``, in a fixed order (for search)."""

    @abstractmethod
    def apply(self, state: S, move: Any) -> tuple[S | None, Any, str]:
        """``(new state, the move as made, "")``, or ``(None, move, why it cannot be made)``."""

    @abstractmethod
    def hazard(self, state: S) -> str:
        """Why ``state`` is unsafe, or ""."""

    @abstractmethod
    def unfinished(self, state: S) -> str:
        """Why ``state`` is not the goal, or "" when it is."""

    @abstractmethod
    def goal(self) -> str:
        """The goal, in words."""

    @abstractmethod
    def read(self, text: str, *, cell: bool = False) -> list[Reading]:
        """Each move (or :class:`Unreadable`) one step of an answer describes.

        ``cell``: the text is a table's move column, so it needs no verb.
        """

    @abstractmethod
    def describe_move(self, move: Any) -> str:
        """A move in a few words."""

    @abstractmethod
    def describe_state(self, state: S) -> str:
        """A state in one line."""


@dataclass(frozen=True)
class Replay:
    """How a plan went: the moves as made, the states after them, and the first problem."""

    passed: bool
    made: tuple[Any, ...]
    states: tuple[Hashable, ...]  # the initial state, then one per move made
    failed_step: int | None = None  # 1-based; None when the plan failed only at the end (or passed)
    why: str = ""


def replay(puzzle: Puzzle, moves: Iterable[Any | Unreadable], max_steps: int | None = None) -> Replay:
    """Play ``moves`` from the puzzle's start; stop at the first impossible move or unsafe state."""
    moves = list(moves)
    state = puzzle.initial()
    made: list[Any] = []
    states = [state]

    def stop(step: int | None, why: str) -> Replay:
        return Replay(False, tuple(made), tuple(states), step, why)

    if max_steps is not None and len(moves) > max_steps:
        return stop(None, f"the plan has {len(moves)} moves; at most {max_steps} are allowed")
    for number, move in enumerate(moves, start=1):
        if isinstance(move, Unreadable):
            return stop(number, f"step {number}: could not read it: {move.why}")
        new, as_made, why = puzzle.apply(state, move)
        if new is None:
            return stop(number, f"step {number}: {why}")
        state = new
        made.append(as_made)
        states.append(state)
        hazard = puzzle.hazard(state)
        if hazard:
            return stop(number, f"step {number}: {hazard}")
    unfinished = puzzle.unfinished(state)
    if unfinished:
        return stop(None, unfinished)
    return Replay(True, tuple(made), tuple(states))


def solve(puzzle: Puzzle) -> list[Any] | None:
    """A shortest plan (breadth-first search over safe states), or None if there is none."""
    start = puzzle.initial()
    if puzzle.hazard(start):
        return None
    came_from: dict[Hashable, tuple[Hashable, Any] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if not puzzle.unfinished(state):
            plan = []
            while (link := came_from[state]) is not None:
                state, move = link[0], link[1]
                plan.append(move)
            return plan[::-1]
        for move in puzzle.moves(state):
            new, made, _ = puzzle.apply(state, move)
            if new is not None and new not in came_from and not puzzle.hazard(new):
                came_from[new] = (state, made)
                queue.append(new)
    return None
