"""A parsed flowchart as both parsers give it and the assertions read it, and the error for one that does not parse."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: str | None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    arrow: str


@dataclass(frozen=True)
class Flowchart:
    """A parsed flowchart: nodes by id (in order of appearance) and edges (in order)."""

    direction: str
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    subgraphs: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


class MermaidSyntaxError(Exception):
    """The diagram does not parse; ``line`` and ``column`` are 1-based inside the diagram."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 expected: tuple[str, ...] = (), got: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.expected = expected
        self.got = got
