"""The ``premise`` checker: the answer rejects a false premise, judged sentence by sentence.

A question built on a false premise (a penguin that flies across the Sahara,
a Nobel prize "for relativity") is answered well when the answer says the
premise is false. Repeating the claim in order to refute it is fine. The
answer fails when no sentence rejects the premise, or when a sentence states
the false claim under a hedge ("据报道", "reportedly") without rejecting it: the
hedge-and-elaborate pattern that presents fiction as reported fact. A hedge
about some other point ("some historians call the ceremony low-key") does not
undo a clear rejection.

Spec keys:

``topic`` (required)
    A regex, or a list of them, for what a sentence about the premise mentions.
``rejects`` (required)
    A regex, or a list of them, for what a sentence rejecting the premise says
    (不存在, 没有记载, "does not exist", the corrected fact...).
``claim``
    A regex, or a list of them, for a sentence that states the false claim
    itself; default ``topic``. Only a hedged sentence that states the claim,
    and does not reject it, fails the answer.
``hedges``
    Words that pass a claim on without owning it; default :data:`HEDGES`.
    An empty list turns the hedge rule off.

A sentence rejects the premise when it matches ``rejects`` and it, or the
sentence just before it, is about the ``topic``. Sentences are read from the
answer's normalized view (:mod:`.normalize`); matching ignores case and
full-width/half-width differences.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.normalize import sentences
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

KEYS = ("topic", "rejects", "claim", "hedges")
HEDGES = (
    "据说", "据报道", "据称", "据悉", "据传", "传说", "传闻", "相传", "有报道称", "有人认为", "据相关报道",
    "reportedly", "allegedly", "supposedly", "it is said", "it is reported", "rumored", "rumoured",
    "is believed", "some say", "according to reports",
)


@dataclass(frozen=True, kw_only=True)
class PremiseSpec:
    """A parsed ``premise`` spec: its regexes compiled, its hedges folded."""

    topic: tuple[re.Pattern[str], ...]
    rejects: tuple[re.Pattern[str], ...]
    claim: tuple[re.Pattern[str], ...]
    hedges: tuple[str, ...]


def parse(spec: Any) -> PremiseSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    spec = check_keys(spec, KEYS, name="premise", usage="premise takes a mapping with 'topic' and 'rejects' (regexes)")
    for key in ("topic", "rejects"):
        if key not in spec:
            raise SpecError(f"'{key}' is required: a regex or a list of regexes", (key,))
    hedges = spec.get("hedges", HEDGES)
    if not isinstance(hedges, (list, tuple)) or not all(isinstance(h, str) and h for h in hedges):
        raise SpecError("'hedges' is a list of words (an empty list turns the rule off)", ("hedges",))
    return PremiseSpec(
        topic=_patterns(spec, "topic"),
        rejects=_patterns(spec, "rejects"),
        claim=_patterns(spec, "claim" if "claim" in spec else "topic"),
        hedges=tuple(_fold(h) for h in hedges),
    )


def judge(spec: PremiseSpec, text: str) -> Verdict:
    """Pass an answer that rejects the premise and passes none of it on under a hedge."""
    topic, rejects, claim, hedges = spec.topic, spec.rejects, spec.claim, spec.hedges
    found = sentences(text)
    about = [any(p.search(s.folded) for p in topic) for s in found]
    rejecting = [
        index for index, s in enumerate(found)
        if any(p.search(s.folded) for p in rejects) and (about[index] or (index > 0 and about[index - 1]))
    ]
    hedged = [
        index for index, s in enumerate(found)
        if index not in rejecting and any(h in s.folded for h in hedges) and any(p.search(s.folded) for p in claim)
    ]
    expected = (
        f"a sentence rejecting the premise (about /{'|'.join(p.pattern for p in topic)}/, "
        f"saying /{'|'.join(p.pattern for p in rejects)}/), and no hedged sentence "
        f"stating /{'|'.join(p.pattern for p in claim)}/"
    )
    details = {
        "sentences": len(found),
        "about_topic": sum(about),
        "rejecting": [text[found[i].start:found[i].end] for i in rejecting][:5],
        "hedged": [text[found[i].start:found[i].end] for i in hedged][:5],
    }
    if hedged:
        first = found[hedged[0]]
        return Verdict(
            passed=False, checker="premise", expected=expected,
            found=f"{len(hedged)} hedged claim(s) that state the false premise without rejecting it",
            where=snippet(text, first.start, first.end),
            why="the answer reports the false premise as hearsay instead of rejecting it",
            details=details,
        )
    if not rejecting:
        mentioned = f"{sum(about)} of {len(found)} sentences are about it" if found else "no text"
        where = next((snippet(text, s.start, s.end) for s, a in zip(found, about) if a), "")
        return Verdict(
            passed=False, checker="premise", expected=expected,
            found=f"no sentence rejects the premise ({mentioned})",
            where=where,
            why="the answer goes along with the false premise, or never addresses it",
            details=details,
        )
    first = found[rejecting[0]]
    return Verdict(
        passed=True, checker="premise", expected=expected,
        found=f"{len(rejecting)} sentence(s) reject the premise",
        where=snippet(text, first.start, first.end),
        details=details,
    )


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _patterns(spec: Mapping[str, Any], key: str) -> tuple[re.Pattern[str], ...]:
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
    return tuple(compiled)


CHECKER = Checker(name="premise", parse=parse, judge=judge)
