"""Assertions on verdicts that the checker tests share; each failure shows the verdict's explanation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_gptoss import checkers
from pytest_gptoss.checkers.registry import Registry
from pytest_gptoss.verdict import Verdict


def assert_passes(verdict: Verdict) -> None:
    assert verdict.passed and not verdict.error, verdict.explain()


def assert_fails(verdict: Verdict, *why: str) -> None:
    """A failure (not an error) whose ``why`` holds every given part."""
    assert not verdict.passed and not verdict.error, verdict.explain()
    for part in why:
        assert part in verdict.why, verdict.explain()


def parsed(check: Any) -> checkers.Check:
    """A case's ``check`` parsed with the installed checkers, as collection parses it."""
    return checkers.parse(check, Registry())


def judged(check: Any, channels: Mapping[str, str]) -> Verdict:
    """A case's ``check`` parsed and run on an answer's channels."""
    return checkers.judge(parsed(check), channels)
