"""pytest nodes: a case file collects into one item per (case, model, reasoning effort).

The model is asked and the answer judged during the item's setup, so that a
model or checker failure (a broken reference, a sandbox that cannot start) is
reported as an error, and the call phase reports the verdict as pass or fail.
Every report of an item carries its case, model and effort as plain data
(``report.gptoss_case``); its node id, ``case[model-effort]``, is read back
only where a node id is all there is (xdist's scheduler, a crashed worker).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pytest

from pytest_gptoss.backends import BackendError
from pytest_gptoss.cases import ID_PATTERN, Case, CaseFileError, load_file
from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.registry import Registry, RegistryError
from pytest_gptoss.harmony import REASONING_EFFORTS
from pytest_gptoss.judging import CaseResult, Row, SampleData, explain, judge
from pytest_gptoss.models import ModelNotFound
from pytest_gptoss.run import RUN_KEY, Run

#: set in a worker's input when every case of one model is scheduled on one worker
WHOLE_MODEL_PER_WORKER = "gptoss_whole_model"
NO_MODEL_REASON = (
    "no model given: pass --gptoss-model=20b (or 120b, tiny, a .gguf path, hf:OWNER/REPO/FILE, a server URL) "
    "or --gptoss-replay=FILE"
)


def item_name(case: str, model: str, reasoning: str) -> str:
    """An item's name in its node id: ``bottle-exchange[20b-high]``."""
    return f"{case}[{model}-{reasoning}]"


def case_of(nodeid: str, models: Iterable[str]) -> dict[str, str] | None:
    """The case, model and effort that a bare node id names, given the run's model labels; None for another test."""
    for model in models:
        for reasoning in REASONING_EFFORTS:
            params = item_name("", model, reasoning)
            if nodeid.endswith(params):
                _, colons, case = nodeid.removesuffix(params).rpartition("::")
                if colons and ID_PATTERN.match(case):
                    return {"case": case, "model": model, "reasoning": reasoning}
    return None



class CaseRef(TypedDict):
    """Which case, model and effort a report belongs to (``report.gptoss_case``)."""

    case: str
    model: str
    reasoning: str


class ReportData(TypedDict, total=False):
    """What a judged item sends with its report (``report.gptoss``): its row, prompt, samples, engine figures."""

    row: Row
    prompt: str
    samples: list[SampleData]
    engine: dict[str, Any]


class CaseFailed(Exception):
    """The case's pass rate fell short; carries the result to explain."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.summary())
        self.result = result


class CaseError(Exception):
    """The case could not be judged (model, backend or checker failure)."""


class Crash:
    """Where and why, in one line: what the short test summary and ``--tb=line`` quote."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path, self.lineno, self.message = path, line, message

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


class CaseRepr:
    """A case's failure or error as reported: the explanation alone, no traceback into the plugin."""

    def __init__(self, text: str, crash: Crash) -> None:
        self.text = text
        self.reprcrash = crash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def headline(result: CaseResult) -> str:
    """The failure's reason in one line: the first failing sample's why, then the pass count."""
    failing = [sample for sample in result.samples if not sample.verdict.passed]
    why = failing[0].verdict.reason() if failing else ""
    return f"{why} ({result.summary()})" if why else result.summary()


@dataclass
class Collected:
    """What this process's collection has seen: where each case id was first defined, the markers registered."""

    case_ids: dict[str, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)

    def marker(self, config: pytest.Config, name: str) -> str:
        """A case's category or tag as a registered marker name (``-m math`` works)."""
        marker = name.replace("-", "_")
        if marker not in self.markers:
            config.addinivalue_line("markers", f"{marker}: gpt-oss cases tagged '{name}'")
            self.markers.add(marker)
        return marker


COLLECTED_KEY = pytest.StashKey[Collected]()


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        run = self.config.stash[RUN_KEY]
        case_ids = self.config.stash.setdefault(COLLECTED_KEY, Collected()).case_ids
        display = self.nodeid
        try:
            cases = load_file(self.path, display=display, registry=self._registry())
        except (CaseFileError, RegistryError) as exc:
            raise self.CollectError(str(exc)) from None
        problems = []
        for case in cases:
            first = case_ids.setdefault(case.id, f"{display}:{case.line}")
            if first != f"{display}:{case.line}":
                problems.append(f"{display}:{case.line}: case '{case.id}': field 'id': duplicate id "
                                f"(first defined at {first})")
        if problems:
            raise self.CollectError("\n".join(problems))
        for case in cases:
            yield from self._items(run, case)

    def _registry(self) -> Registry:
        """The installed checkers and those the conftest.py files above this file add."""
        added: list[tuple[Checker[object], str]] = []
        for returned in self.ihook.pytest_gptoss_checkers():
            given = [returned] if isinstance(returned, Checker) else returned
            if not isinstance(given, (list, tuple)):
                raise RegistryError(f"a pytest_gptoss_checkers hook returned {given!r}; return a list of "
                                    "pytest_gptoss.checkers.Checker objects")
            added.extend((checker, _origin(checker)) for checker in given)
        return Registry(added)

    def _items(self, run: Run, case: Case) -> Iterator[pytest.Item]:
        labels = run.model_labels
        if not labels:
            yield CaseItem.from_parent(self, name=case.id, case=case, model=None, reasoning=None)
            return
        efforts = (case.reasoning,) if case.reasoning else run.settings.reasoning
        for label in labels:
            for effort in efforts:
                yield CaseItem.from_parent(
                    self, name=item_name(case.id, label, effort), case=case, model=label, reasoning=effort
                )


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, model: str | None, reasoning: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.model = model
        self.reasoning = reasoning
        self.result: CaseResult | None = None
        self.transcripts: list[dict[str, Any]] = []
        #: what reports show of this case (plain data; rides on every phase's report)
        self.report_data: ReportData | None = None
        collected = self.config.stash.setdefault(COLLECTED_KEY, Collected())
        for name in (case.category, *case.tags):
            if name:
                self.add_marker(collected.marker(self.config, name))
        reason = _xfail_reason(case, model, self.config.stash[RUN_KEY])
        if reason is not None:
            self.add_marker(pytest.mark.xfail(reason=reason, strict=True))

    def setup(self) -> None:
        run = self.config.stash[RUN_KEY]
        if self.model is None or self.reasoning is None:
            pytest.skip(NO_MODEL_REASON)
        try:
            futures = run.submit(self, self._batch())
            generations = run.wait(futures)
        except (BackendError, ModelNotFound) as exc:
            raise CaseError(str(exc)) from None
        stats = run.backend(self.model).stats()
        missing = [index for index, gen in enumerate(generations) if gen is None]
        if missing and run.replay is not None:
            pytest.skip(
                f"no transcript for case '{self.case.id}' (sample {missing[0]}) in {run.replay.path}"
            )
        found = [gen for gen in generations if gen is not None]
        self.transcripts = [gen.to_transcript() for gen in found]
        self.result = judge(self.case, self.model, self.reasoning, found)
        row = self.result.row(self.case.category)
        self.report_data = {
            "row": row,
            "prompt": run.backend(self.model).prompt_text(run.requests(self.case, self.reasoning)[0]),
            "samples": self.result.samples_data(),
        }
        if stats:
            self.report_data["engine"] = {**stats, "process": os.getpid()}
        self.user_properties.extend(
            (f"gptoss_{key}", row[key])
            for key in ("model", "reasoning", "passed", "total", "pass_rate", "prompt_tokens",
                        "reasoning_tokens", "final_tokens", "seconds", "tool_calls")
        )
        if self.result.errors:
            raise CaseError(explain(self.result))

    def _batch(self) -> list[CaseItem]:
        """The items of this item's model that this process will run, in run order.

        Under xdist's default distribution every case of one model runs on one
        worker (see ``xdist_support``); with another ``--dist`` an item is
        handed over alone, since its neighbours may run elsewhere.
        """
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None and not workerinput.get(WHOLE_MODEL_PER_WORKER):
            return [self]
        return [item for item in self.session.items
                if isinstance(item, CaseItem) and item.model == self.model and item.reasoning is not None]

    def runtest(self) -> None:
        assert self.result is not None
        if not self.result.passed:
            raise CaseFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return explain(excinfo.value.result)
        if isinstance(excinfo.value, CaseError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, self.case.line - 1, f"case {self.name}"

    def fill_report(self, report: Any, call: pytest.CallInfo[None], *, brief: bool) -> None:
        """What this item's report carries (plain data) and how its failure reads: the explanation, no traceback.

        ``brief`` (``--tb=line``) leaves the crash line alone: the explanation would bury it.
        """
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, CaseError):
            message = str(error)
            first = message.splitlines()[0] if message else ""
            report.longrepr = CaseRepr("" if brief else message, Crash(str(self.path), self.case.line, first))
        elif isinstance(error, CaseFailed):
            report.longrepr = CaseRepr("" if brief else str(report.longrepr),
                                       Crash(str(self.path), self.case.line, headline(error.result)))
        if self.model is not None and self.reasoning is not None:
            report.gptoss_case = CaseRef(case=self.case.id, model=self.model, reasoning=self.reasoning)
        if call.when == "setup" and self.transcripts:
            report.gptoss_transcripts = self.transcripts
        if self.report_data is not None:
            report.gptoss = self.report_data
        if report.skipped and isinstance(report.longrepr, tuple):
            # Point the skip at the case, not at the plugin line that raised it.
            reason = report.longrepr[2]
            line = None if self.model is None else self.case.line
            report.longrepr = (str(self.path), line, reason)


def _xfail_reason(case: Case, model: str | None, run: Run) -> str | None:
    if not case.xfail or model is None:
        return None
    spec = run.spec(model)
    names = {model, "*"} | ({spec.spec} if spec else set())
    for key, reason in case.xfail.items():
        if key in names:
            return reason
    return None


def _origin(checker: Any) -> str:
    """Where a checker given by the pytest_gptoss_checkers hook was defined, for an error message."""
    judge = getattr(checker, "judge", None)
    code = getattr(judge, "__code__", None)
    where = code.co_filename if code is not None else getattr(judge, "__module__", None) or "a conftest.py"
    return f"{where} (pytest_gptoss_checkers)"
