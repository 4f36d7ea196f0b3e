"""The river crossing: a farmer ferries items across a river, and some eat others while he is away.

The state machine: who is on which bank; a move is one trip of the boat. A
move is checked (is the cargo on the farmer's bank, does it fit the boat, does a
stated direction agree), then both banks after it (what eats what without the
farmer), and at the end the goal (everything on the right bank).

How a crossing is written: a step names what is in the boat (``农夫带羊过河``,
``带着鸡回来``, ``farmer returns alone``, ``Take the goat across``; synonyms such
as 虎/tiger, 山羊/goat, 小鸡/hen, 一筐苹果/basket count) and maybe where it goes
(``返回``/``back`` or a named bank); without one, the boat goes to the other
bank. A step's text is cut into clauses: the first clause that describes a move
is the step, and a later clause is a further step only when it starts like one
(``然后独自返回``, ``then return alone``); steps joined by arrows
(``带羊过河 → 独自返回``) are steps too. Text in parentheses, questions,
conditionals (``如果``, ``if``), rules (``吃``, ``eats``, ``cannot``), advice
(``关键``, ``the key is``) and counts (``共9次``) are not moves. A step that reads
like a move but names nothing the boat could carry is :class:`.Unreadable`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from pytest_gptoss.checkers.plan.puzzle import Puzzle, Reading, Unreadable


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


# --- the words of a crossing ------------------------------------------------------

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
