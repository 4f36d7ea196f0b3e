"""The batched engine: many token sequences decoded together in one llama.cpp context.

One engine owns one model's context and one thread that drives llama.cpp's
batch API. Up to ``parallel`` sequences are in flight; a finished sequence's
slot is refilled at the next step (continuous batching), and prompts are
prefilled in chunks in the same ``llama_decode`` calls as the tokens of the
sequences already decoding.

Requests that share their prompt (the samples of one case) and start together
prefill it once: the first of them feeds all but the prompt's last token, the
others copy its memory (``llama_memory_seq_cp``), then each feeds the last
token itself and samples with its own seed.

A finished sequence's memory stays in its slot. A request whose prompt begins
with what a free slot holds (the next generation of an exchange with tools, a
later sample of a prompt) takes that slot and prefills only the rest.

Sampling runs inside llama.cpp's graph (backend sampling) where the build and
device support it, and through a CPU sampler chain otherwise; either way a
request gets the chain top-p -> temperature -> seeded draw of its own.

The schedule depends only on the order of submission and the tokens sampled,
never on wall-clock time, so a rerun with the same build, hardware, requests
and ``parallel`` decodes the same batches and gives the same tokens.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pytest_gptoss.backends import engine_llama as made
from pytest_gptoss.backends.engine_llama import BATCH_TOKENS, context_params, round_up, sampler_chain

FLASH_ATTN = ("auto", "on", "off")
SAMPLING = ("auto", "backend", "cpu")


class EngineError(Exception):
    """A request could not be generated; the message is one line."""


@dataclass(frozen=True)
class EngineRequest:
    """One token sequence to continue: the prompt's tokens and how to sample after it."""

    prompt: tuple[int, ...]
    #: tokens to generate at most (already clipped to the context by the caller)
    budget: int
    seed: int
    temperature: float
    top_p: float
    stops: frozenset[int]
    #: context to keep beyond the prompt and budget for what follows it (an exchange's next generation), so
    #: that one does not make the context grow, which waits for every sequence in flight and drops their memory
    room: int = 0


@dataclass(frozen=True)
class EngineResult:
    tokens: tuple[int, ...]
    #: "stop" (a stop token or end of generation) or "length" (the budget ran out)
    finish: str
    #: wall time from the request's start in a slot to its last token
    seconds: float


@dataclass
class _Job:
    request: EngineRequest
    future: Future[EngineResult]


@dataclass
class _Slot:
    """One sequence id of the context and what it is doing."""

    seq: int
    job: _Job | None = None
    #: prompt tokens already in this sequence's memory
    fed: int = 0
    #: "prefill" (feeding the prompt), "wait" (for a sibling's prefix), "decode" (feeding ``next``)
    phase: str = ""
    next_token: int = 0
    generated: list[int] = field(default_factory=list)
    started: float = 0.0
    chain: Any = None
    backend_sampling: bool = False
    #: slots waiting to copy this slot's prefix (this slot feeds all but the prompt's last token)
    members: list[_Slot] = field(default_factory=list)
    #: the tokens a finished request left in this sequence's memory, for the next request to reuse
    kept: tuple[int, ...] = ()


@dataclass(frozen=True)
class EngineSettings:
    parallel: int = 8
    #: context per sequence at most (prompt plus generated tokens)
    ctx_cap: int = 32768
    threads: int | None = None
    flash_attn: str = "auto"
    sampling: str = "auto"
    #: samples of one prompt that start together prefill it once
    share_prefix: bool = True
    #: a request reuses what a finished request left in a free slot's memory, where their prompts agree
    reuse_memory: bool = True


class Engine:
    """Decodes submitted requests together; results arrive through futures."""

    def __init__(self, model: Any, vocab: Any, settings: EngineSettings) -> None:
        import llama_cpp

        self._llama = llama_cpp
        self.model = model
        self.vocab = vocab
        self.settings = settings
        self._lock = threading.Condition()
        self._inbox: deque[_Job] = deque()
        self._pending: deque[_Job] = deque()
        self._stop = False
        self._broken: str | None = None
        self._ctx: Any = None
        self._ctx_seq = 0
        self._batch: Any = None
        self._slots = [_Slot(seq) for seq in range(settings.parallel)]
        self._thread: threading.Thread | None = None
        #: cumulative figures, read by progress lines and the results file
        self.tokens = 0
        self.prefill_tokens = 0
        self.busy_seconds = 0.0
        self.peak_in_flight = 0
        self.steps = 0
        #: steps that fed no prompt token: pure decoding, what llama-batched-bench's TG phase times
        self.decode_tokens = 0
        self.decode_seconds = 0.0
        #: prompt tokens found in a slot's memory, left there by a finished request, and not fed again
        self.reused_tokens = 0
        #: time inside llama.cpp's decode and sampling calls, against the engine's own Python work
        self.llama_seconds = 0.0
        self.submitted = 0
        self.finished = 0
        self.placement = ""

    # -- the caller's side ---------------------------------------------------

    def submit(self, requests: Sequence[EngineRequest]) -> list[Future[EngineResult]]:
        """Queue requests in order; each future ends with its result or an :class:`EngineError`."""
        jobs = [_Job(request, Future()) for request in requests]
        with self._lock:
            if self._broken is not None:
                for job in jobs:
                    job.future.set_exception(EngineError(self._broken))
                return [job.future for job in jobs]
            self._inbox.extend(jobs)
            self.submitted += len(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gptoss-engine", daemon=True)
                self._thread.start()
            self._lock.notify()
        return [job.future for job in jobs]

    @property
    def in_flight(self) -> int:
        return sum(1 for slot in self._slots if slot.job is not None)

    @property
    def closed(self) -> bool:
        return self._stop

    def close(self, timeout: float = 1.0) -> bool:
        """Stop the thread (pending requests fail); True once llama.cpp is no longer in use."""
        with self._lock:
            self._stop = True
            if self._broken is None:
                self._broken = "the run was stopped before this generation finished"
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # -- the engine thread ---------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    self._pending.extend(self._inbox)
                    self._inbox.clear()
                    if self._stop:
                        break
                    if not self._pending and not self.in_flight:
                        self._lock.wait(0.5)
                        continue
                self._step()
        except BaseException as exc:  # any fault ends the waiting requests, never a hang
            message = f"the generation engine failed: {type(exc).__name__}: {exc}"
            with self._lock:
                self._broken = message
            self._fail_all(message)
        else:
            self._fail_all(self._broken or "the run was stopped before this generation finished")
        finally:
            self._free_context()

    def _fail_all(self, message: str) -> None:
        with self._lock:
            self._pending.extend(self._inbox)
            self._inbox.clear()
        for slot in self._slots:
            if slot.job is not None:
                self._release(slot, EngineError(message))
        while self._pending:
            _set(self._pending.popleft().future, EngineError(message))

    def _step(self) -> None:
        started = time.perf_counter()
        self._admit()
        if not self.in_flight:
            return
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        prefilled = self.prefill_tokens
        entries = self._fill_batch()
        llama = self._llama
        before = time.perf_counter()
        fault = ""
        try:
            code = llama.llama_decode(self._ctx, self._batch)
            if code == 0 and entries:
                llama.llama_synchronize(self._ctx)
        except Exception as exc:  # llama.cpp's own failure ends this batch's sequences, not the run
            code, fault = -1, f"llama.cpp raised {type(exc).__name__}: {exc}"
        self.llama_seconds += time.perf_counter() - before
        self.steps += 1
        if code != 0:
            self._fail_batch(entries, code, fault)
        else:
            self._after_decode(entries)
        elapsed = time.perf_counter() - started
        self.busy_seconds += elapsed
        if self.prefill_tokens == prefilled and code == 0:
            self.decode_tokens += len(entries)
            self.decode_seconds += elapsed

    # admission ----------------------------------------------------------------

    def _admit(self) -> None:
        free = [slot for slot in self._slots if slot.job is None]
        while free and self._pending:
            head = self._pending[0].request
            needed = round_up(len(head.prompt) + head.budget)
            if self._ctx is None or needed > self._ctx_seq:
                if self.in_flight:
                    return  # grow the context once the sequences in flight are done
                self._make_context(max(round_up(len(j.request.prompt) + j.request.budget + j.request.room)
                                       for j in self._pending))
                free = [slot for slot in self._slots if slot.job is None]
                if needed > self._ctx_seq:
                    _set(self._pending.popleft().future, EngineError(
                        f"the prompt and its tokens need {needed} tokens of context but a sequence holds "
                        f"{self._ctx_seq}; raise --gptoss-ctx"))
                    continue
            group = [self._pending.popleft()]
            while (self._pending and len(group) < len(free) and self.settings.share_prefix
                   and self._pending[0].request.prompt == head.prompt):
                group.append(self._pending.popleft())
            first = max(free, key=lambda slot: made.common_length(slot.kept, head.prompt))  # the first on a tie
            free.remove(first)
            slots = [first] + [free.pop(0) for _ in group[1:]]
            now = time.perf_counter()
            for slot, job in zip(slots, group):  # a group shares its prefix from a fresh start instead
                self._start(slot, job, now, reuse=len(group) == 1)
            donor = slots[0]
            if len(head.prompt) == 1:
                for slot in slots:
                    slot.phase, slot.next_token = "decode", head.prompt[0]
            elif len(slots) > 1 and self.settings.share_prefix:
                donor.members = slots[1:]
                for member in donor.members:
                    member.phase = "wait"

    def _start(self, slot: _Slot, job: _Job, now: float, *, reuse: bool) -> None:
        slot.job, slot.phase, slot.generated, slot.started = job, "prefill", [], now
        slot.fed = self._reuse(slot, job.request.prompt) if reuse else self._clear(slot)
        slot.members = []
        slot.chain = sampler_chain(self._llama, job.request)
        slot.backend_sampling = False
        if self.placement == "backend":
            slot.backend_sampling = bool(self._llama.llama_set_sampler(self._ctx, slot.seq, slot.chain))

    def _reuse(self, slot: _Slot, prompt: tuple[int, ...]) -> int:
        """Where the prompt tokens left to feed start: past what the slot's memory already holds of them."""
        # a slot holds nothing when reuse is off: its memory is emptied as its request ends
        kept = made.keep_prefix(self._llama, self._ctx, self.model, slot.seq, slot.kept, prompt) \
            if slot.kept else 0
        slot.kept = ()
        self.reused_tokens += kept
        return kept

    def _clear(self, slot: _Slot) -> int:
        """Empty the slot's memory; the whole prompt is to be fed."""
        if slot.kept:
            made.clear_memory(self._llama, self._ctx, slot.seq)
        slot.kept = ()
        return 0

    # one step -----------------------------------------------------------------

    def _fill_batch(self) -> list[tuple[_Slot, int, bool]]:
        """The batch of this step: a token per decoding sequence, then prefill chunks in slot order.

        Returns (slot, batch index, has output) for every slot that took part.
        """
        batch = self._batch
        entries: list[tuple[_Slot, int, bool]] = []
        n = 0

        def add(token: int, pos: int, seq: int, output: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = pos
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq
            batch.logits[n] = output
            n += 1

        for slot in self._slots:
            if slot.job is not None and slot.phase == "decode":
                pos = len(slot.job.request.prompt) - 1 + len(slot.generated)
                add(slot.next_token, pos, slot.seq, True)
                entries.append((slot, n - 1, True))
                if not slot.generated:
                    self.prefill_tokens += 1
        for slot in self._slots:
            room = BATCH_TOKENS - n
            if room <= 0:
                break
            if slot.job is None or slot.phase != "prefill":
                continue
            prompt = slot.job.request.prompt
            end = len(prompt) - 1 if slot.members else len(prompt)
            chunk = prompt[slot.fed:min(end, slot.fed + room)]
            for offset, token in enumerate(chunk):
                pos = slot.fed + offset
                add(token, pos, slot.seq, pos == len(prompt) - 1)
            slot.fed += len(chunk)
            self.prefill_tokens += len(chunk)
            entries.append((slot, n - 1, slot.fed == len(prompt)))
        batch.n_tokens = n
        return entries

    def _after_decode(self, entries: list[tuple[_Slot, int, bool]]) -> None:
        llama = self._llama
        for slot, index, output in entries:
            job = slot.job
            assert job is not None
            prompt = job.request.prompt
            if not output:
                if slot.members and slot.fed == len(prompt) - 1:
                    # the shared prefix is in memory: the siblings copy it, then all feed the last token
                    memory = llama.llama_get_memory(self._ctx)
                    for member in slot.members:
                        llama.llama_memory_seq_cp(memory, slot.seq, member.seq, -1, -1)
                        member.fed, member.phase, member.next_token = slot.fed, "decode", prompt[-1]
                    slot.phase, slot.next_token, slot.members = "decode", prompt[-1], []
                continue
            slot.phase = "decode"
            token = self._sample(slot, index)
            slot.generated.append(token)
            self.tokens += 1
            if token in job.request.stops or llama.llama_vocab_is_eog(self.vocab, token):
                self._finish(slot, "stop")
            elif len(slot.generated) >= job.request.budget:
                self._finish(slot, "length")
            else:
                slot.next_token = token

    def _sample(self, slot: _Slot, index: int) -> int:
        llama = self._llama
        if slot.backend_sampling:
            token = llama.llama_get_sampled_token_ith(self._ctx, index)
            if token != llama.LLAMA_TOKEN_NULL:
                return int(token)
        return int(llama.llama_sampler_sample(slot.chain, self._ctx, index))

    def _finish(self, slot: _Slot, finish: str) -> None:
        job = slot.job
        assert job is not None
        result = EngineResult(tuple(slot.generated), finish, round(time.perf_counter() - slot.started, 3))
        self.finished += 1
        self._release(slot, result)

    def _fail_batch(self, entries: list[tuple[_Slot, int, bool]], code: int, fault: str = "") -> None:
        """End the sequences of a batch that llama.cpp could not decode; the others go on."""
        if fault:
            reason = " ".join(fault.split())
        elif code == 1:
            reason = "no room left in the context's memory; lower --gptoss-parallel or --gptoss-max-tokens"
        else:
            reason = f"llama_decode returned {code}"
        failed = {id(slot) for slot, _, _ in entries}
        for slot, _, _ in entries:
            for member in slot.members:
                if id(member) not in failed:
                    self._release(member, EngineError(f"decoding failed: {reason}"))
            self._release(slot, EngineError(f"decoding failed: {reason}"))

    def _release(self, slot: _Slot, outcome: EngineResult | BaseException) -> None:
        llama = self._llama
        job = slot.job
        slot.job, slot.members, slot.phase = None, [], ""
        if self._ctx is not None:
            if slot.backend_sampling:
                llama.llama_set_sampler(self._ctx, slot.seq, None)
            if isinstance(outcome, EngineResult) and job is not None and self.settings.reuse_memory:
                # the prompt and every generated token but the last, which was sampled and never fed
                slot.kept = job.request.prompt + tuple(slot.generated[:-1])
            else:
                made.clear_memory(llama, self._ctx, slot.seq)
                slot.kept = ()
        if slot.chain is not None:
            llama.llama_sampler_free(slot.chain)
            slot.chain = None
        slot.backend_sampling = False
        if job is not None:
            _set(job.future, outcome)

    # the context -----------------------------------------------------------------

    def _make_context(self, ctx_seq: int) -> None:
        llama = self._llama
        self._free_context()
        settings = self.settings
        ctx_seq = min(ctx_seq, round_up(settings.ctx_cap))
        params = context_params(llama, settings, ctx_seq)
        ctx = llama.llama_init_from_model(self.model, params)
        if not ctx:
            raise EngineError(
                f"llama.cpp could not create a context of {params.n_ctx} tokens "
                f"({settings.parallel} sequences of {ctx_seq}); lower --gptoss-parallel or --gptoss-ctx"
            )
        self._ctx = ctx
        self._ctx_seq = int(llama.llama_n_ctx_seq(ctx))
        for slot in self._slots:
            slot.kept = ()
        self._batch = llama.llama_batch_init(BATCH_TOKENS, 0, 1)
        self.placement = self._choose_placement()

    def _choose_placement(self) -> str:
        """Backend sampling where a probe chain can be attached, CPU sampler chains otherwise."""
        if self.settings.sampling == "cpu":
            return "cpu"
        attached = made.samples_on_backend(self._llama, self._ctx)
        if not attached and self.settings.sampling == "backend":
            raise EngineError("this llama.cpp build cannot sample on its backend; use sampling 'auto' or 'cpu'")
        return "backend" if attached else "cpu"

    def _free_context(self) -> None:
        llama = self._llama
        if self._batch is not None:
            llama.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            llama.llama_free(self._ctx)
            self._ctx = None

    def stats(self) -> dict[str, Any]:
        """Cumulative figures as plain data."""
        return {
            "tokens": self.tokens,
            "busy_seconds": round(self.busy_seconds, 3),
            "prefill_tokens": self.prefill_tokens,
            "decode_tokens": self.decode_tokens,
            "decode_seconds": round(self.decode_seconds, 3),
            "reused_tokens": self.reused_tokens,
            "llama_seconds": round(self.llama_seconds, 3),
            "peak_in_flight": self.peak_in_flight,
            "in_flight": self.in_flight,
            "submitted": self.submitted,
            "finished": self.finished,
            "parallel": self.settings.parallel,
            "sampling": self.placement,
        }


def _set(future: Future[EngineResult], outcome: EngineResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)

