"""Judging a case: its samples' verdicts, whether it passed, and how that reads.

:func:`judge` runs the case's checker on every generation (a checker that
crashes is a verdict with ``error``, not a crashed session) and gives a
:class:`CaseResult`: pass count against ``min_pass_rate``, the Wilson
interval, the results-file row and the explanation pytest shows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypedDict

from pytest_gptoss import checkers
from pytest_gptoss.backends import Generation
from pytest_gptoss.tools import counted, describe_calls
from pytest_gptoss.verdict import Verdict

if TYPE_CHECKING:
    from pytest_gptoss.cases import Case

MAX_ANSWER_CHARS = 2000
MAX_ANSWER_LINES = 40


def judge(case: Case, model: str, reasoning: str, generations: list[Generation]) -> CaseResult:
    """Run the case's checker on every sample."""
    samples = []
    for generation in generations:
        if generation.has_final:
            verdict = with_cut_off(_safe_check(case, generation), generation)
        else:
            verdict = no_final_verdict(generation)
        samples.append(Sample(generation, verdict))
    default_rate = 1.0
    return CaseResult(
        case=case.id,
        model=model,
        reasoning=reasoning,
        samples=tuple(samples),
        min_pass_rate=case.min_pass_rate if case.min_pass_rate is not None else default_rate,
    )


def channels(generation: Generation) -> dict[str, str]:
    """What checkers read of a generation: its final and analysis channels, and its calls as JSON.

    ``tool_calls`` is ``{"calls": [...], "final_generation": i}``: every call as the transcript holds it,
    and the index of the generation that gave the final answer (None without one).
    """
    final_at = len(generation.generations) - 1 if generation.generations else 0
    calls = {"calls": generation.tool_calls, "final_generation": final_at if generation.has_final else None}
    return {"final": generation.final, "analysis": generation.analysis,
            "tool_calls": json.dumps(calls, ensure_ascii=False)}


def _safe_check(case: Case, generation: Generation) -> Verdict:
    try:
        return checkers.judge(case.check, channels(generation))
    except Exception as exc:  # a checker bug must not take the session down
        return Verdict(
            passed=False,
            checker="checker",
            expected="a verdict",
            found=f"{type(exc).__name__}: {exc}",
            why="the checker itself failed; this is a bug in the checker, please report it",
            error=True,
        )



class Row(TypedDict):
    """A case's results-file row as a worker sends it to the controller (plain data)."""

    case: str
    category: str | None
    model: str
    reasoning: str
    passed: int
    total: int
    pass_rate: float
    interval: list[float]
    min_pass_rate: float
    prompt_tokens: int
    reasoning_tokens: int
    final_tokens: int
    completion_tokens: int
    seconds: float
    cached: int
    #: tool calls made, all samples together
    tool_calls: int
    failed_samples: list[int]
    explanation: str


class SampleData(TypedDict):
    """One sample's answer and verdict, as the HTML report receives it (plain data)."""

    sample: int
    seed: int | None
    passed: bool
    error: bool
    final: str
    has_final: bool
    analysis: str
    raw: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    verdict: str
    #: an exchange with tools: its calls and its generations, as the transcript holds them (empty otherwise)
    tool_calls: list[dict[str, Any]]
    generations: list[dict[str, Any]]


@dataclass(frozen=True)
class Sample:
    generation: Generation
    verdict: Verdict


@dataclass(frozen=True)
class CaseResult:
    """All samples of one case at one model and effort, and whether it passed."""

    case: str
    model: str
    reasoning: str
    samples: tuple[Sample, ...]
    min_pass_rate: float

    @property
    def passed_count(self) -> int:
        return sum(1 for s in self.samples if s.verdict.passed)

    @property
    def passed(self) -> bool:
        total = len(self.samples)
        return total > 0 and self.passed_count / total >= self.min_pass_rate - 1e-12

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.verdict.error]

    def summary(self) -> str:
        total = len(self.samples)
        line = f"{self.passed_count}/{total} samples passed"
        if total > 1:
            low, high = wilson_interval(self.passed_count, total)
            line += f" (95% CI {low:.0%}-{high:.0%}; needs {self.min_pass_rate:.0%})"
        return line

    def row(self, category: str | None) -> Row:
        """The results-file row: outcome figures, tokens, time and the explanation (plain data)."""
        total = len(self.samples)
        low, high = wilson_interval(self.passed_count, total)
        gens = [s.generation for s in self.samples]
        reasoning_tokens = sum(g.reasoning_tokens for g in gens)
        completion_tokens = sum(g.completion_tokens for g in gens)
        return {
            "case": self.case,
            "category": category,
            "model": self.model,
            "reasoning": self.reasoning,
            "passed": self.passed_count,
            "total": total,
            "pass_rate": self.passed_count / total if total else 0.0,
            "interval": [round(low, 4), round(high, 4)],
            "min_pass_rate": self.min_pass_rate,
            "prompt_tokens": sum(g.prompt_tokens for g in gens),
            "reasoning_tokens": reasoning_tokens,
            "final_tokens": max(0, completion_tokens - reasoning_tokens),
            "completion_tokens": completion_tokens,
            # answers from the response cache took no time in this run
            "seconds": round(sum(g.seconds for g in gens if not g.cached), 3),
            "cached": sum(1 for g in gens if g.cached),
            "tool_calls": sum(len(g.tool_calls) for g in gens),
            "failed_samples": [s.generation.sample for s in self.samples if not s.verdict.passed],
            "explanation": explain(self),
        }

    def samples_data(self) -> list[SampleData]:
        """Each sample's answer and verdict, for reports (plain data)."""
        return [
            {
                "sample": s.generation.sample,
                "seed": s.generation.seed,
                "passed": s.verdict.passed,
                "error": s.verdict.error,
                "final": s.generation.final,
                "has_final": s.generation.has_final,
                "analysis": s.generation.analysis,
                "raw": s.generation.raw,
                "finish_reason": s.generation.finish_reason,
                "prompt_tokens": s.generation.prompt_tokens,
                "completion_tokens": s.generation.completion_tokens,
                "seconds": s.generation.seconds,
                "verdict": s.verdict.explain(),
                "tool_calls": s.generation.tool_calls,
                "generations": s.generation.generations,
            }
            for s in self.samples
        ]


def wilson_interval(passed: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a pass rate (95% by default)."""
    if total == 0:
        return 0.0, 1.0
    rate = passed / total
    denominator = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / denominator
    margin = z * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def no_final_verdict(generation: Generation) -> Verdict:
    """The verdict for a generation that never reached a final answer."""
    if generation.finish_reason == "length":
        why = (f"no final answer: stopped at max_tokens after {generation.reasoning_tokens} "
               "reasoning tokens")
    elif generation.finish_reason == "max_tool_calls":
        why = (f"no final answer: the model made {len(generation.tool_calls)} tool calls, more than the case's "
               "max_tool_calls allows")
    elif generation.finish_reason == "tool_call":
        why = "no final answer: the model called a tool instead of answering"
    else:
        why = "no final answer: the model stopped without a final-channel message"
    return Verdict(
        passed=False,
        checker="answer",
        expected="a final-channel answer",
        found=f"none ({generation.completion_tokens} tokens, finish reason {generation.finish_reason})",
        why=why,
    )


def with_cut_off(verdict: Verdict, generation: Generation) -> Verdict:
    """A failed verdict on an answer that max_tokens cut off says so first: the answer may be unfinished."""
    if verdict.passed or verdict.error or generation.finish_reason != "length":
        return verdict
    cut = f"the answer was cut off at max_tokens after {generation.completion_tokens} tokens"
    reason = verdict.reason()
    return replace(verdict, why=f"{cut}; {reason}" if reason else cut)


def explain(result: CaseResult, *, only_failed: bool = True) -> str:
    """The failure text pytest shows: the answer, what was extracted, and why."""
    lines = [f"case '{result.case}' [{result.model}-{result.reasoning}]: {result.summary()}"]
    for sample in result.samples:
        if only_failed and sample.verdict.passed and not sample.verdict.error:
            continue
        gen = sample.generation
        lines.append("")
        lines.append(f"--- sample {gen.sample}{_generation_facts(gen)}")
        if gen.tool_calls:
            over = counted(len(gen.generations) or 1, "generation")
            lines.append(f"tool calls ({len(gen.tool_calls)}, over {over}):")
            lines.extend("  " + line for line in describe_calls(gen.tool_calls).splitlines())
        if gen.has_final:
            lines.append("final answer:")
            lines.extend("  | " + line for line in _clip(gen.final).splitlines() or [""])
        elif gen.analysis or gen.raw:
            label = "reasoning" if gen.analysis else "model output"
            lines.append(f"{label} (no final answer; the last part):")
            lines.extend("  | " + line for line in _clip(gen.analysis or gen.raw, tail=True).splitlines())
        lines.append(sample.verdict.explain())
    return "\n".join(lines)


def _generation_facts(gen: Generation) -> str:
    """What is known of how the answer was made (a replayed one may know nothing)."""
    seed = f" (seed {gen.seed})" if gen.seed is not None else ""
    facts = [f"finish {gen.finish_reason}"] + (["from the response cache"] if gen.cached else [])
    if gen.prompt_tokens or gen.completion_tokens:
        facts.append(f"{gen.prompt_tokens} prompt + {gen.completion_tokens} completion tokens")
    if gen.seconds:
        facts.append(f"{gen.seconds:.1f} s")
    return f"{seed}: {', '.join(facts)}"


def _clip(text: str, *, tail: bool = False) -> str:
    lines = text.splitlines()
    clipped = False
    if len(lines) > MAX_ANSWER_LINES:
        lines = lines[-MAX_ANSWER_LINES:] if tail else lines[:MAX_ANSWER_LINES]
        clipped = True
    text = "\n".join(lines)
    if len(text) > MAX_ANSWER_CHARS:
        text = text[-MAX_ANSWER_CHARS:] if tail else text[:MAX_ANSWER_CHARS]
        clipped = True
    if clipped:
        return ("[...]\n" + text) if tail else (text + "\n[... clipped]")
    return text
