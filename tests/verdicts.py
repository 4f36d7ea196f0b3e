"""Assertions on verdicts that the checker tests share; each failure shows the verdict's explanation."""

from __future__ import annotations

from pytest_gptoss.verdict import Verdict


def assert_passes(verdict: Verdict) -> None:
    assert verdict.passed and not verdict.error, verdict.explain()


def assert_fails(verdict: Verdict, *why: str) -> None:
    """A failure (not an error) whose ``why`` holds every given part."""
    assert not verdict.passed and not verdict.error, verdict.explain()
    for part in why:
        assert part in verdict.why, verdict.explain()
