"""Finding the SQL in an answer: a ```sql block, else another fenced block with a query, else the prose's query."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_gptoss.checkers.blocks import FencedBlock, fenced_blocks


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



def why_no_query(text: str) -> str:
    """Why :func:`extract_sql` found nothing in ``text``: where it looked."""
    blocks = fenced_blocks(text)
    why = "no SQL query in the answer"
    if blocks:
        why += f": no ```sql block, none in the {describe_blocks(blocks)}, none in the prose"
    return why
