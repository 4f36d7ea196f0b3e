"""How an exchange with tools reads in the reports: the HTML turn by turn, the terminal's count, the results file's."""

from __future__ import annotations

import html as markup
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_gptoss import terminal_summary
from pytest_gptoss.html_extras import TOOL_STYLE, HtmlHooks, render
from pytest_gptoss.tools import counted

REPO = Path(__file__).resolve().parent.parent
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


def sample(**fields: Any) -> dict[str, Any]:
    base = {"sample": 0, "seed": None, "passed": False, "error": False, "final": "It is \\boxed{42.16} km.",
            "has_final": True, "analysis": "", "raw": "", "finish_reason": "stop", "prompt_tokens": 10,
            "completion_tokens": 20, "seconds": 0.5, "verdict": "[numeric] PASS", "tool_calls": [], "generations": []}
    return {**base, **fields}


def data(*samples: dict[str, Any]) -> dict[str, Any]:
    row = {"case": "c", "model": "20b", "reasoning": "medium", "passed": 0, "total": len(samples)}
    return {"row": row, "prompt": "How far?", "samples": list(samples)}


EXCHANGE = sample(
    analysis="Look up the mile.\n\nMultiply.",
    tool_calls=[
        {"recipient": "functions.unit_factor", "arguments": "{unit: mile}", "generation": 0,
         "result": '{"error": "the arguments are not valid JSON"}', "error": "the arguments are not valid JSON"},
        {"recipient": "functions.unit_factor", "arguments": '{"unit": "<mile>"}', "generation": 1,
         "result": '{"km": 1.609344}', "seconds": 0.25},
    ],
    generations=[
        {"analysis": "Look up the mile.", "commentary": "", "final": "", "has_final": False,
         "finish_reason": "tool_call", "prompt_tokens": 300, "completion_tokens": 12, "seconds": 0.1},
        {"analysis": "Try again.", "commentary": "Calling the look-up.", "final": "", "has_final": False,
         "finish_reason": "tool_call", "prompt_tokens": 340, "completion_tokens": 15, "seconds": 0.1},
        {"analysis": "Multiply.", "commentary": "", "final": "It is \\boxed{42.16} km.", "has_final": True,
         "finish_reason": "stop", "prompt_tokens": 380, "completion_tokens": 30, "seconds": 0.2},
    ],
)


def test_an_exchange_reads_turn_by_turn_each_call_under_the_generation_that_made_it() -> None:
    html = render(data(EXCHANGE))
    assert TOOL_STYLE in html
    assert "Exchange: 3 generations, 2 tool calls" in html
    order = ["Generation 1", "Look up the mile.", "Call 1", "{unit: mile}", "the arguments are not valid JSON",
             "Generation 2", "Try again.", "Calling the look-up.", "Call 2", "answered in 0.25 s",
             "{&quot;unit&quot;: &quot;&lt;mile&gt;&quot;}", "1.609344", "Generation 3", "Multiply."]
    places = [html.index(text) for text in order]
    assert places == sorted(places), [text for text, place in zip(order, places) if place != sorted(places)[order.index(text)]]
    assert html.count("Call 1") == 1 and html.count("unit_factor") == 2
    assert '<span class="fail">Error</span>' in html.split("Call 2")[0]
    assert '<span class="fail">Error</span>' not in html.split("Call 2")[1]
    # the reasoning is shown per turn, not once more for the whole exchange
    assert "Look up the mile.&#10;&#10;Multiply." not in html
    # the final answer is shown once, above the exchange
    assert html.count("It is \\boxed{42.16} km.") == 1 and "Then the final answer, above." in html


def test_a_sample_without_tools_is_shown_as_before() -> None:
    html = render(data(sample(analysis="Just add.")))
    assert TOOL_STYLE not in html and "Exchange" not in html and "Generation 1" not in html
    assert "<summary>Reasoning</summary><pre>Just add.</pre>" in html


def test_calls_written_by_hand_without_their_generations_are_still_shown_in_order() -> None:
    html = render(data(sample(analysis="Looked it up.", tool_calls=[
        {"recipient": "functions.unit_factor", "arguments": '{"unit": "mile"}', "result": "1.609344"},
        {"recipient": "python", "arguments": "print(2)", "generation": 3, "result": "2"}])))
    assert "Exchange: 0 generations, 2 tool calls" in html
    assert html.index("Looked it up.") < html.index("<b>Call 1</b>: unit_factor") < html.index("<b>Call 2</b>: python")


def test_an_unanswered_call_past_max_tool_calls_shows_its_error_and_no_answer() -> None:
    past = sample(has_final=False, final="", finish_reason="max_tool_calls", tool_calls=[
        {"recipient": "python", "arguments": "print(1)", "generation": 0,
         "error": "not answered: past the case's max_tool_calls (0)"}],
        generations=[{"analysis": "", "commentary": "", "final": "", "has_final": False,
                      "finish_reason": "tool_call", "prompt_tokens": 5, "completion_tokens": 5, "seconds": 0.0}])
    html = render(data(past))
    call = html.split("Call 1")[1]
    assert "python" in call and "past the case&#x27;s max_tool_calls (0)" in call and "Told the model" not in call


def test_a_row_that_cannot_be_drawn_says_so_and_keeps_the_report() -> None:
    class Report:
        gptoss = {"row": {"case": "c"}, "samples": []}  # a row without its figures
        longreprtext = ""

    data: list[str] = []
    HtmlHooks().pytest_html_results_table_html(Report(), data)
    assert data == ['<div class="gptoss"><p class="fail">this case could not be shown: KeyError: &#x27;model&#x27;'
                    "</p></div>"]


def test_counts_read_as_english() -> None:
    assert [counted(n, "tool call") for n in (0, 1, 2, 1024)] == [
        "0 tool calls", "1 tool call", "2 tool calls", "1,024 tool calls"]


def test_the_terminal_counts_tool_calls_only_when_there_were_any() -> None:
    row = {"case": "c", "model": "20b", "reasoning": "medium", "outcome": "passed", "prompt_tokens": 1000,
           "reasoning_tokens": 20, "final_tokens": 5}
    assert "tokens: 1,000 prompt, 20 reasoning, 5 final" in terminal_summary.lines([row])
    assert "tokens: 2,000 prompt, 40 reasoning, 10 final; 3 tool calls" in terminal_summary.lines(
        [{**row, "tool_calls": 1}, {**row, "case": "d", "tool_calls": 2}])
    assert "tokens: 1,000 prompt, 20 reasoning, 5 final; 1 tool call" in terminal_summary.lines(
        [{**row, "tool_calls": 1}])


def transcript(label: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (TRANSCRIPTS / f"tools-{label}.jsonl").read_text().splitlines()]


def test_a_replayed_exchange_in_the_html_report_the_results_file_and_the_summary_under_xdist(
        pytester: pytest.Pytester) -> None:
    shutil.copy(REPO / "cases" / "tools.yaml", pytester.mkdir("cases") / "tools.yaml")
    lines = transcript("wrong")
    chain = "tool-chain-customer-orders"
    kept = [line for line in lines if line["case"] != chain]
    pytester.makefile(".jsonl", t="\n".join(json.dumps(line, ensure_ascii=False) for line in kept))
    result = pytester.runpytest("--gptoss-replay=t.jsonl", "--html=report.html", "--gptoss-results=r.json",
                                "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=len(kept), skipped=1)
    calls = {line["case"]: len(line.get("tool_calls", ())) for line in kept}
    assert sum(calls.values()) > 0
    result.stdout.fnmatch_lines([f"tokens: * final; {sum(calls.values())} tool calls"])  # 4 in all
    rows = {row["case"]: row for row in json.loads((pytester.path / "r.json").read_text())["rows"]}
    assert {case: rows[case]["tool_calls"] for case in calls} == calls
    # the case with no recorded exchange was skipped: its row counts no calls
    assert rows[chain]["outcome"] == "skipped" and rows[chain]["tool_calls"] == 0
    page = (pytester.path / "report.html").read_text()
    blob = json.loads(markup.unescape(re.search(r'data-jsonblob="([^"]*)"', page).group(1)))
    logs = {nodeid.split("::")[1].split("[")[0]: "".join(phase["log"] for phase in phases)
            for nodeid, phases in blob["tests"].items()}
    for line in kept:
        log = logs[line["case"]]
        assert f"Exchange: {counted(len(line['generations']), 'generation')}, " \
               f"{counted(calls[line['case']], 'tool call')}" in log
        for number, call in enumerate(line.get("tool_calls", ()), 1):
            name = call["recipient"].removeprefix("functions.")
            assert f"<b>Call {number}</b>: {name}" in log, (line["case"], number)
        assert f"<b>Call {calls[line['case']] + 1}</b>" not in log
