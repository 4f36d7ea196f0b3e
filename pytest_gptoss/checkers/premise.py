"""The ``premise`` checker: the answer rejects a false premise, judged sentence by sentence.

A question built on a false premise (a penguin that flies across the Sahara,
a Nobel prize "for relativity") is answered well when the answer says the
premise is false. Repeating the claim in order to refute it is fine. The
answer fails when no sentence rejects the premise, or when a sentence passes
the claim on under a hedge ("据报道", "reportedly") without rejecting it: the
hedge-and-elaborate pattern that presents fiction as reported fact.

Spec keys:

``topic`` (required)
    A regex, or a list of them, for what a sentence about the premise mentions.
``rejects`` (required)
    A regex, or a list of them, for what a sentence rejecting the premise says
    (不存在, 没有记载, "does not exist", the corrected fact...).
``hedges``
    Words that pass a claim on without owning it; default :data:`HEDGES`.
    An empty list turns the hedge rule off.

A sentence rejects the premise when it matches ``rejects`` and it, or the
sentence just before it, is about the ``topic``. Matching ignores case and
full-width/half-width differences.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

KEYS = ("topic", "rejects", "hedges")
HEDGES = (
    "据说", "据报道", "据称", "据悉", "据传", "传说", "传闻", "相传", "有报道称", "有人认为", "据相关报道",
    "reportedly", "allegedly", "supposedly", "it is said", "it is reported", "rumored", "rumoured",
    "is believed", "some say", "according to reports",
)
# A sentence ends at Chinese or Western end punctuation, or a line break; a
# full stop only when followed by a space or the end, so 3.14 stays whole.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.(?=\s|$)")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    folded: str


def validate(spec: Any) -> None:
    check_keys(spec, KEYS, name="premise", usage="premise takes a mapping with 'topic' and 'rejects' (regexes)")
    for key in ("topic", "rejects"):
        if key not in spec:
            raise SpecError(f"'{key}' is required: a regex or a list of regexes", (key,))
        _patterns(spec, key)
    hedges = spec.get("hedges", HEDGES)
    if not isinstance(hedges, (list, tuple)) or not all(isinstance(h, str) and h for h in hedges):
        raise SpecError("'hedges' is a list of words (an empty list turns the rule off)", ("hedges",))


def check(spec: Mapping[str, Any], text: str) -> Verdict:
    topic = _patterns(spec, "topic")
    rejects = _patterns(spec, "rejects")
    hedges = tuple(_fold(h) for h in spec.get("hedges", HEDGES))
    sentences = split_sentences(text)
    about = [any(p.search(s.folded) for p in topic) for s in sentences]
    rejecting = [
        index for index, s in enumerate(sentences)
        if any(p.search(s.folded) for p in rejects) and (about[index] or (index > 0 and about[index - 1]))
    ]
    hedged = [
        index for index, s in enumerate(sentences)
        if about[index] and index not in rejecting and any(h in s.folded for h in hedges)
    ]
    expected = (
        f"a sentence rejecting the premise (about /{'|'.join(p.pattern for p in topic)}/, "
        f"saying /{'|'.join(p.pattern for p in rejects)}/), and no hedged claim"
    )
    details = {
        "sentences": len(sentences),
        "about_topic": sum(about),
        "rejecting": [text[sentences[i].start:sentences[i].end] for i in rejecting][:5],
        "hedged": [text[sentences[i].start:sentences[i].end] for i in hedged][:5],
    }
    if hedged:
        first = sentences[hedged[0]]
        return Verdict(
            passed=False, checker="premise", expected=expected,
            found=f"{len(hedged)} hedged claim(s) that pass the premise on without rejecting it",
            where=snippet(text, first.start, first.end),
            why="the answer reports the false premise as hearsay instead of rejecting it",
            details=details,
        )
    if not rejecting:
        mentioned = f"{sum(about)} of {len(sentences)} sentences are about it" if sentences else "no text"
        where = next((snippet(text, s.start, s.end) for s, a in zip(sentences, about) if a), "")
        return Verdict(
            passed=False, checker="premise", expected=expected,
            found=f"no sentence rejects the premise ({mentioned})",
            where=where,
            why="the answer goes along with the false premise, or never addresses it",
            details=details,
        )
    first = sentences[rejecting[0]]
    return Verdict(
        passed=True, checker="premise", expected=expected,
        found=f"{len(rejecting)} sentence(s) reject the premise",
        where=snippet(text, first.start, first.end),
        details=details,
    )


def split_sentences(text: str) -> list[Sentence]:
    """The answer's sentences, with their spans in the original text."""
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _add(sentences, text, start, match.end())
        start = match.end()
    _add(sentences, text, start, len(text))
    return sentences


def _add(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    if piece.strip(" \t\r\n*#>-|`。！？!?；;."):
        lead = len(piece) - len(piece.lstrip())
        sentences.append(Sentence(start + lead, end, _fold(piece)))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _patterns(spec: Mapping[str, Any], key: str) -> list[re.Pattern[str]]:
    raw = spec[key]
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(p, str) and p for p in items):
        raise SpecError(f"'{key}' is a regex or a non-empty list of regexes", (key,))
    compiled = []
    for index, pattern in enumerate(items):
        try:
            compiled.append(re.compile(_fold(pattern), re.IGNORECASE))
        except re.error as exc:
            path = (key,) if isinstance(raw, str) else (key, index)
            raise SpecError(f"invalid regex {pattern!r}: {exc}", path) from None
    return compiled
