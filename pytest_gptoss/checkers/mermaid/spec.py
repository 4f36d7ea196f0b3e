"""The ``mermaid`` spec: parsing what a case file says into a :class:`Spec`, and saying it back in words.

Keys (all optional; ``{}`` asserts only that a flowchart parses):

``kind``
    ``flowchart`` (the default; ``graph`` is the same diagram).
``direction``
    ``TB``/``TD``, ``BT``, ``LR`` or ``RL``, or a list of accepted ones.
    ``TD`` and ``TB`` are the same; ``graph`` with no direction is ``TB``.
``nodes``
    A list of label matchers, each of which some node must match; or a mapping
    from a name to a matcher, which also names the node for the keys below.
``decisions``
    Matchers (or names) of nodes that must be decisions: rhombus ``{...}``,
    or ``@{shape: diamond}`` and its aliases ``diam``, ``decision``, ``question``.
``edges``
    A list of ``{from: M, to: M, label: L}``: an edge from a node matching
    ``from`` to one matching ``to``; with ``label``, the edge's text must match
    ``L``. Edges point the way they are written; ``<-->`` points both ways.
``cycles``
    A list of loops. Each is a list of matchers (or names), or
    ``{through: [...], avoiding: [...]}``: some closed path of edges passes
    every ``through`` node and none of the ``avoiding`` ones. An inner loop
    is ``{through: [inner test], avoiding: [outer test]}``: without its own
    back edge it only closes through the outer loop.
``end``
    ``true``: some node that an edge leads to has no outgoing edge, or is
    labelled end/stop/结束/终止. A matcher: such a node with no outgoing edge
    matches it.
``parser``
    ``auto`` (default), ``mermaid`` or ``builtin`` (see the package docstring).

A label matcher is a string, ``{regex: P}`` or a list of them (see
:mod:`.labels` for how each matches); a string that names an entry of
``nodes`` refers to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_gptoss.checkers.mermaid.labels import Alternative, Matcher, key
from pytest_gptoss.clipping import clip
from pytest_gptoss.verdict import SpecError, check_keys

KEYS = ("kind", "direction", "nodes", "decisions", "edges", "cycles", "end", "parser")
KINDS = ("flowchart", "graph")
DIRECTIONS = ("TB", "TD", "BT", "LR", "RL")
PARSERS = ("auto", "mermaid", "builtin")
_EXPECTED_WIDTH = 600


@dataclass(frozen=True)
class EdgeSpec:
    source: Matcher
    target: Matcher
    label: Matcher | None


@dataclass(frozen=True)
class CycleSpec:
    through: tuple[Matcher, ...]
    avoiding: tuple[Matcher, ...]


@dataclass(frozen=True, kw_only=True)
class Spec:
    """A parsed ``mermaid`` spec: each assertion's matchers, compiled; ``parser`` None where the spec does not say."""

    direction: tuple[str, ...]
    nodes: tuple[Matcher, ...]
    decisions: tuple[Matcher, ...]
    edges: tuple[EdgeSpec, ...]
    cycles: tuple[CycleSpec, ...]
    end: bool | Matcher
    parser: str | None


def parse(spec: Any) -> Spec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    if spec is None:
        spec = {}
    check_keys(spec, KEYS, name="mermaid", usage=f"mermaid takes a mapping (keys: {', '.join(KEYS)})")
    kind = spec.get("kind", "flowchart")
    if kind not in KINDS:
        raise SpecError(f"'kind' must be flowchart (or graph, the same diagram), not {kind!r}", ("kind",))
    direction = _directions(spec.get("direction"))
    names: dict[str, Matcher] = {}
    nodes: list[Matcher] = []
    raw_nodes = spec.get("nodes")
    if isinstance(raw_nodes, Mapping):
        if not raw_nodes:
            raise SpecError("'nodes' is empty; it asserts nothing", ("nodes",))
        for name, value in raw_nodes.items():
            if not isinstance(name, str) or not name:
                raise SpecError(f"a node name must be a non-empty string, not {name!r}", ("nodes",))
            matcher = _matcher(value, ("nodes", name), name=name)
            names[name] = matcher
            nodes.append(matcher)
    elif raw_nodes is not None:
        for index, value in enumerate(_items(spec, "nodes")):
            nodes.append(_matcher(value, ("nodes", index)))

    def ref(value: Any, path: tuple[str | int, ...]) -> Matcher:
        if isinstance(value, str) and value in names:
            return names[value]
        return _matcher(value, path)

    decisions = tuple(ref(v, ("decisions", i)) for i, v in enumerate(_items(spec, "decisions")))
    edges = []
    for index, value in enumerate(_items(spec, "edges")):
        path = ("edges", index)
        if not isinstance(value, Mapping) or not {"from", "to"} <= set(value):
            raise SpecError("an edge is a mapping with 'from', 'to' and optionally 'label'", path)
        for edge_key in value:
            if edge_key not in ("from", "to", "label"):
                raise SpecError(f"unknown edge key {edge_key!r}; an edge takes from, to, label", (*path, edge_key))
        label = _matcher(value["label"], (*path, "label"), whole=True) if "label" in value else None
        edges.append(EdgeSpec(ref(value["from"], (*path, "from")), ref(value["to"], (*path, "to")), label))
    cycles = []
    for index, value in enumerate(_items(spec, "cycles")):
        path = ("cycles", index)
        if isinstance(value, Mapping):
            for cycle_key in value:
                if cycle_key not in ("through", "avoiding"):
                    raise SpecError(f"unknown cycle key {cycle_key!r}; a cycle takes through, avoiding",
                                    (*path, cycle_key))
            if "through" not in value:
                raise SpecError("a cycle needs 'through': the nodes the loop passes", path)
            through, avoiding = value["through"], value.get("avoiding", [])
        else:
            through, avoiding = value, []
        through_list = through if isinstance(through, list) else [through]
        avoiding_list = avoiding if isinstance(avoiding, list) else [avoiding]
        if not through_list:
            raise SpecError("a cycle must pass at least one node", path)
        cycles.append(CycleSpec(
            tuple(ref(v, (*path, "through", i)) for i, v in enumerate(through_list)),
            tuple(ref(v, (*path, "avoiding", i)) for i, v in enumerate(avoiding_list)),
        ))
    end: bool | Matcher = False
    if "end" in spec:
        if spec["end"] is True:
            end = True
        elif spec["end"] is False:
            raise SpecError("'end' takes true or a label matcher; leave it out to assert nothing", ("end",))
        else:
            end = ref(spec["end"], ("end",))
    parser = spec.get("parser")
    if parser is not None and parser not in PARSERS:
        raise SpecError(f"'parser' must be one of {', '.join(PARSERS)}, not {parser!r}", ("parser",))
    return Spec(direction=direction, nodes=tuple(nodes), decisions=decisions, edges=tuple(edges),
                cycles=tuple(cycles), end=end, parser=parser)


def describe(spec: Spec) -> str:
    """What ``spec`` expects, in one paragraph, for a verdict's ``expected``."""
    parts = ["a flowchart that parses"]
    if spec.direction:
        parts.append("direction " + " or ".join(spec.direction))
    if spec.nodes:
        parts.append("nodes " + ", ".join(m.label for m in spec.nodes))
    if spec.decisions:
        parts.append("decisions " + ", ".join(m.name or m.shown for m in spec.decisions))
    for edge in spec.edges:
        wanted = f" [{edge.label.shown}]" if edge.label else ""
        parts.append(f"edge {edge.source.name or edge.source.shown} → {edge.target.name or edge.target.shown}{wanted}")
    for cycle in spec.cycles:
        avoiding = f" avoiding {', '.join(m.name or m.shown for m in cycle.avoiding)}" if cycle.avoiding else ""
        parts.append(f"loop through {', '.join(m.name or m.shown for m in cycle.through)}{avoiding}")
    if isinstance(spec.end, Matcher):
        parts.append(f"end node {spec.end.name or spec.end.shown}")
    elif spec.end:
        parts.append("an end node")
    return clip("; ".join(parts), _EXPECTED_WIDTH)


def _items(spec: Mapping[str, Any], name: str) -> list[Any]:
    if name not in spec:
        return []
    value = spec[name]
    if not isinstance(value, list) or not value:
        raise SpecError(f"'{name}' takes a non-empty list", (name,))
    return value


def _directions(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpecError("'direction' is an empty list; it accepts nothing", ("direction",))
    out = []
    for item in items:
        if not isinstance(item, str) or item.upper() not in DIRECTIONS:
            raise SpecError(f"'direction' takes {', '.join(DIRECTIONS)} or a list of them, not {item!r}",
                            ("direction",))
        out.append("TB" if item.upper() == "TD" else item.upper())
    return tuple(out)


def _matcher(value: Any, path: tuple[str | int, ...], *, name: str = "", whole: bool = False) -> Matcher:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpecError("an empty list of alternatives matches nothing", path)
    alternatives = []
    shown = []
    for index, item in enumerate(items):
        where = (*path, index) if isinstance(value, list) else path
        if isinstance(item, str):
            if not key(item, whole=whole):
                raise SpecError(f"{item!r} is empty once whitespace is ignored; it would match every label",
                                where)
            alternatives.append(Alternative(None, item))
            shown.append(repr(item))
        elif isinstance(item, Mapping) and set(item) == {"regex"} and isinstance(item["regex"], str):
            try:
                compiled = re.compile(item["regex"], re.IGNORECASE)
            except re.error as exc:
                raise SpecError(f"invalid regular expression {item['regex']!r}: {exc}", (*where, "regex")) from None
            alternatives.append(Alternative(compiled, item["regex"]))
            shown.append(f"/{item['regex']}/")
        else:
            raise SpecError(
                f"a label matcher is a string, {{regex: PATTERN}} or a list of them, not {item!r}", where
            )
    return Matcher(tuple(alternatives), " | ".join(shown), name)
