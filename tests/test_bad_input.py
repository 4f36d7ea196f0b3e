"""Every bad input answers with one clear line, and loses nothing else."""

from __future__ import annotations

import json

import pytest

GOOD_FILE = "cases:\n  - id: good\n    prompt: q\n    check: {numeric: 1}\n"


def assert_one_line_usage_error(result: pytest.RunResult, *patterns: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    matching = [line for line in result.stderr.lines if all(p in line for p in patterns)]
    assert len(matching) == 1, result.stderr.lines


@pytest.mark.parametrize(
    ("argument", "patterns"),
    [
        ("--gptoss-samples=0", ("--gptoss-samples", "0 is out of range; use a positive integer")),
        ("--gptoss-samples=many", ("--gptoss-samples", "'many' is not an integer")),
        ("--gptoss-reasoning=extreme", ("--gptoss-reasoning", "use low, medium, high")),
        ("--gptoss-reasoning=low,,extreme", ("--gptoss-reasoning", "not a reasoning effort")),
        ("--gptoss-temperature=-1", ("--gptoss-temperature", "use a number from 0 to 5")),
        ("--gptoss-top-p=1.5", ("--gptoss-top-p", "use a number from 0 to 1")),
        ("--gptoss-max-tokens=0", ("--gptoss-max-tokens", "use a positive integer")),
        ("--gptoss-ctx=-5", ("--gptoss-ctx", "out of range")),
        ("--gptoss-n-gpu-layers=-2", ("--gptoss-n-gpu-layers", "-1 (all)")),
        ("--gptoss-threads=0", ("--gptoss-threads", "positive integer")),
        ("--gptoss-seed=x", ("--gptoss-seed", "not an integer")),
        ("--gptoss-model=30b", ("--gptoss-model", "'30b' is not a model; use 20b, 120b, tiny")),
        ("--gptoss-model=missing.gguf", ("--gptoss-model", "'missing.gguf' does not exist")),
        ("--gptoss-model=hf:ggml-org/file.gguf", ("--gptoss-model", "is not hf:OWNER/REPO/FILE.gguf")),
        ("--gptoss-replay=nowhere.jsonl", ("--gptoss-replay", "does not exist")),
    ],
)
def test_bad_option_values(pytester: pytest.Pytester, argument: str, patterns: tuple[str, ...]) -> None:
    assert_one_line_usage_error(pytester.runpytest(argument), *patterns)


def test_bad_environment_value(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPTOSS_SAMPLES", "lots")
    result = pytester.runpytest()
    assert_one_line_usage_error(result, "environment variable GPTOSS_SAMPLES: 'lots' is not an integer")


def test_bad_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngptoss_reasoning = maximum\n")
    assert_one_line_usage_error(pytester.runpytest(), "ini gptoss_reasoning: 'maximum' is not a reasoning effort")


def test_command_line_beats_environment_beats_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ngptoss_samples = 2\ngptoss_seed = 5\ngptoss_model = tiny\n")
    monkeypatch.setenv("GPTOSS_SAMPLES", "3")
    result = pytester.runpytest("--gptoss-seed=9")
    result.stdout.fnmatch_lines(["gptoss: models tiny; reasoning medium; samples 3; seed 9;*"])


def test_unreadable_replay_file(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("t.jsonl").write_text('{"case": "a", "final": "1"}\nnot json\n')
    assert_one_line_usage_error(pytester.runpytest("--gptoss-replay=t.jsonl"), "t.jsonl:2: not a JSON object")


def test_replay_line_without_final(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "a"}) + "\n")
    assert_one_line_usage_error(
        pytester.runpytest("--gptoss-replay=t.jsonl"), "t.jsonl:1: a transcript line needs a 'final' string"
    )


@pytest.mark.parametrize(("fields", "expected"), [
    ({"completion_tokens": "many"}, "t.jsonl:2: field 'completion_tokens': 'many' is not of type 'integer'"),
    ({"has_final": "yes"}, "t.jsonl:2: field 'has_final': 'yes' is not of type 'boolean'"),
    ({"tool_calls": "none"}, "t.jsonl:2: field 'tool_calls': 'none' is not of type 'array'"),
    ({"tool_calls": [{"recipient": "python", "seconds": "slow"}]},
     "t.jsonl:2: field 'tool_calls.0.seconds': 'slow' is not of type 'number'"),
    ({"generations": [{"prompt_tokens": 3}, {"prompt_tokens": -1}]},
     "t.jsonl:2: field 'generations.1.prompt_tokens': -1 is less than the minimum of 0"),
], ids=["count", "flag", "calls", "call-seconds", "turn-tokens"])
def test_a_replay_field_of_the_wrong_type_names_its_line_and_field(
        pytester: pytest.Pytester, fields: dict, expected: str) -> None:
    lines = [{"case": "a", "final": "1"}, {"case": "a", "final": "2", **fields}]
    pytester.path.joinpath("t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert_one_line_usage_error(pytester.runpytest("--gptoss-replay=t.jsonl"), expected)


def test_record_to_a_directory(pytester: pytest.Pytester) -> None:
    pytester.mkdir("out")
    assert_one_line_usage_error(pytester.runpytest("--gptoss-record=out"), "--gptoss-record: cannot write out")


BAD_FILES = {
    "syntax": ("cases:\n  - id: a\n    prompt: [unclosed\n", "cases/bad.yaml:3: not valid YAML"),
    "unknown-checker": (
        "cases:\n  - id: a\n    prompt: q\n    check:\n      nummeric: 1\n",
        "cases/bad.yaml:5: case 'a': field 'check.nummeric': unknown checker 'nummeric'; known checkers:",
    ),
    "no-check": ("cases:\n  - id: a\n    prompt: q\n", "cases/bad.yaml:2: case 'a': field 'check': missing"),
    "no-prompt": (
        "cases:\n  - id: a\n    check: {numeric: 1}\n",
        "cases/bad.yaml:2: case 'a': field 'prompt': give exactly one of 'prompt'",
    ),
    "bad-id": (
        "cases:\n  - id: Bad_Id\n    prompt: q\n    check: {numeric: 1}\n",
        "cases/bad.yaml:2: field 'id': 'Bad_Id'; an id is required and matches [a-z0-9][a-z0-9-]*",
    ),
    "missing-id": (
        "cases:\n  - prompt: q\n    check: {numeric: 1}\n",
        "cases/bad.yaml:2: field 'id': missing; an id is required",
    ),
    "unknown-field": (
        "cases:\n  - id: a\n    prompt: q\n    answer: 3\n    check: {numeric: 1}\n",
        "cases/bad.yaml:4: case 'a': field 'answer': unknown field; known fields:",
    ),
    "duplicate-key": (
        "cases:\n  - id: a\n    prompt: q\n    prompt: r\n    check: {numeric: 1}\n",
        "cases/bad.yaml:4: field 'cases.0.prompt': key 'prompt' appears twice",
    ),
    "duplicate-id": (
        "cases:\n  - id: a\n    prompt: q\n    check: {numeric: 1}\n  - id: a\n    prompt: r\n    check: {numeric: 1}\n",
        "cases/bad.yaml:5: case 'a': field 'id': duplicate id (first defined at cases/bad.yaml:2)",
    ),
    "bad-reasoning": (
        "defaults: {reasoning: max}\ncases:\n  - id: a\n    prompt: q\n    check: {numeric: 1}\n",
        "cases/bad.yaml:1: case 'a': field 'reasoning': 'max'; use one of low, medium, high",
    ),
    "bad-checker-spec": (
        "cases:\n  - id: a\n    prompt: q\n    check:\n      - numeric: {answer: 1, unit: parsecs}\n",
        "cases/bad.yaml:5: case 'a': field 'check.0.numeric.unit':",
    ),
    "bad-role": (
        "cases:\n  - id: a\n    messages:\n      - {role: robot, content: hi}\n    check: {numeric: 1}\n",
        "cases/bad.yaml:4: case 'a': field 'messages.0.role': 'robot'; use one of system, developer",
    ),
    "missing-context": (
        "cases:\n  - id: a\n    prompt: q\n    context_files: [docs/none.md]\n    check: {numeric: 1}\n",
        "cases/bad.yaml:4: case 'a': field 'context_files.0': cannot read 'docs/none.md'",
    ),
    "empty-label": (
        "cases:\n  - id: a\n    prompt: q\n    check:\n      text:\n        regex:\n"
        "          - {pattern: 'x', label: ''}\n",
        "cases/bad.yaml:7: case 'a': field 'check.text.regex.0.label': 'label' must be a non-empty string",
    ),
    "not-a-mapping": ("- id: a\n", "cases/bad.yaml:1: a case file is a mapping with 'cases:'"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_malformed_case_file_is_one_line_and_hides_nothing(pytester: pytest.Pytester, kind: str) -> None:
    text, expected = BAD_FILES[kind]
    pytester.makefile(".yaml", **{"cases/bad": text, "cases/good": GOOD_FILE})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "good", "final": "1"}) + "\n")
    result = pytester.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert any(line.startswith(expected) for line in result.stdout.lines), output


def test_every_problem_of_a_file_is_listed(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/bad": (
        "cases:\n  - id: a\n    prompt: q\n  - id: b\n    prompt: q\n    check: {nope: 1}\n"
    )})
    result = pytester.runpytest()
    result.stdout.fnmatch_lines([
        "cases/bad.yaml:2: case 'a': field 'check': missing*",
        "cases/bad.yaml:6: case 'b': field 'check.nope': unknown checker*",
    ])


def test_an_id_defined_in_two_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/a": GOOD_FILE, "cases/b": GOOD_FILE})
    result = pytester.runpytest()
    result.stdout.fnmatch_lines([
        "cases/b.yaml:2: case 'good': field 'id': duplicate id (first defined at cases/a.yaml:2)"
    ])
    result.assert_outcomes(skipped=1, errors=1)


def test_yaml_words_like_on_and_no_stay_words(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n  - id: c\n    prompt: q\n    check:\n      - numeric: {answer: 7, on: analysis}\n"
        "      - text: {contains: no}\n"
    )})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "c", "final": "no", "analysis": "7"}) + "\n")
    pytester.runpytest("--gptoss-replay=t.jsonl").assert_outcomes(passed=1)


def test_bad_boolean_for_no_cache(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPTOSS_NO_CACHE", "maybe")
    assert_one_line_usage_error(
        pytester.runpytest(), "environment variable GPTOSS_NO_CACHE: 'maybe' is not a boolean; use true or false"
    )
