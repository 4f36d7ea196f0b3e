"""SQL read with sqlglot: parsed in the case's dialect, translated to SQLite strictly, its ORDER BY found.

Strictly means that a feature SQLite lacks is reported (:class:`Untranslatable`),
never silently dropped. sqlglot is imported inside the functions that need it,
so importing this module (and the plugin) does not load it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class Untranslatable(Exception):
    """SQL that sqlglot could not parse or could not express in SQLite."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "parse", "unsupported" or "empty"
        self.message = message

    def why(self) -> str:
        """What is wrong, worded to follow the SQL's name: "reference does not parse: ..."."""
        if self.kind == "parse":
            return f"does not parse: {self.message}"
        if self.kind == "unsupported":
            return f"uses what SQLite cannot do ({self.message})"
        return f"holds {self.message}"


@dataclass(frozen=True)
class Statement:
    """One statement of a text, translated to SQLite."""

    tree: Any  # the sqlglot expression, in the source dialect
    sqlite: str
    index: int  # 1-based position among the text's statements
    count: int


def known_dialects() -> list[str]:
    """The dialects sqlglot reads, lowercased and sorted."""
    from sqlglot.dialects import DIALECTS

    return sorted(d.lower() for d in DIALECTS)


def parse_sql(sql: str, dialect: str) -> list[Any]:
    """Every statement of ``sql`` as a sqlglot tree, or :class:`Untranslatable` ("parse")."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        trees = sqlglot.parse(sql, read=dialect)
    except ParseError as exc:
        raise Untranslatable("parse", _parse_error_text(exc)) from None
    except TokenError as exc:
        raise Untranslatable("parse", _plain(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - sqlglot's own failures on odd text are the text's
        raise Untranslatable("parse", f"{type(exc).__name__}: {_plain(str(exc))}") from None
    return [tree for tree in trees if tree is not None]


def to_sqlite(tree: Any, dialect: str) -> str:
    """``tree`` written as SQLite, or :class:`Untranslatable` ("unsupported")."""
    import sqlglot
    from sqlglot.errors import UnsupportedError

    try:
        return tree.sql(dialect="sqlite", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise Untranslatable("unsupported", f"{dialect} -> sqlite: {_plain(str(exc))}") from None
    except Exception as exc:  # noqa: BLE001
        message = f"{dialect} -> sqlite: {type(exc).__name__}: {_plain(str(exc))}"
        raise Untranslatable("unsupported", message) from None


def query_statement(sql: str, dialect: str, *, last_resort: bool) -> Statement:
    """The last SELECT/WITH statement of ``sql``, translated to SQLite.

    With ``last_resort``, text without a query yields its last statement
    instead (so that a DROP or PRAGMA answer meets the authorizer).
    """
    from sqlglot import exp

    # prose after a query can parse as a bare expression; it is no statement
    trees = [tree for tree in parse_sql(sql, dialect) if _is_statement(tree)]
    if not trees:
        raise Untranslatable("empty", "no statement, only an expression or prose")
    queries = [i for i, tree in enumerate(trees) if isinstance(tree, exp.Query) or tree.args.get("with")]
    if queries:
        index = queries[-1]
    elif last_resort:
        index = len(trees) - 1
    else:
        raise Untranslatable("empty", "no SELECT/WITH query")
    tree = trees[index]
    return Statement(tree, to_sqlite(tree, dialect), index + 1, len(trees))


def _is_statement(tree: Any) -> bool:
    """Whether a parsed tree is an SQL statement rather than a bare expression."""
    from sqlglot import exp

    if tree.args.get("with") is not None:
        return True
    kinds = (exp.Query, exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.Pragma, exp.Attach, exp.Detach,
             exp.Command, exp.Set, exp.Use, exp.Transaction, exp.Commit, exp.Rollback)
    return isinstance(tree, kinds)


def _parse_error_text(exc: Any) -> str:
    errors = getattr(exc, "errors", None) or []
    if not errors:
        return _plain(str(exc))
    first = errors[0]
    text = f"{first.get('description', 'invalid SQL')} at line {first.get('line')}, col {first.get('col')}"
    if first.get("highlight"):
        text += f" near {first['highlight']!r}"
    return text


def _plain(message: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", message).strip()


def reference_order(tree: Any) -> tuple[bool, list[int] | None]:
    """Whether the outermost query orders its rows, and by which output columns.

    An ORDER BY inside a subquery, a CTE or a window does not count. With a
    column list, rows that tie on those columns may come in any order among
    themselves; it is None when some ORDER BY term is not an output column.
    """
    from sqlglot import exp

    node = tree
    while True:
        order = node.args.get("order")
        if order is not None and order.expressions:
            break
        if isinstance(node, exp.Subquery) and not node.alias:
            node = node.this
            continue
        return False, None
    selects = list(getattr(node, "selects", []) or [])
    names = [s.alias_or_name.lower() for s in selects]
    columns: list[int] = []
    for ordered in order.expressions:
        term = ordered.this
        index = _output_column(term, selects, names)
        if index is None:
            return True, None
        columns.append(index)
    return True, columns


def _output_column(term: Any, selects: list[Any], names: list[str]) -> int | None:
    from sqlglot import exp

    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in selects):
        return None
    if isinstance(term, exp.Literal) and not term.is_string:
        try:
            position = int(term.this)
        except ValueError:
            return None
        return position - 1 if 1 <= position <= len(selects) else None
    if isinstance(term, exp.Column) and not term.table and term.name.lower() in names:
        return names.index(term.name.lower())
    for index, select in enumerate(selects):
        if select.unalias() == term:
            return index
    return None
