"""Result sets: the columns and rows a query returns, and how a verdict shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_gptoss.clipping import clip

Row = tuple[Any, ...]

#: rows shown in an explanation, and kept as plain data in a verdict's ``details``
SHOWN_ROWS = 10
DETAIL_ROWS = 50
#: characters of a value's repr shown in a row
SHOWN_VALUE_WIDTH = 60


@dataclass(frozen=True)
class Result:
    """What a query returned: its column names and its rows, in SQLite's order."""

    columns: list[str]
    rows: list[Row]


def describe_result(result: Result, order_word: str) -> str:
    """The row count, ``order_word`` ("in this order"), the columns and the first rows, one per line."""
    count = len(result.rows)
    head = f"{count} row{'' if count == 1 else 's'}"
    if order_word:
        head += f" {order_word}"
    head += f", columns ({', '.join(result.columns)})"
    lines = [head + (":" if count else "")]
    lines.extend(f"  {format_row(row)}" for row in result.rows[:SHOWN_ROWS])
    if count > SHOWN_ROWS:
        lines.append(f"  ... and {count - SHOWN_ROWS} more")
    return "\n".join(lines)


def format_row(row: Row) -> str:
    """A row as a Python tuple reads, each value's repr clipped to ``SHOWN_VALUE_WIDTH`` characters."""
    values = [clip(repr(v), SHOWN_VALUE_WIDTH) for v in row]
    return "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"


def plain_rows(rows: list[Row]) -> list[list[Any]]:
    """The first rows as JSON-safe lists (BLOBs as hex), for a verdict's ``details``."""
    return [[v.hex() if isinstance(v, bytes) else v for v in row] for row in rows[:DETAIL_ROWS]]
