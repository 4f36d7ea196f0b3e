"""Reading Chinese numerals: 二千七百, 两千七 (spoken shorthand), 一万零五, 二〇二四, 三点五, 贰拾 (financial forms).

The checkers that read numbers in answers (``numeric`` for the answer, ``plan``
for step labels such as 第十二步) read them here; the tables are public so that
their patterns match the same characters this reader knows.
"""

from __future__ import annotations

from fractions import Fraction

#: numeral character -> its digit
DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}
#: the units within a group of four digits
SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
#: the units that start a new group of four digits
BIG_UNITS = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
#: every unit character -> its value (a multiplier after Arabic digits too: 2.7万)
MULTIPLIERS = {**SMALL_UNITS, **BIG_UNITS}
#: every numeral character, for a regex character class
NUMERALS = "".join([*DIGITS, *MULTIPLIERS])
#: the digits written after 点: every digit but 两, which never names a decimal place
DECIMAL_DIGITS = "".join(c for c in DIGITS if c not in "两兩")
#: the longest run read (longer ones are not numbers anyone writes, and would only cost time)
MAX_RUN = 40


def read_integer(text: str) -> int | None:
    """The integer ``text`` writes, or None if it writes none.

    二千七百 -> 2700, 两千七 -> 2700, 一万零五 -> 10005, 二〇二四 -> 2024, 十二 -> 12,
    and a run of decimal digits as itself (``12`` -> 12).
    """
    if text.isdecimal():
        return int(text)
    if not text or len(text) > MAX_RUN or any(c not in DIGITS and c not in MULTIPLIERS for c in text):
        return None
    if all(c in DIGITS for c in text):
        if len(text) == 1:
            return DIGITS[text]
        if any(c in "零〇" for c in text) and not any(c in "两兩" for c in text):
            return int("".join(str(DIGITS[c]) for c in text))
        return None
    yi_groups = 0
    wan_group = 0
    section = 0
    digit: int | None = None
    last_small = 10**5
    prev_unit = 0
    for char in text:
        if char in DIGITS:
            value = DIGITS[char]
            if digit is not None:
                return None
            if value:
                digit = value
            else:
                prev_unit = 0  # 一千零五: after a zero the digit is a unit digit
        elif char in SMALL_UNITS:
            unit = SMALL_UNITS[char]
            if unit >= last_small:
                return None
            section += (digit if digit is not None else 1) * unit
            digit, last_small, prev_unit = None, unit, unit
        else:
            unit = BIG_UNITS[char]
            group = section + (digit or 0)
            if unit == 10**4:
                if wan_group:
                    return None
                wan_group = (group or 1) * unit
            else:
                yi_groups = ((yi_groups + wan_group + group) or 1) * unit
                wan_group = 0
            section, digit, last_small, prev_unit = 0, None, 10**5, unit
    tail = digit or 0
    if digit is not None and prev_unit >= 100:
        # Spoken shorthand: 两千七 is 2700, 一万五 is 15000.
        tail = digit * prev_unit // 10
    return yi_groups + wan_group + section + tail


def read_number(text: str) -> Fraction | None:
    """The number ``text`` writes, decimals after 点 included (三点五 -> 7/2), or None."""
    whole, _, decimals = text.partition("点")
    integer = read_integer(whole)
    if integer is None or any(c not in DECIMAL_DIGITS for c in decimals):
        return None
    if not decimals:
        return Fraction(integer)
    return Fraction(f"{integer}.{''.join(str(DIGITS[c]) for c in decimals)}")
