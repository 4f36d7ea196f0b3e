r"""Numeric checker: find the final answer's number and compare it exactly.

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
2.7万; read by :mod:`pytest_gptoss.checkers.numerals`). Units count only
through :data:`UNITS`; a spec that names a unit prefers numbers written with a
unit of that dimension, reads a bare number as being in that unit, and never
takes a number whose unit has another dimension.
Values are exact fractions; no float is ever compared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.numerals import DECIMAL_DIGITS, MULTIPLIERS, NUMERALS, read_integer, read_number
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

KEYS = ("answer", "unit", "abs_tol", "rel_tol")

# Bounds that keep every value printable and every computation instant.
_MAX_DIGITS = 100
_MAX_EXPONENT = 300


@dataclass(frozen=True)
class Unit:
    """A unit: ``factor`` converts it to its dimension's base unit."""

    name: str
    dimension: str
    factor: Fraction


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
        target = _unit(unit)
        own = UNITS[self.unit] if self.unit else None
        if target is None or own is None:
            return self.value
        if own.dimension != target.dimension:
            raise ValueError(f"{self.unit} ({own.dimension}) cannot be expressed in {target.name}")
        return self.value * own.factor / target.factor


_TABLE: tuple[tuple[str, str, Fraction | int, tuple[str, ...]], ...] = (
    ("ml", "volume", 1, ("ml", "mL", "毫升", "㎖", "milliliter", "milliliters", "millilitre", "millilitres")),
    ("L", "volume", 1000, ("L", "l", "ℓ", "升", "公升", "liter", "liters", "litre", "litres")),
    ("cm³", "volume", 1, ("cm³", "cm^3", "cm^{3}", "立方厘米", "cc", "㎤")),
    ("dm³", "volume", 1000, ("dm³", "dm^3", "dm^{3}", "立方分米")),
    ("m³", "volume", 10**6, ("m³", "m^3", "m^{3}", "立方米", "㎥")),
    ("mm", "length", Fraction(1, 1000), ("mm", "毫米", "㎜")),
    ("cm", "length", Fraction(1, 100), ("cm", "厘米", "㎝")),
    ("dm", "length", Fraction(1, 10), ("dm", "分米")),
    ("m", "length", 1, ("m", "米", "meter", "meters", "metre", "metres")),
    ("km", "length", 1000, ("km", "公里", "千米", "㎞", "kilometer", "kilometers", "kilometre", "kilometres")),
    ("cm²", "area", Fraction(1, 10**4), ("cm²", "cm^2", "cm^{2}", "平方厘米", "㎠")),
    ("m²", "area", 1, ("m²", "m^2", "m^{2}", "平方米", "㎡")),
    ("ha", "area", 10**4, ("ha", "公顷", "hectare", "hectares")),
    ("km²", "area", 10**6, ("km²", "km^2", "km^{2}", "平方公里", "平方千米", "㎢")),
    ("亩", "area", Fraction(2000, 3), ("亩",)),
    ("mg", "mass", Fraction(1, 1000), ("mg", "毫克", "㎎")),
    ("g", "mass", 1, ("g", "克", "gram", "grams")),
    ("斤", "mass", 500, ("斤",)),
    ("kg", "mass", 1000, ("kg", "公斤", "千克", "㎏", "kilogram", "kilograms")),
    ("t", "mass", 10**6, ("吨", "tonne", "tonnes")),
    ("元", "money (CNY)", 1, ("元", "块钱", "块", "元钱", "yuan", "RMB", "CNY")),
    ("角", "money (CNY)", Fraction(1, 10), ("角", "毛")),
    ("USD", "money (USD)", 1, ("USD", "dollars", "dollar", "美元")),
    ("%", "ratio", Fraction(1, 100), ("%", "\\%", "percent", "per cent")),
    ("‰", "ratio", Fraction(1, 1000), ("‰",)),
    ("s", "time", 1, ("s", "sec", "secs", "second", "seconds", "秒", "秒钟")),
    ("min", "time", 60, ("min", "mins", "minute", "minutes", "分钟")),
    ("h", "time", 3600, ("h", "hr", "hrs", "hour", "hours", "小时", "个小时")),
    ("day", "time", 86400, ("day", "days", "天")),
    ("week", "time", 604800, ("week", "weeks", "周", "星期", "个星期")),
    ("year", "years", 1, ("year", "years", "年")),
    ("m/s", "speed", 1, ("m/s", "米/秒", "米每秒")),
    ("km/h", "speed", Fraction(5, 18),
     ("km/h", "km/hr", "kmh", "千米/小时", "公里/小时", "千米每小时", "公里每小时")),
    # Temperature scales have offsets, so each is its own dimension: no conversion.
    ("°C", "temperature (°C)", 1, ("°C", "℃", "摄氏度")),
    ("°F", "temperature (°F)", 1, ("°F", "℉", "华氏度")),
    ("°", "angle", 1, ("°", "度", "deg", "degree", "degrees")),
)

#: canonical unit name -> unit
UNITS: dict[str, Unit] = {name: Unit(name, dim, Fraction(factor)) for name, dim, factor, _ in _TABLE}
#: every spelling read after a number in an answer -> canonical unit name
SPELLINGS: dict[str, str] = {alias: name for name, _, _, aliases in _TABLE for alias in aliases}
#: every name a spec may give as its unit -> canonical unit name
ALIASES: dict[str, str] = {**{name: name for name in UNITS}, **SPELLINGS}
_NO_SPACE = {"%", "‰", "°"}
_NAMING_DIMENSIONS = {
    "volume", "length", "area", "mass", "ratio", "speed", "temperature (°C)", "temperature (°F)"
}


def lookup_unit(name: str) -> Unit | None:
    """The unit spelled ``name`` (exactly, or case-insensitively if that is unambiguous)."""
    if name in ALIASES:
        return UNITS[ALIASES[name]]
    matches = {canon for alias, canon in ALIASES.items() if alias.casefold() == name.casefold()}
    return UNITS[matches.pop()] if len(matches) == 1 else None


def _unit(name: str | None) -> Unit | None:
    if name is None:
        return None
    unit = lookup_unit(name)
    if unit is None:
        raise SpecError(f"unknown unit {name!r}; known units: {', '.join(UNITS)}", ("unit",))
    return unit


# -- spec ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    answer: Fraction
    unit: Unit | None
    abs_tol: Fraction
    rel_tol: Fraction


def parse(spec: Any) -> _Spec:
    if _is_number(spec):
        spec = {"answer": spec}
    if not isinstance(spec, Mapping):
        raise SpecError(
            "numeric takes a number or a mapping {answer: N, unit: ..., abs_tol: ..., rel_tol: ...}; "
            f"got {type(spec).__name__}"
        )
    check_keys(spec, KEYS, name="numeric", usage="numeric takes a mapping")
    if "answer" not in spec:
        raise SpecError("numeric needs 'answer', the expected number", ("answer",))
    answer = _exact(spec["answer"], "answer")
    unit_name = spec.get("unit")
    if unit_name is not None and not isinstance(unit_name, str):
        raise SpecError(f"'unit' must be a unit name such as ml or 米, not {unit_name!r}", ("unit",))
    unit = _unit(unit_name)
    tolerances = []
    for key in ("abs_tol", "rel_tol"):
        value = _exact(spec.get(key, 0), key)
        if value < 0:
            raise SpecError(f"'{key}' must not be negative", (key,))
        tolerances.append(value)
    return _Spec(answer, unit, *tolerances)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal, Fraction)) and not isinstance(value, bool)


def _exact(value: Any, key: str) -> Fraction:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"'{key}' must be a finite number, not {value!r}", (key,))
        return Fraction(repr(value))
    if isinstance(value, Decimal) and (not value.is_finite() or abs(value.adjusted()) > _MAX_EXPONENT):
        raise SpecError(f"'{key}' must be a finite number of sensible size, not {value!r}", (key,))
    if _is_number(value):
        return Fraction(value)
    if isinstance(value, str) and len(value) <= _MAX_DIGITS:
        exponent = re.search(r"[eE]\s*([-+]?[0-9]+)", value)
        if exponent is None or abs(int(exponent.group(1))) <= _MAX_EXPONENT:
            try:
                return Fraction(value.strip().replace("_", ""))
            except (ValueError, ZeroDivisionError):
                pass
    raise SpecError(f"'{key}' must be a number (such as 2700, 2.5 or \"1/3\"), not {value!r}", (key,))


# -- reading numbers ----------------------------------------------------------

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


@dataclass(frozen=True)
class _Token:
    value: Fraction
    start: int
    end: int
    unit: Unit | None
    strong: bool


def _scan(text: str, start: int, end: int, *, slash: bool = False) -> list[_Token]:
    tokens: list[_Token] = []
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
        tokens.append(_Token(value, begin, stop, unit, strong))
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
    if len(match.group()) > _MAX_DIGITS * 2:
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
        if len(digits) > _MAX_DIGITS or abs(exponent) > _MAX_EXPONENT:
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


# -- finding the answer -------------------------------------------------------

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
    return _extract(text, _unit(unit))[0]


def _extract(text: str, unit: Unit | None) -> tuple[Extracted | None, list[_Token]]:
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


def _pick(tokens: list[_Token], dimension: str | None, *, last: bool, weak: bool) -> _Token | None:
    fits = [t for t in tokens if dimension is None or t.unit is None or t.unit.dimension == dimension]
    pool = [t for t in fits if t.strong] or (fits if weak else [])
    if dimension is not None:
        pool = [t for t in pool if t.unit is not None] or pool
    if not pool:
        return None
    return pool[-1] if last else pool[0]


def _extracted(text: str, token: _Token, how: str) -> Extracted:
    return Extracted(
        value=token.value,
        unit=token.unit.name if token.unit else None,
        text=text[token.start:token.end],
        span=(token.start, token.end),
        how=how,
    )


# -- verdict ------------------------------------------------------------------


def judge(parsed: _Spec, text: str) -> Verdict:
    """Extract the answer's number from ``text`` and compare it with ``spec``'s answer."""
    unit = parsed.unit
    expected = _quantity(parsed.answer, unit)
    allowed = max(parsed.abs_tol, parsed.rel_tol * abs(parsed.answer))
    if parsed.abs_tol or parsed.rel_tol:
        tolerance = [f"± {_quantity(parsed.abs_tol, unit)}"] if parsed.abs_tol else []
        tolerance += [f"± {_fmt(parsed.rel_tol * 100)}%"] if parsed.rel_tol else []
        if len(tolerance) > 1:
            expected += f" ({' or '.join(tolerance)}, whichever is larger)"
        else:
            expected += f" {tolerance[0]}"
    details: dict[str, Any] = {
        "expected": _fmt(parsed.answer, approximate=False),
        "unit": unit.name if unit else None,
        "abs_tol": _fmt(parsed.abs_tol, approximate=False),
        "rel_tol": _fmt(parsed.rel_tol, approximate=False),
    }
    found, others = _extract(text, unit)
    if found is None:
        if not text.strip():
            why = "the final answer is empty"
        elif others:
            listed = ", ".join(
                f"{text[t.start:t.end]!r} ({t.unit.dimension})" for t in others[-3:] if t.unit
            )
            dimension = unit.dimension if unit else ""
            why = f"no number in {dimension} units or without a unit; only {listed}"
        else:
            why = "no number in the final answer"
        tail = len(text.rstrip())
        return Verdict(
            passed=False,
            checker="numeric",
            expected=expected,
            found="no number",
            where=f"answer ends: {snippet(text, tail, tail)}" if text.strip() else "",
            why=why,
            details={**details, "value": None},
        )
    value = found.value_in(unit.name) if unit else found.value
    written = _quantity(found.value, UNITS[found.unit] if found.unit else None)
    shown = _quantity(value, unit if unit else (UNITS[found.unit] if found.unit else None))
    if unit and not found.unit:
        reading = f"{shown} (no unit written; read as {unit.name})"
    elif unit and found.unit != unit.name:
        reading = f"{written} = {shown}"
    else:
        reading = shown
    diff = abs(value - parsed.answer)
    passed = diff <= allowed
    if diff == 0:
        why = f"{shown} = {_quantity(parsed.answer, unit)}"
    elif allowed:
        relation = "within" if passed else "beyond"
        why = (
            f"{shown} is {_quantity(diff, unit)} from {_quantity(parsed.answer, unit)}, "
            f"{relation} the tolerance of {_quantity(allowed, unit)}"
        )
    else:
        why = f"{shown} ≠ {_quantity(parsed.answer, unit)}"
    details.update(
        value=_fmt(value, approximate=False),
        written=found.text,
        written_value=_fmt(found.value, approximate=False),
        written_unit=found.unit,
        span=list(found.span),
        how=found.how,
    )
    return Verdict(
        passed=passed,
        checker="numeric",
        expected=expected,
        found=f"{found.text!r} → {reading}",
        where=f"{found.how}: {snippet(text, *found.span)}",
        why=why,
        details=details,
    )


def _quantity(value: Fraction, unit: Unit | None) -> str:
    if unit is None:
        return _fmt(value)
    return f"{_fmt(value)}{'' if unit.name in _NO_SPACE else ' '}{unit.name}"


def _fmt(value: Fraction, approximate: bool = True) -> str:
    """Exact decimal when the value has one, else ``p/q`` (followed by ``(≈ x)`` if asked)."""
    value = Fraction(value)
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        exact = f"{value.numerator}/{value.denominator}"
        if not approximate:
            return exact
        try:
            return f"{exact} (≈ {float(value):.6g})"
        except OverflowError:
            return exact
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    if places:
        digits = f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")
    return ("-" if value < 0 else "") + digits


CHECKER = Checker(name="numeric", parse=parse, judge=judge)
