"""Labels: how a node or edge label reads, and which labels a spec's label matcher matches.

A label is read as shown: mermaid entity codes (``#lt;``, ``#60;``) and HTML
entities (``&lt;``) decoded, ``<br>`` read as a space, simple formatting tags
(``<b>``, ``<i>``, ...) dropped, NFKC-folded (so ``＜`` is ``<``), with
``≤ ≥ ≠ −`` read as ``<= >= != -``. A string matches a node label that
contains it, ignoring case and all whitespace, but not inside a longer ASCII
word or number (``i<n-1`` matches ``判断 i < n - 1 ?`` and not ``i < n - 10``;
``swap`` does not match ``swapped``). ``{regex: P}`` searches the label, its
whitespace collapsed to single spaces, ignoring case. A list matches when any
item does. Edge labels are short words, so there a string must equal the whole
label (ignoring case, whitespace and surrounding punctuation): ``是`` matches
``是`` but not ``不是``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from pytest_gptoss.checkers.mermaid.source import decode_placeholders

_ENTITY_CODE = re.compile(r"#(\w+);")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_FORMAT_TAG = re.compile(
    r"</?(?:b|i|u|s|em|strong|code|sub|sup|span|small|big|font|mark|tt|del|ins|strike|p|div)"
    r"""(?:\s+[\w-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s<>"']+))*\s*/?>""",
    re.IGNORECASE,
)
_READ_AS = str.maketrans({"≤": "<=", "≥": ">=", "≠": "!=", "\u2212": "-", "\u2013": "-",
                          "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " .,;:!?。、()[]【】\"'"  # after NFKC, so full-width forms are already ASCII


@dataclass(frozen=True)
class Alternative:
    """One way to match: a compiled ``regex``, or (when it is None) the string ``text``."""

    regex: re.Pattern[str] | None
    text: str


@dataclass(frozen=True)
class Matcher:
    """A label matcher from the spec: any of its alternatives matches; ``name`` is its entry in ``nodes``."""

    alternatives: tuple[Alternative, ...]
    shown: str
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.shown})" if self.name else self.shown


def plain_label(label: str) -> str:
    """A label as a reader sees it: entities decoded, tags dropped, NFKC-folded, spaces collapsed."""
    text = decode_placeholders(label)
    text = _ENTITY_CODE.sub(lambda m: html.unescape(f"&#{m[1]};" if m[1].isdigit() else f"&{m[1]};"), text)
    text = html.unescape(text)
    text = _BREAK.sub(" ", text)
    text = _FORMAT_TAG.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_READ_AS)
    return _SPACES.sub(" ", text).strip()


def key(text: str, *, whole: bool = False) -> str:
    """What a label is compared by: folded, without whitespace (and, for a ``whole`` label, its punctuation)."""
    folded = _folded(text)
    if whole:
        folded = folded.strip(_EDGE_PUNCTUATION)
    return _SPACES.sub("", folded)


def matches(matcher: Matcher, label: str, *, whole: bool = False) -> bool:
    """``label`` matches ``matcher``: containing a string, or equal to it when ``whole`` (an edge label)."""
    for alternative in matcher.alternatives:
        if alternative.regex is not None:
            if alternative.regex.search(plain_label(label)):
                return True
        elif whole:
            if key(alternative.text, whole=True) == key(label, whole=True):
                return True
        elif _contains(alternative.text, label):
            return True
    return False


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", plain_label(text).casefold())


def _ascii_word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _contains(needle: str, label: str) -> bool:
    """``needle`` occurs in ``label`` ignoring case and whitespace, and not inside a longer ASCII word."""
    wanted = key(needle)
    folded = _folded(label)
    kept = [index for index, char in enumerate(folded) if not char.isspace()]
    compared = "".join(folded[index] for index in kept)
    start = compared.find(wanted)
    while start >= 0:
        first, last = kept[start], kept[start + len(wanted) - 1]
        before = folded[first - 1] if first else " "
        after = folded[last + 1] if last + 1 < len(folded) else " "
        glued_before = _ascii_word(wanted[0]) and _ascii_word(before)
        glued_after = _ascii_word(wanted[-1]) and _ascii_word(after)
        if not glued_before and not glued_after:
            return True
        start = compared.find(wanted, start + 1)
    return False
