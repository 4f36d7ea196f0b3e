"""One pytest session's run: its settings, its backends, and judging a case's samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_gptoss import checkers
from pytest_gptoss.backends import Backend, Generation, Request, sample_seed
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.cases import Case
from pytest_gptoss.cache import CachedBackend, ResponseCache
from pytest_gptoss.models import ModelSpec, cache_dir, resolve
from pytest_gptoss.options import Settings
from pytest_gptoss.report import CaseResult, Sample, no_final_verdict
from pytest_gptoss.transcripts import Writer
from pytest_gptoss.verdict import Verdict


@dataclass
class Run:
    """Everything a session needs to turn cases into results."""

    settings: Settings
    replay: ReplayBackend | None = None
    writer: Writer | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    case_ids: dict[str, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)
    config: pytest.Config | None = None

    def marker(self, name: str) -> str:
        """A case's category or tag as a registered marker name (``-m math`` works)."""
        marker = name.replace("-", "_")
        if marker not in self.markers and self.config is not None:
            self.config.addinivalue_line("markers", f"{marker}: gpt-oss cases tagged '{name}'")
            self.markers.add(marker)
        return marker

    @property
    def model_labels(self) -> tuple[str, ...]:
        if self.replay is not None:
            return self.replay.models
        return tuple(spec.label for spec in self.settings.models)

    def spec(self, label: str) -> ModelSpec | None:
        return next((s for s in self.settings.models if s.label == label), None)

    def resolve_models(self, *, download: bool) -> None:
        """Find (and, on the controller, download) every model's file."""
        for spec in self.settings.models:
            if spec.label not in self.paths:
                self.paths[spec.label] = resolve(spec, download=download)

    def backend(self, label: str) -> Backend:
        if label in self.backends:
            return self.backends[label]
        if self.replay is not None:
            self.backends[label] = self.replay.for_model(label)
        else:
            from pytest_gptoss.backends.llama import LlamaBackend, Runtime

            spec = self.spec(label)
            assert spec is not None
            path = self.paths.get(label) or resolve(spec, download=False)
            runtime = Runtime(
                ctx=self.settings.ctx,
                n_gpu_layers=self.settings.n_gpu_layers,
                threads=self.settings.threads,
            )
            backend = LlamaBackend(label, path, runtime)
            if self.config is not None and not hasattr(self.config, "workerinput"):
                backend.on_progress = Progress(self.config, label)
            self.backends[label] = self._cached(backend, path) if not self.settings.no_cache else backend
        return self.backends[label]

    def _cached(self, backend: Backend, path: Path) -> Backend:
        from pytest_gptoss.backends.llama import unreadable
        from pytest_gptoss.results import llama_build, model_identity

        try:
            identity = model_identity(path)
        except (OSError, ValueError) as exc:
            raise unreadable(path, exc) from None
        model = {key: identity[key] for key in ("header_sha256", "size", "architecture")}
        runtime = {
            "ctx": self.settings.ctx,
            "n_gpu_layers": self.settings.n_gpu_layers,
            "threads": self.settings.threads,
            "build": llama_build(),
        }
        return CachedBackend(backend, ResponseCache(self.cache_directory), model, runtime)

    @property
    def cache_directory(self) -> Path:
        return self.settings.cache_dir or cache_dir() / "responses"

    def requests(self, case: Case, reasoning: str) -> list[Request]:
        settings = self.settings
        samples = case.samples or settings.samples
        return [
            Request(
                case=case.id,
                messages=case.messages,
                reasoning=reasoning,
                sample=index,
                seed=sample_seed(settings.seed, case.id, index),
                max_tokens=case.max_tokens or settings.max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
            )
            for index in range(samples)
        ]


#: seconds between two progress lines of one long generation
PROGRESS_SECONDS = 15.0


class Progress:
    """Shows a long generation's progress on the terminal, so a run of many minutes is not silent.

    Used only where the terminal is this process's (not on an xdist worker).
    """

    def __init__(self, config: pytest.Config, label: str) -> None:
        self.config = config
        self.label = label
        self.shown_at = 0.0

    def __call__(self, request: Request, tokens: int, seconds: float) -> None:
        if seconds - self.shown_at < PROGRESS_SECONDS:
            return
        self.shown_at = seconds
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"gptoss: {request.case}[{self.label}-{request.reasoning}] sample {request.sample}: "
                f"{tokens:,} tokens in {seconds:.0f} s ({tokens / seconds:.1f} tokens/s)"
            )


def judge(case: Case, model: str, reasoning: str, generations: list[Generation]) -> CaseResult:
    """Run the case's checker on every sample."""
    samples = []
    for generation in generations:
        if generation.has_final:
            verdict = _safe_check(case, generation)
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


def _safe_check(case: Case, generation: Generation) -> Verdict:
    channels = {"final": generation.final, "analysis": generation.analysis}
    try:
        return checkers.run(case.check, channels)
    except Exception as exc:  # a checker bug must not take the session down
        return Verdict(
            passed=False,
            checker="checker",
            expected="a verdict",
            found=f"{type(exc).__name__}: {exc}",
            why="the checker itself failed; this is a bug in the checker, please report it",
            error=True,
        )
