"""mermaid's own parser, run under node: finding the install, running ``bridge.mjs``, reading its answers.

mermaid (the npm package, 11.x) is looked for in ``$GPTOSS_MERMAID_DIR/node_modules``,
by default ``~/.cache/pytest-gptoss/mermaid`` (``$XDG_CACHE_HOME`` is honoured);
install it there with::

    npm install --prefix ~/.cache/pytest-gptoss/mermaid mermaid@11

mermaid's parser runs under node without a browser: its HTML sanitiser, which
needs a DOM and only shapes rendered labels, is replaced by the identity, so
labels are read as written. Its errors are turned into :class:`MermaidSyntaxError`
with the line and column counted in the diagram as written, like the built-in
parser's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_gptoss.checkers.mermaid.flowchart import Edge, Flowchart, MermaidSyntaxError, Node
from pytest_gptoss.checkers.mermaid.parser import parse_builtin
from pytest_gptoss.checkers.mermaid.source import decode_placeholders, prepare, source_position

DIR_ENV = "GPTOSS_MERMAID_DIR"
INSTALL_COMMAND = "npm install --prefix ~/.cache/pytest-gptoss/mermaid mermaid@11"
NODE_TIMEOUT = 60.0
#: the script node runs, beside this module
SCRIPT = Path(__file__).with_name("bridge.mjs")


@dataclass(frozen=True)
class RealParser:
    """Where mermaid is installed, and which version."""

    node: str
    directory: Path
    version: str


class ParserUnavailable(Exception):
    """mermaid could not run: not installed, or node failed."""


def mermaid_directory() -> Path:
    """Where the checker looks for ``node_modules/mermaid``."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "pytest-gptoss" / "mermaid"


def find_real_parser() -> RealParser | None:
    """node and the mermaid package, if both are installed."""
    node = shutil.which("node")
    directory = mermaid_directory()
    package = directory / "node_modules" / "mermaid" / "package.json"
    if node is None or not package.is_file() or not (directory / "node_modules" / "dompurify").is_dir():
        return None
    try:
        version = str(json.loads(package.read_text(encoding="utf-8")).get("version", "?"))
    except (OSError, ValueError):
        return None
    return RealParser(node, directory, version)


def run_real_parser(parser: RealParser, sources: list[str], timeout: float | None = None) -> list[dict[str, Any]]:
    """mermaid's verdict on each source: a graph, a diagram type, or an error with its position."""
    timeout = NODE_TIMEOUT if timeout is None else timeout
    try:
        process = subprocess.Popen(
            [parser.node, "--input-type=module", "-e", _script()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            cwd=parser.directory, start_new_session=True,
        )
    except OSError as exc:
        raise ParserUnavailable(f"node could not start: {exc}") from None
    try:
        stdout, stderr = process.communicate(json.dumps(sources), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ParserUnavailable(f"node did not finish parsing within {timeout:g} s") from None
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ParserUnavailable(f"node failed: {tail}") from None
    if "setup" in reply:
        raise ParserUnavailable(f"mermaid could not be loaded: {reply['setup']}")
    return list(reply["results"])


def from_real(result: dict[str, Any], source: str) -> Flowchart:
    """The flowchart in one of :func:`run_real_parser`'s results for ``source``, or its :class:`MermaidSyntaxError`."""
    if "error" in result:
        raise _real_error(result, source)
    if "nodes" not in result:
        raise MermaidSyntaxError(f"mermaid read a {result.get('type')} diagram, not a flowchart")
    nodes = {vid: Node(vid, text, shape) for vid, text, shape in result["nodes"]}
    edges = tuple(Edge(start, end, text, arrow) for start, end, text, arrow in result["edges"])
    subgraphs = tuple((sid, title, tuple(members)) for sid, title, members in result["subgraphs"])
    return Flowchart(result.get("direction") or "TB", nodes, edges, subgraphs)


def _real_error(result: dict[str, Any], source: str) -> MermaidSyntaxError:
    message = result["error"]
    lines = message.split("\n")
    loc = result.get("loc")
    if message.startswith("Parse error") and loc:
        line, column = _real_position(source, int(loc["last_line"]), int(loc["last_column"]))
        expecting = lines[-1] if lines[-1].startswith("Expecting") else ""
        got = re.search(r"got '([^']*)'$", expecting)
        expected = tuple(re.findall(r"'([^']+)'", expecting.split(", got")[0]))
        text = f"Parse error on line {line}, column {column}: {expecting}".rstrip(": ")
        return MermaidSyntaxError(text, line, column, expected, got[1] if got else "")
    if message.startswith("Lexical error") and result.get("line") is not None:
        # mermaid gives no column for these; the built-in lexer, rule for rule the same, finds it
        try:
            parse_builtin(source)
        except MermaidSyntaxError as exc:
            if exc.message.startswith("Lexical error"):
                return exc
        line, _ = _real_position(source, int(result["line"]) + 1, 0)
        return MermaidSyntaxError(f"Lexical error on line {line}: unrecognized text", line)
    return MermaidSyntaxError(decode_placeholders(lines[0]))


def _real_position(source: str, line: int, column: int) -> tuple[int, int]:
    """Where mermaid's (line, 0-based column) in the text it parsed lies in ``source``."""
    # mermaid parses the source with leading whitespace trimmed and the rewrites of prepare()
    trimmed = source.lstrip()
    skipped = len(source) - len(trimmed)
    prepared, origin = prepare(trimmed)
    starts = [0] + [i + 1 for i, char in enumerate(prepared) if char == "\n"]
    offset = starts[min(line, len(starts)) - 1] + column
    return source_position(source, skipped + origin[min(offset, len(origin) - 1)])


@lru_cache(maxsize=1)
def _script() -> str:
    # node evaluates the text in the install folder, where its imports of mermaid resolve (see the script)
    return SCRIPT.read_text(encoding="utf-8")
