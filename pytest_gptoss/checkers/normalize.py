r"""The normalized view of an answer that the text-matching checkers read.

Markup hides facts from assertions written for prose, so the view drops it:
Markdown emphasis, headers, quotes and table pipes; LaTeX wrappers
(``\mathbf{}``, ``\textbf{}``, ``\text{}``, ``\boxed{}``, ``$...$``,
``\(...\)``, ``\[...\]``); HTML entities; full-width forms (NFKC). A table row
reads as "label: value" (``| 隐藏层维度 | 3072 |`` is ``隐藏层维度: 3072``) and a
separator row as nothing. Every character of the view remembers the span of
the original it came from, so a verdict's "where" points into the answer.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: LaTeX commands whose braces are dropped and whose argument is kept
WRAPPERS = (
    "mathbf", "textbf", "text", "boxed", "fbox", "mathrm", "textrm", "mathit", "textit",
    "emph", "bm", "boldsymbol", "operatorname", "underline", "mbox",
)
_SYMBOLS = {
    "times": "×", "cdot": "·", "approx": "≈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "neq": "≠", "ne": "≠", "div": "÷", "pm": "±", "to": "→", "rightarrow": "→", "Rightarrow": "⇒",
    "%": "%", ",": " ", ";": " ", ":": " ", " ": " ", "quad": " ", "qquad": " ", "!": "",
    "left": "", "right": "",
}
# A sentence ends at Chinese or Western end punctuation, or a line break; a
# full stop only when followed by a space or the end, so 3.14 stays whole.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.(?=\s|$)")

# A piece of a rewrite: (start, end) keeps those characters of the current view;
# (text, start, end) puts new text that stands for that span of it.
_Piece = tuple[int, int] | tuple[str, int, int]


@dataclass(frozen=True)
class View:
    """The normalized text and, per character, the original span it stands for."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    length: int

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``text[start:end]`` came from."""
        if start >= len(self.starts):
            return self.length, self.length
        if end <= start:
            return self.starts[start], self.starts[start]
        return self.starts[start], self.ends[end - 1]


@dataclass(frozen=True)
class Sentence:
    """A sentence of a view: its span in the original text and its view text, casefolded."""

    start: int
    end: int
    folded: str


def view(text: str, *, width: bool = True) -> View:
    """The normalized view of ``text``; ``width=False`` keeps full-width forms as they are."""
    chars = list(text)
    starts = list(range(len(text)))
    ends = list(range(1, len(text) + 1))
    state = (chars, starts, ends)
    for step in _STEPS:
        if width or step is not _width:
            state = step(*state)
    chars, starts, ends = state
    return View("".join(chars), tuple(starts), tuple(ends), len(text))


def sentences(text: str) -> list[Sentence]:
    """The sentences of ``text``'s normalized view, with their spans in ``text``."""
    seen = view(text)
    out: list[Sentence] = []
    start = 0
    for match in _SENTENCE_END.finditer(seen.text):
        _add(out, seen, start, match.end())
        start = match.end()
    _add(out, seen, start, len(seen.text))
    return out


def _add(out: list[Sentence], seen: View, start: int, end: int) -> None:
    piece = seen.text[start:end]
    stripped = piece.strip(" \t\r\n*#>-|`。！？!?；;.:")
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece.rstrip())
    lo, hi = seen.original(start + lead, start + max(trail, lead + 1))
    out.append(Sentence(lo, hi, unicodedata.normalize("NFKC", piece).casefold()))


def closing_brace(text: str, start: int) -> int | None:
    """The index of the ``}`` that closes a brace opened just before ``start``, by brace counting."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None


# -- rewriting ----------------------------------------------------------------

_State = tuple[list[str], list[int], list[int]]


def _rewrite(
    pattern: re.Pattern[str], pieces: Callable[[re.Match[str]], Sequence[_Piece] | None]
) -> Callable[..., _State]:
    def step(chars: list[str], starts: list[int], ends: list[int]) -> _State:
        text = "".join(chars)
        out_c: list[str] = []
        out_s: list[int] = []
        out_e: list[int] = []
        at = 0
        for match in pattern.finditer(text):
            replacement = pieces(match)
            if replacement is None:
                continue
            out_c += chars[at:match.start()]
            out_s += starts[at:match.start()]
            out_e += ends[at:match.start()]
            for piece in replacement:
                if len(piece) == 2:
                    lo, hi = piece
                    out_c += chars[lo:hi]
                    out_s += starts[lo:hi]
                    out_e += ends[lo:hi]
                else:
                    new, lo, hi = piece
                    hi = max(hi, lo + 1)
                    out_c += list(new)
                    out_s += [starts[min(lo, len(starts) - 1)]] * len(new)
                    out_e += [ends[min(hi, len(ends)) - 1]] * len(new)
            at = match.end()
        out_c += chars[at:]
        out_s += starts[at:]
        out_e += ends[at:]
        return out_c, out_s, out_e

    return step


def _keep(group: int) -> Callable[[re.Match[str]], list[_Piece]]:
    return lambda m: [m.span(group)]


def _entity(match: re.Match[str]) -> list[_Piece] | None:
    folded = html.unescape(match.group())
    return None if folded == match.group() else [(folded, *match.span())]


_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _table(match: re.Match[str]) -> list[_Piece]:
    """A table block: a row of two cells reads "label: value"; under a header of
    three or more columns, a row reads "header: cell; header: cell"."""
    rows = []
    at = match.start()
    for line in match.group().splitlines(keepends=True):
        rows.append((at, at + len(line.rstrip("\r\n")), at + len(line)))
        at += len(line)
    text = match.string
    header: list[tuple[int, int]] = []
    if len(rows) > 1 and _SEPARATOR_ROW.match(text[rows[1][0]:rows[1][1]]):
        header = _cells(text, rows[0][0], rows[0][1])
    pieces: list[_Piece] = []
    for start, end, line_end in rows:
        cells = _cells(text, start, end)
        if _SEPARATOR_ROW.match(text[start:end]):
            cells = []
        labelled = len(header) >= 3 and len(cells) == len(header) and (start, end) != rows[0][:2]
        for index, cell in enumerate(cells):
            if labelled:
                if index:
                    pieces.append(("; ", cell[0] - 1, cell[0]))
                pieces.append(header[index])
                pieces.append((": ", cell[0] - 1, cell[0]))
            elif index:
                pieces.append((": " if index == 1 else "; ", cell[0] - 1, cell[0]))
            pieces.append(cell)
        pieces.append((end, line_end))
    return pieces


def _cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cells = []
    for cell in re.finditer(r"[^|]+", text[start:end]):
        lead = len(cell.group()) - len(cell.group().lstrip())
        if cell.group().strip():
            cells.append((start + cell.start() + lead, start + cell.start() + len(cell.group().rstrip())))
    return cells


def _latex_wrappers(chars: list[str], starts: list[int], ends: list[int]) -> _State:
    text = "".join(chars)
    drop: set[int] = set()
    for match in re.finditer(r"\\(?:" + "|".join(WRAPPERS) + r")\s*\{", text):
        close = closing_brace(text, match.end())
        if close is not None:
            drop.update(range(match.start(), match.end()))
            drop.add(close)
    keep = [i for i in range(len(chars)) if i not in drop]
    return [chars[i] for i in keep], [starts[i] for i in keep], [ends[i] for i in keep]


def _symbol(match: re.Match[str]) -> list[_Piece] | None:
    name = match.group(1)
    return [(_SYMBOLS[name], *match.span())] if name in _SYMBOLS else None


def _width(chars: list[str], starts: list[int], ends: list[int]) -> _State:
    out_c: list[str] = []
    out_s: list[int] = []
    out_e: list[int] = []
    for char, start, end in zip(chars, starts, ends):
        folded = unicodedata.normalize("NFKC", char) if not char.isascii() else char
        out_c += list(folded)
        out_s += [start] * len(folded)
        out_e += [end] * len(folded)
    return out_c, out_s, out_e


_STEPS: tuple[Callable[..., _State], ...] = (
    _rewrite(re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{2,8});"), _entity),
    _width,
    _rewrite(re.compile(r"(?:^[ \t]*\|.*\|[ \t]*(?:\n|$))+", re.M), _table),
    _rewrite(re.compile(r"^[ \t]{0,3}(?:#{1,6}|>+)[ \t]+", re.M), lambda m: [("", m.start(), m.start())]),
    _latex_wrappers,
    _rewrite(re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S),
             lambda m: [m.span(1) if m.group(1) is not None else m.span(2)]),
    _rewrite(re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?!\w)|\\\((.+?)\\\)"),
             lambda m: [m.span(1) if m.group(1) is not None else m.span(2)]),
    _rewrite(re.compile(r"\\([A-Za-z]+|[%,;:! ])"), _symbol),
    _rewrite(re.compile(r"\*\*(.+?)\*\*", re.S), _keep(1)),
    _rewrite(re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])"), _keep(1)),
)
