"""The tool_calls checker: which tools were called, how often, in what order, with what arguments, and when."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from verdicts import assert_fails, assert_passes

from pytest_gptoss import checkers
from pytest_gptoss.checkers.registry import Registry
from pytest_gptoss.checkers.tool_calls import CHECKER, read_calls
from pytest_gptoss.verdict import SpecError, Verdict


def call(name: str, arguments: Any = None, *, generation: int = 0, result: str = "ok",
         error: str | None = None) -> dict[str, Any]:
    """A call as the tool loop records it; ``arguments`` a dict (written as JSON) or the raw string."""
    made = {
        "recipient": name if name == "python" else f"functions.{name}",
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
        "content_type": "json",
        "channel": "commentary",
        "generation": generation,
        "result": result,
        "seconds": 0.01,
    }
    if error is not None:
        made["error"] = error
    return made


def exchange(*calls: dict[str, Any], final: int | None | str = "next") -> str:
    """The ``tool_calls`` channel; the final answer comes from the generation after the last call by default."""
    if final == "next":
        final = max((c["generation"] for c in calls), default=-1) + 1
    return json.dumps({"calls": list(calls), "final_generation": final})


def in_turn(*names: str) -> str:
    """Calls of ``names``, one per generation, then the final answer."""
    return exchange(*(call(name, generation=index) for index, name in enumerate(names)))


def check(spec: dict[str, Any], text: str) -> Verdict:
    return CHECKER.check(spec, text)


# called / not_called


def test_called_passes_when_each_name_was_called() -> None:
    assert_passes(check({"called": "lookup_rate"}, in_turn("convert", "lookup_rate")))
    assert_passes(check({"called": ["lookup_rate", "convert"]}, in_turn("convert", "lookup_rate")))
    assert_passes(check({"called": "python"}, in_turn("python")))


def test_called_names_the_tool_never_called() -> None:
    assert_fails(check({"called": ["lookup_rate", "convert"]}, in_turn("lookup_rate")), "convert was never called")


def test_a_spec_may_write_the_functions_prefix() -> None:
    assert_passes(check({"called": "functions.convert"}, in_turn("convert")))
    assert_fails(check({"called": "functions.convert"}, in_turn("lookup_rate")), "convert was never called")


def test_not_called_names() -> None:
    assert_passes(check({"not_called": ["convert", "python"]}, in_turn("lookup_rate")))
    verdict = check({"not_called": "lookup_rate"}, in_turn("lookup_rate", "convert", "lookup_rate"))
    assert_fails(verdict)
    assert verdict.why == "lookup_rate was called (calls 1, 3); expected it never to be"


def test_not_called_true_means_no_tool_at_all() -> None:
    assert_passes(check({"not_called": True}, exchange(final=0)))
    verdict = check({"not_called": True}, in_turn("lookup_rate", "python"))
    assert_fails(verdict)
    assert verdict.why == "expected no tool calls; 2 tool calls were made (lookup_rate, python)"


# count, min_calls, max_calls


@pytest.mark.parametrize(
    ("count", "calls", "why"),
    [
        (1, 1, ""),
        (1, 3, "lookup_rate was called 3 times; expected 1"),
        (2, 1, "lookup_rate was called once; expected 2"),
        (0, 0, ""),
        (0, 1, "lookup_rate was called once; expected 0"),
        ({"min": 1, "max": 2}, 2, ""),
        ({"min": 1, "max": 2}, 3, "lookup_rate was called 3 times; expected 1 to 2"),
        ({"min": 2}, 5, ""),
        ({"min": 2}, 0, "lookup_rate was never called; expected at least 2"),
        ({"max": 1}, 0, ""),
        ({"max": 1}, 2, "lookup_rate was called 2 times; expected at most 1"),
    ],
)
def test_count(count: Any, calls: int, why: str) -> None:
    verdict = check({"count": {"lookup_rate": count}}, in_turn("convert", *["lookup_rate"] * calls))
    assert verdict.passed is (not why), verdict.explain()
    assert verdict.why == why


@pytest.mark.parametrize(
    ("spec", "calls", "why"),
    [
        ({"min_calls": 1}, 1, ""),
        ({"min_calls": 1}, 0, "no tool calls were made; expected at least 1"),
        ({"max_calls": 2}, 2, ""),
        ({"max_calls": 2}, 3, "3 tool calls were made; expected at most 2"),
        ({"min_calls": 1, "max_calls": 1}, 1, ""),
        ({"min_calls": 2, "max_calls": 3}, 1, "1 tool call was made; expected 2 to 3"),
    ],
)
def test_total_calls(spec: dict[str, Any], calls: int, why: str) -> None:
    verdict = check(spec, in_turn(*["python"] * calls))
    assert verdict.passed is (not why), verdict.explain()
    assert verdict.why == why


# order


@pytest.mark.parametrize(
    "names",
    [
        ("lookup_rate", "convert"),
        ("python", "lookup_rate", "python", "convert"),  # other calls between
        ("lookup_rate", "lookup_rate", "convert", "lookup_rate"),
    ],
)
def test_order_holds_as_a_subsequence(names: tuple[str, ...]) -> None:
    assert_passes(check({"order": ["lookup_rate", "convert"]}, in_turn(*names)))


@pytest.mark.parametrize(
    ("order", "names", "why"),
    [
        (["lookup_rate", "convert"], ("convert", "lookup_rate"),
         "order: convert (call 1) came before lookup_rate (call 2)"),
        (["lookup_rate", "convert"], ("lookup_rate",), "order: convert was never called"),
        (["lookup_rate", "convert", "lookup_rate"], ("lookup_rate", "convert"),
         "order: lookup_rate was called once; the order names it 2 times"),
        (["convert", "lookup_rate", "lookup_rate"], ("lookup_rate", "convert", "lookup_rate"),
         "order: no lookup_rate call after lookup_rate (call 3); lookup_rate was called as calls 1, 3"),
    ],
)
def test_order_says_where_it_breaks(order: list[str], names: tuple[str, ...], why: str) -> None:
    verdict = check({"order": order}, in_turn(*names))
    assert_fails(verdict)
    assert verdict.why == why


def test_a_repeated_name_in_order_needs_as_many_calls() -> None:
    spec = {"order": ["python", "python"]}
    assert_passes(check(spec, in_turn("python", "python")))
    assert_fails(check(spec, in_turn("python")), "python was called once; the order names it 2 times")


# calls


def test_calls_match_arguments_with_json_equality() -> None:
    text = exchange(call("lookup_rate", {"unit": "mile", "to": {"unit": "km", "digits": 3.0}, "extra": True}))
    assert_passes(check({"calls": [{"name": "lookup_rate", "arguments": {"unit": "mile"}}]}, text))
    assert_passes(check({"calls": [{"name": "lookup_rate", "arguments": {"to": {"digits": 3, "unit": "km"}}}]}, text))


@pytest.mark.parametrize(
    ("arguments", "expected", "why"),
    [
        ({"unit": "miles"}, {"unit": "mile"}, "call 1 (lookup_rate): argument 'unit' is 'miles', expected 'mile'"),
        ({"amount": 1}, {"amount": True}, "call 1 (lookup_rate): argument 'amount' is 1, expected True"),
        ({"amount": "3"}, {"amount": 3}, "call 1 (lookup_rate): argument 'amount' is '3', expected 3"),
        ({"to": {"unit": "km", "digits": 3}}, {"to": {"unit": "km"}},
         "call 1 (lookup_rate): argument 'to' is {'unit': 'km', 'digits': 3}, expected {'unit': 'km'}"),
        ({"to": "km"}, {"unit": "mile"}, "call 1 (lookup_rate): argument 'unit' is missing"),
        ('{"unit": "mile"', {"unit": "mile"}, "call 1 (lookup_rate): arguments are not JSON ("),
        ('["mile"]', {"unit": "mile"}, "call 1 (lookup_rate): arguments are ['mile'], not a JSON object"),
    ],
)
def test_calls_say_which_argument_differs(arguments: Any, expected: dict[str, Any], why: str) -> None:
    verdict = check({"calls": [{"name": "lookup_rate", "arguments": expected}]}, exchange(call("lookup_rate", arguments)))
    assert_fails(verdict)
    assert verdict.why.startswith(why), verdict.why


def test_calls_are_matched_in_order_each_after_the_last() -> None:
    spec = {"calls": [{"name": "lookup_rate", "arguments": {"unit": "mile"}},
                      {"name": "convert", "arguments": {"amount": 5}}]}
    matching = exchange(call("convert", {"amount": 1}, generation=0), call("lookup_rate", {"unit": "km"}, generation=1),
                        call("lookup_rate", {"unit": "mile"}, generation=2), call("convert", {"amount": 5}, generation=3))
    verdict = check(spec, matching)
    assert_passes(verdict)
    assert verdict.details["matched"] == [3, 4]
    backwards = exchange(call("convert", {"amount": 5}, generation=0), call("lookup_rate", {"unit": "mile"}, generation=1))
    verdict = check(spec, backwards)
    assert_fails(verdict)
    assert verdict.why == "no convert call after call 2 (lookup_rate); convert was called as call 1"


def test_a_call_that_fits_no_entry_is_named_with_the_others_that_failed() -> None:
    text = exchange(call("lookup_rate", {"unit": "km"}), call("convert"), call("lookup_rate", {"unit": "yard"}))
    verdict = check({"calls": [{"name": "lookup_rate", "arguments": {"unit": "mile"}}]}, text)
    assert_fails(verdict)
    assert verdict.why == ("call 1 (lookup_rate): argument 'unit' is 'km', expected 'mile'; "
                           "call 3 (lookup_rate) did not match either")


def test_calls_of_a_tool_never_called() -> None:
    verdict = check({"calls": [{"name": "convert", "arguments": {"amount": 1}}]}, in_turn("lookup_rate"))
    assert_fails(verdict)
    assert verdict.why == "convert was never called"


def test_a_call_answered_with_an_error_still_matches_by_its_arguments() -> None:
    text = exchange(call("lookup_rate", {"unit": "mile"}, error="rate service down"))
    assert_passes(check({"calls": [{"name": "lookup_rate", "arguments": {"unit": "mile"}}]}, text))


SCHEMA = {"type": "object", "properties": {"unit": {"enum": ["mile", "km"]}}, "required": ["unit"]}


def test_calls_validate_arguments_against_a_schema() -> None:
    spec = {"calls": [{"name": "lookup_rate", "schema": SCHEMA}]}
    assert_passes(check(spec, exchange(call("lookup_rate", {"unit": "km"}))))
    verdict = check(spec, exchange(call("lookup_rate", {"unit": "yard"})))
    assert_fails(verdict)
    assert verdict.why == "call 1 (lookup_rate): arguments break the schema at $['unit']: 'yard' is not one of ['mile', 'km']"
    assert_fails(check(spec, exchange(call("lookup_rate", "not json"))), "call 1 (lookup_rate): arguments are not JSON")


def test_arguments_and_schema_together_both_hold() -> None:
    spec = {"calls": [{"name": "lookup_rate", "arguments": {"unit": "km"}, "schema": {"required": ["digits"]}}]}
    assert_passes(check(spec, exchange(call("lookup_rate", {"unit": "km", "digits": 2}))))
    assert_fails(check(spec, exchange(call("lookup_rate", {"unit": "km"}))), "'digits' is a required property")
    assert_fails(check(spec, exchange(call("lookup_rate", {"unit": "mile", "digits": 2}))), "argument 'unit'")


def test_a_schema_ref_that_resolves_to_nothing_is_an_error_not_a_failure() -> None:
    spec = {"calls": [{"name": "lookup_rate", "schema": {"$ref": "https://example.invalid/schema.json"}}]}
    verdict = check(spec, exchange(call("lookup_rate", {"unit": "km"})))
    assert verdict.error and not verdict.passed, verdict.explain()
    assert "could not be applied" in verdict.why


# before_final


def test_before_final_with_called() -> None:
    spec = {"called": ["lookup_rate", "convert"], "before_final": True}
    assert_passes(check(spec, in_turn("lookup_rate", "convert")))
    late = exchange(call("lookup_rate", generation=0), call("python", generation=1), call("convert", generation=2),
                    final=1)
    verdict = check(spec, late)
    assert_fails(verdict)
    assert verdict.why == ("call 3 (convert) came after the final answer (it was made in generation 2; "
                           "the final answer came from generation 1)")


def test_before_final_with_calls_judges_the_matched_call() -> None:
    spec = {"calls": [{"name": "convert", "arguments": {"amount": 2}}], "before_final": True}
    text = exchange(call("convert", {"amount": 1}, generation=0), call("convert", {"amount": 2}, generation=1), final=1)
    assert_fails(check(spec, text), "call 2 (convert) came after the final answer")
    assert_passes(check({**spec, "calls": [{"name": "convert", "arguments": {"amount": 1}}]}, text))


def test_before_final_alone_needs_one_call_before_the_final_answer() -> None:
    spec = {"before_final": True}
    assert_passes(check(spec, in_turn("python")))
    assert_fails(check(spec, exchange(final=0)), "no tool was called before the final answer")
    verdict = check(spec, exchange(call("python", generation=0), call("python", generation=1), final=0))
    assert_fails(verdict)
    assert verdict.why == "no tool was called before the final answer (it came from generation 0)"


def test_before_final_without_a_final_answer_fails() -> None:
    verdict = check({"called": "python", "before_final": True}, exchange(call("python"), final=None))
    assert_fails(verdict, "there was no final answer")
    assert_passes(check({"called": "python"}, exchange(call("python"), final=None)))


# errors


def test_errors_false_fails_on_a_call_answered_with_an_error() -> None:
    text = exchange(call("lookup_rate", generation=0), call("convert", "{oops", generation=1, error="arguments are not JSON"))
    assert_passes(check({"called": "convert"}, text))
    verdict = check({"errors": False}, text)
    assert_fails(verdict)
    assert verdict.why == "call 2 (convert) was answered with an error: arguments are not JSON"
    assert_passes(check({"errors": False}, in_turn("lookup_rate", "convert")))


# the verdict


def test_found_lists_the_calls_numbered_passing_or_failing() -> None:
    text = exchange(call("lookup_rate", {"unit": "mile"}, result='{"rate": 1.609}'),
                    call("convert", {"amount": 2}, generation=1, error="unknown function"))
    lines = ['1. functions.lookup_rate({"unit": "mile"}) -> {"rate": 1.609}',
             '2. functions.convert({"amount": 2}) -> error: unknown function']
    passed = check({"called": "lookup_rate"}, text)
    assert_passes(passed)
    assert passed.found.splitlines() == lines
    failed = check({"called": "python"}, text)
    assert_fails(failed)
    assert failed.found.splitlines() == lines


def test_the_first_unmet_requirement_is_the_why_and_all_are_listed() -> None:
    verdict = check({"called": "convert", "max_calls": 0, "errors": False},
                    exchange(call("python", error="timed out")))
    assert verdict.why == "convert was never called"
    assert verdict.details["problems"] == [
        "convert was never called",
        "1 tool call was made; expected 0",
        "call 1 (python) was answered with an error: timed out",
    ]


def test_expected_says_what_the_spec_asks_on_one_line() -> None:
    spec = {"called": ["lookup_rate", "convert"], "not_called": "python", "count": {"convert": 1},
            "max_calls": 3, "order": ["lookup_rate", "convert"],
            "calls": [{"name": "lookup_rate", "arguments": {"unit": "mile"}}, {"name": "convert", "schema": SCHEMA}],
            "before_final": True, "errors": False}
    expected = check(spec, in_turn()).expected
    assert expected == (
        "lookup_rate and convert called; python never called; convert called 1 time; at most 3 calls in all; "
        "calls in the order lookup_rate → convert; calls lookup_rate(unit='mile'), then convert() fitting its schema; "
        "made before the final answer; none answered with an error"
    )


@pytest.mark.parametrize("text", ["", "The rate is 1.609.", "[]", '{"calls": 3}', '{"calls": ["x"]}', "null"])
def test_text_that_is_not_the_calls_json_has_no_calls(text: str) -> None:
    assert_passes(check({"not_called": True}, text))
    verdict = check({"called": "python"}, text)
    assert_fails(verdict, "python was never called")
    assert verdict.found == "no tool calls"


# spec errors


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({}, (), "asks nothing"),
        (None, (), "takes a mapping"),
        ({"errors": True}, (), "asks nothing"),
        ({"calld": "x"}, ("calld",), "unknown key 'calld'"),
        ({"called": 3}, ("called",), "a tool name or a non-empty list"),
        ({"called": []}, ("called",), "a tool name or a non-empty list"),
        ({"called": ["x", ""]}, ("called", 1), "non-empty string"),
        ({"not_called": False}, ("not_called",), "asks nothing"),
        ({"not_called": [1]}, ("not_called", 0), "non-empty string"),
        ({"count": 2}, ("count",), "non-empty mapping"),
        ({"count": {"x": -1}}, ("count", "x"), "0 or more"),
        ({"count": {"x": 1.5}}, ("count", "x"), "whole number"),
        ({"count": {"x": True}}, ("count", "x"), "whole number"),
        ({"count": {"x": {"min": -2}}}, ("count", "x", "min"), "0 or more"),
        ({"count": {"x": {"min": 3, "max": 1}}}, ("count", "x"), "'min' (3) is more than 'max' (1)"),
        ({"count": {"x": {"least": 1}}}, ("count", "x", "least"), "unknown key 'least'"),
        ({"count": {"x": {}}}, ("count", "x"), "'min', 'max' or both"),
        ({"count": {"x": 1, "functions.x": 2}}, ("count", "functions.x"), "counted twice"),
        ({"min_calls": "1"}, ("min_calls",), "whole number"),
        ({"max_calls": -1}, ("max_calls",), "0 or more"),
        ({"min_calls": 2, "max_calls": 1}, ("min_calls",), "more than 'max_calls'"),
        ({"order": "x"}, ("order",), "non-empty list of tool names"),
        ({"order": ["x", None]}, ("order", 1), "non-empty string"),
        ({"calls": {"name": "x"}}, ("calls",), "non-empty list"),
        ({"calls": ["x"]}, ("calls", 0), "a mapping"),
        ({"calls": [{"name": "x"}, {"arguments": {}}]}, ("calls", 1, "name"), "'name' is required"),
        ({"calls": [{"name": "x", "args": {}}]}, ("calls", 0, "args"), "unknown key 'args'"),
        ({"calls": [{"name": "x", "arguments": "unit=mile"}]}, ("calls", 0, "arguments"), "a mapping"),
        ({"calls": [{"name": "x", "arguments": {"n": float("nan")}}]}, ("calls", 0, "arguments", "n"), "not a JSON number"),
        ({"calls": [{"name": "x", "schema": {"type": "thing"}}]}, ("calls", 0, "schema", "type"),
         "not a valid JSON Schema"),
        ({"calls": [{"name": "x", "schema": {"properties": {"a": {"minimum": "1"}}}}]},
         ("calls", 0, "schema", "properties", "a", "minimum"), "not a valid JSON Schema"),
        ({"calls": [{"name": "x", "schema": "object"}]}, ("calls", 0, "schema"), "YAML mapping"),
        ({"before_final": "yes"}, ("before_final",), "true or false"),
        ({"errors": 0}, ("errors",), "true or false"),
    ],
)
def test_malformed_specs_raise_with_the_field_path(spec: Any, path: tuple[Any, ...], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse(spec)
    assert caught.value.path == path
    assert message in caught.value.message


# through the plugin's check tree


def registry() -> Registry:
    """The installed checkers, with this one added from here until its entry point is installed."""
    installed = Registry()
    return installed if "tool_calls" in installed.names() else Registry([(CHECKER, "test")])


def test_the_checker_reads_the_tool_calls_channel_by_default() -> None:
    tree = checkers.parse({"tool_calls": {"called": "lookup_rate"}}, registry())
    assert isinstance(tree, checkers.Judge) and tree.channel == "tool_calls"
    calls = in_turn("lookup_rate")
    assert_passes(checkers.judge(tree, {"final": "The rate is 1.609.", "analysis": "", "tool_calls": calls}))
    # the same calls written in the final answer are not calls
    assert_fails(checkers.judge(tree, {"final": calls, "analysis": "", "tool_calls": in_turn()}),
                 "lookup_rate was never called")


def test_a_spec_error_is_located_under_the_checker_name() -> None:
    with pytest.raises(SpecError) as caught:
        checkers.parse({"tool_calls": {"count": {"lookup_rate": -1}}}, registry())
    assert caught.value.path == ("tool_calls", "count", "lookup_rate")


# properties

TOOLS = ("lookup", "convert", "python")
NAMES = st.lists(st.sampled_from(TOOLS), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)
ARGUMENTS = st.dictionaries(st.text(min_size=1, max_size=6), JSON_VALUES, min_size=1, max_size=4)


@given(NAMES, st.sampled_from(TOOLS), st.integers(0, 3))
def test_called_not_called_and_count_agree_with_counting_the_calls(names: list[str], name: str, n: int) -> None:
    text = in_turn(*names)
    assert check({"called": name}, text).passed == (name in names)
    assert check({"not_called": name}, text).passed == (name not in names)
    assert check({"count": {name: n}}, text).passed == (names.count(name) == n)
    assert check({"max_calls": n}, text).passed == (len(names) <= n)
    assert check({"not_called": True}, text).passed == (not names)


@given(st.lists(st.sampled_from(TOOLS), min_size=1, max_size=5), NAMES, st.data())
def test_calls_slipped_in_anywhere_keep_an_order_that_held(
        order: list[str], others: list[str], data: st.DataObject) -> None:
    names = list(order)
    for other in others:
        names.insert(data.draw(st.integers(0, len(names))), other)
    assert_passes(check({"order": order}, in_turn(*names)))


@given(st.lists(st.sampled_from(TOOLS), min_size=1, max_size=4), NAMES)
def test_order_holds_exactly_when_its_names_are_a_subsequence_of_the_calls(order: list[str], names: list[str]) -> None:
    assert check({"order": order}, in_turn(*names)).passed == _subsequence(order, names)


@given(ARGUMENTS, st.randoms(use_true_random=False), st.booleans())
def test_how_the_model_wrote_its_arguments_does_not_change_a_match(
        arguments: dict[str, Any], order: Any, spaced: bool) -> None:
    keys = list(arguments)
    order.shuffle(keys)
    rewritten = json.dumps({key: arguments[key] for key in keys}, indent=2 if spaced else None,
                           separators=None if spaced else (",", ":"))
    text = exchange(call("lookup", rewritten))
    assert_passes(check({"calls": [{"name": "lookup", "arguments": arguments}]}, text))


@given(st.text(max_size=200))
def test_reading_the_channel_never_raises_on_any_text(text: str) -> None:
    calls, final = read_calls(text)
    assert isinstance(calls, list) and (final is None or isinstance(final, int))
    verdict = check({"called": "lookup"}, text)
    assert not verdict.passed or "lookup" in text


def _subsequence(wanted: list[str], names: list[str]) -> bool:
    remaining = iter(names)
    return all(name in remaining for name in wanted)
