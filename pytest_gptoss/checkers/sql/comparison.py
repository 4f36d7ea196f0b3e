"""Comparing result sets: values with a float tolerance, rows as bags or in order, columns matched up.

Rows are compared as bags (multisets); when order counts, rows that tie on the
reference's ORDER BY columns may still come in any order among themselves.
With ``column_order: free`` or ``extra_columns``, the found columns that stand
for the expected ones are searched for, likeliest first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.sql.rows import Result, Row, format_row

#: column matchings tried with ``column_order: free`` or ``extra_columns``
MAX_MATCHINGS = 5_000


@dataclass(frozen=True)
class Comparison:
    """How a found result compares with the expected one.

    ``matching`` (when they agree) names, for each expected column, the found
    column that stands for it; ``why`` (when they do not) says what differs.
    """

    matching: tuple[int, ...] | None
    why: str = ""


def compare_results(
    expected: Result,
    found: Result,
    *,
    ordered: bool,
    tie_columns: Sequence[int] | None,
    free_column_order: bool,
    extra_columns: bool,
    float_tol: float,
) -> Comparison:
    """Whether ``found`` holds the rows of ``expected`` under some allowed matching of its columns."""
    width, found_width = len(expected.columns), len(found.columns)
    if found_width < width or (found_width > width and not extra_columns):
        why = f"column count {found_width} vs {width} expected"
        if found_width > width:
            why += " (extra columns are not allowed here; extra_columns: true allows them)"
        return Comparison(None, why)

    def agreeing(*, free: bool) -> tuple[int, ...] | None:
        for matching in _matchings(expected, found, free_column_order=free, extra_columns=extra_columns,
                                   float_tol=float_tol):
            if compare_rows(expected.rows, _project(found.rows, matching), ordered=ordered,
                            float_tol=float_tol, tie_columns=tie_columns) is None:
                return matching
        return None

    matching = agreeing(free=free_column_order)
    if matching is not None:
        return Comparison(matching)
    if not free_column_order and width > 1 and agreeing(free=True) is not None:
        why = (
            f"columns in another order: found ({', '.join(found.columns)}), expected "
            f"({', '.join(expected.columns)}); column_order: free allows that"
        )
        return Comparison(None, why)
    likely = _likely_matching(expected, found, free_column_order=free_column_order, extra_columns=extra_columns)
    mismatch = compare_rows(expected.rows, _project(found.rows, likely), ordered=ordered,
                            float_tol=float_tol, tie_columns=tie_columns)
    # None only when the search for a matching was cut short
    why = mismatch if mismatch is not None else f"no matching of columns found within {MAX_MATCHINGS} tries"
    if likely != tuple(range(width)):
        names = ", ".join(found.columns[k] for k in likely)
        why = f"comparing found columns ({names}): {why}"
    return Comparison(None, why)


# ------------------------------------------------------------------ rows


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
                    f"order differs at row {index + 1}: expected {format_row(expected_rows[index])}, "
                    f"found {format_row(found_rows[index])}"
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
    shown = ", ".join(format_row(r) for r in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    if kind == "missing":
        return f"row {shown} missing" if len(rows) == 1 else f"{len(rows)} rows missing: {shown}{more}"
    return f"extra row {shown}" if len(rows) == 1 else f"{len(rows)} extra rows: {shown}{more}"


# --------------------------------------------------------------- columns


def _matchings(
    expected: Result, found: Result, *, free_column_order: bool, extra_columns: bool, float_tol: float
) -> Iterator[tuple[int, ...]]:
    """Ways to pick the found columns standing for the expected ones, likeliest first."""
    width, found_width = len(expected.columns), len(found.columns)
    if not free_column_order and not extra_columns:
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
            if k in prefix or (not free_column_order and prefix and k <= prefix[-1]):
                continue
            yield from extend([*prefix, k])

    for count, matching in enumerate(extend([])):
        if count >= MAX_MATCHINGS:
            return
        yield matching


def _likely_matching(
    expected: Result, found: Result, *, free_column_order: bool, extra_columns: bool
) -> tuple[int, ...]:
    """The matching to explain a failure with: same names first, else position."""
    width = len(expected.columns)
    if not free_column_order and not extra_columns:
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
