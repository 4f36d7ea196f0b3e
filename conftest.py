"""Repository-level pytest settings.

The plugin's own tests drive pytest with pytester. A plain ``pytest`` runs them
(and collects the shipped cases, skipped without a model); given a model or
transcripts and no paths, ``pytest`` runs the suite in ``cases/`` alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_gptoss.run import RUN_KEY

pytest_plugins = ["pytester"]

OWN_TESTS = Path(__file__).resolve().parent / "tests"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS or not config.stash[RUN_KEY].model_labels:
        return
    own = [item for item in items if OWN_TESTS in item.path.parents]
    if own:
        config.hook.pytest_deselected(items=own)
        items[:] = [item for item in items if OWN_TESTS not in item.path.parents]
