"""Reading Chinese numerals (the one reader the numeric and plan checkers share): the known forms and traps."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from chinese_numerals import chinese
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_gptoss.checkers.numerals import MAX_RUN, NUMERALS, read_integer, read_number

INTEGERS = [
    ("二千七百", 2700),
    ("两千七百", 2700),
    ("两千七", 2700),  # spoken shorthand: the last digit counts in the unit below
    ("一万五", 15000),
    ("一万零五", 10005),  # after a zero the digit is a units digit
    ("一千零五十", 1050),
    ("十", 10),
    ("十二", 12),
    ("二十", 20),
    ("两十", 20),
    ("二十三", 23),
    ("一百零一", 101),
    ("九千九百九十九万", 99990000),
    ("三亿", 300000000),
    ("一亿零一万", 100010000),
    ("二〇二四", 2024),  # digit by digit, as years are written
    ("一〇", 10),
    ("贰拾", 20),  # the financial forms
    ("壹万贰仟", 12000),
    ("零", 0),
    ("两", 2),
    ("万", 10000),
    ("12", 12),  # decimal digits, as step labels write them (第12步)
    ("一" + "〇" * (MAX_RUN - 1), 10 ** (MAX_RUN - 1)),
]

NOT_INTEGERS = [
    "",
    "一二",  # digit by digit needs a zero to be a number
    "两〇二四",  # 两 is never a digit of a digit-by-digit number
    "十十",
    "一二十",
    "十一二",
    "千千",
    "百千",  # units only fall
    "万万",
    "1十",  # Arabic and Chinese digits mixed
    "十1",
    "二千abc",
    "一" + "〇" * MAX_RUN,  # longer than any number anyone writes
]

NUMBERS = [
    ("三点五", Fraction(7, 2)),
    ("零点二五", Fraction(1, 4)),
    ("十二点零五", Fraction(241, 20)),
    ("三", Fraction(3)),
    ("三点", Fraction(3)),
]

NOT_NUMBERS = ["", "点五", "三点两", "十十点五", "12点5"]


@pytest.mark.parametrize(("text", "value"), INTEGERS, ids=[t for t, _ in INTEGERS])
def test_integers_read(text: str, value: int) -> None:
    assert read_integer(text) == value
    assert read_number(text) == value


@pytest.mark.parametrize("text", NOT_INTEGERS, ids=[t or "empty" for t in NOT_INTEGERS])
def test_what_is_no_integer_reads_as_none(text: str) -> None:
    assert read_integer(text) is None


@pytest.mark.parametrize(("text", "value"), NUMBERS, ids=[t for t, _ in NUMBERS])
def test_decimals_read_exactly(text: str, value: Fraction) -> None:
    assert read_number(text) == value


@pytest.mark.parametrize("text", NOT_NUMBERS, ids=[t or "empty" for t in NOT_NUMBERS])
def test_what_is_no_number_reads_as_none(text: str) -> None:
    assert read_number(text) is None


def test_every_numeral_character_reads_alone() -> None:
    assert all(read_integer(char) is not None for char in NUMERALS)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**12 - 1), liang=st.booleans())
def test_the_standard_reading_of_an_integer_reads_back(n: int, liang: bool) -> None:
    written = chinese(n)
    if liang:
        written = re.sub("二(?=[百千万亿])", "两", written)
    assert read_integer(written) == n, written
