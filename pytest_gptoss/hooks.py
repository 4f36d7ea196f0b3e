"""The hooks pytest-gptoss adds, for ``conftest.py`` files and plugins."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pytest_gptoss.checkers import Checker


@pytest.hookspec
def pytest_gptoss_checkers() -> Iterable[Checker[object]]:
    """Checkers that the case files under this ``conftest.py``'s directory can name.

    Return :class:`pytest_gptoss.checkers.Checker` objects; their names must not
    be those of installed checkers.
    """
    return ()
