"""Text checker: substrings, regular expressions and groups of mentions.

Spec keys: ``contains`` and ``not_contains`` (a string or a list), ``regex``
and ``not_regex`` (Python ``re`` patterns, a string or a list), ``mentions``
(a list of groups, each a list of alternatives: every group needs one hit),
``ignore_case`` and ``ignore_width`` (both default true).

Any assertion may carry a human ``label`` that verdicts show instead of the raw
needle or pattern: ``{text: ..., label: ...}`` for contains and not_contains,
``{pattern: ..., label: ...}`` for regex and not_regex, ``{any: [...], label: ...}``
for a mentions group.

With ``ignore_width`` the answer and the needles are NFKC-folded, so full-width
and half-width forms compare equal (``２７００`` is ``2700``, ``：`` is ``:``).
Patterns are folded too, but a folded character is always taken literally
(``（`` matches a parenthesis, never opens a group). With ``ignore_case``
substrings compare casefolded and patterns run with ``re.IGNORECASE``.

Every assertion reads the answer's normalized view (:mod:`.normalize`: Markdown
and LaTeX markup dropped, table rows read as "label: value") and the answer as
written; ``where`` always points into the answer as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.normalize import View, view
from pytest_gptoss.clipping import answer_head
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

ASSERTIONS = ("contains", "not_contains", "regex", "not_regex", "mentions")
#: the key that holds an assertion's value when it is written as a mapping with a label
VALUE_KEYS = {"contains": "text", "not_contains": "text", "regex": "pattern", "not_regex": "pattern",
              "mentions": "any"}
OPTIONS = ("ignore_case", "ignore_width")
#: at most this many failed assertions are spelled out, so a verdict fits a screen
_SHOWN = 8
_EXPECTED_WIDTH = 300


@dataclass(frozen=True)
class TextSpec:
    """A parsed ``text`` spec: each assertion's values, the options, the labels."""

    contains: tuple[str, ...]
    not_contains: tuple[str, ...]
    regex: tuple[str, ...]
    not_regex: tuple[str, ...]
    mentions: tuple[tuple[str, ...], ...]
    ignore_case: bool
    ignore_width: bool
    #: the spec's human labels, by (assertion, index)
    labels: dict[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Result:
    key: str
    label: str
    held: bool
    span: tuple[int, int] | None
    note: str
    index: int


def judge(parsed: TextSpec, text: str) -> Verdict:
    """Judge ``text`` against every assertion in ``spec``; all must hold."""
    results = _run(parsed, text)
    failed = [r for r in results if not r.held]
    options = [name for name in OPTIONS if getattr(parsed, name)]
    expected = _expected(parsed)
    if len(expected) > _EXPECTED_WIDTH:
        expected = expected[: _EXPECTED_WIDTH - 1] + "…"
    if options:
        expected += f"  ({', '.join(o.replace('_', ' ') for o in options)})"
    shown = failed[:_SHOWN]
    if failed:
        found = "\n".join(f"✗ {r.label}: {r.note}" for r in shown)
        if len(failed) > len(shown):
            found += f"\n… and {len(failed) - len(shown)} more"
        where_from = [r for r in shown if r.span is not None]
        why = f"{len(failed)} of {len(results)} assertions failed"
        named = [parsed.labels[(r.key, r.index)] for r in failed if (r.key, r.index) in parsed.labels]
        if named:  # a label reads well in the one-line reason; a raw pattern would not
            why += ": " + ", ".join(named[:3]) + (", …" if len(named) > 3 else "")
    else:
        found = "the assertion held" if len(results) == 1 else f"all {len(results)} assertions held"
        where_from = [r for r in results if r.span is not None][:3]
        why = ""
    where = "\n".join(f"{r.label}: {snippet(text, *r.span)}" for r in where_from if r.span)
    if failed and not where:
        where = answer_head(text)
    details = {
        "held": len(results) - len(failed),
        "total": len(results),
        "failed": [
            {"assertion": r.key, "index": r.index, "label": r.label, "reason": r.note,
             "span": list(r.span) if r.span else None}
            for r in failed
        ],
    }
    return Verdict(
        passed=not failed,
        checker="text",
        expected=expected,
        found=found,
        where=where,
        why=why,
        details=details,
    )


def snippet(text: str, start: int, end: int, width: int = 60) -> str:
    """About ``width`` characters of ``text`` around ``text[start:end]``, the match in » «, on one line."""
    match = text[start:end]
    if len(match) > width:
        half = width // 2 - 1
        match = match[:half] + "…" + match[-half:]
    room = max(width - len(match), 16)
    lo, hi = start - room // 2, end + room - room // 2
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > len(text):
        lo, hi = max(0, lo - (hi - len(text))), len(text)
    out = (
        ("…" if lo > 0 else "")
        + text[lo:start]
        + "»"
        + match
        + "«"
        + text[end:hi]
        + ("…" if hi < len(text) else "")
    )
    return out.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")


def fold(text: str, *, case: bool, width: bool) -> str:
    """``text`` as the checker compares it: NFKC-folded and/or casefolded."""
    return _folded(text, case=case, width=width).text


# -- spec ---------------------------------------------------------------------


def parse(spec: Any) -> TextSpec:
    check_keys(spec, ASSERTIONS + OPTIONS, name="text",
               usage="text takes a mapping with at least one of " + ", ".join(ASSERTIONS))
    if not any(key in spec for key in ASSERTIONS):
        raise SpecError("text needs at least one of " + ", ".join(ASSERTIONS))
    flags = {}
    for key in OPTIONS:
        value = spec.get(key, True)
        if not isinstance(value, bool):
            raise SpecError(f"'{key}' must be true or false, not {value!r}", (key,))
        flags[key] = value
    labels: dict[tuple[str, int], str] = {}
    regex = _strings(spec, "regex", labels)
    not_regex = _strings(spec, "not_regex", labels)
    for key, patterns in (("regex", regex), ("not_regex", not_regex)):
        for index, pattern in enumerate(patterns):
            _compile(pattern, flags["ignore_case"], flags["ignore_width"], _value_path(spec, key, index))
    return TextSpec(
        contains=_strings(spec, "contains", labels),
        not_contains=_strings(spec, "not_contains", labels),
        regex=regex,
        not_regex=not_regex,
        mentions=_groups(spec, labels),
        **flags,
        labels=labels,
    )


def _value_path(spec: Mapping[str, Any], key: str, index: int) -> tuple[str | int, ...]:
    """Where the value of ``spec[key]``'s ``index``-th assertion is written."""
    value = spec[key]
    if not isinstance(value, list):
        return (key,)
    return (key, index, VALUE_KEYS[key]) if isinstance(value[index], Mapping) else (key, index)


def _unlabelled(key: str, item: Any, path: tuple[str | int, ...], labels: dict[tuple[str, int], str]) -> Any:
    """An assertion's value: the item itself, or the value of a ``{VALUE: ..., label: ...}`` mapping."""
    if not isinstance(item, Mapping):
        return item
    value_key = VALUE_KEYS[key]
    try:
        check_keys(item, (value_key, "label"), name=f"a labelled '{key}' assertion",
                   usage=f"a labelled '{key}' assertion is {{{value_key}: ..., label: ...}}")
    except SpecError as exc:
        raise exc.prefixed(*path) from None
    if value_key not in item:
        raise SpecError(f"a labelled '{key}' assertion needs '{value_key}' beside its label", path)
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise SpecError(f"'label' must be a non-empty string that says what the assertion checks, not {label!r}",
                        path + ("label",))
    assert isinstance(path[-1], int)
    labels[(key, path[-1])] = " ".join(label.split())
    return item[value_key]


def _strings(spec: Mapping[str, Any], key: str, labels: dict[tuple[str, int], str]) -> tuple[str, ...]:
    if key not in spec:
        return ()
    value = spec[key]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise SpecError(f"'{key}' takes a string or a list of strings, not {type(value).__name__}", (key,))
    if not items:
        raise SpecError(f"'{key}' is an empty list; it asserts nothing", (key,))
    strings = []
    for index, item in enumerate(items):
        path: tuple[str | int, ...] = (key, index) if isinstance(value, list) else (key,)
        if isinstance(value, list):
            item = _unlabelled(key, item, path, labels)
        path = _value_path(spec, key, index)
        if not isinstance(item, str):
            raise SpecError(f"'{key}' items must be strings, not {type(item).__name__} ({item!r})", path)
        if not item:
            raise SpecError(f"'{key}' has an empty string, which every answer contains", path)
        strings.append(item)
    return tuple(strings)


def _groups(spec: Mapping[str, Any], labels: dict[tuple[str, int], str]) -> tuple[tuple[str, ...], ...]:
    if "mentions" not in spec:
        return ()
    value = spec["mentions"]
    if not isinstance(value, list) or not value:
        raise SpecError(
            "'mentions' takes a non-empty list of groups; a group is a list of alternatives",
            ("mentions",),
        )
    groups = []
    for index, group in enumerate(value):
        group = _unlabelled("mentions", group, ("mentions", index), labels)
        where: tuple[str | int, ...] = _value_path(spec, "mentions", index)
        alternatives = [group] if isinstance(group, str) else group
        if not isinstance(alternatives, list) or not alternatives:
            raise SpecError("a 'mentions' group is a non-empty list of alternative strings", where)
        for alt_index, alt in enumerate(alternatives):
            path = (*where, alt_index) if isinstance(group, list) else where
            if not isinstance(alt, str) or not alt:
                raise SpecError(f"a 'mentions' alternative must be a non-empty string, not {alt!r}", path)
        groups.append(tuple(alternatives))
    return tuple(groups)


def _compile(
    pattern: str, ignore_case: bool, ignore_width: bool, path: tuple[str | int, ...]
) -> re.Pattern[str]:
    flags = re.IGNORECASE if ignore_case else 0
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        raise SpecError(f"invalid regular expression {pattern!r}: {exc}", path) from None
    if not ignore_width:
        return re.compile(pattern, flags)
    try:
        return re.compile(_fold_pattern(pattern), flags)
    except re.error as exc:
        raise SpecError(
            f"regular expression {pattern!r} breaks once full-width forms are folded: {exc}", path
        ) from None


def _fold_pattern(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            folded = unicodedata.normalize("NFKC", escaped)
            out.append(re.escape(folded) if folded != escaped else char + escaped)
            i += 2
            continue
        folded = unicodedata.normalize("NFKC", char)
        out.append(re.escape(folded) if folded != char else char)
        i += 1
    return "".join(out)


# -- matching -----------------------------------------------------------------


def _folded(text: str, *, case: bool, width: bool) -> View:
    """A folded copy of ``text`` that maps its positions back to ``text``."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for start, end in _clusters(text):
        piece = _fold_piece(text[start:end], case=case, width=width)
        chars.append(piece)
        starts.extend([start] * len(piece))
        ends.extend([end] * len(piece))
    return View("".join(chars), tuple(starts), tuple(ends), len(text))


def _fold_piece(piece: str, *, case: bool, width: bool) -> str:
    if width:
        piece = unicodedata.normalize("NFKC", piece)
    if case:
        piece = piece.casefold()
        if width:
            piece = unicodedata.normalize("NFKC", piece)
    return piece


def _clusters(text: str) -> list[tuple[int, int]]:
    # Combining marks stay with their base so NFKC can compose them.
    bounds = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not unicodedata.combining(text[index]):
            bounds.append((start, index))
            start = index
    return bounds


def _run(spec: TextSpec, text: str) -> list[_Result]:
    # The normalized view first, then the text as written: markup never hides a
    # fact, and an assertion written against the markup still sees it.
    seen = view(text, width=spec.ignore_width)
    readings = [(seen.original, seen.text), (_identity, text)]
    plain = [(back, _folded(t, case=spec.ignore_case, width=spec.ignore_width)) for back, t in readings]
    for_regex = [(back, _folded(t, case=False, width=spec.ignore_width)) for back, t in readings]

    def find(needle: str) -> tuple[int, int] | None:
        folded = _fold_piece(needle, case=spec.ignore_case, width=spec.ignore_width)
        for back, reading in plain:
            at = reading.text.find(folded)
            if at >= 0:
                return back(*reading.original(at, at + len(folded)))
        return None

    def search(pattern: str) -> tuple[int, int] | None:
        compiled = _compile(pattern, spec.ignore_case, spec.ignore_width, ())
        for back, reading in for_regex:
            match = compiled.search(reading.text)
            if match is not None:
                return back(*reading.original(*match.span()))
        return None

    results = []
    for index, needle in enumerate(spec.contains):
        span = find(needle)
        results.append(_Result("contains", _label(spec, "contains", index), span is not None, span,
                               "found" if span else "not in the answer", index))
    for index, needle in enumerate(spec.not_contains):
        span = find(needle)
        results.append(_Result("not_contains", _label(spec, "not_contains", index), span is None, span,
                               "present in the answer" if span else "absent", index))
    for index, pattern in enumerate(spec.regex):
        span = search(pattern)
        results.append(_Result("regex", _label(spec, "regex", index), span is not None, span,
                               "matched" if span else "no match in the answer", index))
    for index, pattern in enumerate(spec.not_regex):
        span = search(pattern)
        results.append(_Result("not_regex", _label(spec, "not_regex", index), span is None, span,
                               "matched the answer" if span else "no match", index))
    for index, group in enumerate(spec.mentions):
        hits = [(span, alt) for alt in group if (span := find(alt)) is not None]
        label = _label(spec, "mentions", index)
        if hits:
            span, alt = min(hits)
            results.append(_Result("mentions", label, True, span, f"mentions {alt!r}", index))
        else:
            note = "none of its alternatives appears" if len(group) > 1 else "not in the answer"
            results.append(_Result("mentions", label, False, None, note, index))
    return results


def _identity(start: int, end: int) -> tuple[int, int]:
    return start, end


def _label(spec: TextSpec, key: str, index: int) -> str:
    """How a verdict names one assertion: the spec's label, else the assertion as written."""
    human = spec.labels.get((key, index))
    if key == "mentions":
        group = " | ".join(spec.mentions[index])
        return f"{human} (mentions [{group}])" if human else f"mentions group {index + 1} [{group}]"
    if human:
        return human
    value = getattr(spec, key)[index]
    return f"{key} /{value}/" if key in ("regex", "not_regex") else f"{key} {value!r}"


def _shown(spec: TextSpec, key: str, index: int) -> str:
    """An unlabelled assertion's needle, pattern or group, as ``expected`` lists it."""
    value = getattr(spec, key)[index]
    if key == "mentions":
        return f"[{' | '.join(value)}]"
    return f"/{value}/" if key in ("regex", "not_regex") else repr(value)


def _expected(spec: TextSpec) -> str:
    """Every assertion: a labelled one by its label alone, the others by key and needle or pattern."""
    parts = []
    for key in ASSERTIONS:
        indexes = range(len(getattr(spec, key)))
        plain = [_shown(spec, key, index) for index in indexes if (key, index) not in spec.labels]
        if plain:
            parts.append(f"{key} " + ", ".join(plain))
        parts.extend(spec.labels[(key, index)] for index in indexes if (key, index) in spec.labels)
    return "; ".join(parts)


CHECKER = Checker(name="text", parse=parse, judge=judge)
