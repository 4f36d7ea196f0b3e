"""The normalized view: markup dropped, and every character traced back to the answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_gptoss.checkers.normalize import sentences, view

MARKUP_CHARS = "|*#>$\\{}&;:-_ \n"
PIECES = [*MARKUP_CHARS, *"ab3 中文。．", "\\mathbf{", "\\(", "\\)", "**", "&amp;", "| x | 1 |\n", "|---|---|\n"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@given(text=TEXT)
def test_every_view_character_points_inside_the_answer(text: str) -> None:
    seen = view(text)
    assert len(seen.starts) == len(seen.ends) == len(seen.text)
    assert all(0 <= start < end <= len(text) for start, end in zip(seen.starts, seen.ends))
    assert list(seen.starts) == sorted(seen.starts)


@given(text=st.text(alphabet=st.characters(blacklist_characters=MARKUP_CHARS + "`~<[]()", max_codepoint=0x7F)))
def test_prose_without_markup_is_its_own_view(text: str) -> None:
    assert view(text).text == text


@given(text=TEXT)
def test_sentences_are_spans_of_the_answer_in_order(text: str) -> None:
    found = sentences(text)
    assert all(0 <= s.start < s.end <= len(text) for s in found)
    assert [s.start for s in found] == sorted(s.start for s in found)


def test_table_rows_read_as_label_and_value() -> None:
    text = "| 参数 | 值 |\n|---|---|\n| 隐藏层维度 | 3072 |\n"
    seen = view(text)
    assert seen.text == "参数: 值\n\n隐藏层维度: 3072\n"
    at = seen.text.index("3072")
    assert text[slice(*seen.original(at, at + 4))] == "3072"


def test_latex_and_emphasis_unwrap_and_entities_fold() -> None:
    assert view(r"共 $\mathbf{2700}$ 毫升，即 \(\boxed{\text{2.7 L}}\)").text == "共 2700 毫升,即 2.7 L"
    assert view("**答案：** ５ 的对面是 *3* &amp; ok").text == "答案: 5 的对面是 3 & ok"
    assert view("## 结论\n> 无法爬出").text == "结论\n无法爬出"
