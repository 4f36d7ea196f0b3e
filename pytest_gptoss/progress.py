"""The terminal's progress line: cases done, sequences in flight, tokens and tokens/s, and the time left."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

import pytest

from pytest_gptoss.backends import Backend, Generation

#: seconds between two progress lines
PROGRESS_SECONDS = 15.0


class Progress:
    """One line now and then for the whole run, so a run of many minutes is not silent.

    Used only where the terminal is this process's (not on an xdist worker).
    """

    def __init__(self, config: pytest.Config, every: float | None = None) -> None:
        self.config = config
        self.every = PROGRESS_SECONDS if every is None else every
        self.started = time.monotonic()
        self.shown_at = self.started
        self.cases: dict[str, list[Future[Generation | None]]] = {}

    def expect(self, nodeid: str, futures: list[Future[Generation | None]]) -> None:
        self.cases[nodeid] = futures

    def tick(self, backends: Iterable[Backend]) -> None:
        now = time.monotonic()
        if now - self.shown_at < self.every:
            return
        self.shown_at = now
        self.write(self.line([backend.stats() for backend in backends], now - self.started))

    def line(self, stats: list[dict[str, Any]], elapsed: float) -> str:
        stats = [s for s in stats if s]
        tokens = sum(s["tokens"] for s in stats)
        busy = max((s["busy_seconds"] for s in stats), default=0.0)
        in_flight = sum(s["in_flight"] for s in stats)
        finished = sum(s["finished"] for s in stats)
        submitted = sum(s["submitted"] for s in stats)
        rate = f", {tokens / busy:.1f} tokens/s" if busy else ""
        left = ""
        if finished and submitted > finished:
            left = f", about {_duration(elapsed / finished * (submitted - finished))} left"
        done = sum(1 for futures in self.cases.values() if all(f.done() for f in futures))
        return (f"gptoss: {done}/{len(self.cases)} cases done, {in_flight} sequences in flight, "
                f"{tokens:,} tokens{rate}{left}")

    def write(self, line: str) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
