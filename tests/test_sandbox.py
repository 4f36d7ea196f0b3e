"""The sandbox against hostile programs: nothing of a run may survive it.

Every program here runs with a unique marker in its environment; after the run
the test scans /proc for any live process that still carries it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import textwrap
import time
import uuid

import pytest

from pytest_gptoss import sandbox
from pytest_gptoss.sandbox import SandboxError, isolation_modes, run_program

MODES = isolation_modes()
#: the modes that hide the machine; auto is whichever of them is the strongest that works here
#: (test_auto_is_the_strongest_mode_that_works), so it is not run through the same tests again
ISOLATING = ("bwrap", "namespace")
MARKER_VAR = "GPTOSS_TEST_MARKER"


def survivors(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment holds ``marker``."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != b"Z":
            found.append(int(name))
    return found


def hostile(source: str, mode: str, **kwargs) -> sandbox.RunResult:
    """Run ``source``; assert that no process of it is alive afterwards."""
    marker = uuid.uuid4().hex
    result = run_program(textwrap.dedent(source), isolation=mode, env={MARKER_VAR: marker}, **kwargs)
    alive = survivors(marker)
    for pid in alive:  # clean up before failing, so one failure does not leak into others
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not alive, f"processes of the run survived it ({mode}): {alive}"
    return result


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def require_mode(mode: str) -> str:
    """``mode`` when it isolates a program here; a skip naming what is missing otherwise."""
    try:
        chosen = sandbox.choose_isolation(mode)
    except SandboxError as exc:
        pytest.skip(str(exc))
    if chosen == "plain":
        pytest.skip("neither bubblewrap nor namespaces work here, so auto is plain")
    return mode


@pytest.fixture(params=ISOLATING)
def isolating_mode(request: pytest.FixtureRequest) -> str:
    """Every mode that hides the machine: bwrap and namespace, each where it works."""
    return require_mode(request.param)


def test_marker_scan_sees_a_live_process():
    """The survivor scan itself works: it finds a process that carries the marker."""
    import subprocess

    marker = uuid.uuid4().hex
    proc = subprocess.Popen(["sleep", "30"], env={**os.environ, MARKER_VAR: marker})
    try:
        time.sleep(0.1)
        assert survivors(marker) == [proc.pid]
    finally:
        proc.kill()
        proc.wait()
    assert survivors(marker) == []


def test_plain_mode_is_always_available():
    assert MODES[-1] == "plain"


def test_output_exit_status_and_stdin(mode):
    result = hostile("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)", mode)
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 3)
    assert result.killed_reason is None and not result.timed_out
    assert result.isolation == mode


def test_exit_builtin_works_without_site(mode):
    assert hostile("exit(4)", mode).returncode == 4


def test_stdin_is_empty_and_reads_get_eof_at_once(mode):
    result = hostile("import sys; print(repr(sys.stdin.read())); input()", mode, timeout=5)
    assert result.stdout == "''\n"
    assert "EOFError" in result.stderr
    assert result.seconds < 3


def test_stdin_can_be_given(mode):
    assert hostile("print(input()[::-1])", mode, stdin="abc\n").stdout == "cba\n"


def test_sleeping_forever_is_killed_at_the_wall_timeout(mode):
    started = time.monotonic()
    result = hostile("import time; time.sleep(10**6)", mode, timeout=1)
    assert result.timed_out and result.killed_reason == "timeout"
    assert result.returncode is None
    assert time.monotonic() - started < 5


def test_busy_loop_is_killed_at_the_cpu_limit(mode):
    result = hostile("while True: pass", mode, timeout=10, cpu_seconds=1)
    assert result.killed_reason == "cpu"
    assert result.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    assert result.seconds < 5


def test_unbounded_output_is_capped_and_killed(mode):
    result = hostile("while True: print('x' * 1000)", mode, output_limit=100_000, timeout=10)
    assert result.killed_reason == "output"
    assert result.stdout_truncated and len(result.stdout) == 100_000
    assert result.seconds < 5


def test_unbounded_stderr_is_capped_too(mode):
    result = hostile("import sys\nwhile True: sys.stderr.write('e' * 1000)", mode, output_limit=50_000)
    assert result.killed_reason == "output" and result.stderr_truncated
    assert not result.stdout_truncated


def test_memory_hog_fails_with_memory(mode):
    result = hostile(
        """
        blocks = []
        while True:
            blocks.append(bytearray(50 * 1024 * 1024))
        """,
        mode,
        memory_mb=256,
    )
    assert result.killed_reason == "memory"
    assert result.returncode == 1 and "MemoryError" in result.stderr


def test_file_size_is_limited(mode):
    result = hostile("open('big', 'wb').write(b'x' * (3 * 1024 * 1024))", mode, file_size_mb=1)
    assert result.returncode == 1 and "File too large" in result.stderr


def test_a_signal_is_reported(mode):
    result = hostile("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", mode)
    assert result.returncode == -signal.SIGSEGV
    assert result.killed_reason == f"signal {int(signal.SIGSEGV)}"


# A bounded fork bomb: a binary tree of 63 processes, some in sessions of their
# own, all sleeping. Were containment to fail, they would still end in 30 s.
FORK_BOMB = """
import os, time
depth = 0
while depth < 5:
    if os.fork() == 0:
        depth += 1
        if depth % 2:
            os.setsid()
        continue
    if os.fork() == 0:
        depth += 1
        continue
    break
if depth == 0:
    print("spawned", flush=True)
time.sleep(30)
"""


def test_fork_bomb_is_killed_at_the_timeout(mode):
    result = hostile(FORK_BOMB, mode, timeout=2)
    assert result.killed_reason == "timeout"
    assert result.stdout == "spawned\n"


def test_fork_bomb_dies_when_its_root_exits(mode):
    source = FORK_BOMB.replace('print("spawned", flush=True)', "time.sleep(0.5); raise SystemExit(0)")
    started = time.monotonic()
    result = hostile(source, mode, timeout=20)
    assert result.returncode == 0 and result.killed_reason is None
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("close_output", [False, True], ids=["keeps-stdout", "daemon"])
def test_a_child_that_outlives_its_parent_is_killed(mode, close_output):
    """Double fork + setsid: the grandchild leaves the session and is orphaned."""
    source = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            if {close_output}:
                for fd in (0, 1, 2):
                    os.close(fd)
            time.sleep(30)
        os._exit(0)
    os.wait()
    print("parent done", flush=True)
    """
    started = time.monotonic()
    result = hostile(source, mode, timeout=20)
    assert result.stdout == "parent done\n" and result.returncode == 0
    assert time.monotonic() - started < 10, "the run waited for the orphan instead of killing it"


def test_killing_the_sandbox_processes_does_not_free_the_program(mode):
    """The program kills its parent and grandparent (init and, in plain mode, the supervisor)."""
    source = """
    import os, signal, time
    def parent_of(pid):
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    targets = [os.getppid()]
    try:
        targets.append(parent_of(os.getppid()))
    except (OSError, ValueError):
        pass
    for pid in targets:
        if pid > 1 and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(30)
    """
    started = time.monotonic()
    result = hostile(source, mode, timeout=2)
    assert result.killed_reason in ("timeout", "sandbox killed")
    assert time.monotonic() - started < 15


def test_cwd_is_a_fresh_directory_removed_afterwards(mode):
    source = """
    import os
    open("scratch.txt", "w").write("x")
    print(os.getcwd())
    print(sorted(os.listdir(".")))
    print(os.environ["HOME"] == os.getcwd() == os.environ["TMPDIR"])
    """
    first = hostile(source, mode)
    second = hostile(source, mode)
    first_dir, listing, home_is_cwd = first.stdout.splitlines()
    assert listing == "['main.py', 'scratch.txt']" and home_is_cwd == "True"
    assert first_dir != second.stdout.splitlines()[0]
    assert not os.path.exists(first_dir)


def test_environment_is_minimal(mode, monkeypatch):
    monkeypatch.setenv("GPTOSS_HOST_SECRET", "leak")
    result = hostile("import os; print(sorted(os.environ))", mode)
    names = set(eval(result.stdout))
    assert "GPTOSS_HOST_SECRET" not in names
    assert {"PATH", "HOME", "LANG", "TMPDIR"} <= names


def test_only_the_standard_library_is_importable(mode):
    result = hostile("import json, sqlite3\nimport pytest", mode)
    assert result.returncode == 1
    assert "No module named 'pytest'" in result.stderr


def test_outside_the_run_the_filesystem_is_hidden_or_read_only(tmp_path, isolating_mode):
    target = tmp_path / "outside.txt"
    source = f"""
    import os
    for path in ({str(target)!r}, "/etc/gptoss-sandbox-probe", {os.path.abspath(__file__) + ".probe"!r}, "/usr/probe"):
        try:
            open(path, "w").write("escaped")
            print("wrote", path)
        except OSError as exc:
            print("refused", type(exc).__name__)
    print(os.path.exists({str(tmp_path)!r}), os.path.exists({os.path.abspath(__file__)!r}), os.listdir("/tmp"))
    """
    result = hostile(source, isolating_mode)
    assert "wrote" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == 4
    assert result.stdout.splitlines()[-1].startswith("False False ['gptoss-run-"), result.stdout
    assert not target.exists()
    assert not os.path.exists("/etc/gptoss-sandbox-probe")


def test_plain_mode_does_not_prevent_a_write_outside_the_run(tmp_path):
    """Documents the limit of the plain mode: only the run's directory is fresh."""
    target = tmp_path / "outside.txt"
    hostile(f"open({str(target)!r}, 'w').write('escaped')", "plain")
    assert target.read_text() == "escaped"


def test_started_by_root_the_program_runs_as_nobody(isolating_mode):
    result = hostile("import os; print(os.getuid(), os.getgid(), os.getgroups())", isolating_mode)
    expected = "65534 65534 []" if os.geteuid() == 0 else f"{os.getuid()} {os.getgid()}"
    assert result.stdout.startswith(expected), result.stdout


@pytest.mark.parametrize("kind", MODES)
def test_network_is_cut_off_except_in_plain_mode(kind):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        source = f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            print("connected")
        except OSError as exc:
            print("refused", exc)
        """
        result = hostile(source, kind)
    if kind == "plain":
        assert result.stdout == "connected\n"
    else:
        assert result.stdout.startswith("refused"), result.stdout


def test_a_named_mode_that_cannot_work_raises_one_line_saying_what_to_do(monkeypatch):
    import shutil

    monkeypatch.setattr(sandbox, "_problems", {})
    monkeypatch.setattr(sandbox, "_modes_answer", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxError, match=r"^bubblewrap is not installed; install it \(apt-get install bubblewrap\)"):
        sandbox.choose_isolation("bwrap")
    with pytest.raises(SandboxError, match="bubblewrap is not installed"):
        run_program("print(1)", isolation="bwrap")
    assert "bwrap" not in isolation_modes()
    assert sandbox.choose_isolation("plain") == "plain"


def test_auto_is_the_strongest_mode_that_works():
    assert sandbox.choose_isolation("auto") == MODES[0]
    assert run_program("print(1)", isolation="auto").isolation == MODES[0]
    if os.geteuid() == 0:  # root can always make namespaces, so plain is never the choice
        assert MODES[0] != "plain"


def test_unsupported_arguments_are_value_errors():
    with pytest.raises(ValueError, match="only 'python'"):
        run_program("print(1)", language="rust")
    with pytest.raises(ValueError, match="isolation"):
        run_program("print(1)", isolation="docker")
    with pytest.raises(ValueError, match="timeout"):
        run_program("print(1)", timeout=0)


def test_a_sandbox_that_cannot_start_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(SandboxError, match="cannot start"):
        run_program("print(1)", isolation="plain")


def test_a_program_that_cannot_start_raises(monkeypatch):
    original = sandbox._run

    def run_missing_interpreter(program, *args):
        return original(["/nonexistent/python", *program[1:]], *args)

    monkeypatch.setattr(sandbox, "_run", run_missing_interpreter)
    with pytest.raises(SandboxError, match="cannot start /nonexistent/python"):
        run_program("print(1)", isolation="plain")
