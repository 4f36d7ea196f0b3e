"""The mermaid checker: finding the diagram, parsing it as mermaid does, matching labels, judging structure."""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_gptoss.cases import parse_yaml
from pytest_gptoss.checkers import mermaid
from pytest_gptoss.checkers.mermaid import CHECKER, bridge
from pytest_gptoss.checkers.mermaid.flowchart import MermaidSyntaxError
from pytest_gptoss.checkers.mermaid.labels import plain_label
from pytest_gptoss.checkers.mermaid.parser import parse_builtin
from pytest_gptoss.checkers.mermaid.source import clean, find_diagram
from pytest_gptoss.verdict import SpecError, Verdict

# The seed case's check, as its case file says it: a flowchart of bubble sort. Only the comparison
# must be a decision; each loop must close on itself; labels are matched folded (see the checker).
SEED_CHECK = r"""
mermaid:
  nodes:
    outer: ['i<n-1', {regex: 'i\s*(<\s*(n|len\(arr\))\s*-\s*1|<=\s*(n|len\(arr\))\s*-\s*2)(?!\d)'}]
    inner: ['j<n-i-1', 'j<n-1-i', {regex: 'j\s*<\s*(n|len\(arr\))\s*-\s*(i\s*-\s*1|1\s*-\s*i)(?!\w)'}]
    compare: ['arr[j]>arr[j+1]', 'arr[j+1]<arr[j]']
    swap: [swap, 交换, 互换, 'arr[j],arr[j+1]=arr[j+1],arr[j]']
  decisions: [compare]
  edges:
    - {from: compare, to: swap}
  cycles:
    - [outer, inner]
    - {through: [inner, compare, swap], avoiding: [outer]}
  end: true
"""
BUBBLE_SPEC = parse_yaml(SEED_CHECK)["mermaid"]

TD_CHINESE = """\
冒泡排序的流程图如下：

```mermaid
flowchart TD
    A([开始]) --> B[n = len#40;arr#41;]
    B --> C[i = 0]
    C --> D{i < n - 1 ?}
    D -- 是 --> E[j = 0]
    E --> F{j < n - i - 1 ?}
    F -- 是 --> G{"arr[j] > arr[j + 1] ?"}
    G -- 是 --> H["交换 arr[j] 和 arr[j + 1]"]
    G -- 否 --> I[j += 1]
    H --> I
    I --> F
    F -- 否 --> J[i += 1]
    J --> D
    D -- 否 --> K[返回 arr]
    K --> L[/"打印 排序后的数组"/]
    L --> M([结束])
```
"""

LR_ENTITIES = """\
```mermaid
graph LR
  start((Start)) --> init["n = len(arr); i = 0"]
  init --> outer{"i &lt; n - 1?"}
  outer -->|Yes| j0[j = 0]
  j0 --> inner{"j &lt; n - i - 1?"}
  inner -->|Yes| cmp{"arr[j] &gt; arr[j+1]?"}
  cmp -->|Yes| swap["swap arr[j], arr[j+1]"]
  cmp -->|No| incj[j += 1]
  swap --> incj
  incj --> inner
  inner -->|No| inci[i += 1]
  inci --> outer
  outer -->|No| ret[/return arr/]
  ret --> stop((End))
```
"""

SUBGRAPHS_CODES = """\
Here it is.

```mermaid
flowchart TB
    S([Start]) --> N[n = len#40;arr#41;]
    N --> I0[i = 0]
    I0 --> OT{{判断 i #lt; n-1}}
    subgraph outer_loop [外层循环]
        OT -->|True| J0[j = 0]
        subgraph inner_loop [内层循环]
            J0 --> IT{{j #lt; n-i-1}}
            IT -->|True| CMP{arr#91;j#93; #gt; arr#91;j+1#93;}
            CMP -->|True| SW[arr#91;j#93;, arr#91;j+1#93; = arr#91;j+1#93;, arr#91;j#93;]
            CMP -->|False| JI[j += 1]
            SW --> JI
            JI --> IT
        end
        IT -->|False| II[i += 1]
        II --> OT
    end
    OT -->|False| R[return arr]
    R --> P[print sorted_array]
```
"""

SEMICOLONS_CHAINS = """\
```mermaid
graph TD;
  Start-->Init[i = 0]-->Outer{i < n-1};
  Outer--Yes-->InitJ[j = 0]-->Inner{j < n-i-1};
  Inner--Yes-->Cmp{arr#91;j#93; > arr#91;j+1#93;};
  Cmp--Yes-->Swap[Swap]-->IncJ[j = j + 1]-->Inner;
  Cmp--No-->IncJ;
  Inner--No-->IncI[i = i + 1]-->Outer;
  Outer--No-->Done([Return arr]);
```
"""

FULL_WIDTH_DOTTED = """\
```mermaid
%%{init: {"theme": "forest"}}%%
flowchart TD
    %% 外层循环
    a[开始] --> b{"i ＜ n－1？"}
    b == 是 ==> c[j = 0] --> d{"j ＜ n－i－1？"}
    d -. 否 .-> g[i = i + 1]
    d -->|是| e{"arr[j] ＞ arr[j+1]？"}
    e -->|是| f[交换两个元素]
    e -->|否| h[j = j + 1]
    f --> h
    h -.-> d
    g -.-> b
    b -->|否| z(((结束)))
    classDef loop fill:#f9f,stroke:#333,stroke-width:2px;
    class b,d loop
    style z fill:#9f6
    click z "https://example.com" "the end"
```
"""

SHAPE_DATA = """\
```mermaid
flowchart LR
    A[Start] --> B{{i < n-1}}
    B -->|yes| C{{j < n-i-1}}
    C -->|yes| D@{ shape: diamond, label: "arr[j] > arr[j+1]" }
    D -->|yes| E[Swap]
    D -->|no| F[j++]
    E --> F --> C
    C -->|no| G[i++] --> B
    B -->|no| H@{ shape: stadium, label: "Done" }
```
"""

UNFENCED = """\
先看代码：

```python
def bubble_sort(arr):
    return arr
```

流程图：

flowchart TD
A[开始] --> B{判断 i < n-1}
B -->|是| C{判断 j < n-i-1}
C -->|是| D{arr#91;j#93; > arr#91;j+1#93;}
D -->|是| E[交换]
D -->|否| F[j++]
E --> F
F --> C
C -->|否| G[i++]
G --> B
B -->|否| H[结束]

以上就是流程图。
"""

CORRECT = [
    ("td-chinese", TD_CHINESE),
    ("lr-html-entities", LR_ENTITIES),
    ("tb-subgraphs-entity-codes-hexagons", SUBGRAPHS_CODES),
    ("semicolons-and-chains", SEMICOLONS_CHAINS),
    ("full-width-dotted-thick-styles", FULL_WIDTH_DOTTED),
    ("shape-data", SHAPE_DATA),
    ("unfenced-after-code", UNFENCED),
]

# (id, answer, assertions that fail, words each failure's line must name)
OMISSIONS = [
    ("no-inner-loop-back-edge", TD_CHINESE.replace("    I --> F\n", ""),
     ["loop through inner, compare, swap avoiding outer"], ["F 'j < n - i - 1 ?' is on no loop"]),
    ("no-outer-loop-back-edge", TD_CHINESE.replace("    J --> D\n", ""),
     ["loop through outer, inner"], ["D 'i < n - 1 ?' is on no loop"]),
    ("comparison-as-rectangle",
     TD_CHINESE.replace('G{"arr[j] > arr[j + 1] ?"}', 'G["arr[j] > arr[j + 1] ?"]'),
     ["decision compare"], ["is a rectangle [ ], not a decision"]),
    ("no-end", TD_CHINESE.replace("    D -- 否 --> K[返回 arr]\n    K --> L[/\"打印 排序后的数组\"/]\n"
                                  "    L --> M([结束])\n", ""),
     ["an end node"], ["every node reached by an edge leads on"]),
    ("no-swap", TD_CHINESE.replace('    G -- 是 --> H["交换 arr[j] 和 arr[j + 1]"]\n', "    G -- 是 --> I\n")
     .replace("    H --> I\n", ""),
     ["node swap", "edge compare", "loop through inner, compare, swap avoiding outer"],
     ["no node label matches", "no node label matches 'to'", "no node label matches"]),
    ("no-comparison", LR_ENTITIES.replace('{"arr[j] &gt; arr[j+1]?"}', '{"a bigger than b?"}'),
     ["node compare", "decision compare", "edge compare", "loop through inner, compare, swap avoiding outer"],
     ["no node label matches"] * 4),
]

# (id, diagram, parser message at its line and column, a word of the hint)
SYNTAX_ERRORS = [
    ("unquoted-parentheses", "flowchart TD\n    A[开始] --> B[n = len(arr)]\n",
     "Parse error on line 2, column 24", "must be quoted"),
    ("brackets-in-diamond", 'flowchart TD\n    C{arr[j] > arr[j+1]?} -->|是| D[交换]\n',
     "Parse error on line 2, column 10", "must be quoted"),
    ("node-named-end", "flowchart TD\n    A --> B\n    B --> end\n", "Parse error on line 3, column 11", "keyword"),
    ("comment-after-statement", "flowchart TD\n    A --> B %% next\n", "Parse error on line 2, column 13",
     "line of its own"),
    ("lower-case-direction", "flowchart td\n    A --> B\n", "Lexical error on line 1, column 10", "upper case"),
    ("unclosed-label", "flowchart TD\n    A[start --> B\n    B --> C\n", "Parse error on line 4, column 1", ""),
    ("space-before-quote", 'flowchart TD\n    A[ "i < n" ] --> B\n', "Parse error on line 2, column 8",
     "fill its brackets"),
    ("two-spaces-after-edge-label", "flowchart TD\n    A -->|Yes|  B\n", "Parse error on line 2, column 16", ""),
    ("mixed-edge-strokes", "flowchart TD\n    A -- yes ==> B\n", "Parse error on line 3, column 1", ""),
    ("bare-subgraph", "flowchart TD\n    subgraph\n    A --> B\n    end\n", "Parse error on line 2, column 13", ""),
    ("linkstyle-before-link", "flowchart TD\n    linkStyle 0 stroke:red\n    A --> B\n",
     "linkStyle 0 on line 2, column 15", ""),
    ("shape-name-case", "flowchart TD\n    A@{ shape: Diamond }\n", "No such shape: Diamond", ""),
]


def fenced(diagram: str) -> str:
    return f"The flowchart:\n\n```mermaid\n{diagram}```\n"


@pytest.fixture(autouse=True)
def _no_parser_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(mermaid.PARSER_ENV, raising=False)


# -- the seed case, with the built-in parser ---------------------------------------------


@pytest.mark.parametrize("answer", [c[1] for c in CORRECT], ids=[c[0] for c in CORRECT])
def test_correct_bubble_sort_flowcharts_pass(answer: str) -> None:
    CHECKER.parse(BUBBLE_SPEC)
    verdict = CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, answer)
    assert verdict.passed, verdict.explain()
    assert verdict.details["parser"] == "the built-in parser"
    assert "all 9 assertions held" in verdict.found


@pytest.mark.parametrize(
    ("answer", "failed", "notes"), [o[1:] for o in OMISSIONS], ids=[o[0] for o in OMISSIONS]
)
def test_each_omission_fails_naming_what_is_missing(answer: str, failed: list[str], notes: list[str]) -> None:
    verdict = CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, answer)
    assert not verdict.passed and not verdict.error, verdict.explain()
    labels = [f["label"] for f in verdict.details["failed"]]
    assert len(labels) == len(failed), verdict.explain()
    for label, start, note in zip(labels, failed, notes, strict=True):
        assert label.startswith(start)
        assert note in next(r["reason"] for r in verdict.details["failed"] if r["label"] == label)
        assert f"✗ {label}" in verdict.found
    assert verdict.why == f"{len(failed)} of 9 assertions failed"


@pytest.mark.parametrize(
    ("diagram", "message", "hint"), [e[1:] for e in SYNTAX_ERRORS], ids=[e[0] for e in SYNTAX_ERRORS]
)
def test_a_diagram_that_does_not_parse_fails_with_the_parsers_message(diagram: str, message: str, hint: str) -> None:
    verdict = CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, fenced(diagram))
    assert not verdict.passed and not verdict.error, verdict.explain()
    assert verdict.found.startswith(message), verdict.explain()
    assert hint in verdict.why
    assert verdict.why.startswith("the diagram does not parse")


def test_the_error_is_shown_where_it_is_in_the_answer() -> None:
    answer = "Intro.\n\n  ```mermaid\n  flowchart TD\n      A[开始] --> B[n = len(arr)]\n  ```\n"
    verdict = CHECKER.check({"parser": "builtin"}, answer)
    assert verdict.found.startswith("Parse error on line 2, column 24")
    assert "line 2 of the diagram:" in verdict.where
    assert "B[n = len»(«arr)]" in verdict.where


def test_entity_codes_before_the_error_do_not_shift_its_column() -> None:
    verdict = CHECKER.check({"parser": "builtin"}, fenced("flowchart TD\n    A[#quot;x#quot;] --> B[f(x)]\n"))
    assert verdict.found.startswith("Parse error on line 2, column 29")
    assert "B[f»(«x)]" in verdict.where


def test_comment_lines_keep_line_numbers() -> None:
    verdict = CHECKER.check({"parser": "builtin"}, fenced("%% one\n\n%% two\nflowchart TD\n    A --> B(x(y))\n"))
    assert verdict.found.startswith("Parse error on line 5, column 14")


# -- which diagram is judged --------------------------------------------------------------


def test_not_a_flowchart_fails_clearly() -> None:
    verdict = CHECKER.check({}, "```mermaid\nsequenceDiagram\n    Alice->>Bob: hi\n```")
    assert not verdict.passed and not verdict.error
    assert verdict.found == "a sequenceDiagram diagram, not a flowchart"
    assert "only flowcharts" in verdict.why


def test_an_unknown_diagram_type_fails() -> None:
    verdict = CHECKER.check({}, "```mermaid\nflowchat TD\n    A --> B\n```")
    assert verdict.found.startswith("no diagram type detected: the diagram starts with 'flowchat TD'")


def test_an_answer_without_a_diagram_fails() -> None:
    verdict = CHECKER.check({}, "先比较相邻元素，再交换。")
    assert not verdict.passed
    assert verdict.found.startswith("no mermaid diagram")
    assert verdict.where.startswith("answer (")


def test_the_first_flowchart_block_is_judged() -> None:
    answer = ("```mermaid\nsequenceDiagram\n    A->>B: x\n```\n\n```mermaid\nflowchart LR\n    X --> Y\n```\n"
              "```mermaid\nflowchart TD\n    P --> Q\n```\n")
    verdict = CHECKER.check({"direction": "LR", "nodes": ["X", "Y"], "parser": "builtin"}, answer)
    assert verdict.passed, verdict.explain()
    assert "at line 7 of the answer" in verdict.where


def test_an_untagged_block_that_starts_with_graph_is_judged() -> None:
    answer = "```python\ngraph = {}\n```\n```\ngraph TD\n    A --> B\n```"
    verdict = CHECKER.check({"nodes": ["A", "B"], "parser": "builtin"}, answer)
    assert verdict.passed, verdict.explain()
    assert verdict.where.startswith("fenced block at line 5 of the answer")


def test_an_unfenced_diagram_ends_at_a_fence() -> None:
    answer = "flowchart LR\n    A --> B\n```python\nprint(1)\n```\n"
    verdict = CHECKER.check({"nodes": ["A", "B"], "parser": "builtin"}, answer)
    assert verdict.passed, verdict.explain()
    assert verdict.where.startswith("unfenced diagram at line 1 of the answer")


def test_prose_about_graphs_is_not_a_diagram() -> None:
    verdict = CHECKER.check({"parser": "builtin"}, "graph theory helps here.\nflowchart is a word too.\n")
    assert verdict.found.startswith("no mermaid diagram")


def test_a_flowchart_in_an_indented_list_item_keeps_its_columns() -> None:
    answer = "1. Diagram:\n\n    ```mermaid\n    flowchart TD\n        A --> B[len(x)]\n    ```\n"
    verdict = CHECKER.check({"parser": "builtin"}, answer)
    assert verdict.found.startswith("Parse error on line 2, column 16")
    assert "B[len»(«x)]" in verdict.where


def test_front_matter_is_skipped() -> None:
    answer = "```mermaid\n---\ntitle: Bubble sort\n---\nflowchart LR\n    A --> B\n```"
    verdict = CHECKER.check({"direction": "LR", "parser": "builtin"}, answer)
    assert verdict.passed, verdict.explain()


# -- the structure assertions -------------------------------------------------------------

SMALL = fenced("flowchart TD\n    A[Start] --> B{ok?}\n    B -->|是| C[go]\n    B -->|不是| D[stop]\n"
               "    C --> B\n    A <--> E[log]\n")


@pytest.mark.parametrize(
    ("spec", "passes", "note"),
    [
        ({"direction": "TD"}, True, ""),
        ({"direction": ["LR", "RL"]}, False, "the flowchart goes TB"),
        ({"nodes": ["start", "OK?"]}, True, ""),
        ({"nodes": [{"regex": r"^s\w+t$"}]}, True, ""),
        ({"nodes": [{"regex": "^tart"}]}, False, "no node label matches"),
        ({"decisions": ["ok"]}, True, ""),
        ({"decisions": ["go"]}, False, "C 'go' is a rectangle [ ], not a decision { }"),
        ({"edges": [{"from": "ok", "to": "go", "label": "是"}]}, True, ""),
        ({"edges": [{"from": "ok", "to": "stop", "label": "是"}]}, False, "its label differs: B → D '不是'"),
        ({"edges": [{"from": "ok", "to": "stop", "label": ["否", "不是"]}]}, True, ""),
        ({"edges": [{"from": "go", "to": "stop"}]}, False, "no edge leads from C 'go' to a matching node"),
        ({"edges": [{"from": "log", "to": "start"}]}, True, ""),
        ({"edges": [{"from": "stop", "to": "nowhere"}]}, False, "no node label matches 'to'"),
        ({"cycles": [["ok", "go"]]}, True, ""),
        ({"cycles": [["ok", "go", "stop"]]}, False, "D 'stop' is on no loop"),
        ({"cycles": [{"through": "go", "avoiding": "ok"}]}, False, "once 'ok' is left out"),
        ({"cycles": [["start", "log"], ["ok"]]}, True, ""),
        ({"cycles": [["start", "ok"]]}, False, "no one loop passes them all"),
        ({"end": True}, True, ""),
        ({"end": "stop"}, True, ""),
        ({"end": "go"}, False, "C 'go' is not an end"),
    ],
)
def test_structure_assertions(spec: dict, passes: bool, note: str) -> None:
    CHECKER.parse(spec)
    verdict = CHECKER.check({**spec, "parser": "builtin"}, SMALL)
    assert verdict.passed is passes, verdict.explain()
    if note:
        assert note in verdict.found


def test_names_refer_to_nodes_and_show_in_messages() -> None:
    spec = {"nodes": {"test": "ok?"}, "decisions": ["test"], "cycles": [{"through": ["test"], "avoiding": ["go"]}]}
    verdict = CHECKER.check({**spec, "parser": "builtin"}, SMALL)
    assert [f["label"] for f in verdict.details["failed"]] == ["loop through test avoiding 'go'"]
    assert "loop through test avoiding 'go'" in verdict.expected


def test_an_end_labelled_node_counts_even_with_an_edge_out() -> None:
    answer = fenced("flowchart TD\n    A --> B[结束]\n    B --> A\n")
    assert CHECKER.check({"end": True, "parser": "builtin"}, answer).passed
    assert not CHECKER.check({"end": True, "parser": "builtin"}, answer.replace("结束", "继续")).passed


def test_a_verdict_is_plain_data() -> None:
    verdict = CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, TD_CHINESE)
    assert Verdict.from_dict(json.loads(json.dumps(verdict.to_dict()))) == verdict


# -- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "plain"),
    [
        ("i &lt; n - 1 ?", "i < n - 1 ?"),
        ("i #lt; n#45;1", "i < n-1"),
        ("arr#91;j#93; #gt; arr#91;j+1#93;", "arr[j] > arr[j+1]"),
        ("i ＜ n－1？", "i < n-1?"),
        ("<b>交换</b><br/>arr[j]", "交换 arr[j]"),
        ("a<b and c>d", "a<b and c>d"),
        ("x ≤ y − 1", "x <= y - 1"),
        ("\ufb02\u00b0lt\u00b6\u00df", "<"),
    ],
)
def test_labels_are_read_as_shown(label: str, plain: str) -> None:
    assert plain_label(label) == plain


@pytest.mark.parametrize(
    ("label", "matches"),
    [("i < n - 1 ?", True), ("判断 i<n-1", True), ('"i &lt; n - 1 ?"', True), ("i #lt; n-1", True),
     ("I ＜ N－1", True), ("j < n - i - 1", False), ("i <= n - 1", False), ("i < n - 10", False),
     ("xi < n-1", False)],
)
def test_a_string_matches_a_label_that_contains_it(label: str, matches: bool) -> None:
    answer = fenced(f'flowchart TD\n    A["{label}"] --> B\n')
    assert CHECKER.check({"nodes": ["i<n-1"], "parser": "builtin"}, answer).passed is matches


@pytest.mark.parametrize(
    ("name", "label", "matches"),
    [
        ("outer", "i < n - 1?", True), ("outer", "i &lt; n - 1 ?", True), ("outer", "判断 i < n-1", True),
        ("outer", "i ＜ n－1", True), ("outer", "i #lt; n-1", True), ("outer", "i < len(arr) - 1", True),
        ("outer", "i ≤ n - 2", True), ("outer", "I < N-1", True), ("outer", "j < n - i - 1", False),
        ("outer", "i < n", False), ("outer", "i < n - 10", False), ("outer", "i = 0", False),
        ("inner", "j < n - i - 1", True), ("inner", "j<n-1-i", True), ("inner", "j < len(arr) - i - 1", True),
        ("inner", "j #lt; n-i-1 ?", True), ("inner", "i < n - 1", False), ("inner", "j < n - 1", False),
        ("compare", "arr#91;j#93; #gt; arr#91;j+1#93;", True), ("compare", "arr[j] &gt; arr[j + 1]?", True),
        ("compare", "arr[j] < arr[j+1]", False), ("swap", "交换 arr[j] 和 arr[j+1]", True),
        ("swap", "Swap(arr[j], arr[j+1])", True), ("swap", "arr[j], arr[j + 1] = arr[j + 1], arr[j]", True),
        ("swap", "j += 1", False), ("swap", "swapped", False),
    ],
)
def test_the_seed_matchers(name: str, label: str, matches: bool) -> None:
    answer = fenced(f'flowchart TD\n    A["{label}"] --> B\n')
    assert CHECKER.check({"nodes": [BUBBLE_SPEC["nodes"][name]], "parser": "builtin"}, answer).passed is matches


# -- the spec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ("flowchart", (), "takes a mapping"),
        ({"node": ["A"]}, ("node",), "unknown key"),
        ({"kind": "sequence"}, ("kind",), "flowchart"),
        ({"direction": "up"}, ("direction",), "TB, TD"),
        ({"nodes": []}, ("nodes",), "non-empty list"),
        ({"nodes": ["  "]}, ("nodes", 0), "empty once whitespace"),
        ({"nodes": [{"regex": "("}]}, ("nodes", 0, "regex"), "invalid regular expression"),
        ({"nodes": [3]}, ("nodes", 0), "label matcher"),
        ({"nodes": {"a": []}}, ("nodes", "a"), "empty list of alternatives"),
        ({"edges": [{"from": "a"}]}, ("edges", 0), "'from', 'to'"),
        ({"edges": [{"from": "a", "to": "b", "via": "c"}]}, ("edges", 0, "via"), "unknown edge key"),
        ({"cycles": [{"avoiding": ["a"]}]}, ("cycles", 0), "needs 'through'"),
        ({"cycles": [[]]}, ("cycles", 0), "at least one node"),
        ({"end": False}, ("end",), "takes true or a label matcher"),
        ({"parser": "node"}, ("parser",), "auto, mermaid, builtin"),
    ],
)
def test_bad_specs_are_rejected_with_a_path(spec: object, path: tuple, words: str) -> None:
    with pytest.raises(SpecError) as info:
        CHECKER.parse(spec)
    assert info.value.path == path
    assert words in info.value.message


def test_an_empty_spec_asserts_that_a_flowchart_parses() -> None:
    CHECKER.parse({})
    assert CHECKER.check({"parser": "builtin"}, fenced("flowchart LR\n    A --> B\n")).found.startswith("the flowchart parsed")
    assert not CHECKER.check({"parser": "builtin"}, fenced("flowchart LR\n    A --> end\n")).passed


# -- which parser judges --------------------------------------------------------------------


def fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """Put a fake node on PATH and a fake mermaid install where the checker looks."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = bin_dir / "node"
    node.write_text(f"#!/bin/sh\n{script}\n")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    install = tmp_path / "mermaid"
    (install / "node_modules" / "mermaid").mkdir(parents=True)
    (install / "node_modules" / "dompurify").mkdir()
    (install / "node_modules" / "mermaid" / "package.json").write_text('{"version": "11.0.0"}')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv(bridge.DIR_ENV, str(install))


def test_without_mermaid_auto_uses_the_builtin_parser_and_says_why(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bridge.DIR_ENV, str(tmp_path / "empty"))
    verdict = CHECKER.check({}, fenced("flowchart LR\n    A --> B\n"))
    assert verdict.passed
    assert verdict.details["parser"] == "the built-in parser"
    assert "not installed" in verdict.found


def test_a_required_mermaid_that_is_missing_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bridge.DIR_ENV, str(tmp_path / "empty"))
    for spec in ({"parser": "mermaid"}, {}):
        if not spec:
            monkeypatch.setenv(mermaid.PARSER_ENV, "mermaid")
        verdict = CHECKER.check(spec, fenced("flowchart LR\n    A --> B\n"))
        assert verdict.error and not verdict.passed
        assert bridge.INSTALL_COMMAND in verdict.why


def test_the_spec_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bridge.DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv(mermaid.PARSER_ENV, "mermaid")
    assert CHECKER.check({"parser": "builtin"}, fenced("flowchart LR\n    A --> B\n")).passed


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("echo 'SyntaxError: bad' >&2; exit 1", "node failed: SyntaxError: bad"),
        ("cat >/dev/null; echo '{\"setup\": \"Cannot find package mermaid\"}'",
         "mermaid could not be loaded: Cannot find package mermaid"),
        ("exec sleep 30", "node did not finish parsing within 0.5 s"),
    ],
)
def test_a_node_that_fails_falls_back_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                script: str, reason: str) -> None:
    fake_node(tmp_path, monkeypatch, script)
    monkeypatch.setattr(bridge, "NODE_TIMEOUT", 0.5)
    fallback = CHECKER.check({}, fenced("flowchart LR\n    A --> B\n"))
    assert fallback.passed and fallback.details["parser"] == "the built-in parser"
    assert reason in fallback.found
    required = CHECKER.check({"parser": "mermaid"}, fenced("flowchart LR\n    A --> B\n"))
    assert required.error and reason in required.found


def test_the_real_parsers_answer_is_used_when_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = {"results": [{"type": "flowchart-v2", "direction": "LR", "nodes": [["A", "from mermaid", None]],
                          "edges": [], "subgraphs": []}]}
    fake_node(tmp_path, monkeypatch, f"cat >/dev/null; echo '{json.dumps(reply)}'")
    verdict = CHECKER.check({"nodes": ["from mermaid"]}, fenced("flowchart LR\n    A --> B\n"))
    assert verdict.passed, verdict.explain()
    assert verdict.details["parser"] == "mermaid 11.0.0"


# -- properties -----------------------------------------------------------------------------

BUBBLE_NODES = {
    "start": ("开始", "([", "])"), "init": ("i = 0", "[", "]"), "outer": ("i < n - 1 ?", "{", "}"),
    "j0": ("j = 0", "[", "]"), "inner": ("j < n - i - 1 ?", "{", "}"),
    "cmp": ('"arr[j] > arr[j + 1] ?"', "{", "}"), "swap": ("交换", "[", "]"), "incj": ("j += 1", "[", "]"),
    "inci": ("i += 1", "[", "]"), "done": ("结束", "([", "])"),
}
BUBBLE_EDGES = [("start", "init", ""), ("init", "outer", ""), ("outer", "j0", "是"), ("j0", "inner", ""),
                ("inner", "cmp", "是"), ("cmp", "swap", "是"), ("cmp", "incj", "否"), ("swap", "incj", ""),
                ("incj", "inner", ""), ("inner", "inci", "否"), ("inci", "outer", ""), ("outer", "done", "否")]
KEYWORDS = {"end", "graph", "flowchart", "subgraph", "style", "linkStyle", "interpolate", "classDef", "class",
            "click", "call", "href", "default", "v"}
node_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in KEYWORDS)


def render(ids: dict[str, str], edges: list[tuple[str, str, str]], order: list[int]) -> str:
    node_lines = [f"    {ids[name]}{open_}{label}{close}" for name, (label, open_, close) in BUBBLE_NODES.items()]
    edge_lines = [f"    {ids[a]} -->{f'|{label}|' if label else ''} {ids[b]}" for a, b, label in edges]
    lines = node_lines + edge_lines
    return fenced("flowchart TD\n" + "\n".join(lines[i] for i in order) + "\n")


def outcome(verdict: Verdict) -> tuple[bool, list[str]]:
    return verdict.passed, [f["label"] for f in verdict.details.get("failed", [])]


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(node_ids, min_size=len(BUBBLE_NODES), max_size=len(BUBBLE_NODES), unique=True),
    order=st.permutations(range(len(BUBBLE_NODES) + len(BUBBLE_EDGES))),
    dropped=st.sampled_from([None, 8, 10, 5]),
)
def test_renaming_ids_and_reordering_lines_keeps_the_verdict(names: list[str], order: list[int],
                                                              dropped: int | None) -> None:
    edges = [e for i, e in enumerate(BUBBLE_EDGES) if i != dropped]
    if dropped is not None:
        cut = len(BUBBLE_NODES) + dropped
        order = [i - (i > cut) for i in order if i != cut]
    plain_ids = {name: name for name in BUBBLE_NODES}
    straight = list(range(len(BUBBLE_NODES) + len(edges)))
    spec = {**BUBBLE_SPEC, "parser": "builtin"}
    expected = outcome(CHECKER.check(spec, render(plain_ids, edges, straight)))
    assert expected[0] is (dropped is None)
    renamed = dict(zip(BUBBLE_NODES, names, strict=True))
    assert outcome(CHECKER.check(spec, render(renamed, edges, order))) == expected


@settings(max_examples=40, deadline=None)
@given(spaces=st.lists(st.sampled_from(["", " ", "  ", "\u3000"]), min_size=6, max_size=6),
       full_width=st.booleans())
def test_spacing_and_width_inside_labels_do_not_matter(spaces: list[str], full_width: bool) -> None:
    lt, gt = ("＜", "＞") if full_width else ("<", ">")
    a, b, c, d, e, f = spaces
    diagram = TD_CHINESE.replace("{i < n - 1 ?}", f'{{"{a}i{b}{lt}{c}n{d}-{e}1{f}?"}}').replace(
        '"arr[j] > arr[j + 1] ?"', f'"arr[j]{a}{gt}{b}arr[j{c}+{d}1]"')
    assert CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, diagram).passed


MERMAIDISH = st.lists(st.sampled_from([*'AB1 -->=.[](){}|"\n;&%#:oxv', "判断", "end", "subgraph ", "#lt;", "@{"]),
                      max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(body=MERMAIDISH, header=st.sampled_from(["flowchart TD\n", "graph LR\n", "graph\n", "flowchart td\n"]))
def test_the_builtin_parser_either_parses_or_points_into_the_diagram(body: str, header: str) -> None:
    source = clean(header + body)
    try:
        chart = parse_builtin(source)
    except MermaidSyntaxError as exc:
        lines = (source + "\n").split("\n")
        if exc.line is not None:
            assert 1 <= exc.line <= len(lines)
            assert exc.column is None or 1 <= exc.column <= len(lines[exc.line - 1]) + 1
    else:
        assert all(e.source in chart.nodes and e.target in chart.nodes for e in chart.edges)


@settings(max_examples=100, deadline=None)
@given(answer=st.text(max_size=200))
def test_any_answer_gets_a_verdict(answer: str) -> None:
    verdict = CHECKER.check({**BUBBLE_SPEC, "parser": "builtin"}, answer)
    assert isinstance(verdict, Verdict) and not verdict.error


# -- mermaid itself ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_parser() -> bridge.RealParser:
    """mermaid under node; missing, it skips, or fails when GPTOSS_MERMAID_PARSER=mermaid says it is expected."""
    found = bridge.find_real_parser()
    if found is not None:
        return found
    message = f"mermaid is not installed in {bridge.mermaid_directory()}; install it with: {bridge.INSTALL_COMMAND}"
    if os.environ.get(mermaid.PARSER_ENV) == "mermaid":
        pytest.fail(f"{mermaid.PARSER_ENV}=mermaid but {message}")
    pytest.skip(f"{message} (set {mermaid.PARSER_ENV}=mermaid to make its absence an error)")


def random_flowchart(rng: random.Random) -> str:
    ids = ["A", "B", "C1", "n_2", "End", "开始", "a-b", "a.b", "1", "oA", "xB", "v", "end", "default"]
    label_parts = ["i", " ", "<", ">", "=", "n-1", "判断", "＜", "&lt;", "#lt;", "#91;", "<br/>", "(", ")", "[",
                   "]", "|", '"', "?", ";", ":", "&", "#"]
    shapes = [("[", "]"), ("(", ")"), ("{", "}"), ("((", "))"), ("[[", "]]"), (">", "]"), ("[/", "/]"),
              ("{{", "}}"), ("([", "])"), ("", "")]
    links = ["-->", "---", "-.->", "==>", "<-->", "--o", "--x", "~~~", "->", "==", "--"]

    def vertex() -> str:
        open_, close = rng.choice(shapes)
        label = "".join(rng.choice(label_parts) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.4:
            label = '"' + label.replace('"', "") + '"'
        return rng.choice(ids) + (open_ + label + close if open_ else "")

    def link() -> str:
        arrow = rng.choice(links)
        roll = rng.random()
        if roll < 0.2:
            return f" {arrow}|{rng.choice(['是', 'Yes', 'x(y)', ''])}| "
        if roll < 0.3:
            return f" -- {rng.choice(['是', 'no', 'a-b', 'x(y)'])} {arrow} "
        return rng.choice(["", " "]) + arrow + rng.choice(["", " "])

    lines = []
    for _ in range(rng.randint(1, 5)):
        parts = [vertex()]
        for _ in range(rng.randint(0, 2)):
            parts += [link(), vertex()] if rng.random() < 0.85 else [" & ", vertex()]
        lines.append("    " + "".join(parts) + rng.choice(["", ";", " ", " %% c"]))
    if rng.random() < 0.2:
        lines.insert(rng.randrange(len(lines)), rng.choice(["subgraph s [t]", "style A fill:#f9f", "%% note"]))
        lines.append("end" if lines[0].startswith("subgraph") else "    class A k")
    return rng.choice(["flowchart TD", "graph LR", "graph", "flowchart BT;"]) + "\n" + "\n".join(lines)


def described(source: str, result: dict) -> tuple:
    try:
        chart = bridge.from_real(result, source)
    except MermaidSyntaxError as exc:
        return ("error", exc.line, exc.column)
    return ("chart", chart.direction, list(chart.nodes.values()), list(chart.edges))


def builtin_described(source: str) -> tuple:
    try:
        chart = parse_builtin(source)
    except MermaidSyntaxError as exc:
        return ("error", exc.line, exc.column)
    return ("chart", chart.direction, list(chart.nodes.values()), list(chart.edges))


def test_the_builtin_parser_agrees_with_mermaid(real_parser: bridge.RealParser) -> None:
    rng = random.Random(20240601)
    answers = [c[1] for c in CORRECT] + [o[1] for o in OMISSIONS] + [SMALL]
    sources = [clean(find_diagram(a).source) for a in answers]  # type: ignore[union-attr]
    sources += [clean(e[1]) for e in SYNTAX_ERRORS]
    sources += [clean(random_flowchart(rng)) for _ in range(300)]
    results = bridge.run_real_parser(real_parser, sources)
    disagreements = []
    for source, result in zip(sources, results, strict=True):
        real, ours = described(source, result), builtin_described(source)
        # mermaid gives no position for some errors (a bare subgraph, a bad linkStyle index)
        if real[0] == ours[0] == "error" and real[1] is None:
            continue
        if real != ours:
            disagreements.append((source, real, ours))
    assert not disagreements, "\n".join(f"{s!r}\n  mermaid: {r}\n  builtin: {o}" for s, r, o in disagreements[:5])
    accepted = sum(1 for r in results if "error" not in r)
    assert 30 < accepted < len(sources) - 30


def test_check_with_mermaid_itself(real_parser: bridge.RealParser) -> None:
    spec = {**BUBBLE_SPEC, "parser": "mermaid"}
    passed = CHECKER.check(spec, TD_CHINESE)
    assert passed.passed, passed.explain()
    assert passed.details["parser"] == f"mermaid {real_parser.version}"
    omission = CHECKER.check(spec, OMISSIONS[0][1])
    assert [f["label"] for f in omission.details["failed"]] == [
        "loop through inner, compare, swap avoiding outer"]
    broken = CHECKER.check(spec, fenced(SYNTAX_ERRORS[0][1]))
    assert broken.found.startswith("Parse error on line 2, column 24: Expecting 'SQE'")
    assert "got 'PS'" in broken.found
    assert "B[n = len»(«arr)]" in broken.where
