"""A case's tools: validated at collection with file:line errors, and each call answered as the case says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_gptoss.cases import CaseFileError, load_file
from pytest_gptoss.tools.answer import answer
from pytest_gptoss.tools.spec import Toolbox, parse_toolbox

HEAD = "cases:\n  - id: a\n    prompt: q\n    check: {numeric: 1}\n"
TOOL = ("    tools:\n      - name: rate\n        description: A rate.\n"
        "        parameters: {type: object, properties: {unit: {type: string}}, required: [unit]}\n")


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(CaseFileError) as caught:
        load_file(path, display="cases/t.yaml")
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(("text", "expected"), [
    (HEAD + "    tools: {name: rate}\n",
     "cases/t.yaml:5: case 'a': field 'tools': use a non-empty list of functions"),
    (HEAD + TOOL,
     "cases/t.yaml:6: case 'a': field 'tools.0': a function answers through exactly one of result, results or "
     "python; it gives none"),
    (HEAD + TOOL + "        result: 1\n        python: return 1\n",
     "cases/t.yaml:10: case 'a': field 'tools.0.python': a function answers through exactly one of result, "
     "results or python; it gives result and python"),
    (HEAD + "    tools:\n      - name: 9lives\n        result: 1\n",
     "cases/t.yaml:6: case 'a': field 'tools.0.name': '9lives'; a function's name is letters, digits"),
    (HEAD + "    tools:\n      - name: r\n        result: 1\n      - name: r\n        result: 2\n",
     "cases/t.yaml:8: case 'a': field 'tools.1.name': a second function named 'r'"),
    (HEAD + "    tools:\n      - name: r\n        reslt: 1\n",
     "cases/t.yaml:7: case 'a': field 'tools.0.reslt': unknown key 'reslt'"),
    (HEAD + "    tools:\n      - name: r\n        parameters: {type: array}\n        result: 1\n",
     "cases/t.yaml:7: case 'a': field 'tools.0.parameters': 'parameters' is a JSON Schema of the argument object"),
    (HEAD + "    tools:\n      - name: r\n        parameters: {type: object, properties: {u: {type: strin}}}\n"
     "        result: 1\n",
     "cases/t.yaml:7: case 'a': field 'tools.0.parameters.properties.u.type': not a valid JSON Schema"),
    (HEAD + TOOL + "        python: 'return (1'\n",
     "cases/t.yaml:9: case 'a': field 'tools.0.python': not valid Python: '(' was never closed (line 1 of the "
     "body)"),
    (HEAD + "    tools:\n      - name: r\n        parameters: {type: object, properties: {class: {type: string}}}\n"
     "        python: return 1\n",
     "cases/t.yaml:7: case 'a': field 'tools.0.parameters.properties.class': argument 'class' cannot be a Python "
     "parameter"),
    (HEAD + TOOL + "        results:\n          - arguments: {unit: {regex: '('}}\n            result: 1\n",
     "cases/t.yaml:10: case 'a': field 'tools.0.results.0.arguments.unit.regex': not a valid regex"),
    (HEAD + TOOL + "        results:\n          - default: 1\n",
     "cases/t.yaml:9: case 'a': field 'tools.0.results': results needs at least one {arguments, result} entry"),
    (HEAD + TOOL + "        result: 1\n        timeout: 3\n",
     "cases/t.yaml:10: case 'a': field 'tools.0.timeout': 'timeout' bounds a 'python' function's runs"),
    (HEAD + "    builtin_tools: [browser]\n",
     "cases/t.yaml:5: case 'a': field 'builtin_tools': 'browser' is no built-in tool; the one there is: python"),
    (HEAD + "    builtin_tools: {python: {timeout: -1}}\n",
     "cases/t.yaml:5: case 'a': field 'builtin_tools.python.timeout': 'timeout' must be a number of seconds"),
    (HEAD + "    max_tool_calls: 3\n",
     "cases/t.yaml:5: case 'a': field 'max_tool_calls': max_tool_calls limits tool calls, but the case declares "
     "no 'tools' or 'builtin_tools'"),
    (HEAD + "    builtin_tools: [python]\n    max_tool_calls: 0\n",
     "cases/t.yaml:6: case 'a': field 'max_tool_calls': 0; use a positive integer (default 8)"),
], ids=["not-a-list", "no-answer", "two-answers", "bad-name", "twice", "unknown-key", "not-object",
        "bad-schema", "bad-python", "keyword-argument", "bad-regex", "only-default", "timeout-without-python",
        "unknown-builtin", "bad-builtin-limit", "max-without-tools", "max-zero"])
def test_a_bad_tool_field_is_one_line_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(line.startswith(expected) for line in found), found


RATE = ("cases:\n  - id: a\n    prompt: q\n    tools:\n      - name: rate\n        result: 1\n"
        "    builtin_tools: [python]\n    check:\n")


@pytest.mark.parametrize(("check", "expected"), [
    ("      tool_calls: {called: [rte]}\n",
     "tool_calls names 'rte', which the case does not offer; it offers rate and python"),
    ("      any:\n        - numeric: 1\n        - not: {tool_calls: {calls: [{name: rate}, {name: sql}]}}\n",
     "tool_calls names 'sql', which the case does not offer; it offers rate and python"),
    ("      tool_calls: {not_called: [web, rate], order: [rate, search], count: {web: 1}}\n",
     "tool_calls names 'web' and 'search', which the case does not offer; it offers rate and python"),
], ids=["called", "nested-calls", "several"])
def test_a_tool_calls_check_naming_a_tool_the_case_does_not_offer_is_one_line(
        tmp_path: Path, check: str, expected: str) -> None:
    assert problems(tmp_path, RATE + check) == [f"cases/t.yaml:8: case 'a': field 'check': {expected}"]


def test_a_tool_calls_check_on_a_case_without_tools_says_so(tmp_path: Path) -> None:
    text = "cases:\n  - id: a\n    prompt: q\n    check:\n      tool_calls: {called: [python]}\n"
    assert problems(tmp_path, text) == ["cases/t.yaml:4: case 'a': field 'check': tool_calls names 'python', "
                                        "which the case does not offer; it offers no tools (see tools: and "
                                        "builtin_tools:)"]


def test_a_tool_calls_check_may_name_what_the_case_offers_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(RATE + "      tool_calls: {called: [functions.rate], order: [python, rate]}\n"
                    "  - id: b\n    prompt: q\n    check: {tool_calls: {not_called: true}}\n")
    assert [case.id for case in load_file(path)] == ["a", "b"]


def test_a_good_toolbox_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + TOOL + "        result: {km: 1.6}\n    builtin_tools: {python: {timeout: 3}}\n")
    (case,) = load_file(path)
    assert case.toolbox is not None and case.toolbox.max_calls == 8
    assert [tool.name for tool in case.toolbox.functions] == ["rate"]
    assert case.toolbox.python is not None and case.toolbox.python.timeout == 3.0
    assert case.toolbox.names() == ["functions.rate", "python"]


def toolbox(tool: dict) -> Toolbox:
    made = parse_toolbox([{"name": "rate", "parameters": {"type": "object", "properties": {
        "unit": {"type": "string"}, "n": {"type": "number"}}}, **tool}], None, None)
    assert made is not None
    return made


def said(box: Toolbox, arguments: object) -> tuple[str, str | None]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    given = answer({"recipient": "functions.rate", "arguments": text}, box)
    return given.content, given.error


RESULTS = {"results": [
    {"arguments": {"unit": "mile"}, "result": {"km": 1.609344}},
    {"arguments": {"unit": {"regex": "f(oo|ee)t"}}, "result": "0.3048"},
    {"arguments": {"unit": "mile", "n": 2}, "result": "never: the first match wins"},
    {"default": {"error": "unknown unit"}},
]}


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"unit": "mile"}, '{"km": 1.609344}'),
    ({"unit": "mile", "n": 2}, '{"km": 1.609344}'),
    ({"unit": "feet"}, "0.3048"),
    ({"unit": "foot"}, "0.3048"),
    ({"unit": "footer"}, '{"error": "unknown unit"}'),
    ({}, '{"error": "unknown unit"}'),
])
def test_results_are_chosen_by_the_arguments_first_match_wins(arguments: dict, expected: str) -> None:
    assert said(toolbox(RESULTS), arguments) == (expected, None)


def test_numbers_match_as_json_numbers_and_true_is_no_number() -> None:
    box = parse_toolbox([{"name": "rate", "results": [{"arguments": {"n": 1}, "result": "one"}]}], None, None)
    assert box is not None
    assert said(box, {"n": 1.0})[0] == "one"
    assert said(box, '{"n": true}')[1] == "rate has no answer for these arguments"


def test_a_fixed_result_answers_every_call_and_the_schema_is_still_checked() -> None:
    box = toolbox({"result": [1, 2]})
    assert said(box, {"unit": "x"}) == ("[1, 2]", None)
    content, error = said(box, {"unit": 3})
    assert error == "the arguments do not fit rate's parameters: at 'unit': 3 is not of type 'string'"
    assert json.loads(content) == {"error": error}


def test_a_python_function_answers_with_its_return_value_and_its_failures() -> None:
    box = toolbox({"python": "if unit == 'boom':\n    raise ValueError('no boom')\nif unit == 'set':\n"
                             "    return {1, 2}\nreturn {'unit': unit, 'n': n}"})
    assert said(box, {"unit": "m"}) == ('{"unit": "m", "n": null}', None)
    assert said(box, {"unit": "boom"})[1] == "rate failed: ValueError: no boom"
    assert said(box, {"unit": "set"})[1] == "rate failed: the tool returned set {1, 2}, which is not JSON data"
    content, error = said(box, {"unit": "m", "extra": 1})
    assert error is not None and "unexpected keyword argument 'extra'" in error


def test_a_python_function_that_runs_too_long_is_stopped() -> None:
    box = toolbox({"python": "while True:\n    pass", "timeout": 1})
    assert said(box, {"unit": "m"})[1] == "rate timed out after 1 s and was stopped"


def test_the_python_tool_takes_plain_code_or_code_in_json() -> None:
    box = parse_toolbox(None, ["python"], None)
    assert box is not None
    for arguments in ("print(6 * 7)", json.dumps({"code": "print(6 * 7)"})):
        given = answer({"recipient": "python", "arguments": arguments}, box)
        assert (given.content, given.error) == ("42\n", None)
    failed = answer({"recipient": "python", "arguments": "import sys\nprint('x')\nsys.exit(3)"}, box)
    assert failed.content == "x\n" and failed.error == "the code exited with status 3"
    traceback = answer({"recipient": "python", "arguments": "1/0"}, box)
    assert "ZeroDivisionError: division by zero" in traceback.content and traceback.error == \
        "the code exited with status 1"


def test_a_call_to_no_tool_names_the_tools_there_are() -> None:
    given = answer({"recipient": "browser.search", "arguments": "{}"}, toolbox({"result": 1}))
    assert given.error == "there is no tool 'browser.search'; the tools are: functions.rate"


@given(st.text(max_size=300), st.sampled_from(["functions.rate", "functions.other", "python2", "", "functions."]))
@settings(max_examples=200)
def test_any_call_the_model_writes_is_answered_never_raised(arguments: str, recipient: str) -> None:
    box = toolbox(RESULTS)
    given_ = answer({"recipient": recipient, "arguments": arguments}, box)
    assert isinstance(given_.content, str)
    if given_.error is not None:
        assert json.loads(given_.content) == {"error": given_.error}
    else:
        assert recipient == "functions.rate"
