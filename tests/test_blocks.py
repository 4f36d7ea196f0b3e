"""Fenced blocks are found one way for every checker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_gptoss.checkers.blocks import fenced_blocks


def test_tags_bodies_lines_and_offsets() -> None:
    text = "intro\n```Python\nprint(1)\n```\nmid\n~~~\nplain\n~~~\n"
    first, second = fenced_blocks(text)
    assert (first.index, first.tag, first.body, first.line, first.closed) == (1, "python", "print(1)\n", 2, True)
    assert text[first.start:first.end] == "print(1)\n"
    assert text[first.fence_start:first.fence_end] == "```Python\nprint(1)\n```"
    assert (second.tag, second.body, second.line) == ("", "plain\n", 6)


def test_an_unclosed_fence_runs_to_the_end() -> None:
    (block,) = fenced_blocks("```sql\nSELECT 1")
    assert (block.body, block.closed) == ("SELECT 1", False)


def test_a_longer_fence_holds_a_shorter_one() -> None:
    (block,) = fenced_blocks("````md\n```python\nx = 1\n```\n````\n")
    assert block.tag == "md" and block.body == "```python\nx = 1\n```\n"


def test_an_indented_fence_is_dedented() -> None:
    (block,) = fenced_blocks("1. step\n\n   ```python\n   if x:\n       y()\n   ```\n")
    assert block.body == "if x:\n    y()\n"


def test_the_info_string_keeps_only_its_first_word() -> None:
    (block,) = fenced_blocks('```json title="steps"\n{}\n```')
    assert block.tag == "json"


@given(st.lists(st.text(alphabet="abc =\n", max_size=30).filter(lambda s: "```" not in s), min_size=1, max_size=5))
def test_bodies_round_trip(bodies: list[str]) -> None:
    bodies = [body.rstrip("\n") + "\n" if body.strip() else "x\n" for body in bodies]
    text = "".join(f"text\n```t{i}\n{body}```\n" for i, body in enumerate(bodies))
    found = fenced_blocks(text)
    assert [b.body for b in found] == bodies
    assert [b.tag for b in found] == [f"t{i}" for i in range(len(bodies))]
