"""The batched engine as users meet it: many cases in flight, faults confined, Ctrl-C, the cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_gptoss.backends.engine import Engine, EngineRequest, EngineSettings


def write_cases(pytester: pytest.Pytester, count: int, *, max_tokens: int = 24, extra: str = "") -> None:
    body = "".join(f"  - id: c{i}\n    prompt: question {i}\n    max_tokens: {max_tokens}\n"
                   f"    check: {{numeric: 1}}\n" for i in range(count))
    pytester.makefile(".yaml", **{"cases/c": "cases:\n" + body + extra})


def transcripts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_prompt_that_cannot_fit_is_an_error_for_that_case_alone(pytester: pytest.Pytester) -> None:
    long = "  - id: long\n    prompt: " + "word " * 2000 + "\n    check: {numeric: 1}\n"
    write_cases(pytester, 3, extra=long)
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-ctx=512", "--gptoss-parallel=4", "-rE")
    result.assert_outcomes(failed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of case long*", "case 'long': the prompt is * tokens but a sequence's "
                                 "context holds 512; raise --gptoss-ctx*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_fault_in_the_engine_thread_ends_the_waiting_cases_as_errors(pytester: pytest.Pytester) -> None:
    write_cases(pytester, 4, max_tokens=64)
    pytester.makeconftest(
        "from pytest_gptoss.backends import engine\n"
        "_after = engine.Engine._after_decode\n"
        "calls = []\n"
        "def _faulty(self, entries):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        raise RuntimeError('injected fault')\n"
        "    return _after(self, entries)\n"
        "engine.Engine._after_decode = _faulty\n"
    )
    # in a child process: the conftest patches the engine, which this process shares with in-process runs
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--gptoss-model=tiny", "--gptoss-parallel=2", "-rE", timeout=120)
    assert time.monotonic() - started < 60
    result.assert_outcomes(errors=4)
    text = result.stdout.str()
    assert text.count("ERROR at setup of") == 4
    assert text.count("the generation engine failed: RuntimeError: injected fault") >= 4, text
    assert "INTERNALERROR" not in result.stdout.str() and "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_ctrl_c_stops_the_run_quickly_and_keeps_the_finished_results(pytester: pytest.Pytester, cache: bool) -> None:
    # the first case ends at once, so a row is written early; the eleven after it keep the run busy
    quick = "  - id: a0\n    prompt: question\n    max_tokens: 4\n    samples: 1\n    check: {numeric: 1}\n"
    slow = "".join(f"  - id: c{i}\n    prompt: question {i}\n    max_tokens: 4000\n    check: {{numeric: 1}}\n"
                   for i in range(11))
    pytester.makefile(".yaml", **{"cases/c": "cases:\n" + quick + slow})
    results = pytester.path / "r.json"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--gptoss-model=tiny",
               "--gptoss-parallel=4", "--gptoss-samples=40", f"--gptoss-results={results}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if cache:
        env.pop("GPTOSS_NO_CACHE", None)
        command.append(f"--gptoss-cache-dir={pytester.path / 'responses'}")
    # a shell's background job starts with SIGINT ignored, which its children inherit: the run under test
    # must take Ctrl-C as a user's terminal sends it whichever way these tests were started
    child = subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if results.is_file() and json.loads(results.read_text())["rows"]:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the run finished before it could be interrupted; give it more work"
    child.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    out, _ = child.communicate(timeout=60)
    assert time.monotonic() - interrupted < 5, out
    assert child.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "INTERNALERROR" not in out
    rows = json.loads(results.read_text())["rows"]
    assert 1 <= len(rows) < 12 and all(row["outcome"] == "failed" for row in rows)


@pytest.mark.usefixtures("caching")
def test_cached_generations_never_reach_the_engine(pytester: pytest.Pytester) -> None:
    write_cases(pytester, 2)
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses")
    write_cases(pytester, 3)
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses", "--gptoss-record=t.jsonl",
                                "--gptoss-results=r.json")
    lines = transcripts(pytester.path / "t.jsonl")
    assert [(t["case"], t.get("cached", False)) for t in lines] == [("c0", True), ("c1", True), ("c2", False)]
    engine = json.loads((pytester.path / "r.json").read_text())["engine"]["tiny"]
    assert engine["tokens"] == lines[2]["completion_tokens"]
    rows = json.loads((pytester.path / "r.json").read_text())["rows"]
    assert [row["seconds"] for row in rows if row["case"] != "c2"] == [0.0, 0.0]
    result.stdout.fnmatch_lines([f"decode tiny: {engine['tokens']} tokens in *",
                                 "2 of 3 generations came from the response cache*"])


@pytest.fixture
def caching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPTOSS_NO_CACHE", raising=False)


def test_the_samples_of_a_case_prefill_its_prompt_once(pytester: pytest.Pytester) -> None:
    write_cases(pytester, 1)
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-samples=3", "--gptoss-record=t.jsonl",
                       "--gptoss-results=r.json")
    lines = transcripts(pytester.path / "t.jsonl")
    assert len({t["seed"] for t in lines}) == 3
    prompt = {t["prompt_tokens"] for t in lines}
    assert len(prompt) == 1
    engine = json.loads((pytester.path / "r.json").read_text())["engine"]["tiny"]
    # the prefix once, then each sample feeds the prompt's last token itself
    assert engine["prefill_tokens"] == prompt.pop() + 2
    assert engine["peak_in_flight"] == 3


def test_a_finished_slot_is_refilled_and_every_request_keeps_its_own_seed(tiny_model: Path) -> None:
    from pytest_gptoss.backends.llama import LoadedModel

    model = LoadedModel(tiny_model, 0, 4096)
    prompt = tuple(model.tokenize("<|start|>user<|message|>hi<|end|><|start|>assistant"))
    engine = Engine(model.model, model.vocab, EngineSettings(parallel=2, ctx_cap=512))
    try:
        budgets = [3, 30, 5, 7, 2]
        futures = engine.submit([EngineRequest(prompt, b, seed, 1.0, 1.0, frozenset())
                                 for seed, b in enumerate(budgets)])
        results = [future.result(timeout=60) for future in futures]
        assert [len(r.tokens) for r in results if r.finish == "length"] == \
            [b for b, r in zip(budgets, results) if r.finish == "length"]
        assert engine.peak_in_flight == 2 and engine.finished == 5
        alone = Engine(model.model, model.vocab, EngineSettings(parallel=1, ctx_cap=512))
        again = [f.result(timeout=60) for f in alone.submit([EngineRequest(prompt, 30, 1, 1.0, 1.0, frozenset())])]
        alone.close()
        # the same seed alone in a context of its own: the same tokens as beside other sequences
        assert again[0].tokens == results[1].tokens
    finally:
        engine.close()
        model.close()


def test_a_continuation_feeds_only_what_its_slot_does_not_hold_and_generates_the_same_tokens(
        tiny_model: Path) -> None:
    from pytest_gptoss.backends.llama import LoadedModel

    model = LoadedModel(tiny_model, 0, 4096)
    prompt = tuple(model.tokenize("<|start|>user<|message|>hi<|end|><|start|>assistant"))
    answer = tuple(model.tokenize("<|start|>functions.f to=assistant<|channel|>commentary<|message|>{}<|end|>"
                                  "<|start|>assistant"))
    reusing = Engine(model.model, model.vocab, EngineSettings(parallel=1, ctx_cap=1024))
    fresh = Engine(model.model, model.vocab, EngineSettings(parallel=1, ctx_cap=1024, reuse_memory=False))

    def generate(engine: Engine, tokens: tuple[int, ...], seed: int) -> tuple[int, ...]:
        (future,) = engine.submit([EngineRequest(tokens, 20, seed, 1.0, 1.0, frozenset())])
        return future.result(timeout=60).tokens

    try:
        first = generate(reusing, prompt, 1)
        follow = prompt + first + answer  # the next generation of an exchange: the last prompt, its answer, more
        before = reusing.stats()
        again = generate(reusing, follow, 2)
        after = reusing.stats()
        held = len(prompt) + len(first) - 1  # every token but the last sampled one was fed
        assert after["reused_tokens"] - before["reused_tokens"] == held
        assert after["prefill_tokens"] - before["prefill_tokens"] == len(follow) - held
        assert generate(fresh, prompt, 1) == first and generate(fresh, follow, 2) == again
        assert fresh.stats()["reused_tokens"] == 0
        # a prompt that parts from what the slot holds keeps only the common start
        other = prompt[:5] + answer
        before = reusing.stats()
        assert generate(reusing, other, 3) == generate(fresh, other, 3)
        assert reusing.stats()["reused_tokens"] - before["reused_tokens"] == 5
    finally:
        reusing.close()
        fresh.close()
        model.close()


def test_one_at_a_time_the_samples_of_a_case_still_prefill_its_prompt_once(pytester: pytest.Pytester) -> None:
    write_cases(pytester, 1)
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-samples=3", "--gptoss-parallel=1", "--gptoss-record=t.jsonl",
                       "--gptoss-results=r.json")
    (prompt,) = {t["prompt_tokens"] for t in transcripts(pytester.path / "t.jsonl")}
    engine = json.loads((pytester.path / "r.json").read_text())["engine"]["tiny"]
    # the first sample feeds it whole; each next one finds all but its last token in the slot the last one left
    assert engine["prefill_tokens"] == prompt + 2
    assert engine["reused_tokens"] == 2 * (prompt - 1)
    assert engine["peak_in_flight"] == 1


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pytest_gptoss.tiny import ensure_tiny

    return ensure_tiny(tmp_path_factory.mktemp("tiny"))
