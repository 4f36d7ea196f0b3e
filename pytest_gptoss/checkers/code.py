"""The ``code`` checker: run the program in the answer and compare what it prints.

Spec keys:

``stdout`` (required)
    The expected output: a string, or a number.
``match``
    ``lines`` (default): the whole of stdout, line by line. Trailing
    whitespace on each line and trailing blank lines are ignored, other
    whitespace is kept; two whitespace-separated tokens that are both numbers
    are compared as Decimals, so ``55``, ``55.0`` and ``5.5e1`` are equal
    (``1,000`` is text, not a number, in this mode).
    ``contains``: the expected text appears somewhere in stdout. When the
    expected value is a number (a YAML number, or a string that is one
    number), it must appear as a whole number: ``10000000`` matches
    ``第10000000个质数``, ``10000000th`` and ``10,000,000``, but not
    ``100000000`` or ``10000000.5``.
``stdin``
    Text the program reads on stdin (default: none, reads get end-of-file).
``timeout``
    Seconds of CPU time the program may use (default 10). Wall-clock time is
    only a backstop, at three times that (``WALL_FACTOR``), so a correct
    program still passes on a busy machine while one that sleeps or waits is
    stopped. The verdict's details hold both (``cpu_seconds``, ``seconds``);
    a program stopped for time says both in its explanation too.
``memory_mb``
    Address-space limit in MiB (default 1024).
``language``
    ``python`` (the only one so far).
``no_imports_outside_stdlib``
    ``true``: fail, without running it, a program that imports a module that
    is not in the standard library (``import``, ``from ... import``, relative
    imports, ``__import__("x")`` and ``importlib.import_module("x")``).

Which code runs: the last fenced block tagged ``python``/``py``/``python3``
that parses and does more than name a value (so a trailing block that only
shows the expected output is not taken for the program); failing that the last
tagged block that parses, then the last tagged block (its syntax error is
reported). Without tagged blocks, the same choice among the other fenced
blocks that parse as Python. Without fenced blocks, the whole answer if it
parses as Python.

A program that does not parse, exits with an error, is killed (CPU time,
wall-clock backstop, memory, output cap) or prints the wrong thing fails. Only
a sandbox that cannot start is an error. The program runs in the run's sandbox
mode (``--gptoss-sandbox``); the verdict names the mode, and says so when it is
``plain``, which does not isolate the program from the machine.
"""

from __future__ import annotations

import ast
import re
import signal
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_gptoss.checkers import Checker
from pytest_gptoss.checkers.blocks import fenced_blocks
from pytest_gptoss.checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, sandbox_limits
from pytest_gptoss.clipping import clip
from pytest_gptoss.verdict import SpecError, Verdict, check_keys

NAME = "code"
KEYS = ("stdout", "match", "stdin", "timeout", "memory_mb", "language", "no_imports_outside_stdlib")
MATCHES = ("lines", "contains")
LANGUAGES = ("python",)
PYTHON_TAGS = ("python", "py", "python3", "py3")
WALL_FACTOR = 3

SHOWN_LINES = 8  # head and tail of a long output
SHOWN_WIDTH = 200
SHOWN_STDERR_LINES = 6

_SPACES = re.compile(r"(\s+)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBER_IN_TEXT = re.compile(r"(?<![\d.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?(?!\d)")


@dataclass(frozen=True)
class CodeBlock:
    """The program taken from an answer, and where it was found."""

    code: str
    language: str  # the fence's tag, lowercased; "" when untagged or the whole answer
    index: int  # 1-based among the answer's fenced blocks; 0 for the whole answer
    count: int  # how many fenced blocks the answer has
    line: int  # the answer's line where the code starts
    syntax_error: str = ""

    def describe(self) -> str:
        first = next((line.strip() for line in self.code.splitlines() if line.strip()), "")
        if self.index == 0:
            place = "the whole answer, read as Python"
        else:
            tag = f"```{self.language}" if self.language else "untagged ```"
            place = f"code block {self.index} of {self.count} ({tag}, answer line {self.line})"
        return f"{place}; first line: {_quoted(first)}"


@dataclass(frozen=True, kw_only=True)
class CodeSpec:
    """A parsed ``code`` spec."""

    stdout: str | int | float
    match: str = "lines"
    stdin: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    language: str = "python"
    no_imports_outside_stdlib: bool = False


def parse(spec: Any) -> CodeSpec:
    """The typed spec, or :class:`SpecError` with the bad field's path."""
    spec = check_keys(spec, KEYS, name="code",
                      usage="'code' takes a mapping with at least 'stdout' (the expected output)")
    if "stdout" not in spec:
        raise SpecError("'stdout' (the expected output) is required")
    expected = spec["stdout"]
    if isinstance(expected, bool) or not isinstance(expected, (str, int, float)):
        raise SpecError("'stdout' must be a string or a number", ("stdout",))
    match = spec.get("match", "lines")
    if match not in MATCHES:
        raise SpecError(f"'match' must be one of {', '.join(MATCHES)}", ("match",))
    if match == "contains" and not _expected_text(expected).strip():
        raise SpecError("'contains' needs a non-empty 'stdout' to look for", ("stdout",))
    if "stdin" in spec and not isinstance(spec["stdin"], str):
        raise SpecError("'stdin' must be a string", ("stdin",))
    timeout, memory = sandbox_limits(spec)
    if spec.get("language", "python") not in LANGUAGES:
        raise SpecError(f"'language' must be one of: {', '.join(LANGUAGES)}", ("language",))
    if not isinstance(spec.get("no_imports_outside_stdlib", False), bool):
        raise SpecError("'no_imports_outside_stdlib' must be true or false", ("no_imports_outside_stdlib",))
    return CodeSpec(stdout=expected, match=match, stdin=spec.get("stdin"), timeout=timeout, memory_mb=memory,
                    language=spec.get("language", "python"),
                    no_imports_outside_stdlib=spec.get("no_imports_outside_stdlib", False))


def judge(spec: CodeSpec, text: str) -> Verdict:
    """Run the answer's program in the sandbox and judge its output against ``spec``."""
    from pytest_gptoss.sandbox import SandboxError, describe_isolation, run_program

    match = spec.match
    expected = _expected_text(spec.stdout)
    number = _as_number(spec.stdout) if match == "contains" else None
    if match == "lines":
        shown_expected = "stdout:\n" + _show(expected)
    elif number is not None:
        shown_expected = f"stdout containing the number {expected} (as a whole number)"
    else:
        shown_expected = f"stdout containing {_quoted(expected)}"

    def fail(found: str, why: str, where: str = "", **details: Any) -> Verdict:
        return Verdict(
            passed=False, checker=NAME, expected=shown_expected, found=found, where=where, why=why, details=details,
        )

    block = extract_code(text)
    if block is None:
        return fail(
            _quoted(text.strip()) or "(empty answer)",
            "no code block that parses as Python, and the whole answer is not Python",
        )
    where = block.describe()
    if block.syntax_error:
        return fail("a program that does not parse", f"syntax error: {block.syntax_error}", where)
    if spec.no_imports_outside_stdlib:
        outside = imports_outside_stdlib(block.code)
        if outside:
            listed = "; ".join(f"line {line}: {statement}" for line, statement, _ in outside)
            modules = ", ".join(dict.fromkeys(module for _, _, module in outside))
            return fail(listed, f"imports outside the standard library: {modules} (not run)", where)

    timeout, memory_mb = spec.timeout, spec.memory_mb
    try:
        result = run_program(block.code, stdin=spec.stdin, timeout=WALL_FACTOR * timeout,
                             cpu_seconds=timeout, memory_mb=memory_mb)
    except SandboxError as exc:
        why = f"the sandbox could not run the program: {exc}"
        return Verdict(passed=False, checker=NAME, expected=shown_expected, found="", where=where, why=why, error=True)

    details = {
        "block": block.index,
        "returncode": result.returncode,
        "killed_reason": result.killed_reason,
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "isolation": result.isolation,
        "stdout": result.stdout[:4000],
        "stderr": result.stderr[-2000:],
    }
    found = _show(result.stdout, result.stdout_truncated)
    where += f"\nsandbox {describe_isolation(result.isolation)}"
    problem = _run_problem(result, timeout, memory_mb)
    if problem:
        if result.stderr.strip():
            found += "\nstderr (last lines):\n" + _tail(result.stderr)
        return fail(found, problem, where, **details)
    if match == "lines":
        why = first_difference(expected, result.stdout)
    elif number is not None:
        why = _missing_number(number, result.stdout)
    else:
        why = _missing_text(expected, result.stdout)
    if why:
        return fail(found, why, where, **details)
    return Verdict(passed=True, checker=NAME, expected=shown_expected, found=found, where=where, details=details)


def extract_code(text: str) -> CodeBlock | None:
    """The program in an answer (see the module docstring for the choice), or None."""
    blocks = _fenced_blocks(text)
    count = len(blocks)
    tagged = [b for b in blocks if b[2] in PYTHON_TAGS]
    if tagged:
        return _choose(tagged, count, keep_unparsed=True)
    if blocks:
        return _choose(blocks, count, keep_unparsed=False)
    if text.strip() and _parse(text)[0] is not None:
        return CodeBlock(text, "", 0, 0, 1)
    return None


def first_difference(expected: str, found: str) -> str:
    """Why ``found`` differs from ``expected`` line by line, or "" when they match."""
    want, got = _lines(expected), _lines(found)
    for number, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if not _same_line(a, b):
            return f"line {number} differs: expected {_quoted(a)}, found {_quoted(b)}"
    if len(got) < len(want):
        if not got:
            return "the program printed nothing"
        return f"the output stops after line {len(got)}; expected line {len(got) + 1}: {_quoted(want[len(got)])}"
    if len(got) > len(want):
        return f"unexpected output from line {len(want) + 1}: {_quoted(got[len(want)])}"
    return ""


def numbers_in(text: str) -> list[Decimal]:
    """Every whole number token in ``text`` (thousands separators allowed), as Decimals."""
    found = []
    for token in _NUMBER_IN_TEXT.findall(text):
        try:
            found.append(Decimal(token.replace(",", "")))
        except InvalidOperation:
            continue
    return found


def imports_outside_stdlib(code: str) -> list[tuple[int, str, str]]:
    """(line, statement, module) for every import of a module outside the standard library."""
    tree, _ = _parse(code)
    if tree is None:
        return []
    stdlib = sys.stdlib_module_names
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in stdlib:
                    found.append((node.lineno, f"import {alias.name}", alias.name))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level or module.split(".")[0] not in stdlib:
                names = ", ".join(alias.name for alias in node.names)
                found.append((node.lineno, f"from {module} import {names}", module))
        elif isinstance(node, ast.Call) and node.args and _is_import_call(node.func):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.split(".")[0] not in stdlib:
                found.append((node.lineno, f"{ast.unparse(node.func)}({arg.value!r})", arg.value))
    return sorted(found)


# --- choosing the code block -----------------------------------------------


def _fenced_blocks(text: str) -> list[tuple[int, str, str, int]]:
    """(index, code, tag, first code line) of every fenced block."""
    return [
        (b.index, b.body if b.body.endswith("\n") else b.body + "\n", b.tag, b.line + 1)
        for b in fenced_blocks(text)
    ]


def _choose(blocks: list[tuple[int, str, str, int]], count: int, *, keep_unparsed: bool) -> CodeBlock | None:
    parsed = [(block, tree) for block in blocks if (tree := _parse(block[1])[0]) is not None]
    programs = [(block, tree) for block, tree in parsed if _looks_like_program(tree)]
    if programs or parsed:
        index, code, tag, line = (programs or parsed)[-1][0]
        return CodeBlock(code, tag, index, count, line)
    if not keep_unparsed:
        return None
    index, code, tag, line = blocks[-1]
    return CodeBlock(code, tag, index, count, line, syntax_error=_parse(code)[1])


def _parse(code: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(code), ""
    except SyntaxError as exc:
        return None, f"{exc.msg} (line {exc.lineno} of the block)"
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, str(exc)


def _looks_like_program(tree: ast.Module) -> bool:
    """More than a bare value: an output sample like ``10000000`` is not a program."""
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            return True
        if any(isinstance(node, ast.Call) for node in ast.walk(statement)):
            return True
    return False


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


# --- comparing output ---------------------------------------------------------


def _expected_text(value: Any) -> str:
    return str(value) if not isinstance(value, float) else repr(value)


def _as_number(value: Any) -> Decimal | None:
    text = _expected_text(value).strip().replace(",", "")
    if _NUMBER.fullmatch(text):
        return Decimal(text)
    return None


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _same_line(expected: str, found: str) -> bool:
    if expected == found:
        return True
    # Odd positions hold the whitespace between tokens, which must match exactly.
    want, got = _SPACES.split(expected), _SPACES.split(found)
    return len(want) == len(got) and all(_same_token(a, b) for a, b in zip(want, got, strict=True))


def _same_token(expected: str, found: str) -> bool:
    if expected == found:
        return True
    if _NUMBER.fullmatch(expected) and _NUMBER.fullmatch(found):
        return Decimal(expected) == Decimal(found)
    return False


def _missing_number(number: Decimal, output: str) -> str:
    found = numbers_in(output)
    if number in found:
        return ""
    if not output.strip():
        return "the program printed nothing"
    listed = ", ".join(str(n) for n in found[:10]) + (", ..." if len(found) > 10 else "")
    return f"the number {number} does not appear in the output as a whole number" + (
        f" (numbers printed: {listed})" if found else " (it printed no numbers)"
    )


def _missing_text(expected: str, output: str) -> str:
    want = "\n".join(_lines(expected)).strip("\n")
    if want in "\n".join(_lines(output)):
        return ""
    if not output.strip():
        return "the program printed nothing"
    return f"{_quoted(want)} does not appear in the output"


def _run_problem(result: Any, timeout: float, memory_mb: int) -> str:
    reason = result.killed_reason
    last = _last_error_line(result.stderr)
    over_cpu = result.cpu_seconds is not None and result.cpu_seconds > timeout
    used = "CPU time unknown" if result.cpu_seconds is None else f"{result.cpu_seconds:.2f} s CPU"
    used += f", {result.seconds:.2f} s wall"
    if reason == "timeout":
        return (f"ran past the wall-clock backstop of {WALL_FACTOR * timeout:g} s ({WALL_FACTOR} x its "
                f"{timeout:g} s of CPU time; the program and everything it started were killed; {used})")
    if reason == "cpu" or (over_cpu and reason is None and not result.returncode):
        return f"used more than {timeout:g} s of CPU time" + (" and was killed" if reason else "") + f" ({used})"
    if reason == "output":
        return "printed more output than the sandbox keeps; it was stopped"
    if reason == "memory":
        return f"ran out of memory (limit {memory_mb} MiB)" + (f": {last}" if last else "")
    if reason == "sandbox killed":
        return "killed the sandbox process that watched it"
    if reason and reason.startswith("signal "):
        number = int(reason.split()[1])
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {number} ({name})"
    if result.returncode:
        return f"exit status {result.returncode}" + (f": {last}" if last else "")
    return ""


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return clip(lines[-1], SHOWN_WIDTH) if lines else ""


# --- showing text in one screen ----------------------------------------------


def _quoted(text: str, width: int = SHOWN_WIDTH) -> str:
    """Quoted, so that spaces and empty lines show."""
    return repr(clip(text, width))


def _show(text: str, truncated: bool = False) -> str:
    if not text.strip():
        return "(no output)"
    lines = [clip(line, SHOWN_WIDTH) for line in _lines(text)]
    if len(lines) > 2 * SHOWN_LINES + 1:
        hidden = len(lines) - 2 * SHOWN_LINES
        lines = [*lines[:SHOWN_LINES], f"... ({hidden} more lines) ...", *lines[-SHOWN_LINES:]]
    shown = "\n".join(lines)
    return shown + ("\n... (output cut off at the sandbox's limit)" if truncated else "")


def _tail(text: str) -> str:
    lines = [clip(line, SHOWN_WIDTH) for line in text.rstrip().splitlines()]
    return "\n".join(lines[-SHOWN_STDERR_LINES:])


CHECKER = Checker(name=NAME, parse=parse, judge=judge)
