"""The ``numeric`` checker: find the final answer's number and compare it exactly, or within a tolerance.

Spec: a number, or ``{answer: N, unit: ..., abs_tol: ..., rel_tol: ...}``;
``answer`` and the tolerances are numbers (or strings such as ``"1/3"``), read
as exact fractions; ``unit`` is a name from :mod:`.units`. Which number of the
answer is its answer, and how numbers and units are read: :mod:`.extract`.
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
from pytest_gptoss.checkers.numeric.extract import MAX_DIGITS, MAX_EXPONENT, extract
from pytest_gptoss.checkers.numeric.units import UNITS, Unit, convert, spec_unit
from pytest_gptoss.checkers.text import snippet
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

KEYS = ("answer", "unit", "abs_tol", "rel_tol")
_NO_SPACE = {"%", "‰", "°"}  # units written right after the number


@dataclass(frozen=True, kw_only=True)
class NumericSpec:
    """A parsed ``numeric`` spec: the expected value, its unit (None: any or none), and the tolerances."""

    answer: Fraction
    unit: Unit | None
    abs_tol: Fraction
    rel_tol: Fraction


def parse(spec: Any) -> NumericSpec:
    """``spec`` as a :class:`NumericSpec`, or :class:`SpecError` naming the bad field."""
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
    unit = spec_unit(unit_name)
    abs_tol, rel_tol = (_tolerance(spec, key) for key in ("abs_tol", "rel_tol"))
    return NumericSpec(answer=answer, unit=unit, abs_tol=abs_tol, rel_tol=rel_tol)


def _tolerance(spec: Mapping[str, Any], key: str) -> Fraction:
    value = _exact(spec.get(key, 0), key)
    if value < 0:
        raise SpecError(f"'{key}' must not be negative", (key,))
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal, Fraction)) and not isinstance(value, bool)


def _exact(value: Any, key: str) -> Fraction:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"'{key}' must be a finite number, not {value!r}", (key,))
        return Fraction(repr(value))
    if isinstance(value, Decimal) and (not value.is_finite() or abs(value.adjusted()) > MAX_EXPONENT):
        raise SpecError(f"'{key}' must be a finite number of sensible size, not {value!r}", (key,))
    if _is_number(value):
        return Fraction(value)
    if isinstance(value, str) and len(value) <= MAX_DIGITS:
        exponent = re.search(r"[eE]\s*([-+]?[0-9]+)", value)
        if exponent is None or abs(int(exponent.group(1))) <= MAX_EXPONENT:
            try:
                return Fraction(value.strip().replace("_", ""))
            except (ValueError, ZeroDivisionError):
                pass
    raise SpecError(f"'{key}' must be a number (such as 2700, 2.5 or \"1/3\"), not {value!r}", (key,))


# -- verdict ------------------------------------------------------------------


def judge(parsed: NumericSpec, text: str) -> Verdict:
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
    found, others = extract(text, unit)
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
    written_in = UNITS[found.unit] if found.unit else None
    value = convert(found.value, written_in, unit)
    written = _quantity(found.value, written_in)
    shown = _quantity(value, unit or written_in)
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
