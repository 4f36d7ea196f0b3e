"""Checkers: what one is, and how a case's ``check`` is parsed (once, at collection) and judged.

A checker is a :class:`Checker`: a name, ``parse(spec)``, which turns the spec
written in a case file into a typed object or raises :class:`SpecError`, and
``judge(parsed, text) -> Verdict``. Every checker, the shipped ones included,
registers through the entry-point group ``pytest_gptoss.checkers``; a project
can add its own from a ``conftest.py`` (:mod:`.registry`).

A case's ``check`` is one checker (``{numeric: {...}}``), a list of checkers
(all must hold), or a composition (``all``, ``any``, ``not``). :func:`parse`
turns it into a tree of :class:`Judge`, :class:`AllOf`, :class:`AnyOf` and
:class:`Not`, each checker's spec parsed; :func:`judge` runs the tree on an
answer's channels (the final one, or ``on: analysis``; a checker's ``reads`` names
its default, such as ``tool_calls``: the exchange's calls as JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from pytest_gptoss.verdict import SpecError, Verdict, check_keys

if TYPE_CHECKING:
    from pytest_gptoss.checkers.registry import Registry

__all__ = ["Checker", "SpecError", "Verdict", "check_keys", "parse", "judge"]

S = TypeVar("S")
COMPOSITIONS = ("all", "any", "not")
CHANNELS = ("final", "analysis", "tool_calls")


@dataclass(frozen=True)
class Checker(Generic[S]):
    """A checker: ``parse`` turns a case file's spec into ``S`` (or raises :class:`SpecError`), ``judge`` an answer.

    ``judge`` must be pure: the same parsed spec and text give the same verdict.
    """

    name: str
    parse: Callable[[Any], S]
    judge: Callable[[S, str], Verdict]
    #: the channel it judges unless the spec says ``on:``: ``final``, or ``tool_calls`` (the calls made, as JSON)
    reads: str = "final"

    def check(self, spec: Any, text: str) -> Verdict:
        """Parse ``spec`` and judge ``text`` with it in one step (for scripts and tests)."""
        return self.judge(self.parse(spec), text)


@dataclass(frozen=True)
class Judge:
    """One checker with its parsed spec, judging one channel of the answer."""

    checker: Checker[Any]
    spec: Any
    channel: str = "final"


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Check, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Check, ...]


@dataclass(frozen=True)
class Not:
    inner: Check


Check: TypeAlias = "Judge | AllOf | AnyOf | Not"


def judges(check: Check) -> Iterator[Judge]:
    """Every checker of a parsed tree, in the order the case gives them."""
    if isinstance(check, Judge):
        yield check
    elif isinstance(check, Not):
        yield from judges(check.inner)
    else:
        for part in check.parts:
            yield from judges(part)


def parse(check: Any, registry: Registry) -> Check:
    """The parsed tree of a case's ``check``, or :class:`SpecError` with the bad field's path under ``check``."""
    if isinstance(check, list):
        if not check:
            raise SpecError("an empty list of checkers checks nothing; name at least one")
        return _all(tuple(_parse_part(item, registry, index) for index, item in enumerate(check)))
    if not isinstance(check, Mapping) or len(check) != 1:
        known = ", ".join([*registry.names(), *COMPOSITIONS])
        raise SpecError(f"a check is a mapping with exactly one key ({known}), or a list of them")
    ((name, spec),) = check.items()
    if name in ("all", "any"):
        if not isinstance(spec, list) or not spec:
            raise SpecError(f"'{name}' takes a non-empty list of checks", (name,))
        parts = tuple(_parse_part(item, registry, name, index) for index, item in enumerate(spec))
        return _all(parts) if name == "all" else AnyOf(parts)
    if name == "not":
        return Not(_parse_part(spec, registry, name))
    checker = registry.get(name)
    channel = checker.reads
    if isinstance(spec, Mapping) and "on" in spec:
        channel = spec["on"]
        if channel not in CHANNELS:
            raise SpecError(f"'on' must be one of {', '.join(CHANNELS)}", (name, "on"))
        spec = {key: value for key, value in spec.items() if key != "on"}
    try:
        return Judge(checker, checker.parse(spec), channel)
    except SpecError as exc:
        raise exc.prefixed(name) from None


def judge(check: Check, channels: Mapping[str, str]) -> Verdict:
    """Judge an answer, given its channels (``final``, ``analysis``, ``tool_calls``)."""
    if isinstance(check, Judge):
        return check.checker.judge(check.spec, channels.get(check.channel, "") or "")
    if isinstance(check, AllOf):
        return _all_held([judge(part, channels) for part in check.parts])
    if isinstance(check, AnyOf):
        return _any_held([judge(part, channels) for part in check.parts])
    inner = judge(check.inner, channels)
    if inner.error:
        return inner
    return Verdict(
        passed=not inner.passed,
        checker="not",
        expected="the inner check to fail",
        found="it passed" if inner.passed else "it failed",
        parts=(inner,),
    )


def _parse_part(item: Any, registry: Registry, *at: str | int) -> Check:
    try:
        return parse(item, registry)
    except SpecError as exc:
        raise exc.prefixed(*at) from None


def _all(parts: tuple[Check, ...]) -> Check:
    return parts[0] if len(parts) == 1 else AllOf(parts)


def _all_held(verdicts: list[Verdict]) -> Verdict:
    failed = [v for v in verdicts if not v.passed]
    return Verdict(
        passed=not failed,
        checker="all",
        expected=f"all {len(verdicts)} checks to hold",
        found=f"{len(verdicts) - len(failed)} of {len(verdicts)} held",
        error=any(v.error for v in verdicts),
        parts=tuple(verdicts),
    )


def _any_held(verdicts: list[Verdict]) -> Verdict:
    held = [v for v in verdicts if v.passed]
    return Verdict(
        passed=bool(held),
        checker="any",
        expected=f"at least one of {len(verdicts)} checks to hold",
        found=f"{len(held)} of {len(verdicts)} held",
        error=not held and any(v.error for v in verdicts),
        parts=tuple(verdicts),
    )
