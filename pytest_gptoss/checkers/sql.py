"""The ``sql`` checker: runs the answer's query and a reference query on SQLite.

Both queries are translated from the case's ``dialect`` to SQLite with sqlglot
(strictly: a feature SQLite lacks is reported, never silently dropped) and run,
each on its own fresh in-memory database built from the case's ``setup``, with
an authorizer that lets them only read and a deadline that stops runaway
queries. The result rows are compared as bags; order counts only when the
reference's outermost query has an ORDER BY.

Spec keys: ``setup``, ``reference`` (required), ``dialect``, ``ordered``,
``float_tol``, ``timeout``, ``column_order``, ``extra_columns``.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.blocks import FencedBlock, fenced_blocks
from pytest_gptoss.clipping import clip_words
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "sql"
REQUIRED = ("setup", "reference")
DEFAULTS: dict[str, Any] = {
    "dialect": "mysql",
    "ordered": None,
    "float_tol": 1e-6,
    "timeout": 5.0,
    "column_order": "strict",
    "extra_columns": False,
}
COLUMN_ORDERS = ("strict", "free")

#: a query that returns more rows than this fails (the reference: an error)
MAX_ROWS = 100_000
#: rows shown in an explanation, and kept as plain data in ``details``
SHOWN_ROWS = 10
DETAIL_ROWS = 50
#: column matchings tried with ``column_order: free`` or ``extra_columns``
MAX_MATCHINGS = 5_000
#: SQLite virtual-machine steps between two looks at the clock
PROGRESS_STEPS = 1_000

Row = tuple[Any, ...]
_T = TypeVar("_T")


# --------------------------------------------------------------------- spec


def validate(spec: Any) -> None:
    """Raise :class:`SpecError` unless ``spec`` is a well-formed ``sql`` spec."""
    check_keys(spec, (*REQUIRED, *DEFAULTS), name="sql",
               usage="the sql checker takes a mapping with at least 'setup' and 'reference'")
    for key in REQUIRED:
        if key not in spec:
            raise SpecError(f"'{key}' is required: {_REQUIRED_HELP[key]}", (key,))
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise SpecError(f"'{key}' must be a non-empty SQL string", (key,))
    if "dialect" in spec:
        _check_dialect(spec["dialect"])
    if "ordered" in spec and spec["ordered"] is not None and not isinstance(spec["ordered"], bool):
        raise SpecError(
            "'ordered' must be true or false (leave it out to follow the reference's ORDER BY)", ("ordered",)
        )
    if "float_tol" in spec and not _is_number(spec["float_tol"], minimum=0.0, strict=False):
        raise SpecError("'float_tol' must be a finite number >= 0", ("float_tol",))
    if "timeout" in spec and not _is_number(spec["timeout"], minimum=0.0, strict=True):
        raise SpecError("'timeout' must be a finite number of seconds > 0", ("timeout",))
    if "column_order" in spec and spec["column_order"] not in COLUMN_ORDERS:
        raise SpecError("'column_order' must be strict or free", ("column_order",))
    if "extra_columns" in spec and not isinstance(spec["extra_columns"], bool):
        raise SpecError("'extra_columns' must be true or false", ("extra_columns",))


_REQUIRED_HELP = {
    "setup": "the SQL that creates and fills the tables (CREATE TABLE ...; INSERT ...)",
    "reference": "the reference query whose rows the answer must reproduce",
}


def _check_dialect(name: Any) -> None:
    from sqlglot.dialects import DIALECTS

    known = sorted(d.lower() for d in DIALECTS)
    if not isinstance(name, str) or name.lower() not in known:
        close = difflib.get_close_matches(str(name).lower(), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SpecError(
            f"unknown SQL dialect {name!r}{hint}; known dialects: {', '.join(known)}", ("dialect",)
        )


def _is_number(value: Any, *, minimum: float, strict: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value > minimum if strict else value >= minimum


@dataclass(frozen=True)
class _Settings:
    setup: str
    reference: str
    dialect: str
    ordered: bool | None
    float_tol: float
    timeout: float
    free_order: bool
    extra_columns: bool


def _settings(spec: Mapping[str, Any]) -> _Settings:
    merged = {**DEFAULTS, **spec}
    return _Settings(
        setup=merged["setup"],
        reference=merged["reference"],
        dialect=merged["dialect"].lower(),
        ordered=merged["ordered"],
        float_tol=float(merged["float_tol"]),
        timeout=float(merged["timeout"]),
        free_order=merged["column_order"] == "free",
        extra_columns=merged["extra_columns"],
    )


# --------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Extracted:
    """The SQL taken from an answer, where it came from, and shorter fallbacks.

    ``fallbacks`` are trimmed versions of ``sql`` (prose after an unfenced
    query cut off), tried in order when ``sql`` itself does not parse.
    """

    sql: str
    where: str
    fallbacks: tuple[str, ...] = ()


_NOT_WORD_BEFORE = r"(?<![A-Za-z0-9_])"
_QUERY_START = (
    # "SELECT." or "SELECT," ends a word of prose; a query's SELECT goes on
    _NOT_WORD_BEFORE + r"(?:SELECT(?![A-Za-z0-9_])(?![ \t]*(?:[.,;:!?)\]}]|$))"
    r"|WITH\s+(?:RECURSIVE\s+)?[`\"\[]?[\w$]+[`\"\]]?\s*(?:\([^()]*\)\s*)?"
    r"AS\s*(?:(?:NOT\s+)?MATERIALIZED\s*)?\()"
)
_QUERY_ANYWHERE = re.compile(_QUERY_START, re.I)
_QUERY_LINE = re.compile(r"^[ \t]*" + _QUERY_START, re.I | re.M)
#: info strings that mark a fenced block as SQL
_SQL_TAGS = frozenset(
    "sql mysql mariadb sqlite sqlite3 postgres postgresql psql pgsql plpgsql tsql plsql duckdb "
    "bigquery snowflake oracle hive spark sparksql presto trino redshift clickhouse athena".split()
)


def extract_sql(text: str) -> Extracted | None:
    """Find the answer's SQL: a ```sql block, else another fenced block, else bare text.

    Among several candidate blocks the last one holding a SELECT/WITH query
    wins; without any fenced block, the text from the first SELECT/WITH on.
    """
    blocks = fenced_blocks(text)
    sql_blocks = [b for b in blocks if b.tag.lower() in _SQL_TAGS]
    if sql_blocks:
        with_query = [b for b in sql_blocks if _QUERY_ANYWHERE.search(b.body)]
        block = (with_query or sql_blocks)[-1]
        where = f"```{block.tag} block at line {block.line}"
        if len(sql_blocks) > 1:
            where += f" (block {sql_blocks.index(block) + 1} of {len(sql_blocks)})"
        return Extracted(block.body.strip(), where)
    other = [b for b in blocks if _QUERY_LINE.search(b.body)]
    if other:
        block = other[-1]
        label = f"```{block.tag} block" if block.tag else "fenced block"
        return Extracted(block.body.strip(), f"{label} at line {block.line}")
    # outside the fenced blocks: a block that holds no query lends none of its text to one
    outside = list(text)
    for block in blocks:
        outside[block.fence_start:block.fence_end] = [
            "\n" if char == "\n" else " " for char in text[block.fence_start:block.fence_end]]
    match = _QUERY_ANYWHERE.search("".join(outside))
    if match is None:
        return None
    stop = min((b.fence_start for b in blocks if b.fence_start > match.start()), default=len(text))
    sql = text[match.start():stop].strip()
    line = text.count("\n", 0, match.start()) + 1
    fallbacks: list[str] = []
    if ";" in sql and not sql.rstrip().endswith(";"):
        fallbacks.append(sql[: sql.rindex(";") + 1])
    paragraph = re.split(r"\n[ \t]*\n", sql, maxsplit=1)[0]
    if paragraph != sql and paragraph not in fallbacks:
        fallbacks.append(paragraph)
    beside = "no fenced block"
    if blocks:
        beside = f"outside the {describe_blocks(blocks)}, which {'holds' if len(blocks) == 1 else 'hold'} no query"
    where = f"the text from line {line} on ({beside})"
    return Extracted(sql, where, tuple(fallbacks))


def describe_blocks(blocks: list[FencedBlock]) -> str:
    """The answer's fenced blocks in a few words: ```python block at line 3 (unclosed), ..."""
    shown = [f"```{b.tag} block at line {b.line}{'' if b.closed else ' (unclosed)'}" for b in blocks[:3]]
    return ", ".join(shown) + (f" and {len(blocks) - 3} more" if len(blocks) > 3 else "")


# ---------------------------------------------------------- translation


class _Translation(Exception):
    """SQL that sqlglot could not parse or could not express in SQLite."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "parse", "unsupported" or "empty"
        self.message = message


@dataclass(frozen=True)
class _Statement:
    tree: Any  # the sqlglot expression, in the source dialect
    sqlite: str
    index: int  # 1-based position among the text's statements
    count: int


def _parse(sql: str, dialect: str) -> list[Any]:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        trees = sqlglot.parse(sql, read=dialect)
    except ParseError as exc:
        raise _Translation("parse", _parse_error_text(exc)) from None
    except TokenError as exc:
        raise _Translation("parse", _plain(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - sqlglot's own failures on odd text are the text's
        raise _Translation("parse", f"{type(exc).__name__}: {_plain(str(exc))}") from None
    return [tree for tree in trees if tree is not None]


def _to_sqlite(tree: Any, dialect: str) -> str:
    import sqlglot
    from sqlglot.errors import UnsupportedError

    try:
        return tree.sql(dialect="sqlite", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise _Translation("unsupported", f"{dialect} -> sqlite: {_plain(str(exc))}") from None
    except Exception as exc:  # noqa: BLE001
        message = f"{dialect} -> sqlite: {type(exc).__name__}: {_plain(str(exc))}"
        raise _Translation("unsupported", message) from None


def _query_statement(sql: str, dialect: str, *, last_resort: bool) -> _Statement:
    """The last SELECT/WITH statement of ``sql``, translated to SQLite.

    With ``last_resort``, text without a query yields its last statement
    instead (so that a DROP or PRAGMA answer meets the authorizer).
    """
    from sqlglot import exp

    # prose after a query can parse as a bare expression; it is no statement
    trees = [tree for tree in _parse(sql, dialect) if _is_statement(tree)]
    if not trees:
        raise _Translation("empty", "no statement, only an expression or prose")
    queries = [i for i, tree in enumerate(trees) if isinstance(tree, exp.Query) or tree.args.get("with")]
    if queries:
        index = queries[-1]
    elif last_resort:
        index = len(trees) - 1
    else:
        raise _Translation("empty", "no SELECT/WITH query")
    tree = trees[index]
    return _Statement(tree, _to_sqlite(tree, dialect), index + 1, len(trees))


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


# ---------------------------------------------------------------- order


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


# ------------------------------------------------------------- execution


class _QueryFailed(Exception):
    """A query SQLite refused, stopped or could not run."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "timeout", "denied", "rows" or "sqlite"
        self.message = message


@dataclass(frozen=True)
class _Result:
    columns: list[str]
    rows: list[Row]


_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_ACTION_NAMES = {
    1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX", 4: "CREATE TEMP TABLE",
    5: "CREATE TEMP TRIGGER", 6: "CREATE TEMP VIEW", 7: "CREATE TRIGGER", 8: "CREATE VIEW",
    9: "DELETE", 10: "DROP INDEX", 11: "DROP TABLE", 12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE",
    14: "DROP TEMP TRIGGER", 15: "DROP TEMP VIEW", 16: "DROP TRIGGER", 17: "DROP VIEW",
    18: "INSERT", 19: "PRAGMA", 22: "a transaction", 23: "UPDATE", 24: "ATTACH", 25: "DETACH",
    26: "ALTER TABLE", 27: "REINDEX", 28: "ANALYZE", 29: "CREATE VIRTUAL TABLE",
    30: "DROP VIRTUAL TABLE", 32: "SAVEPOINT",
}
_SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}


def _fetch_all(db: sqlite3.Connection, statement: str) -> list[Any]:
    return db.execute(statement).fetchall()


def _build_database(statements: list[str], timeout: float) -> sqlite3.Connection:
    """An in-memory database with ``statements`` run on it, no authorizer yet."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    for number, statement in enumerate(statements, 1):
        try:
            _with_deadline(db, timeout, functools.partial(_fetch_all, db, statement))
        except _QueryFailed as exc:
            db.close()
            message = f"statement {number} ({clip_words(statement, 80)}): {exc.message}"
            raise _QueryFailed(exc.kind, message) from None
    return db


def _run_readonly(base: sqlite3.Connection, sql: str, timeout: float) -> _Result:
    """Run ``sql`` on a fresh copy of ``base`` that it may only read."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        base.backup(db)
        # table-valued JSON functions are virtual tables that SQLite registers on
        # first use, a schema write the authorizer would refuse; register them now
        for function in ("json_each", "json_tree"):
            try:
                db.execute(f"SELECT 1 FROM {function}('[]')").fetchall()
            except sqlite3.Error:
                pass
        denied: list[str] = []

        def authorize(action: int, arg1: str | None, arg2: str | None, *_where: str | None) -> int:
            if action in _READ_ACTIONS:
                return sqlite3.SQLITE_OK
            denied.append(_describe_denial(action, arg1, arg2))
            return sqlite3.SQLITE_DENY

        db.set_authorizer(authorize)

        def fetch() -> _Result:
            cursor = db.execute(sql)
            rows = cursor.fetchmany(MAX_ROWS + 1)
            if len(rows) > MAX_ROWS:
                raise _QueryFailed("rows", f"the query returns more than {MAX_ROWS} rows")
            columns = [d[0] for d in cursor.description or ()]
            return _Result(columns, [tuple(r) for r in rows])

        try:
            return _with_deadline(db, timeout, fetch)
        except _QueryFailed as exc:
            if denied and exc.kind == "sqlite":
                raise _QueryFailed("denied", f"SQLite refused {denied[0]}") from None
            raise
    finally:
        db.close()


def _with_deadline(db: sqlite3.Connection, timeout: float, work: Callable[[], _T]) -> _T:
    """``work()``, interrupted once ``timeout`` seconds of SQLite work have passed."""
    deadline = time.monotonic() + timeout
    stopped: list[bool] = []

    def progress() -> int:
        if time.monotonic() > deadline:
            stopped.append(True)
            return 1
        return 0

    db.set_progress_handler(progress, PROGRESS_STEPS)
    try:
        return work()
    except (sqlite3.Error, sqlite3.Warning, ValueError) as exc:
        if stopped:
            raise _QueryFailed(
                "timeout", f"still running after {timeout:g} s and stopped (a recursive CTE that never ends?)"
            ) from None
        raise _QueryFailed("sqlite", str(exc)) from None
    except (MemoryError, OverflowError) as exc:
        raise _QueryFailed("sqlite", f"{type(exc).__name__}: {exc}") from None
    finally:
        db.set_progress_handler(None, PROGRESS_STEPS)


def _describe_denial(action: int, arg1: str | None, arg2: str | None) -> str:
    name = _ACTION_NAMES.get(action, f"action {action}")
    if arg1 in _SCHEMA_TABLES:
        if action == 23 and arg2 in ("type", "name"):
            return "a PRAGMA function or virtual table"
        return f"a schema change ({name} on {arg1})"
    if action == 19:
        return f"PRAGMA {arg1}" + (f"({arg2})" if arg2 else "")
    if action in (9, 18, 23) and arg1:
        return f"{name} on table {arg1}"
    return f"{name} {arg1}" if arg1 and action not in (22, 32) else name


# ------------------------------------------------------------ comparison


def same_value(a: Any, b: Any, float_tol: float = 1e-6) -> bool:
    """SQLite values equal, numbers within ``float_tol`` (absolute or relative)."""
    a_number = isinstance(a, (int, float)) and not isinstance(a, bool)
    b_number = isinstance(b, (int, float)) and not isinstance(b, bool)
    if a_number and b_number:
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        x, y = float(a), float(b)
        if x == y or (math.isnan(x) and math.isnan(y)):
            return True
        if math.isinf(x) or math.isinf(y) or math.isnan(x) or math.isnan(y):
            return False
        diff = abs(x - y)
        return diff <= float_tol or diff <= float_tol * max(abs(x), abs(y))
    if a_number or b_number:
        return False
    return type(a) is type(b) and a == b


def _same_row(a: Row, b: Row, float_tol: float) -> bool:
    return len(a) == len(b) and all(same_value(x, y, float_tol) for x, y in zip(a, b))


def _exact_key(row: Row) -> tuple[Any, ...]:
    key: list[tuple[Any, ...]] = []
    for value in row:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            key.append(("n", int(value)))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            key.append(("n", value))
        elif value is None:
            key.append(("null",))
        else:
            key.append((type(value).__name__, value))
    return tuple(key)


def _bag_difference(
    expected: Sequence[Row], found: Sequence[Row], float_tol: float
) -> tuple[list[Row], list[Row]]:
    """Rows of ``expected`` not matched in ``found`` (missing), and the reverse (extra)."""
    unmatched: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index, row in enumerate(found):
        unmatched[_exact_key(row)].append(index)
    used = [False] * len(found)
    missing: list[Row] = []
    for row in expected:
        indices = unmatched.get(_exact_key(row))
        if indices:
            used[indices.pop()] = True
        else:
            missing.append(row)
    extra_indices = [i for i, taken in enumerate(used) if not taken]
    still_missing: list[Row] = []
    for row in missing:
        for position, index in enumerate(extra_indices):
            if _same_row(row, found[index], float_tol):
                del extra_indices[position]
                break
        else:
            still_missing.append(row)
    return still_missing, [found[i] for i in extra_indices]


def compare_rows(
    expected: Sequence[Sequence[Any]],
    found: Sequence[Sequence[Any]],
    *,
    ordered: bool,
    float_tol: float = 1e-6,
    tie_columns: Sequence[int] | None = None,
) -> str | None:
    """None when ``found`` holds the rows of ``expected``, else why it does not.

    Rows are compared as bags (multisets); with ``ordered`` their sequence
    counts too, except that rows of ``expected`` which tie on ``tie_columns``
    (the ORDER BY columns) may come in any order among themselves.
    """
    expected_rows = [tuple(r) for r in expected]
    found_rows = [tuple(r) for r in found]
    missing, extra = _bag_difference(expected_rows, found_rows, float_tol)
    if missing or extra:
        parts = []
        if len(expected_rows) != len(found_rows):
            parts.append(f"{len(expected_rows)} rows expected, {len(found_rows)} found")
        if missing:
            parts.append(_rows_phrase(missing, "missing"))
        if extra:
            parts.append(_rows_phrase(extra, "extra"))
        return "; ".join(parts)
    if not ordered:
        return None
    for start, end in _tie_runs(expected_rows, tie_columns, float_tol):
        run = expected_rows[start:end]
        for index in range(start, end):
            here = found_rows[index]
            match = next((i for i, row in enumerate(run) if _same_row(row, here, float_tol)), None)
            if match is None:
                return (
                    f"order differs at row {index + 1}: expected {_format_row(expected_rows[index])}, "
                    f"found {_format_row(found_rows[index])}"
                )
            del run[match]
    return None


def _tie_runs(
    rows: list[Row], tie_columns: Sequence[int] | None, float_tol: float
) -> Iterator[tuple[int, int]]:
    """Spans of rows that tie on ``tie_columns`` (each row alone without them)."""
    if tie_columns is None:
        yield from ((i, i + 1) for i in range(len(rows)))
        return
    start = 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or not all(
            same_value(rows[start][c], rows[index][c], float_tol) for c in tie_columns
        ):
            yield start, index
            start = index


def _rows_phrase(rows: list[Row], kind: str) -> str:
    shown = ", ".join(_format_row(r) for r in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    if kind == "missing":
        return f"row {shown} missing" if len(rows) == 1 else f"{len(rows)} rows missing: {shown}{more}"
    return f"extra row {shown}" if len(rows) == 1 else f"{len(rows)} extra rows: {shown}{more}"


# ---------------------------------------------------------- column matching


def _matchings(
    expected: _Result, found: _Result, *, free_order: bool, extra_columns: bool, float_tol: float
) -> Iterator[tuple[int, ...]]:
    """Ways to pick the found columns standing for the expected ones, likeliest first."""
    width, found_width = len(expected.columns), len(found.columns)
    if not free_order and not extra_columns:
        yield tuple(range(width))
        return
    if len(expected.rows) != len(found.rows):
        return  # no choice of columns can make the row counts agree
    allowed = []
    for j in range(width):
        column = [(row[j],) for row in expected.rows]
        candidates = [
            k for k in range(found_width)
            if _bag_difference(column, [(row[k],) for row in found.rows], float_tol) == ([], [])
        ]
        same_name = [k for k in candidates if found.columns[k].lower() == expected.columns[j].lower()]
        allowed.append(same_name + [k for k in candidates if k not in same_name])

    def extend(prefix: list[int]) -> Iterator[tuple[int, ...]]:
        j = len(prefix)
        if j == width:
            yield tuple(prefix)
            return
        for k in allowed[j]:
            if k in prefix or (not free_order and prefix and k <= prefix[-1]):
                continue
            yield from extend([*prefix, k])

    for count, matching in enumerate(extend([])):
        if count >= MAX_MATCHINGS:
            return
        yield matching


def _likely_matching(
    expected: _Result, found: _Result, *, free_order: bool, extra_columns: bool
) -> tuple[int, ...]:
    """The matching to explain a failure with: same names first, else position."""
    width = len(expected.columns)
    if not free_order and not extra_columns:
        return tuple(range(width))
    lowered = [c.lower() for c in found.columns]
    chosen: list[int] = []
    for name in expected.columns:
        k = lowered.index(name.lower()) if name.lower() in lowered else -1
        if k < 0 or k in chosen:
            k = next(i for i in range(len(found.columns)) if i not in chosen)
        chosen.append(k)
    return tuple(chosen)


def _project(rows: list[Row], matching: tuple[int, ...]) -> list[Row]:
    return [tuple(row[k] for k in matching) for row in rows]


# ---------------------------------------------------------------- verdict


def judge(spec: Mapping[str, Any], text: str) -> Verdict:
    """Run the answer's SQL and the reference on fresh SQLite copies and compare rows."""
    try:
        validate(spec)
    except SpecError as exc:
        return _error("the sql check's spec", f"bad spec: {exc.message}")
    settings = _settings(spec)

    # the case's own SQL first: when it is broken, no answer can be judged
    try:
        setup = [_to_sqlite(tree, settings.dialect) for tree in _parse(settings.setup, settings.dialect)]
    except _Translation as exc:
        return _error("the setup to translate to SQLite", f"setup {_translation_why(exc)}")
    try:
        reference = _query_statement(settings.reference, settings.dialect, last_resort=False)
    except _Translation as exc:
        return _error("the reference to translate to SQLite", f"reference {_translation_why(exc)}")
    has_order, tie_columns = reference_order(reference.tree)
    ordered = has_order if settings.ordered is None else settings.ordered
    if not has_order:
        tie_columns = None
    try:
        base = _build_database(setup, settings.timeout)
    except _QueryFailed as exc:
        return _error("the setup to run on SQLite", f"setup fails on SQLite: {exc.message}")
    try:
        try:
            expected = _run_readonly(base, reference.sqlite, settings.timeout)
        except _QueryFailed as exc:
            return _error(
                f"the reference to run: {clip_words(reference.sqlite, 200)}",
                f"reference fails on SQLite: {exc.message}",
            )
        return _judge_answer(settings, text, base, expected, ordered, tie_columns)
    finally:
        base.close()


def _judge_answer(
    settings: _Settings,
    text: str,
    base: sqlite3.Connection,
    expected: _Result,
    ordered: bool,
    tie_columns: list[int] | None,
) -> Verdict:
    order_word = "in this order" if ordered else "in any order"
    expected_text = _describe_result(expected, order_word)
    details: dict[str, Any] = {
        "ordered": ordered,
        "expected_columns": list(expected.columns),
        "expected_rows": _plain_rows(expected.rows),
        "expected_row_count": len(expected.rows),
    }

    def verdict(passed: bool, found: str, where: str, why: str) -> Verdict:
        return Verdict(
            passed=passed, checker=NAME, expected=expected_text, found=found, where=where, why=why, details=details,
        )

    extracted = extract_sql(text)
    if extracted is None:
        blocks = fenced_blocks(text)
        why = "no SQL query in the answer"
        if blocks:
            why += f": no ```sql block, none in the {describe_blocks(blocks)}, none in the prose"
        return verdict(False, clip_words(text, 200) or "(an empty answer)", "", why)
    details["sql"] = extracted.sql
    statement = None
    failure: _Translation | None = None
    for candidate in (extracted.sql, *extracted.fallbacks):
        try:
            statement = _query_statement(candidate, settings.dialect, last_resort=True)
        except _Translation as exc:
            failure = failure or exc
            continue
        details["sql"] = candidate
        break
    sql_line = f"SQL: {clip_words(details['sql'], 300)}"
    if statement is None:
        assert failure is not None
        return verdict(False, sql_line, extracted.where, f"SQL {_translation_why(failure)}")
    where = extracted.where
    if statement.count > 1:
        where += f", statement {statement.index} of {statement.count}"
    details["sqlite"] = statement.sqlite
    try:
        result = _run_readonly(base, statement.sqlite, settings.timeout)
    except _QueryFailed as exc:
        return verdict(False, sql_line, where, _failure_why(exc, statement))
    details["found_columns"] = list(result.columns)
    details["found_rows"] = _plain_rows(result.rows)
    details["found_row_count"] = len(result.rows)
    found_text = sql_line + "\n" + _describe_result(result, "")

    width, found_width = len(expected.columns), len(result.columns)
    if found_width < width or (found_width > width and not settings.extra_columns):
        why = f"column count {found_width} vs {width} expected"
        if found_width > width:
            why += " (extra columns are not allowed here; extra_columns: true allows them)"
        return verdict(False, found_text, where, why)

    for matching in _matchings(
        expected, result, free_order=settings.free_order, extra_columns=settings.extra_columns,
        float_tol=settings.float_tol,
    ):
        projected = _project(result.rows, matching)
        if compare_rows(expected.rows, projected, ordered=ordered, float_tol=settings.float_tol,
                        tie_columns=tie_columns) is None:
            details["column_matching"] = list(matching)
            return verdict(True, found_text, where, "")

    if (
        not settings.free_order
        and width > 1
        and _matches_in_other_order(expected, result, settings, ordered, tie_columns)
    ):
        why = (
            f"columns in another order: found ({', '.join(result.columns)}), expected "
            f"({', '.join(expected.columns)}); column_order: free allows that"
        )
        return verdict(False, found_text, where, why)
    matching = _likely_matching(
        expected, result, free_order=settings.free_order, extra_columns=settings.extra_columns
    )
    mismatch = compare_rows(expected.rows, _project(result.rows, matching), ordered=ordered,
                            float_tol=settings.float_tol, tie_columns=tie_columns)
    # None only when the search for a matching was cut short
    why = mismatch if mismatch is not None else f"no matching of columns found within {MAX_MATCHINGS} tries"
    if matching != tuple(range(width)):
        names = ", ".join(result.columns[k] for k in matching)
        why = f"comparing found columns ({names}): {why}"
    return verdict(False, found_text, where, why)


def _matches_in_other_order(
    expected: _Result, result: _Result, settings: _Settings, ordered: bool, tie_columns: list[int] | None
) -> bool:
    for matching in _matchings(expected, result, free_order=True, extra_columns=settings.extra_columns,
                               float_tol=settings.float_tol):
        projected = _project(result.rows, matching)
        if compare_rows(expected.rows, projected, ordered=ordered, float_tol=settings.float_tol,
                        tie_columns=tie_columns) is None:
            return True
    return False


def _failure_why(exc: _QueryFailed, statement: _Statement) -> str:
    if exc.kind == "denied":
        verb = statement.tree.key.upper()
        return f"{verb} denied: the query may only read the tables; {exc.message}"
    if exc.kind == "timeout":
        return f"timeout: the query was {exc.message}"
    if exc.kind == "rows":
        return exc.message
    return f"SQL fails on SQLite: {exc.message}"


def _translation_why(exc: _Translation) -> str:
    if exc.kind == "parse":
        return f"does not parse: {exc.message}"
    if exc.kind == "unsupported":
        return f"uses what SQLite cannot do ({exc.message})"
    return f"holds {exc.message}"


def _error(expected: str, why: str) -> Verdict:
    return Verdict(passed=False, checker=NAME, expected=expected, found="", where="", why=why, error=True)


def _describe_result(result: _Result, order_word: str) -> str:
    count = len(result.rows)
    head = f"{count} row{'' if count == 1 else 's'}"
    if order_word:
        head += f" {order_word}"
    head += f", columns ({', '.join(result.columns)})"
    lines = [head + (":" if count else "")]
    lines.extend(f"  {_format_row(row)}" for row in result.rows[:SHOWN_ROWS])
    if count > SHOWN_ROWS:
        lines.append(f"  ... and {count - SHOWN_ROWS} more")
    return "\n".join(lines)


def _format_row(row: Row) -> str:
    values = [_format_value(v) for v in row]
    return "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"


def _format_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_rows(rows: list[Row]) -> list[list[Any]]:
    return [[v.hex() if isinstance(v, bytes) else v for v in row] for row in rows[:DETAIL_ROWS]]


def parse(spec: Any) -> Mapping[str, Any]:
    validate(spec)
    return spec


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
