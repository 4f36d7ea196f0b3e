"""The results file (``--gptoss-results``), model identities, and the baseline gate.

The file is one JSON document: the run's settings, each model's identity, and
one row per (case, model, reasoning effort). It is rewritten atomically as rows
arrive, so an interrupted run or a crashed worker keeps what finished.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import re
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_gptoss.files import atomic_path
from pytest_gptoss.models import SPLIT_SUFFIX, read_gguf_metadata, read_gguf_tensors

FORMAT_VERSION = 1
#: outcomes that count as "the case holds" for the gate
PASSING = ("passed",)
#: outcomes that count as "the case does not hold"
FAILING = ("failed", "error", "xfailed")
NODE_NAME = re.compile(r"::(?P<case>[a-z0-9][a-z0-9-]*)\[(?P<model>.+)-(?P<reasoning>low|medium|high)\]$")


class ResultsError(Exception):
    """A results file cannot be used; the message names the file and what is wrong."""


# --- model identity ---------------------------------------------------------------


def model_identity(path: Path) -> dict[str, Any]:
    """Who a GGUF model is, read from its header alone (a few MB, never the weights).

    Raises OSError or ValueError for a file that cannot be read as GGUF.

    The hash covers the header, the key/value metadata and the tensor table
    (names, shapes, types, offsets), so a new quantization or checkpoint of
    the same architecture hashes differently. Read once per file version and
    process: the results file and the response cache both ask.
    """
    status = os.stat(path)
    return dict(_identity(str(path), status.st_size, status.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _identity(name: str, _size: int, _mtime_ns: int) -> dict[str, Any]:
    path = Path(name)
    metadata = read_gguf_metadata(path, lambda key: key.startswith("general.") or key.endswith(".block_count"))
    end = _tensor_table_end(path, metadata)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        remaining = end
        while remaining:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    shards = _shards(path)
    arch = metadata.get("general.architecture")
    return {
        "file": path.name,
        "size": sum(shard.stat().st_size for shard in shards),
        "shards": len(shards),
        "architecture": arch,
        "name": metadata.get("general.name"),
        "block_count": metadata.get(f"{arch}.block_count"),
        "header_sha256": digest.hexdigest(),
        "header_bytes": end,
    }


def _tensor_table_end(path: Path, metadata: Mapping[str, Any]) -> int:
    """Where the tensor table ends: the header, metadata and tensor infos all lie before it."""
    try:
        return read_gguf_tensors(path, dict(metadata))[1]
    except struct.error:
        raise ValueError(f"{path} ends inside its GGUF tensor table (truncated, or not GGUF)") from None


def _shards(path: Path) -> list[Path]:
    stem = path.name.removesuffix(".gguf")
    if not SPLIT_SUFFIX.search(stem):
        return [path]
    prefix = SPLIT_SUFFIX.sub("", stem)
    return sorted(path.parent.glob(f"{prefix}-*-of-*.gguf")) or [path]


def llama_build() -> dict[str, Any]:
    """The llama-cpp-python version and llama.cpp's own build description."""
    try:
        import llama_cpp
    except ImportError:
        return {}
    info = llama_cpp.llama_print_system_info()
    return {
        "llama_cpp_python": getattr(llama_cpp, "__version__", "unknown"),
        "system_info": info.decode("utf-8", "replace").strip() if isinstance(info, bytes) else str(info),
    }


# --- the file ---------------------------------------------------------------------


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
            entry = figures.setdefault(model, {"tokens": 0, "prefill_tokens": 0, "busy_seconds": 0.0,
                                               "peak_in_flight": 0, "parallel": stats["parallel"],
                                               "sampling": stats["sampling"]})
            entry["tokens"] += stats["tokens"]
            entry["prefill_tokens"] += stats["prefill_tokens"]
            entry["busy_seconds"] = round(entry["busy_seconds"] + stats["busy_seconds"], 3)
            entry["peak_in_flight"] = max(entry["peak_in_flight"], stats["peak_in_flight"])
        for entry in figures.values():
            busy = entry["busy_seconds"]
            entry["tokens_per_second"] = round(entry["tokens"] / busy, 2) if busy else 0.0
        return figures

    def add(self, nodeid: str, row: Mapping[str, Any] | None, outcome: str, message: str = "") -> None:
        """Record the outcome of one item; ``row`` is missing when the item never got judged."""
        if row is None:
            match = NODE_NAME.search(nodeid)
            if match is None:
                return
            row = {**match.groupdict(), "passed": 0, "total": 0, "explanation": message}
        self.rows[nodeid] = {**row, "nodeid": nodeid, "outcome": outcome}

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


# --- the gate ---------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    case: str
    reasoning: str
    model: str
    baseline_model: str
    before: str
    after: str
    why: str


@dataclass
class Comparison:
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    new: list[tuple[str, str, str]] = field(default_factory=list)
    gone: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched_models: list[str] = field(default_factory=list)


def compare(
    baseline_rows: Iterable[Mapping[str, Any]],
    current_rows: Iterable[Mapping[str, Any]],
    pairs: Mapping[str, str],
) -> Comparison:
    """Compare rows case by case; ``pairs`` maps a current model to its baseline model."""
    baseline = {(r["model"], r["case"], r["reasoning"]): r for r in baseline_rows}
    current = {(r["model"], r["case"], r["reasoning"]): r for r in current_rows}
    result = Comparison()
    seen_baseline = set()
    for (model, case, reasoning), row in sorted(current.items()):
        if model not in pairs:
            continue
        base_model = pairs[model]
        before = baseline.get((base_model, case, reasoning))
        if before is None:
            result.new.append((model, case, reasoning))
            continue
        seen_baseline.add((base_model, case, reasoning))
        change = _change(before, row, model, base_model)
        if change is None:
            continue
        target = result.regressions if change[0] == "regression" else result.improvements
        target.append(Change(case, reasoning, model, base_model, _figure(before), _figure(row), change[1]))
    compared_models = set(pairs.values())
    result.gone = sorted(
        (model, case, reasoning)
        for (model, case, reasoning) in baseline
        if model in compared_models and (model, case, reasoning) not in seen_baseline
    )
    return result


def _change(before: Mapping[str, Any], after: Mapping[str, Any], model: str, base: str) -> tuple[str, str] | None:
    was, now = before.get("outcome"), after.get("outcome")
    if was in PASSING and now in FAILING:
        return "regression", f"passed with {base}, {now} with {model}"
    if was in PASSING and now not in PASSING:
        # missing evidence is never read as no change
        return "regression", f"passed with {base}, {now} with {model}: no evidence that it still passes"
    if was in FAILING and now in PASSING:
        return "improvement", f"{was} with {base}, passes with {model}"
    low_before, high_before = _interval(before)
    low_after, high_after = _interval(after)
    if before.get("total", 0) > 1 or after.get("total", 0) > 1:
        if high_after < low_before:
            return "regression", (f"pass rate fell beyond both 95% intervals "
                                  f"({high_after:.0%} < {low_before:.0%})")
        if low_after > high_before:
            return "improvement", f"pass rate rose beyond both 95% intervals ({low_after:.0%} > {high_before:.0%})"
    return None


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    interval = row.get("interval") or [0.0, 1.0]
    return float(interval[0]), float(interval[1])


def _figure(row: Mapping[str, Any]) -> str:
    total = row.get("total", 0)
    return f"{row.get('outcome')} {row.get('passed', 0)}/{total}" if total else str(row.get("outcome"))


def model_pairs(current_models: Iterable[str], baseline_models: Iterable[str]) -> dict[str, str]:
    """Which baseline model each current model is compared with.

    The same label if the baseline has it; otherwise, when the baseline holds a
    single model, that one (a new candidate checked against the model in use).
    """
    baseline = sorted(set(baseline_models))
    pairs = {}
    for model in current_models:
        if model in baseline:
            pairs[model] = model
        elif len(baseline) == 1:
            pairs[model] = baseline[0]
    return pairs
