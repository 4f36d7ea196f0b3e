"""Gating model upgrades: samples, model matrices, results files, baselines, reports."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from pytest_gptoss import gate, gguf_files, results
from pytest_gptoss.tiny import ensure_tiny

XDIST = pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])


def write_cases(pytester: pytest.Pytester, text: str) -> None:
    pytester.makefile(".yaml", **{"cases/c": text})


def write_transcripts(pytester: pytest.Pytester, name: str, lines: list[dict]) -> str:
    pytester.path.joinpath(name).write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return name


def rows(path: Path) -> dict[tuple[str, str, str], dict]:
    data = json.loads(path.read_text())
    return {(r["model"], r["case"], r["reasoning"]): r for r in data["rows"]}


TWO_CASES = (
    "defaults: {category: math}\n"
    "cases:\n"
    "  - id: one\n    prompt: q\n    check: {numeric: 1}\n"
    "  - id: two\n    prompt: q\n    check: {numeric: 2}\n"
)


def test_samples_with_mixed_verdicts_and_thresholds(pytester: pytest.Pytester) -> None:
    write_cases(pytester, (
        "cases:\n"
        "  - id: lenient\n    prompt: q\n    min_pass_rate: 0.6\n    check: {numeric: 1}\n"
        "  - id: strict\n    prompt: q\n    check: {numeric: 1}\n"
        "  - id: low\n    prompt: q\n    min_pass_rate: 0.6\n    check: {numeric: 1}\n"
    ))
    answers = {"lenient": ["1", "1", "7"], "strict": ["1", "1", "7"], "low": ["7", "1", "7"]}
    lines = [{"case": case, "final": a} for case, finals in answers.items() for a in finals]
    write_transcripts(pytester, "t.jsonl", lines)
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "--gptoss-samples=3", "--gptoss-results=r.json")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*case 'strict' [[]replay-medium[]]: 2/3 samples passed (95% CI 21%-94%; needs 100%)*",
        "--- sample 2: finish stop",
        "*7 ≠ 1*",
    ])
    found = rows(pytester.path / "r.json")
    assert found[("replay", "lenient", "medium")]["outcome"] == "passed"
    low = found[("replay", "low", "medium")]
    assert (low["outcome"], low["passed"], low["total"], low["failed_samples"]) == ("failed", 1, 3, [0, 2])
    assert low["interval"] == pytest.approx([0.0615, 0.7923], abs=1e-3)


def test_two_models_with_per_model_xfail(pytester: pytest.Pytester) -> None:
    write_cases(pytester, (
        "cases:\n"
        "  - id: hard\n    prompt: q\n    xfail: {small: too hard for the small model}\n    check: {numeric: 1}\n"
        "  - id: fixed\n    prompt: q\n    xfail: {small: was broken}\n    check: {numeric: 1}\n"
    ))
    write_transcripts(pytester, "t.jsonl", [
        {"case": "hard", "model": "big", "final": "1"}, {"case": "hard", "model": "small", "final": "2"},
        {"case": "fixed", "model": "big", "final": "1"}, {"case": "fixed", "model": "small", "final": "1"},
    ])
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "-rA")
    result.assert_outcomes(passed=2, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*XFAIL*hard[[]small-medium[]]*too hard*", "*FAILED*fixed[[]small-medium[]]*"])


def test_a_baseline_that_holds_passes(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "good.jsonl", [{"case": "one", "final": "1"}, {"case": "two", "final": "2"}])
    pytester.runpytest("--gptoss-replay=good.jsonl", "--gptoss-results=base.json").assert_outcomes(passed=2)
    result = pytester.runpytest("--gptoss-replay=good.jsonl", "--gptoss-baseline=base.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*gptoss baseline base.json*", "0 regression(s), 0 improvement(s), 0 new, 0 gone"])


def test_a_case_that_passed_and_is_now_skipped_fails_the_gate(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "good.jsonl", [{"case": "one", "final": "1"}, {"case": "two", "final": "2"}])
    write_transcripts(pytester, "partial.jsonl", [{"case": "one", "final": "1"}])
    pytester.runpytest("--gptoss-replay=good.jsonl", "--gptoss-results=base.json").assert_outcomes(passed=2)
    result = pytester.runpytest("--gptoss-replay=partial.jsonl", "--gptoss-baseline=base.json")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["1 regression(s), 0 improvement(s), 0 new, 0 gone",
                                 "REGRESSION  two *passed with replay, skipped with replay: no evidence*"])


@XDIST
def test_a_regression_fails_the_session_even_when_every_item_is_xfailed(
    pytester: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "good.jsonl", [{"case": "one", "final": "1"}, {"case": "two", "final": "2"}])
    pytester.runpytest("--gptoss-replay=good.jsonl", "--gptoss-results=base.json").assert_outcomes(passed=2)
    # the candidate gets 'two' wrong, and the case file now marks it xfail
    write_cases(pytester, TWO_CASES.replace("  - id: two\n", "  - id: two\n    xfail: {'*': known}\n")
                + "  - id: three\n    prompt: q\n    check: {numeric: 3}\n")
    write_transcripts(pytester, "bad.jsonl", [
        {"case": "one", "final": "1"}, {"case": "two", "final": "5"}, {"case": "three", "final": "3"},
    ])
    result = pytester.runpytest("--gptoss-replay=bad.jsonl", "--gptoss-baseline=base.json", *xdist)
    result.assert_outcomes(passed=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*gptoss baseline base.json*",
        "1 regression(s), 0 improvement(s), 1 new, 0 gone",
        "*REGRESSION*two*medium*replay vs replay*passed 1/1*xfailed 0/1*passed with replay, xfailed with replay*",
        "*new*three*",
    ])


def test_a_sampled_pass_rate_drop_beyond_the_intervals_is_a_regression(pytester: pytest.Pytester) -> None:
    write_cases(pytester, "cases:\n  - id: s\n    prompt: q\n    samples: 10\n    min_pass_rate: 0.1\n"
                          "    check: {numeric: 1}\n")
    write_transcripts(pytester, "before.jsonl", [{"case": "s", "final": "1"}] * 10)
    write_transcripts(pytester, "after.jsonl", [{"case": "s", "final": "1"}] * 2 + [{"case": "s", "final": "0"}] * 8)
    pytester.runpytest("--gptoss-replay=before.jsonl", "--gptoss-results=base.json").assert_outcomes(passed=1)
    result = pytester.runpytest("--gptoss-replay=after.jsonl", "--gptoss-baseline=base.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*REGRESSION*s*passed 10/10*passed 2/10*pass rate fell beyond both 95% intervals*"])


def test_a_small_drop_within_the_intervals_is_not(pytester: pytest.Pytester) -> None:
    write_cases(pytester, "cases:\n  - id: s\n    prompt: q\n    samples: 10\n    min_pass_rate: 0.1\n"
                          "    check: {numeric: 1}\n")
    write_transcripts(pytester, "before.jsonl", [{"case": "s", "final": "1"}] * 10)
    write_transcripts(pytester, "after.jsonl", [{"case": "s", "final": "1"}] * 8 + [{"case": "s", "final": "0"}] * 2)
    pytester.runpytest("--gptoss-replay=before.jsonl", "--gptoss-results=base.json")
    result = pytester.runpytest("--gptoss-replay=after.jsonl", "--gptoss-baseline=base.json")
    assert result.ret == 0


@XDIST
def test_a_gate_between_two_models_of_one_run(pytester: pytest.Pytester, xdist: tuple[str, ...]) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "t.jsonl", [
        {"case": "one", "model": "current", "final": "1"}, {"case": "two", "model": "current", "final": "2"},
        {"case": "one", "model": "candidate", "final": "1"}, {"case": "two", "model": "candidate", "final": "9"},
    ])
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "--gptoss-gate=candidate:current", *xdist)
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*gptoss gate candidate:current*",
        "1 regression(s), 0 improvement(s), 0 new, 0 gone",
        "*REGRESSION*two*candidate vs current*passed 1/1*failed 0/1*",
    ])


def test_a_gate_must_name_models_of_the_run(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "t.jsonl", [{"case": "one", "model": "current", "final": "1"}])
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "--gptoss-gate=candidate:current")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --gptoss-gate: 'candidate' is not a model of this run (models: current)"]
    )


def test_a_gate_between_two_real_models(pytester: pytest.Pytester) -> None:
    tiny = ensure_tiny(pytester.path / "models")
    copy = pytester.path / "copy.gguf"
    copy.write_bytes(tiny.read_bytes())
    write_cases(pytester, "cases:\n  - id: c\n    prompt: q\n    max_tokens: 16\n    check: {numeric: 1}\n")
    result = pytester.runpytest(f"--gptoss-model={tiny}", f"--gptoss-model={copy}",
                                "--gptoss-gate=copy:tiny-gpt-oss-v1")
    # the same weights give the same answers: nothing regresses, nothing improves
    result.stdout.fnmatch_lines(["*gptoss gate copy:tiny-gpt-oss-v1*", "0 regression(s), 0 improvement(s), 0 new, 0 gone"])


def test_an_interrupted_run_keeps_what_finished(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES + "  - id: three\n    prompt: q\n    check: {numeric: 3}\n")
    pytester.makeconftest(
        "def pytest_runtest_call(item):\n"
        "    if 'three' in item.nodeid:\n"
        "        raise KeyboardInterrupt\n"
    )
    write_transcripts(pytester, "t.jsonl", [{"case": c, "final": f} for c, f in (("one", "1"), ("two", "0"), ("three", "3"))])
    # in a child process: an in-process KeyboardInterrupt would stop this session too
    result = pytester.runpytest_subprocess("--gptoss-replay=t.jsonl", "--gptoss-results=r.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    found = rows(pytester.path / "r.json")
    assert {key[1]: row["outcome"] for key, row in found.items()} == {"one": "passed", "two": "failed"}


def test_a_crashed_worker_keeps_what_finished(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES + "  - id: three\n    prompt: q\n    check: {numeric: 3}\n")
    pytester.makeconftest(
        "import os\n"
        "def pytest_runtest_call(item):\n"
        "    if 'three' in item.nodeid:\n"
        "        os._exit(3)\n"
    )
    write_transcripts(pytester, "t.jsonl", [{"case": c, "final": f} for c, f in (("one", "1"), ("two", "0"), ("three", "3"))])
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "--gptoss-results=r.json", "-n", "2")
    found = rows(pytester.path / "r.json")
    assert found[("replay", "one", "medium")]["outcome"] == "passed"
    assert found[("replay", "two", "medium")]["outcome"] == "failed"
    crashed = found[("replay", "three", "medium")]
    assert crashed["outcome"] == "failed" and "crashed" in crashed["explanation"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_results_are_the_same_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    shipped = Path(__file__).resolve().parent.parent / "cases"
    import shutil

    shutil.copytree(shipped, pytester.path / "cases")
    transcripts = Path(__file__).resolve().parent / "transcripts" / "seed-wrong.jsonl"
    pytester.runpytest(f"--gptoss-replay={transcripts}", "--gptoss-results=serial.json", "-p", "no:xdist")
    pytester.runpytest(f"--gptoss-replay={transcripts}", "--gptoss-results=xdist.json", "-n", "2")
    serial, parallel = rows(pytester.path / "serial.json"), rows(pytester.path / "xdist.json")
    assert len(serial) > 10
    strip = lambda table: {k: {f: v for f, v in r.items() if f != "seconds"} for k, r in table.items()}  # noqa: E731
    assert strip(serial) == strip(parallel)


def test_results_file_holds_settings_identities_and_rows(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES)
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-max-tokens=16", "--gptoss-results=r.json")
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["format"] == results.FORMAT_VERSION
    assert data["settings"]["models"] == [{"spec": "tiny", "label": "tiny"}]
    assert data["settings"]["max_tokens"] == 16
    identity = data["models"]["tiny"]
    assert identity["architecture"] == "gpt-oss" and len(identity["header_sha256"]) == 64
    assert data["build"]["llama_cpp_python"]
    row = data["rows"][0]
    for key in ("case", "category", "model", "reasoning", "outcome", "passed", "total", "interval",
                "prompt_tokens", "reasoning_tokens", "final_tokens", "seconds", "explanation"):
        assert key in row
    assert row["prompt_tokens"] > 0
    result.stdout.fnmatch_lines(["*gptoss summary*", "category*model*effort*passed", "math*tiny*medium*0/2",
                                 "tokens: *prompt*", "slowest: *"])


def test_a_bad_baseline_file_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("base.json").write_text('{"rows": []}')
    result = pytester.runpytest("--gptoss-baseline=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gptoss-baseline: base.json is not a pytest-gptoss results file*"])


def test_html_and_junit_carry_the_case_details(pytester: pytest.Pytester) -> None:
    write_cases(pytester, TWO_CASES)
    write_transcripts(pytester, "t.jsonl", [
        {"case": "one", "final": "The answer is 1.", "analysis": "thinking about one"},
        {"case": "two", "final": "It is 3.", "analysis": "thinking about two"},
    ])
    pytester.runpytest("--gptoss-replay=t.jsonl", "--html=report.html", "--junitxml=junit.xml", "-n", "2")
    page = (pytester.path / "report.html").read_text()
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="([^"]*)"', page).group(1)))
    shown = json.dumps(blob, ensure_ascii=False)
    for text in ("Final answer", "The answer is 1.", "thinking about two", "Verdict", "3 ≠ 2", "Prompt",
                 "replayed from a transcript: no model was prompted in this run", "Pass rate", ">replay<", ">1/1<", ">0/1<"):
        assert text in shown or text in page, text
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="gptoss_model" value="replay"' in junit
    assert 'name="gptoss_pass_rate" value="0.0"' in junit


def _bytes_read() -> int:
    with open("/proc/self/io") as stream:
        return int(next(line for line in stream if line.startswith("rchar:")).split()[1])


def test_model_identity_reads_only_the_header_of_a_multi_gb_file(tmp_path: Path) -> None:
    big = tmp_path / "big.gguf"
    big.write_bytes(ensure_tiny(tmp_path).read_bytes())
    with open(big, "r+b") as stream:
        stream.truncate(6 * 1024**3)  # sparse: 6 GB of "weights" that cost no disk
    before = _bytes_read()
    identity = gguf_files.model_identity(big)
    read = _bytes_read() - before
    assert identity["size"] == 6 * 1024**3
    assert read < 4 * 1024**2, f"read {read} bytes"
    # the weights do not change the identity; the metadata does
    with open(big, "r+b") as stream:
        stream.seek(5 * 1024**3)
        stream.write(b"different weights")
    assert gguf_files.model_identity(big)["header_sha256"] == identity["header_sha256"]
    data = bytearray(big.open("rb").read(identity["header_bytes"]))
    position = data.find(b"gpt-oss", 100)
    data[position:position + 7] = b"gpt-osz"
    with open(big, "r+b") as stream:
        stream.write(bytes(data))
    assert gguf_files.model_identity(big)["header_sha256"] != identity["header_sha256"]


def test_model_identity_counts_every_shard(tmp_path: Path) -> None:
    tiny = ensure_tiny(tmp_path).read_bytes()
    for index in (1, 2, 3):
        (tmp_path / f"m-0000{index}-of-00003.gguf").write_bytes(tiny if index == 1 else b"x" * 10)
    identity = gguf_files.model_identity(tmp_path / "m-00001-of-00003.gguf")
    assert (identity["shards"], identity["size"]) == (3, len(tiny) + 20)


def test_compare_pairs_a_new_model_with_the_only_baseline_model() -> None:
    assert gate.model_pairs({"candidate"}, {"20b"}) == {"candidate": "20b"}
    assert gate.model_pairs({"20b", "120b"}, {"20b", "120b"}) == {"20b": "20b", "120b": "120b"}
    assert gate.model_pairs({"x"}, {"20b", "120b"}) == {}


def test_outcome_names() -> None:
    report = type("R", (), {"when": "call", "passed": True, "failed": False, "skipped": False})()
    assert results.outcome_of(report) == "passed"
    report.wasxfail = "reason"
    assert results.outcome_of(report) == "xpassed"


def test_under_xdist_each_model_is_loaded_once_by_one_worker(pytester: pytest.Pytester) -> None:
    tiny = ensure_tiny(pytester.path / "models")
    copy = pytester.path / "copy.gguf"
    copy.write_bytes(tiny.read_bytes())
    write_cases(pytester, "".join(
        [f"  - id: c{i}\n    prompt: q{i}\n    max_tokens: 8\n    check: {{numeric: 1}}\n" for i in range(4)]
    ).join(["cases:\n", ""]))
    # every model load, and every item, is logged with the worker that did it
    pytester.makeconftest(
        "import os, llama_cpp\n"
        "_load = llama_cpp.llama_model_load_from_file\n"
        "def _logged(path, params):\n"
        "    with open('loads.log', 'a') as f:\n"
        "        f.write(os.environ['PYTEST_XDIST_WORKER'] + ' ' + os.path.basename(path.decode()) + '\\n')\n"
        "    return _load(path, params)\n"
        "llama_cpp.llama_model_load_from_file = _logged\n"
        "def pytest_runtest_setup(item):\n"
        "    with open('items.log', 'a') as f:\n"
        "        f.write(os.environ['PYTEST_XDIST_WORKER'] + ' ' + item.nodeid + '\\n')\n"
    )
    # in a child process: the conftest patches llama_cpp, which this process shares with in-process runs
    result = pytester.runpytest_subprocess(f"--gptoss-model={tiny}", f"--gptoss-model={copy}", "-n", "2")
    assert result.parseoutcomes().get("errors", 0) == 0
    loads = pytester.path.joinpath("loads.log").read_text().split("\n")[:-1]
    assert sorted(line.split()[1] for line in loads) == ["copy.gguf", "tiny-gpt-oss-v1.gguf"]
    items = [line.split() for line in pytester.path.joinpath("items.log").read_text().splitlines()]
    assert len(items) == 8
    workers_of = {model: {w for w, node in items if f"[{model}-" in node} for model in ("copy", "tiny-gpt-oss-v1")}
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of
