"""Writing integers in Chinese numerals, the standard way, for the tests that read them back."""

from __future__ import annotations

_DIGITS = "零一二三四五六七八九"


def chinese(n: int) -> str:
    """Standard reading of a non-negative integer below 10**12 in Chinese numerals."""
    if n == 0:
        return "零"

    def four(group: int) -> str:
        out, gap = "", False
        for size, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            digit = group // size % 10
            if digit:
                out += ("零" if gap else "") + _DIGITS[digit] + name
                gap = False
            elif out:
                gap = True
        return out

    out, gap = "", False
    for size, name in ((10**8, "亿"), (10**4, "万"), (1, "")):
        group = n // size % 10**4
        if group:
            out += ("零" if out and (gap or group < 1000) else "") + four(group) + name
            gap = False
        elif out:
            gap = True
    return out[1:] if out.startswith("一十") else out
