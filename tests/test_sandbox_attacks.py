"""Hostile programs answer a case the way users run the suite, in every mode that isolates.

Each attack is a program that answers ``prime-index`` through
``--gptoss-replay`` in a pytest run of its own (a subprocess: an attack that
got out could kill the run that watches it), printing 10000000 after its
attack. After each run: no marker file exists, the planted secrets (a fake
Hugging Face token under the run's HOME, a fake ``GITHUB_TOKEN`` in the run's
environment) are in neither the terminal output nor the HTML and JUnit
reports, the response cache is unchanged, no process of the program is alive,
and the case after it still ran and passed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from test_sandbox import ISOLATING, require_mode

CASES = """\
cases:
  - id: prime-index
    prompt: 用python写一个程序来找出179424673是第几个质数，不要引入任何外部库
    check:
      code: {stdout: "10000000", match: contains, timeout: 1, memory_mb: 256}
"""
LATER_CASE = """\
cases:
  - id: later-case
    prompt: say hello
    check:
      text: {contains: [hello]}
"""

# Every program first starts a child that would live for a minute, marked in its command line.
PROLOGUE = """\
import os, re, signal, socket, subprocess, sys, threading, time
MARKER = {marker!r}
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)", MARKER]
subprocess.Popen(SLEEPER)
"""

ATTACKS = {
    "escape-writes": """\
        targets = ["/tmp/" + MARKER, {real_home!r} + "/" + MARKER, {home!r} + "/" + MARKER]
        for entry in os.listdir("/proc"):
            try:
                cwd = os.readlink(f"/proc/{{entry}}/cwd")
            except OSError:
                continue
            # only into this test's own project: plain mode lets the write through
            if os.path.exists(cwd + "/cases/" + MARKER):
                targets.append(cwd + "/cases/zz-escape.yaml")
        for target in targets:
            try:
                with open(target, "w") as f:
                    f.write("cases: []\\n")
            except OSError:
                pass
        """,
    "read-secrets": """\
        found = set()
        paths = [{real_home!r} + "/.cache/huggingface/token", {home!r} + "/.cache/huggingface/token"]
        paths += [f"/proc/{{entry}}/environ" for entry in os.listdir("/proc") if entry.isdigit()]
        for path in paths:
            try:
                with open(path, "rb") as f:
                    found.update(re.findall(rb"(?:hf|ghp)_FAKE[0-9a-f]{{32}}", f.read()))
            except OSError:
                pass
        if found:
            print("leaked:", b" ".join(sorted(found)).decode())
            sys.exit(1)
        """,
    "overwrite-cache": """\
        for top in ({real_home!r} + "/.cache/pytest-gptoss", {home!r} + "/.cache/pytest-gptoss"):
            for folder, _, files in os.walk(top):
                for name in files:
                    try:
                        with open(os.path.join(folder, name), "w") as f:
                            f.write("{{}}")
                    except OSError:
                        pass
        """,
    "kill-parents": """\
        os.kill(os.getppid(), signal.SIGKILL)
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{{entry}}/cmdline", "rb") as f:
                    if b"pytest" in f.read():
                        os.kill(int(entry), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        """,
    "kill-everything": """\
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        """,
    "setsid-daemon": """\
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, SLEEPER)
            os._exit(0)
        os.wait()
        """,
    "network": """\
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            try:
                socket.create_connection((host, {port}), timeout=1).close()
                print("connected to", host)
                sys.exit(1)
            except OSError:
                pass
        """,
    "memory-threads": """\
        def hoard():
            kept = []
            try:
                while True:
                    kept.append(bytearray(64 << 20))
            except MemoryError:
                pass
        threads = [threading.Thread(target=hoard) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        """,
    "binary-flood": """\
        chunk = os.urandom(1 << 20)
        for _ in range(60):
            sys.stdout.buffer.write(chunk)
        """,
    "ignore-sigterm-and-loop": """\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(10000000, flush=True)
        os.execv(sys.executable, [sys.executable, "-c", "while True: pass", MARKER])
        """,
}

MARKER_FILES = ("cases/zz-escape.yaml",)


class Planted:
    """Secrets, cache files and a listening port that a run must leave alone."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.project = pytester.path
        self.home = pytester.path / "home"
        self.hf_token = "hf_FAKE" + uuid.uuid4().hex
        self.github_token = "ghp_FAKE" + uuid.uuid4().hex
        self.marker = "gptoss-escape-" + uuid.uuid4().hex
        token = self.home / ".cache" / "huggingface" / "token"
        token.parent.mkdir(parents=True)
        token.write_text(self.hf_token)
        self.cache = self.home / ".cache" / "pytest-gptoss"
        (self.cache / "responses").mkdir(parents=True)
        (self.cache / "responses" / "entry.json").write_text('{"final": "cached"}')
        self.cache_before = self.cache_state()
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("GITHUB_TOKEN", self.github_token)
        self.server = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
        self.server.settimeout(0.2)
        self.connections: list[str] = []
        self.listening = True
        self.listener = threading.Thread(target=self._accept, daemon=True)
        self.listener.start()

    def _accept(self) -> None:
        while self.listening:
            try:
                connection, address = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(address[0])
            connection.close()

    def close(self) -> None:
        self.listening = False
        self.listener.join()
        self.server.close()

    @property
    def port(self) -> int:
        return self.server.getsockname()[1]

    def cache_state(self) -> dict[str, str]:
        return {str(path.relative_to(self.cache)): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in sorted(self.cache.rglob("*")) if path.is_file()}

    def program(self, attack: str, mode: str) -> str:
        # An isolating mode is attacked through the machine's real home too; the plain-mode
        # controls, which really run the attack, stay inside the test's planted home.
        real_home = str(self.home) if mode == "plain" else "/root"
        body = textwrap.dedent(ATTACKS[attack]).format(project=str(self.project), home=str(self.home),
                                                       port=self.port, real_home=real_home)
        return PROLOGUE.format(marker=self.marker) + body + "print(10000000)\n"

    def survivors(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if self.marker.encode() in f.read():
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
        return found

    def escapes(self) -> list[str]:
        paths = [self.project / name for name in MARKER_FILES]
        paths += [Path("/tmp", self.marker), Path("/root", self.marker), self.home / self.marker]
        return [str(path) for path in paths if path.exists()]


@pytest.fixture
def planted(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makefile(".yaml", **{"cases/algorithm": CASES, "cases/later": LATER_CASE})
    plant = Planted(pytester, monkeypatch)
    (pytester.path / "cases" / plant.marker).touch()  # how the program knows the project it found
    yield plant
    plant.close()
    for pid in plant.survivors():  # clean up before failing, so one failure does not leak into others
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for path in plant.escapes():
        with contextlib.suppress(OSError):
            os.unlink(path)


def run_attack(pytester: pytest.Pytester, planted: Planted, attack: str, mode: str) -> pytest.RunResult:
    lines = [{"case": "prime-index", "final": f"```python\n{planted.program(attack, mode)}```"},
             {"case": "later-case", "final": "hello there"}]
    (pytester.path / "t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return pytester.runpytest_subprocess(
        "-v", "-p", "no:cacheprovider", "--gptoss-replay=t.jsonl", f"--gptoss-sandbox={mode}",
        "--html=report.html", "--junitxml=junit.xml", timeout=120,
    )


def leaks(pytester: pytest.Pytester, planted: Planted, result: pytest.RunResult) -> list[str]:
    """Where a planted secret shows: terminal output, HTML report, JUnit report."""
    places = {"terminal": result.stdout.str() + result.stderr.str()}
    for name in ("report.html", "junit.xml"):
        places[name] = (pytester.path / name).read_text(errors="replace")
    return [f"{secret[:6]}... in {place}" for place, text in places.items()
            for secret in (planted.hf_token, planted.github_token) if secret in text]


@pytest.mark.parametrize("mode", ISOLATING)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_is_contained(pytester: pytest.Pytester, planted: Planted, attack: str, mode: str) -> None:
    require_mode(mode)
    result = run_attack(pytester, planted, attack, mode)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    result.stdout.fnmatch_lines(["gptoss: sandbox *", "*::prime-index* *", "*::later-case* PASSED*"])
    assert result.parseoutcomes().get("passed", 0) + result.parseoutcomes().get("failed", 0) == 2
    assert 'name="later-case[replay-medium]"' in (pytester.path / "junit.xml").read_text()
    assert planted.escapes() == []
    assert leaks(pytester, planted, result) == []
    assert planted.cache_state() == planted.cache_before
    assert planted.survivors() == []
    assert planted.connections == []


@pytest.mark.parametrize("attack", ["read-secrets", "escape-writes", "overwrite-cache", "network"])
def test_in_plain_mode_the_same_attacks_get_through(
    pytester: pytest.Pytester, planted: Planted, attack: str
) -> None:
    """The checks above can fail: plain mode does not isolate, and they see it."""
    result = run_attack(pytester, planted, attack, "plain")
    harm = {
        "read-secrets": lambda: leaks(pytester, planted, result),
        "escape-writes": planted.escapes,
        "overwrite-cache": lambda: planted.cache_state() != planted.cache_before,
        "network": lambda: planted.connections,
    }[attack]
    assert harm(), result.stdout.str()
    result.stdout.fnmatch_lines(["gptoss: sandbox plain (no isolation*", "*::later-case* PASSED*"])
