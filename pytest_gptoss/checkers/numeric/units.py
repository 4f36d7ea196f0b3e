"""The numeric checker's unit table: every unit a spec may name or an answer may write, by dimension.

A unit converts only to units of its own dimension (through ``factor``, to the
dimension's base unit); one spelled here is the only way a number gets a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from pytest_gptoss.verdict import SpecError


@dataclass(frozen=True)
class Unit:
    """A unit: ``factor`` converts it to its dimension's base unit."""

    name: str
    dimension: str
    factor: Fraction


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


def lookup_unit(name: str) -> Unit | None:
    """The unit spelled ``name`` (exactly, or case-insensitively if that is unambiguous)."""
    if name in ALIASES:
        return UNITS[ALIASES[name]]
    matches = {canon for alias, canon in ALIASES.items() if alias.casefold() == name.casefold()}
    return UNITS[matches.pop()] if len(matches) == 1 else None


def spec_unit(name: str | None) -> Unit | None:
    """The unit a spec names (None for none), or :class:`SpecError` at ``unit`` for a name not in the table."""
    if name is None:
        return None
    unit = lookup_unit(name)
    if unit is None:
        raise SpecError(f"unknown unit {name!r}; known units: {', '.join(UNITS)}", ("unit",))
    return unit


def convert(value: Fraction, written_in: Unit | None, target: Unit | None) -> Fraction:
    """``value``, written in ``written_in``, expressed in ``target``; a bare value (or no target) stays as it is.

    Raises ValueError when the two units measure different dimensions.
    """
    if target is None or written_in is None:
        return value
    if written_in.dimension != target.dimension:
        raise ValueError(f"{written_in.name} ({written_in.dimension}) cannot be expressed in {target.name}")
    return value * written_in.factor / target.factor
