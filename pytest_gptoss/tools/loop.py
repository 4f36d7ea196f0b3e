"""The tool loop: a case's conversation with tools, as a chain of generations on any backend.

The first generation of every sample is handed to the backend with the rest
of the run's requests, so the batched engine (or a server's slots) decodes it
beside everything else. When a generation ends in a call, the call is answered
on the loop's own threads (a sandboxed run must not hold up decoding), the
call and its answer join the request's ``history`` with the turn's reasoning,
and the next generation goes to the same backend. The sample's answer is one
:class:`~pytest_gptoss.backends.Generation` for the whole exchange: the last
generation's final answer, every generation's reasoning, all tokens, and
``tool_calls`` and ``generations`` as the transcript records them.

``max_tokens`` bounds the tokens the model generates across the exchange. A
call past ``max_tool_calls`` is recorded unanswered and ends the exchange
with finish reason ``max_tool_calls``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_gptoss.backends import Backend, BackendError, Generation, Request
from pytest_gptoss.harmony import Message
from pytest_gptoss.tools.answer import ToolError, answer
from pytest_gptoss.tools.spec import Toolbox

#: threads answering calls at once, per loop (each may hold a sandboxed run)
WORKERS = 2


@dataclass
class _Exchange:
    """One sample's conversation so far."""

    request: Request
    toolbox: Toolbox
    answered: Future[Generation | None]
    generations: list[Generation] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)


class ToolLoop:
    """Answers the calls of one backend's exchanges and hands their next generations back to it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gptoss-tools")
        self._closed = threading.Event()

    def follow(self, request: Request, toolbox: Toolbox, first: Future[Generation | None]) -> Future[Generation | None]:
        """The future of the whole exchange that ``first`` (``request``'s generation, submitted) begins."""
        exchange = _Exchange(request, toolbox, Future())
        self._then(exchange, first)
        return exchange.answered

    def close(self) -> None:
        """Answer no more calls; exchanges still going fail."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _then(self, exchange: _Exchange, made: Future[Generation | None]) -> None:
        def hand_over(done: Future[Generation | None]) -> None:
            try:
                self._pool.submit(self._step, exchange, done)
            except RuntimeError:  # the pool is shut down: the run is stopping
                _fail(exchange, BackendError(f"case '{exchange.request.case}': the run stopped during the "
                                             "exchange with tools"))

        made.add_done_callback(hand_over)

    def _step(self, exchange: _Exchange, done: Future[Generation | None]) -> None:
        try:
            self._advance(exchange, done)
        except ToolError as exc:
            _fail(exchange, BackendError(f"case '{exchange.request.case}': {exc}"))
        except Exception as exc:  # a loop thread must never take an exception with it
            _fail(exchange, BackendError(f"case '{exchange.request.case}': the tool loop failed: "
                                         f"{type(exc).__name__}: {exc}"))

    def _advance(self, exchange: _Exchange, done: Future[Generation | None]) -> None:
        error = done.exception()
        if error is not None:
            _fail(exchange, error)
            return
        generation = done.result()
        if generation is None:  # nothing to continue (a backend with no answer for it)
            exchange.answered.set_result(None)
            return
        index = len(exchange.generations)
        exchange.generations.append(generation)
        if generation.finish_reason != "tool_call" or not generation.tool_calls:
            exchange.answered.set_result(_whole(exchange))
            return
        _keep_reasoning(exchange, generation)
        for call in generation.tool_calls:
            record = {**call, "generation": index}
            exchange.calls.append(record)
            if len(exchange.calls) > exchange.toolbox.max_calls:
                record["error"] = f"not answered: past the case's max_tool_calls ({exchange.toolbox.max_calls})"
                exchange.answered.set_result(_whole(exchange, finish="max_tool_calls"))
                return
            if self._closed.is_set():
                raise ToolError("the run stopped during the exchange with tools")
            said = answer(call, exchange.toolbox)
            record.update(result=said.content, seconds=said.seconds)
            if said.error:
                record["error"] = said.error
            _keep_call(exchange, call, said.content, len(exchange.calls) - 1)
        used = sum(g.completion_tokens for g in exchange.generations)
        left = exchange.request.max_tokens - used
        if left < 1:
            exchange.answered.set_result(_whole(exchange, finish="length"))
            return
        follow_up = replace(exchange.request, history=tuple(exchange.history), max_tokens=left)
        (made,) = self.backend.submit([follow_up])
        self._then(exchange, made)


def _fail(exchange: _Exchange, error: BaseException) -> None:
    if not exchange.answered.done():
        exchange.answered.set_exception(error)


def _keep_reasoning(exchange: _Exchange, generation: Generation) -> None:
    """The turn's reasoning and preamble stay in the prompt while the exchange goes on (harmony's rule for calls)."""
    if generation.analysis:
        exchange.history.append(Message("assistant", generation.analysis, channel="analysis"))
    if generation.commentary:
        exchange.history.append(Message("assistant", generation.commentary, channel="commentary"))


def _keep_call(exchange: _Exchange, call: dict[str, Any], result: str, number: int) -> None:
    recipient = str(call.get("recipient") or "")
    channel = call.get("channel") or ("analysis" if recipient == "python" else "commentary")
    call_id = str(call.get("id") or f"call_{number}")
    exchange.history.append(Message("assistant", str(call.get("arguments") or ""), channel=channel,
                                    recipient=recipient, content_type=call.get("content_type"), call_id=call_id))
    exchange.history.append(Message("tool", result, channel=channel, recipient="assistant", name=recipient,
                                    call_id=call_id))


def _whole(exchange: _Exchange, finish: str | None = None) -> Generation:
    """The exchange as one generation: the last one's answer, everything's reasoning, tokens and time."""
    gens = exchange.generations
    last = gens[-1]
    has_final = last.has_final and finish is None
    return Generation(
        case=last.case,
        model=last.model,
        reasoning=last.reasoning,
        sample=exchange.request.sample,
        final=last.final if has_final else "",
        analysis="\n\n".join(g.analysis for g in gens if g.analysis),
        commentary="\n\n".join(g.commentary for g in gens if g.commentary),
        finish_reason=finish or last.finish_reason,
        has_final=has_final,
        prompt_tokens=sum(g.prompt_tokens for g in gens),
        completion_tokens=sum(g.completion_tokens for g in gens),
        reasoning_tokens=sum(g.reasoning_tokens for g in gens),
        seconds=round(sum(g.seconds for g in gens) + sum(c.get("seconds", 0.0) for c in exchange.calls), 3),
        seed=exchange.request.seed,
        tool_calls=exchange.calls,
        generations=[_record(g) for g in gens],
        raw=last.raw if not has_final else "",
        cached=all(g.cached for g in gens),
        server=last.server,
    )


def _record(generation: Generation) -> dict[str, Any]:
    """One generation of an exchange, as the transcript holds it."""
    record: dict[str, Any] = {
        "analysis": generation.analysis, "commentary": generation.commentary, "final": generation.final,
        "has_final": generation.has_final, "finish_reason": generation.finish_reason,
        "prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
        "reasoning_tokens": generation.reasoning_tokens, "seconds": generation.seconds,
    }
    if generation.raw and not generation.has_final and not generation.tool_calls:
        record["raw"] = generation.raw
    if generation.cached:
        record["cached"] = True
    return record
