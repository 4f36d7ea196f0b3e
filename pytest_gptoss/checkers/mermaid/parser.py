"""The built-in parser: mermaid 11's flowchart grammar (its ``flow.jison``), by recursive descent.

With :mod:`.lexer`, a port of mermaid's own lexer, it rejects what mermaid
rejects: unquoted ``( ) [ ] { } |`` inside a label (``A[len(arr)]`` needs
``A["len(arr)"]``), a node named ``end``, a comment after a statement,
lower-case directions; and its errors name the line, the column and the
tokens expected as mermaid's do. It does not check ``@{shape: ...}`` names
against mermaid's list, and treats ``click`` lines loosely. What the
statements amount to is :mod:`.database`'s to decide.
"""

from __future__ import annotations

import re

from pytest_gptoss.checkers.mermaid.database import FlowDb, Link, arrow
from pytest_gptoss.checkers.mermaid.flowchart import Flowchart, MermaidSyntaxError
from pytest_gptoss.checkers.mermaid.lexer import Token, tokenize
from pytest_gptoss.checkers.mermaid.source import prepare, source_position

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


class _Parser:
    """Parses cleaned flowchart source the way mermaid 11 does, handing each statement to a :class:`FlowDb`."""

    def __init__(self, source: str) -> None:
        self.source = source
        prepared, self.origin = prepare(source)
        self.tokens = tokenize(prepared)
        self.index = 0
        self.db = FlowDb()

    # tokens

    def peek(self, ahead: int = 0) -> Token:
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        if token.kind == "LEXERROR" and ahead == 0:
            line, column = self.position(token.start)
            shown = token.text.split("\n")[0]
            raise MermaidSyntaxError(
                f"Lexical error on line {line}, column {column}: unrecognized text {shown!r}",
                line, column, (), shown,
            )
        return token

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, *kinds: str) -> Token:
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
            self.db.set_direction("TB")
        else:
            self.db.set_direction(token.text)
            if self.peek().kind == "SPACE":
                self.spaces()
                self.expect("NEWLINE")
            else:
                self.expect("SEMI", "NEWLINE", "SPACE")
        self.document(inside=False)
        self.expect("$end")
        return self.db.flowchart()

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
            self.db.add_links(group, following, link)
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
        self.db.add_vertex(vertex_id, text, shape)
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

    def link(self) -> Link:
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
            return Link(arrow(token.text), text, link_id)
        if self.peek().kind not in ("EDGE_TEXT", "UNICODE_TEXT", "STR", "MD_STR"):
            self.fail(("EDGE_TEXT", "UNICODE_TEXT", "STR", "MD_STR"))
        parts = [self.take().text]
        while self.peek().kind in _EDGE_TEXT_TOKENS:
            parts.append(self.take().text)
        end = self.expect("LINK")
        return Link(arrow(end.text, token.text), "".join(parts), link_id)

    def shape_data(self, vertex_id: str) -> None:
        import yaml

        first = self.peek()
        data = ""
        while self.peek().kind == "SHAPE_DATA":
            data += self.take().text
        line, column = self.position(first.start)
        if vertex_id in self.db.edge_ids:
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
        shape = str(values["shape"]) if values.get("shape") else None
        if shape is not None and (shape != shape.lower() or "_" in shape):
            raise MermaidSyntaxError(f"No such shape: {shape}. Shape names should be lowercase.", line, column)
        self.db.set_shape_data(vertex_id, shape, str(values["label"]) if values.get("label") else None)

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
        return [self.db.add_subgraph(sub_id, title, ids)]

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
        self.db.add_vertex(vertex_id, None, None)

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
                if number.text != str(int(number.text)) or int(number.text) >= len(self.db.edges):
                    line, column = self.position(number.start)
                    raise MermaidSyntaxError(
                        f"linkStyle {number.text} on line {line}, column {column} styles a link that does not "
                        f"exist: {len(self.db.edges)} links come before it (mermaid fails: Cannot set properties "
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


def parse_builtin(source: str) -> Flowchart:
    """Parse cleaned flowchart source with the built-in parser; raises :class:`MermaidSyntaxError`."""
    return _Parser(source).parse()
