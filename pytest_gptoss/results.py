"""The results file (``--gptoss-results``): what it holds, how rows are gathered and written, how it is read.

The file is one JSON document: the run's settings, each model's identity, and
one row per (case, model, reasoning effort). It is rewritten atomically as rows
arrive, so an interrupted run or a crashed worker keeps what finished.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_gptoss.files import atomic_path

FORMAT_VERSION = 1


class ResultsError(Exception):
    """A results file cannot be used; the message names the file and what is wrong."""


@dataclass
class Results:
    """The rows gathered so far on the controller, and how to write them."""

    settings: dict[str, Any]
    models: dict[str, Any] = field(default_factory=dict)
    build: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the latest cumulative engine figures of each (process, model)
    engines: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _last_write: float = 0.0

    def add_engine(self, stats: Mapping[str, Any]) -> None:
        self.engines[(int(stats["process"]), str(stats["model"]))] = dict(stats)

    def engine_figures(self) -> dict[str, dict[str, Any]]:
        """Per model: tokens decoded, the engine's busy time, aggregate tokens/s and the peak in flight."""
        figures: dict[str, dict[str, Any]] = {}
        for (_, model), stats in sorted(self.engines.items()):
            entry = figures.setdefault(model, {"tokens": 0, "prefill_tokens": 0, "reused_tokens": 0,
                                               "busy_seconds": 0.0, "peak_in_flight": 0,
                                               "parallel": stats["parallel"], "sampling": stats["sampling"]})
            entry["tokens"] += stats["tokens"]
            entry["prefill_tokens"] += stats["prefill_tokens"]
            entry["reused_tokens"] += stats.get("reused_tokens", 0)
            entry["busy_seconds"] = round(entry["busy_seconds"] + stats["busy_seconds"], 3)
            entry["peak_in_flight"] = max(entry["peak_in_flight"], stats["peak_in_flight"])
        for entry in figures.values():
            busy = entry["busy_seconds"]
            entry["tokens_per_second"] = round(entry["tokens"] / busy, 2) if busy else 0.0
        return figures

    def add_report(self, report: Any, case: Mapping[str, str]) -> bool:
        """Record the row of the item of ``case`` (its case, model and effort) if ``report`` settles its outcome.

        Returns whether it did. An item that was never judged (a setup error, a
        skip, a crashed worker) gets a row of no samples, explained by pytest's last line.
        """
        outcome = outcome_of(report)
        if outcome is None:
            return False
        data = getattr(report, "gptoss", None)
        if data:
            if data.get("engine"):
                self.add_engine(data["engine"])
            row = data["row"]
        else:
            lines = (report.longreprtext or "").strip().splitlines()
            row = {**case, "passed": 0, "total": 0, "tool_calls": 0, "explanation": lines[-1] if lines else ""}
        self.rows[report.nodeid] = {**row, "nodeid": report.nodeid, "outcome": outcome}
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "settings": self.settings,
            "build": self.build,
            "models": self.models,
            "engine": self.engine_figures(),
            "rows": [self.rows[nodeid] for nodeid in sorted(self.rows)],
        }

    def write(self, path: Path, *, every: float = 0.0) -> None:
        """Write atomically (temp file and rename); ``every`` limits how often."""
        now = time.monotonic()
        if every and now - self._last_write < every:
            return
        self._last_write = now
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load(path: Path) -> dict[str, Any]:
    """Read a results file, checking that it is one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION or not isinstance(data.get("rows"), list):
        raise ResultsError(f"{path} is not a pytest-gptoss results file (format {FORMAT_VERSION})")
    return data


def outcome_of(report: Any) -> str | None:
    """The item's outcome as the results file names it, or None if this report does not settle it."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.failed:
            return "error"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return None
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        longrepr = str(getattr(report, "longrepr", "") or "")
        return "xpassed" if "XPASS(strict)" in longrepr else "failed"
    if report.when == "teardown":
        return "error" if report.failed else None
    # a report of no phase: xdist's for an item whose worker crashed
    return "failed" if report.failed else None
