"""The assertions on a parsed flowchart: directions, nodes, decisions, edges, loops and an end, each with its reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_gptoss.checkers.mermaid.flowchart import Flowchart, Node
from pytest_gptoss.checkers.mermaid.labels import Matcher, matches, plain_label
from pytest_gptoss.checkers.mermaid.spec import CycleSpec, EdgeSpec, Spec
from pytest_gptoss.clipping import clip

DECISION_SHAPES = frozenset({"diamond", "diam", "decision", "question"})
_LABEL_WIDTH = 40
_SHAPE_NAMES = {
    None: "a plain node", "square": "a rectangle [ ]", "round": "a rounded box ( )",
    "stadium": "a stadium ([ ])", "subroutine": "a subroutine [[ ]]", "cylinder": "a cylinder [( )]",
    "circle": "a circle (( ))", "doublecircle": "a double circle ((( )))", "odd": "a flag > ]",
    "diamond": "a decision { }", "hexagon": "a hexagon {{ }}", "lean_right": "a parallelogram [/ /]",
    "lean_left": "a parallelogram [\\ \\]", "trapezoid": "a trapezoid [/ \\]",
    "inv_trapezoid": "a trapezoid [\\ /]", "ellipse": "an ellipse (- -)", "rect": "a rectangle [| ]",
}
_END_LABEL = re.compile(r"^(?:end|stop|finish|结束|终止|停止)(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Result:
    """One assertion's outcome: the spec key it came from, how it reads, whether it held, and why."""

    key: str
    label: str
    held: bool
    note: str


def assertions(spec: Spec, chart: Flowchart) -> list[Result]:
    """The outcome of each of ``spec``'s assertions on ``chart``, in the order the spec gives them."""
    results = []
    nodes = list(chart.nodes.values())
    if spec.direction:
        shown = " or ".join(spec.direction)
        results.append(Result("direction", f"direction {shown}", chart.direction in spec.direction,
                              f"the flowchart goes {chart.direction}"))
    for matcher in spec.nodes:
        found = _matching(matcher, nodes)
        results.append(Result("nodes", f"node {matcher.label}", bool(found),
                              f"matches {show(found[0])}" if found else "no node label matches"))
    for matcher in spec.decisions:
        found = _matching(matcher, nodes)
        decisions = [n for n in found if n.shape in DECISION_SHAPES]
        if decisions:
            note = f"{show(decisions[0])} is a decision"
        elif found:
            note = f"{show(found[0])} is {_shape_name(found[0].shape)}, not a decision {{ }}"
        else:
            note = "no node label matches"
        results.append(Result("decisions", f"decision {matcher.label}", bool(decisions), note))
    arrows = _arrows(chart)
    for edge in spec.edges:
        results.append(_edge_result(edge, nodes, chart, arrows))
    for cycle in spec.cycles:
        results.append(_cycle_result(cycle, nodes, arrows))
    if spec.end is not False:
        results.append(_end_result(spec.end, nodes, arrows))
    return results


def _matching(matcher: Matcher, nodes: list[Node]) -> list[Node]:
    return [node for node in nodes if matches(matcher, node.label)]


def _arrows(chart: Flowchart) -> dict[str, set[str]]:
    """Each node's successors: edges point the way they are written, both ways for <-->."""
    arrows: dict[str, set[str]] = {node: set() for node in chart.nodes}
    for edge in chart.edges:
        arrows.setdefault(edge.source, set()).add(edge.target)
        arrows.setdefault(edge.target, set())
        if edge.arrow.startswith("double_"):
            arrows[edge.target].add(edge.source)
    return arrows


def _edge_result(edge: EdgeSpec, nodes: list[Node], chart: Flowchart,
                 arrows: dict[str, set[str]]) -> Result:
    wanted = f" labelled {edge.label.shown}" if edge.label else ""
    label = f"edge {edge.source.label} → {edge.target.label}{wanted}"
    sources = {n.id for n in _matching(edge.source, nodes)}
    targets = {n.id for n in _matching(edge.target, nodes)}
    if not sources or not targets:
        missing = " and ".join(side for side, ids in (("from", sources), ("to", targets)) if not ids)
        return Result("edges", label, False, f"no node label matches '{missing}'")
    linked = [e for e in chart.edges
              if (e.source in sources and e.target in targets)
              or (e.arrow.startswith("double_") and e.target in sources and e.source in targets)]
    if not linked:
        first_source = chart.nodes[sorted(sources, key=list(chart.nodes).index)[0]]
        following = ", ".join(show(chart.nodes[t]) for t in sorted(arrows.get(first_source.id, ()),
                                                                    key=list(chart.nodes).index)[:4])
        return Result("edges", label, False, f"no edge leads from {show(first_source)} to a matching node; "
                      f"it leads to {following or 'nothing'}")
    if edge.label is None:
        return Result("edges", label, True, f"{linked[0].source} → {linked[0].target}")
    labelled = [e for e in linked if matches(edge.label, e.label, whole=True)]
    if labelled:
        return Result("edges", label, True, f"{labelled[0].source} → {labelled[0].target} '{labelled[0].label}'")
    shown = ", ".join(f"{e.source} → {e.target} " + (f"'{e.label}'" if e.label else "unlabelled") for e in linked[:3])
    return Result("edges", label, False, f"the edge is there but its label differs: {shown}")


def _cycle_result(cycle: CycleSpec, nodes: list[Node], arrows: dict[str, set[str]]) -> Result:
    names = ", ".join(m.name or m.shown for m in cycle.through)
    avoiding = ", ".join(m.name or m.shown for m in cycle.avoiding)
    label = f"loop through {names}" + (f" avoiding {avoiding}" if avoiding else "")
    banned = {n.id for m in cycle.avoiding for n in _matching(m, nodes)}
    candidates = []
    for matcher in cycle.through:
        found = [n for n in _matching(matcher, nodes)]
        if not found:
            return Result("cycles", label, False, f"no node label matches {matcher.label}")
        allowed = [n for n in found if n.id not in banned]
        if not allowed:
            return Result("cycles", label, False, f"{show(found[0])} also matches what the loop must avoid")
        candidates.append(allowed)
    kept = {node: {t for t in targets if t not in banned} for node, targets in arrows.items() if node not in banned}
    loops = {node.id: _loop_of(node.id, kept) for group in candidates for node in group}
    for group in candidates:
        if not any(loops[n.id] for n in group):
            where = f" once {avoiding} is left out" if avoiding else ""
            return Result("cycles", label, False, f"{show(group[0])} is on no loop{where}: nothing leads back to it")
    for first in candidates[0]:
        loop = loops[first.id]
        if loop and all(any(n.id in loop for n in group) for group in candidates[1:]):
            return Result("cycles", label, True, f"{show(first)} is on a loop of {len(loop)} nodes")
    return Result("cycles", label, False, "each of them is on a loop, but no one loop passes them all")


def _loop_of(start: str, arrows: dict[str, set[str]]) -> frozenset[str]:
    """The nodes on closed paths through ``start`` (its strongly connected component), or nothing."""
    forward = _reach(start, arrows)
    backward = _reach(start, _reverse(arrows))
    component = forward & backward
    if len(component) > 1 or start in arrows.get(start, ()):
        return frozenset(component)
    return frozenset()


def _reach(start: str, arrows: dict[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for following in arrows.get(todo.pop(), ()):
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def _reverse(arrows: dict[str, set[str]]) -> dict[str, set[str]]:
    reverse: dict[str, set[str]] = {node: set() for node in arrows}
    for node, targets in arrows.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    return reverse


def _end_result(end: bool | Matcher, nodes: list[Node], arrows: dict[str, set[str]]) -> Result:
    reached = {t for targets in arrows.values() for t in targets}
    sinks = [n for n in nodes if not arrows.get(n.id) and (n.id in reached or len(nodes) == 1)]
    if isinstance(end, Matcher):
        label = f"end node {end.label}"
        found = _matching(end, nodes)
        ends = [n for n in found if n in sinks]
        if ends:
            return Result("end", label, True, f"{show(ends[0])} has no outgoing edge")
        if found:
            return Result("end", label, False, f"{show(found[0])} is not an end: it leads on, or nothing leads to it")
        return Result("end", label, False, "no node label matches")
    named = [n for n in nodes if _END_LABEL.match(plain_label(n.label)) and n.id in reached]
    ends = sinks + [n for n in named if n not in sinks]
    if ends:
        return Result("end", "an end node", True, f"{show(ends[0])}")
    return Result("end", "an end node", False,
                  "every node reached by an edge leads on, and none is labelled end/stop/结束")


def show(node: Node) -> str:
    """A node for a verdict: its id, and its label as read when that differs."""
    label = plain_label(node.label)
    label = clip(label, _LABEL_WIDTH)
    return f"{node.id} '{label}'" if label != node.id else node.id


def _shape_name(shape: str | None) -> str:
    return _SHAPE_NAMES.get(shape, f"a {shape} (@{{shape: {shape}}})")
