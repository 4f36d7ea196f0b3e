"""The plugin's entry point: options, hooks and wiring, registering the xdist and pytest-html hooks where present.

The work lives in the modules the hooks call: :mod:`.run` (models, backends,
generations), :mod:`.items` (case files and items), :mod:`.results`,
:mod:`.gate`, :mod:`.header` and :mod:`.terminal_summary`.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_gptoss import gate, header, options, results, terminal_summary
from pytest_gptoss.backends.replay import ReplayBackend
from pytest_gptoss.items import CaseFile, CaseItem, case_of
from pytest_gptoss.models import ModelNotFound
from pytest_gptoss.progress import Progress
from pytest_gptoss.run import RUN_KEY, Run
from pytest_gptoss.transcripts import TranscriptError, Writer

CASE_SUFFIXES = (".yaml", ".yml")
CASES_DIR = "cases"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_gptoss import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gptoss: a gpt-oss case collected from a case file")
    settings = options.settings(config)
    _refuse_in_process_options(config, settings)
    _use_sandbox(settings.sandbox)
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
    for label in {label for pair in settings.gate for label in pair} - set(run.model_labels):
        known = ", ".join(run.model_labels) or "none: pass two --gptoss-model"
        raise pytest.UsageError(f"--gptoss-gate: '{label}' is not a model of this run (models: {known})")
    config.stash[RUN_KEY] = run
    if _is_controller(config) and run.replay is None and settings.models:
        run.progress = Progress(config)
    hooks = SessionHooks(config, run)
    if _is_controller(config):
        hooks.results = results.Results(options.as_plain(settings))
        if settings.baseline is not None:
            try:
                hooks.baseline = results.load(settings.baseline)
            except results.ResultsError as exc:
                raise pytest.UsageError(f"--gptoss-baseline: {exc}") from None
    config.pluginmanager.register(hooks, "gptoss-session")
    if config.pluginmanager.hasplugin("html"):
        from pytest_gptoss.html_extras import HtmlHooks

        config.pluginmanager.register(HtmlHooks(), "gptoss-html")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_gptoss.xdist_support import XdistHooks

        config.pluginmanager.register(XdistHooks(run), "gptoss-xdist")


def _refuse_in_process_options(config: pytest.Config, settings: options.Settings) -> None:
    """Options that only in-process models read are an error when every model is served."""
    if not settings.models or any(spec.kind != "server" for spec in settings.models):
        return
    given = options.in_process_options_given(config)
    if given:
        raise pytest.UsageError(
            f"{given[0]}: applies to in-process models only; a server's context, GPU layers, threads and "
            "attention are set where the server is started (see the README's server recipes)")


def _use_sandbox(mode: str) -> None:
    from pytest_gptoss.sandbox import SandboxError, use_isolation

    try:
        use_isolation(mode)
    except SandboxError as exc:
        raise pytest.UsageError(f"--gptoss-sandbox={mode}: {exc}") from None


def pytest_report_header() -> str:
    return header.sandbox_line()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.writer is not None:
        run.writer.close()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # stop generating for items that will not run (-x, Ctrl-C, a crash) before anything else
    run = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        run.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in CASE_SUFFIXES and CASES_DIR in file_path.parent.parts:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class SessionHooks:
    """Hooks that need the session's run: header, model set-up, transcripts, results, gate.

    ``results`` gathers the rows on the controller (not on xdist workers): the
    terminal summary, the results file and the gates all read them.
    """

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run
        self.results: results.Results | None = None
        self.baseline: dict[str, Any] | None = None
        self.comparisons: list[tuple[str, gate.Comparison]] = []
        #: --continue-on-collection-errors as the user gave it (None until a collection error)
        self.user_continues: bool | None = None
        self.other_collection_errors = False

    def pytest_report_header(self) -> list[str]:
        return header.run_lines(self.config, self.run)




    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # One malformed case file must not stop the others from running; the
        # session still fails, and the file's problems are listed as its error.
        # Any other collection error (a broken test module) stops the session as usual.
        if not report.failed:
            return
        if self.user_continues is None:
            self.user_continues = bool(self.config.option.continue_on_collection_errors)
        if not report.nodeid.endswith(CASE_SUFFIXES):
            self.other_collection_errors = True
        self.config.option.continue_on_collection_errors = self.user_continues or not self.other_collection_errors

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        wants_models = self.run.replay is None and self.run.settings.models
        if wants_models and _is_controller(self.config) and not self.config.option.collectonly:
            if _is_xdist_controller(self.config) or any(isinstance(i, CaseItem) for i in session.items):
                self._resolve_models()
        return (yield)

    def _resolve_models(self) -> None:
        """Find or download every model and reach every server before any item runs, with progress shown."""
        from pytest_gptoss.backends.llama import llama_build
        from pytest_gptoss.servers import ServerUnreachable

        capture = self.config.pluginmanager.getplugin("capturemanager")
        try:
            if capture is not None:
                with capture.global_and_fixture_disabled():
                    self.run.resolve_models(download=True)
            else:
                self.run.resolve_models(download=True)
        except (ModelNotFound, ServerUnreachable) as exc:
            raise pytest.UsageError(str(exc)) from None
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        # served models first, then files, each in the order given; a model that cannot be used says why
        # here, and its cases say so too, as errors
        for label in sorted(self.run.model_labels, key=lambda label: label in self.run.paths):
            if reporter is not None:
                reporter.write_line(f"gptoss: model {label}: {self.run.describe(label)}")
            if self.results is not None:
                self.results.models[label] = self.run.identity(label)
        if self.results is not None:
            self.results.build = llama_build()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if isinstance(item, CaseItem):
            item.fill_report(report, call, brief=self.config.getoption("tbstyle", "auto") == "line")
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.run.writer is not None:
            for transcript in getattr(report, "gptoss_transcripts", None) or ():
                self.run.writer.write(transcript)
        if self.results is None:
            return
        # a crashed worker's report names its item by node id alone
        case = getattr(report, "gptoss_case", None) or case_of(report.nodeid, self.run.model_labels)
        if case is not None and self.results.add_report(report, case) and self.run.settings.results is not None:
            self.results.write(self.run.settings.results, every=1.0)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.results is None:
            return
        if self.run.replay is not None:
            for label in self.run.model_labels:
                self.results.models.setdefault(label, self.run.identity(label))
        if self.run.settings.results is not None:
            self.results.write(self.run.settings.results)
        rows = list(self.results.rows.values())
        if self.baseline is not None:
            self.comparisons.append((f"baseline {self.run.settings.baseline}",
                                     gate.against_baseline(self.baseline["rows"], rows)))
        for candidate, base in self.run.settings.gate:
            self.comparisons.append((f"gate {candidate}:{base}", gate.between_models(rows, candidate, base)))
        if any(c.regressions for _, c in self.comparisons) and session.exitstatus in (0, 5):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            hint = terminal_summary.where_the_cases_are(self.config)
            if hint:
                terminalreporter.write_line(hint)
        rows = list(self.results.rows.values()) if self.results is not None else []
        if rows:
            terminalreporter.section("gptoss summary")
            engines = self.results.engine_figures() if self.results is not None else {}
            for line in terminal_summary.lines(rows, engines):
                terminalreporter.write_line(line)
        for title, comparison in self.comparisons:
            terminalreporter.section(f"gptoss {title}", red=bool(comparison.regressions))
            for line in terminal_summary.comparison_lines(comparison):
                terminalreporter.write_line(line)
        if self.run.settings.results is not None and self.results is not None:
            terminalreporter.write_line(f"gptoss: results written to {self.run.settings.results}")


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and _is_controller(config)
