"""Answering one call: which tool it names, whether its arguments hold, and what the tool says.

What the model did wrong (a tool that does not exist, arguments that are not
JSON or break the schema) and what the tool did (raised, timed out, printed an
error) are answers the model reads, recorded with the call as its ``error``:
an agent meets such answers in use, and how it copes is part of the case.
Only a sandbox that cannot start at all is the run's fault: :class:`ToolError`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_gptoss.clipping import clip
from pytest_gptoss.tools import FUNCTIONS
from pytest_gptoss.tools.spec import NO_DEFAULT, FunctionTool, PythonTool, Toolbox, wrapped_body

#: the most of a tool's output the model is given (the rest is cut, and it is told so)
MAX_OUTPUT_CHARS = 8000
_HARNESS = Path(__file__).with_name("harness.py")


class ToolError(Exception):
    """A tool could not be run at all (the sandbox would not start); the message is one line."""


@dataclass(frozen=True)
class Answer:
    """What the model is told, and why it is an error where it is one."""

    content: str
    error: str | None = None
    seconds: float = 0.0


def answer(call: dict[str, Any], toolbox: Toolbox) -> Answer:
    """The answer to ``call`` (``recipient``, ``arguments`` as the model wrote them)."""
    started = time.monotonic()
    recipient = str(call.get("recipient") or "")
    if recipient == "python" and toolbox.python is not None:
        given = _python_answer(_code(call), toolbox.python)
    elif recipient.startswith(FUNCTIONS) and (tool := toolbox.function(recipient[len(FUNCTIONS):])) is not None:
        given = _function_answer(tool, str(call.get("arguments") or ""))
    else:
        offered = ", ".join(toolbox.names()) or "none"
        given = _error(f"there is no tool '{recipient}'; the tools are: {offered}")
    return Answer(given.content, given.error, round(time.monotonic() - started, 3))


def _error(message: str) -> Answer:
    return Answer(json.dumps({"error": message}, ensure_ascii=False), message)


def _function_answer(tool: FunctionTool, arguments: str) -> Answer:
    try:
        given = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return _error(f"the arguments are not valid JSON ({exc.msg} at character {exc.pos}); send one JSON object")
    if not isinstance(given, dict):
        return _error(f"the arguments must be one JSON object, not {type(given).__name__}")
    problem = schema_problem(tool.parameters, given)
    if problem:
        return _error(f"the arguments do not fit {tool.name}'s parameters: {problem}")
    how, spec = tool.answer
    if how == "result":
        return Answer(as_text(spec))
    if how == "results":
        choices, default = spec
        for choice in choices:
            if choice.matches(given):
                return Answer(as_text(choice.result))
        if default is not NO_DEFAULT:
            return Answer(as_text(default))
        return _error(f"{tool.name} has no answer for these arguments")
    return _run_function(tool, spec, given)


def schema_problem(schema: Any, instance: Any) -> str:
    """The first place ``instance`` breaks ``schema``, in words; empty when it fits."""
    from pytest_gptoss.checkers.json.validate import schema_problems

    problems = schema_problems(schema, instance)
    if not problems:
        return ""
    first = problems[0]
    where = "/".join(str(part) for part in first.path)
    return f"at '{where}': {first.message}" if where else first.message


def as_text(value: Any) -> str:
    """A tool's answer as the model reads it: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _run_function(tool: FunctionTool, body: str, arguments: dict[str, Any]) -> Answer:
    from pytest_gptoss.sandbox import SandboxError, run_program

    nonce = secrets.token_hex(8)
    payload = {"source": wrapped_body(body, list(tool.parameters.get("properties", {}))),
               "arguments": arguments, "nonce": nonce}
    try:
        result = run_program(_HARNESS.read_text(encoding="utf-8"), stdin=json.dumps(payload), timeout=tool.timeout,
                             memory_mb=tool.memory_mb)
    except SandboxError as exc:
        raise ToolError(f"the sandbox could not run function {tool.name}: {exc}") from None
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(nonce):
            said = json.loads(line[len(nonce):])
            if "error" in said:
                return _error(f"{tool.name} failed: {clip(said['error'], 300)}")
            return Answer(as_text(said["result"]))
    return _error(f"{tool.name} {_stopped(result, tool.timeout, tool.memory_mb)}")


def _code(call: dict[str, Any]) -> str:
    """The python tool's code: the message itself, or ``code`` where the model sent it as a JSON object."""
    text = str(call.get("arguments") or "")
    if text.lstrip().startswith("{"):
        try:
            given = json.loads(text)
        except ValueError:
            return text
        if isinstance(given, dict) and isinstance(given.get("code"), str):
            return str(given["code"])
    return text


def _python_answer(code: str, tool: PythonTool) -> Answer:
    """Run the model's code in a fresh sandbox: its stdout (and stderr, where it wrote any) is the answer."""
    from pytest_gptoss.sandbox import SandboxError, run_program

    try:
        result = run_program(code, timeout=tool.timeout, memory_mb=tool.memory_mb)
    except SandboxError as exc:
        raise ToolError(f"the sandbox could not run the python tool: {exc}") from None
    output = result.stdout + (("\n" if result.stdout and not result.stdout.endswith("\n") else "") + result.stderr
                              if result.stderr else "")
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[:MAX_OUTPUT_CHARS] + f"\n[output cut at {MAX_OUTPUT_CHARS} characters]"
    if result.ok:
        return Answer(output)
    if result.killed_reason is None:
        return Answer(output, f"the code exited with status {result.returncode}")
    problem = f"the code {_stopped(result, tool.timeout, tool.memory_mb)}"
    return Answer(f"{output}\n[{problem}]".lstrip("\n"), problem)


def _stopped(result: Any, timeout: float, memory_mb: int) -> str:
    reason = result.killed_reason
    if reason in ("timeout", "cpu"):
        return f"timed out after {timeout:g} s and was stopped"
    if reason == "memory":
        return f"ran out of memory (limit {memory_mb} MiB)"
    if reason == "output":
        return "printed more output than the sandbox keeps and was stopped"
    if reason:
        return f"was killed ({reason})"
    tail = " | ".join(result.stderr.strip().splitlines()[-2:])
    return f"ended without an answer (exit status {result.returncode}{'; ' + clip(tail, 200) if tail else ''})"
