"""HTML checker: parses the answer's page as HTML5 and asserts CSS selectors.

Which HTML is judged: a ```html (``htm``, ``xhtml``) fenced block, else any
fenced block that starts with a tag, else the answer's text from its first
``<!DOCTYPE``/``<html`` (or, without one, its first tag) to its last ``>``.
Among several candidate blocks a full document wins, then the longest.

The page is parsed the way a browser does (html5lib, the HTML5 algorithm:
implied ``<tbody>``, auto-closed ``<p>`` and ``<li>``, misnested tags
repaired), so a page always "parses"; the assertions are the check.

Spec keys: ``assert``, a list of assertions, and ``document: true`` (the
source has a ``<!DOCTYPE html>`` or an ``<html>`` tag). An assertion:

``selector`` (required)
    a CSS selector (soupsieve: CSS level 4, selector lists with commas, ``:not()``,
    ``:has()``, attribute operators ``[href*=x]``).
``text`` / ``text_contains`` / ``text_regex`` / ``attr_regex: {name: regex}``
    filters: only the matched elements whose whitespace-normalised text equals,
    contains or matches (``re.search``), and whose attributes match, are kept.
``count``: ``N`` or ``{min: N, max: M}``; ``exists``: ``true`` or ``false``
    how many elements must be kept (default: at least one).
``texts``: ``[a, b, ...]``
    each of these is the text of one of the matched elements.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.blocks import FencedBlock, fenced_blocks
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.clipping import answer_head, clip_line
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "html"
KEYS = ("assert", "document")
ASSERTION_KEYS = ("selector", "text", "text_contains", "text_regex", "attr_regex", "texts", "count", "exists")
TEXT_FILTERS = ("text", "text_contains", "text_regex")
HTML_TAGS = frozenset({"html", "htm", "xhtml"})

#: failed assertions spelled out, and elements located, so a verdict fits a screen
SHOWN_FAILURES = 8
LOCATED_FAILURES = 3
SHOWN_TEXTS = 6
ELEMENT_WIDTH = 120
EXPECTED_WIDTH = 400

_STARTS_WITH_TAG = re.compile(r"\s*<(?:!doctype\b|[a-z][a-z0-9-]*[\s/>])", re.I)
_DOCUMENT_START = re.compile(r"<!doctype\s+html\b|<html[\s>]", re.I)
_FIRST_TAG = re.compile(r"<[a-z][a-z0-9-]*(?:\s[^<>]*)?/?>", re.I)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)


# -- spec ---------------------------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    """One selector assertion; ``index`` is its place in the spec's ``assert`` list."""

    index: int
    selector: str
    text: str | None = None
    text_contains: str | None = None
    text_regex: str | None = None
    attr_regex: tuple[tuple[str, str], ...] = ()
    texts: tuple[str, ...] = ()
    count_min: int | None = None
    count_max: int | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.text is not None or self.text_contains is not None
                    or self.text_regex is not None or self.attr_regex)

    def label(self) -> str:
        parts = [self.selector]
        if self.text is not None:
            parts.append(f"text = {self.text!r}")
        if self.text_contains is not None:
            parts.append(f"text contains {self.text_contains!r}")
        if self.text_regex is not None:
            parts.append(f"text ~ /{self.text_regex}/")
        parts.extend(f"@{name} ~ /{pattern}/" for name, pattern in self.attr_regex)
        if self.texts:
            parts.append("texts include " + ", ".join(self.texts))
        return f"assert[{self.index}] " + " ".join(parts)

    def wanted(self) -> str:
        low, high = self.count_min, self.count_max
        if low is not None and low == high:
            return "none" if low == 0 else f"exactly {low}"
        if high is not None and low:
            return f"{low} to {high}"
        if high is not None:
            return f"at most {high}"
        return f"at least {low}" if low and low > 1 else "at least one"


@dataclass(frozen=True)
class _Spec:
    assertions: tuple[Assertion, ...]
    document: bool


def parse(spec: Any) -> _Spec:
    check_keys(spec, KEYS, name="html",
               usage="html takes a mapping with 'assert' (a list of assertions) and/or 'document'")
    if not any(key in spec for key in KEYS):
        raise SpecError("html needs 'assert' (a list of selector assertions) or 'document: true'")
    document = spec.get("document", False)
    if not isinstance(document, bool):
        raise SpecError(f"'document' must be true or false, not {document!r}", ("document",))
    items = spec.get("assert", [])
    if not isinstance(items, list) or ("assert" in spec and not items):
        raise SpecError("'assert' takes a non-empty list of assertions, each a mapping with a 'selector'",
                        ("assert",))
    assertions = []
    for index, item in enumerate(items):
        try:
            assertions.append(_assertion(index, item))
        except SpecError as exc:
            raise exc.prefixed("assert", index) from None
    return _Spec(tuple(assertions), document)


def _assertion(index: int, item: Any) -> Assertion:
    import soupsieve

    if isinstance(item, str):
        item = {"selector": item}
    check_keys(item, ASSERTION_KEYS, name="an assertion",
               usage=f"an assertion is a mapping with a 'selector' (or a bare selector), not {item!r}")
    selector = item.get("selector")
    if not isinstance(selector, str) or not selector.strip():
        raise SpecError("'selector' (a CSS selector) is required", ("selector",))
    try:
        soupsieve.compile(selector)
    except soupsieve.SelectorSyntaxError as exc:
        first_line = str(exc).splitlines()[0]
        raise SpecError(f"invalid CSS selector {selector!r}: {first_line}", ("selector",)) from None
    strings: dict[str, str | None] = {}
    for key in TEXT_FILTERS:
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise SpecError(f"'{key}' must be a string, not {value!r}", (key,))
        strings[key] = value
    if strings["text_regex"] is not None:
        _compile(strings["text_regex"], ("text_regex",))
    attrs = item.get("attr_regex", {})
    if not isinstance(attrs, Mapping) or ("attr_regex" in item and not attrs):
        raise SpecError("'attr_regex' takes a non-empty mapping {attribute: regex}", ("attr_regex",))
    for name, pattern in attrs.items():
        if not isinstance(name, str) or not isinstance(pattern, str):
            raise SpecError(f"'attr_regex' maps attribute names to regex strings; got {name!r}: {pattern!r}",
                            ("attr_regex", name))
        _compile(pattern, ("attr_regex", name))
    texts = item.get("texts", [])
    if "texts" in item and (not isinstance(texts, list) or not texts
                            or not all(isinstance(t, str) and t.strip() for t in texts)):
        raise SpecError("'texts' takes a non-empty list of non-empty strings", ("texts",))
    if texts and any(strings[key] is not None for key in TEXT_FILTERS):
        raise SpecError("'texts' cannot be combined with text, text_contains or text_regex; "
                        "use two assertions", ("texts",))
    low, high = _count(item)
    if texts and high == 0:
        raise SpecError("'texts' asks for elements that 'exists: false' / 'count: 0' forbids", ("texts",))
    return Assertion(
        index=index,
        selector=selector,
        attr_regex=tuple((str(k), str(v)) for k, v in attrs.items()),
        texts=tuple(_normalise(t) for t in texts),
        count_min=low,
        count_max=high,
        **strings,
    )


def _count(item: Mapping[str, Any]) -> tuple[int | None, int | None]:
    if "exists" in item and "count" in item:
        raise SpecError("give either 'exists' or 'count', not both", ("count",))
    if "exists" in item:
        if not isinstance(item["exists"], bool):
            raise SpecError(f"'exists' must be true or false, not {item['exists']!r}", ("exists",))
        return (1, None) if item["exists"] else (0, 0)
    if "count" not in item:
        return (None, None) if item.get("texts") else (1, None)
    count = item["count"]
    if _is_count(count):
        return count, count
    if not isinstance(count, Mapping) or not count or set(count) - {"min", "max"}:
        raise SpecError(f"'count' takes a whole number or {{min: N, max: M}}, not {count!r}", ("count",))
    for key, value in count.items():
        if not _is_count(value):
            raise SpecError(f"'count.{key}' must be a whole number >= 0, not {value!r}", ("count", key))
    low, high = count.get("min"), count.get("max")
    if low is not None and high is not None and low > high:
        raise SpecError(f"'count' min {low} is above max {high}", ("count",))
    return low, high


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _compile(pattern: str, path: tuple[str | int, ...]) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SpecError(f"invalid regular expression {pattern!r}: {exc}", path) from None


# -- finding the HTML ---------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    """The HTML judged, its offset in the answer, and where it came from."""

    source: str
    offset: int
    origin: str


def extract_html(text: str) -> Extracted | None:
    """The answer's HTML (see the module docstring for the choice), or None."""
    blocks = fenced_blocks(text)
    tagged = [b for b in blocks if b.tag in HTML_TAGS]
    chosen = tagged or [b for b in blocks if _STARTS_WITH_TAG.match(text, b.start, b.end)]
    if chosen:
        def rank(block: FencedBlock) -> tuple[bool, int]:
            return bool(_DOCUMENT_START.search(text, block.start, block.end)), block.end - block.start

        best = max(chosen, key=rank)
        label = f"```{best.tag} block" if best.tag else "untagged fenced block"
        if len(chosen) > 1:
            label += f" {chosen.index(best) + 1} of {len(chosen)}"
        return Extracted(text[best.start:best.end], best.start, f"{label} (answer line {best.line})")
    match = _DOCUMENT_START.search(text) or _FIRST_TAG.search(text)
    if match is None:
        return None
    end = text.rfind(">") + 1
    line = text.count("\n", 0, match.start()) + 1
    return Extracted(text[match.start():end], match.start(), f"the answer's text from line {line} (no fenced block)")


def parse_html(source: str) -> Any:
    """The page as a BeautifulSoup tree, built by the HTML5 parsing algorithm (html5lib)."""
    from bs4 import BeautifulSoup

    with warnings.catch_warnings():
        # bs4 warns when markup looks like a file name or URL; an answer is markup either way.
        warnings.simplefilter("ignore")
        return BeautifulSoup(source, "html5lib")


# -- judging ------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    label: str
    note: str
    index: int | None
    element: Any = None


def judge(parsed: _Spec, text: str) -> Verdict:
    """Parse the answer's HTML and judge every assertion in ``spec``; all must hold."""
    import soupsieve

    expected = _expected(parsed)
    extracted = extract_html(text)
    if extracted is None:
        where = answer_head(text)
        return Verdict(
            passed=False, checker=NAME, expected=expected, found="no HTML in the answer", where=where,
            why="found no fenced HTML block and no tag in the text", details={"failed": []},
        )
    soup = parse_html(extracted.source)
    failures = []
    if parsed.document and not _DOCUMENT_START.search(_COMMENT.sub("", extracted.source)):
        failures.append(_Failure("document", "no <!DOCTYPE html> and no <html> tag in the source", None))
    for assertion in parsed.assertions:
        selected = soupsieve.compile(assertion.selector).select(soup)
        failure = _judge(assertion, selected)
        if failure is not None:
            failures.append(failure)
    total = len(parsed.assertions) + parsed.document
    details = {
        "held": total - len(failures),
        "total": total,
        "origin": extracted.origin,
        "failed": [{"index": f.index, "label": f.label, "reason": f.note} for f in failures],
    }
    where_lines = [extracted.origin]
    for failure in failures[:LOCATED_FAILURES]:
        if failure.element is not None:
            name = failure.label.split(" ", 1)[0]
            where_lines.append(f"{name}: {_where_element(text, extracted, failure.element)}")
    if not failures:
        found = f"all {total} assertions held" if total > 1 else "the assertion held"
        return Verdict(
            passed=True, checker=NAME, expected=expected, found=found, where=extracted.origin, details=details,
        )
    shown = [f"✗ {f.label}: {f.note}" for f in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        shown.append(f"… and {len(failures) - SHOWN_FAILURES} more")
    return Verdict(
        passed=False,
        checker=NAME,
        expected=expected,
        found="\n".join(shown),
        where="\n".join(where_lines),
        why=f"{len(failures)} of {total} assertions failed",
        details=details,
    )


def _judge(assertion: Assertion, selected: list[Any]) -> _Failure | None:
    kept = [el for el in selected if _passes_filters(assertion, el)]

    def failure(note: str, element: Any) -> _Failure:
        return _Failure(assertion.label(), note, assertion.index, element)

    if assertion.texts:
        have = {element_text(el) for el in kept}
        missing = [t for t in assertion.texts if t not in have]
        if missing:
            return failure(f"missing {', '.join(map(repr, missing))}; {_texts_found(kept)}",
                           kept[0] if kept else None)
    low, high = assertion.count_min, assertion.count_max
    n = len(kept)
    if (low is None or n >= low) and (high is None or n <= high):
        return None
    if high == 0:
        return failure(f"expected none; found {n}: {_outer(kept[0])}", kept[0])
    wanted = f"expected {assertion.wanted()}"
    if not assertion.filtered:
        return failure(f"{wanted}; found {n if n else 'none'}", kept[0] if kept else None)
    if not selected:
        return failure(f"{wanted}; no element matches the selector", None)
    if not kept:
        matched = "1 element matches" if len(selected) == 1 else f"{len(selected)} elements match"
        note = f"{wanted}; {matched} the selector but none passes the filters"
        if any(k is not None for k in (assertion.text, assertion.text_contains, assertion.text_regex)):
            return failure(f"{note}; {_texts_found(selected)}", selected[0])
        return failure(f"{note}; first: {_outer(selected[0])}", selected[0])
    return failure(f"{wanted}; found {n} (of {len(selected)} matching the selector)", kept[0])


def _passes_filters(assertion: Assertion, element: Any) -> bool:
    if assertion.filtered:
        content = element_text(element)
        if assertion.text is not None and content != _normalise(assertion.text):
            return False
        if assertion.text_contains is not None and _normalise(assertion.text_contains) not in content:
            return False
        if assertion.text_regex is not None and not re.search(assertion.text_regex, content):
            return False
        for name, pattern in assertion.attr_regex:
            value = element.get(name)
            if value is None:
                return False
            if isinstance(value, list):
                value = " ".join(value)
            if not re.search(pattern, value):
                return False
    return True


def element_text(element: Any) -> str:
    """An element's text as assertions compare it: all its text, whitespace collapsed."""
    return _normalise(element.get_text())


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _texts_found(elements: list[Any]) -> str:
    if not elements:
        return "no element matches the selector"
    texts = [repr(clip_line(element_text(el), 40)) for el in elements[:SHOWN_TEXTS]]
    more = f", … ({len(elements)} in all)" if len(elements) > SHOWN_TEXTS else ""
    return "texts found: " + ", ".join(texts) + more


def _outer(element: Any) -> str:
    return clip_line(" ".join(str(element).split()), ELEMENT_WIDTH)


def _where_element(text: str, extracted: Extracted, element: Any) -> str:
    line, column = getattr(element, "sourceline", None), getattr(element, "sourcepos", None)
    if line is None or column is None:
        return _outer(element)
    source = extracted.source
    line_start = 0
    for _ in range(line - 1):
        line_start = source.find("\n", line_start) + 1
    # html5lib reports where the start tag ends; the tag begins at the last '<' before it.
    tag_end = min(line_start + column, len(source) - 1)
    tag_start = max(source.rfind("<", 0, tag_end + 1), 0)
    start, end = extracted.offset + tag_start, extracted.offset + tag_end + 1
    return f"line {text.count(chr(10), 0, start) + 1}: {snippet(text, start, end)}"


# -- explaining ---------------------------------------------------------------


def _expected(spec: _Spec) -> str:
    parts = ["a full HTML document"] if spec.document else []
    for assertion in spec.assertions:
        label = assertion.label().split(" ", 1)[1]
        default = (None, None) if assertion.texts else (1, None)
        if (assertion.count_min, assertion.count_max) != default:
            label += f" ({assertion.wanted()})"
        parts.append(label)
    return clip_line("; ".join(parts), EXPECTED_WIDTH)


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
