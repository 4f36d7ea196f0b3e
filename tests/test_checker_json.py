"""The json checker: where JSON is found, strict parsing, JSON Schema, and sequence rules."""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import judged, parsed

from pytest_gptoss.checkers import json as json_checker
from pytest_gptoss.checkers.json import CHECKER
from pytest_gptoss.checkers.json.find import BadJSON, find_json
from pytest_gptoss.verdict import SpecError, Verdict

# The seed case: a chain of reasoning steps, written as a sequence of JSON objects.
STEPS_SPEC = {
    "shape": "sequence",
    "schema": {
        "type": "array",
        "minItems": 3,
        "items": {
            "type": "object",
            "required": ["步骤", "标题", "内容", "下一步行动"],
            "properties": {
                "步骤": {"type": "integer", "minimum": 1},
                "标题": {"type": "string", "minLength": 1},
                "内容": {"type": "string", "minLength": 1},
                "下一步行动": {"enum": ["继续", "最终答案"]},
            },
        },
    },
    "consecutive": "步骤",
    "others": {"下一步行动": "继续"},
    "last": {"下一步行动": "最终答案"},
}


def step(number: object, action: str = "继续", **extra: object) -> dict:
    item = {"步骤": number, "标题": f"第{number}步", "内容": f"思考 {number}", "下一步行动": action}
    item.update(extra)
    return item


GOOD = [step(1), step(2), step(3, "最终答案")]


def one_array(items: list, indent: int | None = 2) -> str:
    return "思考过程如下：\n```json\n" + json.dumps(items, ensure_ascii=False, indent=indent) + "\n```\n"


def fenced_blocks(items: list) -> str:
    return "\n".join(
        f"第 {i} 步：\n```json\n{json.dumps(item, ensure_ascii=False, indent=2)}\n```" for i, item in enumerate(items, 1)
    )


def bare_with_prose(items: list) -> str:
    return "\n".join(f"接下来是第 {i} 步。\n{json.dumps(item, ensure_ascii=False)}" for i, item in enumerate(items, 1))


def lines_only(items: list) -> str:
    return "\n".join(json.dumps(item, ensure_ascii=False) for item in items)


# (id, spec, answer, passes, text the verdict's why must contain)
EXAMPLES = [
    ("one-array", STEPS_SPEC, one_array(GOOD), True, ""),
    ("separate-fenced-blocks", STEPS_SPEC, fenced_blocks(GOOD), True, ""),
    ("bare-objects-with-prose", STEPS_SPEC, bare_with_prose(GOOD), True, ""),
    ("json-lines-whole-answer", STEPS_SPEC, lines_only(GOOD), True, ""),
    ("untagged-fence", STEPS_SPEC, "```\n" + json.dumps(GOOD) + "\n```", True, ""),
    ("step-numbering-gap", STEPS_SPEC, one_array([step(1), step(2), step(4, "最终答案")]), False,
     "$[2]['步骤']: 4 where 3 was expected (步骤 must run 1, 2, 3, …)"),
    ("step-numbering-starts-at-0", STEPS_SPEC, fenced_blocks([step(0), step(1), step(2, "最终答案")]), False,
     "$[0]['步骤']: 0 is less than the minimum of 1"),
    ("step-number-as-string", STEPS_SPEC, bare_with_prose([step(1), step("2"), step(3, "最终答案")]), False,
     "$[1]['步骤']: '2' is not of type 'integer'"),
    ("wrong-last-action", STEPS_SPEC, one_array([step(1), step(2), step(3)]), False,
     "$[2]['下一步行动']: '继续' where '最终答案' was expected (the last item)"),
    ("final-answer-too-early", STEPS_SPEC, one_array([step(1), step(2, "最终答案"), step(3, "最终答案")]), False,
     "$[1]['下一步行动']: '最终答案' where '继续' was expected (every item but the last)"),
    ("action-outside-enum", STEPS_SPEC, one_array([step(1), step(2), step(3, "完成")]), False,
     "$[2]['下一步行动']: '完成' is not one of ['继续', '最终答案']"),
    ("too-few-steps", STEPS_SPEC, one_array([step(1), step(2, "最终答案")]), False,
     "(it has 2 items, minItems is 3)"),
    ("missing-required-key", STEPS_SPEC,
     one_array([step(1), {"步骤": 2, "内容": "x", "下一步行动": "继续"}, step(3, "最终答案")]), False,
     "$[1]: '标题' is a required property"),
    ("const-path", {"shape": "sequence", "schema": {"items": {"properties": {"下一步行动": {"const": "最终答案"}}}}},
     one_array([step(1, "最终答案"), step(2, "最终答案"), step(3)]), False,
     "$[2]['下一步行动']: '最终答案' was expected"),
    ("nan-rejected", {}, '```json\n{"score": NaN}\n```', False,
     "$['score']: NaN is not valid JSON"),
    ("infinity-rejected", {}, '{"scores": [1, -Infinity]}', False,
     "$['scores'][1]: -Infinity is not valid JSON"),
    ("overflow-rejected", {}, '{"big": 1e999}', False, "$['big']: the number 1e999 is too large"),
    ("nan-inside-string-is-fine", {"schema": {"const": {"note": "NaN"}}}, '{"note": "NaN"}', True, ""),
    ("duplicate-key-rejected", {}, '结果：{"a": {"b": 1, "b": 2}}', False,
     "$['a']: duplicate key 'b'"),
    ("duplicate-key-in-second-value", STEPS_SPEC,
     bare_with_prose(GOOD[:1]) + '\n{"步骤": 2, "步骤": 3}', False, "value 2, $: duplicate key '步骤'"),
    ("format-email-rejects", {"schema": {"type": "object", "properties": {"email": {"format": "email"}}}},
     '{"email": "x"}', False, "$['email']: 'x' is not a 'email'"),
    ("format-email-accepts", {"schema": {"type": "object", "properties": {"email": {"format": "email"}}}},
     '{"email": "a@example.com"}', True, ""),
    ("format-ipv4-rejects", {"schema": {"format": "ipv4"}}, '"300.1.1.1"', False, "is not a 'ipv4'"),
    ("trailing-comma", {}, '```json\n{"a": 1,}\n```', False,
     "Expecting property name enclosed in double quotes (line 2 column 9)"),
    ("cut-off-fence", {}, '```json\n[{"a": 1}, {"b":', False, "Expecting value"),
    ("broken-bare-object", {}, '答案是 {"a": 1 "b": 2}', False, "Expecting ',' delimiter"),
    ("no-json", {}, "我不知道。", False, "found no JSON value"),
    ("empty-answer", {}, "", False, "found no JSON value"),
    ("value-shape-one", {"shape": "value", "schema": {"type": "object", "required": ["a"]}},
     '答案：{"a": 1}。', True, ""),
    ("value-shape-two", {"shape": "value"}, '{"a": 1}\n{"b": 2}', False,
     "expected exactly one JSON value; found 2"),
    ("any-shape-judges-one-value-as-is", {"schema": {"type": "object"}}, '```json\n{"a": 1}\n```', True, ""),
    ("any-shape-judges-several-as-a-list", {"schema": {"type": "object"}}, '{"a": 1} 然后 {"b": 2}', False,
     "$: [{'a': 1}, {'b': 2}] is not of type 'object'"),
    ("scalar-whole-answer", {"schema": {"const": 42}}, " 42\n", True, ""),
    ("citations-and-placeholders-are-not-json", {"shape": "value", "schema": {"required": ["x"]}},
     '见文献 [1] 与 [2]，模板 {name} 已填：{"x": 1}', True, ""),
    ("other-language-fence-is-skipped", {"shape": "value", "schema": {"required": ["x"]}},
     '```python\nd = {"y": 2}\n```\n结果：{"x": 1}', True, ""),
    ("json-fence-wins-over-bare", {"shape": "value", "schema": {"required": ["x"]}},
     '草稿 {"y": 2}\n```json\n{"x": 1}\n```', True, ""),
    ("true-is-not-1", {"shape": "sequence", "last": {"done": True}}, '[{"done": 1}]', False,
     "$[0]['done']: 1 where True was expected (the last item)"),
    ("one-item-sequence", {"shape": "sequence", "last": {"下一步行动": "最终答案"}, "consecutive": "步骤"},
     json.dumps(step(1, "最终答案"), ensure_ascii=False), True, ""),
    ("not-an-object-item", {"shape": "sequence", "consecutive": "n"}, '[{"n": 1}, ["n", 2]]', False,
     "$[1]: ['n', 2] is not an object"),
]


@pytest.mark.parametrize(
    ("spec", "text", "passes", "why"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_examples(spec: dict, text: str, passes: bool, why: str) -> None:
    CHECKER.parse(spec)
    verdict = CHECKER.check(spec, text)
    assert verdict.passed is passes, verdict.explain()
    assert verdict.checker == "json"
    assert not verdict.error
    assert why in verdict.why
    if not passes:
        assert verdict.why and verdict.found


@pytest.mark.parametrize(
    ("layout", "source"),
    [
        (one_array, "one array of 3 items from 1 ```json block (line 2)"),
        (fenced_blocks, "3 values from 3 ```json blocks (lines 2, 11, 20)"),
        (bare_with_prose, "3 values from bare JSON in the text (lines 2, 4, 6)"),
        (lines_only, "3 values from the whole answer"),
    ],
)
def test_found_says_how_many_values_and_from_where(layout: object, source: str) -> None:
    verdict = CHECKER.check(STEPS_SPEC, layout(GOOD))  # type: ignore[operator]
    assert verdict.passed, verdict.explain()
    assert verdict.found.startswith(source + ": [{")
    assert verdict.details["values"] == (1 if layout is one_array else 3)


def test_where_points_at_the_offending_value_in_the_answer() -> None:
    answer = fenced_blocks([step(1), step(2), step(3)])
    verdict = CHECKER.check(STEPS_SPEC, answer)
    assert verdict.why == "$[2]['下一步行动']: '继续' where '最终答案' was expected (the last item)"
    lines = answer.splitlines()
    line = max(i for i, text in enumerate(lines) if text == '  "下一步行动": "继续"') + 1
    assert verdict.where.startswith(f"$[2]['下一步行动'] (line {line}): ")
    assert '»"继续"«' in verdict.where


def test_where_points_inside_one_array() -> None:
    answer = one_array([step(1), step(2), step(4, "最终答案")], indent=None)
    verdict = CHECKER.check(STEPS_SPEC, answer)
    assert "»4«" in verdict.where
    assert verdict.details["problems"] == [
        {"path": "$[2]['步骤']", "message": "4 where 3 was expected (步骤 must run 1, 2, 3, …)"}
    ]


def test_duplicate_key_and_nan_are_shown_where_they_are() -> None:
    dup = CHECKER.check({}, '{"a": 1,\n "a": 2}')
    assert dup.where == 'line 2: {"a": 1,⏎ »"a": 2«}'
    nan = CHECKER.check({}, '[1, 2, NaN]')
    assert "»NaN«" in nan.where
    assert nan.why == "$[2]: NaN is not valid JSON (JSON has no NaN or Infinity)"


def test_the_expected_line_summarises_the_schema_and_the_rules() -> None:
    verdict = CHECKER.check(STEPS_SPEC, one_array(GOOD))
    assert verdict.expected == (
        "a sequence of JSON values (one array, fenced blocks or bare values), as a list: "
        'array (≥3) of {步骤: integer ≥ 1, 标题: non-empty string, 内容: non-empty string, 下一步行动: one of "继续" | "最终答案"}'
        '; 步骤 runs 1, 2, 3, …; every item but the last has 下一步行动 = "继续"; the last item has 下一步行动 = "最终答案"'
    )
    assert CHECKER.check({}, "{}").expected == "JSON: any JSON"
    optional = CHECKER.check({"shape": "value", "schema": {"properties": {"a": {"type": "string"}}}}, "{}")
    assert optional.expected == "exactly one JSON value: {a?: string}"


def test_many_problems_stay_on_one_screen() -> None:
    items = [step(n + 5, "完成") for n in range(30)]
    verdict = CHECKER.check(STEPS_SPEC, one_array(items))
    assert not verdict.passed
    assert len(verdict.why.splitlines()) == json_checker.SHOWN_PROBLEMS + 1
    assert verdict.why.splitlines()[-1].startswith("… and ")
    assert len(verdict.explain().splitlines()) <= 15


def test_a_schema_problem_and_a_rule_at_the_same_path_are_reported_once() -> None:
    verdict = CHECKER.check(STEPS_SPEC, one_array([step(1), step(2), step(3, "完成")]))
    assert [p["path"] for p in verdict.details["problems"]] == ["$[2]['下一步行动']"]


def test_unresolvable_ref_is_an_error_not_a_failure() -> None:
    spec = {"schema": {"$ref": "https://example.com/schema.json"}}
    CHECKER.parse(spec)
    verdict = CHECKER.check(spec, '{"a": 1}')
    assert verdict.error and not verdict.passed
    assert "could not be applied" in verdict.why


def test_find_json_reports_values_and_spans() -> None:
    text = 'a {"x": [1, 2]} b ["s"] c'
    found = find_json(text)
    assert found.values == ({"x": [1, 2]}, ["s"])
    assert [text[s:e] for s, e in found.spans] == ['{"x": [1, 2]}', '["s"]']
    with pytest.raises(BadJSON) as caught:
        find_json('```json\n{"a": NaN}\n```')
    assert caught.value.message == "$['a']: NaN is not valid JSON (JSON has no NaN or Infinity)"


def test_verdict_is_plain_data() -> None:
    verdict = CHECKER.check(STEPS_SPEC, one_array([step(1), step(3)]))
    assert Verdict.from_dict(json.loads(json.dumps(verdict.to_dict()))) == verdict


def test_dispatch_runs_the_json_checker_on_the_chosen_channel() -> None:
    spec = {"json": {"shape": "value", "schema": {"required": ["a"]}, "on": "analysis"}}
    parsed(spec)
    assert judged(spec, {"final": "", "analysis": 'plan: {"a": 1}'}).passed
    assert not judged({"json": {"shape": "value"}}, {"final": "no json", "analysis": '{"a": 1}'}).passed
    with pytest.raises(SpecError) as caught:
        parsed({"json": {"schema": {"type": "objekt"}}})
    assert caught.value.path == ("json", "schema", "type")


MALFORMED = [
    ("string", "object", ()),
    ("list", [{"schema": {}}], ()),
    ("unknown-key", {"schema": {}, "colour": "red"}, ("colour",)),
    ("bad-shape", {"shape": "list"}, ("shape",)),
    ("consecutive-needs-sequence", {"consecutive": "步骤"}, ("consecutive",)),
    ("last-needs-sequence", {"shape": "value", "last": {"a": 1}}, ("last",)),
    ("consecutive-not-a-key", {"shape": "sequence", "consecutive": 1}, ("consecutive",)),
    ("consecutive-empty", {"shape": "sequence", "consecutive": ""}, ("consecutive",)),
    ("others-empty", {"shape": "sequence", "others": {}}, ("others",)),
    ("others-a-list", {"shape": "sequence", "others": ["继续"]}, ("others",)),
    ("last-non-json-value", {"shape": "sequence", "last": {"when": datetime.date(2024, 1, 1)}}, ("last", "when")),
    ("schema-a-string", {"schema": "object"}, ("schema",)),
    ("schema-unknown-type", {"schema": {"type": "array", "items": {"type": "objekt"}}}, ("schema", "items", "type")),
    ("schema-negative-min-items", {"schema": {"minItems": -1}}, ("schema", "minItems")),
    ("schema-bad-pattern", {"schema": {"properties": {"a": {"pattern": "(bad"}}}},
     ("schema", "properties", "a", "pattern")),
    ("schema-yaml-date", {"schema": {"properties": {"d": {"const": datetime.date(2024, 1, 1)}}}},
     ("schema", "properties", "d", "const")),
    ("schema-non-string-key", {"schema": {"properties": {1: {"type": "string"}}}}, ("schema", "properties", 1)),
    ("schema-nan", {"schema": {"maximum": float("nan")}}, ("schema", "maximum")),
    ("schema-other-draft", {"schema": {"$schema": "http://json-schema.org/draft-07/schema#"}}, ("schema", "$schema")),
    ("schema-unchecked-format", {"schema": {"items": {"properties": {"tel": {"format": "phone-number"}}}}},
     ("schema", "items", "properties", "tel", "format")),
    ("schema-unchecked-format-in-anyof", {"schema": {"anyOf": [{"type": "null"}, {"format": "phone-number"}]}},
     ("schema", "anyOf", 1, "format")),
]


@pytest.mark.parametrize(("spec", "path"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_specs_raise_with_the_field_path(spec: object, path: tuple) -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse(spec)
    assert caught.value.path == path
    assert caught.value.message


def test_well_formed_specs_validate() -> None:
    for spec in (None, {}, STEPS_SPEC, {"schema": True}, {"schema": {"format": "email"}},
                 {"schema": {"properties": {"format": {"type": "string"}}}},
                 {"schema": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}):
        CHECKER.parse(spec)


def test_an_unchecked_format_names_what_is_checked() -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse({"schema": {"format": "phone-number"}})
    assert "'phone-number' cannot be checked" in caught.value.message
    assert "email" in caught.value.message


# -- properties ---------------------------------------------------------------

WORDS = st.text(st.sampled_from(list("步骤标题内容ab c\"\\{}[]`:,/\n\t")), min_size=1, max_size=12)
ACTIONS = st.sampled_from(["继续", "最终答案", "完成"])


@st.composite
def step_lists(draw: st.DrawFn) -> list[dict]:
    """Step sequences, mostly well-formed, sometimes with a wrong number or action."""
    count = draw(st.integers(1, 6))
    items = []
    for index in range(count):
        number = index + 1 if draw(st.integers(0, 5)) else draw(st.integers(0, 9))
        action = ("最终答案" if index == count - 1 else "继续") if draw(st.integers(0, 5)) else draw(ACTIONS)
        item = {"步骤": number, "标题": draw(WORDS), "内容": draw(WORDS), "下一步行动": action}
        keys = draw(st.permutations(list(item)))
        items.append({key: item[key] for key in keys})
    return items


def expected_failures(items: list[dict]) -> set[str]:
    """The problem paths the seed spec must report, computed independently of the checker."""
    paths = set()
    if len(items) < 3:
        paths.add("$")
    for index, item in enumerate(items):
        action = "最终答案" if index == len(items) - 1 else "继续"
        if item["步骤"] != index + 1:
            paths.add(f"$[{index}]['步骤']")
        if item["下一步行动"] != action:
            paths.add(f"$[{index}]['下一步行动']")
    return paths


LAYOUTS = {
    "one-array": lambda items, indent, ascii_: (
        "```json\n" + json.dumps(items, ensure_ascii=ascii_, indent=indent) + "\n```"
    ),
    "untagged-array": lambda items, indent, ascii_: (
        "结果如下\n```\n" + json.dumps(items, ensure_ascii=ascii_, indent=indent) + "\n```\n完毕"
    ),
    "fenced-blocks": lambda items, indent, ascii_: "\n\n".join(
        "```json\n" + json.dumps(item, ensure_ascii=ascii_, indent=indent) + "\n```" for item in items
    ),
    "bare-with-prose": lambda items, indent, ascii_: "\n".join(
        f"第{i}步：" + json.dumps(item, ensure_ascii=ascii_, indent=indent) + " 好。" for i, item in enumerate(items)
    ),
    "json-lines": lambda items, indent, ascii_: "\n".join(json.dumps(item, ensure_ascii=ascii_) for item in items),
}


@settings(max_examples=150, deadline=None)
@given(
    items=step_lists(),
    layout=st.sampled_from(sorted(LAYOUTS)),
    indent=st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    ascii_=st.booleans(),
)
def test_layout_and_formatting_do_not_change_the_verdict_of_a_sequence(
    items: list[dict], layout: str, indent: object, ascii_: bool
) -> None:
    reference = CHECKER.check(STEPS_SPEC, json.dumps(items, ensure_ascii=False))
    verdict = CHECKER.check(STEPS_SPEC, LAYOUTS[layout](items, indent, ascii_))
    assert verdict.passed is reference.passed, verdict.explain()
    assert verdict.details["problems"] == reference.details["problems"]
    assert {p["path"] for p in verdict.details["problems"]} == expected_failures(items)


@settings(max_examples=100, deadline=None)
@given(items=step_lists(), data=st.data())
def test_every_reported_problem_is_located_in_the_answer(items: list[dict], data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(sorted(LAYOUTS)))
    verdict = CHECKER.check(STEPS_SPEC, LAYOUTS[layout](items, 2, False))
    shown = verdict.details["problems"][: json_checker.LOCATED_PROBLEMS]
    assert len(verdict.where.splitlines()) == (len(shown) if shown else 1)
    for problem, line in zip(shown, verdict.where.splitlines()):
        assert line.startswith(problem["path"] + " (line ")
        assert "»" in line and "«" in line


@settings(max_examples=100, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
    max_leaves=10,
), indent=st.sampled_from([None, 2]))
def test_any_json_value_round_trips_as_one_value(value: object, indent: object) -> None:
    text = "```json\n" + json.dumps(value, indent=indent, ensure_ascii=False) + "\n```"
    verdict = CHECKER.check({"shape": "value", "schema": {"const": value}}, text)
    assert verdict.passed, verdict.explain()
