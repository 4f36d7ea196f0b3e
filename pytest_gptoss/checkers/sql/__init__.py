"""The ``sql`` checker: runs the answer's query and a reference query on SQLite.

Both queries are translated from the case's ``dialect`` to SQLite with sqlglot
(strictly: a feature SQLite lacks is reported, never silently dropped) and run,
each on its own fresh in-memory database built from the case's ``setup``, with
an authorizer that lets them only read and a deadline that stops runaway
queries. The result rows are compared as bags; order counts only when the
reference's outermost query has an ORDER BY.

Spec keys: ``setup``, ``reference`` (required), ``dialect``, ``ordered``,
``float_tol``, ``timeout``, ``column_order``, ``extra_columns``.

This module judges; the work is in :mod:`.spec` (the parsed spec),
:mod:`.extraction` (the SQL in an answer), :mod:`.translation` (sqlglot),
:mod:`.running` (SQLite), :mod:`.rows` (result sets shown) and
:mod:`.comparison` (result sets compared).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.sql.comparison import compare_results
from pytest_gptoss.checkers.sql.extraction import extract_sql, why_no_query
from pytest_gptoss.checkers.sql.rows import Result, describe_result, plain_rows
from pytest_gptoss.checkers.sql.running import QueryFailed, build_database, run_readonly
from pytest_gptoss.checkers.sql.spec import CaseSql, SqlSpec, UntranslatableSql, parse
from pytest_gptoss.checkers.sql.translation import Statement, Untranslatable, query_statement
from pytest_gptoss.clipping import clip_words
from pytest_gptoss.verdict import Verdict

NAME = "sql"


def judge(spec: SqlSpec, text: str) -> Verdict:
    """Run the answer's SQL and the reference on fresh SQLite copies and compare rows."""
    case_sql = spec.case_sql
    # the case's own SQL first: when it is broken, no answer can be judged
    if isinstance(case_sql, UntranslatableSql):
        return _error(f"the {case_sql.part} to translate to SQLite", f"{case_sql.part} {case_sql.why}")
    try:
        base = build_database(case_sql.setup, spec.timeout)
    except QueryFailed as exc:
        return _error("the setup to run on SQLite", f"setup fails on SQLite: {exc.message}")
    try:
        try:
            expected = run_readonly(base, case_sql.reference, spec.timeout)
        except QueryFailed as exc:
            return _error(
                f"the reference to run: {clip_words(case_sql.reference, 200)}",
                f"reference fails on SQLite: {exc.message}",
            )
        return _judge_answer(spec, case_sql, text, base, expected)
    finally:
        base.close()


def _judge_answer(
    spec: SqlSpec, case_sql: CaseSql, text: str, base: sqlite3.Connection, expected: Result
) -> Verdict:
    ordered = case_sql.ordered
    expected_text = describe_result(expected, "in this order" if ordered else "in any order")
    details: dict[str, Any] = {
        "ordered": ordered,
        "expected_columns": list(expected.columns),
        "expected_rows": plain_rows(expected.rows),
        "expected_row_count": len(expected.rows),
    }

    def verdict(passed: bool, found: str, where: str, why: str) -> Verdict:
        return Verdict(
            passed=passed, checker=NAME, expected=expected_text, found=found, where=where, why=why, details=details,
        )

    extracted = extract_sql(text)
    if extracted is None:
        return verdict(False, clip_words(text, 200) or "(an empty answer)", "", why_no_query(text))
    details["sql"] = extracted.sql
    statement = None
    failure: Untranslatable | None = None
    for candidate in (extracted.sql, *extracted.fallbacks):
        try:
            statement = query_statement(candidate, spec.dialect, last_resort=True)
        except Untranslatable as exc:
            failure = failure or exc
            continue
        details["sql"] = candidate
        break
    sql_line = f"SQL: {clip_words(details['sql'], 300)}"
    if statement is None:
        assert failure is not None
        return verdict(False, sql_line, extracted.where, f"SQL {failure.why()}")
    where = extracted.where
    if statement.count > 1:
        where += f", statement {statement.index} of {statement.count}"
    details["sqlite"] = statement.sqlite
    try:
        result = run_readonly(base, statement.sqlite, spec.timeout)
    except QueryFailed as exc:
        return verdict(False, sql_line, where, _failure_why(exc, statement))
    details["found_columns"] = list(result.columns)
    details["found_rows"] = plain_rows(result.rows)
    details["found_row_count"] = len(result.rows)
    found_text = sql_line + "\n" + describe_result(result, "")

    comparison = compare_results(
        expected, result, ordered=ordered, tie_columns=case_sql.tie_columns,
        free_column_order=spec.free_column_order, extra_columns=spec.extra_columns, float_tol=spec.float_tol,
    )
    if comparison.matching is None:
        return verdict(False, found_text, where, comparison.why)
    details["column_matching"] = list(comparison.matching)
    return verdict(True, found_text, where, "")


def _failure_why(exc: QueryFailed, statement: Statement) -> str:
    if exc.kind == "denied":
        verb = statement.tree.key.upper()
        return f"{verb} denied: the query may only read the tables; {exc.message}"
    if exc.kind == "timeout":
        return f"timeout: the query was {exc.message}"
    if exc.kind == "rows":
        return exc.message
    return f"SQL fails on SQLite: {exc.message}"


def _error(expected: str, why: str) -> Verdict:
    return Verdict(passed=False, checker=NAME, expected=expected, found="", where="", why=why, error=True)


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
