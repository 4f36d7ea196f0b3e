"""Checker registry, dispatch and composition (``all``, ``any``, ``not``).

A case's ``check`` is one checker (``{numeric: {...}}``), a list of checkers
(all must hold), or a composition. Every checker module has ``validate(spec)``
(raises :class:`SpecError`) and ``check(spec, text) -> Verdict``; this module
picks the text the checker sees (the final channel, or ``on: analysis``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pytest_gptoss.verdict import SpecError, Verdict

#: checker name -> module under pytest_gptoss.checkers, imported on first use
REGISTRY: dict[str, str] = {
    "numeric": "numeric",
    "text": "text",
    "sql": "sql",
    "code": "code",
    "premise": "premise",
    "conclusion": "conclusion",
    "json": "json",
    "html": "html",
    "plan": "plan",
    "python_function": "python_function",
    "mermaid": "mermaid",
}
COMPOSITIONS = ("all", "any", "not")
CHANNELS = ("final", "analysis")


def checker_module(name: str) -> ModuleType:
    return importlib.import_module(f"pytest_gptoss.checkers.{REGISTRY[name]}")


def validate(check: Any) -> None:
    """Raise :class:`SpecError` (with a path under ``check``) if malformed."""
    if isinstance(check, list):
        if not check:
            raise SpecError("an empty list of checkers checks nothing; name at least one")
        for index, item in enumerate(check):
            try:
                validate(item)
            except SpecError as exc:
                raise exc.prefixed(index) from None
        return
    if not isinstance(check, Mapping) or len(check) != 1:
        known = ", ".join([*REGISTRY, *COMPOSITIONS])
        raise SpecError(f"a check is a mapping with exactly one key ({known}), or a list of them")
    ((name, spec),) = check.items()
    if name in ("all", "any"):
        if not isinstance(spec, list) or not spec:
            raise SpecError(f"'{name}' takes a non-empty list of checks", (name,))
        for index, item in enumerate(spec):
            try:
                validate(item)
            except SpecError as exc:
                raise exc.prefixed(name, index) from None
        return
    if name == "not":
        try:
            validate(spec)
        except SpecError as exc:
            raise exc.prefixed(name) from None
        return
    if name not in REGISTRY:
        known = ", ".join(sorted([*REGISTRY, *COMPOSITIONS]))
        raise SpecError(f"unknown checker '{name}'; known checkers: {known}", (name,))
    if isinstance(spec, Mapping) and "on" in spec and spec["on"] not in CHANNELS:
        raise SpecError(f"'on' must be one of {', '.join(CHANNELS)}", (name, "on"))
    try:
        checker_module(name).validate(_without_on(spec))
    except SpecError as exc:
        raise exc.prefixed(name) from None


def run(check: Any, channels: Mapping[str, str]) -> Verdict:
    """Judge an answer, given its channels (``final``, ``analysis``)."""
    if isinstance(check, list):
        return _all("all", [run(item, channels) for item in check])
    ((name, spec),) = check.items()
    if name == "all":
        return _all("all", [run(item, channels) for item in spec])
    if name == "any":
        return _any([run(item, channels) for item in spec])
    if name == "not":
        inner = run(spec, channels)
        if inner.error:
            return inner
        return Verdict(
            passed=not inner.passed,
            checker="not",
            expected="the inner check to fail",
            found="it passed" if inner.passed else "it failed",
            parts=(inner,),
        )
    channel = spec.get("on", "final") if isinstance(spec, Mapping) else "final"
    return checker_module(name).check(_without_on(spec), channels.get(channel, "") or "")


def _without_on(spec: Any) -> Any:
    if isinstance(spec, Mapping):
        return {k: v for k, v in spec.items() if k != "on"}
    return spec


def _all(name: str, verdicts: list[Verdict]) -> Verdict:
    if len(verdicts) == 1:
        return verdicts[0]
    failed = [v for v in verdicts if not v.passed]
    return Verdict(
        passed=not failed,
        checker=name,
        expected=f"all {len(verdicts)} checks to hold",
        found=f"{len(verdicts) - len(failed)} of {len(verdicts)} held",
        error=any(v.error for v in verdicts),
        parts=tuple(verdicts),
    )


def _any(verdicts: list[Verdict]) -> Verdict:
    held = [v for v in verdicts if v.passed]
    return Verdict(
        passed=bool(held),
        checker="any",
        expected=f"at least one of {len(verdicts)} checks to hold",
        found=f"{len(held)} of {len(verdicts)} held",
        error=not held and any(v.error for v in verdicts),
        parts=tuple(verdicts),
    )
