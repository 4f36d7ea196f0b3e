"""What a backend is given (requests) and what it returns (generations).

A backend takes many requests at once and answers each through a future:
callers hand over every request of the items they will run as soon as they
know them, then wait for each item's own, so a backend that decodes many
together (the batched engine, a server with parallel slots) is kept busy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pytest_gptoss.harmony import Message, Tool


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
    #: the functions the model may call (a case's ``tools``), described for the prompt
    tools: tuple[Tool, ...] = ()
    #: gpt-oss's own tools offered in the system message: ``("python",)`` or none
    builtin_tools: tuple[str, ...] = ()
    #: what this exchange said after the case's messages: the assistant's analysis and calls, the tools' answers
    history: tuple[Message, ...] = ()


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
    #: the calls made, in order: ``recipient``, ``arguments`` (as written), ``content_type``, ``channel``; once
    #: answered by the tool loop also ``generation`` (its index in ``generations``), ``result`` (what the model
    #: was told), ``error`` (why the call was answered with an error, only then) and ``seconds``; ``id`` where a
    #: server named the call
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: an exchange with tools: each generation's channels, finish reason, tokens and seconds, in order
    generations: list[dict[str, Any]] = field(default_factory=list)
    #: the whole generated text, kept only when no final answer could be found
    raw: str = ""
    #: answered from the response cache rather than generated now
    cached: bool = False
    #: for a served model: the URL and what the response said of the server (model, system_fingerprint)
    server: dict[str, Any] = field(default_factory=dict)

    def to_transcript(self) -> dict[str, Any]:
        """The transcript line (DESIGN section 6), plain data only."""
        data = asdict(self)
        for listed in ("tool_calls", "generations"):
            if not data[listed]:
                del data[listed]
        for optional in ("commentary", "raw", "cached", "server"):
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


class BackendError(Exception):
    """The model could not be loaded or could not generate; the message is one line."""


class Backend(Protocol):
    label: str

    def submit(self, requests: Sequence[Request]) -> list[Future[Generation | None]]:
        """One future per request, in order, each ending with its generation, ``None`` where
        none can be had (replay), or a :class:`BackendError`."""

    def stats(self) -> dict[str, Any]:
        """Cumulative figures of this process's generation work (plain data; empty if none)."""

    def identity(self) -> dict[str, Any]:
        """Who the model is, as plain data, for the results file and the response cache's key: cheap (no
        model is loaded for it); a :class:`BackendError` where it cannot be told."""

    def close(self) -> None:
        """Stop generating; requests not finished fail."""

    def prompt_text(self, request: Request) -> str:
        """What the model was given for ``request``, rendered by the code that prompted it,
        or a note saying why there is none (a replay, answers from the cache)."""


def done(value: Generation | None) -> Future[Generation | None]:
    """A future that already holds ``value``."""
    future: Future[Generation | None] = Future()
    future.set_result(value)
    return future


def sample_seed(seed: int, case: str, sample: int) -> int:
    """The seed of one generation, derived from (run seed, case id, sample index)."""
    digest = hashlib.sha256(f"{seed}\0{case}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
