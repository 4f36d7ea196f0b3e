"""Checkers from outside the plugin: an installed package's entry point, and a project's conftest.py.

The checker is the README's own example, taken from the README, so the example is proven to work.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### Your own checkers", 1)[1].split("\n## ", 1)[0]
WORD_COUNT = re.search(r"```python\n(# word_count\.py\n.*?)```", SECTION, re.S).group(1)  # type: ignore[union-attr]
CONFTEST = re.search(r"```python\n(from word_count import.*?)```", SECTION, re.S).group(1)  # type: ignore[union-attr]

CASES = """\
cases:
  - id: greeting
    prompt: Say hello in at most three words.
    check: {word_count: 3}
  - id: speech
    prompt: Say hello in at most three words.
    check: {word_count: 3}
  - id: both
    prompt: Say hello with the word hello, in at most three words.
    check:
      all:
        - text: {contains: hello}
        - word_count: 3
"""
ANSWERS = [
    {"case": "greeting", "final": "Hello there!"},
    {"case": "speech", "final": "Hello, and welcome to all of you"},
    {"case": "both", "final": "Oh, hi!"},
]


def _project(pytester: pytest.Pytester, cases: str = CASES) -> None:
    pytester.mkdir("cases")
    pytester.path.joinpath("cases", "greetings.yaml").write_text(cases, encoding="utf-8")
    pytester.path.joinpath("answers.jsonl").write_text(
        "".join(json.dumps(answer) + "\n" for answer in ANSWERS), encoding="utf-8"
    )


def _assert_judged(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "FAILED cases/greetings.yaml::speech*4 words too many*",
        "FAILED cases/greetings.yaml::both*",
    ])


def _run_with_conftest(pytester: pytest.Pytester, *, checker: str = WORD_COUNT, folder: str = "cases",
                       cases: str = CASES, report: str = "-rA") -> pytest.RunResult:
    """The project with the word_count module importable and a conftest.py in ``folder`` that gives it."""
    _project(pytester, cases)
    pytester.makepyfile(word_count=checker)
    pytester.path.joinpath(folder).mkdir(exist_ok=True)
    pytester.path.joinpath(folder, "conftest.py").write_text(CONFTEST, encoding="utf-8")
    pytester.syspathinsert()
    return pytester.runpytest("cases", "--gptoss-replay=answers.jsonl", report, "-p", "no:xdist")


def test_a_checker_from_a_conftest_judges_the_cases_under_it(pytester: pytest.Pytester) -> None:
    result = _run_with_conftest(pytester)
    _assert_judged(result)
    result.stdout.fnmatch_lines(["*[[]word_count[]] FAIL*", "*expected: at most 3 words*", "*found:    7 words*"])


def test_a_conftest_checker_reaches_only_the_case_files_under_it(pytester: pytest.Pytester) -> None:
    result = _run_with_conftest(pytester, folder="other")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cases/greetings.yaml:4: case 'greeting': field 'check.word_count': "
                                 "unknown checker 'word_count'; known checkers: code, *"])


def test_a_bad_spec_for_a_custom_checker_names_its_line(pytester: pytest.Pytester) -> None:
    result = _run_with_conftest(pytester, cases=CASES.replace("{word_count: 3}", "{word_count: 0}", 1))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cases/greetings.yaml:4: case 'greeting': field 'check.word_count': "
                                 "word_count takes a whole number of words, at least 1"])


def test_a_conftest_checker_with_a_shipped_name_is_one_line(pytester: pytest.Pytester) -> None:
    result = _run_with_conftest(pytester, checker=WORD_COUNT.replace('name="word_count"', 'name="numeric"'))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*checker 'numeric' from *word_count.py (pytest_gptoss_checkers) has the name of "
                                 "the one from the entry point pytest_gptoss.checkers.numeric:CHECKER; give it "
                                 "another name"])


def _install(site: Path) -> None:
    """The scratch package installed into ``site`` the way an installer lays it out: its module and its dist-info."""
    site.mkdir()
    site.joinpath("word_count.py").write_text(WORD_COUNT, encoding="utf-8")
    site.joinpath("broken_checker.py").write_text("raise ImportError('this checker needs numpy 9')\n")
    info = site / "gptoss_word_count-0.1.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: gptoss-word-count\nVersion: 0.1\n")
    info.joinpath("entry_points.txt").write_text(
        "[pytest_gptoss.checkers]\nword_count = word_count:WORD_COUNT\nbroken = broken_checker:CHECKER\n"
    )
    info.joinpath("top_level.txt").write_text("word_count\nbroken_checker\n")


def test_a_checker_from_an_installed_package_judges_a_case(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _project(pytester)
    site = pytester.path / "site"
    _install(site)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("cases", "--gptoss-replay=answers.jsonl", "-rA", "-p", "no:xdist")
    _assert_judged(result)

    # an entry point that cannot be imported fails the case files that name it, in one line, and no others
    pytester.path.joinpath("cases", "broken.yaml").write_text(
        "cases:\n  - id: uses-broken\n    prompt: hi\n    check: {broken: 1}\n", encoding="utf-8"
    )
    result = pytester.runpytest_subprocess("cases", "--gptoss-replay=answers.jsonl", "-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    result.stdout.fnmatch_lines(["*cases/broken.yaml:4: case 'uses-broken': field 'check.broken': checker "
                                 "'broken' (broken_checker:CHECKER, from gptoss-word-count 0.1) could not be "
                                 "imported: ImportError: this checker needs numpy 9; reinstall or uninstall that "
                                 "package"])
