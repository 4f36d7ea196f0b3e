"""The conclusion checker: the answer's conclusion decides, and a disagreeing body is reported."""

from __future__ import annotations

import pytest

from pytest_gptoss.checkers import conclusion
from pytest_gptoss.verdict import SpecError

FROG = {"polarity": "no", "about": "爬出|出井|井口|get out|escape|reach(es)? the top"}


@pytest.mark.parametrize(
    ("answer", "how", "judged"),
    [
        ("推理……\n\n**结论：青蛙无法爬出井口。**", "marker line", "青蛙无法爬出井口。"),
        ("推理……\n\n## 结论\n\n青蛙无法爬出井口。", "marker line", "青蛙无法爬出井口。"),
        ("Work.\n\nFinal answer: no, it never gets out.", "marker line", "no, it never gets out."),
        ("Answering this needs care. It is 3.", "last sentence", "It is 3."),
        (r"so the answer is $\boxed{\text{No}}$, it peaks at 8.5 m.", r"\boxed{}", "No"),
        ("第 1 天 3 米。\n\n所以它 **永远爬不出井口**。", "bold closing sentence", "所以它 永远爬不出井口。"),
        ("It climbs. It slides. It never gets out", "last sentence", "It never gets out"),
    ],
)
def test_the_conclusion_is_found(answer: str, how: str, judged: str) -> None:
    found = conclusion.find_conclusion(answer)
    assert found is not None
    assert (found.how, found.text) == (how, judged)


@pytest.mark.parametrize(
    ("sentence", "said"),
    [
        ("不能。", "no"), ("能，第 3 天爬出。", "yes"), ("可以爬出井口", "yes"), ("青蛙无法爬出井口", "no"),
        ("它永远爬不出去", "no"), ("No, it never does.", "no"), ("Yes: on day 3.", "yes"),
        ("It cannot get out.", "no"), ("It reaches the top on the third day.", "yes"),
        ("第一晚它爬不出去，但第 3 天就能爬出井口", "yes"), ("It climbs well but can't get out", "no"),
        ("就算不考虑滑落，它也能爬出", "yes"),
    ],
)
def test_polarity(sentence: str, said: str) -> None:
    assert conclusion.polarity(sentence) == said


def test_a_keyword_in_the_body_does_not_decide() -> None:
    answer = "On the first night the frog cannot reach the top. So it reaches the top on the third day."
    verdict = conclusion.CHECKER.check(FROG, answer)
    assert not verdict.passed
    assert "concludes 'yes', not 'no'" in verdict.found
    assert "»So it reaches the top on the third day.«" in verdict.where
    assert "the rest of the answer says 'no'" in verdict.why
    assert "»On the first night the frog cannot reach the top.«" in verdict.why


def test_a_right_conclusion_passes_and_still_reports_the_disagreeing_body() -> None:
    answer = "第 3 天青蛙就能爬出井口？不对，重新算。\n\n答案：不能，它最高只到 8.5 米。"
    verdict = conclusion.CHECKER.check(FROG, answer)
    assert verdict.passed
    assert "»不能，它最高只到 8.5 米。«" in verdict.where
    assert "the rest of the answer says 'yes'" in verdict.why


def test_assertions_judge_the_conclusion_only() -> None:
    spec = {"regex": r"5\s*的\s*对面\s*是\s*3"}
    assert conclusion.CHECKER.check(spec, "先猜 5 的对面是 1，矛盾。\n\n**答案：5 的对面是 3。**").passed
    wrong = conclusion.CHECKER.check(spec, "5 的对面是 3 吗？这与条件矛盾。\n\n**答案：5 的对面是 1。**")
    assert not wrong.passed
    assert "regex" in wrong.found and "of the conclusion" in wrong.found
    assert wrong.why == "the rest of the answer holds what the conclusion misses"
    assert conclusion.CHECKER.check({"mentions": [["3", "三"]], "not_regex": "1"}, "答案：三").passed


def test_the_conclusion_reads_the_normalized_view() -> None:
    verdict = conclusion.CHECKER.check({"regex": "2700 毫升"}, r"答案：共 $\mathbf{2700}$ 毫升")
    assert verdict.passed
    assert verdict.where.endswith("»共 $\\mathbf{2700}$ 毫升«")


def test_a_closing_pleasantry_is_not_the_conclusion_when_about_names_the_question() -> None:
    answer = "逐日计算，最高只到 8.5 米，青蛙爬不出井口。希望对你有帮助！"
    assert conclusion.CHECKER.check(FROG, answer).passed
    assert not conclusion.CHECKER.check({"polarity": "no"}, answer).passed


def test_an_empty_answer_fails() -> None:
    verdict = conclusion.CHECKER.check(FROG, "  \n")
    assert not verdict.passed
    assert verdict.where == "the answer is empty"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({}, ()),
        ({"about": "x"}, ()),
        ({"polarity": "maybe"}, ("polarity",)),
        ({"polarity": "no", "about": "("}, ("about",)),
        ({"regex": "("}, ("regex",)),
        ({"mentions": "x"}, ("mentions",)),
        ({"polarity": "no", "nope": 1}, ("nope",)),
    ],
)
def test_spec_errors_name_the_field(spec: dict, path: tuple) -> None:
    with pytest.raises(SpecError) as info:
        conclusion.CHECKER.parse(spec)
    assert info.value.path == path


def test_a_bad_conclusion_spec_is_a_file_line_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/bad": "cases:\n  - id: a\n    prompt: q\n    check:\n"
                                               "      conclusion:\n        polarity: maybe\n"})
    result = pytester.runpytest("cases")
    result.stdout.fnmatch_lines(["*cases/bad.yaml:6: case 'a': field 'check.conclusion.polarity': 'polarity' is yes or no*"])
