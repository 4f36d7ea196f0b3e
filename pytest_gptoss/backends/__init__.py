"""What a backend is given (requests) and what it returns (generations).

A backend takes many requests at once: callers hand over every sample of a
case (and, later, of many cases) in one call, so a backend that decodes them
together in one batch needs no change on the caller's side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """One generation to make: a case's conversation at one effort and seed."""

    case: str
    messages: tuple[tuple[str, str], ...]
    reasoning: str
    sample: int
    seed: int
    max_tokens: int
    temperature: float
    top_p: float


@dataclass
class Generation:
    """What the model said for one request, split into harmony channels."""

    case: str
    model: str
    reasoning: str
    sample: int
    final: str
    analysis: str = ""
    commentary: str = ""
    finish_reason: str = "stop"
    has_final: bool = True
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    seconds: float = 0.0
    seed: int | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: the whole generated text, kept only when no final answer could be found
    raw: str = ""
    #: answered from the response cache rather than generated now
    cached: bool = False

    def to_transcript(self) -> dict[str, Any]:
        """The transcript line (DESIGN section 6), plain data only."""
        data = asdict(self)
        if not data["tool_calls"]:
            del data["tool_calls"]
        for optional in ("commentary", "raw", "cached"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_transcript(cls, data: dict[str, Any]) -> Generation:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("model", "replay")
        known.setdefault("reasoning", "")
        known.setdefault("sample", 0)
        known.setdefault("has_final", bool(known.get("final")))
        return cls(**known)


class Backend(Protocol):
    label: str

    def generate(self, requests: Sequence[Request]) -> list[Generation | None]:
        """One generation per request, in order; ``None`` where none can be had (replay)."""


def sample_seed(seed: int, case: str, sample: int) -> int:
    """The seed of one generation, derived from (run seed, case id, sample index)."""
    digest = hashlib.sha256(f"{seed}\0{case}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
