"""Reading a proposed plan out of an answer: the step lists it holds, and the one that is the plan.

Candidate step lists are numbered lines (``1.``, ``1)``, ``(1)``, ``①``,
``第1步``, ``第一次``, ``步骤1``, ``Step 1:``, also as headings or in bold),
bullets, Markdown tables and plain paragraphs. A table has a row per step or a
column per step; the move is read from a column headed like
操作/船上/action/boat, a 方向/direction column adds the direction, and a step-0
row (the start) is skipped. The puzzle reads each step's text into moves
(:meth:`.Puzzle.read`). The list with the most moves wins; on a tie, the later
one (the final answer usually comes last). Prose that describes one move at
most is no plan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pytest_gptoss.checkers.numerals import read_integer
from pytest_gptoss.checkers.plan.puzzle import Puzzle, Reading, Unreadable

PARAGRAPH = "the paragraph"


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


# --- the words of a step label ----------------------------------------------------

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
