"""The verdict a checker returns, and the error a bad checker spec raises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One checker's judgement of one answer, able to explain itself.

    ``error`` marks a check that could not be made (a reference that fails, a
    sandbox that could not start): pytest reports it as an error, not a failure.
    """

    passed: bool
    checker: str
    expected: str
    found: str
    where: str = ""
    why: str = ""
    error: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    parts: tuple[Verdict, ...] = ()

    def explain(self) -> str:
        """A short, human explanation: expected / found / where / why."""
        status = "ERROR" if self.error else ("PASS" if self.passed else "FAIL")
        lines = [f"[{self.checker}] {status}"]
        if self.expected:
            lines.append(f"  expected: {_indent(self.expected)}")
        if self.found:
            lines.append(f"  found:    {_indent(self.found)}")
        if self.where:
            lines.append(f"  where:    {_indent(self.where)}")
        if self.why:
            lines.append(f"  why:      {_indent(self.why)}")
        for part in self.parts:
            lines.extend("  " + line for line in part.explain().splitlines())
        return "\n".join(lines)

    def reason(self) -> str:
        """Why it failed in one line: its own why, else that of the first part that failed."""
        if self.why:
            return " ".join(self.why.split())
        failed = [part for part in self.parts if not part.passed or part.error]
        return failed[0].reason() if failed else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, safe to send across processes and write as JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        parts = tuple(cls.from_dict(p) for p in data.get("parts", ()))
        return cls(**{**data, "parts": parts})


class SpecError(ValueError):
    """A checker spec in a case file is malformed.

    ``path`` locates the bad field inside the spec, e.g. ``("answer",)`` or
    ``("columns", 2)``; the case loader turns it into a file line.
    """

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = tuple(path)

    def prefixed(self, *prefix: str | int) -> SpecError:
        return SpecError(self.message, tuple(prefix) + self.path)


def check_keys(spec: Any, known: Sequence[str], *, name: str, usage: str) -> Mapping[str, Any]:
    """``spec`` as a mapping of known keys, or :class:`SpecError` (with the unknown key as its path).

    ``usage`` says what the checker takes, for a spec that is no mapping at all.
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"{usage}; got {type(spec).__name__}")
    for key in spec:
        if key not in known:
            raise SpecError(f"unknown key {key!r}; {name} accepts {', '.join(known)}", (key,))
    return spec


def _indent(text: str) -> str:
    return text.replace("\n", "\n            ")
