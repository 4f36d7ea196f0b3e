"""Cases that use tools: the functions a case declares, gpt-oss's python tool, and the loop that answers calls.

A case with ``tools:`` or ``builtin_tools:`` is a conversation, not one
generation: the model is prompted, each call it makes is answered (by the
case's function, or by running its code in the sandbox), and the model goes on
until it gives a final answer or ``max_tool_calls`` is spent.

- :mod:`.spec`: the case fields ``tools``, ``builtin_tools`` and ``max_tool_calls``, parsed at collection;
- :mod:`.answer`: how one call is answered (arguments checked against the schema first);
- :mod:`.loop`: the conversation, as a chain of generations of one case on any backend.

A call, as the transcript, the ``tool_calls`` checker and the reports see it, is
a dict: ``recipient`` (``functions.NAME`` or ``python``), ``arguments`` (as the
model wrote them), ``content_type``, ``channel``, ``generation`` (which
generation of the exchange made it), ``result`` (what the model was told),
``error`` (only when the call was answered with an error) and ``seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_gptoss.clipping import clip_line

FUNCTIONS = "functions."
#: how much of a call's arguments and result one line of a verdict shows
SHOWN = 160


def tool_name(call: Mapping[str, Any]) -> str:
    """The name a case gives the called tool: ``lookup`` for ``functions.lookup``, ``python`` for the python tool."""
    recipient = str(call.get("recipient") or "")
    return recipient.removeprefix(FUNCTIONS)


def counted(n: int, noun: str) -> str:
    """``1 tool call``, ``1,024 tool calls``: a count and its noun, plural but for one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def describe_call(number: int, call: Mapping[str, Any], width: int = SHOWN) -> str:
    """One call on one line: ``2. functions.lookup({"unit": "mile"}) -> {"km": 1.609}``, its error if it had one."""
    arguments = clip_line(str(call.get("arguments", "")).strip(), width)
    line = f"{number}. {call.get('recipient') or '(no recipient)'}({arguments})"
    if call.get("error"):
        return f"{line} -> error: {clip_line(str(call['error']), width)}"
    if "result" in call:
        return f"{line} -> {clip_line(str(call['result']).strip(), width)}"
    return line


def describe_calls(calls: Sequence[Mapping[str, Any]], width: int = SHOWN) -> str:
    """Every call, numbered from 1, one per line; ``no tool calls`` for none."""
    if not calls:
        return "no tool calls"
    return "\n".join(describe_call(number, call, width) for number, call in enumerate(calls, 1))
