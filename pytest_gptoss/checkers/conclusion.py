r"""The ``conclusion`` checker: judge what the answer concludes, not a keyword anywhere.

The conclusion is, in order: the last line led by a marker (结论 / 答案 /
最终答案 / 总结 / 综上 / "Conclusion" / "Final answer" / "Answer"; a marker alone
on its line, as a heading, takes the next line), the content of the last
``\boxed{}``, the sentence holding the last bold span of the closing
paragraph, otherwise the last sentence (the last one ``about`` matches, if
any). It is read from the answer's normalized view.

Spec keys (at least one assertion):

``polarity``
    ``yes`` or ``no``: what a yes/no question's answer must conclude. A
    leading yes/no word decides (能 / 可以 / 是 / "yes"; 不能 / 不可以 / 否 /
    "no"); otherwise the clause after the last 但 / 不过 / "but" is negative
    when it holds a negation (不能, 无法, 爬不出, 永远不, "cannot", "never", ...).
``regex``, ``not_regex``
    Python regexes (a string or a list) the conclusion must match / must not.
``mentions``
    Groups of alternatives, as in ``text``: each group needs one hit.
``about``
    A regex for sentences that answer the same question; a body sentence it
    matches with the other polarity is reported as disagreeing.

The verdict quotes the conclusion it judged, and says where the rest of the
answer disagrees with it (a body sentence of the other polarity, or a body
that matches an assertion the conclusion misses); the conclusion decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers import text as text_checker
from pytest_gptoss.checkers.normalize import closing_brace, sentences, view
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

ASSERTIONS = ("polarity", "regex", "not_regex", "mentions")
KEYS = (*ASSERTIONS, "about")
POLARITIES = ("yes", "no")

_MARKER = re.compile(
    r"^[ \t\-*>]*(?:最终答案|最终结论|结论|答案|总结|综上所述|综上|答(?=\s*[:：])"
    r"|final answer|conclusion|answer|in summary|summary)(?![A-Za-z])\s*(?:是|为|is)?\s*[:：,，]?\s*",
    re.I | re.M,
)
_LEADING = re.compile(
    r"^\W*(?:(?P<no>不能|不可以|不会|不可能|无法|否|不|no|nope)|(?P<yes>能|可以|会|是的|是|yes|yep))"
    r"(?![A-Za-z\u4e00-\u9fff])",
    re.I,
)
_CONTRAST = re.compile(r"但是|但|不过|然而|可是|\bbut\b|\bhowever\b|\byet\b", re.I)
_NEGATION = re.compile(
    r"不能|不可能|不会|不可以|无法|没法|没有办法|做不到|办不到|永远(也)?不|从未|从来没|并不|不再"
    r"|[\u4e00-\u9fff]不(出|到|了|上|去|过|完)(?![\u4e00-\u9fff]?[得])|没(能|有)(爬|到|出|逃|跳)"
    r"|\b(cannot|can ?not|can't|won't|will not|never|unable|impossible|doesn't|does not|did not|didn't"
    r"|isn't|is not|no longer|fails? to)\b",
    re.I,
)


@dataclass(frozen=True)
class Conclusion:
    """The conclusion found: its span in the answer, its normalized text and how it was found."""

    start: int
    end: int
    text: str
    how: str


@dataclass(frozen=True, kw_only=True)
class ConclusionSpec:
    """A parsed ``conclusion`` spec."""

    polarity: str | None
    #: the regex, not_regex and mentions assertions, as the text checker parses them
    text: text_checker.TextSpec | None
    about: re.Pattern[str] | None
    expected: str


def parse(spec: Any) -> ConclusionSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    spec = check_keys(spec, KEYS, name="conclusion",
                      usage="conclusion takes a mapping with at least one of " + ", ".join(ASSERTIONS))
    if not any(key in spec for key in ASSERTIONS):
        raise SpecError("conclusion needs at least one of " + ", ".join(ASSERTIONS))
    if "polarity" in spec and spec["polarity"] not in POLARITIES:
        raise SpecError(f"'polarity' is yes or no, not {spec['polarity']!r}", ("polarity",))
    assertions = {key: spec[key] for key in ("regex", "not_regex", "mentions") if key in spec}
    return ConclusionSpec(
        polarity=spec.get("polarity"),
        text=text_checker.parse(assertions) if assertions else None,
        about=_about(spec),
        expected=_expected(spec),
    )


def judge(spec: ConclusionSpec, text: str) -> Verdict:
    """Judge the conclusion of ``text``; the rest of the answer only informs the verdict."""
    found = find_conclusion(text, spec.about)
    expected = spec.expected
    if found is None:
        return Verdict(passed=False, checker="conclusion", expected=expected,
                       found="no conclusion: the answer is empty", where="the answer is empty")
    quoted = snippet(text, found.start, found.end, width=120)
    problems: list[str] = []
    disagreements: list[str] = []
    body = text[: found.start] + " " * (found.end - found.start) + text[found.end:]
    said = polarity(found.text)
    if spec.polarity is not None:
        if said != spec.polarity:
            problems.append(f"concludes {said!r}, not {spec.polarity!r}")
        other = [s for s in sentences(body)
                 if spec.about is not None and spec.about.search(s.folded) and polarity(s.folded) != said]
        if other:
            first = other[0]
            disagreements.append(f"the rest of the answer says {polarity(first.folded)!r}: "
                                 + snippet(text, first.start, first.end))
    if spec.text is not None:
        inner = text_checker.judge(spec.text, found.text)
        for failure in inner.details["failed"]:
            problems.append(f"{failure['label']}: {failure['reason']} of the conclusion")
        if inner.details["failed"] and text_checker.judge(spec.text, body).passed:
            disagreements.append("the rest of the answer holds what the conclusion misses")
    details = {"conclusion": text[found.start:found.end], "how": found.how, "polarity": said,
               "disagreements": disagreements}
    return Verdict(
        passed=not problems,
        checker="conclusion",
        expected=expected,
        found="; ".join(problems) if problems else f"the conclusion ({found.how}) holds",
        where=f"conclusion ({found.how}): {quoted}",
        why="\n".join(disagreements),
        details=details,
    )


def find_conclusion(text: str, about: re.Pattern[str] | None = None) -> Conclusion | None:
    """The answer's conclusion, or ``None`` for an empty answer.

    Without a marker, a box or a bold closing sentence it is the last sentence:
    the last one ``about`` matches, if any does (a closing pleasantry is no answer).
    """
    seen = view(text)
    markers = [m for m in _MARKER.finditer(seen.text)]
    for marker in reversed(markers):
        line_end = seen.text.find("\n", marker.end())
        line_end = len(seen.text) if line_end < 0 else line_end
        start, end = marker.end(), line_end
        if not seen.text[start:end].strip():
            rest = seen.text[end:].lstrip("\n \t")
            start = len(seen.text) - len(rest)
            end = seen.text.find("\n", start)
            end = len(seen.text) if end < 0 else end
        if seen.text[start:end].strip():
            return _conclusion(text, seen.original(start, end), "marker line")
    boxes = list(re.finditer(r"\\(?:boxed|fbox)\s*\{", text))
    if boxes:
        close = closing_brace(text, boxes[-1].end())
        if close is not None and text[boxes[-1].end():close].strip():
            return _conclusion(text, (boxes[-1].start(), close + 1), r"\boxed{}")
    parts = sentences(text)
    closing = text.rstrip().rsplit("\n\n", 1)[-1]
    offset = len(text.rstrip()) - len(closing)
    bold = list(re.finditer(r"\*\*(.+?)\*\*|__(.+?)__", closing, re.S))
    if bold:
        at = offset + bold[-1].start()
        holding = next((s for s in parts if s.start <= at + 2 < s.end), None)
        if holding is not None:
            return _conclusion(text, (holding.start, holding.end), "bold closing sentence")
    if not parts:
        return None
    last = next((s for s in reversed(parts) if about and about.search(s.folded)), parts[-1])
    return _conclusion(text, (last.start, last.end), "last sentence")


def polarity(sentence: str) -> str:
    """``yes`` or ``no``: what a sentence answers to a yes/no question."""
    folded = unicodedata.normalize("NFKC", sentence).casefold()
    stripped = _MARKER.sub("", folded, count=1)
    leading = _LEADING.match(stripped)
    if leading:
        return "no" if leading.group("no") else "yes"
    clauses = _CONTRAST.split(stripped)
    last = clauses[-1] if clauses[-1].strip() else stripped
    return "no" if _NEGATION.search(last) else "yes"


def _conclusion(text: str, span: tuple[int, int], how: str) -> Conclusion:
    start, end = span
    return Conclusion(start, end, view(text[start:end]).text.strip(), how)


def _about(spec: Mapping[str, Any]) -> re.Pattern[str] | None:
    if "about" not in spec:
        return None
    pattern = spec["about"]
    if not isinstance(pattern, str) or not pattern:
        raise SpecError("'about' is a regex", ("about",))
    try:
        return re.compile(unicodedata.normalize("NFKC", pattern), re.I)
    except re.error as exc:
        raise SpecError(f"invalid regex {pattern!r}: {exc}", ("about",)) from None


def _expected(spec: Mapping[str, Any]) -> str:
    parts = []
    if "polarity" in spec:
        parts.append(f"a conclusion answering {spec['polarity']!r}")
    for key in ("regex", "not_regex"):
        if key in spec:
            values = [spec[key]] if isinstance(spec[key], str) else spec[key]
            parts.append(f"{key} " + ", ".join(f"/{v}/" for v in values))
    if "mentions" in spec:
        groups = [[g] if isinstance(g, str) else g for g in spec["mentions"]]
        parts.append("mentions " + ", ".join(f"[{' | '.join(g)}]" for g in groups))
    return "; ".join(parts)


CHECKER = Checker(name="conclusion", parse=parse, judge=judge)
