"""Fenced code blocks in an answer (Markdown ``` and ~~~ fences), found one way for every checker."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`]*)[^`\n]*$", re.M)


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block. Offsets index the answer; an unclosed fence runs to its end."""

    index: int  # 1-based among the answer's blocks
    tag: str  # the info string's first word, lowercased; "" when untagged
    body: str  # the lines between the fences (dedented when the fence was indented)
    start: int  # where the body starts
    end: int  # where the body ends: the closing fence, or the end of the answer
    fence_start: int  # where the opening fence line starts
    fence_end: int  # after the closing fence line, or the end of the answer
    line: int  # 1-based line of the opening fence
    closed: bool


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of ``text``, in order."""
    blocks: list[FencedBlock] = []
    pos = 0
    while (opening := _OPEN.search(text, pos)) is not None:
        fence = opening["fence"]
        start = min(opening.end() + 1, len(text))
        closing = re.compile(
            r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t\r]*$", re.M
        ).search(text, start)
        end = closing.start() if closing else len(text)
        fence_end = closing.end() if closing else len(text)
        body = text[start:end]
        if opening["indent"]:
            body = textwrap.dedent(body)
        blocks.append(FencedBlock(
            index=len(blocks) + 1,
            tag=opening["info"].lower(),
            body=body,
            start=start,
            end=end,
            fence_start=opening.start(),
            fence_end=fence_end,
            line=text.count("\n", 0, opening.start()) + 1,
            closed=closing is not None,
        ))
        pos = max(fence_end, start)
        if pos >= len(text):
            break
    return blocks
