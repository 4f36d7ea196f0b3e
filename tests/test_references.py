"""Proof that the seed suite's reference answers are right, each by a fast, independent computation.

Where a case file holds the answer (``cases/*.yaml``), the test reads it from
there, so a changed reference cannot slip past. The two Text-to-SQL references
are run on the article's data, and their rows compared with rows worked out by
hand, in ``tests/test_checker_sql.py``
(``test_seed_orders_reference_answer_passes_and_shows_its_rows`` and
``test_seed_scores_reference_answer_passes_as_a_bag``).
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pytest_gptoss.cases import parse_yaml
from pytest_gptoss.checkers import plan
from pytest_gptoss.checkers.plan.puzzle import solve
from pytest_gptoss.sandbox import run_program

CASES = Path(__file__).resolve().parent.parent / "cases"


def suite_case(case_id: str) -> dict[str, Any]:
    """The suite's case ``case_id``, read straight from the case files."""
    for path in sorted(CASES.glob("*.yaml")):
        for case in (parse_yaml(path.read_text(encoding="utf-8")) or {}).get("cases", []):
            if case.get("id") == case_id:
                return case
    pytest.fail(f"no case {case_id!r} in {CASES}")


def suite_check(case_id: str) -> Any:
    """The ``check`` of the suite's case ``case_id``."""
    return suite_case(case_id)["check"]


def numeric_answers(check: Any) -> list[Any]:
    """Every ``numeric`` answer anywhere in a check (lists and compositions included)."""
    if isinstance(check, list):
        return [a for item in check for a in numeric_answers(item)]
    if isinstance(check, dict):
        found = [check["numeric"]["answer"]] if "numeric" in check else []
        return found + [a for key in ("all", "any", "not") if key in check for a in numeric_answers(check[key])]
    return []


# --- (a) 179424673 is the 10,000,000th prime --------------------------------------------

SIEVE = """\
N = {n}
size = (N + 1) // 2                     # index i stands for the odd number 2 * i + 1 (up to N)
odd = bytearray([1]) * size
odd[0] = 0                              # 1 is not prime
i = 1
while (2 * i + 1) ** 2 <= N:
    if odd[i]:
        p = 2 * i + 1
        start = p * p // 2
        odd[start::p] = bytes(len(range(start, size, p)))
    i += 1
print(odd.count(1) + 1, int(N == 2 or N % 2 == 1 and odd[N // 2]))  # primes up to N (2 and the odd ones); is N one
"""


@pytest.mark.parametrize("n", [2, 3, 9, 97, 100, 7919, 7921])
def test_the_sieve_agrees_with_trial_division_on_small_numbers(n, capsys):
    exec(SIEVE.format(n=n), {})  # our own program, small enough to run here
    count, last = map(int, capsys.readouterr().out.split())
    primes = [k for k in range(2, n + 1) if all(k % d for d in range(2, int(k**0.5) + 1))]
    assert count == len(primes)
    assert last == (n in primes)


def test_179424673_is_the_10_000_000th_prime():
    assert suite_check("prime-index")["code"]["stdout"] == "10000000"
    result = run_program(SIEVE.format(n=179424673), timeout=60, memory_mb=256)
    assert result.ok, result
    # 10,000,000 primes up to 179424673, and 179424673 is one of them: it is the 10,000,000th.
    assert result.stdout.split() == ["10000000", "1"]


# --- (b) the bottle exchange: at most 2700 ml --------------------------------------------

BIG, SMALL = 500, 100  # ml


def exchanges(money: int, big: int, small: int) -> list[tuple[int, tuple[int, int, int], str]]:
    """(ml drunk, next state, what was done) for every move from (money, big empties, small empties).

    A drink is drunk at once and leaves its empty bottle.
    """
    moves = []
    if money >= 3:
        moves.append((BIG, (money - 3, big + 1, small), "buy a big bottle"))
    if money >= 1:
        moves.append((SMALL, (money - 1, big, small + 1), "buy a small bottle"))
    if big >= 3:
        moves.append((BIG, (money, big - 3 + 1, small), "3 big empties for a big bottle"))
    if big >= 1:
        moves.append((SMALL, (money, big - 1, small + 1), "1 big empty for a small bottle"))
    if small >= 4:
        moves.append((SMALL, (money, big, small - 4 + 1), "4 small empties for a small bottle"))
    if small >= 5:
        moves.append((BIG, (money, big + 1, small - 5), "5 small empties for a big bottle"))
    return moves


@cache
def most_ml(money: int, big: int, small: int) -> int:
    """The most ml that can still be drunk from this state (exhaustive, memoised)."""
    return max([ml + most_ml(*state) for ml, state, _ in exchanges(money, big, small)], default=0)


def test_every_exchange_makes_progress_so_the_search_ends():
    # 4*money + 3*big + small drops with every move, so no state repeats and the recursion ends.
    for money, big, small in itertools.product(range(13), range(10), range(15)):
        for _, (m, b, s), _ in exchanges(money, big, small):
            assert 4 * m + 3 * b + s < 4 * money + 3 * big + small


def test_the_most_one_can_drink_for_12_yuan_is_2700_ml():
    assert numeric_answers(suite_check("bottle-exchange")) == [2700]
    assert most_ml(12, 0, 0) == 2700
    # and a sequence of moves that reaches it
    state, drunk, steps = (12, 0, 0), 0, []
    while most_ml(*state):
        ml, state, what = max(exchanges(*state), key=lambda m: m[0] + most_ml(*m[1]))
        drunk += ml
        steps.append(what)
    assert drunk == 2700
    assert steps[:4] == ["buy a big bottle"] * 4


# --- (c) the frog never gets out ---------------------------------------------------------


def frog_days(depth: Fraction = Fraction(16)) -> list[dict[str, Fraction | int | bool]]:
    """Day by day: the climb, the height at the top of the day, the slide, the height at dawn.

    Day 1 climbs 4 m and slides 1 m at night; each later day climbs 0.5 m less
    and slides 0.5 m more; the frog cannot go below the bottom; once its climb
    is zero or less it cannot climb at all, and the simulation stops.
    """
    height, climb, slide, days = Fraction(0), Fraction(4), Fraction(1), []
    for day in itertools.count(1):
        if climb <= 0:
            days.append({"day": day, "climb": climb, "top": height, "out": False, "dawn": height})
            return days
        top = height + climb
        out = top >= depth
        dawn = top if out else max(Fraction(0), top - slide)
        days.append({"day": day, "climb": climb, "top": top, "out": out, "dawn": dawn})
        if out:
            return days
        height, climb, slide = dawn, climb - Fraction(1, 2), slide + Fraction(1, 2)


def test_the_frog_never_gets_out_of_the_16_m_well():
    days = frog_days()
    assert not any(d["out"] for d in days)
    best = max(days, key=lambda d: d["top"])
    assert (best["day"], best["top"]) == (4, Fraction(17, 2))  # 8.5 m on day 4, as the article says
    assert [d["top"] for d in days[:8]] == [4, Fraction(13, 2), 8, Fraction(17, 2), 8, Fraction(13, 2), 4,
                                            Fraction(1, 2)]
    assert days[6]["dawn"] == 0  # back at the bottom after night 7
    assert (days[-1]["day"], days[-1]["climb"]) == (9, 0)  # from day 9 it cannot climb at all
    # A shallower well is escaped, so the simulation can tell the two apart.
    assert frog_days(Fraction(8))[-1]["out"]


# --- (d) the cube: 5 is opposite 3 ---------------------------------------------------------

FACES = ("top", "bottom", "front", "back", "left", "right")
OPPOSITE = {"top": "bottom", "bottom": "top", "front": "back", "back": "front", "left": "right", "right": "left"}


def rotations() -> list[dict[str, str]]:
    """All 24 rotations of the cube, as maps from a face to the face it moves to."""
    turn_vertical = {"front": "right", "right": "back", "back": "left", "left": "front",
                     "top": "top", "bottom": "bottom"}
    tip_forward = {"top": "front", "front": "bottom", "bottom": "back", "back": "top",
                   "left": "left", "right": "right"}
    identity = {f: f for f in FACES}
    found, todo = {tuple(identity.values()): identity}, [identity]
    while todo:
        r = todo.pop()
        for g in (turn_vertical, tip_forward):
            composed = {f: g[r[f]] for f in FACES}
            if tuple(composed.values()) not in found:
                found[tuple(composed.values())] = composed
                todo.append(composed)
    return list(found.values())


ROTATIONS = rotations()


def cube_labellings(*, with_3_5_clue: bool = True) -> list[dict[int, str]]:
    """Every labelling (number -> face) that satisfies the article's clues."""
    out = []
    for faces in itertools.permutations(FACES):
        at = dict(zip(range(1, 7), faces, strict=True))
        if OPPOSITE[at[1]] == at[6]:
            continue  # 1's opposite is not 6
        if OPPOSITE[at[2]] == at[4]:
            continue  # 2 and 4 are adjacent
        if with_3_5_clue and OPPOSITE[at[3]] != at[5]:
            continue  # 3 and 5 are not adjacent: on a cube, that makes them opposite
        if not any(r[at[1]] == "top" and r[at[2]] == "front" for r in ROTATIONS):
            continue  # the cube can be turned so that 1 is on top and 2 in front
        out.append(at)
    return out


def test_the_cube_has_24_rotations_that_keep_opposite_faces_opposite():
    assert len(ROTATIONS) == 24
    for r in ROTATIONS:
        assert all(r[OPPOSITE[f]] == OPPOSITE[r[f]] for f in FACES)


def test_5_is_opposite_3_in_every_labelling_that_fits_the_clues():
    assert 3 in numeric_answers(suite_check("cube-opposite"))
    labellings = cube_labellings()
    assert labellings  # the clues can be met
    opposite_of_5 = {next(n for n, face in at.items() if face == OPPOSITE[at[5]]) for at in labellings}
    assert opposite_of_5 == {3}
    # Without the 3-and-5 clue the answer would not be fixed, so that clue is what decides it.
    looser = cube_labellings(with_3_5_clue=False)
    assert len({next(n for n, f in at.items() if f == OPPOSITE[at[5]]) for at in looser}) > 1


# --- (e) the river crossing: solvable, shortest plan 9 crossings -------------------------------

ITEMS = ("tiger", "sheep", "snake", "chicken", "apples")
RULES = (("tiger", "sheep", "chicken"), ("snake", "chicken", "tiger"), ("sheep", "apples", "snake"))
ALL = (1 << len(ITEMS)) - 1


def bank_is_safe(mask: int) -> bool:
    has = {item for i, item in enumerate(ITEMS) if mask >> i & 1}
    return not any(eater in has and eaten in has and guard not in has for eater, eaten, guard in RULES)


def shortest_plans() -> list[tuple[str | None, ...]]:
    """Every shortest plan, by a breadth-first search of its own (bit masks of the left bank)."""
    start, goal = (ALL, True), (0, False)  # (items on the left bank, farmer on the left bank)
    layer, seen, plans = {start: [()]}, {start}, []
    while layer and not plans:
        following: dict[tuple[int, bool], list[tuple[str | None, ...]]] = {}
        for (left, farmer_left), paths in layer.items():
            here = left if farmer_left else ALL & ~left
            for cargo in (None, *range(len(ITEMS))):
                if cargo is not None and not here >> cargo & 1:
                    continue
                moved = left if cargo is None else left ^ (1 << cargo)
                state = (moved, not farmer_left)
                unattended = moved if farmer_left else ALL & ~moved
                if state in seen or not bank_is_safe(unattended):
                    continue
                name = None if cargo is None else ITEMS[cargo]
                following.setdefault(state, []).extend(path + (name,) for path in paths)
        seen.update(following)
        plans = following.get(goal, [])
        layer = following
    return plans


def test_the_river_crossing_is_solvable_and_its_shortest_plan_has_9_crossings():
    plans = shortest_plans()
    assert plans and {len(p) for p in plans} == {9}
    assert ("sheep", None, "chicken", None, "tiger", None, "snake", None, "apples") in plans
    found = solve(plan.PUZZLES["river-crossing-5"])
    assert found is not None
    assert tuple(m.cargo[0] if m.cargo else None for m in found) in plans


def written(cargos: list[str | None]) -> str:
    names = {"tiger": "老虎", "sheep": "羊", "snake": "蛇", "chicken": "鸡", "apples": "苹果"}
    return "\n".join(
        f"第{i}步：农夫带{names[c]}过河" if c else f"第{i}步：农夫独自过河" for i, c in enumerate(cargos, start=1)
    )


def test_the_plan_checker_accepts_the_shortest_plan_and_rejects_every_single_step_corruption():
    spec = {"puzzle": "river-crossing-5", "max_steps": 9}
    best = list(shortest_plans()[0])
    assert plan.CHECKER.check(spec, written(best)).passed
    corrupted = [best[:i] + best[i + 1 :] for i in range(len(best))]
    corrupted += [
        [best[j] if k == i else best[i] if k == j else c for k, c in enumerate(best)]
        for i, j in itertools.combinations(range(len(best)), 2)
        if best[i] != best[j]
    ]
    corrupted += [best[:i] + [other] + best[i + 1 :] for i in range(len(best)) for other in (None, *ITEMS)
                  if other != best[i]]
    assert len(corrupted) == 9 + 30 + 45
    for wrong in corrupted:
        verdict = plan.CHECKER.check(spec, written(wrong))
        assert not verdict.passed, (wrong, verdict.explain())


# --- the code-understanding answer: mystery(10) is 55 ----------------------------------------

def test_mystery_is_fibonacci_and_mystery_10_is_55():
    assert numeric_answers(suite_check("fibonacci-mystery")) == [55]
    # the article's own code, as the shipped case asks about it (the question follows it)
    code = suite_case("fibonacci-mystery")["prompt"].split("这个函数的作用是什么")[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    fib = [0, 1]
    while len(fib) <= 40:
        fib.append(fib[-1] + fib[-2])
    assert [namespace["mystery"](n) for n in range(41)] == fib
    assert namespace["mystery"](10) == 55
