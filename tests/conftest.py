"""Settings for the plugin's own tests."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

# pytester's in-process runs restore sys.modules afterwards; extension modules
# cannot be imported twice in one process, so import them once up front.
import llama_cpp  # noqa: F401
import numpy  # noqa: F401
import openai  # noqa: F401
import pytest
import sqlglot  # noqa: F401

# The openai client's HTTP library maps the exceptions of its transport by class, loading the
# transport on first use: loaded inside one pytester run and again in the next, the classes differ.
for _transport in ("httpcore2", "httpcore"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_transport)

from openai_standin import StandIn  # noqa: E402
from shipped_runs import SuiteRun, run_shipped_suite  # noqa: E402

from pytest_gptoss.checkers.mermaid.bridge import DIR_ENV, mermaid_directory  # noqa: E402 (after the transports)


@pytest.fixture(scope="session", autouse=True)
def _plugin_test_environment() -> Iterator[None]:
    """Settings for the plugin's own tests only, so a run of the shipped cases from this
    repository (the main job) uses the response cache and the user's folders like any other.
    """
    saved = {name: os.environ.get(name) for name in ("GPTOSS_CACHE_HOME", "GPTOSS_NO_CACHE", DIR_ENV)}
    # Keep what the plugin caches (the tiny model) out of the user's home.
    home = tempfile.mkdtemp(prefix="gptoss-tests-")
    os.environ.setdefault("GPTOSS_CACHE_HOME", home)
    # Generate for real in every test; the response cache's own tests turn it on.
    os.environ.setdefault("GPTOSS_NO_CACHE", "1")
    # pytester points HOME at each test's own directory; keep finding the mermaid
    # that is installed under the real home.
    os.environ.setdefault(DIR_ENV, str(mermaid_directory()))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def shipped_runs(tmp_path_factory: pytest.TempPathFactory, _plugin_test_environment: None) -> dict[str, SuiteRun]:
    """The shipped suite through tiny, run once per session in the ways several tests compare (shipped_runs.py).

    Under -n, the first worker that needs them makes the runs and the others read what it wrote.
    """
    import json
    from dataclasses import asdict

    from filelock import FileLock  # huggingface_hub's dependency, so always installed

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one folder for the session's workers
    done = shared / "shipped-runs.json"
    with FileLock(str(done) + ".lock"):
        if not done.is_file():
            runs = run_shipped_suite(tmp_path_factory.mktemp("shipped"))
            done.write_text(json.dumps({name: asdict(run) for name, run in runs.items()}))
    return {name: SuiteRun(**run) for name, run in json.loads(done.read_text()).items()}


@pytest.fixture
def standin() -> Iterator[Callable[..., StandIn]]:
    """Starts stand-in OpenAI-compatible servers (``standin(flavour=...)``), each stopped after the test."""
    started: list[StandIn] = []

    def start(**kwargs: Any) -> StandIn:
        server = StandIn(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
