"""pytest hooks: options, collection of case files, and the session's own hooks."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_gptoss import options
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.items import RUN_KEY, CaseFile, CaseItem
from pytest_gptoss.models import ModelNotFound
from pytest_gptoss.runner import Run
from pytest_gptoss.transcripts import TranscriptError, Writer

CASE_SUFFIXES = (".yaml", ".yml")
CASES_DIR = "cases"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gptoss: a gpt-oss case collected from a case file")
    settings = options.settings(config)
    run = Run(settings)
    if settings.replay is not None:
        try:
            run.replay = ReplayBackend(settings.replay)
        except TranscriptError as exc:
            raise pytest.UsageError(f"--gptoss-replay: {exc}") from None
    if settings.record is not None and _is_controller(config):
        try:
            run.writer = Writer(settings.record)
        except OSError as exc:
            raise pytest.UsageError(
                f"--gptoss-record: cannot write {settings.record}: {exc.strerror}"
            ) from None
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(SessionHooks(config, run), "gptoss-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.writer is not None:
        run.writer.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in CASE_SUFFIXES and CASES_DIR in file_path.parent.parts:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class SessionHooks:
    """Hooks that need the session's run: header, model set-up, transcripts."""

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run

    def pytest_report_header(self) -> list[str]:
        settings = self.run.settings
        if self.run.replay is not None:
            return [f"gptoss: replaying {settings.replay}; reasoning {','.join(settings.reasoning)}"]
        if not settings.models:
            return ["gptoss: no model given; cases are collected and skipped "
                    "(--gptoss-model=20b runs them)"]
        models = ", ".join(spec.spec for spec in settings.models)
        return [
            f"gptoss: models {models}; reasoning {','.join(settings.reasoning)}; "
            f"samples {settings.samples}; seed {settings.seed}; "
            f"temperature {settings.temperature}; top_p {settings.top_p}"
        ]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # One malformed case file must not stop the others from running; the
        # session still fails, and the file's problems are listed as its error.
        if report.failed and report.nodeid.endswith(CASE_SUFFIXES):
            self.config.option.continue_on_collection_errors = True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        wants_models = self.run.replay is None and self.run.settings.models
        if wants_models and _is_controller(self.config) and not self.config.option.collectonly:
            if _is_xdist_controller(self.config) or any(isinstance(i, CaseItem) for i in session.items):
                self._resolve_models()
        return (yield)

    def _resolve_models(self) -> None:
        """Find or download every model before any item runs, with progress shown."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        try:
            if capture is not None:
                with capture.global_and_fixture_disabled():
                    self.run.resolve_models(download=True)
            else:
                self.run.resolve_models(download=True)
        except ModelNotFound as exc:
            raise pytest.UsageError(str(exc)) from None
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            for label, path in self.run.paths.items():
                size = path.stat().st_size / 1e9
                reporter.write_line(f"gptoss: model {label}: {path} ({size:.2f} GB)")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if not isinstance(item, CaseItem):
            return report
        if call.when == "setup" and item.transcripts:
            report.gptoss_transcripts = item.transcripts
        if item.report_data is not None:
            report.gptoss = item.report_data
        if report.skipped and isinstance(report.longrepr, tuple):
            # Point the skip at the case, not at the plugin line that raised it.
            reason = report.longrepr[2]
            line = None if item.model is None else item.case.line
            report.longrepr = (str(item.path), line, reason)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.run.writer is None:
            return
        for transcript in getattr(report, "gptoss_transcripts", None) or ():
            self.run.writer.write(transcript)


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and _is_controller(config)
