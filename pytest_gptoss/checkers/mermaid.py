"""The ``mermaid`` checker: parse the flowchart in the answer and assert its structure.

Which diagram is judged: the first fenced block tagged ``mermaid`` that is a
flowchart; failing that the first ``mermaid`` block (which then fails as not a
flowchart); then the first fenced block of any tag whose first line is a
flowchart header (``flowchart``/``graph``, maybe a direction); then an
unfenced block from such a line to the first blank line.

A diagram that does not parse fails with the parser's message, its line and
column (counted inside the diagram) and the answer around it. A diagram of
another kind (``sequenceDiagram``, ...) fails as not a flowchart.

Spec keys (all optional; ``{}`` asserts only that a flowchart parses):

``kind``
    ``flowchart`` (the default; ``graph`` is the same diagram).
``direction``
    ``TB``/``TD``, ``BT``, ``LR`` or ``RL``, or a list of accepted ones.
    ``TD`` and ``TB`` are the same; ``graph`` with no direction is ``TB``.
``nodes``
    A list of label matchers, each of which some node must match; or a mapping
    from a name to a matcher, which also names the node for the keys below.
``decisions``
    Matchers (or names) of nodes that must be decisions: rhombus ``{...}``,
    or ``@{shape: diamond}`` and its aliases ``diam``, ``decision``, ``question``.
``edges``
    A list of ``{from: M, to: M, label: L}``: an edge from a node matching
    ``from`` to one matching ``to``; with ``label``, the edge's text must match
    ``L``. Edges point the way they are written; ``<-->`` points both ways.
``cycles``
    A list of loops. Each is a list of matchers (or names), or
    ``{through: [...], avoiding: [...]}``: some closed path of edges passes
    every ``through`` node and none of the ``avoiding`` ones. An inner loop
    is ``{through: [inner test], avoiding: [outer test]}``: without its own
    back edge it only closes through the outer loop.
``end``
    ``true``: some node that an edge leads to has no outgoing edge, or is
    labelled end/stop/结束/终止. A matcher: such a node with no outgoing edge
    matches it.
``parser``
    ``auto`` (default), ``mermaid`` or ``builtin``; see below.

Label matching. A node label is read as shown: mermaid entity codes (``#lt;``,
``#60;``) and HTML entities (``&lt;``) decoded, ``<br>`` read as a space,
simple formatting tags (``<b>``, ``<i>``, ...) dropped, NFKC-folded (so
``＜`` is ``<``), with ``≤ ≥ ≠ −`` read as ``<= >= != -``. A string matches a
node label that contains it, ignoring case and all whitespace, but not inside
a longer ASCII word or number (``i<n-1`` matches ``判断 i < n - 1 ?`` and not
``i < n - 10``; ``swap`` does not match ``swapped``). ``{regex: P}`` searches the label, its
whitespace collapsed to single spaces, ignoring case. A list matches when any
item does. A string that names an entry of ``nodes`` refers to it. Edge labels
are short words, so a string must equal the whole edge label (ignoring case,
whitespace and surrounding punctuation): ``是`` matches ``是`` but not ``不是``.

Parsers. ``auto`` uses mermaid's own flowchart parser when node and the npm
package ``mermaid`` (11.x) are installed, and the built-in parser otherwise;
``mermaid`` requires the real one (its absence is an error, not a failure);
``builtin`` always uses the built-in one. The environment variable
``GPTOSS_MERMAID_PARSER`` sets the default for specs that do not say.
mermaid is looked for in ``$GPTOSS_MERMAID_DIR/node_modules``, by default
``~/.cache/pytest-gptoss/mermaid`` (``$XDG_CACHE_HOME`` is honoured); install
it there with::

    npm install --prefix ~/.cache/pytest-gptoss/mermaid mermaid@11

mermaid's parser runs under node without a browser: its HTML sanitiser, which
needs a DOM and only shapes rendered labels, is replaced by the identity, so
labels are read as written. If node fails or times out under ``auto``, the
built-in parser judges and the verdict says so. The verdict always names the
parser that judged.

The built-in parser is a port of mermaid 11's flowchart lexer (its rules,
states and order) with a recursive-descent parser for its grammar, so it
rejects what mermaid rejects: unquoted ``( ) [ ] { } |`` inside a label
(``A[len(arr)]`` needs ``A["len(arr)"]``), a node named ``end``, a comment
after a statement, lower-case directions. It does not check ``@{shape: ...}``
names against mermaid's list, and treats ``click`` lines loosely.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "mermaid"
KEYS = ("kind", "direction", "nodes", "decisions", "edges", "cycles", "end", "parser")
KINDS = ("flowchart", "graph")
DIRECTIONS = ("TB", "TD", "BT", "LR", "RL")
PARSERS = ("auto", "mermaid", "builtin")
PARSER_ENV = "GPTOSS_MERMAID_PARSER"
DIR_ENV = "GPTOSS_MERMAID_DIR"
INSTALL_COMMAND = "npm install --prefix ~/.cache/pytest-gptoss/mermaid mermaid@11"
NODE_TIMEOUT = 60.0
DECISION_SHAPES = frozenset({"diamond", "diam", "decision", "question"})

#: at most this many failed assertions and nodes are spelled out, so a verdict fits a screen
_SHOWN = 8
_SHOWN_NODES = 16
_LABEL_WIDTH = 40


# -- the diagram as the checks see it ---------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: str | None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    arrow: str


@dataclass(frozen=True)
class Flowchart:
    """A parsed flowchart: nodes by id (in order of appearance) and edges (in order)."""

    direction: str
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    subgraphs: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


class MermaidSyntaxError(Exception):
    """The diagram does not parse; ``line`` and ``column`` are 1-based inside the diagram."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 expected: tuple[str, ...] = (), got: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.expected = expected
        self.got = got


# -- spec ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alternative:
    regex: re.Pattern[str] | None
    text: str


@dataclass(frozen=True)
class _Matcher:
    alternatives: tuple[_Alternative, ...]
    shown: str
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.shown})" if self.name else self.shown


@dataclass(frozen=True)
class _EdgeSpec:
    source: _Matcher
    target: _Matcher
    label: _Matcher | None


@dataclass(frozen=True)
class _CycleSpec:
    through: tuple[_Matcher, ...]
    avoiding: tuple[_Matcher, ...]


@dataclass(frozen=True)
class _Spec:
    direction: tuple[str, ...]
    nodes: tuple[_Matcher, ...]
    decisions: tuple[_Matcher, ...]
    edges: tuple[_EdgeSpec, ...]
    cycles: tuple[_CycleSpec, ...]
    end: bool | _Matcher
    parser: str | None


def parse(spec: Any) -> _Spec:
    if spec is None:
        spec = {}
    check_keys(spec, KEYS, name="mermaid", usage=f"mermaid takes a mapping (keys: {', '.join(KEYS)})")
    kind = spec.get("kind", "flowchart")
    if kind not in KINDS:
        raise SpecError(f"'kind' must be flowchart (or graph, the same diagram), not {kind!r}", ("kind",))
    direction = _directions(spec.get("direction"))
    names: dict[str, _Matcher] = {}
    nodes: list[_Matcher] = []
    raw_nodes = spec.get("nodes")
    if isinstance(raw_nodes, Mapping):
        if not raw_nodes:
            raise SpecError("'nodes' is empty; it asserts nothing", ("nodes",))
        for name, value in raw_nodes.items():
            if not isinstance(name, str) or not name:
                raise SpecError(f"a node name must be a non-empty string, not {name!r}", ("nodes",))
            matcher = _matcher(value, ("nodes", name), name=name)
            names[name] = matcher
            nodes.append(matcher)
    elif raw_nodes is not None:
        for index, value in enumerate(_items(spec, "nodes")):
            nodes.append(_matcher(value, ("nodes", index)))

    def ref(value: Any, path: tuple[str | int, ...]) -> _Matcher:
        if isinstance(value, str) and value in names:
            return names[value]
        return _matcher(value, path)

    decisions = tuple(ref(v, ("decisions", i)) for i, v in enumerate(_items(spec, "decisions")))
    edges = []
    for index, value in enumerate(_items(spec, "edges")):
        path = ("edges", index)
        if not isinstance(value, Mapping) or not {"from", "to"} <= set(value):
            raise SpecError("an edge is a mapping with 'from', 'to' and optionally 'label'", path)
        for key in value:
            if key not in ("from", "to", "label"):
                raise SpecError(f"unknown edge key {key!r}; an edge takes from, to, label", (*path, key))
        label = _matcher(value["label"], (*path, "label"), whole=True) if "label" in value else None
        edges.append(_EdgeSpec(ref(value["from"], (*path, "from")), ref(value["to"], (*path, "to")), label))
    cycles = []
    for index, value in enumerate(_items(spec, "cycles")):
        path = ("cycles", index)
        if isinstance(value, Mapping):
            for key in value:
                if key not in ("through", "avoiding"):
                    raise SpecError(f"unknown cycle key {key!r}; a cycle takes through, avoiding", (*path, key))
            if "through" not in value:
                raise SpecError("a cycle needs 'through': the nodes the loop passes", path)
            through, avoiding = value["through"], value.get("avoiding", [])
        else:
            through, avoiding = value, []
        through_list = through if isinstance(through, list) else [through]
        avoiding_list = avoiding if isinstance(avoiding, list) else [avoiding]
        if not through_list:
            raise SpecError("a cycle must pass at least one node", path)
        cycles.append(_CycleSpec(
            tuple(ref(v, (*path, "through", i)) for i, v in enumerate(through_list)),
            tuple(ref(v, (*path, "avoiding", i)) for i, v in enumerate(avoiding_list)),
        ))
    end: bool | _Matcher = False
    if "end" in spec:
        if spec["end"] is True:
            end = True
        elif spec["end"] is False:
            raise SpecError("'end' takes true or a label matcher; leave it out to assert nothing", ("end",))
        else:
            end = ref(spec["end"], ("end",))
    parser = spec.get("parser")
    if parser is not None and parser not in PARSERS:
        raise SpecError(f"'parser' must be one of {', '.join(PARSERS)}, not {parser!r}", ("parser",))
    return _Spec(direction, tuple(nodes), decisions, tuple(edges), tuple(cycles), end, parser)


def _items(spec: Mapping[str, Any], key: str) -> list[Any]:
    if key not in spec:
        return []
    value = spec[key]
    if not isinstance(value, list) or not value:
        raise SpecError(f"'{key}' takes a non-empty list", (key,))
    return value


def _directions(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpecError("'direction' is an empty list; it accepts nothing", ("direction",))
    out = []
    for item in items:
        if not isinstance(item, str) or item.upper() not in DIRECTIONS:
            raise SpecError(f"'direction' takes {', '.join(DIRECTIONS)} or a list of them, not {item!r}",
                            ("direction",))
        out.append("TB" if item.upper() == "TD" else item.upper())
    return tuple(out)


def _matcher(value: Any, path: tuple[str | int, ...], *, name: str = "", whole: bool = False) -> _Matcher:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpecError("an empty list of alternatives matches nothing", path)
    alternatives = []
    shown = []
    for index, item in enumerate(items):
        where = (*path, index) if isinstance(value, list) else path
        if isinstance(item, str):
            if not _key(item, whole=whole):
                raise SpecError(f"{item!r} is empty once whitespace is ignored; it would match every label",
                                where)
            alternatives.append(_Alternative(None, item))
            shown.append(repr(item))
        elif isinstance(item, Mapping) and set(item) == {"regex"} and isinstance(item["regex"], str):
            try:
                compiled = re.compile(item["regex"], re.IGNORECASE)
            except re.error as exc:
                raise SpecError(f"invalid regular expression {item['regex']!r}: {exc}", (*where, "regex")) from None
            alternatives.append(_Alternative(compiled, item["regex"]))
            shown.append(f"/{item['regex']}/")
        else:
            raise SpecError(
                f"a label matcher is a string, {{regex: PATTERN}} or a list of them, not {item!r}", where
            )
    return _Matcher(tuple(alternatives), " | ".join(shown), name)


# -- labels -------------------------------------------------------------------------

_PLACEHOLDER_NUMBER = re.compile("\ufb02\u00b0\u00b0(\\d+)\u00b6\u00df")
_PLACEHOLDER_NAME = re.compile("\ufb02\u00b0(\\w+)\u00b6\u00df")
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


def plain_label(label: str) -> str:
    """A label as a reader sees it: entities decoded, tags dropped, NFKC-folded, spaces collapsed."""
    text = _PLACEHOLDER_NUMBER.sub(r"#\1;", label)
    text = _PLACEHOLDER_NAME.sub(r"#\1;", text)
    text = _ENTITY_CODE.sub(lambda m: html.unescape(f"&#{m[1]};" if m[1].isdigit() else f"&{m[1]};"), text)
    text = html.unescape(text)
    text = _BREAK.sub(" ", text)
    text = _FORMAT_TAG.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_READ_AS)
    return _SPACES.sub(" ", text).strip()


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", plain_label(text).casefold())


def _key(text: str, *, whole: bool = False) -> str:
    folded = _folded(text)
    if whole:
        folded = folded.strip(_EDGE_PUNCTUATION)
    return _SPACES.sub("", folded)


def _ascii_word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _contains(needle: str, label: str) -> bool:
    """``needle`` occurs in ``label`` ignoring case and whitespace, and not inside a longer ASCII word."""
    wanted = _key(needle)
    folded = _folded(label)
    kept = [index for index, char in enumerate(folded) if not char.isspace()]
    key = "".join(folded[index] for index in kept)
    start = key.find(wanted)
    while start >= 0:
        first, last = kept[start], kept[start + len(wanted) - 1]
        before = folded[first - 1] if first else " "
        after = folded[last + 1] if last + 1 < len(folded) else " "
        glued_before = _ascii_word(wanted[0]) and _ascii_word(before)
        glued_after = _ascii_word(wanted[-1]) and _ascii_word(after)
        if not glued_before and not glued_after:
            return True
        start = key.find(wanted, start + 1)
    return False


def _matches(matcher: _Matcher, label: str, *, whole: bool = False) -> bool:
    for alternative in matcher.alternatives:
        if alternative.regex is not None:
            if alternative.regex.search(plain_label(label)):
                return True
        elif whole:
            if _key(alternative.text, whole=True) == _key(label, whole=True):
                return True
        elif _contains(alternative.text, label):
            return True
    return False


# -- finding the diagram in the answer ----------------------------------------------

_HEADER = re.compile(r"^\s*(?:flowchart|graph)\b")
#: outside a ```mermaid block only a line that is nothing but a header starts a diagram
_HEADER_LINE = re.compile(r"^\s*(?:flowchart|graph)(?:[ \t]+(?:TB|TD|BT|LR|RL))?[ \t]*;?[ \t]*(?:\n|$)")
_KIND_WORD = re.compile(r"^\s*([A-Za-z][\w-]*)")
_OTHER_KINDS = (
    "sequenceDiagram", "classDiagram", "stateDiagram", "erDiagram", "gantt", "pie", "journey",
    "gitGraph", "mindmap", "timeline", "quadrantChart", "requirementDiagram", "xychart",
    "sankey", "block", "packet", "architecture", "kanban", "radar", "treemap", "C4Context",
    "C4Container", "C4Component", "C4Dynamic", "C4Deployment", "info", "zenuml",
)


@dataclass(frozen=True)
class _Block:
    """A candidate diagram: its lines, and where each line starts in the answer."""

    source: str
    starts: tuple[int, ...]
    how: str

    @property
    def span(self) -> tuple[int, int]:
        return self.starts[0], self.starts[-1] + len(self.source.split("\n")[-1])


def find_diagram(text: str) -> _Block | None:
    """The diagram the checker judges (see the module docstring), or None."""
    blocks = list(_fenced_blocks(text))
    tagged = [block for info, block in blocks if info == "mermaid"]
    flowcharts = [block for block in tagged if _HEADER.match(_strip_preamble(block.source))]
    if flowcharts or tagged:
        return (flowcharts or tagged)[0]
    for _, block in blocks:
        if _HEADER_LINE.match(_strip_preamble(block.source)):
            return block
    return _unfenced_block(text, blocks)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _fenced_blocks(text: str) -> Iterator[tuple[str, _Block]]:
    from pytest_gptoss.checkers.blocks import fenced_blocks

    for fenced in fenced_blocks(text):
        raw = text[fenced.start:fenced.end].split("\n")
        body = fenced.body.split("\n")
        if len(body) > 1 and not body[-1] and not raw[-1].strip():
            raw, body = raw[:-1], body[:-1]
        if not "".join(body).strip():
            continue
        starts, offset = [], fenced.start
        for raw_line, line in zip(raw, body, strict=True):
            # a dedented body loses the same prefix from each line; keep columns pointing at the answer
            starts.append(offset + len(raw_line) - len(line))
            offset += len(raw_line) + 1
        how = f"```{fenced.tag} block" if fenced.tag else "fenced block"
        yield fenced.tag, _Block("\n".join(line.rstrip("\r") for line in body), tuple(starts), how)


def _unfenced_block(text: str, blocks: list[tuple[str, _Block]]) -> _Block | None:
    fenced = [(b.starts[0], b.span[1]) for _, b in blocks]
    body: list[tuple[int, str]] = []
    for offset, line in _lines(text):
        if any(lo <= offset <= hi for lo, hi in fenced) or re.match(r"[ \t]*(?:```|~~~)", line):
            if body:
                break
            continue
        if not body:
            if _HEADER_LINE.match(line.rstrip("\r")):
                body.append((offset, line.rstrip("\r")))
        elif line.strip():
            body.append((offset, line.rstrip("\r")))
        else:
            break
    if not body:
        return None
    return _Block("\n".join(line for _, line in body), tuple(o for o, _ in body), "unfenced diagram")


# -- what mermaid does before parsing ----------------------------------------------

_FRONT_MATTER = re.compile(r"^([^\S\n\r]*)-{3}\s*[\n\r](.*?)[\n\r]\1-{3}\s*[\n\r]+", re.DOTALL)
_DIRECTIVE = re.compile(r"%{2}{\s*(?:(\w+)\s*:|(\w+))\s*(?:(\w+)|((?:(?!}%{2}).|\r?\n)*))?\s*(?:}%{2})?",
                        re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*%%(?!{)[^\n]+\n?", re.MULTILINE)
_TAG_ATTRIBUTES = re.compile(r"<(\w+)([^>]*)>")
_DOUBLE_QUOTED_ATTRIBUTE = re.compile(r'="([^"]*)"')


def _only_newlines(match: re.Match[str]) -> str:
    return "\n" * match[0].count("\n")


def clean(source: str) -> str:
    """mermaid's pre-parse clean-up (front matter, directives, comment lines), keeping line numbers.

    mermaid deletes these; blanking them instead keeps every remaining line where it was.
    """
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    text = _TAG_ATTRIBUTES.sub(lambda m: "<" + m[1] + _DOUBLE_QUOTED_ATTRIBUTE.sub(r"='\1'", m[2]) + ">", text)
    text = _FRONT_MATTER.sub(_only_newlines, text, count=1)
    text = _DIRECTIVE.sub(_only_newlines, text)
    return _COMMENT_LINE.sub(_only_newlines, text)


def _strip_preamble(source: str) -> str:
    return clean(source).lstrip()


def prepare(source: str) -> tuple[str, list[int]]:
    """The text mermaid's flowchart lexer reads for ``source``, and where each character came from.

    As mermaid does: the ``;`` ending a style line with a colour is dropped, ``#name;`` codes become
    placeholders (so their ``#`` and ``;`` are not tokens), a line break is added, and spaces after
    a ``}`` that ends a line are dropped. ``origin`` has one more entry, for the end of the text.
    """
    text = source
    origin = list(range(len(source)))

    def rewrite(pattern: str, kept: Any) -> None:
        # kept(match) -> the new characters, each with the index inside the match it came from
        nonlocal text, origin
        pieces: list[str] = []
        where: list[int] = []
        last = 0
        for match in re.finditer(pattern, text):
            pieces.append(text[last:match.start()])
            where.extend(origin[last:match.start()])
            for char, index in kept(match):
                pieces.append(char)
                where.append(origin[match.start() + index])
            last = match.end()
        pieces.append(text[last:])
        where.extend(origin[last:])
        text, origin = "".join(pieces), where

    def placeholder(match: re.Match[str]) -> list[tuple[str, int]]:
        inner = match[0][1:-1]
        prefix = "\ufb02\u00b0\u00b0" if re.fullmatch(r"\+?\d+", inner) else "\ufb02\u00b0"
        return [(char, 0) for char in prefix + inner + "\u00b6\u00df"]

    rewrite(r"style.*:\S*#.*;", lambda m: [(c, i) for i, c in enumerate(m[0][:-1])])
    rewrite(r"classDef.*:\S*#.*;", lambda m: [(c, i) for i, c in enumerate(m[0][:-1])])
    rewrite(r"#[A-Za-z0-9_]+;", placeholder)
    text += "\n"
    origin.append(len(source))
    rewrite(r"\}\s*\n", lambda m: [("}", 0), ("\n", len(m[0]) - 1)])
    return text, [*origin, len(source) + 1]


def source_position(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``source`` followed by the line break mermaid adds."""
    text = source + "\n"
    offset = min(offset, len(text))
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


# -- the built-in parser: mermaid 11's flowchart lexer, rule for rule -------------------


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


_W = r"(?![A-Za-z0-9_])"  # JavaScript's \b after a word character
# index: (pattern, token, action); action is None, "pop", "push:STATE", "graph" or "pop,push:STATE"
_RULES: dict[int, tuple[str, str | None, str | None]] = {
    0: (r"accTitle\s*:\s*", "acc_title", "push:acc_title"),
    1: (r"[^\n]*", "acc_title_value", "pop"),
    2: (r"accDescr\s*:\s*", "acc_descr", "push:acc_descr"),
    3: (r"[^\n]*", "acc_descr_value", "pop"),
    4: (r"accDescr\s*\{\s*", None, "push:acc_descr_multiline"),
    5: (r"[\}]", None, "pop"),
    6: (r"[^\}]*", "acc_descr_multiline_value", None),
    7: (r"@\{", "SHAPE_DATA", "push:shapeData"),
    8: (r'["]', "SHAPE_DATA", "push:shapeDataStr"),
    9: (r'["]', "SHAPE_DATA", "pop"),
    10: (r'[^"]+', "SHAPE_DATA", None),
    11: (r'[^}^"]+', "SHAPE_DATA", None),
    12: (r"\}", None, "pop"),
    13: (r"call[\s]+", None, "push:callbackname"),
    14: (r"\([\s]*\)", None, "pop"),
    15: (r"\(", None, "pop,push:callbackargs"),
    16: (r"[^(]*", "CALLBACKNAME", None),
    17: (r"\)", None, "pop"),
    18: (r"[^)]*", "CALLBACKARGS", None),
    19: (r'[^`"]+', "MD_STR", None),
    20: (r'[`]["]', None, "pop"),
    21: (r'["][`]', None, "push:md_string"),
    22: (r'[^"]+', "STR", None),
    23: (r'["]', None, "pop"),
    24: (r'["]', None, "push:string"),
    25: (rf"style{_W}", "STYLE", None),
    26: (rf"default{_W}", "DEFAULT", None),
    27: (rf"linkStyle{_W}", "LINKSTYLE", None),
    28: (rf"interpolate{_W}", "INTERPOLATE", None),
    29: (rf"classDef{_W}", "CLASSDEF", None),
    30: (rf"class{_W}", "CLASS", None),
    31: (r"href[\s]", "HREF", None),
    32: (r"click[\s]+", None, "push:click"),
    33: (r"[\s\n]", None, "pop"),
    34: (r"[^\s\n]*", "CLICK", None),
    35: (rf"flowchart-elk{_W}", "GRAPH", "graph"),
    36: (rf"swimlane-beta{_W}", "GRAPH", "graph"),
    37: (rf"graph{_W}", "GRAPH", "graph"),
    38: (rf"flowchart{_W}", "GRAPH", "graph"),
    39: (rf"subgraph{_W}", "subgraph", None),
    40: (rf"end{_W}\s*", "end", None),
    41: (rf"_self{_W}", "LINK_TARGET", None),
    42: (rf"_blank{_W}", "LINK_TARGET", None),
    43: (rf"_parent{_W}", "LINK_TARGET", None),
    44: (rf"_top{_W}", "LINK_TARGET", None),
    45: (r"(\r?\n)*\s*\n", "NODIR", "pop"),
    46: (rf"\s*LR{_W}", "DIR", "pop"),
    47: (rf"\s*RL{_W}", "DIR", "pop"),
    48: (rf"\s*TB{_W}", "DIR", "pop"),
    49: (rf"\s*BT{_W}", "DIR", "pop"),
    50: (rf"\s*TD{_W}", "DIR", "pop"),
    51: (rf"\s*BR{_W}", "DIR", "pop"),
    52: (r"\s*<", "DIR", "pop"),
    53: (r"\s*>", "DIR", "pop"),
    54: (r"\s*\^", "DIR", "pop"),
    55: (rf"\s*v{_W}", "DIR", "pop"),
    56: (r".*direction\s+TB[^\n]*", "direction_tb", None),
    57: (r".*direction\s+BT[^\n]*", "direction_bt", None),
    58: (r".*direction\s+RL[^\n]*", "direction_rl", None),
    59: (r".*direction\s+LR[^\n]*", "direction_lr", None),
    60: (r".*direction\s+TD[^\n]*", "direction_td", None),
    61: (r'[^\s"]+@(?=[^{"])', "LINK_ID", None),
    62: (r"[0-9]+", "NUM", None),
    63: (r"#", "BRKT", None),
    64: (r":::", "STYLE_SEPARATOR", None),
    65: (r":", "COLON", None),
    66: (r"&", "AMP", None),
    67: (r";", "SEMI", None),
    68: (r",", "COMMA", None),
    69: (r"\*", "MULT", None),
    70: (r"\s*[xo<]?--+[-xo>]\s*", "LINK", "pop"),
    71: (r"\s*[xo<]?--\s*", "START_LINK", "push:edgeText"),
    72: (r"[^-]|-(?!-)", "EDGE_TEXT", None),
    73: (r"\s*[xo<]?==+[=xo>]\s*", "LINK", "pop"),
    74: (r"\s*[xo<]?==\s*", "START_LINK", "push:thickEdgeText"),
    75: (r"[^=]", "EDGE_TEXT", None),
    76: (r"\s*[xo<]?-?\.+-[xo>]?\s*", "LINK", "pop"),
    77: (r"\s*[xo<]?-\.\s*", "START_LINK", "push:dottedEdgeText"),
    78: (r"[^.]", "EDGE_TEXT", None),
    79: (r"\s*~~[~]+\s*", "LINK", None),
    80: (r"[-/)][)]", "-)", "pop"),
    81: (r"[^()\[\]{}]|!\)+", "TEXT", None),
    82: (r"\(-", "(-", "push:ellipseText"),
    83: (r"\]\)", "STADIUMEND", "pop"),
    84: (r"\(\[", "STADIUMSTART", "push:text"),
    85: (r"\]\]", "SUBROUTINEEND", "pop"),
    86: (r"\[\[", "SUBROUTINESTART", "push:text"),
    87: (r"\[\|", "VERTEX_WITH_PROPS_START", None),
    88: (r">", "TAGEND", "push:text"),
    89: (r"\)\]", "CYLINDEREND", "pop"),
    90: (r"\[\(", "CYLINDERSTART", "push:text"),
    91: (r"\)\)\)", "DOUBLECIRCLEEND", "pop"),
    92: (r"\(\(\(", "DOUBLECIRCLESTART", "push:text"),
    93: (r"[\\(?=\])][\]]", "TRAPEND", "pop"),
    94: (r"/(?=\])\]", "INVTRAPEND", "pop"),
    95: (r"/(?!\])|\\(?!\])|[^\\\[\](){}/]+", "TEXT", None),
    96: (r"\[/", "TRAPSTART", "push:trapText"),
    97: (r"\[\\", "INVTRAPSTART", "push:trapText"),
    98: (r"<", "TAGSTART", None),
    99: (r">", "TAGEND", None),
    100: (r"\^", "UP", None),
    101: (r"\\\|", "SEP", None),
    102: (rf"v{_W}", "DOWN", None),
    103: (r"\*", "MULT", None),
    104: (r"#", "BRKT", None),
    105: (r"&", "AMP", None),
    106: (r"(?:[A-Za-z0-9!\"#$%&'*+.`?\\_/]|-(?=[^>\-.]))+", "NODE_STRING", None),
    107: (r"-", "MINUS", None),
    108: ("", "UNICODE_TEXT", None),  # one letter of the Basic Multilingual Plane, see _unicode_letter
    109: (r"\|", "PIPE", "pop"),
    110: (r"\|", "PIPE", "push:text"),
    111: (r"\)", "PE", "pop"),
    112: (r"\(", "PS", "push:text"),
    113: (r"\]", "SQE", "pop"),
    114: (r"\[", "SQS", "push:text"),
    115: (r"\}", "DIAMOND_STOP", "pop"),
    116: (r"\{", "DIAMOND_START", "push:text"),
    117: (r'[^\[\](){}|"]+', "TEXT", None),
    118: (r'"', "QUOTE", None),
    119: (r"(\r?\n)+", "NEWLINE", None),
    120: (r"\s", "SPACE", None),
    121: (r"\Z", "EOF", None),
}
_EVERYWHERE = (21, 24, 79, 82, 84, 86, 90, 92, 96, 97, 110, 112, 114, 116)
_STATES: dict[str, tuple[int, ...]] = {
    "INITIAL": (0, 2, 4, 7, 13, 21, 24, 25, 26, 27, 28, 29, 30, 31, 32, *range(35, 45), *range(56, 72),
                73, 74, 76, 77, 79, 82, 84, 86, 87, 88, 90, 92, *range(96, 109), 110, 112, 114, 116,
                *range(118, 122)),
    "text": (21, 24, 79, 82, 83, 84, 85, 86, 89, 90, 91, 92, 96, 97, *range(109, 118)),
    "ellipseText": (80, 81),
    "trapText": (93, 94, 95),
    "edgeText": (70, 72),
    "thickEdgeText": (73, 75),
    "dottedEdgeText": (76, 78),
    "dir": tuple(range(45, 56)),
    "string": (22, 23),
    "md_string": (19, 20),
    "click": (33, 34),
    "href": (),
    "callbackname": (14, 15, 16),
    "callbackargs": (17, 18),
    "shapeData": (8, 11, 12),
    "shapeDataStr": (9, 10),
    "shapeDataEndBracket": (),
    "acc_title": (1,),
    "acc_descr": (3,),
    "acc_descr_multiline": (5, 6),
}


@lru_cache(maxsize=1)
def _lexer() -> tuple[dict[int, re.Pattern[str]], dict[str, tuple[int, ...]]]:
    """The compiled rules, and the rules each state tries, in mermaid's order."""
    rules = {index: re.compile(pattern) for index, (pattern, _, _) in _RULES.items() if index != 108}
    states = {state: own if state == "INITIAL" else tuple(sorted(set(own) | set(_EVERYWHERE)))
              for state, own in _STATES.items()}
    return rules, states


def _unicode_letter(char: str) -> bool:
    return "\u00aa" <= char <= "\uffff" and unicodedata.category(char).startswith("L")


def tokenize(source: str) -> list[_Token]:
    """mermaid's flowchart tokens for ``source`` (already cleaned and encoded), ending with ``$end``.

    A lexical error becomes a ``LEXERROR`` token: mermaid reports it only when the parser reaches it.
    """
    rules, states = _lexer()
    tokens: list[_Token] = []
    stack = ["INITIAL"]
    first_graph = True
    done = False
    pos = 0
    empty_matches = 0
    while True:
        if done:
            tokens.append(_Token("$end", "", len(source), len(source)))
            return tokens
        if pos >= len(source):
            done = True
        found: tuple[int, int] | None = None
        for index in states[stack[-1]]:
            if index == 108:
                if pos < len(source) and _unicode_letter(source[pos]):
                    found = (index, pos + 1)
                    break
                continue
            match = rules[index].match(source, pos)
            if match:
                found = (index, match.end())
                break
        if found is None:
            if pos >= len(source):
                tokens.append(_Token("$end", "", pos, pos))
            else:
                tokens.append(_Token("LEXERROR", source[pos:pos + 20], pos, pos + 1))
            return tokens
        index, end = found
        _, kind, action = _RULES[index]
        text = source[pos:end]
        if action == "graph":
            if first_graph:
                first_graph = False
                stack.append("dir")
        elif action:
            for step in action.split(","):
                if step == "pop":
                    if len(stack) > 1:
                        stack.pop()
                else:
                    stack.append(step.split(":", 1)[1])
        if index == 7:
            text = ""
        elif index == 10:
            text = re.sub(r"\n\s*", "<br/>", text)
        empty_matches = empty_matches + 1 if end == pos else 0
        if empty_matches > 2 and not done:
            # empty matches that change nothing would loop forever; mermaid's rules never do
            tokens.append(_Token("LEXERROR", source[pos:pos + 20], pos, pos + 1))
            return tokens
        if kind is not None:
            tokens.append(_Token(kind, text, pos, end))
        pos = end


# -- the built-in parser: mermaid 11's flowchart grammar, by recursive descent -----------

_ID_TOKENS = frozenset({"NUM", "NODE_STRING", "DOWN", "MINUS", "DEFAULT", "COMMA", "COLON", "AMP", "BRKT",
                        "MULT", "UNICODE_TEXT"})
_TEXT_TOKENS = frozenset({"TEXT", "TAGSTART", "TAGEND", "UNICODE_TEXT"})
_TEXT_STARTS = ("TEXT", "STR", "MD_STR", "UNICODE_TEXT", "TAGSTART", "TAGEND")
_EDGE_TEXT_TOKENS = frozenset({"EDGE_TEXT", "UNICODE_TEXT"})
_TITLE_TOKENS = frozenset({"NUM", "NODE_STRING", "SPACE", "MINUS", "AMP", "UNICODE_TEXT", "COLON", "MULT", "BRKT",
                           "START_LINK", "STYLE", "LINKSTYLE", "CLASSDEF", "CLASS", "CLICK", "GRAPH", "DIR",
                           "subgraph", "end", "DOWN", "UP"})
_ALPHANUM_TOKENS = frozenset({"NUM", "UNICODE_TEXT", "NODE_STRING", "DIR", "DOWN", "MINUS", "COMMA", "COLON",
                              "AMP", "BRKT", "MULT"})
_STYLE_TOKENS = frozenset({"NUM", "NODE_STRING", "COLON", "UNIT", "SPACE", "BRKT", "STYLE", "PCT"})
_SEPARATORS = ("NEWLINE", "SEMI", "EOF")
_LINK_STARTS = ("LINK", "START_LINK", "LINK_ID")
_STATEMENT_STARTS = ("NODE_STRING", "NUM", "UNICODE_TEXT", "STYLE", "LINKSTYLE", "CLASSDEF", "CLASS", "CLICK",
                     "subgraph", "direction", "acc_title", "acc_descr")
#: opening token -> (closing token, shape) for the shapes whose text sits between one pair
_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "SQS": (("SQE", "square"),),
    "DOUBLECIRCLESTART": (("DOUBLECIRCLEEND", "doublecircle"),),
    "(-": (("-)", "ellipse"),),
    "STADIUMSTART": (("STADIUMEND", "stadium"),),
    "SUBROUTINESTART": (("SUBROUTINEEND", "subroutine"),),
    "CYLINDERSTART": (("CYLINDEREND", "cylinder"),),
    "TAGEND": (("SQE", "odd"),),
    "TRAPSTART": (("TRAPEND", "trapezoid"), ("INVTRAPEND", "lean_right")),
    "INVTRAPSTART": (("INVTRAPEND", "inv_trapezoid"), ("TRAPEND", "lean_left")),
}
_TOKEN_SHOWN = {"PS": "(", "PE": ")", "SQS": "[", "SQE": "]", "DIAMOND_START": "{", "DIAMOND_STOP": "}",
                "PIPE": "|", "STR": "a quoted string", "EOF": "end of input", "$end": "end of input",
                "NEWLINE": "a line break", "SPACE": "a space", "SEMI": ";"}


@dataclass
class _Link:
    arrow: str
    text: str | None
    id: str | None


class _Parser:
    """Parses cleaned flowchart source the way mermaid 11 does, building what its database holds."""

    def __init__(self, source: str) -> None:
        self.source = source
        prepared, self.origin = prepare(source)
        self.tokens = tokenize(prepared)
        self.index = 0
        self.direction = "TB"
        self.vertices: dict[str, dict[str, Any]] = {}
        self.edges: list[Edge] = []
        self.edge_ids: set[str] = set()
        self.subgraphs: list[tuple[str, str, tuple[str, ...]]] = []

    # tokens

    def peek(self, ahead: int = 0) -> _Token:
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        if token.kind == "LEXERROR" and ahead == 0:
            line, column = self.position(token.start)
            shown = token.text.split("\n")[0]
            raise MermaidSyntaxError(
                f"Lexical error on line {line}, column {column}: unrecognized text {shown!r}",
                line, column, (), shown,
            )
        return token

    def take(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, *kinds: str) -> _Token:
        if self.peek().kind not in kinds:
            self.fail(kinds)
        return self.take()

    def position(self, offset: int) -> tuple[int, int]:
        return source_position(self.source, self.origin[min(offset, len(self.origin) - 1)])

    def fail(self, expected: tuple[str, ...] | list[str] | frozenset[str]) -> None:
        token = self.peek()
        # like mermaid, point just after the last token read
        line, column = self.position(self.tokens[self.index - 1].end if self.index else token.start)
        got = "1" if token.kind == "$end" else token.kind
        wanted = ", ".join(f"'{kind}'" for kind in expected)
        raise MermaidSyntaxError(f"Parse error on line {line}, column {column}: Expecting {wanted}, got '{got}'",
                                 line, column, tuple(expected), got)

    def spaces(self, *, required: bool = False) -> None:
        if required:
            self.expect("SPACE")
        while self.peek().kind == "SPACE":
            self.take()

    # grammar

    def parse(self) -> Flowchart:
        while self.peek().kind in ("SPACE", "NEWLINE"):
            self.take()
        self.expect("GRAPH")
        token = self.expect("NODIR", "DIR")
        if token.kind == "NODIR":
            self.set_direction("TB")
        else:
            self.set_direction(token.text)
            if self.peek().kind == "SPACE":
                self.spaces()
                self.expect("NEWLINE")
            else:
                self.expect("SEMI", "NEWLINE", "SPACE")
        self.document(inside=False)
        self.expect("$end")
        nodes = {vid: Node(vid, v["text"], v["shape"]) for vid, v in self.vertices.items()}
        return Flowchart(self.direction, nodes, tuple(self.edges), tuple(self.subgraphs))

    def document(self, *, inside: bool) -> list[str]:
        ids: list[str] = []
        while True:
            kind = self.peek().kind
            if kind in ("SEMI", "NEWLINE", "SPACE", "EOF"):
                self.take()
            elif (kind == "$end" and not inside) or (kind == "end" and inside):
                return ids
            elif kind == "$end":
                self.fail(("end",))
            else:
                ids.extend(self.statement())

    def statement(self) -> list[str]:
        kind = self.peek().kind
        if kind in _ID_TOKENS:
            ids = self.vertex_statement()
            self.expect(*_SEPARATORS)
            return ids
        if kind == "subgraph":
            return self.subgraph()
        if kind.startswith("direction_"):
            self.take()
            return []
        if kind == "acc_title":
            self.take()
            self.expect("acc_title_value")
            return []
        if kind == "acc_descr":
            self.take()
            self.expect("acc_descr_value")
            return []
        if kind == "acc_descr_multiline_value":
            self.take()
            return []
        statements = {"STYLE": self.style_statement, "CLASSDEF": self.class_def_statement,
                      "CLASS": self.class_statement, "LINKSTYLE": self.link_style_statement,
                      "CLICK": self.click_statement}
        if kind not in statements:
            self.fail(_STATEMENT_STARTS)
        statements[kind]()
        self.expect(*_SEPARATORS)
        return []

    def vertex_statement(self) -> list[str]:
        group, _ = self.node()
        every = list(group)
        while True:
            kind = self.peek().kind
            if kind == "SPACE":
                self.spaces()
                if self.peek().kind not in _LINK_STARTS:
                    return every
            elif kind not in _LINK_STARTS:
                return every
            link = self.link()
            following, _ = self.node()
            self.add_links(group, following, link)
            group = following
            every.extend(following)

    def node(self) -> tuple[list[str], bool]:
        ids = [self.styled_vertex()]
        while True:
            kind = self.peek().kind
            if kind == "SHAPE_DATA":
                self.shape_data(ids[-1])
                if self.peek().kind != "SPACE":
                    return ids, True
            elif not (kind == "SPACE" and self.kind_after_spaces() == "AMP"):
                return ids, False
            self.spaces()
            self.expect("AMP")
            self.spaces(required=True)
            ids.append(self.styled_vertex())

    def kind_after_spaces(self) -> str:
        ahead = 0
        while self.tokens[min(self.index + ahead, len(self.tokens) - 1)].kind == "SPACE":
            ahead += 1
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)].kind

    def styled_vertex(self) -> str:
        vertex_id = self.id_string()
        shape, text = self.shape()
        self.add_vertex(vertex_id, text, shape)
        if self.peek().kind == "STYLE_SEPARATOR":
            self.take()
            self.id_string()
        return vertex_id

    def id_string(self) -> str:
        if self.peek().kind not in _ID_TOKENS:
            self.fail(sorted(_ID_TOKENS))
        parts = []
        while self.peek().kind in _ID_TOKENS:
            parts.append(self.take().text)
        return "".join(parts)

    def shape(self) -> tuple[str | None, str | None]:
        kind = self.peek().kind
        if kind in ("PS", "DIAMOND_START"):
            closer, single, double = ("PE", "round", "circle") if kind == "PS" else \
                ("DIAMOND_STOP", "diamond", "hexagon")
            self.take()
            if self.peek().kind == kind:
                self.take()
                text = self.text((closer,))
                self.expect(closer)
                self.expect(closer)
                return double, text
            text = self.text((closer,))
            self.expect(closer)
            return single, text
        if kind == "VERTEX_WITH_PROPS_START":
            self.take()
            self.expect("NODE_STRING")
            self.expect("COLON")
            self.expect("NODE_STRING")
            self.expect("PIPE")
            text = self.text(("SQE",))
            self.expect("SQE")
            return "rect", text
        if kind in _SHAPES:
            self.take()
            closers = tuple(closer for closer, _ in _SHAPES[kind])
            text = self.text(closers)
            closing = self.expect(*closers)
            return dict(_SHAPES[kind])[closing.kind], text
        return None, None

    def text(self, closers: tuple[str, ...]) -> str:
        if self.peek().kind not in _TEXT_STARTS:
            self.fail(_TEXT_STARTS)
        parts = [self.take().text]
        while self.peek().kind in _TEXT_TOKENS:
            parts.append(self.take().text)
        if self.peek().kind not in closers:
            self.fail((*closers, "TEXT", "UNICODE_TEXT", "TAGSTART", "TAGEND"))
        return "".join(parts)

    def link(self) -> _Link:
        link_id = self.take().text[:-1] if self.peek().kind == "LINK_ID" else None
        token = self.expect("LINK", "START_LINK")
        if token.kind == "LINK":
            text = None
            if self.peek().kind == "PIPE":
                self.take()
                text = self.text(("PIPE",))
                self.expect("PIPE")
                if self.peek().kind == "SPACE":
                    self.take()
            return _Link(_arrow(token.text), text, link_id)
        if self.peek().kind not in ("EDGE_TEXT", "UNICODE_TEXT", "STR", "MD_STR"):
            self.fail(("EDGE_TEXT", "UNICODE_TEXT", "STR", "MD_STR"))
        parts = [self.take().text]
        while self.peek().kind in _EDGE_TEXT_TOKENS:
            parts.append(self.take().text)
        end = self.expect("LINK")
        return _Link(_arrow(end.text, token.text), "".join(parts), link_id)

    def shape_data(self, vertex_id: str) -> None:
        import yaml

        first = self.peek()
        data = ""
        while self.peek().kind == "SHAPE_DATA":
            data += self.take().text
        line, column = self.position(first.start)
        if vertex_id in self.edge_ids:
            return
        document = "{\n" + data + "\n}" if "\n" not in data else data + "\n"
        try:
            values = yaml.safe_load(document)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
            raise MermaidSyntaxError(f"Shape data of {vertex_id} on line {line}, column {column} is not valid "
                                     f"YAML: {problem}", line, column) from None
        if not isinstance(values, dict):
            return
        shape = values.get("shape")
        if shape:
            shape = str(shape)
            if shape != shape.lower() or "_" in shape:
                raise MermaidSyntaxError(f"No such shape: {shape}. Shape names should be lowercase.", line, column)
            self.vertices[vertex_id]["shape"] = shape
        if values.get("label"):
            self.vertices[vertex_id]["text"] = str(values["label"])

    def subgraph(self) -> list[str]:
        self.take()
        title = ""
        if self.peek().kind == "SPACE":
            self.take()
            title = self.title_text()
            if self.peek().kind == "SQS":
                self.take()
                sub_id = title.strip()
                title = self.text(("SQE",))
                self.expect("SQE")
            else:
                sub_id = "" if re.search(r"\s", title) else title.strip()
        else:
            line, column = self.position(self.tokens[self.index - 1].end)
            raise MermaidSyntaxError(f"Parse error on line {line}, column {column}: a subgraph needs an id or a "
                                     "title (mermaid fails on a bare 'subgraph')", line, column)
        self.expect(*_SEPARATORS)
        ids = self.document(inside=True)
        self.expect("end")
        sub_id = sub_id or f"subGraph{len(self.subgraphs)}"
        self.subgraphs.append((sub_id, title.strip(), tuple(dict.fromkeys(ids))))
        return [sub_id]

    def title_text(self) -> str:
        if self.peek().kind not in (*_TITLE_TOKENS, "STR", "MD_STR"):
            self.fail(sorted(_TITLE_TOKENS | {"STR", "MD_STR"}))
        parts = [self.take().text]
        while self.peek().kind in _TITLE_TOKENS:
            parts.append(self.take().text)
        return "".join(parts)

    def style_statement(self) -> None:
        self.take()
        self.expect("SPACE")
        vertex_id = self.id_string()
        self.expect("SPACE")
        self.styles()
        self.add_vertex(vertex_id, None, None)

    def class_def_statement(self) -> None:
        self.take()
        self.expect("SPACE")
        self.id_string()
        self.expect("SPACE")
        self.styles()

    def class_statement(self) -> None:
        self.take()
        self.expect("SPACE")
        self.id_string()
        self.expect("SPACE")
        self.id_string()

    def link_style_statement(self) -> None:
        self.take()
        self.expect("SPACE")
        if self.peek().kind == "DEFAULT":
            self.take()
        else:
            numbers = [self.expect("NUM")]
            while self.peek().kind == "COMMA":
                self.take()
                numbers.append(self.expect("NUM"))
            for number in numbers:
                if number.text != str(int(number.text)) or int(number.text) >= len(self.edges):
                    line, column = self.position(number.start)
                    raise MermaidSyntaxError(
                        f"linkStyle {number.text} on line {line}, column {column} styles a link that does not "
                        f"exist: {len(self.edges)} links come before it (mermaid fails: Cannot set properties "
                        "of undefined)", line, column)
        self.expect("SPACE")
        if self.peek().kind != "INTERPOLATE":
            self.styles()
            return
        self.take()
        self.expect("SPACE")
        if self.peek().kind not in _ALPHANUM_TOKENS:
            self.fail(sorted(_ALPHANUM_TOKENS))
        while self.peek().kind in _ALPHANUM_TOKENS:
            self.take()
        if self.peek().kind == "SPACE":
            self.take()
            self.styles()

    def styles(self) -> None:
        while True:
            if self.peek().kind not in _STYLE_TOKENS:
                self.fail(sorted(_STYLE_TOKENS))
            while self.peek().kind in _STYLE_TOKENS:
                self.take()
            if self.peek().kind != "COMMA":
                return
            self.take()

    def click_statement(self) -> None:
        self.take()
        kind = self.peek().kind
        if kind == "CALLBACKNAME":
            self.take()
            if self.peek().kind == "CALLBACKARGS":
                self.take()
            if self.peek().kind == "SPACE":
                self.take()
                self.expect("STR")
        elif kind in ("HREF", "STR"):
            if kind == "HREF":
                self.take()
            self.expect("STR")
            if self.peek().kind == "SPACE":
                self.take()
                if self.expect("STR", "LINK_TARGET").kind == "STR" and self.peek().kind == "SPACE":
                    self.take()
                    self.expect("LINK_TARGET")
        elif kind in _ALPHANUM_TOKENS:
            while self.peek().kind in _ALPHANUM_TOKENS:
                self.take()
            if self.peek().kind == "SPACE":
                self.take()
                self.expect("STR")
        else:
            self.fail(("CALLBACKNAME", "HREF", "STR", *sorted(_ALPHANUM_TOKENS)))

    # what mermaid's database does

    def set_direction(self, text: str) -> None:
        direction = text.strip()
        for mark, value in (("<", "RL"), ("^", "BT"), (">", "LR"), ("v", "TB")):
            if mark in direction:
                direction = value
        self.direction = "TB" if direction == "TD" else direction

    def add_vertex(self, vertex_id: str, text: str | None, shape: str | None) -> None:
        if vertex_id in self.edge_ids:
            return
        vertex = self.vertices.setdefault(vertex_id, {"text": None, "shape": None})
        if text is not None:
            label = text.strip()
            if len(label) >= 2 and label.startswith('"') and label.endswith('"'):
                label = label[1:-1]
            vertex["text"] = label
        elif vertex["text"] is None:
            vertex["text"] = vertex_id
        if shape is not None:
            vertex["shape"] = shape

    def add_links(self, starts: list[str], ends: list[str], link: _Link) -> None:
        label = (link.text or "").strip()
        if len(label) >= 2 and label.startswith('"') and label.endswith('"'):
            label = label[1:-1]
        for start in starts:
            for end in ends:
                if link.id and start == starts[-1] and end == ends[0]:
                    self.edge_ids.add(link.id)
                self.edges.append(Edge(start, end, label, link.arrow))


def _arrow(end: str, start: str | None = None) -> str:
    """mermaid's arrow type for a link written ``end`` (or ``start`` text ``end``)."""
    text = end.strip()
    line = text[:-1]
    kind = "arrow_open"
    heads = {"x": "arrow_cross", ">": "arrow_point", "o": "arrow_circle"}
    if text[-1:] in heads:
        kind = heads[text[-1:]]
        if text.startswith({"x": "x", ">": "<", "o": "o"}[text[-1:]]):
            kind = "double_" + kind
            line = line[1:]
    stroke = "thick" if line.startswith("=") else "invisible" if line.startswith("~") else "normal"
    if "." in line:
        stroke = "dotted"
    if start is None:
        return kind
    opening = start.strip()
    start_kind = {"<": "arrow_point", "x": "arrow_cross", "o": "arrow_circle"}.get(opening[:1], "arrow_open")
    start_stroke = "dotted" if "." in opening else "thick" if "=" in opening else "normal"
    if start_stroke != stroke:
        return "INVALID"
    if start_kind == "arrow_open":
        return kind
    if start_kind != kind:
        return "INVALID"
    return "double_" + start_kind


def parse_builtin(source: str) -> Flowchart:
    """Parse cleaned flowchart source with the built-in parser; raises :class:`MermaidSyntaxError`."""
    return _Parser(source).parse()


# -- mermaid itself, under node ---------------------------------------------------------

_NODE_SCRIPT = r"""
const write = (value) => process.stdout.write(JSON.stringify(value));
console.log = console.info = console.warn = console.debug = console.error;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const texts = JSON.parse(input);
let mermaid, DOMPurify;
try {
  ({ default: DOMPurify } = await import('dompurify'));
  ({ default: mermaid } = await import('mermaid'));
} catch (error) {
  write({ setup: String(error?.message ?? error) });
  process.exit(0);
}
// The sanitiser needs a browser DOM and only shapes rendered labels; labels are read as written.
if (!DOMPurify.isSupported) {
  DOMPurify.sanitize = (text) => text;
  DOMPurify.addHook = () => {};
}
mermaid.initialize({ startOnLoad: false, logLevel: 'fatal' });
const results = [];
for (const text of texts) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    if (typeof db.getVertices !== 'function') {
      results.push({ type: diagram.type });
      continue;
    }
    results.push({
      type: diagram.type,
      direction: db.getDirection?.() ?? 'TB',
      nodes: [...db.getVertices().values()].map((v) => [v.id, String(v.text ?? v.id), v.type ?? null]),
      edges: db.getEdges().map((e) => [e.start, e.end, String(e.text ?? ''), e.type ?? 'arrow_point']),
      subgraphs: db.getSubGraphs().map((s) => [s.id, String(s.title ?? ''), s.nodes]),
    });
  } catch (error) {
    results.push({ error: String(error?.message ?? error), line: error?.hash?.line ?? null,
                   loc: error?.hash?.loc ?? null });
  }
}
write({ results });
"""


@dataclass(frozen=True)
class RealParser:
    """Where mermaid is installed, and which version."""

    node: str
    directory: Path
    version: str


class ParserUnavailable(Exception):
    """mermaid could not run: not installed, or node failed."""


def mermaid_directory() -> Path:
    """Where the checker looks for ``node_modules/mermaid``."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "pytest-gptoss" / "mermaid"


def find_real_parser() -> RealParser | None:
    """node and the mermaid package, if both are installed."""
    node = shutil.which("node")
    directory = mermaid_directory()
    package = directory / "node_modules" / "mermaid" / "package.json"
    if node is None or not package.is_file() or not (directory / "node_modules" / "dompurify").is_dir():
        return None
    try:
        version = str(json.loads(package.read_text(encoding="utf-8")).get("version", "?"))
    except (OSError, ValueError):
        return None
    return RealParser(node, directory, version)


def run_real_parser(parser: RealParser, sources: list[str], timeout: float | None = None) -> list[dict[str, Any]]:
    """mermaid's verdict on each source: a graph, a diagram type, or an error with its position."""
    timeout = NODE_TIMEOUT if timeout is None else timeout
    try:
        process = subprocess.Popen(
            [parser.node, "--input-type=module", "-e", _NODE_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            cwd=parser.directory, start_new_session=True,
        )
    except OSError as exc:
        raise ParserUnavailable(f"node could not start: {exc}") from None
    try:
        stdout, stderr = process.communicate(json.dumps(sources), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ParserUnavailable(f"node did not finish parsing within {timeout:g} s") from None
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ParserUnavailable(f"node failed: {tail}") from None
    if "setup" in reply:
        raise ParserUnavailable(f"mermaid could not be loaded: {reply['setup']}")
    return list(reply["results"])


def _from_real(result: dict[str, Any], source: str) -> Flowchart:
    if "error" in result:
        raise _real_error(result, source)
    if "nodes" not in result:
        raise MermaidSyntaxError(f"mermaid read a {result.get('type')} diagram, not a flowchart")
    nodes = {vid: Node(vid, text, shape) for vid, text, shape in result["nodes"]}
    edges = tuple(Edge(start, end, text, arrow) for start, end, text, arrow in result["edges"])
    subgraphs = tuple((sid, title, tuple(members)) for sid, title, members in result["subgraphs"])
    return Flowchart(result.get("direction") or "TB", nodes, edges, subgraphs)


def _real_error(result: dict[str, Any], source: str) -> MermaidSyntaxError:
    message = result["error"]
    lines = message.split("\n")
    loc = result.get("loc")
    if message.startswith("Parse error") and loc:
        line, column = _real_position(source, int(loc["last_line"]), int(loc["last_column"]))
        expecting = lines[-1] if lines[-1].startswith("Expecting") else ""
        got = re.search(r"got '([^']*)'$", expecting)
        expected = tuple(re.findall(r"'([^']+)'", expecting.split(", got")[0]))
        text = f"Parse error on line {line}, column {column}: {expecting}".rstrip(": ")
        return MermaidSyntaxError(text, line, column, expected, got[1] if got else "")
    if message.startswith("Lexical error") and result.get("line") is not None:
        # mermaid gives no column for these; the built-in lexer, rule for rule the same, finds it
        try:
            parse_builtin(source)
        except MermaidSyntaxError as exc:
            if exc.message.startswith("Lexical error"):
                return exc
        line, _ = _real_position(source, int(result["line"]) + 1, 0)
        return MermaidSyntaxError(f"Lexical error on line {line}: unrecognized text", line)
    return MermaidSyntaxError(_decode_placeholders(lines[0]))


def _real_position(source: str, line: int, column: int) -> tuple[int, int]:
    """Where mermaid's (line, 0-based column) in the text it parsed lies in ``source``."""
    # mermaid parses the source with leading whitespace trimmed and the rewrites of prepare()
    trimmed = source.lstrip()
    skipped = len(source) - len(trimmed)
    prepared, origin = prepare(trimmed)
    starts = [0] + [i + 1 for i, char in enumerate(prepared) if char == "\n"]
    offset = starts[min(line, len(starts)) - 1] + column
    return source_position(source, skipped + origin[min(offset, len(origin) - 1)])


def _decode_placeholders(text: str) -> str:
    return _PLACEHOLDER_NAME.sub(r"#\1;", _PLACEHOLDER_NUMBER.sub(r"#\1;", text))


# -- judging ----------------------------------------------------------------------------

_SHAPE_NAMES = {
    None: "a plain node", "square": "a rectangle [ ]", "round": "a rounded box ( )",
    "stadium": "a stadium ([ ])", "subroutine": "a subroutine [[ ]]", "cylinder": "a cylinder [( )]",
    "circle": "a circle (( ))", "doublecircle": "a double circle ((( )))", "odd": "a flag > ]",
    "diamond": "a decision { }", "hexagon": "a hexagon {{ }}", "lean_right": "a parallelogram [/ /]",
    "lean_left": "a parallelogram [\\ \\]", "trapezoid": "a trapezoid [/ \\]",
    "inv_trapezoid": "a trapezoid [\\ /]", "ellipse": "an ellipse (- -)", "rect": "a rectangle [| ]",
}
_END_LABEL = re.compile(r"^(?:end|stop|finish|结束|终止|停止)(?!\w)", re.IGNORECASE)
_LABEL_BRACKETS = frozenset({"PS", "PE", "SQS", "SQE", "DIAMOND_START", "DIAMOND_STOP", "PIPE", "STADIUMSTART",
                             "STADIUMEND", "SUBROUTINESTART", "SUBROUTINEEND", "CYLINDERSTART", "CYLINDEREND",
                             "DOUBLECIRCLESTART", "DOUBLECIRCLEEND", "TRAPSTART", "TRAPEND", "INVTRAPSTART",
                             "INVTRAPEND", "TAGEND", "(-", "-)", "1"})
_CLOSERS = frozenset({"SQE", "PE", "DIAMOND_STOP", "PIPE", "STADIUMEND", "SUBROUTINEEND", "CYLINDEREND",
                      "DOUBLECIRCLEEND", "TRAPEND", "INVTRAPEND", "-)"})


@dataclass(frozen=True)
class _Result:
    key: str
    label: str
    held: bool
    note: str


@dataclass
class _Judged:
    parser: str
    note: str = ""
    flowchart: Flowchart | None = None
    error: MermaidSyntaxError | None = None
    unavailable: str = ""


def judge(parsed: _Spec, text: str) -> Verdict:
    """Judge the flowchart in ``text`` against ``spec``: it must parse, and every assertion must hold."""
    expected = _expected(parsed)
    block = find_diagram(text)
    if block is None:
        return Verdict(
            passed=False, checker=NAME, expected=expected,
            found="no mermaid diagram: no ```mermaid block and no block that starts with flowchart or graph",
            where=_answer_head(text), why="the answer has no diagram to judge",
        )
    source = clean(block.source)
    where_block = f"{block.how} at line {text.count(chr(10), 0, block.starts[0]) + 1} of the answer: " \
        + _snippet(text, *block.span)
    kind = _diagram_kind(source)
    if kind != "flowchart":
        return Verdict(
            passed=False, checker=NAME, expected=expected, found=kind, where=where_block,
            why="only flowcharts (flowchart or graph) are judged", details={"kind": kind},
        )
    judged = _parse(source, parsed.parser or os.environ.get(PARSER_ENV) or "auto")
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
    results = _run(parsed, judged.flowchart)
    return _verdict(expected, results, judged, text, where_block, by)


def _diagram_kind(source: str) -> str:
    stripped = source.lstrip()
    if re.match(r"(?:flowchart|graph)", stripped):
        return "flowchart"
    first = stripped.split("\n", 1)[0].strip()
    word = _KIND_WORD.match(stripped)
    for other in _OTHER_KINDS:
        if word and word[1].startswith(other):
            return f"a {word[1]} diagram, not a flowchart"
    return f"no diagram type detected: the diagram starts with {first[:60]!r}, not flowchart or graph"


def _parse(source: str, mode: str) -> _Judged:
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
                    judged.flowchart = _from_real(result, source)
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


def _syntax_verdict(expected: str, judged: _Judged, text: str, block: _Block, where_block: str,
                    by: str) -> Verdict:
    error = judged.error
    assert error is not None
    where = where_block
    if error.line is not None and error.line <= len(block.starts):
        line_start = block.starts[error.line - 1]
        line_text = block.source.split("\n")[error.line - 1]
        column = min(max((error.column or 1) - 1, 0), len(line_text))
        at = line_start + column
        where = f"line {error.line} of the diagram: {_snippet(text, at, min(at + 1, line_start + len(line_text)))}"
    hint = _hint(error)
    return Verdict(
        passed=False, checker=NAME, expected=expected, found=f"{error.message}\n({by})", where=where,
        why="the diagram does not parse" + (f": {hint}" if hint else ""),
        details={"parser": judged.parser, "error": error.message, "line": error.line, "column": error.column},
    )


def _hint(error: MermaidSyntaxError) -> str:
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


def _run(spec: _Spec, chart: Flowchart) -> list[_Result]:
    results = []
    nodes = list(chart.nodes.values())
    if spec.direction:
        shown = " or ".join(spec.direction)
        results.append(_Result("direction", f"direction {shown}", chart.direction in spec.direction,
                               f"the flowchart goes {chart.direction}"))
    for matcher in spec.nodes:
        found = _matching(matcher, nodes)
        results.append(_Result("nodes", f"node {matcher.label}", bool(found),
                               f"matches {_show(found[0])}" if found else "no node label matches"))
    for matcher in spec.decisions:
        found = _matching(matcher, nodes)
        decisions = [n for n in found if n.shape in DECISION_SHAPES]
        if decisions:
            note = f"{_show(decisions[0])} is a decision"
        elif found:
            note = f"{_show(found[0])} is {_shape_name(found[0].shape)}, not a decision {{ }}"
        else:
            note = "no node label matches"
        results.append(_Result("decisions", f"decision {matcher.label}", bool(decisions), note))
    arrows = _arrows(chart)
    for edge in spec.edges:
        results.append(_edge_result(edge, nodes, chart, arrows))
    for cycle in spec.cycles:
        results.append(_cycle_result(cycle, nodes, arrows))
    if spec.end is not False:
        results.append(_end_result(spec.end, nodes, arrows))
    return results


def _matching(matcher: _Matcher, nodes: list[Node]) -> list[Node]:
    return [node for node in nodes if _matches(matcher, node.label)]


def _arrows(chart: Flowchart) -> dict[str, set[str]]:
    """Each node's successors: edges point the way they are written, both ways for <-->."""
    arrows: dict[str, set[str]] = {node: set() for node in chart.nodes}
    for edge in chart.edges:
        arrows.setdefault(edge.source, set()).add(edge.target)
        arrows.setdefault(edge.target, set())
        if edge.arrow.startswith("double_"):
            arrows[edge.target].add(edge.source)
    return arrows


def _edge_result(edge: _EdgeSpec, nodes: list[Node], chart: Flowchart,
                 arrows: dict[str, set[str]]) -> _Result:
    wanted = f" labelled {edge.label.shown}" if edge.label else ""
    label = f"edge {edge.source.label} → {edge.target.label}{wanted}"
    sources = {n.id for n in _matching(edge.source, nodes)}
    targets = {n.id for n in _matching(edge.target, nodes)}
    if not sources or not targets:
        missing = " and ".join(side for side, ids in (("from", sources), ("to", targets)) if not ids)
        return _Result("edges", label, False, f"no node label matches '{missing}'")
    linked = [e for e in chart.edges
              if (e.source in sources and e.target in targets)
              or (e.arrow.startswith("double_") and e.target in sources and e.source in targets)]
    if not linked:
        first_source = chart.nodes[sorted(sources, key=list(chart.nodes).index)[0]]
        following = ", ".join(_show(chart.nodes[t]) for t in sorted(arrows.get(first_source.id, ()),
                                                                     key=list(chart.nodes).index)[:4])
        return _Result("edges", label, False, f"no edge leads from {_show(first_source)} to a matching node; "
                       f"it leads to {following or 'nothing'}")
    if edge.label is None:
        return _Result("edges", label, True, f"{linked[0].source} → {linked[0].target}")
    labelled = [e for e in linked if _matches(edge.label, e.label, whole=True)]
    if labelled:
        return _Result("edges", label, True, f"{labelled[0].source} → {labelled[0].target} '{labelled[0].label}'")
    shown = ", ".join(f"{e.source} → {e.target} " + (f"'{e.label}'" if e.label else "unlabelled") for e in linked[:3])
    return _Result("edges", label, False, f"the edge is there but its label differs: {shown}")


def _cycle_result(cycle: _CycleSpec, nodes: list[Node], arrows: dict[str, set[str]]) -> _Result:
    names = ", ".join(m.name or m.shown for m in cycle.through)
    avoiding = ", ".join(m.name or m.shown for m in cycle.avoiding)
    label = f"loop through {names}" + (f" avoiding {avoiding}" if avoiding else "")
    banned = {n.id for m in cycle.avoiding for n in _matching(m, nodes)}
    candidates = []
    for matcher in cycle.through:
        found = [n for n in _matching(matcher, nodes)]
        if not found:
            return _Result("cycles", label, False, f"no node label matches {matcher.label}")
        allowed = [n for n in found if n.id not in banned]
        if not allowed:
            return _Result("cycles", label, False, f"{_show(found[0])} also matches what the loop must avoid")
        candidates.append(allowed)
    kept = {node: {t for t in targets if t not in banned} for node, targets in arrows.items() if node not in banned}
    loops = {node.id: _loop_of(node.id, kept) for group in candidates for node in group}
    for group in candidates:
        if not any(loops[n.id] for n in group):
            where = f" once {avoiding} is left out" if avoiding else ""
            return _Result("cycles", label, False, f"{_show(group[0])} is on no loop{where}: nothing leads back to it")
    for first in candidates[0]:
        loop = loops[first.id]
        if loop and all(any(n.id in loop for n in group) for group in candidates[1:]):
            return _Result("cycles", label, True, f"{_show(first)} is on a loop of {len(loop)} nodes")
    return _Result("cycles", label, False, "each of them is on a loop, but no one loop passes them all")


def _loop_of(start: str, arrows: dict[str, set[str]]) -> frozenset[str]:
    """The nodes on closed paths through ``start`` (its strongly connected component), or nothing."""
    forward = _reach(start, arrows)
    backward = _reach(start, _reverse(arrows))
    component = forward & backward
    if len(component) > 1 or start in arrows.get(start, ()):
        return frozenset(component)
    return frozenset()


def _reach(start: str, arrows: dict[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for following in arrows.get(todo.pop(), ()):
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def _reverse(arrows: dict[str, set[str]]) -> dict[str, set[str]]:
    reverse: dict[str, set[str]] = {node: set() for node in arrows}
    for node, targets in arrows.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    return reverse


def _end_result(end: bool | _Matcher, nodes: list[Node], arrows: dict[str, set[str]]) -> _Result:
    reached = {t for targets in arrows.values() for t in targets}
    sinks = [n for n in nodes if not arrows.get(n.id) and (n.id in reached or len(nodes) == 1)]
    if isinstance(end, _Matcher):
        label = f"end node {end.label}"
        found = _matching(end, nodes)
        ends = [n for n in found if n in sinks]
        if ends:
            return _Result("end", label, True, f"{_show(ends[0])} has no outgoing edge")
        if found:
            return _Result("end", label, False, f"{_show(found[0])} is not an end: it leads on, or nothing leads to it")
        return _Result("end", label, False, "no node label matches")
    named = [n for n in nodes if _END_LABEL.match(plain_label(n.label)) and n.id in reached]
    ends = sinks + [n for n in named if n not in sinks]
    if ends:
        return _Result("end", "an end node", True, f"{_show(ends[0])}")
    return _Result("end", "an end node", False,
                   "every node reached by an edge leads on, and none is labelled end/stop/结束")


def _show(node: Node) -> str:
    label = plain_label(node.label)
    if len(label) > _LABEL_WIDTH:
        label = label[: _LABEL_WIDTH - 1] + "…"
    return f"{node.id} '{label}'" if label != node.id else node.id


def _shape_name(shape: str | None) -> str:
    return _SHAPE_NAMES.get(shape, f"a {shape} (@{{shape: {shape}}})")


def _verdict(expected: str, results: list[_Result], judged: _Judged, text: str, where_block: str,
             by: str) -> Verdict:
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
            _show(n) + (" {decision}" if n.shape in DECISION_SHAPES else "") for n in listed) + more)
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


def _expected(spec: _Spec) -> str:
    parts = ["a flowchart that parses"]
    if spec.direction:
        parts.append("direction " + " or ".join(spec.direction))
    if spec.nodes:
        parts.append("nodes " + ", ".join(m.label for m in spec.nodes))
    if spec.decisions:
        parts.append("decisions " + ", ".join(m.name or m.shown for m in spec.decisions))
    for edge in spec.edges:
        wanted = f" [{edge.label.shown}]" if edge.label else ""
        parts.append(f"edge {edge.source.name or edge.source.shown} → {edge.target.name or edge.target.shown}{wanted}")
    for cycle in spec.cycles:
        avoiding = f" avoiding {', '.join(m.name or m.shown for m in cycle.avoiding)}" if cycle.avoiding else ""
        parts.append(f"loop through {', '.join(m.name or m.shown for m in cycle.through)}{avoiding}")
    if isinstance(spec.end, _Matcher):
        parts.append(f"end node {spec.end.name or spec.end.shown}")
    elif spec.end:
        parts.append("an end node")
    text = "; ".join(parts)
    return text if len(text) <= 600 else text[:599] + "…"


def _snippet(text: str, start: int, end: int) -> str:
    from pytest_gptoss.checkers.text import snippet

    return snippet(text, start, end)


def _answer_head(text: str, width: int = 60) -> str:
    if not text.strip():
        return "the answer is empty"
    head = text if len(text) <= width else text[: width - 1] + "…"
    return f"answer ({len(text)} chars): " + head.replace("\n", "⏎")


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
