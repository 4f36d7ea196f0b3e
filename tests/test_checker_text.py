"""The text checker: substrings, patterns, groups of mentions, and case/width folding."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import assert_passes, judged, parsed

from pytest_gptoss.checkers.text import CHECKER, fold, snippet
from pytest_gptoss.verdict import SpecError, Verdict

ANSWER = "答案：A 最多可以喝 2700 毫升（约 2.7 L），需要 4 个大瓶。"

# (id, spec, text, passes, labels of the assertions that fail)
EXAMPLES = [
    ("contains-all", {"contains": ["2700", "毫升"]}, ANSWER, True, []),
    ("contains-one-missing", {"contains": ["2700", "小瓶"]}, ANSWER, False, ["contains '小瓶'"]),
    ("contains-string", {"contains": "大瓶"}, ANSWER, True, []),
    ("not-contains-absent", {"not_contains": ["2600", "无法"]}, ANSWER, True, []),
    ("not-contains-present", {"not_contains": ["2600", "2700"]}, ANSWER, False, ["not_contains '2700'"]),
    ("regex-each", {"regex": [r"答案[:：]", r"\d+\s*毫升"]}, ANSWER, True, []),
    ("regex-one-fails", {"regex": [r"答案[:：]", r"\d+\s*升\b"]}, ANSWER, False, [r"regex /\d+\s*升\b/"]),
    ("not-regex-clean", {"not_regex": r"26\d\d"}, ANSWER, True, []),
    ("not-regex-matches", {"not_regex": [r"\b2\.7\b"]}, ANSWER, False, [r"not_regex /\b2\.7\b/"]),
    ("mentions-all-groups", {"mentions": [["大瓶", "large bottle"], ["毫升", "ml"]]}, ANSWER, True, []),
    (
        "mentions-group-missed",
        {"mentions": [["大瓶"], ["小瓶", "small bottle"], ["空瓶", "empty"]]},
        ANSWER,
        False,
        ["mentions group 2 [小瓶 | small bottle]", "mentions group 3 [空瓶 | empty]"],
    ),
    ("mentions-bare-string-group", {"mentions": ["大瓶", ["ml", "毫升"]]}, ANSWER, True, []),
    ("ignore-case-default", {"contains": "hello"}, "Say HELLO", True, []),
    ("ignore-case-off", {"contains": "hello", "ignore_case": False}, "Say HELLO", False, ["contains 'hello'"]),
    ("regex-ignore-case", {"regex": "^say"}, "SAY hello", True, []),
    ("regex-case-off", {"regex": "^say", "ignore_case": False}, "SAY hello", False, ["regex /^say/"]),
    ("casefold-eszett", {"contains": "STRASSE"}, "die Straße", True, []),
    ("width-default", {"contains": "2700 ml"}, "共 ２７００　ｍｌ", True, []),
    ("width-needle", {"contains": "２７００"}, "共 2700 ml", True, []),
    ("width-off", {"contains": "2700", "ignore_width": False}, "共 ２７００", False, ["contains '2700'"]),
    ("width-composes-accents", {"contains": "café"}, "un cafe\u0301 noir", True, []),
    ("width-colon", {"regex": r"答案:\s*\d+"}, "答案：２７００", True, []),
    ("width-pattern-literal", {"regex": "答案："}, "答案: 2700", True, []),
    ("width-paren-is-literal", {"regex": "（约"}, ANSWER, True, []),
    ("width-paren-not-a-group", {"regex": "（约|无）"}, "无法确定", False, ["regex /（约|无）/"]),
    (
        "everything",
        {
            "contains": ["2700"],
            "not_contains": ["2600"],
            "regex": [r"\d+\s*毫升"],
            "not_regex": [r"无法"],
            "mentions": [["大瓶"]],
        },
        ANSWER,
        True,
        [],
    ),
]


@pytest.mark.parametrize(
    ("spec", "text", "passes", "failed"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_examples(spec: dict, text: str, passes: bool, failed: list[str]) -> None:
    CHECKER.parse(spec)
    verdict = CHECKER.check(spec, text)
    assert verdict.passed is passes, verdict.explain()
    assert [f["label"] for f in verdict.details["failed"]] == failed
    for label in failed:
        assert label in verdict.found


def test_missed_groups_are_named_with_their_alternatives() -> None:
    spec = {"mentions": [["大瓶"], ["小瓶", "small bottle"]]}
    verdict = CHECKER.check(spec, ANSWER)
    assert not verdict.passed
    assert verdict.found == "✗ mentions group 2 [小瓶 | small bottle]: none of its alternatives appears"
    assert verdict.why == "1 of 2 assertions failed"
    assert verdict.details["failed"][0]["index"] == 1
    assert verdict.where.startswith("answer (")


def test_a_forbidden_hit_is_shown_where_it_is() -> None:
    verdict = CHECKER.check({"not_contains": "2600"}, "先算出 2600 毫升，后来改成 2700 毫升")
    assert not verdict.passed
    assert verdict.where == "not_contains '2600': 先算出 »2600« 毫升，后来改成 2700 毫升"
    assert verdict.details["failed"][0]["span"] == [4, 8]


def test_where_points_at_the_original_characters_after_folding() -> None:
    text = "前言。ＨＥＬＬＯ　ｗｏｒｌｄ！"
    verdict = CHECKER.check({"contains": "hello world"}, text)
    assert verdict.passed
    assert "»ＨＥＬＬＯ　ｗｏｒｌｄ«" in verdict.where


def test_expected_lists_every_assertion_and_the_options() -> None:
    spec = {"contains": ["a"], "not_regex": ["b+"], "mentions": [["c", "d"]], "ignore_width": False}
    verdict = CHECKER.check(spec, "a c")
    assert verdict.expected == "contains 'a'; not_regex /b+/; mentions [c | d]  (ignore case)"
    assert verdict.checker == "text"


def test_labels_name_the_assertions_instead_of_their_patterns() -> None:
    spec = {"regex": [{"pattern": r"32\s*(个)?\s*(层|layers?)", "label": "32 Transformer layers"}, r"3\s*,?\s*072"],
            "not_contains": [{"text": "10.1000/", "label": "no invented DOI"}],
            "mentions": [{"any": ["斐波那契", "Fibonacci"], "label": "names the sequence"}]}
    verdict = CHECKER.check(spec, "The hidden size is 3072; see doi 10.1000/xyz.")
    assert verdict.expected == (r"no invented DOI; regex /3\s*,?\s*072/; 32 Transformer layers; names the sequence"
                                "  (ignore case, ignore width)")
    assert verdict.found.splitlines() == [
        "✗ no invented DOI: present in the answer",
        "✗ 32 Transformer layers: no match in the answer",
        "✗ names the sequence (mentions [斐波那契 | Fibonacci]): none of its alternatives appears",
    ]
    assert verdict.where.startswith("no invented DOI: ")
    assert verdict.why == "3 of 4 assertions failed: no invented DOI, 32 Transformer layers, names the sequence"
    assert r"\s*" not in verdict.explain().replace(r"/3\s*,?\s*072/", "")  # only the unlabelled pattern shows
    assert [f["label"] for f in verdict.details["failed"]] == [
        "no invented DOI", "32 Transformer layers", "names the sequence (mentions [斐波那契 | Fibonacci])"]
    assert_passes(CHECKER.check(spec, "32 层, 3,072, Fibonacci"))


def test_verdict_is_plain_data() -> None:
    verdict = CHECKER.check({"contains": ["2700", "2600"]}, ANSWER)
    assert Verdict.from_dict(json.loads(json.dumps(verdict.to_dict()))) == verdict


def test_long_failure_lists_stay_on_one_screen() -> None:
    verdict = CHECKER.check({"contains": [f"missing-{i}" for i in range(30)]}, ANSWER)
    assert len(verdict.explain().splitlines()) <= 15
    assert "… and 22 more" in verdict.found
    assert verdict.why == "30 of 30 assertions failed"


def test_snippet_marks_the_match_within_about_60_chars() -> None:
    text = "x" * 100 + "NEEDLE" + "\n" + "y" * 100
    shown = snippet(text, 100, 106)
    assert "»NEEDLE«" in shown
    assert shown.startswith("…") and shown.endswith("…")
    assert "\n" not in shown
    assert 58 <= len(shown) <= 66
    assert snippet("short", 0, 5) == "»short«"


def test_dispatch_runs_the_text_checker_on_the_chosen_channel() -> None:
    check_spec = {"text": {"contains": "secret", "on": "analysis"}}
    parsed(check_spec)
    assert judged(check_spec, {"final": "", "analysis": "the SECRET plan"}).passed
    assert not judged({"text": {"contains": "secret"}}, {"final": "", "analysis": "secret"}).passed


MALFORMED = [
    ("string", "2700", ()),
    ("list", ["2700"], ()),
    ("empty", {}, ()),
    ("only-options", {"ignore_case": False}, ()),
    ("unknown-key", {"contains": "a", "colour": "red"}, ("colour",)),
    ("contains-number", {"contains": 5}, ("contains",)),
    ("contains-empty-list", {"contains": []}, ("contains",)),
    ("contains-empty-string", {"contains": ""}, ("contains",)),
    ("contains-bad-item", {"contains": ["a", 5]}, ("contains", 1)),
    ("not-contains-none", {"not_contains": [None]}, ("not_contains", 0)),
    ("regex-invalid-in-list", {"regex": ["ok", "(bad"]}, ("regex", 1)),
    ("regex-invalid-string", {"regex": "[z-a]"}, ("regex",)),
    ("regex-unknown-key", {"regex": [r"\d", {"p": 1}]}, ("regex", 1, "p")),
    ("regex-not-string", {"regex": [r"\d", 7]}, ("regex", 1)),
    ("label-without-pattern", {"regex": [{"label": "x"}]}, ("regex", 0)),
    ("label-empty", {"contains": [{"text": "a", "label": " "}]}, ("contains", 0, "label")),
    ("label-not-string", {"not_regex": [{"pattern": "a", "label": 3}]}, ("not_regex", 0, "label")),
    ("labelled-pattern-invalid", {"regex": [{"pattern": "(", "label": "x"}]}, ("regex", 0, "pattern")),
    ("labelled-text-not-string", {"contains": [{"text": 5, "label": "x"}]}, ("contains", 0, "text")),
    ("labelled-group-empty", {"mentions": [{"any": [], "label": "x"}]}, ("mentions", 0, "any")),
    ("labelled-group-bad-alternative", {"mentions": [{"any": ["a", 2], "label": "x"}]}, ("mentions", 0, "any", 1)),
    ("not-regex-invalid", {"not_regex": ["*"]}, ("not_regex", 0)),
    ("mentions-string", {"mentions": "a"}, ("mentions",)),
    ("mentions-empty", {"mentions": []}, ("mentions",)),
    ("mentions-empty-group", {"mentions": [["a"], []]}, ("mentions", 1)),
    ("mentions-bad-alternative", {"mentions": [["a", 3]]}, ("mentions", 0, 1)),
    ("mentions-empty-alternative", {"mentions": [["a"], ["b", ""]]}, ("mentions", 1, 1)),
    ("mentions-number-group", {"mentions": [5]}, ("mentions", 0)),
    ("ignore-case-string", {"contains": "a", "ignore_case": "yes"}, ("ignore_case",)),
    ("ignore-width-number", {"contains": "a", "ignore_width": 1}, ("ignore_width",)),
]


@pytest.mark.parametrize(("spec", "path"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_specs_raise_with_the_field_path(spec: object, path: tuple) -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse(spec)
    assert caught.value.path == path
    assert caught.value.message


def test_invalid_regex_message_quotes_the_pattern_and_the_registry_prefixes_the_path() -> None:
    with pytest.raises(SpecError) as caught:
        parsed({"text": {"regex": ["ok", "(bad"]}})
    assert caught.value.path == ("text", "regex", 1)
    assert "'(bad'" in caught.value.message


# -- properties ---------------------------------------------------------------

ALPHABET = st.sampled_from(list("abcdefgXYZ0127 .,:;!?()-答案毫升大瓶约"))
TEXT = st.text(ALPHABET, min_size=0, max_size=40)
NEEDLE = st.text(ALPHABET, min_size=1, max_size=5)


def full_width(text: str) -> str:
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


CHANGES = {
    "upper": str.upper,
    "lower": str.lower,
    "swapcase": str.swapcase,
    "full-width": full_width,
    "full-width-upper": lambda s: full_width(s.upper()),
}


@st.composite
def spec_for(draw: st.DrawFn, text: str) -> dict:
    def needle() -> str:
        if text and draw(st.booleans()):
            start = draw(st.integers(0, len(text) - 1))
            return text[start:start + draw(st.integers(1, 5))]
        return draw(NEEDLE)

    return {
        "contains": [needle()],
        "not_contains": [needle()],
        "regex": [re.escape(needle())],
        "not_regex": [re.escape(needle())],
        "mentions": [[needle(), needle()], [needle()]],
    }


def _failed(verdict: Verdict) -> list[tuple[str, int]]:
    return [(f["assertion"], f["index"]) for f in verdict.details["failed"]]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), text=TEXT, change=st.sampled_from(sorted(CHANGES)))
def test_case_and_width_changes_to_the_answer_do_not_change_the_verdict(
    data: st.DataObject, text: str, change: str
) -> None:
    spec = data.draw(spec_for(text))
    before = CHECKER.check(spec, text)
    after = CHECKER.check(spec, CHANGES[change](text))
    assert after.passed is before.passed
    assert _failed(after) == _failed(before)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), text=TEXT, change=st.sampled_from(sorted(CHANGES)))
def test_case_and_width_changes_to_the_needles_do_not_change_the_verdict(
    data: st.DataObject, text: str, change: str
) -> None:
    to = CHANGES[change]
    needles = [data.draw(NEEDLE) for _ in range(3)]
    plain = {"contains": [needles[0]], "regex": [re.escape(needles[1])], "mentions": [[needles[2]]]}
    changed = {
        "contains": [to(needles[0])],
        "regex": [re.escape(to(needles[1]))],
        "mentions": [[to(needles[2])]],
    }
    assert _failed(CHECKER.check(changed, text)) == _failed(CHECKER.check(plain, text))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), text=TEXT.filter(bool))
def test_any_slice_of_the_answer_is_contained_and_matched(data: st.DataObject, text: str) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    piece = text[start:start + data.draw(st.integers(1, 8))]
    spec = {"contains": piece, "regex": re.escape(piece), "mentions": [[piece]]}
    assert CHECKER.check(spec, full_width(text).upper()).passed
    negated = CHECKER.check({"not_contains": piece, "not_regex": re.escape(piece)}, text.swapcase())
    assert not negated.passed
    assert len(negated.details["failed"]) == 2


@settings(max_examples=100, deadline=None)
@given(text=TEXT)
def test_fold_is_what_makes_forms_equal(text: str) -> None:
    assert fold(full_width(text).upper(), case=True, width=True) == fold(text, case=True, width=True)
    if full_width(text) != text:
        assert fold(full_width(text), case=False, width=False) != fold(text, case=False, width=False)


# -- the normalized view --------------------------------------------------------

MARKUP = [
    ("latex-mathbf", {"regex": r"共\s*2700\s*毫升"}, r"共 $\mathbf{2700}$ 毫升"),
    ("latex-text-boxed", {"contains": "2700 ml"}, r"$$\boxed{2700\ \text{ml}}$$"),
    ("latex-thin-space", {"regex": r"3\s*[,，]?\s*072"}, r"隐藏状态大小 $3\,072$"),
    ("latex-parens", {"contains": "x = 55"}, r"于是 \(x = 55\)。"),
    ("emphasis", {"regex": r"5\s*的对面是\s*3"}, "5 的对面是 **3**"),
    ("header", {"regex": r"。\n结论\n"}, "推理。\n## 结论\n无法爬出"),
    ("table-row", {"contains": "隐藏层维度: 3072"}, "| 参数 | 值 |\n|---|---|\n| 隐藏层维度 | 3072 |"),
    ("table-header", {"regex": r"query heads:\s*24"}, "| Layers | Query heads | KV heads |\n|---|---|---|\n| 32 | 24 | 8 |"),
    ("entity", {"contains": "R&D 3 < 4"}, "R&amp;D 3 &lt; 4"),
]


@pytest.mark.parametrize(("spec", "text"), [row[1:] for row in MARKUP], ids=[row[0] for row in MARKUP])
def test_markup_does_not_hide_a_fact(spec: dict, text: str) -> None:
    assert CHECKER.check(spec, text).passed


def test_an_assertion_on_the_markup_as_written_still_holds() -> None:
    assert CHECKER.check({"regex": r"\*\*3\*\*"}, "5 的对面是 **3**").passed
    assert not CHECKER.check({"not_contains": "$"}, r"共 $\mathbf{2700}$ 毫升").passed


def test_where_points_into_the_answer_as_written() -> None:
    text = "| 参数 | 值 |\n|---|---|\n| 隐藏层维度 | **3072** |"
    verdict = CHECKER.check({"not_contains": "隐藏层维度: 3072"}, text)
    assert "»隐藏层维度 | **3072«" in verdict.where


def test_a_table_keeps_its_rows_apart() -> None:
    text = "| 项目 | 数值 |\n|---|---|\n| 查询头 | 8 |\n| 键/值头 | 24 |"
    assert not CHECKER.check({"regex": r"查询头\D{0,12}24"}, text).passed


NUMBERS = st.integers(min_value=0, max_value=10**6).map(str)
WRAPS = [r"$\mathbf{%s}$", r"\textbf{%s}", r"$\boxed{%s}$", "**%s**", r"\(%s\)", "$%s$", r"$\text{%s}$"]


@given(number=NUMBERS, wrap=st.sampled_from(WRAPS))
def test_wrapping_a_number_in_markup_does_not_change_what_is_matched(number: str, wrap: str) -> None:
    text = "共 " + wrap % number + " 毫升"
    verdict = CHECKER.check({"regex": rf"共\s*{number}\s*毫升"}, text)
    assert verdict.passed
    assert number in verdict.where
