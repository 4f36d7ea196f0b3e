"""The ``plan`` checker: replay a proposed plan step by step in a puzzle's state machine.

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

How the plan is read from the answer. Candidate step lists are numbered lines
(``1.``, ``1)``, ``(1)``, ``①``, ``第1步``, ``第一次``, ``步骤1``, ``Step 1:``, also
as headings or in bold), bullets, Markdown tables and plain paragraphs. A table
has a row per step or a column per step; the move is read from a column headed
like 操作/船上/action/boat, a 方向/direction column adds the direction, and a
step-0 row (the start) is skipped. Each step's text is cut into clauses: the
first clause that describes a move is the step, and a later clause is a further
step only when it starts like one (``然后独自返回``, ``then return alone``);
steps joined by arrows (``带羊过河 → 独自返回``) are steps too. Text in
parentheses, questions, conditionals (``如果``, ``if``), rules (``吃``, ``eats``,
``cannot``), advice (``关键``, ``the key is``) and counts (``共9次``) are not
moves. The list with the most moves wins; on a tie, the later one (the final
answer usually comes last). A step that reads like a move but cannot be read
(an unknown thing in the boat) makes the plan fail there.

For river crossings a step names what is in the boat (``农夫带羊过河``,
``带着鸡回来``, ``farmer returns alone``, ``Take the goat across``; synonyms such
as 虎/tiger, 山羊/goat, 小鸡/hen, 一筐苹果/basket count) and maybe where it goes
(``返回``/``back`` or a named bank); without one, the boat goes to the other
bank. Replay checks each move (is the cargo on the farmer's bank, does it fit
the boat, does a stated direction agree), both banks after every move, and the
goal at the end.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.numerals import read_integer
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "plan"
KEYS = ("puzzle", "max_steps")
SHOWN_STEPS = 14
PARAGRAPH = "the paragraph"
QUOTE_WIDTH = 40


# --- puzzles ------------------------------------------------------------------


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
class Rule:
    """Left without the farmer, ``eater`` eats ``eaten`` unless ``guard`` is there too."""

    eater: str
    eaten: str
    guard: str | None = None


class Banks(NamedTuple):
    """Where the farmer is, and what is on the right (goal) bank."""

    farmer: str
    right: frozenset[str]


@dataclass(frozen=True)
class Crossing:
    """One trip of the boat: what it carries and, when stated, the bank it goes to."""

    cargo: tuple[str, ...] = ()
    to: str | None = None


LEFT, RIGHT = "left", "right"


@dataclass(frozen=True)
class RiverCrossing(Puzzle[Banks]):
    """A farmer ferries items across a river; some items eat others when he is away."""

    key: str
    title: str
    items: tuple[str, ...]
    names: tuple[tuple[str, tuple[str, ...]], ...]  # item -> how answers call it (Chinese and English)
    rules: tuple[Rule, ...]
    capacity: int = 1
    _matchers: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = sorted(((w.lower(), item) for item, ws in self.names for w in ws), key=lambda p: -len(p[0]))
        matchers = []
        for word, item in words:
            pattern = rf"\b{re.escape(word)}(?:e?s)?\b" if word.isascii() else re.escape(word)
            matchers.append((item, re.compile(pattern)))
        object.__setattr__(self, "_matchers", tuple(matchers))

    def initial(self) -> Banks:
        return Banks(LEFT, frozenset())

    def moves(self, state: Banks) -> Iterable[Crossing]:
        here = self._bank(state, state.farmer)
        to = _other(state.farmer)
        yield Crossing((), to)
        for item in self.items:
            if item in here:
                yield Crossing((item,), to)

    def apply(self, state: Banks, move: Crossing) -> tuple[Banks | None, Crossing, str]:
        side = state.farmer
        made = Crossing(move.cargo, _other(side))
        if move.to is not None and move.to == side:
            return None, move, f"it says the farmer goes to the {side} bank, but he is already there"
        if len(move.cargo) > self.capacity:
            return None, made, (
                f"the boat carries the farmer and at most {_count(self.capacity)}, "
                f"not {_and(move.cargo)}"
            )
        here = self._bank(state, side)
        for item in move.cargo:
            if item not in here:
                return None, made, f"the {item} is on the {_other(side)} bank, not with the farmer on the {side} bank"
        right = state.right | set(move.cargo) if side == LEFT else state.right - set(move.cargo)
        return Banks(_other(side), frozenset(right)), made, ""

    def hazard(self, state: Banks) -> str:
        for side in (LEFT, RIGHT):
            if side == state.farmer:
                continue
            bank = self._bank(state, side)
            for rule in self.rules:
                if rule.eater in bank and rule.eaten in bank and (rule.guard is None or rule.guard not in bank):
                    guard = f"the {rule.guard}" if rule.guard else "the farmer"
                    return f"{side} bank has {rule.eater} and {rule.eaten} without {guard}"
        return ""

    def unfinished(self, state: Banks) -> str:
        left = [item for item in self.items if item not in state.right]
        if left:
            return f"the plan ends with {_and(left)} still on the left bank"
        if state.farmer != RIGHT:
            return "the plan ends with the farmer back on the left bank"
        return ""

    def goal(self) -> str:
        return f"the farmer, {_and(self.items)} all on the right bank, and no bank ever unsafe on the way"

    def describe_move(self, move: Crossing) -> str:
        what = "+".join(move.cargo) if move.cargo else "alone"
        arrow = {RIGHT: "→ right", LEFT: "← left", None: "⇄"}[move.to]
        return f"{what} {arrow}"

    def describe_state(self, state: Banks) -> str:
        def bank(side: str) -> str:
            things = ["farmer"] if state.farmer == side else []
            things += [item for item in self.items if item in self._bank(state, side)]
            return ", ".join(things) or "nothing"

        return f"left bank: {bank(LEFT)} | right bank: {bank(RIGHT)}"

    def read(self, text: str, *, cell: bool = False) -> list[Reading]:
        found: list[Reading] = []
        for clause, joined in _clauses(text, whole=cell):
            if found and not (joined or _CONNECTIVE.match(clause) or _LEADS_WITH_MOVE.match(clause)):
                continue
            reading = self._read_clause(clause, cell=cell)
            if reading is not None:
                found.append(reading)
        return found

    # -- reading one clause ------------------------------------------------------

    def _read_clause(self, clause: str, *, cell: bool) -> Reading | None:
        lowered = clause.lower()
        if not cell and (_NOT_A_MOVE.search(lowered) or not _MOTION.search(lowered)):
            return None
        # What follows "leaving ..." / "留下..." describes a bank, not the boat.
        move_part = _LEAVING.split(lowered, maxsplit=1)[0]
        if not cell and not _MOTION.search(move_part):
            move_part = lowered
        cargo = self._items_in(move_part)
        to = _direction(move_part)
        if cargo or cell or _ALONE.search(move_part):
            return Reading(Crossing(tuple(cargo), to), clause)
        if _CARRY.search(move_part):
            return Reading(Unreadable(f"it names nothing the boat could carry ({', '.join(self.items)})"), clause)
        return Reading(Crossing((), to), clause, plain=False)

    def _items_in(self, text: str) -> list[str]:
        taken = [False] * len(text)
        hits: list[tuple[int, str]] = []
        for item, pattern in self._matchers:
            for match in pattern.finditer(text):
                if not any(taken[match.start() : match.end()]):
                    taken[match.start() : match.end()] = [True] * (match.end() - match.start())
                    hits.append((match.start(), item))
        return list(dict.fromkeys(item for _, item in sorted(hits)))

    def _bank(self, state: Banks, side: str) -> frozenset[str]:
        return state.right if side == RIGHT else frozenset(self.items) - state.right


RIVER_CROSSING_5 = RiverCrossing(
    key="river-crossing-5",
    title="农夫过河",
    items=("tiger", "sheep", "snake", "chicken", "apples"),
    names=(
        ("tiger", ("老虎", "虎", "tiger")),
        ("sheep", ("山羊", "绵羊", "小羊", "羊", "sheep", "goat", "lamb")),
        ("snake", ("蛇", "snake", "serpent")),
        ("chicken", ("小鸡", "母鸡", "公鸡", "鸡", "chicken", "chick", "hen", "rooster")),
        ("apples", ("一筐苹果", "一篮苹果", "苹果筐", "苹果", "筐", "篮子", "apple", "basket")),
    ),
    rules=(Rule("tiger", "sheep", "chicken"), Rule("snake", "chicken", "tiger"), Rule("sheep", "apples", "snake")),
)

RIVER_CROSSING_3 = RiverCrossing(
    key="river-crossing-3",
    title="wolf, goat and cabbage",
    items=("wolf", "goat", "cabbage"),
    names=(
        ("wolf", ("狼", "wolf", "wolves")),
        ("goat", ("山羊", "羊", "goat", "sheep")),
        ("cabbage", ("卷心菜", "白菜", "菜", "cabbage")),
    ),
    rules=(Rule("wolf", "goat"), Rule("goat", "cabbage")),
)

#: puzzle key -> puzzle; a new puzzle is one :class:`Puzzle` and one line here
PUZZLES: dict[str, Puzzle[Any]] = {p.key: p for p in (RIVER_CROSSING_5, RIVER_CROSSING_3)}


# --- replay and search -----------------------------------------------------------


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


# --- the checker -----------------------------------------------------------------


def validate(spec: Any) -> None:
    """Raise :class:`SpecError` if the ``plan`` spec is malformed."""
    check_keys(spec, KEYS, name="plan", usage=f"'plan' takes a mapping with 'puzzle' (one of: {', '.join(PUZZLES)})")
    if "puzzle" not in spec:
        raise SpecError(f"'puzzle' is required (one of: {', '.join(PUZZLES)})")
    if spec["puzzle"] not in PUZZLES:
        raise SpecError(f"unknown puzzle {spec['puzzle']!r}; known puzzles: {', '.join(PUZZLES)}", ("puzzle",))
    if "max_steps" in spec:
        value = spec["max_steps"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError("'max_steps' must be a whole number, at least 1", ("max_steps",))


def judge(spec: Mapping[str, Any], text: str) -> Verdict:
    """Read the plan in ``text`` and replay it in the spec's puzzle."""
    puzzle = PUZZLES[spec["puzzle"]]
    max_steps = spec.get("max_steps")
    expected = f"a plan for {puzzle.key} ({puzzle.title}) that ends with {puzzle.goal()}"
    if max_steps is not None:
        expected += f", in at most {max_steps} moves"

    plan = read_plan(puzzle, text)
    if not plan.steps:
        found = f"answer ({len(text)} chars): {_head(text)}" if text.strip() else "(empty answer)"
        if plan.lone_move is None:
            return Verdict(
                passed=False, checker=NAME, expected=expected, found=found, where="",
                why="no plan found: no line of the answer describes a move",
            )
        # one move-like sentence in prose (often the puzzle told again) is no plan to replay
        lone = plan.lone_move
        where = f"the only move-like words, answer line {lone.line}: {_head(lone.quote, QUOTE_WIDTH * 2)}"
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
            before = puzzle.describe_state(result.states[result.failed_step - 1])
            if len(result.states) > result.failed_step:
                where += f"\nafter it: {puzzle.describe_state(result.states[result.failed_step])}"
            else:
                where += f"\nbefore it: {before}"
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
        quote = step.quote if len(step.quote) <= QUOTE_WIDTH else step.quote[: QUOTE_WIDTH - 1] + "…"
        lines.append(f"{number}. {_describe(puzzle, move)}  ({quote}){mark}")
    if len(steps) > SHOWN_STEPS:
        lines.append(f"… and {len(steps) - SHOWN_STEPS} more")
    return f"{len(steps)} steps:\n" + "\n".join(lines)


# --- finding the steps in an answer -------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    """A move read from the answer, with the words it came from."""

    move: Any
    quote: str
    line: int  # 1-based answer line
    span: tuple[int, int]  # offsets of that line in the answer


@dataclass(frozen=True)
class Plan:
    """The steps read from an answer, and which part of the answer they came from."""

    steps: list[PlanStep]
    source: str
    #: with no plan: the one move that prose describes, if any (not a plan on its own)
    lone_move: PlanStep | None = None


@dataclass
class _Piece:
    text: str
    line: int
    span: tuple[int, int]


@dataclass
class _Entry:
    """One step of a list: its own text first, then lines to fall back on when that holds no move."""

    pieces: list[_Piece]
    cell: bool = False


@dataclass
class _List:
    kind: str
    entries: list[_Entry] = field(default_factory=list)
    last_number: int | None = None


def read_plan(puzzle: Puzzle, text: str) -> Plan:
    """The answer's plan: of its step lists (numbered, bullets, tables, paragraphs), the one with the most moves."""
    best: tuple[int, int, list[PlanStep], str] | None = None
    lone: PlanStep | None = None
    for order, candidate in enumerate(_lists(text)):
        steps = _steps_of(puzzle, candidate)
        if not steps:
            continue
        moves = sum(not isinstance(step.move, Unreadable) for step in steps)
        if candidate.kind == PARAGRAPH and moves < 2:
            # a plan in prose is a sequence of moves; one sentence that reads like a move is not one
            lone = lone or steps[0]
            continue
        first, last = min(s.line for s in steps), max(s.line for s in steps)
        source = f"{candidate.kind} at answer line {first}" if first == last else (
            f"{candidate.kind} at answer lines {first}-{last}"
        )
        if best is None or (moves, order) >= (best[0], best[1]):
            best = (moves, order, steps, source)
    return Plan(best[2], best[3]) if best else Plan([], "", lone)


def _steps_of(puzzle: Puzzle, candidate: _List) -> list[PlanStep]:
    steps: list[PlanStep] = []
    for entry in candidate.entries:
        chosen: tuple[_Piece, list[Reading]] | None = None
        for piece in entry.pieces:
            readings = puzzle.read(piece.text, cell=entry.cell)
            if readings and chosen is None:
                chosen = (piece, readings)
            if readings and any(r.plain for r in readings):
                chosen = (piece, readings)
                break
        if chosen is not None:
            piece, readings = chosen
            steps.extend(PlanStep(r.move, " ".join(r.quote.split()), piece.line, piece.span) for r in readings)
    return steps


def _lists(text: str) -> list[_List]:
    """Every list in the answer that may hold the plan, in the order they start."""
    lines = _lines(text)
    found: list[_List] = []
    numbered: dict[tuple[str, int], _List] = {}  # open numbered lists by (kind, indent)
    bullets: dict[int, _List] = {}  # open bulleted lists by indent
    paragraph: _List | None = None
    step: _Entry | None = None  # the numbered step that later lines continue
    item: _Entry | None = None  # the bullet that later lines continue
    i = 0
    while i < len(lines):
        raw, start, end = lines[i]
        line = _clean(raw)
        if line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and _clean(lines[j][0]).lstrip().startswith("|"):
                j += 1
            found.append(_table([(_clean(r), s, e) for r, s, e in lines[i:j]], i + 1))
            bullets.clear()
            paragraph = step = item = None
            i = j
            continue
        i += 1
        here = (i, (start, end))  # this line's number and span
        if not line.strip() or _FENCE.match(line):
            paragraph = None
            continue
        indent = len(line) - len(line.lstrip())
        label = _label(line)
        if label is None:
            if line.lstrip().startswith("#"):  # a heading ends the step it follows
                bullets.clear()
                paragraph = step = item = None
                continue
            for target in (step, item):
                if target is not None:
                    target.pieces.append(_Piece(line, *here))
            if indent == 0:
                bullets.clear()
                item = None
            if paragraph is None:
                paragraph = _List(PARAGRAPH)
                found.append(paragraph)
            paragraph.entries.append(_Entry([_Piece(line, *here)]))
            continue
        kind, number, body_start = label
        title = _label(line[body_start:])
        if title is not None and title[0] in ("chinese", "step"):  # "1. 第一次过河": the title is no move
            body_start += title[2]
        paragraph = None
        entry = _Entry([_Piece(line[body_start:], *here)])
        if kind == "bullet":
            for deeper in [k for k in bullets if k > indent]:
                bullets.pop(deeper)
            current = bullets.get(indent)
            if current is None:
                current = bullets[indent] = _List(_KIND_WORDS[kind])
                found.append(current)
            current.entries.append(entry)
            if step is not None:
                step.pieces.append(_Piece(line[body_start:], *here))
            item = entry
            continue
        bullets.clear()
        current = numbered.get((kind, indent))
        if current is None or (number is not None and current.last_number is not None
                               and number <= current.last_number):
            current = numbered[(kind, indent)] = _List(_KIND_WORDS[kind])
            found.append(current)
        current.last_number = number
        current.entries.append(entry)
        step, item = entry, None
    return found


def _table(rows: list[tuple[str, int, int]], first_line: int) -> _List:
    cells: list[tuple[list[str], int, tuple[int, int]]] = []
    for offset, (source, start, end) in enumerate(rows):
        row = [c.strip() for c in re.split(r"(?<!\\)\|", source.strip().strip("|"))]
        if any(row) and all(re.fullmatch(r":?-{2,}:?", c.replace(" ", "")) for c in row if c):
            continue  # the header's rule
        cells.append((row, first_line + offset, (start, end)))
    table = _List("the table")
    if not cells:
        return table
    header = cells[0][0]
    if sum(bool(_STEP_HEADER.fullmatch(c)) for c in header[1:]) >= 2:
        # a column per step: read each column as a row
        width = max(len(row) for row, _, _ in cells)
        grid = [row + [""] * (width - len(row)) for row, _, _ in cells]
        line, span = cells[0][1], cells[0][2]
        cells = [([grid[r][c] for r in range(len(grid))], line, span) for c in range(width)]
        header = cells[0][0]
        table.kind = "the table (a column per step)"
    body = [row for row, _, _ in cells[1:]]
    move_column = next(
        (k for k, h in enumerate(header)
         if _MOVE_HEADER.search(h.lower()) and not all(k >= len(r) or _STEP_CELL.match(r[k]) for r in body)),
        None,
    )
    way_column = next((k for k, h in enumerate(header) if _WAY_HEADER.search(h.lower())), None)
    for row, line, span in cells[1:]:
        if row and _START_ROW.match(row[0]):
            continue  # the state before the first move
        if move_column is not None:
            text = row[move_column] if move_column < len(row) else ""
            if way_column is not None and way_column != move_column and way_column < len(row):
                text += " " + row[way_column]
            table.entries.append(_Entry([_Piece(text, line, span)], cell=True))
        else:
            pieces = [_Piece(c, line, span) for k, c in enumerate(row) if c and not (k == 0 and _STEP_CELL.match(c))]
            table.entries.append(_Entry(pieces))
    return table


def _lines(text: str) -> list[tuple[str, int, int]]:
    out, offset = [], 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append((body, offset, offset + len(body)))
        offset += len(raw)
    return out


def _clean(line: str) -> str:
    """A line as the reader sees it: markup dropped, circled and full-width forms folded."""
    line = re.sub("[\u2460-\u2473]", lambda m: f"{ord(m.group()) - 0x245F}. ", line)
    line = unicodedata.normalize("NFKC", line)
    line = re.sub(r"<br\s*/?>", " ", line, flags=re.I)
    for mark in ("**", "__", "`", "~~"):
        line = line.replace(mark, "")
    return line


def _label(line: str) -> tuple[str, int | None, int] | None:
    """``(kind, number, where the step's text starts)`` for a step label, or None."""
    match = _LABEL.match(line)
    if not match:
        return None
    if match["bullet"]:
        return "bullet", None, match.end()
    if match["n"] or match["n2"]:
        return ("number" if match["n"] else "paren"), int(match["n"] or match["n2"]), match.end()
    if match["n3"] or match["n4"]:
        return "chinese", read_integer(match["n3"] or match["n4"]), match.end()
    word = match["n5"].lower()
    return "step", int(word) if word.isdigit() else _ENGLISH_NUMBERS[word], match.end()


def _head(text: str, width: int = 120) -> str:
    text = " ⏎ ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the words of a step ------------------------------------------------------------

_ENGLISH_NUMBERS = {
    word: n
    for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
    )
}
_ENGLISH_NUMBER = "|".join(sorted(_ENGLISH_NUMBERS, key=len, reverse=True))
_CN_NUMBER = r"[\d一二两三四五六七八九十]{1,4}"  # a step's number, up to 九十九 (read_integer reads it)
_BULLET = r"[-*+•·▪◦]"

_LABEL = re.compile(
    rf"""^\s*(?:[#>]+\s*)?(?:{_BULLET}\s*)?(?:
        (?P<n>\d{{1,3}})\s*(?:[.)、:](?!\d)|\ufe0f?\u20e3)
      | [(\[](?P<n2>\d{{1,3}})[)\]]
      | 第\s*(?P<n3>{_CN_NUMBER})\s*(?:步|次|趟|轮|回合|程)(?:过河|渡河|操作|行动)?
      | 步骤\s*(?P<n4>{_CN_NUMBER})
      | (?:step|move|trip|crossing|round)\s*\#?\s*(?P<n5>\d{{1,3}}|(?<=step\s)(?:{_ENGLISH_NUMBER}))\b
    )\s*[:.、)\-–—]?\s*
    | ^\s*(?P<bullet>{_BULLET})\s+""",
    re.I | re.X,
)
_KIND_WORDS = {
    "number": "the numbered list",
    "paren": "the numbered list",
    "chinese": "the list of 第N步 steps",
    "step": "the list of 'Step N' steps",
    "bullet": "the bulleted list",
}

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_STEP_HEADER = re.compile(rf"(?:第\s*)?(?:步骤|step|#)?\s*(?:{_CN_NUMBER}|{_ENGLISH_NUMBER})\s*(?:步|次|趟)?", re.I)
_STEP_CELL = re.compile(rf"^(?:第\s*)?(?:步骤|step|#)?\s*{_CN_NUMBER}\s*(?:步|次|趟)?\s*[.:]?$", re.I)
_MOVE_HEADER = re.compile(r"操作|行动|动作|过河|渡河|船|运送|携带|移动|action|move|crossing|boat|carr|cargo|trip|ferr")
_START_ROW = re.compile(
    r"\s*(?:第\s*)?(?:0|〇|零)\s*(?:步|次)?\s*$|\s*(?:初始|开始|起始|出发前|start|initial|begin)", re.I
)
_WAY_HEADER = re.compile(r"方向|去向|direction|\bway\b")

_ARROWS = r"→|->|⟶|➡|➜|=>|⇒|←|<-|⟵|⬅|<=|⇐"
_MOTION = re.compile(
    r"带|载|运|送|携|划|渡|过河|过去|过来|返|回(?!答|合|顾)|独自|单独|空手|空船|乘船|坐船|上船|摆渡|移到|移至|"
    r"(?:去|到|前往)(?:左岸|右岸|对岸|彼岸)|"
    r"\b(?:take[sn]?|took|taking|bring[s]?|brought|bringing|carr(?:y|ies|ied|ying)|ferr(?:y|ies|ied|ying)|"
    r"rows?|rowing|rowed|cross(?:es|ed|ing)?|go(?:es|ing)?|went|return(?:s|ed|ing)?|com(?:e|es|ing)|came|"
    r"back|over|across|mov(?:e|es|ed|ing)|transport(?:s|ed|ing)?|alone|sails?|heads?)\b|" + _ARROWS
)
_CARRY = re.compile(
    r"带|载|运|送|携|\b(?:take[sn]?|took|taking|bring[s]?|brought|carr(?:y|ies|ied|ying)|ferr(?:y|ies|ied)|"
    r"transport(?:s|ed|ing)?|with)\b"
)
_ALONE = re.compile(
    r"独自|单独|空手|空船|空着|空载|一个人|只身|自己|不带|无货|"
    r"\b(?:alone|by (?:him|her)self|empty|nothing|empty[- ]handed|no (?:cargo|items?|passengers?)|"
    r"without (?:any )?(?:cargo|items?|passengers?)|unaccompanied|solo)\b|"
    r"^\s*(?:农夫|农民|farmer|空|无|none|—|-|–)?\s*(?:" + _ARROWS + r")?\s*$"
)
_NOT_A_MOVE = re.compile(
    r"吃|不能|不可|不会|阻止|如果|假如|假设|若|否则|所有|全部|总共|一共|共\s*\d|\d+\s*(?:次|步|趟)|只能|(?<!第)一次|每次|"
    r"关键|思路|策略|原则|注意|[?？]|\b(?:eat(?:s|en|ing)?|ate|cannot|can't|must not|mustn't|would|if|otherwise|"
    r"prevents?|all|everything|total|\d+\s*(?:crossings|trips|steps|moves|times)|can only|at a time|at most|"
    r"key|idea|trick|strategy|is to)\b"
)
_LEAVING = re.compile(r"留下|留在|剩下|剩余|此时|这时|\b(?:leaving|leaves?|while|so that)\b")
_CONNECTIVE = re.compile(
    r"^\s*(?:然后|再|接着|随后|之后|后|并|又|最后|接下来|下一步|then|and|next|finally|after that)", re.I
)
_LEADS_WITH_MOVE = re.compile(
    r"^\s*(?:农夫|农民|他|带|载|运|送|划|返回|回|独自|单独|空手|"
    r"(?:the )?farmer|he\b|take|bring|carry|row|return|go|come|cross|ferry)",
    re.I,
)
_PARENTHESES = re.compile(r"[(（][^()（）]*[)）]")
_SPLIT_AT = re.compile(
    r"[,，。;；!！]|(?<!\d)\.(?!\d)|(?<=[?？])"
    r"|\s+(?:and\s+)?then\s+|\s+and\s+(?=(?:return|come|go|row|cross|take|bring|carr|ferr|head)\w*)"
    r"|(?:然后|随后|接着|之后|后|再|并且|并)(?=\s*(?:农夫|他)?\s*(?:独自|单独|空手|返|回|带|载|运|送|划|过河|把))",
    re.I,
)
_CHAIN = re.compile(r"\s*(?:→|->|⟶|➡️?|➜|=>|⇒)\s*")

_BANK_WORDS = (
    r"左岸|右岸|起点|出发地|原岸|此岸|本岸|彼岸|终点|目的地|"
    r"(?:left|right|starting|start|original|near|home|first|far|destination|goal|target)\s+(?:bank|side|shore)"
)
_TO_BANK = re.compile(
    r"(?:到|至|去|往|向|回|返回|抵达|到达|→|->|\bto\b|\btowards?\b|\bonto\b|\breach\w*|\barriv\w* at)"
    rf"\s*(?:the\s+)?(?P<bank>{_BANK_WORDS})"
)
_FROM_BANK = re.compile(rf"(?:从|自|离开|\bfrom\b)\s*(?:the\s+)?(?P<bank>{_BANK_WORDS})")
_LEFT_BANK = re.compile(r"左岸|起点|出发|原岸|此岸|本岸|left|start|original|near|home|first")
_BACK = re.compile(r"返|回(?!答|合|顾)|\bback\b|\breturn\w*|←|<-|⟵|⬅|<=|⇐")
_FORTH = re.compile(r"→|->|⟶|➡|➜|=>|⇒")


def _clauses(text: str, *, whole: bool = False) -> list[tuple[str, bool]]:
    """``text`` cut into clauses; True marks a clause an arrow joins to the one before it."""
    bare = text
    while (again := _PARENTHESES.sub(" ", bare)) != bare:
        bare = again
    if not bare.strip() or (not whole and not _MOTION.search(bare.lower())):
        bare = re.sub(r"[()（）]", " ", text)  # the move itself was in parentheses
    if whole:
        return [(bare.strip(), False)] if bare.strip() else []
    out: list[tuple[str, bool]] = []
    for clause in _SPLIT_AT.split(bare):
        if not clause or not clause.strip():
            continue
        pieces = [p for p in _CHAIN.split(clause) if p.strip()]
        if len(pieces) >= 2 and all(_MOTION.search(p.lower()) for p in pieces):
            out.extend((piece.strip(), index > 0) for index, piece in enumerate(pieces))
        else:
            out.append((clause.strip(), False))
    return out


def _direction(clause: str) -> str | None:
    """The bank a clause sends the boat to, when it says so."""
    target = _TO_BANK.search(clause)
    if target:
        return LEFT if _LEFT_BANK.search(target["bank"]) else RIGHT
    if _BACK.search(clause):
        return LEFT
    if _FORTH.search(clause):
        return RIGHT
    source = _FROM_BANK.search(clause)
    if source:
        return RIGHT if _LEFT_BANK.search(source["bank"]) else LEFT
    return None


def _other(side: str) -> str:
    return RIGHT if side == LEFT else LEFT


def _and(words: Iterable[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _count(n: int) -> str:
    return "one item" if n == 1 else f"{n} items"


def parse(spec: Any) -> Mapping[str, Any]:
    validate(spec)
    return spec


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
