"""The shipped suite through ``tiny``, run once per test session in the ways several tests compare.

Each run is a ``pytest`` process, as a user starts it, in a project holding a
copy of ``cases/``; it records its transcripts and writes its results file.
The runs: one sequence at a time without xdist (``one``), four in flight
(``four``, and ``again`` to compare reruns), four in flight under ``-n 2``
(``xdist``), and a replay of ``four``'s recording (``replay``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def _shipped_case_ids() -> list[str]:
    ids = []
    for path in sorted((REPO / "cases").glob("*.yaml")):
        ids += [case["id"] for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]
    return ids


SHIPPED_CASES = _shipped_case_ids()

#: one llama.cpp thread per process: two xdist workers that each spin two threads on a two-core machine
#: wait on each other's cores, which made the xdist run several times slower than the others
TINY = ["--gptoss-model=tiny", "--gptoss-max-tokens=256", "--gptoss-threads=1"]
RUNS = {
    "one": [*TINY, "--gptoss-parallel=1", "-p", "no:xdist"],
    "four": [*TINY, "--gptoss-parallel=4", "-p", "no:xdist"],
    "again": [*TINY, "--gptoss-parallel=4", "-p", "no:xdist"],
    "xdist": [*TINY, "--gptoss-parallel=4", "-n", "2"],
    "replay": ["--gptoss-replay=four.jsonl", "-p", "no:xdist"],
}


@dataclass(frozen=True)
class SuiteRun:
    """What one run printed and wrote."""

    output: str
    returncode: int
    rows: list[dict[str, Any]]
    transcripts: list[dict[str, Any]]

    @property
    def outcomes(self) -> dict[str, str]:
        return {row["nodeid"]: row["outcome"] for row in self.rows}

    def generations(self) -> list[dict[str, Any]]:
        """The recorded generations without their timings, in case order (the order they finish may vary)."""
        return sorted((untimed(t) for t in self.transcripts), key=lambda t: (t["case"], t["reasoning"], t["sample"]))


def untimed(transcript: dict[str, Any]) -> dict[str, Any]:
    """A transcript line without what changes from run to run: its seconds, its calls' and its generations'."""
    def strip(record: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in record.items() if key != "seconds"}

    line = strip(transcript)
    for listed in ("tool_calls", "generations"):
        if listed in line:
            line[listed] = [strip(record) for record in line[listed]]
    return line


def run_shipped_suite(project: Path) -> dict[str, SuiteRun]:
    shutil.copytree(REPO / "cases", project / "cases")
    runs = {}
    for name, args in RUNS.items():
        record = [] if name == "replay" else [f"--gptoss-record={name}.jsonl"]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", f"--gptoss-results={name}.json",
             *record, *args],
            cwd=project, capture_output=True, text=True, timeout=600,
        )
        output = done.stdout + done.stderr
        results = project / f"{name}.json"
        assert results.is_file(), f"the {name} run wrote no results file:\n{output[-3000:]}"
        recording = project / f"{name}.jsonl"
        runs[name] = SuiteRun(
            output=output,
            returncode=done.returncode,
            rows=json.loads(results.read_text())["rows"],
            transcripts=[json.loads(line) for line in recording.read_text().splitlines()] if record else [],
        )
    return runs
