"""The numeric checker: which number is the answer, units, tolerance, and the verdict's words."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from chinese_numerals import chinese
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import judged, parsed

from pytest_gptoss.checkers.numeric import CHECKER
from pytest_gptoss.checkers.numeric.extract import extract_number
from pytest_gptoss.checkers.numeric.units import SPELLINGS, UNITS, lookup_unit
from pytest_gptoss.verdict import SpecError, Verdict

ML = {"answer": 2700, "unit": "ml"}

# (id, answer text, spec, passes, value the checker read, in the spec's unit)
TRAPS = [
    # \boxed{} beats every other number, wherever they are
    ("boxed-among-numbers", "先算 12÷3=4 瓶，再换 3 瓶……所以 \\boxed{2700}，共 9 瓶、12 元。", ML, True, "2700"),
    ("boxed-frac", "\\boxed{\\frac{1}{2}}，也就是 0.5 的一半 0.25", {"answer": "1/2"}, True, "0.5"),
    ("boxed-dfrac-negative",
     "x = \\boxed{-\\dfrac{3}{4}} (check: 4x = -3)", {"answer": -0.75}, True, "-0.75"),
    ("boxed-nested-braces", "\\boxed{\\text{约 }2{,}700\\,\\text{ml}} (9 瓶)", ML, True, "2700"),
    ("boxed-slash-fraction", "so p = \\boxed{1/3} after 3 tries", {"answer": "1/3"}, True, "1/3"),
    ("last-boxed-wins", "\\boxed{2600} 不对，漏算了一瓶，应为 \\boxed{2700}。", ML, True, "2700"),
    ("boxed-equation-takes-result", "\\boxed{2^{10} = 1024}", {"answer": 1024}, True, "1024"),
    # an explicit marker beats numbers that come after it
    ("marker-before-check", "答案：2700毫升。\n验证：12元买4个大瓶，最后剩1个空瓶。", ML, True, "2700"),
    ("marker-unitless", "答案：2700。验证：12 元买 4 瓶，剩 1 个空瓶。", {"answer": 2700}, True, "2700"),
    ("marker-bold", "**答案**：**2,700 毫升**\n\n（步骤：3 + 4 + 2 = 9 瓶）", ML, True, "2700"),
    ("marker-next-line", "最终答案：\n\n2700 ml\n\n其余 3 个空瓶无法再换。", ML, True, "2700"),
    ("english-marker", "The answer is 2700 ml. (We used 12 yuan and 4 bottles.)", ML, True, "2700"),
    ("marker-prefers-unit", "答案：9 瓶，共 2700 毫升", ML, True, "2700"),
    ("answer-first-then-final", "答案：2700 毫升。\n\n解题过程：……最终剩下 1 个空瓶。", ML, True, "2700"),
    # a final answer that corrects an earlier number
    ("correction",
     "I first got 2600 ml, but I double-counted a bottle. The answer is 2700 ml.", ML, True, "2700"),
    ("correction-wrong",
     "I first got 2700 ml, but then I rechecked. The answer is 2600 ml.", ML, False, "2600"),
    ("final-answer-outranks-answer", "答案：2600？不对。\n最终答案：2700 毫升", ML, True, "2700"),
    ("last-answer-marker", "答案是 2600……重新计算，答案是 2700 毫升。", ML, True, "2700"),
    # the question restated before (or around) the answer
    ("question-restated",
     "A 带着 12 块钱，大瓶 500 毫升 3 块钱，小瓶 100 毫升 1 块钱。所以最多可以喝 2700 毫升。", ML, True, "2700"),
    ("restated-after-unit-skips-money", "A 最多可以喝 2700 毫升（一共用了 12 块钱）。", ML, True, "2700"),
    ("restated-numbers-wrong-answer", "大瓶 500 毫升，小瓶 100 毫升，所以是 2600 毫升", ML, False, "2600"),
    # Chinese numerals
    ("chinese-numeral", "最多可以喝二千七百毫升", ML, True, "2700"),
    ("chinese-liang", "最多可以喝两千七百毫升", ML, True, "2700"),
    ("chinese-colloquial", "一共两千七毫升", ML, True, "2700"),
    ("chinese-wan", "总数是一万", {"answer": 10000}, True, "10000"),
    ("chinese-ten-after-marker", "答案是十", {"answer": 10}, True, "10"),
    ("chinese-decimal", "井深三点五米", {"answer": 3.5, "unit": "m"}, True, "3.5"),
    ("chinese-negative", "结果为负五", {"answer": -5}, True, "-5"),
    ("chinese-fraction", "概率是三分之一", {"answer": "1/3"}, True, "1/3"),
    ("chinese-percent", "增长了百分之五十", {"answer": 50, "unit": "%"}, True, "50"),
    ("chinese-mixed-wan", "约 2.7万 元", {"answer": 27000, "unit": "元"}, True, "27000"),
    ("chinese-words-are-not-numbers",
     "最多可以喝 2700 毫升。这是一个有趣的问题，一定要一起想一想。", {"answer": 2700}, True, "2700"),
    ("marker-skips-chinese-words", "答案：一共 2700 毫升", {"answer": 2700}, True, "2700"),
    # full-width digits
    ("full-width", "共可以喝２７００毫升", ML, True, "2700"),
    ("full-width-comma-unit", "答案：２，７００ ｍｌ", ML, True, "2700"),
    # thousands separators
    ("comma", "total: 2,700 ml", ML, True, "2700"),
    ("chinese-comma", "一共 2，700 毫升", ML, True, "2700"),
    ("thin-space", "total: 2\u2009700 ml", ML, True, "2700"),
    ("latex-comma", "$2{,}700\\,\\mathrm{mL}$", ML, True, "2700"),
    ("latex-thin-space", "$2\\,700$ ml", ML, True, "2700"),
    ("big-grouped", "population 1,234,567", {"answer": 1234567}, True, "1234567"),
    ("bold", "So the total is **2700**.", {"answer": 2700}, True, "2700"),
    # negative numbers
    ("hyphen-minus", "x = -5", {"answer": -5}, True, "-5"),
    ("unicode-minus", "x = −5", {"answer": -5}, True, "-5"),
    ("negative-decimal-celsius", "最低温度为 −3.5 ℃", {"answer": -3.5, "unit": "°C"}, True, "-3.5"),
    ("subtraction-is-not-minus", "2700-2600=100", {"answer": 100}, True, "100"),
    # units through the table
    ("litres-to-ml", "最多喝 2.7 L", ML, True, "2700"),
    ("sheng-to-ml", "最多喝 2.7升", ML, True, "2700"),
    ("km-to-m", "distance: 0.5 km", {"answer": 500, "unit": "m"}, True, "500"),
    ("qianmi-to-m", "跑了3千米", {"answer": 3000, "unit": "米"}, True, "3000"),
    ("kg-to-g", "重 1.5 公斤", {"answer": 1500, "unit": "g"}, True, "1500"),
    ("percent", "rate: 50%", {"answer": 50, "unit": "%"}, True, "50"),
    ("percent-is-not-fraction", "rate: 0.5", {"answer": 50, "unit": "%"}, False, "0.5"),
    ("converted-but-wrong", "最多喝 2.6 升", ML, False, "2600"),
    ("scientific", "2.7 \\times 10^{3} ml", ML, True, "2700"),
    # a number with a unit of another dimension is not a match
    ("prefers-compatible-unit", "喝了 2700 毫升，花了 12 元", ML, True, "2700"),
    # tolerance
    ("abs-tol-inside", "about 2695 ml", {**ML, "abs_tol": 5}, True, "2695"),
    ("abs-tol-outside", "about 2694 ml", {**ML, "abs_tol": 5}, False, "2694"),
    ("rel-tol-inside", "about 2673 ml", {**ML, "rel_tol": 0.01}, True, "2673"),
    ("rel-tol-outside", "about 2672 ml", {**ML, "rel_tol": 0.01}, False, "2672"),
    ("tolerance-in-spec-unit", "about 2.71 L", {**ML, "abs_tol": 10}, True, "2710"),
    ("exact-decimal-no-float-error", "0.1 + 0.2 = 0.3", {"answer": 0.3}, True, "0.3"),
    ("exact-means-exact", "2700.0001 ml", ML, False, "2700.0001"),
]


@pytest.mark.parametrize(
    ("text", "spec", "passes", "value"), [t[1:] for t in TRAPS], ids=[t[0] for t in TRAPS]
)
def test_known_traps(text: str, spec: dict, passes: bool, value: str) -> None:
    verdict = CHECKER.check(spec, text)
    assert verdict.details["value"] == value, verdict.explain()
    assert verdict.passed is passes, verdict.explain()


NO_MATCH = [
    ("no-number", "我无法确定答案，请提供更多信息。", {"answer": 2700}, "no number in the final answer"),
    ("empty", "", ML, "the final answer is empty"),
    ("only-blank", "  \n ", ML, "the final answer is empty"),
    ("only-words-with-one", "这是一个问题。", {"answer": 1}, "no number in the final answer"),
    ("wrong-dimension-money", "最多可以喝 2700 元", ML, "money"),
    ("wrong-dimension-mass", "需要 2700 克", ML, "mass"),
    ("marker-wrong-dimension", "答案：12 元", ML, "money"),
]


@pytest.mark.parametrize(("text", "spec", "why"), [t[1:] for t in NO_MATCH], ids=[t[0] for t in NO_MATCH])
def test_no_acceptable_number_fails_with_a_reason(text: str, spec: dict, why: str) -> None:
    verdict = CHECKER.check(spec, text)
    assert not verdict.passed
    assert verdict.details["value"] is None
    assert verdict.found == "no number"
    assert why in verdict.why


def test_verdict_explains_expected_found_where_why() -> None:
    text = "A 带着 12 块钱……所以最多可以喝 2.6 升饮料，共 9 瓶。"
    verdict = CHECKER.check({"answer": 2700, "unit": "毫升"}, text)
    assert not verdict.passed
    assert verdict.checker == "numeric"
    assert verdict.expected == "2700 ml"
    assert verdict.found == "'2.6 升' → 2.6 L = 2600 ml"
    assert "»2.6 升«" in verdict.where
    assert verdict.where.startswith("last number: ")
    assert verdict.why == "2600 ml ≠ 2700 ml"
    explained = verdict.explain()
    assert len(explained.splitlines()) <= 6
    assert all(len(line) <= 100 for line in explained.splitlines())


def test_where_names_the_marker_and_is_one_line_of_about_60_chars() -> None:
    text = "推理：\n" + "喝完再换，" * 20 + "\n最终答案：2700 毫升\n" + "验证，" * 20
    verdict = CHECKER.check(ML, text)
    assert verdict.passed
    assert verdict.where.startswith("after '最终答案': ")
    shown = verdict.where.split(": ", 1)[1]
    assert "\n" not in shown
    assert "»2700 毫升«" in shown
    assert 50 <= len(shown) <= 70


def test_details_are_plain_data_and_survive_a_round_trip() -> None:
    verdict = CHECKER.check({**ML, "abs_tol": 0.5}, "\\boxed{2.7\\text{ L}}")
    assert verdict.passed
    assert verdict.details == {
        "expected": "2700",
        "unit": "ml",
        "abs_tol": "0.5",
        "rel_tol": "0",
        "value": "2700",
        "written": "2.7\\text{ L}",
        "written_value": "2.7",
        "written_unit": "L",
        "span": [7, 19],
        "how": "in \\boxed{}",
    }
    assert Verdict.from_dict(json.loads(json.dumps(verdict.to_dict()))) == verdict


def test_tolerance_is_explained() -> None:
    verdict = CHECKER.check({**ML, "abs_tol": 10}, "about 2650 ml")
    assert verdict.expected == "2700 ml ± 10 ml"
    assert verdict.why == "2650 ml is 50 ml from 2700 ml, beyond the tolerance of 10 ml"


def test_extract_number_reports_value_unit_span_and_how() -> None:
    text = "先算 500 毫升 × 3，答案是 2.7 升。"
    found = extract_number(text, unit="ml")
    assert found is not None
    assert (found.value, found.unit, found.text) == (Fraction("2.7"), "L", "2.7 升")
    assert text[found.span[0]:found.span[1]] == found.text
    assert found.how == "after '答案'"
    assert found.value_in("ml") == 2700
    assert found.value_in("毫升") == 2700
    with pytest.raises(ValueError):
        found.value_in("kg")


def test_extract_number_without_a_number_is_none() -> None:
    assert extract_number("没有数字") is None
    assert extract_number("2700 元", unit="ml") is None


def test_extract_number_rejects_an_unknown_unit() -> None:
    with pytest.raises(SpecError):
        extract_number("2700", unit="furlong")


def test_a_bare_number_is_a_spec() -> None:
    CHECKER.parse(2700)
    assert CHECKER.check(2700, "答案是 2700").passed
    assert not CHECKER.check(2700, "答案是 2600").passed


def test_dispatch_runs_the_numeric_checker_on_the_chosen_channel() -> None:
    check_spec = {"numeric": {"answer": 2700, "unit": "ml", "on": "analysis"}}
    parsed(check_spec)
    verdict = judged(check_spec, {"final": "2600 ml", "analysis": "2700 ml"})
    assert verdict.passed and verdict.checker == "numeric"


VALID_SPECS = [
    {"answer": 2700},
    {"answer": 2700, "unit": "ml"},
    {"answer": 2.5, "unit": "毫升", "abs_tol": 0.1, "rel_tol": 0},
    {"answer": "1/3", "rel_tol": 0.001},
    {"answer": -5, "unit": None},
    {"answer": 50, "unit": "%"},
    {"answer": 3, "unit": "KM"},
]


@pytest.mark.parametrize("spec", VALID_SPECS, ids=[str(s) for s in VALID_SPECS])
def test_valid_specs_validate(spec: dict) -> None:
    CHECKER.parse(spec)
    assert CHECKER.check(spec, "").passed is False


MALFORMED = [
    ("string", "2700 ml", ()),
    ("list", [2700], ()),
    ("bool", True, ()),
    ("none", None, ()),
    ("unknown-key", {"answer": 2700, "units": "ml"}, ("units",)),
    ("non-string-key", {"answer": 2700, 5: "ml"}, (5,)),
    ("no-answer", {}, ("answer",)),
    ("only-unit", {"unit": "ml"}, ("answer",)),
    ("answer-words", {"answer": "lots"}, ("answer",)),
    ("answer-bool", {"answer": True}, ("answer",)),
    ("answer-none", {"answer": None}, ("answer",)),
    ("answer-list", {"answer": [2700]}, ("answer",)),
    ("answer-nan", {"answer": float("nan")}, ("answer",)),
    ("answer-inf", {"answer": float("inf")}, ("answer",)),
    ("answer-zero-denominator", {"answer": "1/0"}, ("answer",)),
    ("answer-huge-exponent", {"answer": "1e999999999"}, ("answer",)),
    ("unknown-unit", {"answer": 1, "unit": "furlong"}, ("unit",)),
    ("unit-not-string", {"answer": 1, "unit": 5}, ("unit",)),
    ("negative-abs-tol", {"answer": 1, "abs_tol": -1}, ("abs_tol",)),
    ("rel-tol-words", {"answer": 1, "rel_tol": "a bit"}, ("rel_tol",)),
    ("rel-tol-bool", {"answer": 1, "rel_tol": False}, ("rel_tol",)),
]


@pytest.mark.parametrize(("spec", "path"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_specs_raise_with_the_field_path(spec: object, path: tuple) -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse(spec)
    assert caught.value.path == path
    assert caught.value.message


def test_malformed_spec_path_is_prefixed_by_the_registry() -> None:
    with pytest.raises(SpecError) as caught:
        parsed([{"numeric": 2700}, {"numeric": {"answer": 1, "unit": "furlong"}}])
    assert caught.value.path == (1, "numeric", "unit")
    assert "furlong" in caught.value.message


def test_every_unit_spelling_reads_back_as_its_unit() -> None:
    for spelling, name in SPELLINGS.items():
        found = extract_number(f"答案：7 {spelling}")
        assert found is not None and found.unit == name, (spelling, found)
        assert lookup_unit(spelling) == UNITS[name]


# -- properties ---------------------------------------------------------------


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


INTEGER_FORMATS = {
    "plain": str,
    "comma": lambda n: f"{n:,}",
    "chinese-comma": lambda n: f"{n:,}".replace(",", "，"),
    "thin-space": lambda n: f"{n:,}".replace(",", "\u2009"),
    "latex-comma": lambda n: f"{n:,}".replace(",", "{,}"),
    "full-width": lambda n: full_width(str(n)),
    "full-width-comma": lambda n: full_width(f"{n:,}"),
    "chinese": chinese,
    "chinese-liang": lambda n: re.sub("二(?=[百千万亿])", "两", chinese(n)),
}
TEMPLATES = [
    "答案：{}",
    "所以最多可以喝 {} 毫升。",
    "The answer is {}.",
    "先算 12 + 3 = 15，再算 15 × 2 = 30。\n\n**最终答案：{}**",
    "\\boxed{{{}}}",
    "12 元买 4 瓶，\\boxed{{{}}}，剩 3 个空瓶。",
]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=10**12 - 1),
    style=st.sampled_from(sorted(INTEGER_FORMATS)),
    template=st.sampled_from(TEMPLATES),
)
def test_reformatting_an_integer_does_not_change_what_is_extracted(n: int, style: str, template: str) -> None:
    written = INTEGER_FORMATS[style](n)
    text = template.format(written)
    found = extract_number(text)
    assert found is not None, text
    assert found.value == n, (text, found)
    assert CHECKER.check({"answer": n}, text).passed


SIGNS = ["-", "−", "－", "负"]
SIGNED_TEMPLATES = ["答案：{}", "The answer is {}.", "\\boxed{{{}}}", "x 的值为 {}", "so x = {}, done"]


@settings(max_examples=100, deadline=None)
@given(
    magnitude=st.integers(min_value=0, max_value=10**9),
    places=st.integers(min_value=0, max_value=4),
    negative=st.booleans(),
    sign=st.sampled_from(SIGNS),
    template=st.sampled_from(SIGNED_TEMPLATES),
)
def test_signed_decimals_read_exactly(
    magnitude: int, places: int, negative: bool, sign: str, template: str
) -> None:
    value = Fraction(-magnitude if negative else magnitude, 10**places)
    digits = f"{Decimal(magnitude).scaleb(-places):f}"
    text = template.format((sign if negative else "") + digits)
    found = extract_number(text)
    assert found is not None and found.value == value, (text, found)


UNIT_PAIRS = [
    ("ml", "毫升", "L", 1000),
    ("ml", "ml", "升", 1000),
    ("m", "米", "km", 1000),
    ("m", "m", "千米", 1000),
    ("g", "克", "kg", 1000),
    ("g", "g", "公斤", 1000),
    ("cm", "cm", "m", 100),
]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**8), pair=st.sampled_from(UNIT_PAIRS))
def test_a_quantity_in_a_larger_unit_reads_the_same(n: int, pair: tuple[str, str, str, int]) -> None:
    unit, small, large, factor = pair
    in_large = f"{Decimal(n) / factor:f}"
    texts = (f"所以一共是 {n} {small}，花了 12 元。", f"所以一共是 {in_large} {large}，花了 12 元。")
    for text in texts:
        found = extract_number(text, unit=unit)
        assert found is not None and found.value_in(unit) == n, (text, found)
        assert CHECKER.check({"answer": n, "unit": unit}, text).passed, text


@settings(max_examples=100, deadline=None)
@given(
    expected=st.integers(min_value=-10**6, max_value=10**6),
    written=st.integers(min_value=-10**6, max_value=10**6),
    noise=st.lists(st.integers(min_value=0, max_value=10**6), max_size=4),
)
def test_verdict_passes_exactly_when_the_boxed_number_equals_the_answer(
    expected: int, written: int, noise: list[int]
) -> None:
    before = "，".join(str(n) for n in noise)
    text = f"已知 {before}。\\boxed{{{written}}} 验证：{' + '.join(str(n) for n in noise)}"
    verdict = CHECKER.check({"answer": expected}, text)
    assert verdict.passed is (expected == written), verdict.explain()
    assert verdict.details["value"] == str(written)


PIECES = [
    *"0123456789,.，。-−负+ {}\\/$%*^eE×\n", *"十百千万亿零〇一二两三五点分之", "２", "\u2009", "{,}", "10^",
    "\\boxed{", "\\frac{", "答案：", "最终", "answer is ", "毫升", "L", "米", "元", "\\text{ml}",
]


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    unit=st.sampled_from([None, "ml", "m", "%"]),
)
def test_any_text_gets_a_verdict_whose_span_is_what_was_read(text: str, unit: str | None) -> None:
    verdict = CHECKER.check({"answer": 1, "unit": unit}, text)
    assert verdict.checker == "numeric" and verdict.explain()
    if verdict.details["value"] is not None:
        start, end = verdict.details["span"]
        assert text[start:end] == verdict.details["written"]
        if len(verdict.details["written"]) <= 40:
            assert f"»{verdict.details['written']}«".replace("\n", "⏎") in verdict.where
