"""The tool loop, driven by a scripted model through the real in-process backend (tiny's tokenizer).

Each test scripts what the model says turn by turn and checks what the loop
did: the calls answered, what the model was shown next, the recorded exchange
and the case's outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripted_model import by_turn, call, final, install, python

LOOKUP = """\
cases:
  - id: convert
    prompt: How many km are 3 miles?
    tools:
      - name: lookup_factor
        description: Kilometres in one unit of length.
        parameters:
          type: object
          properties:
            unit: {type: string, enum: [mile, foot]}
          required: [unit]
        results:
          - arguments: {unit: mile}
            result: {km: 1.609344}
          - default: {error: unknown unit}
    check:
      numeric: {answer: 4.828032, abs_tol: 0.001}
"""


def run(pytester: pytest.Pytester, cases: str, *args: str) -> tuple[pytest.RunResult, list[dict]]:
    pytester.makefile(".yaml", **{"cases/t": cases})
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-record=t.jsonl", "-p", "no:cacheprovider", *args)
    lines = [json.loads(line) for line in Path(pytester.path, "t.jsonl").read_text().splitlines()]
    return result, lines


def test_a_valid_call_is_answered_and_the_model_goes_on_to_its_answer(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = install(monkeypatch, by_turn(call("lookup_factor", '{"unit": "mile"}', "Need the factor."),
                                           final(r"3 miles are \boxed{4.828} km")))
    result, (line,) = run(pytester, LOOKUP)
    result.assert_outcomes(passed=1)
    assert len(prompts) == 2
    first, second = prompts
    assert "namespace functions {" in first and "type lookup_factor = (_: {" in first
    assert "Calls to these tools must go to the commentary channel: 'functions'." in first
    # the second generation sees the turn's reasoning, the call and the tool's answer, in harmony
    assert second.endswith(
        "<|start|>assistant<|channel|>analysis<|message|>Need the factor.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.lookup_factor <|constrain|>json<|message|>"
        '{"unit": "mile"}<|call|>'
        "<|start|>functions.lookup_factor to=assistant<|channel|>commentary<|message|>"
        '{"km": 1.609344}<|end|><|start|>assistant')
    assert second.startswith(first.removesuffix("<|start|>assistant"))
    (made,) = line["tool_calls"]
    assert made["recipient"] == "functions.lookup_factor" and made["arguments"] == '{"unit": "mile"}'
    assert made["result"] == '{"km": 1.609344}' and made["generation"] == 0 and "error" not in made
    assert [g["finish_reason"] for g in line["generations"]] == ["tool_call", "stop"]
    assert line["final"] == r"3 miles are \boxed{4.828} km" and line["finish_reason"] == "stop"
    assert line["completion_tokens"] == sum(g["completion_tokens"] for g in line["generations"])
    assert line["analysis"] == "Need the factor.\n\nDone."


@pytest.mark.parametrize(("arguments", "error"), [
    ('{"unit": mile}', "the arguments are not valid JSON"),
    ('{"unit": "league"}', "the arguments do not fit lookup_factor's parameters: at 'unit': 'league' is not one of"),
    ('["mile"]', "the arguments must be one JSON object, not list"),
], ids=["bad-json", "schema-violation", "not-an-object"])
def test_bad_arguments_are_answered_with_an_error_the_model_sees(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, arguments: str, error: str) -> None:
    prompts = install(monkeypatch, by_turn(call("lookup_factor", arguments),
                                           call("lookup_factor", '{"unit": "mile"}'),
                                           final(r"\boxed{4.828}")))
    result, (line,) = run(pytester, LOOKUP)
    result.assert_outcomes(passed=1)
    bad, good = line["tool_calls"]
    assert bad["error"].startswith(error)
    assert json.loads(bad["result"]) == {"error": bad["error"]}
    assert f'<|start|>functions.lookup_factor to=assistant<|channel|>commentary<|message|>{bad["result"]}<|end|>' \
        in prompts[1]
    assert "error" not in good and good["generation"] == 1


def test_an_unknown_function_is_answered_with_the_tools_there_are(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, by_turn(call("lookup", '{"unit": "mile"}'), final("I could not find the factor.")))
    result, (line,) = run(pytester, LOOKUP)
    result.assert_outcomes(failed=1)
    (made,) = line["tool_calls"]
    assert made["error"] == "there is no tool 'functions.lookup'; the tools are: functions.lookup_factor"


def test_more_calls_than_max_tool_calls_fail_the_case_with_their_own_message(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = install(monkeypatch, by_turn(call("lookup_factor", '{"unit": "mile"}')))
    result, (line,) = run(pytester, LOOKUP.replace("    check:", "    max_tool_calls: 2\n    check:"))
    result.assert_outcomes(failed=1)
    assert len(prompts) == 3 and len(line["tool_calls"]) == 3
    assert line["tool_calls"][2]["error"] == "not answered: past the case's max_tool_calls (2)"
    assert "result" not in line["tool_calls"][2]
    assert line["finish_reason"] == "max_tool_calls" and line["final"] == ""
    result.stdout.fnmatch_lines([
        "tool calls (3, over 3 generations):",
        '  1. functions.lookup_factor({"unit": "mile"}) -> {"km": 1.609344}',
        '  2. functions.lookup_factor({"unit": "mile"}) -> {"km": 1.609344}',
        '  3. functions.lookup_factor({"unit": "mile"}) -> error: not answered: past the case\'s max_tool_calls (2)',
        "*no final answer: the model made 3 tool calls, more than the case's max_tool_calls allows*",
    ])


PYTHON = """\
cases:
  - id: power
    prompt: What is 7 to the power 23, exactly?
    builtin_tools: {python: {timeout: 2}}
    check:
      numeric: 27368747340080916343
"""


def test_the_python_tool_runs_the_code_in_the_sandbox_and_answers_with_its_output(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = install(monkeypatch, by_turn(python("print(7 ** 23)"), final(r"\boxed{27368747340080916343}")))
    result, (line,) = run(pytester, PYTHON)
    result.assert_outcomes(passed=1)
    assert "# Tools\n\n## python\n\nUse this tool to execute Python code" in prompts[0]
    assert "namespace functions" not in prompts[0] and "'functions'" not in prompts[0]
    (made,) = line["tool_calls"]
    assert made["recipient"] == "python" and made["result"] == "27368747340080916343\n"
    assert made["content_type"] == "code"
    assert prompts[1].endswith("<|start|>assistant<|channel|>analysis to=python code<|message|>print(7 ** 23)<|call|>"
                               "<|start|>python to=assistant<|channel|>analysis<|message|>27368747340080916343\n"
                               "<|end|><|start|>assistant")


def test_python_code_that_runs_too_long_is_stopped_and_the_model_told(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = install(monkeypatch, by_turn(python("print('start', flush=True)\nwhile True:\n    pass"),
                                           final("I could not compute it.")))
    result, (line,) = run(pytester, PYTHON.replace("timeout: 2", "timeout: 1"))
    result.assert_outcomes(failed=1)
    (made,) = line["tool_calls"]
    assert made["error"] == "the code timed out after 1 s and was stopped"
    assert made["result"] == "start\n\n[the code timed out after 1 s and was stopped]"
    assert "[the code timed out after 1 s and was stopped]<|end|><|start|>assistant" in prompts[1]


def test_a_function_answered_by_python_runs_in_the_sandbox(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = """\
cases:
  - id: area
    prompt: The area of a 3 by 4 rectangle?
    tools:
      - name: area
        description: The area of a rectangle.
        parameters:
          type: object
          properties: {width: {type: number}, height: {type: number}}
          required: [width, height]
        python: |
          import os
          return {"area": width * height, "home": os.environ.get("HOME", "")}
    check:
      numeric: 12
"""
    install(monkeypatch, by_turn(call("area", '{"width": 3, "height": 4}'), final(r"\boxed{12}")))
    result, (line,) = run(pytester, cases)
    result.assert_outcomes(passed=1)
    answered = json.loads(line["tool_calls"][0]["result"])
    assert answered["area"] == 12
    assert answered["home"] and answered["home"] != str(Path.home())  # the sandbox's own folder


def test_a_call_on_a_model_without_harmony_tokens_is_an_error_that_says_why(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_first_hour import smollm2

    install(monkeypatch, by_turn(call("lookup_factor", '{"unit": "mile"}')))
    pytester.makefile(".yaml", **{"cases/t": LOOKUP})
    result = pytester.runpytest(f"--gptoss-model={smollm2()}", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*case 'convert' offers tools, but *.gguf has no harmony tokens (it is no gpt-oss "
                                 "model), so its calls could not be read; run cases with tools on a gpt-oss model*"])


def test_a_case_without_tools_is_one_generation_as_before(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = install(monkeypatch, by_turn(final(r"\boxed{4}")))
    result, (line,) = run(pytester, "cases:\n  - id: sum\n    prompt: 2+2?\n    check: {numeric: 4}\n")
    result.assert_outcomes(passed=1)
    assert len(prompts) == 1 and "# Tools" not in prompts[0]
    assert "tool_calls" not in line and "generations" not in line
