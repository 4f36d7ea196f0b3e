"""Replaying hand-written answers over the shipped suite gives exactly their labelled outcome.

``tests/transcripts/traps.jsonl`` holds answers written the way reasoning models
answer, each labelled ``expect: pass|fail`` with a ``note`` naming the trap it
sets. A case's transcripts would be its samples, so the file is replayed in
rounds: round k holds the k-th labelled answer of every case.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TRAPS = [json.loads(line) for line in (HERE / "transcripts" / "traps.jsonl").read_text().splitlines()]


def _rounds() -> list[list[dict]]:
    by_case: dict[str, list[dict]] = defaultdict(list)
    for trap in TRAPS:
        by_case[trap["case"]].append(trap)
    depth = max(len(traps) for traps in by_case.values())
    return [[traps[k] for traps in by_case.values() if k < len(traps)] for k in range(depth)]


def test_every_trap_is_labelled() -> None:
    assert all(trap["expect"] in ("pass", "fail") and trap["note"] for trap in TRAPS)
    labels = {(trap["case"], trap["expect"]) for trap in TRAPS}
    assert {label for _, label in labels} == {"pass", "fail"}


#: every round serially, and under -n 2 the fullest round whose programs all end well before their time limit
#: (round 0 holds a program that runs to the prime case's 30 s limit; once is enough)
ROUNDS = [*((index, ()) for index in range(len(_rounds()))), (1, ("-n", "2"))]


@pytest.mark.parametrize(("index", "xdist"), ROUNDS,
                         ids=[f"round{index}" + ("-xdist" if xdist else "") for index, xdist in ROUNDS])
def test_each_trap_gets_its_labelled_outcome(pytester: pytest.Pytester, index: int, xdist: tuple[str, ...]) -> None:
    shutil.copytree(HERE.parent / "cases", pytester.path / "cases")
    traps = _rounds()[index]
    pytester.path.joinpath("round.jsonl").write_text(
        "".join(json.dumps(trap, ensure_ascii=False) + "\n" for trap in traps)
    )
    result = pytester.runpytest("--gptoss-replay=round.jsonl", "-rA", *xdist)
    outcomes = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "ERROR"):
            if line.startswith(word + " ") and "::" in line:
                node = line.split()[1]
                outcomes[node.split("::")[1].split("[")[0]] = word
    expected = {trap["case"]: "PASSED" if trap["expect"] == "pass" else "FAILED" for trap in traps}
    wrong = {case: (outcomes.get(case), want, next(t["note"] for t in traps if t["case"] == case))
             for case, want in expected.items() if outcomes.get(case) != want}
    assert not wrong, wrong
