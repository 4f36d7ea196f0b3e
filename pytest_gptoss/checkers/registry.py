"""Where checkers come from: the entry-point group ``pytest_gptoss.checkers``, and ``conftest.py`` files.

An installed package registers a checker with an entry point whose name is the
checker's name and whose object is a :class:`~pytest_gptoss.checkers.Checker`::

    [project.entry-points."pytest_gptoss.checkers"]
    word_count = "my_checkers:WORD_COUNT"

The shipped checkers register the same way (see pyproject.toml). A project
adds checkers for the case files under one directory from a ``conftest.py``
there, with the hook ``pytest_gptoss_checkers`` (:mod:`pytest_gptoss.hooks`).
Entry points load on first use, so a run imports only the checkers its cases use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from pytest_gptoss.checkers import Checker
from pytest_gptoss.verdict import SpecError

GROUP = "pytest_gptoss.checkers"


class RegistryError(Exception):
    """Checkers that cannot be told apart (two of one name), said in one line."""


class Registry:
    """The checkers a case file can name: the installed ones and those its conftest.py files add."""

    def __init__(self, added: Iterable[tuple[Checker[object], str]] = ()) -> None:
        self._installed = _installed()
        self._added: dict[str, tuple[Checker[object], str]] = {}
        for checker, origin in added:
            if not isinstance(checker, Checker):
                raise RegistryError(f"{origin} gave {checker!r} as a checker; give pytest_gptoss.checkers.Checker "
                                    "objects")
            if checker.name in self._added:
                taken = self._added[checker.name][1]
            elif checker.name in self._installed:
                taken = f"the entry point {self._installed[checker.name][0].value}"
            else:
                taken = ""
            if taken:
                raise RegistryError(f"checker '{checker.name}' from {origin} has the name of the one from {taken}; "
                                    "give it another name")
            self._added[checker.name] = (checker, origin)

    def names(self) -> list[str]:
        return sorted({*self._installed, *self._added})

    def get(self, name: str) -> Checker[object]:
        """The checker called ``name``, or :class:`SpecError` saying what is wrong and what to do."""
        if name in self._added:
            return self._added[name][0]
        found = self._installed.get(name)
        if not found:
            known = ", ".join([*self.names(), "all", "any", "not"])
            raise SpecError(f"unknown checker '{name}'; known checkers: {known}", (name,))
        if len(found) > 1:
            sources = " and ".join(f"{point.value} ({_distribution(point)})" for point in found)
            raise SpecError(f"checker '{name}' is registered twice, by {sources}; uninstall one", (name,))
        return _load(found[0])


@functools.cache
def _installed() -> dict[str, tuple[EntryPoint, ...]]:
    points: dict[str, dict[str, EntryPoint]] = {}
    for point in entry_points(group=GROUP):
        points.setdefault(point.name, {}).setdefault(point.value, point)  # one package seen twice is one
    return {name: tuple(by_value.values()) for name, by_value in points.items()}


@functools.cache
def _load(point: EntryPoint) -> Checker[object]:
    try:
        checker = point.load()
    except Exception as exc:
        raise SpecError(f"checker '{point.name}' ({point.value}, from {_distribution(point)}) could not be "
                        f"imported: {type(exc).__name__}: {exc}; reinstall or uninstall that package",
                        (point.name,)) from None
    if not isinstance(checker, Checker) or checker.name != point.name:
        raise SpecError(f"the entry point '{point.name} = {point.value}' ({_distribution(point)}) is not a "
                        f"pytest_gptoss.checkers.Checker named '{point.name}'; fix that package's entry point",
                        (point.name,))
    return checker


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
