"""A case item's node id: built from its case, model and effort, and read back where it is all there is."""

from __future__ import annotations

import pytest

from pytest_gptoss.items import case_of, item_name


@pytest.mark.parametrize("model", ["20b", "candidate-2", "gpt-oss-20b-mxfp4.gguf", "low"])
@pytest.mark.parametrize("reasoning", ["low", "medium", "high"])
def test_a_node_id_reads_back_as_the_case_model_and_effort_it_was_made_of(model: str, reasoning: str) -> None:
    nodeid = f"cases/math.yaml::{item_name('bottle-exchange', model, reasoning)}"
    assert case_of(nodeid, ["tiny", model]) == {"case": "bottle-exchange", "model": model, "reasoning": reasoning}


@pytest.mark.parametrize("nodeid", [
    "cases/math.yaml::bottle-exchange[120b-medium]",  # a model of another run
    "cases/math.yaml::bottle-exchange",  # no model given
    "tests/test_x.py::test_y[20b-medium]",  # a test, not a case
    "bottle-exchange[20b-medium]",  # no file
])
def test_anything_else_is_no_case(nodeid: str) -> None:
    assert case_of(nodeid, ["20b"]) is None
