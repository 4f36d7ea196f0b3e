"""The ``mermaid`` checker: parse the flowchart in the answer and assert its structure.

The diagram is found as :mod:`.source` says; the spec's keys are in
:mod:`.spec`, how labels match in :mod:`.labels`, what each assertion checks
in :mod:`.graph`. A diagram that does not parse fails with the parser's
message, its line and column (counted inside the diagram) and the answer
around it. A diagram of another kind (``sequenceDiagram``, ...) fails as not a
flowchart.

Parsers. ``auto`` uses mermaid's own flowchart parser when node and the npm
package ``mermaid`` (11.x) are installed (:mod:`.bridge`), and the built-in
parser (:mod:`.lexer`, :mod:`.parser`) otherwise; ``mermaid`` requires the
real one (its absence is an error, not a failure); ``builtin`` always uses the
built-in one. The environment variable ``GPTOSS_MERMAID_PARSER`` sets the
default for specs that do not say. If node fails or times out under ``auto``,
the built-in parser judges and the verdict says so. The verdict always names
the parser that judged.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.mermaid.bridge import (
    INSTALL_COMMAND,
    ParserUnavailable,
    find_real_parser,
    from_real,
    mermaid_directory,
    run_real_parser,
)
from pytest_gptoss.checkers.mermaid.flowchart import Flowchart, MermaidSyntaxError
from pytest_gptoss.checkers.mermaid.graph import DECISION_SHAPES, Result, assertions, show
from pytest_gptoss.checkers.mermaid.parser import parse_builtin
from pytest_gptoss.checkers.mermaid.source import Block, clean, diagram_kind, find_diagram
from pytest_gptoss.checkers.mermaid.spec import Spec, describe, parse
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import answer_head
from pytest_gptoss.verdict import Verdict

NAME = "mermaid"
PARSER_ENV = "GPTOSS_MERMAID_PARSER"

#: at most this many failed assertions and nodes are spelled out, so a verdict fits a screen
_SHOWN = 8
_SHOWN_NODES = 16
#: for _hint: tokens that show a label held a bracket it should have quoted, and the tokens that close a label
_LABEL_BRACKETS = frozenset({"PS", "PE", "SQS", "SQE", "DIAMOND_START", "DIAMOND_STOP", "PIPE", "STADIUMSTART",
                             "STADIUMEND", "SUBROUTINESTART", "SUBROUTINEEND", "CYLINDERSTART", "CYLINDEREND",
                             "DOUBLECIRCLESTART", "DOUBLECIRCLEEND", "TRAPSTART", "TRAPEND", "INVTRAPSTART",
                             "INVTRAPEND", "TAGEND", "(-", "-)", "1"})
_CLOSERS = frozenset({"SQE", "PE", "DIAMOND_STOP", "PIPE", "STADIUMEND", "SUBROUTINEEND", "CYLINDEREND",
                      "DOUBLECIRCLEEND", "TRAPEND", "INVTRAPEND", "-)"})


@dataclass
class _Judged:
    parser: str
    note: str = ""
    flowchart: Flowchart | None = None
    error: MermaidSyntaxError | None = None
    unavailable: str = ""


def judge(parsed: Spec, text: str) -> Verdict:
    """Judge the flowchart in ``text`` against the ``parsed`` spec: it must parse, and every assertion must hold."""
    expected = describe(parsed)
    block = find_diagram(text)
    if block is None:
        return Verdict(
            passed=False, checker=NAME, expected=expected,
            found="no mermaid diagram: no ```mermaid block and no block that starts with flowchart or graph",
            where=answer_head(text), why="the answer has no diagram to judge",
        )
    source = clean(block.source)
    where_block = f"{block.how} at line {text.count(chr(10), 0, block.starts[0]) + 1} of the answer: " \
        + snippet(text, *block.span)
    kind = diagram_kind(source)
    if kind != "flowchart":
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=kind, where=where_block,
            why="only flowcharts (flowchart or graph) are judged", details={"kind": kind},
        )
    judged = _read(source, parsed.parser or os.environ.get(PARSER_ENV) or "auto")
    if judged.unavailable:
        return Verdict(
            passed=False, checker=NAME, expected=expected, error=True,
            found=f"mermaid's own parser is required (parser: mermaid) but {judged.unavailable}",
            where=where_block, why=f"install it with: {INSTALL_COMMAND}", details={"parser": judged.parser},
        )
    by = f"parsed by {judged.parser}" + (f"; {judged.note}" if judged.note else "")
    if judged.error is not None:
        return _syntax_verdict(expected, judged, text, block, where_block, by)
    assert judged.flowchart is not None
    results = assertions(parsed, judged.flowchart)
    return _verdict(expected, results, judged, where_block, by)


def _read(source: str, mode: str) -> _Judged:
    """The flowchart in ``source`` (or why it does not parse), read by the parser ``mode`` picks."""
    if mode != "builtin":
        real = find_real_parser()
        reason = ""
        if real is None:
            reason = "node is not installed" if shutil.which("node") is None else \
                f"the npm package mermaid is not installed in {mermaid_directory()}"
        else:
            try:
                (result,) = run_real_parser(real, [source])
            except ParserUnavailable as exc:
                reason = str(exc)
            else:
                judged = _Judged(f"mermaid {real.version}")
                try:
                    judged.flowchart = from_real(result, source)
                except MermaidSyntaxError as exc:
                    judged.error = exc
                return judged
        if mode == "mermaid":
            return _Judged("mermaid", unavailable=reason)
        judged = _Judged("the built-in parser", note=reason)
    else:
        judged = _Judged("the built-in parser")
    try:
        judged.flowchart = parse_builtin(source)
    except MermaidSyntaxError as exc:
        judged.error = exc
    return judged


def _syntax_verdict(expected: str, judged: _Judged, text: str, block: Block, where_block: str,
                    by: str) -> Verdict:
    error = judged.error
    assert error is not None
    where = where_block
    if error.line is not None and error.line <= len(block.starts):
        line_start = block.starts[error.line - 1]
        line_text = block.source.split("\n")[error.line - 1]
        column = min(max((error.column or 1) - 1, 0), len(line_text))
        at = line_start + column
        where = f"line {error.line} of the diagram: {snippet(text, at, min(at + 1, line_start + len(line_text)))}"
    hint = _hint(error)
    return Verdict(
        passed=False, checker=NAME, expected=expected, found=f"{error.message}\n({by})", where=where,
        why="the diagram does not parse" + (f": {hint}" if hint else ""),
        details={"parser": judged.parser, "error": error.message, "line": error.line, "column": error.column},
    )


def _hint(error: MermaidSyntaxError) -> str:
    """How to fix the commonest mistakes, told from the tokens the parser expected and got; or nothing."""
    expected = set(error.expected)
    if error.got == "STR" and expected & _CLOSERS:
        return 'a quoted label must fill its brackets, with nothing before or after the quotes: A["text"]'
    if error.got in _LABEL_BRACKETS and expected & _CLOSERS:
        return ('a label with ( ) [ ] { } | or a quote must be quoted, e.g. B["n = len(arr)"] '
                "(write #quot; for a quote inside it)")
    if error.got == "end":
        return "end is a keyword, so no node may be called end (call it End or stop)"
    if error.message.startswith("Lexical error on line 1"):
        return "the direction after flowchart or graph is upper case: TB, TD, BT, LR or RL"
    if error.got == "NODE_STRING" and "NEWLINE" in expected:
        return "one statement per line or between semicolons; a %% comment needs a line of its own"
    return ""


def _verdict(expected: str, results: list[Result], judged: _Judged, where_block: str, by: str) -> Verdict:
    chart = judged.flowchart
    assert chart is not None
    failed = [r for r in results if not r.held]
    size = f"{len(chart.nodes)} nodes, {len(chart.edges)} edges"
    if failed:
        shown = failed[:_SHOWN]
        lines = [f"✗ {r.label}: {r.note}" for r in shown]
        if len(failed) > len(shown):
            lines.append(f"… and {len(failed) - len(shown)} more")
        listed = list(chart.nodes.values())[:_SHOWN_NODES]
        more = f", … {len(chart.nodes) - len(listed)} more" if len(chart.nodes) > len(listed) else ""
        lines.append(f"nodes ({size}): " + ", ".join(
            show(n) + (" {decision}" if n.shape in DECISION_SHAPES else "") for n in listed) + more)
        lines.append(f"({by})")
        found = "\n".join(lines)
        why = f"{len(failed)} of {len(results)} assertions failed"
    else:
        held = "the flowchart parsed" if not results else \
            ("the assertion held" if len(results) == 1 else f"all {len(results)} assertions held")
        found = f"{held} ({size}; {by})"
        why = ""
    return Verdict(
        passed=not failed, checker=NAME, expected=expected, found=found, where=where_block, why=why,
        details={
            "parser": judged.parser,
            "direction": chart.direction,
            "nodes": [[n.id, n.label, n.shape] for n in chart.nodes.values()],
            "edges": [[e.source, e.target, e.label] for e in chart.edges],
            "held": len(results) - len(failed),
            "total": len(results),
            "failed": [{"assertion": r.key, "label": r.label, "reason": r.note} for r in failed],
        },
    )


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
