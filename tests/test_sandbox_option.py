"""--gptoss-sandbox: its twins, the header line, and a mode that cannot work here."""

from __future__ import annotations

import shutil

import pytest

from pytest_gptoss import sandbox

CASES = """\
cases:
  - id: prints
    prompt: print 1
    check:
      code: {stdout: "1", timeout: 2}
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setattr(sandbox, "_configured", sandbox._configured)  # an in-process run sets it
    pytester.makefile(".yaml", **{"cases/code": CASES})
    pytester.makefile(".jsonl", t='{"case": "prints", "final": "```python\\nprint(1)\\n```"}\n')
    return pytester


def test_the_header_names_the_mode_auto_chose(project: pytest.Pytester) -> None:
    result = project.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"gptoss: sandbox {sandbox.isolation_modes()[0]} (*"])


def test_plain_chosen_by_ini_is_named_in_header_and_verdict(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngptoss_sandbox = plain\n")
    project.makefile(".jsonl", t='{"case": "prints", "final": "```python\\nprint(2)\\n```"}\n')
    result = project.runpytest("--gptoss-replay=t.jsonl")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["gptoss: sandbox plain (no isolation: *", "*sandbox plain (no isolation: *"])


def test_the_environment_twin_and_the_command_line_win_in_order(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makeini("[pytest]\ngptoss_sandbox = namespace\n")
    monkeypatch.setenv("GPTOSS_SANDBOX", "plain")
    project.runpytest("--gptoss-replay=t.jsonl").stdout.fnmatch_lines(["gptoss: sandbox plain *"])
    result = project.runpytest("--gptoss-replay=t.jsonl", "--gptoss-sandbox=auto")
    result.stdout.fnmatch_lines([f"gptoss: sandbox {sandbox.isolation_modes()[0]} *"])


def test_an_unknown_mode_is_one_line(project: pytest.Pytester) -> None:
    result = project.runpytest("--gptoss-sandbox=docker")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'docker' is not a sandbox mode; use auto, bwrap, namespace, plain"])


def test_a_mode_that_cannot_work_here_stops_the_run_before_any_case(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "_problems", {})
    monkeypatch.setattr(sandbox, "_modes_answer", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = project.runpytest("--gptoss-replay=t.jsonl", "--gptoss-sandbox=bwrap")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gptoss-sandbox=bwrap: bubblewrap is not installed; install it "
                                 "(apt-get install bubblewrap) or choose --gptoss-sandbox=auto"])
    assert "prints" not in result.stdout.str()
