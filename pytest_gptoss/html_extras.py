"""pytest-html: the prompt, reasoning, answer and verdict of each case, and columns for its figures.

A sample with tools also shows its exchange turn by turn: each generation's
reasoning, the calls it made with their arguments, and what each call was told.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from pytest_gptoss.tools import counted, tool_name

#: what pytest-html writes in a row with no log, which beside the case's own section says nothing
NO_LOG = "No log output captured."
#: the title of a model's raw output, shown where no final answer was found in it
RAW = "Model output (no final answer found in it)"
COLUMNS = (("model", "Model"), ("reasoning", "Effort"), ("pass_rate", "Pass rate"), ("tokens", "Tokens"))
STYLE = (
    # a long line (a prompt's, a node id) wraps anywhere rather than widen the table past the window
    "<style>.gptoss{white-space:normal;font-family:sans-serif;font-size:13px;overflow-wrap:anywhere}"
    ".gptoss pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #ddd;"
    "padding:6px;margin:4px 0}"
    ".gptoss summary{cursor:pointer;font-weight:bold}.gptoss .pass{color:#2a7}.gptoss .fail{color:#c33}"
    "#results-table td{overflow-wrap:anywhere}</style>"
)
#: an exchange with tools: each turn set off by a rule on its left, the model's and the tool's apart
TOOL_STYLE = (
    "<style>.gptoss .turn{border-left:3px solid #8ab;padding-left:8px;margin:6px 0}"
    ".gptoss .call{border-left:3px solid #b8a;padding-left:8px;margin:6px 0 6px 12px}</style>"
)


class HtmlHooks:
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        for offset, (key, title) in enumerate(COLUMNS):
            cells.insert(2 + offset, f'<th class="sortable" data-column-type="gptoss-{key}">{title}</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        row = (getattr(report, "gptoss", None) or {}).get("row") or {}
        values = {
            "model": row.get("model", ""),
            "reasoning": row.get("reasoning", ""),
            "pass_rate": f"{row['passed']}/{row['total']}" if row.get("total") else "",
            "tokens": str(row.get("completion_tokens", "")) if row else "",
        }
        for offset, (key, _title) in enumerate(COLUMNS):
            cells.insert(2 + offset, f'<td class="col-gptoss-{key}">{escape(values[key])}</td>')

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        gptoss = getattr(report, "gptoss", None)
        if gptoss:
            # the failure text is the answer and verdict that render() shows: the row shows them once
            longrepr = escape(report.longreprtext) + "\n" if report.longreprtext else None
            data[:] = [entry for entry in data if entry != longrepr and entry != NO_LOG]
            try:
                data.insert(0, render(gptoss))
            except Exception as exc:  # one row that cannot be drawn must not cost the report
                data.insert(0, f'<div class="gptoss"><p class="fail">this case could not be shown: '
                               f"{escape(type(exc).__name__)}: {escape(str(exc))}</p></div>")


def _text(text: str) -> str:
    """Text for a <pre> block: escaped, its line breaks as character references.

    pytest-html paints every log line that starts with "E" red (pytest's error lines); a line of
    the prompt or the answer that starts with "E" ("Edited by ...") is no error.
    """
    return escape(text).replace("\r\n", "&#10;").replace("\n", "&#10;")


def _collapsed(summary: str, text: str) -> str:
    """A section shut until clicked: reasoning, raw model output."""
    return f"<details><summary>{escape(summary)}</summary><pre>{_text(text)}</pre></details>"


def render(gptoss: dict[str, Any]) -> str:
    """One case's prompt, and each sample's reasoning, answer and verdict, as HTML."""
    row = gptoss["row"]
    parts = [STYLE, '<div class="gptoss">',
             f"<p><b>{escape(row['case'])}</b> [{escape(row['model'])}-{escape(row['reasoning'])}]: "
             f"{row['passed']}/{row['total']} samples passed; {row.get('prompt_tokens', 0)} prompt, "
             f"{row.get('reasoning_tokens', 0)} reasoning, {row.get('final_tokens', 0)} final tokens; "
             f"{row.get('seconds', 0):.1f} s</p>",
             _collapsed("Prompt", gptoss.get("prompt", ""))]
    for sample in gptoss.get("samples", ()):
        mark = '<span class="pass">passed</span>' if sample["passed"] else '<span class="fail">failed</span>'
        seed = f" (seed {sample['seed']})" if sample.get("seed") is not None else ""
        parts.append(f"<p><b>Sample {sample['sample']}</b>{seed}: {mark}, finish {escape(sample['finish_reason'])}, "
                     f"{sample.get('completion_tokens', 0)} tokens, {sample.get('seconds', 0):.1f} s</p>")
        answer = sample["final"] if sample.get("has_final") else "(no final answer)"
        parts.append(f"<div><b>Final answer</b><pre>{_text(answer)}</pre></div>")
        parts.append(f"<div><b>Verdict</b><pre>{_text(sample['verdict'])}</pre></div>")
        if sample.get("generations") or sample.get("tool_calls"):
            parts.append(_exchange(sample))
        elif sample.get("analysis"):
            parts.append(_collapsed("Reasoning", sample["analysis"]))
        elif sample.get("raw"):
            parts.append(_collapsed(RAW, sample["raw"]))
    if any(sample.get("generations") or sample.get("tool_calls") for sample in gptoss.get("samples", ())):
        parts.insert(1, TOOL_STYLE)
    parts.append("</div>")
    return "".join(parts)


def _exchange(sample: Mapping[str, Any]) -> str:
    """A sample's conversation with tools, turn by turn: each generation, then the calls it made and their answers."""
    generations = sample["generations"]
    calls = sample.get("tool_calls") or ()
    parts = [f"<details open><summary>Exchange: {counted(len(generations), 'generation')}, "
             f"{counted(len(calls), 'tool call')}</summary>"]
    number = 0
    if sample.get("analysis") and not any(turn.get("analysis") for turn in generations):
        parts.append(_collapsed("Reasoning", sample["analysis"]))
    for index, turn in enumerate(generations):
        parts.append(f'<div class="turn"><p><b>Generation {index + 1}</b>: finish '
                     f"{escape(str(turn.get('finish_reason', '')))}, {turn.get('prompt_tokens', 0)} prompt, "
                     f"{turn.get('completion_tokens', 0)} generated tokens, {turn.get('seconds', 0):.1f} s</p>")
        if turn.get("analysis"):
            parts.append(_collapsed("Reasoning", turn["analysis"]))
        if turn.get("commentary"):
            parts.append(f"<div><b>Preamble</b><pre>{_text(turn['commentary'])}</pre></div>")
        if turn.get("raw"):
            parts.append(_collapsed(RAW, turn["raw"]))
        if turn.get("has_final"):
            parts.append("<p>Then the final answer, above.</p>")
        parts.append("</div>")
        for call in calls:
            if call.get("generation", 0) == index:
                number += 1
                parts.append(_call(number, call))
    # calls of no generation recorded (a transcript written by hand, without its generations)
    for call in calls:
        if not 0 <= call.get("generation", 0) < len(generations):
            number += 1
            parts.append(_call(number, call))
    parts.append("</details>")
    return "".join(parts)


def _call(number: int, call: Mapping[str, Any]) -> str:
    """One call: whom the model called with what, and the answer it was given (or why it got none)."""
    name = tool_name(call) or "(no recipient)"
    seconds = f", answered in {call['seconds']:.2f} s" if call.get("seconds") else ""
    parts = [f'<div class="call"><p><b>Call {number}</b>: {escape(name)}{seconds}</p>',
             f"<div>Arguments<pre>{_text(str(call.get('arguments', '')))}</pre></div>"]
    if call.get("error"):
        parts.append(f'<div><span class="fail">Error</span><pre>{_text(str(call["error"]))}</pre></div>')
    if "result" in call:
        parts.append(f"<div>Told the model<pre>{_text(str(call['result']))}</pre></div>")
    parts.append("</div>")
    return "".join(parts)
