"""The program that runs in the sandbox: calls the reference and the answer's function on every input.

It is not imported: :mod:`.run` sends this file's source, followed by a call of
:func:`main` with the run's :class:`Payload` as a JSON string, as the program to
run. So it imports only the standard library (the sandbox has nothing else).
It reports facts, not verdict wording: one JSON :class:`Record` per stdout
line, after the run's nonce, with texts cut at ``width`` characters (the host
clips them for showing).

Every reference result is computed first, then the answer's code runs (as a
module called ``answer``, so its ``if __name__ == "__main__":`` part does not)
and its function is called on each input, with the arguments rebuilt from
JSON for every call. What either prints is discarded.
"""

from __future__ import annotations

import builtins
import io
import json
import math
import sys
import traceback

TYPE_CHECKING = False  # typing is not imported at run time: it would cost the sandbox's start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO, TypedDict

    Called = tuple[Any, ...]  # ("value", value) or ("raise", exception type name, message)

    class Payload(TypedDict):
        """What the host sends: the inputs (as ``strategies.encode`` wrote them), both sources, the text width."""

        nonce: str
        inputs: list[list[Any]]
        reference: str
        reference_name: str
        code: str
        function: str
        width: int

    class Described(TypedDict, total=False):
        """What one call did: ``value`` (its repr) and ``type``, or ``raised`` (an exception type) and ``message``."""

        value: str
        type: str
        raised: str
        message: str

    class Record(TypedDict, total=False):
        """One line of the report: one of these keys, but ``index`` comes with ``ok``, ``expected`` and ``actual``."""

        reference_raised: str
        reference_missing: bool
        reference_start: int
        reference_done: bool
        load_raised: str
        missing: list[str]
        start: int
        index: int
        ok: bool
        expected: Described
        actual: Described
        done: bool


class Sink(io.TextIOBase):
    """A stdout that keeps nothing, for the time the reference or the answer runs."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


class Report:
    """The records the host reads: JSON on lines of the real stdout that start with the nonce."""

    def __init__(self, nonce: str, out: TextIO, width: int) -> None:
        self.nonce, self.out, self.width = nonce, out, width

    def emit(self, record: Record) -> None:
        self.out.write(self.nonce + json.dumps(record) + "\n")
        self.out.flush()

    def cut(self, text: str) -> str:
        """``text`` shortened to what is worth sending (the host clips it for showing)."""
        return text[: self.width]

    def raised(self, exc: BaseException) -> str:
        return self.cut(traceback.format_exception_only(exc)[-1].strip())

    def describe(self, result: Called) -> Described:
        """A call's result as plain data: the value's repr and type, or the exception."""
        if result[0] == "raise":
            return {"raised": result[1], "message": result[2]}
        try:
            shown = repr(result[1])
        except BaseException:
            shown = "<unprintable " + type(result[1]).__name__ + ">"
        return {"value": self.cut(shown), "type": type(result[1]).__name__}


def decode(value: Any) -> Any:
    """The value that ``strategies.encode`` wrote as ``value``: tuples and non-string keys come back."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(decode(v) for v in value["tuple"])
        return {decode(k): decode(v) for k, v in value["dict"]}
    return value


def call(function: Callable[..., Any], encoded: list[Any], report: Report) -> Called:
    """Call ``function`` on freshly decoded arguments, its prints discarded; what it returned or raised."""
    args = decode(encoded)
    sys.stdout = Sink()
    try:
        return ("value", function(*args))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return ("raise", type(exc).__name__, report.cut(str(exc)))
    finally:
        sys.stdout = report.out


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type; ints and floats compare as numbers (NaN equals NaN), bools only as bools."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if not isinstance(a, float) and not isinstance(b, float):
            return a == b  # ints are exact, however large
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        try:
            return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        except (OverflowError, TypeError):
            return False
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def agree(want: Called, got: Called) -> bool:
    """Both return the same value, or both raise an exception of the same type."""
    if want[0] == "raise" or got[0] == "raise":
        return want[0] == got[0] == "raise" and want[1] == got[1]
    return same(want[1], got[1])


def load(source: str, name: str, module: str, out: TextIO) -> tuple[Any, dict[str, Any]]:
    """Run ``source`` as the module ``module``; what it binds to ``name`` (or None), and its namespace."""
    namespace: dict[str, Any] = {"__name__": module, "__builtins__": builtins}
    sys.stdout = Sink()
    try:
        exec(compile(source, module + ".py", "exec"), namespace)
    finally:
        sys.stdout = out
    return namespace.get(name), namespace


def main(payload: str) -> None:
    """Run one comparison; ``payload`` holds nonce, inputs, reference, reference_name, code, function, width."""
    data: Payload = json.loads(payload)
    inputs = data["inputs"]
    report = Report(data["nonce"], sys.stdout, data["width"])
    try:
        reference, _ = load(data["reference"], data["reference_name"], "reference", report.out)
    except BaseException as exc:
        report.emit({"reference_raised": report.raised(exc)})
        return
    if not callable(reference):
        report.emit({"reference_missing": True})
        return
    expected = []
    for index in range(len(inputs)):
        report.emit({"reference_start": index})
        expected.append(call(reference, inputs[index], report))
    report.emit({"reference_done": True})

    try:
        function, namespace = load(data["code"], data["function"], "answer", report.out)
    except BaseException as exc:
        report.emit({"load_raised": report.raised(exc)})
        return
    if not callable(function):
        report.emit({"missing": sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__"))})
        return
    for index in range(len(inputs)):
        report.emit({"start": index})
        got = call(function, inputs[index], report)
        report.emit({"index": index, "ok": agree(expected[index], got), "expected": report.describe(expected[index]),
                     "actual": report.describe(got)})
    report.emit({"done": True})
