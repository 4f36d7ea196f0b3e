"""``cases/tools.yaml``: each reference proven, each case's tools answering a right and a wrong exchange live,
and the recorded exchanges replaying to exactly their labelled outcomes, with and without xdist."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from scripted_model import by_turn, install
from shipped_runs import untimed
from test_references import suite_case
from tool_exchanges import CITY_TOTALS, CORRECT, WRONG

from pytest_gptoss.cases import load_file
from pytest_gptoss.tools.answer import answer

REPO = Path(__file__).resolve().parent.parent
TOOL_CASES = REPO / "cases" / "tools.yaml"
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
CASE_IDS = list(CORRECT)


def toolbox(case_id: str) -> Any:
    (case,) = [case for case in load_file(TOOL_CASES) if case.id == case_id]
    assert case.toolbox is not None
    return case.toolbox


def tool_answer(case_id: str, name: str, arguments: dict[str, Any]) -> Any:
    given = answer({"recipient": f"functions.{name}", "arguments": json.dumps(arguments)}, toolbox(case_id))
    assert given.error is None, given.error
    return json.loads(given.content)


def seed_database() -> sqlite3.Connection:
    """The seed's orders and customers tables, built from the seed case's own setup (cases/sql.yaml)."""
    setup = suite_case("sql-city-totals")["check"]["sql"]["setup"]
    db = sqlite3.connect(":memory:")
    db.executescript(re.sub(r"(?m)^\s*--.*$", "", setup))
    return db


def test_every_case_of_the_file_has_a_right_and_a_wrong_exchange() -> None:
    assert [case.id for case in load_file(TOOL_CASES)] == CASE_IDS == list(WRONG)


# --- the references ----------------------------------------------------------------------------


def test_unit_conversion_the_factor_is_the_mile_and_the_answer_rounds_to_42_16() -> None:
    factor = tool_answer("tool-unit-conversion", "unit_factor", {"unit": "mile"})["km"]
    assert factor == 1.609344  # the international mile, exactly 1609.344 m
    assert round(26.2 * factor, 2) == suite_case("tool-unit-conversion")["check"][0]["numeric"]["answer"] == 42.16


def test_sql_tool_holds_the_seed_tables_and_the_seed_reference_gives_beijing_10150() -> None:
    seed = seed_database()
    reference = suite_case("sql-city-totals")["check"]["sql"]["reference"]
    expected = [list(row) for row in seed.execute(reference)]
    assert expected[0] == ["北京", 10150]  # 2 × 5000 + 3 × 50
    for table in ("customers", "orders"):
        rows = tool_answer("tool-sql-city-totals", "run_sql", {"query": f"SELECT * FROM {table} ORDER BY 1"})["rows"]
        assert rows == [list(row) for row in seed.execute(f"SELECT * FROM {table} ORDER BY 1")]
    assert tool_answer("tool-sql-city-totals", "run_sql", {"query": CITY_TOTALS})["rows"] == expected
    check = suite_case("tool-sql-city-totals")["check"]
    assert check[0]["numeric"] == expected[0][1] and check[1]["text"]["contains"] == [expected[0][0]]


def test_sql_tool_is_read_only_and_answers_a_bad_query_with_its_error() -> None:
    refused = tool_answer("tool-sql-city-totals", "run_sql", {"query": "DELETE FROM orders"})
    assert "readonly" in refused["error"] or "read-only" in refused["error"]
    assert "no such table" in tool_answer("tool-sql-city-totals", "run_sql", {"query": "SELECT * FROM x"})["error"]


def test_prime_sum_by_trial_division() -> None:
    primes = [n for n in range(2, 100000) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
    assert sum(primes) == suite_case("tool-python-prime-sum")["check"][0]["numeric"] == 454396537


def test_chain_the_tools_agree_with_the_seed_tables_and_xiaoming_ordered_5_items() -> None:
    seed = seed_database()
    for customer_id, name, city in seed.execute("SELECT customer_id, customer_name, city FROM customers"):
        assert tool_answer("tool-chain-customer-orders", "find_customer", {"name": name}) == \
            {"customer_id": customer_id, "city": city}
        orders = tool_answer("tool-chain-customer-orders", "customer_orders", {"customer_id": customer_id})
        assert [[o["order_id"], o["product_name"], o["quantity"], o["unit_price"]] for o in orders] == [
            list(row) for row in seed.execute("SELECT order_id, product_name, quantity, unit_price FROM orders "
                                              "WHERE customer_id = ? ORDER BY order_id", (customer_id,))]
    (total,) = seed.execute("SELECT SUM(quantity) FROM orders JOIN customers USING (customer_id) "
                            "WHERE customer_name = '小明'").fetchone()
    assert total == suite_case("tool-chain-customer-orders")["check"][0]["numeric"] == 5


def test_not_needed_is_plain_arithmetic() -> None:
    assert 12 * 12 == suite_case("tool-not-needed")["check"][0]["numeric"]


# --- live exchanges and their recordings ----------------------------------------------------------


def dispatch(exchanges: dict[str, tuple[str, ...]]) -> Any:
    """A script that plays each case's exchange, telling the cases apart by their prompts' first lines."""
    firsts = {case_id: suite_case(case_id)["prompt"].splitlines()[0] for case_id in exchanges}

    def script(prompt: str) -> str:
        (case_id,) = [case_id for case_id, first in firsts.items() if first in prompt]
        return by_turn(*exchanges[case_id])(prompt)

    return script


@pytest.mark.parametrize("label", ["correct", "wrong"])
def test_a_live_exchange_gives_its_outcome_and_the_recording_in_the_repository(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, label: str) -> None:
    exchanges = CORRECT if label == "correct" else WRONG
    install(monkeypatch, dispatch(exchanges))
    shutil.copy(TOOL_CASES, pytester.mkdir("cases") / "tools.yaml")
    result = pytester.runpytest("--gptoss-model=tiny", "--gptoss-record=t.jsonl", "-p", "no:cacheprovider", "-rA")
    outcome = {"passed": len(exchanges)} if label == "correct" else {"failed": len(exchanges)}
    result.assert_outcomes(**outcome)
    recorded = sorted((json.loads(line) for line in (pytester.path / "t.jsonl").read_text().splitlines()),
                      key=lambda line: CASE_IDS.index(line["case"]))
    committed = [json.loads(line) for line in (TRANSCRIPTS / f"tools-{label}.jsonl").read_text().splitlines()]
    assert [untimed(line) for line in recorded] == [untimed(line) for line in committed]


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
@pytest.mark.parametrize("label", ["correct", "wrong"])
def test_replay_of_a_recorded_exchange_gives_exactly_its_labelled_outcome(
        pytester: pytest.Pytester, label: str, xdist: tuple[str, ...]) -> None:
    shutil.copy(TOOL_CASES, pytester.mkdir("cases") / "tools.yaml")
    result = pytester.runpytest(f"--gptoss-replay={TRANSCRIPTS / f'tools-{label}.jsonl'}", "-rA", *xdist)
    status = "PASSED" if label == "correct" else "FAILED"
    result.assert_outcomes(**{status.lower(): len(CASE_IDS)})
    for case_id in CASE_IDS:
        result.stdout.fnmatch_lines([f"{status} cases/tools.yaml::{case_id}[[]tiny-medium[]]*"])
