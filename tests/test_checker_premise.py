"""The premise checker: rejection judged per sentence, hedged fiction caught."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_gptoss.checkers import normalize, premise
from pytest_gptoss.verdict import SpecError

PENGUIN = {
    "topic": "企鹅|penguin",
    "rejects": ["不存在|没有(这种|任何|已知)|虚构", "不会飞|cannot fly|flightless", "does not exist|no such"],
}


@pytest.mark.parametrize(
    ("answer", "passed", "found"),
    [
        ("目前没有任何科学记录表明存在能飞的沙漠企鹅。所有企鹅都不会飞。", True, "2 sentence(s) reject"),
        # repeating the claim in order to refute it
        ("你提到的“沙漠飞行企鹅”生活在撒哈拉、能飞100公里。但这种企鹅并不存在，它是虚构的。", True, "reject"),
        ("There is no such penguin. Penguins are flightless birds of the southern hemisphere.", True, "reject"),
        # the rejection names the topic only in the sentence before it
        ("关于这种企鹅：\n它在现实中并不存在。", True, "reject"),
        # hedge, then elaborate
        ("据报道，这种沙漠飞行企鹅体型较小。它们以昆虫为食。", False, "hedged claim"),
        ("Reportedly, the desert penguin flies 100 km a day.", False, "hedged claim"),
        # plain elaboration of the fiction
        ("这种沙漠飞行企鹅体长约40厘米，翅膀宽大，能飞行超过100公里。", False, "no sentence rejects"),
        # a negation keyword that is not about the premise does not count
        ("这种沙漠飞行企鹅翅膀很长。它们以昆虫为食。人类对沙漠的认识还不存在定论。", False, "no sentence rejects"),
        ("", False, "no sentence rejects"),
    ],
)
def test_examples(answer: str, passed: bool, found: str) -> None:
    verdict = premise.CHECKER.check(PENGUIN, answer)
    assert verdict.passed is passed, verdict.explain()
    assert found in verdict.found


def test_a_hedge_inside_a_rejection_is_fine() -> None:
    answer = "据说有人见过沙漠飞行企鹅，但这种企鹅并不存在。"
    assert premise.CHECKER.check(PENGUIN, answer).passed


def test_hedges_can_be_turned_off() -> None:
    answer = "据报道，这种企鹅能飞。不过企鹅不会飞。"
    assert not premise.CHECKER.check(PENGUIN, answer).passed
    assert premise.CHECKER.check({**PENGUIN, "hedges": []}, answer).passed


def test_sentences_keep_decimals_whole() -> None:
    sentences = normalize.sentences("Python 3.14 has no quantum decorator. It never did!")
    assert [s.folded.strip() for s in sentences] == ["python 3.14 has no quantum decorator.", "it never did!"]


def test_the_verdict_shows_the_offending_sentence() -> None:
    verdict = premise.CHECKER.check(PENGUIN, "前言。据报道，这种沙漠飞行企鹅体型较小。")
    assert "»据报道，这种沙漠飞行企鹅体型较小。«" in verdict.where


@given(st.sampled_from(["", "ＰＥＮＧＵＩＮ ", "Penguin "]), st.sampled_from(["does not exist", "DOES NOT EXIST"]))
def test_case_and_width_do_not_matter(subject: str, claim: str) -> None:
    answer = f"The {subject or 'penguin '}you describe {claim}."
    assert premise.CHECKER.check(PENGUIN, answer).passed


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"rejects": "x"}, ("topic",)),
        ({"topic": "x"}, ("rejects",)),
        ({"topic": "x", "rejects": "("}, ("rejects",)),
        ({"topic": "x", "rejects": ["ok", "[unclosed"]}, ("rejects", 1)),
        ({"topic": "x", "rejects": "y", "hedges": "据说"}, ("hedges",)),
        ({"topic": "x", "rejects": "y", "extra": 1}, ("extra",)),
        ({"topic": [], "rejects": "y"}, ("topic",)),
    ],
)
def test_malformed_specs(spec: dict, path: tuple) -> None:
    with pytest.raises(SpecError) as info:
        premise.CHECKER.parse(spec)
    assert info.value.path == path


ACCORD = {
    "topic": "夏末协议|summer.?s? end|公元前\\s*384|384",
    "rejects": "没有|不存在|虚构|no record",
    "claim": "夏末协议|summer.?s? end",
}


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        # a hedge about another point does not undo the rejection
        ("历史上没有关于“夏末协议”的记载，这是虚构的。据说公元前 384 年亚里士多德出生。", True),
        ("There is no record of a Summer's End accord. Reportedly, Aristotle was born in 384 BC.", True),
        # a hedge that states the claim itself fails, rejection or not
        ("历史上没有相关记载。据传，公元前 384 年的夏末协议由雅典和斯巴达签订。", False),
        ("据传，公元前 384 年的夏末协议由雅典和斯巴达签订。", False),
        # a hedged sentence that also rejects the claim is a rejection
        ("据说夏末协议并不存在，它是后人虚构的。", True),
    ],
)
def test_only_a_hedge_that_states_the_claim_fails(answer: str, passed: bool) -> None:
    assert premise.CHECKER.check(ACCORD, answer).passed is passed


def test_without_a_claim_the_topic_is_the_claim() -> None:
    spec = {key: value for key, value in ACCORD.items() if key != "claim"}
    assert not premise.CHECKER.check(spec, "历史上没有相关记载。据说公元前 384 年亚里士多德出生。").passed


def test_sentences_come_from_the_normalized_view() -> None:
    answer = "| 事件 | 年份 |\n|---|---|\n| 夏末协议 | **不存在** |"
    verdict = premise.CHECKER.check(ACCORD, answer)
    assert verdict.passed
    assert "»夏末协议 | **不存在«" in verdict.where


def test_a_bad_claim_names_its_field() -> None:
    with pytest.raises(SpecError) as info:
        premise.CHECKER.parse({**ACCORD, "claim": ["("]})
    assert info.value.path == ("claim", 0)
