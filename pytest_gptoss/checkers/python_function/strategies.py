"""The argument strategies a ``python_function`` spec declares: checked, drawn with Hypothesis, and shrunk.

:func:`parse_strategy` reads one strategy of the spec into a :class:`Strategy`
(without importing Hypothesis); :func:`generate` draws argument tuples from
them with Hypothesis, deterministically; :meth:`Strategy.shrinks` proposes
simpler values the same strategy allows. :func:`encode` is the plain-JSON form
in which arguments are compared (:func:`key`, :func:`size`) and sent to the
sandbox.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.verdict import SpecError

Args = tuple[Any, ...]
SpecPath = tuple[str | int, ...]

STRATEGIES = ("integers", "floats", "text", "lists", "tuples", "booleans", "sampled_from")


class Strategy:
    """One argument strategy: builds the Hypothesis strategy and proposes simpler values."""

    def build(self, st: Any) -> Any:
        """The Hypothesis strategy, built with ``st`` (``hypothesis.strategies``)."""
        raise NotImplementedError

    def shrinks(self, value: Any) -> Iterator[Any]:
        """Simpler values the strategy could also produce (maybe none)."""
        return iter(())


@dataclass(frozen=True)
class Integers(Strategy):
    min_value: int | None = None
    max_value: int | None = None

    def build(self, st: Any) -> Any:
        return st.integers(self.min_value, self.max_value)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if isinstance(value, bool) or not isinstance(value, int):
            return
        target = _clamp(0, self.min_value, self.max_value)
        if value == target:
            return
        candidates = [target, target + (value - target) // 2, value - 1 if value > target else value + 1]
        if value < 0:
            candidates.insert(1, -value)
        yield from _fresh(value, (c for c in candidates if self._allows(c)))

    def _allows(self, value: int) -> bool:
        return _clamp(value, self.min_value, self.max_value) == value


@dataclass(frozen=True)
class Floats(Strategy):
    min_value: float | None = None
    max_value: float | None = None
    allow_nan: bool = False
    allow_infinity: bool = False

    def build(self, st: Any) -> Any:
        bounded = self.min_value is not None and self.max_value is not None
        return st.floats(
            self.min_value, self.max_value, allow_nan=self.allow_nan,
            allow_infinity=None if bounded else self.allow_infinity,
        )

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, float):
            return
        target = float(_clamp(0.0, self.min_value, self.max_value))
        candidates = [target]
        if math.isfinite(value):
            candidates += [-value, float(math.trunc(value)), round(value, 1), round(value, 3), value / 2]
        yield from _fresh(value, (c for c in candidates if self._allows(c)))

    def _allows(self, value: float) -> bool:
        return _clamp(value, self.min_value, self.max_value) == value


@dataclass(frozen=True)
class Text(Strategy):
    alphabet: str | None = None
    min_size: int = 0
    max_size: int | None = None

    def build(self, st: Any) -> Any:
        if self.alphabet is None:
            return st.text(min_size=self.min_size, max_size=self.max_size)
        return st.text(alphabet=self.alphabet, min_size=self.min_size, max_size=self.max_size)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, str):
            return
        simplest = self.alphabet[0] if self.alphabet else "0"
        candidates = [value[: self.min_size], value[: len(value) // 2]]
        candidates += [value[:i] + value[i + 1 :] for i in range(min(len(value), 10))]
        candidates += [value[:i] + simplest + value[i + 1 :] for i in range(min(len(value), 10))]
        yield from _fresh(value, (c for c in candidates if len(c) >= self.min_size))


@dataclass(frozen=True)
class Lists(Strategy):
    of: Strategy
    min_size: int = 0
    max_size: int | None = None
    unique: bool = False

    def build(self, st: Any) -> Any:
        return st.lists(self.of.build(st), min_size=self.min_size, max_size=self.max_size, unique=self.unique)

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, list):
            return
        candidates = [value[: self.min_size], value[: len(value) // 2]]
        candidates += [value[:i] + value[i + 1 :] for i in range(min(len(value), 10))]
        with suppress(TypeError, ValueError):
            candidates.append(sorted(value, key=lambda element: size((element,))))
        for i, element in enumerate(value[:10]):
            for simpler in _first(self.of.shrinks(element), 3):
                candidates.append(value[:i] + [simpler] + value[i + 1 :])
        fits = (c for c in candidates if len(c) >= self.min_size and (not self.unique or _distinct(c)))
        yield from _fresh(value, fits)


@dataclass(frozen=True)
class Tuples(Strategy):
    elements: tuple[Strategy, ...]

    def build(self, st: Any) -> Any:
        return st.tuples(*(e.build(st) for e in self.elements))

    def shrinks(self, value: Any) -> Iterator[Any]:
        if not isinstance(value, tuple) or len(value) != len(self.elements):
            return
        for i, (element, strategy) in enumerate(zip(value, self.elements, strict=True)):
            for simpler in _first(strategy.shrinks(element), 3):
                yield value[:i] + (simpler,) + value[i + 1 :]


@dataclass(frozen=True)
class Booleans(Strategy):
    def build(self, st: Any) -> Any:
        return st.booleans()

    def shrinks(self, value: Any) -> Iterator[Any]:
        if value is True:
            yield False


@dataclass(frozen=True)
class SampledFrom(Strategy):
    values: tuple[Any, ...]

    def build(self, st: Any) -> Any:
        return st.sampled_from(self.values)

    def shrinks(self, value: Any) -> Iterator[Any]:
        index = next((i for i, v in enumerate(self.values) if type(v) is type(value) and v == value), None)
        if index:
            yield from _fresh(value, (self.values[0], self.values[index // 2], self.values[index - 1]))


_SIMPLE: dict[str, type[Strategy]] = {"integers": Integers, "floats": Floats, "text": Text, "booleans": Booleans}
_PARAMETERS: dict[str, dict[str, tuple[type, ...]]] = {
    "integers": {"min_value": (int,), "max_value": (int,)},
    "floats": {"min_value": (int, float), "max_value": (int, float), "allow_nan": (bool,), "allow_infinity": (bool,)},
    "text": {"alphabet": (str,), "min_size": (int,), "max_size": (int,)},
    "lists": {"of": (), "min_size": (int,), "max_size": (int,), "unique": (bool,)},
    "booleans": {},
}


def parse_strategy(raw: Any, path: SpecPath = ()) -> Strategy:
    """The strategy a spec describes; raises :class:`SpecError` (with ``path``) if malformed."""
    if isinstance(raw, str):
        if raw not in _SIMPLE:
            raise SpecError(f"unknown strategy {raw!r}; known: {', '.join(STRATEGIES)}", path)
        return _SIMPLE[raw]()
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpecError(f"a strategy is a name or a mapping with one key, one of: {', '.join(STRATEGIES)}", path)
    ((name, params),) = raw.items()
    here = (*path, name)
    if name == "tuples":
        if not isinstance(params, list):
            raise SpecError("'tuples' takes a list of strategies", here)
        return Tuples(tuple(parse_strategy(p, (*here, i)) for i, p in enumerate(params)))
    if name == "sampled_from":
        if not isinstance(params, list) or not params:
            raise SpecError("'sampled_from' takes a non-empty list of values", here)
        for i, value in enumerate(params):
            check_value(value, (*here, i))
        return SampledFrom(tuple(params))
    if name not in _PARAMETERS:
        raise SpecError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}", here)
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise SpecError(f"'{name}' takes a mapping of parameters ({', '.join(_PARAMETERS[name]) or 'none'})", here)
    allowed = _PARAMETERS[name]
    for key, value in params.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise SpecError(f"unknown parameter '{key}' for {name}; known: {known}", (*here, key))
        if allowed[key] and (isinstance(value, bool) != (bool in allowed[key]) or not isinstance(value, allowed[key])):
            kinds = " or ".join(t.__name__ for t in allowed[key])
            raise SpecError(f"'{key}' must be of type {kinds}", (*here, key))
    for key in ("min_size", "max_size"):
        if params.get(key, 0) < 0:
            raise SpecError(f"'{key}' must not be negative", (*here, key))
    low = params.get("min_value", params.get("min_size"))
    high = params.get("max_value", params.get("max_size"))
    if low is not None and high is not None and low > high:
        raise SpecError(f"the lower bound {low} is above the upper bound {high}", here)
    if name == "lists":
        if "of" not in params:
            raise SpecError("'lists' needs 'of', the strategy of its elements", here)
        return Lists(parse_strategy(params["of"], (*here, "of")), **{k: v for k, v in params.items() if k != "of"})
    if name == "text" and params.get("alphabet") == "":
        raise SpecError("'alphabet' must not be empty", (*here, "alphabet"))
    if name == "floats":
        params = {k: float(v) if k in ("min_value", "max_value") else v for k, v in params.items()}
    return _SIMPLE[name](**params)


def check_value(value: Any, path: SpecPath) -> None:
    """Raise :class:`SpecError` (at ``path``) unless ``value`` is plain data an argument can be."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(item, (*path, i))
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_value(key, path)
            check_value(item, (*path, key))
        return
    kind = type(value).__name__
    raise SpecError(f"a value must be a number, string, boolean, null, list or mapping, not {kind}", path)


def generate(strategies: Sequence[Strategy], count: int) -> list[Args]:
    """Up to ``count`` distinct argument tuples, the same ones on every call."""
    if count <= 0:
        return []
    if not strategies:
        return [()]
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    drawn: dict[str, Args] = {}
    # Derandomized Hypothesis seeds from the source and signature of `collect`, decorators included:
    # a change to any of its lines (a renamed name, an annotation) changes every case's inputs.
    _key = key

    @settings(
        max_examples=count, database=None, derandomize=True, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*(s.build(st) for s in strategies)))
    def collect(args: tuple[Any, ...]) -> None:
        drawn.setdefault(_key(args), args)

    collect()
    return list(drawn.values())


# --- arguments as plain data ------------------------------------------------------


def encode(value: Any) -> Any:
    """Plain JSON for a value, keeping tuples and non-string keys."""
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    return value


def key(args: Any) -> str:
    """The identity of an argument tuple: equal for equal arguments of equal types."""
    return json.dumps(encode(list(args)), sort_keys=True)


def size(args: Any) -> tuple[int, str]:
    """How simple an argument tuple is, for shrinking: smaller is simpler."""
    identity = key(args)
    return len(identity), identity


def _clamp(value: Any, low: Any, high: Any) -> Any:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _fresh(value: Any, candidates: Iterable[Any]) -> Iterator[Any]:
    """``candidates`` without repeats and without ``value`` itself."""
    seen = [value]
    for candidate in candidates:
        if not any(type(candidate) is type(s) and candidate == s for s in seen):
            seen.append(candidate)
            yield candidate


def _first(values: Iterator[Any], n: int) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if len(out) == n:
            break
        out.append(value)
    return out


def _distinct(values: list[Any]) -> bool:
    return all(a != b for i, a in enumerate(values) for b in values[i + 1 :])
