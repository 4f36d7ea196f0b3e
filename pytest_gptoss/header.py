"""The lines pytest-gptoss adds to pytest's session header.

The sandbox in use; the models and the sampling settings (or the transcripts
replayed); and a note where a combination of options does less than it seems
to: in-process options beside a served model, more xdist workers than models.
"""

from __future__ import annotations

import pytest

from pytest_gptoss.options import in_process_options_given
from pytest_gptoss.run import Run


def sandbox_line() -> str:
    from pytest_gptoss.sandbox import configured_isolation, describe_isolation

    return f"gptoss: sandbox {describe_isolation(configured_isolation())}"


def run_lines(config: pytest.Config, run: Run) -> list[str]:
    """What the run will do: its models or transcripts, efforts, samples, sampling and batching."""
    return _settings(config, run) + _xdist_advice(config, run)


def _settings(config: pytest.Config, run: Run) -> list[str]:
    settings = run.settings
    if run.replay is not None:
        return [f"gptoss: replaying {settings.replay}; reasoning {','.join(settings.reasoning)}"]
    if not settings.models:
        return ["gptoss: no model given; cases are collected and skipped "
                "(--gptoss-model=20b runs them)"]
    models = ", ".join(spec.spec for spec in settings.models)
    return [
        f"gptoss: models {models}; reasoning {','.join(settings.reasoning)}; "
        f"samples {settings.samples}; seed {settings.seed}; "
        f"temperature {settings.temperature}; top_p {settings.top_p}",
        f"gptoss: up to {settings.parallel} generations in flight per model (--gptoss-parallel); "
        f"flash attention {settings.flash_attn}",
    ] + _served_note(config, run)


def _served_note(config: pytest.Config, run: Run) -> list[str]:
    served = [spec.label for spec in run.settings.models if spec.kind == "server"]
    local = [spec.label for spec in run.settings.models if spec.kind != "server"]
    given = in_process_options_given(config)
    if not served or not local or not given:
        return []
    return [f"gptoss: {', '.join(given)} applies to {', '.join(local)} only, not to the served "
            f"{', '.join(served)} (a server's own settings are chosen where it is started)"]


def _xdist_advice(config: pytest.Config, run: Run) -> list[str]:
    workers = getattr(config.option, "numprocesses", None)
    models = len(run.model_labels) if run.settings.models else 0
    if not isinstance(workers, int) or not models or workers <= models:
        return []
    return [f"gptoss: -n {workers} with {models} model(s): each model's cases run on one worker, so at most "
            f"{models} worker(s) generate; --gptoss-parallel decodes a model's cases together instead"]
