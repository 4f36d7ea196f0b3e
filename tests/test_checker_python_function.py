"""The ``python_function`` checker: strategies, generated inputs, shrinking, and verdicts from real sandboxed runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verdicts import assert_passes

from pytest_gptoss.checkers import python_function as pf
from pytest_gptoss.checkers.python_function.strategies import generate, parse_strategy, size
from pytest_gptoss.verdict import SpecError, Verdict

# The seed article's code-understanding question, verbatim.
MYSTERY = """\
def mystery(n):
    if n <= 1:
        return n
    a, b = 0, 1
    for _ in range(2, n + 1):
        a, b = b, a + b
    return b
"""
SPEC = {
    "function": "mystery",
    "reference": MYSTERY,
    "strategy": {"args": [{"integers": {"min_value": 0, "max_value": 30}}]},
    "examples": [[10]],
    "timeout": 5,
    "memory_mb": 256,
}


def fenced(source: str, tag: str = "python") -> str:
    return f"```{tag}\n{textwrap.dedent(source).strip()}\n```"


def judge(answer: str, **spec) -> Verdict:
    verdict = pf.CHECKER.check({**SPEC, **spec}, answer)
    assert verdict.checker == "python_function"
    return verdict


def assert_fails(verdict: Verdict, found: str = "", why: str = "") -> None:
    assert not verdict.passed and not verdict.error, verdict.explain()
    assert found in verdict.found, verdict.explain()
    assert why in verdict.why, verdict.explain()


# --- spec -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        SPEC,
        {"function": "f", "reference": "def g(x): return x", "reference_name": "g", "examples": [[1], [2]]},
        {"function": "f", "reference": "f = len", "strategy": {"args": ["text"]}, "max_examples": 5},
        {"function": "f", "reference": "def f(*a): return a", "strategy": {"args": [
            {"floats": {"min_value": -1, "max_value": 1.5}},
            {"lists": {"of": {"tuples": ["booleans", {"sampled_from": [1, "a", None]}]}, "max_size": 3}},
            {"text": {"alphabet": "ab", "min_size": 1, "max_size": 4}},
            {"booleans": None},
        ]}},
    ],
)
def test_valid_specs(spec):
    pf.CHECKER.parse(spec)


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ("mystery", (), "mapping"),
        ({"reference": MYSTERY, "examples": [[1]]}, (), "'function' is required"),
        ({**SPEC, "function": "my function"}, ("function",), "identifier"),
        ({**SPEC, "reference": "def mystery(n) return n"}, ("reference",), "does not parse"),
        ({**SPEC, "reference": "def fib(n): return n"}, ("reference",), "does not define mystery"),
        ({**SPEC, "seed": 1}, ("seed",), "unknown key 'seed'"),
        ({**SPEC, "strategy": [{"integers": {}}]}, ("strategy",), "takes a mapping"),
        ({**SPEC, "strategy": {"args": ["ints"]}}, ("strategy", "args", 0), "unknown strategy 'ints'"),
        ({**SPEC, "strategy": {"args": [{"integers": {"min": 0}}]}}, ("strategy", "args", 0, "integers", "min"),
         "unknown parameter 'min'"),
        ({**SPEC, "strategy": {"args": [{"integers": {"min_value": 1.5}}]}},
         ("strategy", "args", 0, "integers", "min_value"), "type int"),
        ({**SPEC, "strategy": {"args": [{"integers": {"min_value": 5, "max_value": 1}}]}},
         ("strategy", "args", 0, "integers"), "lower bound 5 is above the upper bound 1"),
        ({**SPEC, "strategy": {"args": [{"lists": {"max_size": 3}}]}}, ("strategy", "args", 0, "lists"), "'of'"),
        ({**SPEC, "strategy": {"args": [{"lists": {"of": "floats", "min_size": -1}}]}},
         ("strategy", "args", 0, "lists", "min_size"), "negative"),
        ({**SPEC, "strategy": {"args": [{"sampled_from": []}]}}, ("strategy", "args", 0, "sampled_from"), "non-empty"),
        ({**SPEC, "strategy": {"args": [{"text": {"alphabet": ""}}]}}, ("strategy", "args", 0, "text", "alphabet"),
         "empty"),
        ({**SPEC, "strategy": {"args": [{"booleans": {}, "text": {}}]}}, ("strategy", "args", 0), "one key"),
        ({**SPEC, "examples": [10]}, ("examples", 0), "list of arguments"),
        ({**SPEC, "examples": [[{1, 2}]]}, ("examples", 0, 0), "not set"),
        ({**SPEC, "max_examples": -1}, ("max_examples",), "from 0"),
        ({"function": "mystery", "reference": MYSTERY}, (), "nothing to try"),
        ({"function": "mystery", "reference": MYSTERY, "strategy": {"args": []}, "max_examples": 0}, (),
         "nothing to try"),
        ({**SPEC, "timeout": 0}, ("timeout",), "above 0"),
        ({**SPEC, "memory_mb": 16}, ("memory_mb",), "at least 32"),
    ],
)
def test_invalid_specs_name_the_field(spec, path, message):
    with pytest.raises(SpecError, match=message) as info:
        pf.CHECKER.parse(spec)
    assert info.value.path == path


def test_hypothesis_is_imported_on_first_use_only():
    code = ("import sys, pytest_gptoss.checkers.python_function as pf; "
            "pf.CHECKER.parse({'function': 'f', 'reference': 'def f(xs): return xs', "
            "'strategy': {'args': [{'lists': {'of': 'integers'}}]}}); "
            "assert 'hypothesis' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- generating and shrinking inputs -------------------------------------------------------


def test_generated_inputs_are_distinct_deterministic_and_in_bounds():
    strategies = [parse_strategy({"integers": {"min_value": 0, "max_value": 30}})]
    first = generate(strategies, 100)
    assert first == generate(strategies, 100)
    assert sorted(first) == [(n,) for n in range(31)]  # a small space is covered whole


def test_structured_strategies_produce_the_declared_shapes():
    strategies = [
        parse_strategy({"lists": {"of": {"tuples": ["booleans", {"sampled_from": ["x", "y"]}]}, "max_size": 3}}),
        parse_strategy({"text": {"alphabet": "ab", "min_size": 1, "max_size": 4}}),
        parse_strategy({"floats": {"min_value": -1, "max_value": 1}}),
    ]
    inputs = generate(strategies, 50)
    assert len(inputs) > 10
    for pairs, word, number in inputs:
        assert isinstance(pairs, list) and len(pairs) <= 3
        assert all(isinstance(p, tuple) and isinstance(p[0], bool) and p[1] in ("x", "y") for p in pairs)
        assert 1 <= len(word) <= 4 and set(word) <= {"a", "b"}
        assert isinstance(number, float) and -1 <= number <= 1


@given(st.data())
def test_integer_shrinks_stay_in_bounds_and_get_simpler(data):
    low = data.draw(st.none() | st.integers(-1000, 1000))
    high = data.draw(st.none() | st.integers(low if low is not None else -1000, 1000))
    value = data.draw(st.integers(low, high))
    bounds = {k: v for k, v in (("min_value", low), ("max_value", high)) if v is not None}
    strategy = parse_strategy({"integers": bounds})
    for simpler in strategy.shrinks(value):
        assert (low is None or simpler >= low) and (high is None or simpler <= high)
        assert size([simpler]) < size([value]) or abs(simpler) < abs(value)


@given(st.data())
def test_list_shrinks_keep_size_and_uniqueness_rules(data):
    min_size = data.draw(st.integers(0, 3))
    unique = data.draw(st.booleans())
    value = data.draw(st.lists(st.integers(-20, 20), min_size=min_size, max_size=8, unique=unique))
    strategy = parse_strategy({"lists": {"of": {"integers": {"min_value": -20, "max_value": 20}},
                                         "min_size": min_size, "unique": unique}})
    shrinks = list(strategy.shrinks(value))
    for simpler in shrinks:
        assert len(simpler) >= min_size and simpler != value
        assert not unique or len(set(simpler)) == len(simpler)
        assert all(-20 <= x <= 20 for x in simpler)
    if len(value) > min_size:
        assert shrinks  # something shorter is always proposed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.nested_given])
@given(st.integers(-50, 50), st.integers(0, 40))
def test_generated_integers_respect_any_bounds(low, width):
    strategies = [parse_strategy({"integers": {"min_value": low, "max_value": low + width}})]
    inputs = generate(strategies, 20)
    assert inputs and all(low <= n <= low + width for (n,) in inputs)
    assert len(set(inputs)) == len(inputs)


# --- verdicts from real runs ------------------------------------------------------------

CORRECT = {
    "iterative": """
        def mystery(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a
    """,
    "recursive with memo": """
        from functools import lru_cache

        @lru_cache(maxsize=None)
        def mystery(n):
            return n if n < 2 else mystery(n - 1) + mystery(n - 2)
    """,
    "closed form returning floats": """
        def mystery(n):
            phi = (1 + 5 ** 0.5) / 2
            return float(round(phi ** n / 5 ** 0.5))
    """,
    "with a demo that reads stdin behind a main guard": """
        def mystery(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a

        print("mystery(10) =", mystery(10))
        if __name__ == "__main__":
            n = int(input())
            print(mystery(n))
    """,
}


@pytest.mark.parametrize("code", CORRECT.values(), ids=CORRECT.keys())
def test_a_correct_fibonacci_passes(code):
    verdict = judge("The function computes Fibonacci numbers:\n\n" + fenced(code))
    assert_passes(verdict)
    assert verdict.found == "all 31 results agree"
    assert verdict.details["inputs"] == 31 and verdict.details["agreed"] == 31


def test_the_block_that_defines_the_function_is_taken_over_a_later_usage_block():
    answer = fenced(CORRECT["iterative"]) + "\n\nUsage:\n\n" + fenced("print(mystery(10))  # 55")
    verdict = judge(answer)
    assert_passes(verdict)
    assert verdict.where.startswith("code block 1 of 2")


def test_an_off_by_one_fails_showing_the_input_and_both_results():
    off_by_one = """
        def mystery(n):
            a, b = 0, 1
            for _ in range(n - 1):
                a, b = b, a + b
            return a
    """
    verdict = judge(fenced(off_by_one))
    assert_fails(verdict, found="mystery(1) returned 0", why="the reference returns 1")
    assert "29 of 31 inputs disagree" in verdict.why  # mystery(0) and mystery(2) happen to agree
    assert verdict.details["call"] == "mystery(1)"
    assert verdict.details["expected"] == {"value": "1", "type": "int"}
    assert verdict.details["actual"] == {"value": "0", "type": "int"}


def test_an_exception_shows_with_its_message_at_the_smallest_failing_input():
    table = """
        FIB = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765]

        def mystery(n):
            return FIB[n]
    """
    verdict = judge(fenced(table))
    assert_fails(verdict, found="mystery(21) raised IndexError: list index out of range",
                 why="the reference returns 10946")


def test_an_infinite_loop_times_out_and_names_the_input():
    hangs = """
        def mystery(n):
            while n == 7:
                pass
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a
    """
    verdict = judge(fenced(hangs), examples=[[10], [7]], timeout=1)
    assert_fails(verdict, found="mystery(7) did not return: the run was stopped at the 1 s time limit",
                 why="stopped the run")
    assert verdict.details["call"] == "mystery(7)"


def test_a_failing_list_input_is_shrunk():
    spec = {
        "function": "dedupe",
        "reference": "def dedupe(xs):\n    return sorted(set(xs))\n",
        "strategy": {"args": [{"lists": {"of": {"integers": {"min_value": -50, "max_value": 50}}, "max_size": 12}}]},
        "timeout": 5,
    }
    forgets_the_last = """
        def dedupe(xs):
            out = sorted(set(xs))
            return out[:-1] if len(out) >= 4 else out
    """
    verdict = pf.CHECKER.check(spec, fenced(forgets_the_last))
    assert_fails(verdict, found="returned [0, 1, 2]", why="the reference returns [0, 1, 2, 3]")
    assert verdict.details["call"] == "dedupe([0, 1, 2, 3])"
    assert "shrunk from dedupe([" in verdict.why


def test_close_integers_are_not_equal_so_binets_formula_fails_from_71():
    binet = "def mystery(n):\n    return round(((1 + 5 ** 0.5) / 2) ** n / 5 ** 0.5)\n"
    assert_passes(judge(fenced(binet)))  # exact up to 30
    verdict = judge(fenced(binet), strategy={"args": [{"integers": {"min_value": 0, "max_value": 90}}]})
    assert_fails(verdict, found="mystery(71) returned 308061521170130", why="the reference returns 308061521170129")


def test_arguments_are_rebuilt_for_every_call_so_mutation_does_not_leak():
    spec = {"function": "ordered", "reference": "def ordered(xs):\n    return sorted(xs)\n",
            "strategy": {"args": [{"lists": {"of": "integers", "max_size": 6}}]}, "timeout": 5}
    sorts_in_place = "def ordered(xs):\n    xs.sort()\n    return xs\n"
    assert_passes(pf.CHECKER.check(spec, fenced(sorts_in_place)))


@pytest.mark.parametrize(
    ("reference", "answer", "passes", "found"),
    [
        ("def f(x): return x / 3", "def f(x): return x * (1 / 3)", True, ""),
        ("def f(x): return x > 0", "def f(x): return int(x > 0)", False, "f(0) returned 0"),
        ("def f(x): return [x, x]", "def f(x): return (x, x)", False, "f(0) returned (0, 0)"),
        ("def f(x): return float('nan') if x else 0.0", "def f(x): return float('nan') if x else 0", True, ""),
        ("def f(x):\n    if x < 0: raise ValueError('negative')\n    return x",
         "def f(x):\n    assert x >= 0\n    return x", False, "f(-1) raised AssertionError"),
        ("def f(x):\n    if x < 0: raise ValueError('negative')\n    return x",
         "def f(x):\n    if x < 0: raise ValueError('no')\n    return x", True, ""),
        ("def f(x): return str(x)", "def f(x): print(x); return str(x)", True, ""),
    ],
)
def test_how_results_are_compared(reference, answer, passes, found):
    spec = {"function": "f", "reference": reference, "examples": [[0], [1], [-1], [2]], "timeout": 5}
    verdict = pf.CHECKER.check(spec, fenced(answer))
    assert verdict.passed is passes and not verdict.error, verdict.explain()
    assert found in verdict.found


def test_a_reference_that_raises_makes_the_answer_raise_too():
    spec = {"function": "mystery", "reference": MYSTERY + "\n    raise RuntimeError('unreachable')\n",
            "examples": [[3]], "timeout": 5}
    assert_passes(pf.CHECKER.check(spec, fenced(CORRECT["iterative"])))  # the extra line is never reached


@pytest.mark.parametrize(
    ("answer", "found", "why"),
    [
        ("It computes the Fibonacci sequence; mystery(10) is 55.", "It computes the Fibonacci sequence",
         "no Python code in the answer"),
        (fenced("def mystery(n) return n"), "code that does not parse", "syntax error"),
        (fenced("def fib(n):\n    return n"), "functions defined: fib", "does not define a function mystery"),
        (fenced("import numpy\n\ndef mystery(n):\n    return n"),
         "the code raised ModuleNotFoundError: No module named 'numpy'", "fails before mystery can be called"),
        (fenced("while True:\n    pass"), "the code did not return: the run was stopped at the 1 s time limit",
         "fails before mystery can be called"),
    ],
)
def test_answers_that_cannot_be_called_fail_and_say_why(answer, found, why):
    assert_fails(judge(answer, timeout=1), found=found, why=why)


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("import no_such_module\n\ndef mystery(n):\n    return n", "the reference fails when it runs"),
        ("def mystery(n):\n    while True:\n        pass", "the reference did not return"),
    ],
)
def test_a_reference_that_fails_is_an_error_not_a_failure(reference, why):
    verdict = judge(fenced(CORRECT["iterative"]), reference=reference, timeout=1)
    assert verdict.error and not verdict.passed, verdict.explain()
    assert why in verdict.why


def test_the_verdict_is_plain_data():
    verdict = judge(fenced("def mystery(n):\n    return n"))
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    assert "mystery(2) returned 2" in verdict.found and "the reference returns 1" in verdict.why
