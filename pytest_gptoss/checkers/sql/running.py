"""Running SQL on SQLite: an in-memory database built from the setup, queries that may only read it, a deadline.

Each query runs on a fresh copy of the database, with an authorizer that
denies everything but reading (ATTACH, PRAGMA and writes included) and a
progress handler that stops it once its time is up.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pytest_gptoss.checkers.sql.rows import Result
from pytest_gptoss.clipping import clip_words

#: a query that returns more rows than this fails (the reference: an error)
MAX_ROWS = 100_000
#: SQLite virtual-machine steps between two looks at the clock
PROGRESS_STEPS = 1_000

_T = TypeVar("_T")


class QueryFailed(Exception):
    """A query SQLite refused, stopped or could not run."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "timeout", "denied", "rows" or "sqlite"
        self.message = message


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


def build_database(statements: tuple[str, ...], timeout: float) -> sqlite3.Connection:
    """An in-memory database with ``statements`` run on it, no authorizer yet."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    for number, statement in enumerate(statements, 1):
        try:
            _with_deadline(db, timeout, functools.partial(_fetch_all, db, statement))
        except QueryFailed as exc:
            db.close()
            message = f"statement {number} ({clip_words(statement, 80)}): {exc.message}"
            raise QueryFailed(exc.kind, message) from None
    return db


def run_readonly(base: sqlite3.Connection, sql: str, timeout: float) -> Result:
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

        def fetch() -> Result:
            cursor = db.execute(sql)
            rows = cursor.fetchmany(MAX_ROWS + 1)
            if len(rows) > MAX_ROWS:
                raise QueryFailed("rows", f"the query returns more than {MAX_ROWS} rows")
            columns = [d[0] for d in cursor.description or ()]
            return Result(columns, [tuple(r) for r in rows])

        try:
            return _with_deadline(db, timeout, fetch)
        except QueryFailed as exc:
            if denied and exc.kind == "sqlite":
                raise QueryFailed("denied", f"SQLite refused {denied[0]}") from None
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
            raise QueryFailed(
                "timeout", f"still running after {timeout:g} s and stopped (a recursive CTE that never ends?)"
            ) from None
        raise QueryFailed("sqlite", str(exc)) from None
    except (MemoryError, OverflowError) as exc:
        raise QueryFailed("sqlite", f"{type(exc).__name__}: {exc}") from None
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
