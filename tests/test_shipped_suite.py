"""The shipped suite through tiny, end to end: node ids, outcomes and generations across the ways it can run.

The runs themselves (one at a time, four in flight, a rerun, under -n 2, a replay) happen once per
test session in the ``shipped_runs`` fixture (shipped_runs.py); each test compares them on one point.
"""

from __future__ import annotations

import re

from shipped_runs import SHIPPED_CASES, SuiteRun


def test_tiny_runs_every_shipped_case_through_llama_cpp(shipped_runs: dict[str, SuiteRun]) -> None:
    run = shipped_runs["four"]
    outcomes = list(run.outcomes.values())
    assert len(outcomes) == len(SHIPPED_CASES) and set(outcomes) <= {"passed", "failed"}, run.output[-3000:]
    assert "INTERNALERROR" not in run.output
    # every failure explains itself: the answer (or what came instead of one) and the verdict
    failures = run.output.split("= FAILURES =")[-1].split("short test summary info")[0]
    sections = re.split(r"\n_{3,} case [a-z0-9-]+\[tiny-medium\] _{3,}\n", failures)[1:]
    assert len(sections) == outcomes.count("failed")
    for section in sections:
        assert "--- sample 0 (seed " in section
        assert re.search(r"^(final answer|reasoning \(no final|model output \(no final)", section, re.M)
        assert re.search(r"^\[[a-z]+\] FAIL\n  expected: .+\n  found: .+\n(.|\n)*  why: ", section, re.M)


def test_xdist_gives_the_same_outcomes(shipped_runs: dict[str, SuiteRun]) -> None:
    single, double = shipped_runs["one"].outcomes, shipped_runs["xdist"].outcomes
    assert len(single) == len(SHIPPED_CASES), shipped_runs["one"].output[-3000:]
    assert single == double


def test_record_then_replay_reproduces_the_outcomes(shipped_runs: dict[str, SuiteRun]) -> None:
    first, second = shipped_runs["four"], shipped_runs["again"]
    assert len(first.transcripts) == len(SHIPPED_CASES)
    for line in first.transcripts:
        assert {"case", "model", "reasoning", "sample", "analysis", "final", "finish_reason",
                "prompt_tokens", "completion_tokens", "seconds"} <= set(line)
        assert line["model"] == "tiny" and line["completion_tokens"] > 0
    # same seed, same build: the same generations (timings aside)
    assert first.generations() == second.generations()
    # a replay of the recording reproduces the run: same node ids, same outcomes
    assert shipped_runs["replay"].outcomes == first.outcomes


def test_parallel_keeps_node_ids_and_outcomes_and_reruns_are_identical(shipped_runs: dict[str, SuiteRun]) -> None:
    one, four, again, xdist = (shipped_runs[name] for name in ("one", "four", "again", "xdist"))
    assert len(one.outcomes) == len(SHIPPED_CASES)
    assert one.outcomes == four.outcomes == xdist.outcomes
    assert four.generations() == again.generations()
    assert four.generations() == xdist.generations()
