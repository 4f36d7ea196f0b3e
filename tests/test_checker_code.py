"""The ``code`` checker: block extraction, output comparison, and verdicts from real runs."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from verdicts import judged, parsed

from pytest_gptoss import sandbox
from pytest_gptoss.checkers import code
from pytest_gptoss.verdict import SpecError, Verdict


def fenced(source: str, tag: str = "python") -> str:
    return f"```{tag}\n{textwrap.dedent(source).strip()}\n```"


# --- spec validation -----------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"stdout": "55"},
        {"stdout": 10000000, "match": "contains"},
        {"stdout": 55.0, "match": "lines", "stdin": "5\n", "timeout": 2.5, "memory_mb": 256},
        {"stdout": "ok", "language": "python", "no_imports_outside_stdlib": True},
    ],
)
def test_valid_specs(spec):
    code.CHECKER.parse(spec)


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ("55", (), "mapping"),
        ({}, (), "'stdout'"),
        ({"stdout": "1", "expect": "1"}, ("expect",), "unknown key 'expect'"),
        ({"stdout": True}, ("stdout",), "string or a number"),
        ({"stdout": ["1"]}, ("stdout",), "string or a number"),
        ({"stdout": "1", "match": "exact"}, ("match",), "lines, contains"),
        ({"stdout": " ", "match": "contains"}, ("stdout",), "non-empty"),
        ({"stdout": "1", "stdin": 5}, ("stdin",), "string"),
        ({"stdout": "1", "timeout": 0}, ("timeout",), "above 0"),
        ({"stdout": "1", "timeout": "10s"}, ("timeout",), "seconds"),
        ({"stdout": "1", "memory_mb": 8}, ("memory_mb",), "at least 32"),
        ({"stdout": "1", "memory_mb": 1.5}, ("memory_mb",), "whole number"),
        ({"stdout": "1", "language": "rust"}, ("language",), "python"),
        ({"stdout": "1", "no_imports_outside_stdlib": "yes"}, ("no_imports_outside_stdlib",), "true or false"),
    ],
)
def test_invalid_specs_name_the_field(spec, path, message):
    with pytest.raises(SpecError, match=message) as info:
        code.CHECKER.parse(spec)
    assert info.value.path == path


def test_registry_validates_and_runs_the_code_checker():
    with pytest.raises(SpecError) as info:
        parsed({"code": {"stdout": "1", "timeout": -1}})
    assert info.value.path == ("code", "timeout")
    verdict = judged({"code": {"stdout": 3}}, {"final": fenced("print(1 + 2)")})
    assert verdict.passed and verdict.checker == "code"


# --- choosing the code block ------------------------------------------------------

PROGRAM_THEN_OUTPUT = """\
Here is the program:

```python
print(6 * 7)
```

Output:

```
42
```
"""

TWO_PYTHON_BLOCKS = """\
A first try:
```python
print(1)
```
A better version:
```py
print(2)
```
"""

BROKEN_LAST_BLOCK = """\
```python
print("good")
```
```python
print("bad"
```
"""

UNTAGGED_BLOCKS = """\
```bash
python main.py
```
```
total = sum(range(5))
print(total)
```
```
10
```
"""

INDENTED_AND_TILDES = """\
1. Save this:

    ~~~python3
    for word in ["a", "b"]:
        print(word)
    ~~~
"""


@pytest.mark.parametrize(
    ("answer", "first_line", "index", "count", "language"),
    [
        (PROGRAM_THEN_OUTPUT, "print(6 * 7)", 1, 2, "python"),
        (TWO_PYTHON_BLOCKS, "print(2)", 2, 2, "py"),
        (BROKEN_LAST_BLOCK, 'print("good")', 1, 2, "python"),
        (UNTAGGED_BLOCKS, "total = sum(range(5))", 2, 3, ""),
        (INDENTED_AND_TILDES, 'for word in ["a", "b"]:', 1, 1, "python3"),
        ("```python\nprint('cut off'", "print('cut off'", 1, 1, "python"),
        ("import math\nprint(math.pi)\n", "import math", 0, 0, ""),
    ],
    ids=["program-then-output", "last-python", "last-that-parses", "untagged", "indented-tildes", "unclosed", "whole"],
)
def test_extract_code_choices(answer, first_line, index, count, language):
    block = code.extract_code(answer)
    assert block is not None
    assert block.code.strip().splitlines()[0] == first_line
    assert (block.index, block.count, block.language) == (index, count, language)


@pytest.mark.parametrize(
    "answer",
    ["The answer is 10000000.", "", "```bash\npython main.py\n```", "```text\nsee above\n```"],
)
def test_no_code_found(answer):
    assert code.extract_code(answer) is None
    verdict = code.CHECKER.check({"stdout": "1"}, answer)
    assert not verdict.passed and not verdict.error
    assert "no code block" in verdict.why


def test_extracted_block_is_dedented():
    block = code.extract_code(INDENTED_AND_TILDES)
    assert block.code.startswith("for word")


def test_only_python_block_with_syntax_error_is_reported_without_running():
    verdict = code.CHECKER.check({"stdout": "1"}, fenced("print(1"))
    assert not verdict.passed and not verdict.error
    assert verdict.why.startswith("syntax error: '(' was never closed")
    assert "returncode" not in verdict.details


def test_where_names_the_block_and_its_first_line():
    verdict = code.CHECKER.check({"stdout": 42}, PROGRAM_THEN_OUTPUT)
    assert verdict.passed
    block, isolation = verdict.where.splitlines()
    assert block == "code block 1 of 2 (```python, answer line 4); first line: 'print(6 * 7)'"
    assert isolation == f"sandbox {sandbox.describe_isolation(sandbox.isolation_modes()[0])}"
    assert verdict.details["cpu_seconds"] < 1 and verdict.details["seconds"] < 5


# --- comparing output (no sandbox) ---------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "found"),
    [
        ("55", "55\n"),
        ("55", "55.0"),
        ("55", "5.5e1"),
        ("0.1", "0.10"),
        ("a 1\nb 2", "a 1.0  \nb 2\n\n\n"),
        ("total: 2.50 USD", "total: 2.5 USD"),
        ("x", "x\r\n"),
    ],
)
def test_lines_that_match(expected, found):
    assert code.first_difference(expected, found) == ""


@pytest.mark.parametrize(
    ("expected", "found", "why"),
    [
        ("55", "56", "line 1 differs: expected '55', found '56'"),
        ("1\n2\n3", "1\n2", "the output stops after line 2; expected line 3: '3'"),
        ("1", "1\n2", "unexpected output from line 2: '2'"),
        ("1", "", "the program printed nothing"),
        ("a b", "a b c", "line 1 differs"),
        ("a b", "a  b", "line 1 differs"),
        ("1,000", "1000", "line 1 differs"),
        ("x = 2.50,", "x = 2.5,", "line 1 differs"),
        ("  indented", "indented", "line 1 differs"),
    ],
)
def test_lines_that_differ(expected, found, why):
    assert code.first_difference(expected, found).startswith(why)


lines_of_text = st.lists(st.text(alphabet="ab1. ", max_size=8).map(str.strip), max_size=6)


@given(lines=lines_of_text, trailing=st.lists(st.sampled_from([" ", "\t"]), max_size=3), blank=st.integers(0, 3))
def test_trailing_whitespace_and_blank_lines_never_matter(lines, trailing, blank):
    expected = "\n".join(lines)
    found = "\n".join(line + "".join(trailing) for line in lines) + "\n" * blank
    assert code.first_difference(expected, found) == ""


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3), st.sampled_from(["{}", "{:.5f}", "{:e}"]))
def test_reformatting_a_number_keeps_it_equal(number, form):
    assert code.first_difference(str(number), form.format(number)) == ""


@pytest.mark.parametrize(
    ("output", "found"),
    [
        ("179424673是第10000000个质数", True),
        ("179424673 is the 10000000th prime", True),
        ("It is prime number #10,000,000.", True),
        ("10000000.0", True),
        ("100000000", False),
        ("110000000", False),
        ("10000000.5", False),
        ("1000000", False),
        ("第100000000个", False),
    ],
)
def test_contains_matches_a_whole_number(output, found):
    verdict_why = code._missing_number(Decimal(10000000), output)
    assert (verdict_why == "") is found


@given(
    st.integers(min_value=1, max_value=10**12),
    st.text(alphabet="第个质数ab #:", max_size=5),
    st.text(alphabet="第个质数ab #:", max_size=5),
)
def test_a_number_is_found_between_words_but_not_inside_a_longer_number(number, before, after):
    assert Decimal(number) in code.numbers_in(f"{before}{number}{after}")
    assert Decimal(number) not in code.numbers_in(f"{before}{number}0{after}")
    assert Decimal(number) not in code.numbers_in(f"{before}1{number}{after}")


# --- imports outside the standard library ------------------------------------------------


def test_imports_outside_stdlib_are_listed_with_lines():
    source = textwrap.dedent(
        """
        import os, numpy as np
        from collections import Counter
        from sympy.ntheory import prime
        import importlib
        importlib.import_module("pandas")
        __import__("json")
        from . import helper
        """
    )
    found = code.imports_outside_stdlib(source)
    assert [(line, module) for line, _, module in found] == [
        (2, "numpy"),
        (4, "sympy.ntheory"),
        (6, "pandas"),
        (8, "."),
    ]


def test_stdlib_only_program_passes_the_import_rule():
    answer = fenced("import math, itertools\nfrom collections import deque\nprint(math.isqrt(49))")
    assert code.CHECKER.check({"stdout": 7, "no_imports_outside_stdlib": True}, answer).passed


def test_an_import_outside_stdlib_fails_without_running():
    answer = fenced("import numpy as np\nprint(7)")
    verdict = code.CHECKER.check({"stdout": 7, "no_imports_outside_stdlib": True}, answer)
    assert not verdict.passed and not verdict.error
    assert verdict.why == "imports outside the standard library: numpy (not run)"
    assert verdict.found == "line 1: import numpy"


def test_without_the_rule_a_third_party_import_fails_at_run_time():
    verdict = code.CHECKER.check({"stdout": 7}, fenced("import pytest\nprint(7)"))
    assert not verdict.passed
    assert verdict.why == "exit status 1: ModuleNotFoundError: No module named 'pytest'"


# --- verdicts from real runs ------------------------------------------------------------


def test_correct_program_passes():
    answer = "Sum of 1..10:\n" + fenced("print(sum(range(1, 11)))")
    verdict = code.CHECKER.check({"stdout": 55}, answer)
    assert verdict.passed, verdict.explain()
    assert verdict.found == "55"
    assert verdict.details["returncode"] == 0


def test_wrong_output_fails_with_the_first_differing_line():
    answer = fenced("for i in range(1, 6):\n    print(i * i if i != 4 else 15)")
    verdict = code.CHECKER.check({"stdout": "1\n4\n9\n16\n25\n"}, answer)
    assert not verdict.passed and not verdict.error
    assert verdict.why == "line 4 differs: expected '16', found '15'"


def test_stdin_reaches_the_program():
    answer = fenced("a, b = map(int, input().split())\nprint(a + b)")
    assert code.CHECKER.check({"stdout": 5, "stdin": "2 3\n"}, answer).passed


def test_a_program_reading_stdin_gets_eof():
    verdict = code.CHECKER.check({"stdout": 5}, fenced("print(input())"))
    assert verdict.why == "exit status 1: EOFError: EOF when reading a line"


def test_contains_match_on_a_real_run():
    answer = fenced('print("179424673是第10000000个质数")')
    assert code.CHECKER.check({"stdout": 10000000, "match": "contains"}, answer).passed
    wrong = code.CHECKER.check({"stdout": 1000000, "match": "contains"}, answer)
    assert not wrong.passed
    assert wrong.why.startswith("the number 1000000 does not appear in the output as a whole number")
    assert "(numbers printed: 179424673, 10000000)" in wrong.why


def test_contains_match_of_text():
    answer = fenced('print("Result:\\n  total = 3   \\ndone")')
    assert code.CHECKER.check({"stdout": "total = 3\ndone\n", "match": "contains"}, answer).passed
    verdict = code.CHECKER.check({"stdout": "total = 4", "match": "contains"}, answer)
    assert verdict.why == "'total = 4' does not appear in the output"


def test_exit_error_is_shown_with_stderr_tail():
    answer = fenced("print('before')\nprint(undefined_name)")
    verdict = code.CHECKER.check({"stdout": "before"}, answer)
    assert not verdict.passed and not verdict.error
    assert verdict.why == "exit status 1: NameError: name 'undefined_name' is not defined"
    assert verdict.found.startswith("before\nstderr (last lines):\n")
    assert 'File "main.py", line 2, in <module>' in verdict.found
    assert "_boot" not in verdict.found


def test_nonzero_exit_fails_even_with_the_right_output():
    verdict = code.CHECKER.check({"stdout": 1}, fenced("import sys\nprint(1)\nsys.exit(2)"))
    assert not verdict.passed and verdict.why == "exit status 2"


def test_a_program_that_waits_is_stopped_at_the_wall_clock_backstop():
    verdict = code.CHECKER.check({"stdout": 1, "timeout": 1}, fenced("import time\ntime.sleep(60)\nprint(1)"))
    assert not verdict.passed and not verdict.error
    assert re.fullmatch(r"ran past the wall-clock backstop of 3 s \(3 x its 1 s of CPU time; the program and "
                        r"everything it started were killed; CPU time unknown, \d+\.\d\d s wall\)", verdict.why), verdict.why
    assert verdict.details["killed_reason"] == "timeout"
    assert 3 <= verdict.details["seconds"] < 6


def test_cpu_time_over_the_timeout_fails_even_below_the_whole_second_limit():
    busy = "import time\nwhile time.process_time() < 0.7:\n    pass\nprint(1)"
    verdict = code.CHECKER.check({"stdout": 1, "timeout": 0.5}, fenced(busy))
    assert not verdict.passed
    assert re.fullmatch(r"used more than 0\.5 s of CPU time \(0\.[7-9]\d s CPU, \d+\.\d\d s wall\)", verdict.why), verdict.why
    assert verdict.details["cpu_seconds"] >= 0.7


@pytest.fixture
def saturated_machine():
    """Three busy processes per core, for as long as the test runs.

    Each in a session of its own, as the sandbox's is: the scheduler shares the CPU between sessions first.
    """
    import subprocess

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(3 * (os.cpu_count() or 1))]
    time.sleep(0.2)
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_on_a_saturated_machine_cpu_time_decides(saturated_machine):
    """The correct program needs more wall time than its CPU limit here, and passes; a brute force still fails."""
    needs_half_a_second = "import time\nwhile time.process_time() < 0.5:\n    pass\nprint(42)"
    verdict = code.CHECKER.check({"stdout": 42, "timeout": 1}, fenced(needs_half_a_second))
    assert verdict.passed, verdict.explain()
    assert verdict.details["seconds"] > 1, "the machine was not saturated"
    brute_force = code.CHECKER.check({"stdout": 42, "timeout": 1}, fenced("while True:\n    pass"))
    assert not brute_force.passed and not brute_force.error
    assert brute_force.details["killed_reason"] in ("cpu", "timeout")


def test_a_plain_sandbox_is_named_as_such_in_the_verdict(monkeypatch):
    monkeypatch.setattr(sandbox, "_configured", "plain")
    verdict = code.CHECKER.check({"stdout": 1}, fenced("print(1)"))
    assert verdict.passed
    assert verdict.details["isolation"] == "plain"
    assert "sandbox plain (no isolation: programs can read and write this machine's files" in verdict.where


def test_memory_exhaustion_is_explained():
    verdict = code.CHECKER.check({"stdout": 1, "memory_mb": 128}, fenced("x = bytearray(1 << 30)\nprint(1)"))
    assert not verdict.passed
    assert verdict.why == "ran out of memory (limit 128 MiB): MemoryError"


def test_a_crash_by_signal_is_explained():
    verdict = code.CHECKER.check({"stdout": 1}, fenced("import os, signal\nos.kill(os.getpid(), signal.SIGABRT)"))
    assert verdict.why == f"killed by signal {int(__import__('signal').SIGABRT)} (SIGABRT)"


def test_a_sandbox_that_cannot_start_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "missing-python"))
    verdict = code.CHECKER.check({"stdout": 1}, fenced("print(1)"))
    assert verdict.error and not verdict.passed
    assert verdict.why.startswith("the sandbox could not run the program: cannot start the sandbox")


def test_long_output_explains_itself_in_one_screen():
    answer = fenced("for i in range(10000):\n    print(i if i != 9000 else 'oops')")
    expected = "\n".join(str(i) for i in range(10000))
    verdict = code.CHECKER.check({"stdout": expected}, answer)
    assert verdict.why == "line 9001 differs: expected '9000', found 'oops'"
    assert len(verdict.explain().splitlines()) <= 45
    assert "... (9984 more lines) ..." in verdict.found


def test_verdict_is_plain_data():
    verdict = code.CHECKER.check({"stdout": 2}, fenced("print(1)"))
    assert Verdict.from_dict(verdict.to_dict()) == verdict


# --- the seed case: which prime is 179424673? -------------------------------------------

SEED_ANSWER = '''\
下面的程序用埃拉托斯特尼筛法，只用标准库：

```python
def prime_index(n):
    """n 是第几个质数；n 不是质数时返回 None。"""
    sieve = bytearray([1]) * (n + 1)
    sieve[0] = sieve[1] = 0
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, n + 1, i)))
    return sieve.count(1) if sieve[n] else None


n = 179424673
print(f"{n}是第{prime_index(n)}个质数")
```

运行结果：

```
179424673是第10000000个质数
```
'''

SLOW_ANSWER = """\
```python
def is_prime(k):
    if k < 2:
        return False
    d = 2
    while d * d <= k:
        if k % d == 0:
            return False
        d += 1
    return True

n = 179424673
print(sum(1 for k in range(2, n + 1) if is_prime(k)))
```
"""


def test_seed_sieve_program_finds_the_ten_millionth_prime():
    spec = {"stdout": 10000000, "match": "contains", "timeout": 120, "memory_mb": 2048,
            "no_imports_outside_stdlib": True}  # fmt: skip
    verdict = code.CHECKER.check(spec, SEED_ANSWER)
    assert verdict.passed, verdict.explain()
    assert verdict.found == "179424673是第10000000个质数"
    assert verdict.details["block"] == 1


def test_seed_with_lines_match_fails_on_the_sentence():
    spec = {"stdout": 10000000, "timeout": 120, "memory_mb": 2048}
    verdict = code.CHECKER.check(spec, SEED_ANSWER)
    assert not verdict.passed
    assert verdict.why == "line 1 differs: expected '10000000', found '179424673是第10000000个质数'"


def test_slow_trial_division_fails_at_the_cpu_limit():
    verdict = code.CHECKER.check({"stdout": 10000000, "match": "contains", "timeout": 2}, SLOW_ANSWER)
    assert not verdict.passed and not verdict.error
    assert verdict.why.startswith("used more than 2 s of CPU time and was killed ("), verdict.why
    assert verdict.details["cpu_seconds"] >= 1.9
    assert verdict.found == "(no output)"
