"""The gate: comparing this run's rows with a baseline's, or one model's with another's, case by case.

A case that passed and now does not is a regression; so is a pass rate that
fell below both 95% intervals. The session fails on any regression; the
terminal summary shows the table (:func:`pytest_gptoss.terminal_summary.comparison_lines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: outcomes that count as "the case holds" for the gate
PASSING = ("passed",)
#: outcomes that count as "the case does not hold"
FAILING = ("failed", "error", "xfailed")


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


def against_baseline(baseline_rows: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> Comparison:
    """This run's rows against a baseline results file's, each model paired by :func:`model_pairs`."""
    current_models = {row["model"] for row in rows}
    pairs = model_pairs(current_models, {row["model"] for row in baseline_rows})
    comparison = compare(baseline_rows, rows, pairs)
    comparison.unmatched_models = sorted(current_models - set(pairs))
    return comparison


def between_models(rows: Sequence[Mapping[str, Any]], candidate: str, baseline: str) -> Comparison:
    """The candidate model's rows of this run against the baseline model's."""
    return compare([row for row in rows if row["model"] == baseline], rows, {candidate: baseline})
