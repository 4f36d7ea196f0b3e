"""Clipping text for a verdict or a message: at most so many characters, marked where it was cut."""

from __future__ import annotations

MARK = "…"
LINE_BREAK_SIGN = "⏎"


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in ``…`` where it was cut."""
    return text if len(text) <= width else text[: max(width - len(MARK), 0)] + MARK


def clip_line(text: str, width: int) -> str:
    """:func:`clip` on one line: each line break shows as ``⏎``."""
    return clip(text.replace("\n", LINE_BREAK_SIGN), width)


def clip_words(text: str, width: int) -> str:
    """:func:`clip` on one line: every run of white space becomes one space."""
    return clip(" ".join(text.split()), width)


def answer_head(text: str, width: int = 60) -> str:
    """How a verdict quotes an answer it found nothing in: its length and its start, on one line."""
    if not text.strip():
        return "the answer is empty"
    return f"answer ({len(text)} chars): {clip_line(text, width)}"
