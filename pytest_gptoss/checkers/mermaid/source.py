"""Finding the diagram in an answer, and the clean-up and encoding mermaid does to it before lexing.

Which diagram is judged: the first fenced block tagged ``mermaid`` that is a
flowchart; failing that the first ``mermaid`` block (which then fails as not a
flowchart); then the first fenced block of any tag whose first line is a
flowchart header (``flowchart``/``graph``, maybe a direction); then an
unfenced block from such a line to the first blank line.

Every rewrite here keeps track of where each character came from, so that an
error's line and column point into the diagram as the answer wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pytest_gptoss.checkers.blocks import fenced_blocks

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
class Block:
    """A candidate diagram: its lines, and where each line starts in the answer."""

    source: str
    starts: tuple[int, ...]
    how: str

    @property
    def span(self) -> tuple[int, int]:
        return self.starts[0], self.starts[-1] + len(self.source.split("\n")[-1])


def find_diagram(text: str) -> Block | None:
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


def diagram_kind(source: str) -> str:
    """``flowchart``, or what the cleaned ``source`` is instead, said for a verdict."""
    stripped = source.lstrip()
    if re.match(r"(?:flowchart|graph)", stripped):
        return "flowchart"
    first = stripped.split("\n", 1)[0].strip()
    word = _KIND_WORD.match(stripped)
    for other in _OTHER_KINDS:
        if word and word[1].startswith(other):
            return f"a {word[1]} diagram, not a flowchart"
    return f"no diagram type detected: the diagram starts with {first[:60]!r}, not flowchart or graph"


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _fenced_blocks(text: str) -> Iterator[tuple[str, Block]]:
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
        yield fenced.tag, Block("\n".join(line.rstrip("\r") for line in body), tuple(starts), how)


def _unfenced_block(text: str, blocks: list[tuple[str, Block]]) -> Block | None:
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
    return Block("\n".join(line for _, line in body), tuple(o for o, _ in body), "unfenced diagram")


# -- what mermaid does before parsing ----------------------------------------------

_FRONT_MATTER = re.compile(r"^([^\S\n\r]*)-{3}\s*[\n\r](.*?)[\n\r]\1-{3}\s*[\n\r]+", re.DOTALL)
_DIRECTIVE = re.compile(r"%{2}{\s*(?:(\w+)\s*:|(\w+))\s*(?:(\w+)|((?:(?!}%{2}).|\r?\n)*))?\s*(?:}%{2})?",
                        re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*%%(?!{)[^\n]+\n?", re.MULTILINE)
_TAG_ATTRIBUTES = re.compile(r"<(\w+)([^>]*)>")
_DOUBLE_QUOTED_ATTRIBUTE = re.compile(r'="([^"]*)"')
#: mermaid's stand-ins for ``#name;`` and ``#123;`` while it parses: its own characters, so its messages show them
_CODE_START = "\ufb02\u00b0"
_NUMBER_MARK = "\u00b0"
_CODE_END = "\u00b6\u00df"
_NUMBER_CODE = re.compile(f"{_CODE_START}{_NUMBER_MARK}(\\d+){_CODE_END}")
_NAMED_CODE = re.compile(f"{_CODE_START}(\\w+){_CODE_END}")


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

    def rewrite(pattern: str, kept: Callable[[re.Match[str]], list[tuple[str, int]]]) -> None:
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
        prefix = _CODE_START + _NUMBER_MARK if re.fullmatch(r"\+?\d+", inner) else _CODE_START
        return [(char, 0) for char in prefix + inner + _CODE_END]

    rewrite(r"style.*:\S*#.*;", lambda m: [(c, i) for i, c in enumerate(m[0][:-1])])
    rewrite(r"classDef.*:\S*#.*;", lambda m: [(c, i) for i, c in enumerate(m[0][:-1])])
    rewrite(r"#[A-Za-z0-9_]+;", placeholder)
    text += "\n"
    origin.append(len(source))
    rewrite(r"\}\s*\n", lambda m: [("}", 0), ("\n", len(m[0]) - 1)])
    return text, [*origin, len(source) + 1]


def decode_placeholders(text: str) -> str:
    """``text`` with :func:`prepare`'s placeholders turned back into the ``#name;`` codes they stand for."""
    return _NAMED_CODE.sub(r"#\1;", _NUMBER_CODE.sub(r"#\1;", text))


def source_position(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``source`` followed by the line break mermaid adds."""
    text = source + "\n"
    offset = min(offset, len(text))
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1
