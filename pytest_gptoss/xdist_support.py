"""pytest-xdist: schedule cases by model, so a worker loads each model once, never once per item."""

from __future__ import annotations

from typing import Any

from pytest_gptoss.items import WHOLE_MODEL_PER_WORKER, case_of
from pytest_gptoss.run import Run


class XdistHooks:
    def __init__(self, run: Run) -> None:
        self.run = run

    def _by_model(self, config: Any) -> bool:
        # Only the default distribution is replaced; an explicit --dist other than
        # "load" (loadfile, loadscope, worksteal, ...) is the user's choice.
        return bool(config.option.dist == "load" and self.run.replay is None and self.run.settings.models)

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WHOLE_MODEL_PER_WORKER] = self._by_model(node.config)

    def pytest_xdist_make_scheduler(self, config: Any, log: Any) -> Any:
        if not self._by_model(config):
            return None
        from xdist.scheduler import LoadScopeScheduling

        models = self.run.model_labels

        class ModelScheduling(LoadScopeScheduling):
            """Cases of one model form one scope; every other test is a scope of its own."""

            def _split_scope(self, nodeid: str) -> str:
                # the scheduler knows its items by node id alone
                case = case_of(nodeid, models)
                return f"gptoss-model:{case['model']}" if case else nodeid

        return ModelScheduling(config, log)
