"""The terminal summary: pass counts per category, model and effort; tokens; the slowest cases; gates.

And, for a run that collected nothing, where the case files are.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from pytest_gptoss.gate import Comparison
from pytest_gptoss.tools import counted

SLOWEST = 5


def lines(rows: Iterable[Mapping[str, Any]], engines: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Pass counts per category x model x effort, token totals (and tool calls) and throughput, the slowest cases.

    Throughput is the engines' own: tokens decoded over the time they were busy,
    so generations answered from the response cache count no time.
    """
    rows = list(rows)
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        key = (row.get("category") or "-", row["model"], row["reasoning"])
        groups[key][0] += row["outcome"] == "passed"
        groups[key][1] += 1
    table = [("category", "model", "effort", "passed")]
    table += [(c, m, e, f"{p}/{t}") for (c, m, e), (p, t) in sorted(groups.items())]
    out = _table(table)
    prompt = sum(row.get("prompt_tokens", 0) for row in rows)
    reasoning = sum(row.get("reasoning_tokens", 0) for row in rows)
    final = sum(row.get("final_tokens", 0) for row in rows)
    calls = sum(row.get("tool_calls", 0) for row in rows)
    if prompt or reasoning or final:
        out.append(f"tokens: {prompt:,} prompt, {reasoning:,} reasoning, {final:,} final"
                   + (f"; {counted(calls, 'tool call')}" if calls else ""))
    for model, figures in sorted((engines or {}).items()):
        if figures["tokens"]:
            out.append(
                f"decode {model}: {figures['tokens']:,} tokens in {figures['busy_seconds']:.1f} s, "
                f"{figures['tokens_per_second']:.1f} tokens/s aggregate, peak {figures['peak_in_flight']} "
                f"of {figures['parallel']} in flight ({figures['sampling']} sampling)"
            )
    cached = sum(row.get("cached", 0) for row in rows)
    if cached:
        total = sum(row.get("total", 0) for row in rows)
        out.append(f"{cached} of {total} generations came from the response cache (--gptoss-no-cache regenerates)")
    slow = sorted((row for row in rows if row.get("seconds")), key=lambda r: -r["seconds"])[:SLOWEST]
    if slow:
        out.append("slowest: " + ", ".join(
            f"{r['case']}[{r['model']}-{r['reasoning']}] {r['seconds']:.1f} s" for r in slow))
    return out


def comparison_lines(comparison: Comparison) -> list[str]:
    """The gate's table: regressions first, then improvements, then cases new or gone."""
    out = [
        f"{len(comparison.regressions)} regression(s), {len(comparison.improvements)} improvement(s), "
        f"{len(comparison.new)} new, {len(comparison.gone)} gone"
    ]
    table = [("", "case", "effort", "model vs baseline", "before", "after", "why")]
    for kind, changes in (("REGRESSION", comparison.regressions), ("improved", comparison.improvements)):
        table += [(kind, c.case, c.reasoning, f"{c.model} vs {c.baseline_model}", c.before, c.after, c.why)
                  for c in changes]
    table += [("new", case, effort, model, "", "", "not in the baseline") for model, case, effort in comparison.new]
    table += [("gone", case, effort, model, "", "", "not in this run") for model, case, effort in comparison.gone]
    if len(table) > 1:
        out += _table(table)
    for model in comparison.unmatched_models:
        out.append(f"model '{model}' has no counterpart in the baseline, so it was not compared")
    return out


def where_the_cases_are(config: pytest.Config) -> str:
    """For a run that collected nothing: where the case files are, and how to run them."""
    from pytest_gptoss.cases import nearest_cases

    here = config.invocation_params.dir
    paths = [here / arg for arg in config.invocation_params.args if not str(arg).startswith("-")]
    start = next((path for path in paths if path.is_dir()), here)
    found = nearest_cases(start.resolve())
    if found is None or found == start.resolve():
        return ""
    relative = os.path.relpath(found, here)
    return (f"gptoss: no case file was collected under {start}; the case files are in {found}: "
            f"run pytest from {found.parent}, or name them: pytest {relative}")


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
