"""The ``sql`` spec, parsed once at collection: keys checked, defaults applied, dialect resolved, case SQL translated.

A malformed spec is a :class:`SpecError`. The case's own SQL (``setup`` and
``reference``) is translated to SQLite here too, but SQL that does not
translate is no spec error: it is kept as :class:`UntranslatableSql`, and every
answer's verdict is then an error that says why, as when the reference fails
on SQLite (which only running it shows).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.sql.translation import (
    Untranslatable,
    known_dialects,
    parse_sql,
    query_statement,
    reference_order,
    to_sqlite,
)
from pytest_gptoss.verdict import SpecError, check_keys

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

_REQUIRED_HELP = {
    "setup": "the SQL that creates and fills the tables (CREATE TABLE ...; INSERT ...)",
    "reference": "the reference query whose rows the answer must reproduce",
}


@dataclass(frozen=True, kw_only=True)
class CaseSql:
    """The case's setup and reference query, translated to SQLite."""

    setup: tuple[str, ...]  # one statement each
    reference: str
    ordered: bool  # whether row order counts: the spec's ``ordered``, else the reference's outermost ORDER BY
    tie_columns: tuple[int, ...] | None  # the reference's ORDER BY columns, None when not all are output columns


@dataclass(frozen=True, kw_only=True)
class UntranslatableSql:
    """Case SQL that sqlglot cannot translate to SQLite."""

    part: str  # "setup" or "reference"
    why: str  # what is wrong, worded to follow the part's name


@dataclass(frozen=True, kw_only=True)
class SqlSpec:
    """A parsed ``sql`` spec."""

    dialect: str  # lowercased, one sqlglot reads
    float_tol: float
    timeout: float  # seconds, for each query
    free_column_order: bool  # ``column_order: free``
    extra_columns: bool
    case_sql: CaseSql | UntranslatableSql


def parse(spec: Any) -> SqlSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    check_keys(spec, (*REQUIRED, *DEFAULTS), name="sql",
               usage="the sql checker takes a mapping with at least 'setup' and 'reference'")
    for key in REQUIRED:
        if key not in spec:
            raise SpecError(f"'{key}' is required: {_REQUIRED_HELP[key]}", (key,))
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise SpecError(f"'{key}' must be a non-empty SQL string", (key,))
    merged = {**DEFAULTS, **spec}
    dialect = _dialect(merged["dialect"])
    ordered = merged["ordered"]
    if ordered is not None and not isinstance(ordered, bool):
        raise SpecError(
            "'ordered' must be true or false (leave it out to follow the reference's ORDER BY)", ("ordered",)
        )
    if not _is_number(merged["float_tol"], minimum=0.0, strict=False):
        raise SpecError("'float_tol' must be a finite number >= 0", ("float_tol",))
    if not _is_number(merged["timeout"], minimum=0.0, strict=True):
        raise SpecError("'timeout' must be a finite number of seconds > 0", ("timeout",))
    if merged["column_order"] not in COLUMN_ORDERS:
        raise SpecError("'column_order' must be strict or free", ("column_order",))
    if not isinstance(merged["extra_columns"], bool):
        raise SpecError("'extra_columns' must be true or false", ("extra_columns",))
    return SqlSpec(
        dialect=dialect,
        float_tol=float(merged["float_tol"]),
        timeout=float(merged["timeout"]),
        free_column_order=merged["column_order"] == "free",
        extra_columns=merged["extra_columns"],
        case_sql=_translate_case_sql(merged["setup"], merged["reference"], dialect, ordered),
    )


def _dialect(name: Any) -> str:
    known = known_dialects()
    if not isinstance(name, str) or name.lower() not in known:
        close = difflib.get_close_matches(str(name).lower(), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SpecError(
            f"unknown SQL dialect {name!r}{hint}; known dialects: {', '.join(known)}", ("dialect",)
        )
    return name.lower()


def _is_number(value: Any, *, minimum: float, strict: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value > minimum if strict else value >= minimum


def _translate_case_sql(setup: str, reference: str, dialect: str, ordered: bool | None) -> CaseSql | UntranslatableSql:
    try:
        statements = tuple(to_sqlite(tree, dialect) for tree in parse_sql(setup, dialect))
    except Untranslatable as exc:
        return UntranslatableSql(part="setup", why=exc.why())
    try:
        query = query_statement(reference, dialect, last_resort=False)
    except Untranslatable as exc:
        return UntranslatableSql(part="reference", why=exc.why())
    has_order, tie_columns = reference_order(query.tree)
    return CaseSql(
        setup=statements,
        reference=query.sqlite,
        ordered=has_order if ordered is None else ordered,
        tie_columns=None if tie_columns is None else tuple(tie_columns),
    )
