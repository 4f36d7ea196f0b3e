"""The ``plan`` checker: the river crossing's state machine, reading plans in many styles, and verdicts."""

from __future__ import annotations

import itertools

import pytest
from chinese_numerals import chinese
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import assert_fails, assert_passes

from pytest_gptoss.checkers import plan
from pytest_gptoss.checkers.plan.puzzle import Unreadable, replay, solve
from pytest_gptoss.checkers.plan.reader import read_plan
from pytest_gptoss.checkers.plan.river import Crossing, RiverCrossing, Rule
from pytest_gptoss.verdict import SpecError, Verdict

PUZZLE = plan.PUZZLES["river-crossing-5"]
SPEC = {"puzzle": "river-crossing-5"}
ITEMS = ("tiger", "sheep", "snake", "chicken", "apples")
SHORTEST = solve(PUZZLE)

CN = {"tiger": "老虎", "sheep": "羊", "snake": "蛇", "chicken": "鸡", "apples": "苹果"}
EN = {"tiger": "tiger", "sheep": "sheep", "snake": "snake", "chicken": "chicken", "apples": "apples"}
SYNONYMS_CN = {
    "tiger": ["老虎", "虎"],
    "sheep": ["羊", "山羊", "小羊"],
    "snake": ["蛇"],
    "chicken": ["鸡", "小鸡", "母鸡"],
    "apples": ["苹果", "一筐苹果"],
}
SYNONYMS_EN = {
    "tiger": ["tiger"],
    "sheep": ["sheep", "goat"],
    "snake": ["snake"],
    "chicken": ["chicken", "hen"],
    "apples": ["apples", "basket of apples", "basket"],
}


def cargo(moves: list) -> list[str | None]:
    return [m.cargo[0] if m.cargo else None for m in moves]


def unsafe(bank: set[str]) -> bool:
    """The three rules of the seed article, written out once more, independently of the checker."""
    return (
        {"tiger", "sheep"} <= bank and "chicken" not in bank
        or {"snake", "chicken"} <= bank and "tiger" not in bank
        or {"sheep", "apples"} <= bank and "snake" not in bank
    )


def solves(cargos: list[str | None]) -> bool:
    """An independent simulation: does carrying ``cargos`` in turn (None: alone) solve the puzzle?"""
    left, farmer_left = set(ITEMS), True
    for item in cargos:
        here = left if farmer_left else set(ITEMS) - left
        if item is not None and item not in here:
            return False
        if item is not None:
            (left.discard if farmer_left else left.add)(item)
        farmer_left = not farmer_left
        if unsafe(left if not farmer_left else set(ITEMS) - left):
            return False
    return not left and not farmer_left


def moves_of(cargos: list[str | None]) -> list[Crossing]:
    return [Crossing((item,) if item else ()) for item in cargos]


def numbered_cn(cargos: list[str | None]) -> str:
    return "\n".join(
        f"{i}. 农夫带{CN[item]}过河" if item else f"{i}. 农夫独自过河" for i, item in enumerate(cargos, start=1)
    )


def judge(answer: str, **spec) -> Verdict:
    verdict = plan.CHECKER.check({**SPEC, **spec}, answer)
    assert verdict.checker == "plan"
    return verdict


# --- spec -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SPEC, {"puzzle": "river-crossing-3"}, {**SPEC, "max_steps": 9}])
def test_valid_specs(spec):
    plan.CHECKER.parse(spec)


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ("river-crossing-5", (), "mapping"),
        ({}, (), "'puzzle' is required"),
        ({"puzzle": "hanoi"}, ("puzzle",), "unknown puzzle 'hanoi'"),
        ({"puzzle": ["river-crossing-5"]}, ("puzzle",), "unknown puzzle \\['river-crossing-5'\\]"),
        ({**SPEC, "steps": 9}, ("steps",), "unknown key 'steps'"),
        ({**SPEC, "max_steps": 0}, ("max_steps",), "at least 1"),
        ({**SPEC, "max_steps": True}, ("max_steps",), "whole number"),
        ({**SPEC, "max_steps": 9.5}, ("max_steps",), "whole number"),
    ],
)
def test_invalid_specs_name_the_field(spec, path, message):
    with pytest.raises(SpecError, match=message) as info:
        plan.CHECKER.parse(spec)
    assert info.value.path == path


# --- the state machine and the search ----------------------------------------------------


def test_the_shortest_plan_has_nine_crossings_and_replays_cleanly():
    assert len(SHORTEST) == 9
    assert solves(cargo(SHORTEST))
    result = replay(PUZZLE, SHORTEST)
    assert result.passed and result.why == ""
    assert len(result.states) == 10 and not PUZZLE.unfinished(result.states[-1])
    # every return trip of the shortest plan is made alone
    assert cargo(SHORTEST)[1::2] == [None] * 4


def test_the_wolf_goat_cabbage_puzzle_needs_seven_crossings():
    wolf = plan.PUZZLES["river-crossing-3"]
    shortest = solve(wolf)
    assert shortest is not None and len(shortest) == 7
    answer = """1. 农夫带羊过河
2. 农夫独自返回
3. 农夫带狼过河
4. 农夫带羊回来
5. 农夫带白菜过河
6. 农夫独自返回
7. 农夫带羊过河"""
    assert_passes(plan.CHECKER.check({"puzzle": "river-crossing-3"}, answer))
    assert_fails(plan.CHECKER.check({"puzzle": "river-crossing-3"}, "1. Take the wolf across."),
                 "step 1: left bank has goat and cabbage without the farmer")


def test_search_finds_nothing_for_an_unsolvable_puzzle():
    stuck = RiverCrossing(
        key="stuck", title="three who eat each other", items=("a", "b", "c"),
        names=(("a", ("a",)), ("b", ("b",)), ("c", ("c",))),
        rules=(Rule("a", "b"), Rule("b", "c"), Rule("c", "a")),
    )
    assert solve(stuck) is None


def corruptions(moves: list[Crossing]) -> list[tuple[str, list[Crossing]]]:
    """Every single-step corruption: drop a step, swap two different steps, change what one step carries."""
    out = []
    for i in range(len(moves)):
        out.append((f"drop {i + 1}", moves[:i] + moves[i + 1 :]))
    for i, j in itertools.combinations(range(len(moves)), 2):
        if moves[i] != moves[j]:
            swapped = list(moves)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            out.append((f"swap {i + 1} and {j + 1}", swapped))
    for i, move in enumerate(moves):
        for other in [(), *((item,) for item in ITEMS)]:
            if other != move.cargo:
                changed = list(moves)
                changed[i] = Crossing(other)
                out.append((f"step {i + 1} carries {other or 'nothing'}", changed))
    return out


IMPLICIT = [Crossing(m.cargo) for m in SHORTEST]  # directions left to the boat
CORRUPTIONS = corruptions(IMPLICIT)


def test_there_are_as_many_corruptions_as_expected():
    swaps = sum(a != b for a, b in itertools.combinations(IMPLICIT, 2))
    assert swaps == 36 - 6  # the four alone-returns are interchangeable
    assert len(CORRUPTIONS) == 9 + swaps + 9 * 5


@pytest.mark.parametrize(("name", "moves"), CORRUPTIONS, ids=[name for name, _ in CORRUPTIONS])
def test_every_single_step_corruption_of_the_shortest_plan_is_rejected(name, moves):
    assert not solves(cargo(moves))  # the independent simulation agrees that it is wrong
    assert not replay(PUZZLE, moves).passed
    verdict = judge(numbered_cn(cargo(moves)))
    assert_fails(verdict)
    assert verdict.details["steps"] and len(verdict.details["steps"]) == len(moves), verdict.explain()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_replay_agrees_with_an_independent_simulation(data):
    # Mostly legal picks (an item on the farmer's bank), so that some plans get far.
    cargos: list[str | None] = []
    left, farmer_left = set(ITEMS), True
    for _ in range(data.draw(st.integers(0, 13))):
        here = sorted(left if farmer_left else set(ITEMS) - left)
        item = data.draw(st.sampled_from([None, *here]) if data.draw(st.integers(0, 9)) else st.sampled_from(ITEMS))
        cargos.append(item)
        if item in here:
            (left.discard if farmer_left else left.add)(item)
        farmer_left = not farmer_left
    assert replay(PUZZLE, moves_of(cargos)).passed == solves(cargos)
    if cargos:
        assert judge(numbered_cn(cargos)).passed == solves(cargos)


# --- reading plans ---------------------------------------------------------------------

SHORTEST_CARGO = cargo(SHORTEST)

STYLES = {
    "chinese numbered list": """好的，下面给出一种安全的方案。

1. 农夫带羊过河。（此时左岸：老虎、蛇、鸡、苹果，安全）
2. 农夫独自返回。
3. 农夫带鸡过河。
4. 农夫独自返回。
5. 农夫带老虎过河。
6. 农夫独自返回。
7. 农夫带蛇过河。
8. 农夫独自返回。
9. 农夫带苹果过河。

这样，所有东西都安全到达了对岸。""",
    "第N步 in bold with state lines": """**第1步**：农夫带羊过河
左岸：老虎、蛇、鸡、苹果；右岸：羊
**第2步**：农夫独自返回左岸
**第3步**：农夫带着小鸡过河
**第4步**：农夫空手回来
**第5步**：农夫带老虎到右岸
**第6步**：农夫独自回来
**第7步**：带蛇过河
**第8步**：一个人返回
**第9步**：带一筐苹果过河""",
    "步骤N and 第一次 titles with sub-bullets": """步骤1：第一次过河
   - 农夫带山羊过河
   - 左岸剩下老虎、蛇、鸡和苹果（鸡在，老虎不吃羊也不会发生）
步骤2：第一次返回
   - 农夫独自返回
步骤3：第二次过河
   - 农夫带鸡过河
步骤4：返回
   - 农夫独自返回
步骤5：第三次过河
   - 农夫带虎过河
步骤6：返回
   - 农夫独自返回
步骤7：第四次过河
   - 农夫带蛇过河
步骤8：返回
   - 农夫独自返回
步骤9：第五次过河
   - 农夫带苹果过河""",
    "english bullets": """Here's a plan that keeps every bank safe:

- The farmer takes the goat across.
- He returns alone.
- He takes the hen across.
- He goes back alone.
- He takes the tiger over to the far bank.
- He rows back by himself.
- He takes the snake across, leaving the apples on the left bank.
- He comes back empty-handed.
- He takes the basket of apples across.

Each bank stays safe at every step.""",
    "english Step N with two moves a line": """Step 1: Take the sheep across, then return alone.
Step 2: Take the chicken across and return alone.
Step 3: Take the tiger across; come back alone.
Step 4: Take the snake across and then go back by yourself.
Step 5: Finally take the apples across.""",
    "markdown table, a row per step": """| 步骤 | 操作 | 左岸 | 右岸 |
|---|---|---|---|
| 1 | 农夫带羊过河 | 老虎、蛇、鸡、苹果 | 农夫、羊 |
| 2 | 农夫独自返回 | 农夫、老虎、蛇、鸡、苹果 | 羊 |
| 3 | 农夫带鸡过河 | 老虎、蛇、苹果 | 农夫、羊、鸡 |
| 4 | 农夫返回 | 农夫、老虎、蛇、苹果 | 羊、鸡 |
| 5 | 农夫带老虎过河 | 蛇、苹果 | 农夫、羊、鸡、老虎 |
| 6 | 农夫返回 | 农夫、蛇、苹果 | 羊、鸡、老虎 |
| 7 | 农夫带蛇过河 | 苹果 | 农夫、羊、鸡、老虎、蛇 |
| 8 | 农夫返回 | 农夫、苹果 | 羊、鸡、老虎、蛇 |
| 9 | 农夫带苹果过河 | — | 全部 |""",
    "markdown table with a boat and a direction column": """**解法（共 9 次渡河）**

| 次序 | 船上（农夫 + ） | 方向 | 左岸剩余 | 右岸 |
|------|----------------|------|----------|------|
| 1 | 羊 | → | 虎、蛇、鸡、苹果 | 羊 |
| 2 | — | ← | 虎、蛇、鸡、苹果 | 羊 |
| 3 | 鸡 | → | 虎、蛇、苹果 | 羊、鸡 |
| 4 | — | ← | 虎、蛇、苹果 | 羊、鸡 |
| 5 | 虎 | → | 蛇、苹果 | 羊、鸡、虎 |
| 6 | — | ← | 蛇、苹果 | 羊、鸡、虎 |
| 7 | 蛇 | → | 苹果 | 羊、鸡、虎、蛇 |
| 8 | — | ← | 苹果 | 羊、鸡、虎、蛇 |
| 9 | 苹果 | → | — | 全部 |""",
    "english table with a trip column": """| Trip | Boat | Left bank after | Right bank after |
|---|---|---|---|
| 1 | Farmer + sheep → | tiger, snake, chicken, apples | sheep |
| 2 | Farmer ← | tiger, snake, chicken, apples | sheep |
| 3 | Farmer + chicken → | tiger, snake, apples | sheep, chicken |
| 4 | Farmer ← | tiger, snake, apples | sheep, chicken |
| 5 | Farmer + tiger → | snake, apples | sheep, chicken, tiger |
| 6 | Farmer ← | snake, apples | sheep, chicken, tiger |
| 7 | Farmer + snake → | apples | sheep, chicken, tiger, snake |
| 8 | Farmer ← | apples | sheep, chicken, tiger, snake |
| 9 | Farmer + apples → | – | everything |""",
    "markdown table with a starting row": """**答案（9 步）**

| 步 | 船上 | 左岸 | 右岸 |
|---|---|---|---|
| 0 | – | 农夫、虎、羊、蛇、鸡、苹果 | – |
| 1 | 农夫 + 羊 → | 虎、蛇、鸡、苹果 | 农夫、羊 |
| 2 | 农夫 ← | 农夫、虎、蛇、鸡、苹果 | 羊 |
| 3 | 农夫 + 鸡 → | 虎、蛇、苹果 | 农夫、羊、鸡 |
| 4 | 农夫 ← | 农夫、虎、蛇、苹果 | 羊、鸡 |
| 5 | 农夫 + 虎 → | 蛇、苹果 | 农夫、羊、鸡、虎 |
| 6 | 农夫 ← | 农夫、蛇、苹果 | 羊、鸡、虎 |
| 7 | 农夫 + 蛇 → | 苹果 | 农夫、羊、鸡、虎、蛇 |
| 8 | 农夫 ← | 农夫、苹果 | 羊、鸡、虎、蛇 |
| 9 | 农夫 + 苹果 → | – | 农夫、虎、羊、蛇、鸡、苹果 |""",
    "markdown table, a column per step": """方案如下：

| 步骤 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
|---|---|---|---|---|---|---|---|---|---|
| 船上 | 羊 | 农夫 | 鸡 | 农夫 | 老虎 | 农夫 | 蛇 | 农夫 | 苹果 |
| 方向 | → | ← | → | ← | → | ← | → | ← | → |""",
    "arrows in one line": "答案：带羊过河 → 独自返回 → 带鸡过河 → 独自返回 → 带老虎过河 → 独自返回 → "
    "带蛇过河 → 独自返回 → 带苹果过河",
    "circled numbers and arrows": """① 农夫 + 羊 →
② 农夫 ←
③ 农夫 + 鸡 →
④ 农夫 ←
⑤ 农夫 + 老虎 →
⑥ 农夫 ←
⑦ 农夫 + 蛇 →
⑧ 农夫 ←
⑨ 农夫 + 苹果 →""",
    "a prose paragraph": "首先农夫带羊过河，然后独自返回；接着带鸡过河，再独自返回；"
    "然后带老虎过河，独自返回；再带蛇过河，然后独自返回；最后带苹果过河。",
    "an english paragraph": "The key is to move the sheep first. First, take the sheep across. Then return alone. "
    "Next, take the chicken across, and come back alone. After that, take the tiger over; return alone. "
    "Then take the snake across and go back alone. Finally, ferry the apples across. Now everything is safe.",
    "full-width digits": "１．农夫带羊过河\n２．农夫独自返回\n３．农夫带鸡过河\n４．农夫独自返回\n"
    "５．农夫带老虎过河\n６．农夫独自返回\n７．农夫带蛇过河\n８．农夫独自返回\n９．农夫带苹果过河",
    "analysis list, then the plan, then a count": """先列出约束：
1. 老虎和羊在一起时必须有鸡在场，否则老虎会吃羊。
2. 蛇和鸡在一起时必须有老虎在场。
3. 羊和苹果在一起时必须有蛇在场。

农夫带着一只老虎、一只羊、一条蛇、一只鸡和一筐苹果要过河，方案：

### 解答
- 第1步：农夫带羊过河。
- 第2步：农夫独自返回。
- 第3步：农夫带鸡过河。
- 第4步：农夫独自返回。
- 第5步：农夫带老虎过河。
- 第6步：农夫独自返回。
- 第7步：农夫带蛇过河。
- 第8步：农夫独自返回。
- 第9步：农夫带苹果过河。
- 总共 9 次过河，所有东西都安全到达对岸。""",
}


@pytest.mark.parametrize("answer", STYLES.values(), ids=STYLES.keys())
def test_plans_in_many_styles_are_read_step_by_step_and_pass(answer):
    verdict = judge(answer)
    assert_passes(verdict)
    read = read_plan(PUZZLE, answer)
    assert cargo([s.move for s in read.steps]) == SHORTEST_CARGO, verdict.explain()
    assert "9 steps" in verdict.found


def test_a_longer_plan_that_brings_the_sheep_back_passes():
    answer = """| 步骤 | 行动 |
|---|---|
| 1 | 农夫带羊过河 |
| 2 | 农夫独自返回 |
| 3 | 农夫带蛇过河 |
| 4 | 农夫独自返回 |
| 5 | 农夫带老虎过河 |
| 6 | 农夫带羊回来 |
| 7 | 农夫带苹果过河 |
| 8 | 农夫独自返回 |
| 9 | 农夫带鸡过河 |
| 10 | 农夫独自返回 |
| 11 | 农夫带羊过河 |"""
    verdict = judge(answer)
    assert_passes(verdict)
    assert verdict.details["steps"][5]["move"] == "sheep ← left"
    assert_fails(judge(answer, max_steps=9), "the plan has 11 moves; at most 9 are allowed")


TEMPLATES = {
    # (language, carries something, goes back) -> templates
    ("cn", True, False): ["农夫带{x}过河", "农夫把{x}运到右岸", "带着{x}过河", "农夫和{x}一起过河"],
    ("cn", True, True): ["农夫带{x}返回", "带着{x}回来", "农夫把{x}带回左岸"],
    ("cn", False, False): ["农夫独自过河", "农夫一个人去右岸"],
    ("cn", False, True): ["农夫独自返回", "农夫空手回来", "农夫单独回到左岸", "农夫 ←"],
    ("en", True, False): ["The farmer takes the {x} across", "Take the {x} to the right bank", "Farmer + {x} →",
                          "Row the {x} over"],
    ("en", True, True): ["The farmer brings the {x} back", "Return with the {x}", "Take the {x} back to the left bank"],
    ("en", False, False): ["The farmer crosses alone", "Go over to the far bank alone"],
    ("en", False, True): ["The farmer returns alone", "Go back empty-handed", "Farmer rows back by himself",
                          "Farmer ←"],
}
LABELS = {
    "cn": ["{i}. ", "第{i}步：", "步骤{i}：", "- ", "({i}) ", "**第{i}步** ", "{i}、"],
    "en": ["{i}. ", "Step {i}: ", "- ", "* ", "{i}) ", "**Step {i}.** "],
}
PROSE_BEFORE = ["", "好的，方案如下：\n\n", "Here is the plan:\n\n", "### 解答\n\n"]
PROSE_AFTER = ["", "\n\n这样每一步都安全。", "\n\nEach bank stays safe at every step.", "\n\n答：共9步。"]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_wording_does_not_change_what_is_read(data):
    language = data.draw(st.sampled_from(["cn", "en"]))
    label = data.draw(st.sampled_from(LABELS[language]))
    synonyms = SYNONYMS_CN if language == "cn" else SYNONYMS_EN
    cargos = data.draw(st.lists(st.sampled_from([None, *ITEMS]), min_size=1, max_size=12))
    lines = []
    for i, item in enumerate(cargos, start=1):
        back = i % 2 == 0
        template = data.draw(st.sampled_from(TEMPLATES[(language, item is not None, back)]))
        name = data.draw(st.sampled_from(synonyms[item])) if item else ""
        lines.append(label.format(i=i) + template.format(x=name))
    answer = data.draw(st.sampled_from(PROSE_BEFORE)) + "\n".join(lines) + data.draw(st.sampled_from(PROSE_AFTER))
    read = [s.move for s in read_plan(PUZZLE, answer).steps]
    assert cargo(read) == cargos, answer
    # a stated direction is read as stated; an unstated one is left to the boat
    for i, move in enumerate(read):
        assert move.to in (None, "left" if i % 2 else "right"), answer
    assert judge(answer).passed == solves(cargos)


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("农夫带羊过河", Crossing(("sheep",))),
        ("农夫带着鸡回来", Crossing(("chicken",), "left")),
        ("农夫独自返回", Crossing((), "left")),
        ("农夫把一筐苹果运到右岸", Crossing(("apples",), "right")),
        ("从右岸带山羊回到左岸", Crossing(("sheep",), "left")),
        ("Farmer returns alone", Crossing((), "left")),
        ("farmer takes the hen across", Crossing(("chicken",))),
        ("the farmer rows the basket over to the far side", Crossing(("apples",), "right")),
        ("农夫带老虎和羊过河", Crossing(("tiger", "sheep"))),
    ],
)
def test_one_clause_is_read_as_one_crossing(clause, expected):
    [reading] = PUZZLE.read(clause)
    assert reading.move == expected


@pytest.mark.parametrize(
    "clause",
    [
        "老虎和羊在一起时必须有鸡在场，否则老虎会吃羊",
        "如果农夫先带老虎过河，蛇就会吃鸡",
        "If the farmer takes the tiger first, the snake eats the chicken",
        "农夫的船一次只能载农夫和一样东西",
        "总共需要 9 次过河",
        "所有东西都安全到达对岸",
        "左岸：老虎、蛇、鸡、苹果",
        "农夫先带谁过河？",
        "关键是先把羊带过河",
        "The key is to move the sheep first",
    ],
)
def test_rules_questions_counts_and_states_are_not_moves(clause):
    assert PUZZLE.read(clause) == []


# --- verdicts ------------------------------------------------------------------------


def test_the_first_unsafe_step_is_named_with_the_state_and_the_reason():
    answer = "1. 农夫带羊过河\n2. 农夫独自返回\n3. 农夫带蛇过河\n4. 农夫带羊回来\n5. 农夫带鸡过河"
    verdict = judge(answer)
    assert_fails(verdict, "step 5: left bank has tiger and sheep without the chicken")
    assert "after it: left bank: tiger, sheep, apples | right bank: farmer, snake, chicken" in verdict.where
    assert "»5. 农夫带鸡过河«" in verdict.where
    assert "5. chicken → right  (农夫带鸡过河)  ✗" in verdict.found
    assert verdict.details["failed_step"] == 5


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("1. 农夫带老虎过河", "step 1: left bank has snake and chicken without the tiger"),
        ("1. Take the snake across.", "step 1: left bank has sheep and apples without the snake"),
        ("1. 农夫带羊过河\n2. 农夫独自返回\n3. 农夫带鸡过河",
         "the plan ends with tiger, snake and apples still on the left bank"),
        (numbered_cn([*SHORTEST_CARGO, None]), "the plan ends with the farmer back on the left bank"),
        ("1. 农夫带羊和鸡过河", "step 1: the boat carries the farmer and at most one item, not sheep and chicken"),
        ("1. 农夫带羊过河\n2. 农夫带鸡过河", "step 2: the chicken is on the left bank, not with the farmer on the"),
        ("1. 农夫带羊过河\n2. 农夫带鸡到右岸", "step 2: it says the farmer goes to the right bank, but he is already"),
        ("1. 农夫独自返回", "step 1: it says the farmer goes to the left bank, but he is already there"),
        ("1. 农夫带羊过河\n2. 农夫带着狐狸返回", "step 2: could not read it: it names nothing the boat could carry"),
    ],
)
def test_wrong_plans_fail_with_the_reason(answer, why):
    assert_fails(judge(answer), why)


@pytest.mark.parametrize("answer", ["", "这个问题无解。", "I don't know how to solve this puzzle."])
def test_an_answer_without_steps_says_so(answer):
    verdict = judge(answer)
    assert_fails(verdict, "no plan found: no line of the answer describes a move")
    assert verdict.found == (f"answer ({len(answer)} chars): {answer}" if answer else "(empty answer)")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("The farmer needs to cross the river with a tiger, a sheep, a snake, a chicken and a basket of apples. "
         "This is a classic puzzle that requires careful thinking.", "The farmer needs to cross the river with"),
        ("农夫要带着老虎、羊、蛇、鸡和一筐苹果过河。这是一个经典的逻辑问题，需要仔细思考。", "农夫要带着老虎、羊、蛇、鸡和一筐苹果过河"),
        ("The farmer can cross the river with the chicken.", "The farmer can cross the river with the chicken"),
    ],
    ids=["the puzzle told again", "the puzzle told again in Chinese", "one sentence"],
)
def test_prose_with_one_move_at_most_is_no_plan(answer, words):
    # not "step 1: left bank has ...": nothing here proposes a sequence of crossings to fault
    verdict = judge(answer)
    assert_fails(verdict, "no plan found: no list of steps, and the prose describes one move at most")
    assert "step 1" not in verdict.why and "steps:" not in verdict.found
    assert f"answer line 1: {words}" in verdict.where


def test_a_numbered_list_of_one_wrong_move_is_still_a_plan_faulted_at_its_step():
    assert_fails(judge("1. 农夫带老虎过河"), "step 1: left bank has")
    assert_fails(judge("Take the sheep across, then return alone."), "the plan ends with")


def test_a_long_plan_is_clipped_in_the_verdict():
    cargos = [*SHORTEST_CARGO[:1], *([None, "sheep"] * 10)]
    verdict = judge(numbered_cn(cargos))
    assert "21 steps:" in verdict.found and "… and 7 more" in verdict.found
    assert verdict.passed is False and len(verdict.found.splitlines()) == plan.SHOWN_STEPS + 2


def test_the_later_list_wins_a_tie_and_the_longer_list_wins_otherwise():
    wrong_then_right = numbered_cn(["tiger"]) + "\n\n更正：\n\n" + numbered_cn(SHORTEST_CARGO)
    assert_passes(judge(wrong_then_right))
    right_then_note = STYLES["chinese numbered list"] + "\n\n注意：\n1. 农夫独自过河是浪费。"
    assert_passes(judge(right_then_note))


def test_a_step_numbered_in_chinese_numerals_below_the_last_starts_a_new_list():
    def steps_cn(cargos: list[str | None]) -> str:
        return "\n".join(
            f"第{chinese(i)}步：农夫带{CN[item]}过河" if item else f"第{chinese(i)}步：农夫独自过河"
            for i, item in enumerate(cargos, start=1)
        )

    longer = ["sheep", None, "snake", None, "tiger", "sheep", "apples", None, "chicken", None, "sheep"]
    attempt_then_plan = steps_cn(["tiger", None, "sheep"]) + "\n\n重新来：\n\n" + steps_cn(longer)
    verdict = judge(attempt_then_plan)
    assert_passes(verdict)
    assert "11 steps" in verdict.found and "第十一步" in attempt_then_plan


def test_unreadable_moves_are_plain_data_in_the_details():
    verdict = judge("1. 农夫带羊过河\n2. 农夫带着狐狸返回")
    assert verdict.details["steps"][1]["move"].startswith("unreadable")
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    assert isinstance(read_plan(PUZZLE, "1. 农夫带着狐狸返回").steps[0].move, Unreadable)
