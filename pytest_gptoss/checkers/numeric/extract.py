r"""Finding the number an answer gives as its answer, and the unit it is written in.

Which number is the answer, in order:

1. the last ``\boxed{...}`` (found by brace counting) that holds a number;
   inside it, the last number;
2. the first number after an answer marker, within the marker's sentence:
   最终答案 / 最终结果 / "final answer" outrank 答案 / 答： / "answer is",
   which outrank 结果 / 最终; within a rank the last marker with a number wins;
3. else the last number of the text.

Numbers may be written with full-width digits, thousands separators
(``2,700``, ``2，700``, ``2{,}700``, ``2\,700``, a thin space), a decimal point,
a minus sign (``-``, ``−``, 负), a fraction (``\frac{1}{2}``, 三分之一), an
exponent, a percentage (``50%``, 百分之五十) or Chinese numerals (两千七百,
2.7万; read by :mod:`pytest_gptoss.checkers.numerals`). A unit counts only when
:mod:`.units` spells it; given the unit the answer should be in, numbers written
with a unit of that dimension are preferred, a bare number is read as being in
that unit, and a number whose unit has another dimension is never taken.
Values are exact fractions; no float is ever compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from pytest_gptoss.checkers.numerals import DECIMAL_DIGITS, MULTIPLIERS, NUMERALS, read_integer, read_number
from pytest_gptoss.checkers.numeric.units import SPELLINGS, UNITS, Unit, convert, spec_unit

# Bounds that keep every value printable and every computation instant.
MAX_DIGITS = 100
MAX_EXPONENT = 300


@dataclass(frozen=True)
class Extracted:
    """The number taken as the answer: its value in its own unit, and where it was."""

    value: Fraction
    unit: str | None
    text: str
    span: tuple[int, int]
    how: str

    def value_in(self, unit: str | None) -> Fraction:
        """The value converted to ``unit`` (a bare number is taken to be in it already)."""
        return convert(self.value, UNITS[self.unit] if self.unit else None, spec_unit(unit))


# Length-preserving, so positions in the folded text are positions in the answer.
_FOLD: dict[int, int | str] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: " ", 0x2212: "-", 0x2012: "-", 0x2013: "-", 0xFE63: "-", 0xFFE5: "¥", 0xFE6A: "%"})

# Runs of numeral characters that are words, not numbers (千万 "by all means", 万一 "in case").
_CN_IDIOMS = {"千万", "万一", "万万", "一一", "十十"}

_SIGNED = r"-?[0-9]+(?:\.[0-9]+)?"
_NUMBER = re.compile(
    rf"""
    (?P<frac>(?P<frac_sign>(?<![0-9A-Za-z)\]}}])-)?\\[dtc]?frac\s*
        \{{\s*(?P<frac_num>{_SIGNED})\s*\}}\s*\{{\s*(?P<frac_den>{_SIGNED})\s*\}})
    | (?P<cnfrac>(?P<cnfrac_neg>负)?(?P<cnfrac_den>[{NUMERALS}]+|(?<![A-Za-z_0-9.])[0-9]+)分之
        (?P<cnfrac_num>[{NUMERALS}]+(?:点[{DECIMAL_DIGITS}]+)?|[0-9]+(?:\.[0-9]+)?))
    | (?P<arabic>(?:(?P<neg>负)|(?P<sign>(?<![0-9A-Za-z)\]}}])[-+]))?(?<![A-Za-z_0-9.])
        (?P<int>[1-9][0-9]{{0,2}}(?P<sep>,|\{{,\}}|\\,|[\u2009\u202f\u00a0])[0-9]{{3}}
                (?:(?P=sep)[0-9]{{3}})*(?![0-9])
               |[0-9]+)
        (?P<dec>\.[0-9]+)?
        (?:[eE](?P<exp>[-+]?[0-9]+)(?![0-9A-Za-z])
          |\s*(?:×|\\times|\\cdot|\*)\s*10\^\{{?(?P<exp10>[-+]?[0-9]+)\}}?)?
        (?P<mult>[十百千万亿萬億]+)?)
    | (?P<cn>(?P<cn_neg>负)?(?P<cn_int>[{NUMERALS}]+)(?:点(?P<cn_dec>[{DECIMAL_DIGITS}]+))?)
    """,
    re.VERBOSE,
)
_SLASH = re.compile(r"\s*/\s*([0-9]+)(?![0-9.])")
_UNIT_LEAD = re.compile(
    r"(?:[ \t\u00a0\u2009\u202f*_$~]|\\[,;:! ]|\\q?quad|\\(?:text|mathrm|textrm|mbox|rm|operatorname)\s*\{?)*"
)


def _alias_pattern(alias: str) -> str:
    body = re.escape(alias)
    if len(alias) > 2 and alias.isascii() and alias.replace(" ", "").isalpha():
        body = f"(?i:{body})"
    if alias[-1].isascii() and alias[-1].isalpha():
        body += "(?![A-Za-z])"
    return body


_UNIT_RE = re.compile("|".join(_alias_pattern(a) for a in sorted(SPELLINGS, key=len, reverse=True)))
# The dimensions whose unit makes a number written with it surely a number.
_NAMING_DIMENSIONS = {
    "volume", "length", "area", "mass", "ratio", "speed", "temperature (°C)", "temperature (°F)"
}


@dataclass(frozen=True)
class Token:
    """A number read from the answer: its value, its span, its unit, and whether it is surely a number."""

    value: Fraction
    start: int
    end: int
    unit: Unit | None
    strong: bool


def _scan(text: str, start: int, end: int, *, slash: bool = False) -> list[Token]:
    tokens: list[Token] = []
    for match in _NUMBER.finditer(text, start, end):
        if tokens and match.start() < tokens[-1].end:
            continue
        read = _read(match)
        if read is None:
            continue
        value, unit, strong = read
        stop = match.end()
        if slash and match.group("arabic") and not match.group("mult"):
            over = _SLASH.match(text, stop, end)
            if over and int(over.group(1)):
                value /= int(over.group(1))
                stop = over.end()
        begin = match.start()
        if unit is None and begin > 0 and text[begin - 1] == "¥":
            unit, begin = UNITS["元"], begin - 1
        if unit is None:
            found = _unit_after(text, stop, end)
            if found:
                unit, stop = found
        if unit is not None and unit.dimension in _NAMING_DIMENSIONS:
            # 五毫升 is a quantity; 一天, 一块, 一度 are as often words as numbers.
            strong = True
        tokens.append(Token(value, begin, stop, unit, strong))
    return tokens


def _unit_after(text: str, pos: int, end: int) -> tuple[Unit, int] | None:
    lead = _UNIT_LEAD.match(text, pos, end)
    start = lead.end() if lead and lead.end() - pos <= 24 else pos
    match = _UNIT_RE.match(text, start, end)
    if not match:
        return None
    stop = match.end()
    if "{" in text[pos:start] and text[stop:stop + 1] == "}":
        stop += 1
    return UNITS[SPELLINGS[_spelling(match.group())]], stop


def _spelling(written: str) -> str:
    if written in SPELLINGS:
        return written
    return next(alias for alias in SPELLINGS if alias.casefold() == written.casefold())


def _read(match: re.Match[str]) -> tuple[Fraction, Unit | None, bool] | None:
    if len(match.group()) > MAX_DIGITS * 2:
        return None
    if match.group("frac"):
        den = Fraction(match.group("frac_den"))
        if not den:
            return None
        value = Fraction(match.group("frac_num")) / den
        return (-value if match.group("frac_sign") else value), None, True
    if match.group("cnfrac"):
        den_text, num_text = match.group("cnfrac_den"), match.group("cnfrac_num")
        parts = read_integer(den_text)
        num = Fraction(num_text) if num_text[0].isdigit() else read_number(num_text)
        if not parts or num is None:
            return None
        sign = -1 if match.group("cnfrac_neg") else 1
        if parts in (100, 1000):
            return sign * num, UNITS["%" if parts == 100 else "‰"], True
        return sign * num / parts, None, True
    if match.group("arabic"):
        digits = re.sub(r"[^0-9]", "", match.group("int")) + (match.group("dec") or "")
        exponent = int(match.group("exp") or match.group("exp10") or 0)
        if len(digits) > MAX_DIGITS or abs(exponent) > MAX_EXPONENT:
            return None
        value = Fraction(digits) * Fraction(10) ** exponent
        for char in match.group("mult") or "":
            value *= MULTIPLIERS[char]
        if match.group("neg") or match.group("sign") == "-":
            value = -value
        return value, None, True
    run = match.group("cn_int")
    if run in _CN_IDIOMS:
        return None
    dec = match.group("cn_dec")
    number = read_number(run + ("点" + dec if dec else ""))
    if number is None:
        return None
    negative = bool(match.group("cn_neg"))
    strong = negative or bool(dec) or len(run) > 1
    return (-number if negative else number), None, strong


_MARKERS = re.compile(
    r"(?P<top>最终答案|最终结果|(?<![A-Za-z])final\s+answer(?![A-Za-z]))"
    r"|(?P<mid>答案|答(?=\s*[:：])"
    r"|(?<![A-Za-z])answer(?=[\s*_]*(?:is\b|was\b|would\s+be\b|will\s+be\b|[:=：])))"
    r"|(?P<low>结果|最终)",
    re.IGNORECASE,
)
_RANKS = ("top", "mid", "low")
_WINDOW_LEAD = re.compile(r"[\s*_#>:：=$]*")
_SENTENCE_END = re.compile(r"[。！？!?;；\n]|\.(?![0-9])")
_WINDOW_MAX = 160
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def extract_number(text: str, unit: str | None = None) -> Extracted | None:
    """The number ``text`` gives as its answer, or None.

    ``unit`` (a name from the unit table) makes numbers written in a unit of
    its dimension preferred and numbers in any other dimension ineligible.
    """
    return extract(text, spec_unit(unit))[0]


def extract(text: str, unit: Unit | None) -> tuple[Extracted | None, list[Token]]:
    """The answer's number; with none, the numbers passed over for a unit of another dimension than ``unit``'s."""
    folded = text.translate(_FOLD)
    dimension = unit.dimension if unit else None
    for start, end in reversed(_boxes(folded)):
        token = _pick(_scan(folded, start, end, slash=True), dimension, last=True, weak=True)
        if token:
            return _extracted(text, token, r"in \boxed{}"), []
    tokens = _scan(folded, 0, len(folded))
    markers = list(_MARKERS.finditer(folded))
    for rank in _RANKS:
        for marker in reversed([m for m in markers if m.group(rank)]):
            stop = _window_end(folded, marker.end())
            inside = [t for t in tokens if marker.end() <= t.start < stop]
            token = _pick(inside, dimension, last=False, weak=True)
            if token:
                return _extracted(text, token, f"after {text[marker.start():marker.end()]!r}"), []
    token = _pick(tokens, dimension, last=True, weak=False)
    if token is None:
        lone = _pick(tokens, dimension, last=True, weak=True)
        if lone and not re.search(r"\w", folded[: lone.start] + folded[lone.end:]):
            token = lone
    if token is None:
        other = [t for t in tokens if t.unit and dimension and t.unit.dimension != dimension]
        return None, other
    return _extracted(text, token, "last number"), []


def _boxes(text: str) -> list[tuple[int, int]]:
    boxes = []
    for match in _BOX.finditer(text):
        depth, index = 1, match.end()
        while index < len(text) and depth:
            char = text[index]
            if char == "\\":
                index += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            index += 1
        if depth == 0:
            boxes.append((match.end(), index - 1))
    return boxes


def _window_end(text: str, pos: int) -> int:
    lead = _WINDOW_LEAD.match(text, pos)
    begin = lead.end() if lead else pos
    end = _SENTENCE_END.search(text, begin)
    return min(end.start() if end else len(text), begin + _WINDOW_MAX)


def _pick(tokens: list[Token], dimension: str | None, *, last: bool, weak: bool) -> Token | None:
    fits = [t for t in tokens if dimension is None or t.unit is None or t.unit.dimension == dimension]
    pool = [t for t in fits if t.strong] or (fits if weak else [])
    if dimension is not None:
        pool = [t for t in pool if t.unit is not None] or pool
    if not pool:
        return None
    return pool[-1] if last else pool[0]


def _extracted(text: str, token: Token, how: str) -> Extracted:
    return Extracted(
        value=token.value,
        unit=token.unit.name if token.unit else None,
        text=text[token.start:token.end],
        span=(token.start, token.end),
        how=how,
    )

