"""mermaid 11's flowchart database (its ``flowDb``), ported as far as the checks read it.

The parser hands it each statement; it decides, as mermaid does, which nodes,
labels, shapes, edges, subgraphs and direction the diagram ends up with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.mermaid.flowchart import Edge, Flowchart, Node


@dataclass
class Link:
    """A link as written: its arrow type (see :func:`arrow`), its text if any, and its ``id@`` if any."""

    arrow: str
    text: str | None
    id: str | None


class FlowDb:
    """The vertices, edges and subgraphs of one diagram, kept the way mermaid keeps them."""

    def __init__(self) -> None:
        self.direction = "TB"
        self.vertices: dict[str, dict[str, Any]] = {}
        self.edges: list[Edge] = []
        #: ids given to links (``A e1@--> B``); ``e1@{...}`` then sets the link's properties, not a node's
        self.edge_ids: set[str] = set()
        self.subgraphs: list[tuple[str, str, tuple[str, ...]]] = []

    def set_direction(self, text: str) -> None:
        direction = text.strip()
        for mark, value in (("<", "RL"), ("^", "BT"), (">", "LR"), ("v", "TB")):
            if mark in direction:
                direction = value
        self.direction = "TB" if direction == "TD" else direction

    def add_vertex(self, vertex_id: str, text: str | None, shape: str | None) -> None:
        if vertex_id in self.edge_ids:
            return
        vertex = self.vertices.setdefault(vertex_id, {"text": None, "shape": None})
        if text is not None:
            vertex["text"] = _unquoted(text)
        elif vertex["text"] is None:
            vertex["text"] = vertex_id
        if shape is not None:
            vertex["shape"] = shape

    def set_shape_data(self, vertex_id: str, shape: str | None, label: str | None) -> None:
        """What ``@{shape: ..., label: ...}`` sets on a vertex already added."""
        if shape is not None:
            self.vertices[vertex_id]["shape"] = shape
        if label is not None:
            self.vertices[vertex_id]["text"] = label

    def add_links(self, starts: list[str], ends: list[str], link: Link) -> None:
        label = _unquoted(link.text or "")
        for start in starts:
            for end in ends:
                if link.id and start == starts[-1] and end == ends[0]:
                    self.edge_ids.add(link.id)
                self.edges.append(Edge(start, end, label, link.arrow))

    def add_subgraph(self, sub_id: str, title: str, ids: list[str]) -> str:
        """Keep a subgraph of the vertices ``ids``; one without an id gets mermaid's, which is returned."""
        sub_id = sub_id or f"subGraph{len(self.subgraphs)}"
        self.subgraphs.append((sub_id, title.strip(), tuple(dict.fromkeys(ids))))
        return sub_id

    def flowchart(self) -> Flowchart:
        nodes = {vid: Node(vid, v["text"], v["shape"]) for vid, v in self.vertices.items()}
        return Flowchart(self.direction, nodes, tuple(self.edges), tuple(self.subgraphs))


def _unquoted(text: str) -> str:
    label = text.strip()
    if len(label) >= 2 and label.startswith('"') and label.endswith('"'):
        label = label[1:-1]
    return label


def arrow(end: str, start: str | None = None) -> str:
    """mermaid's arrow type for a link written ``end`` (or ``start`` text ``end``)."""
    text = end.strip()
    line = text[:-1]
    kind = "arrow_open"
    heads = {"x": "arrow_cross", ">": "arrow_point", "o": "arrow_circle"}
    if text[-1:] in heads:
        kind = heads[text[-1:]]
        if text.startswith({"x": "x", ">": "<", "o": "o"}[text[-1:]]):
            kind = "double_" + kind
            line = line[1:]
    stroke = "thick" if line.startswith("=") else "invisible" if line.startswith("~") else "normal"
    if "." in line:
        stroke = "dotted"
    if start is None:
        return kind
    opening = start.strip()
    start_kind = {"<": "arrow_point", "x": "arrow_cross", "o": "arrow_circle"}.get(opening[:1], "arrow_open")
    start_stroke = "dotted" if "." in opening else "thick" if "=" in opening else "normal"
    if start_stroke != stroke:
        return "INVALID"
    if start_kind == "arrow_open":
        return kind
    if start_kind != kind:
        return "INVALID"
    return "double_" + start_kind
