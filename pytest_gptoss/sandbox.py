"""Run an untrusted program in a child process and make sure nothing of it survives.

Three processes take part in a run::

    host (run_program) -> supervisor -> init -> program

The supervisor (``sandbox_child.py`` run as a script) starts in a session of its own and
marks itself a child subreaper, so every orphan of the program is re-parented
to it. It applies no limits to itself; when the program ends, or the host asks
it to stop, it kills every descendant it can find (by process group and by
walking ``/proc``) until it has no children left. The init process starts the
program with resource limits and reports its exact exit status and CPU time.

What a program sees, by isolation mode (``auto`` is the strongest that works
here, see :func:`isolation_modes`; :func:`choose_isolation` names why a mode
cannot work):

``bwrap``
    bubblewrap with new user, PID, network, IPC, UTS and cgroup namespaces,
    running as ``nobody``. The filesystem holds only what Python needs, read-only
    (the Python installation, ``/usr`` and the library directories, the dynamic
    linker's cache), a private ``/dev``, a ``/proc`` that shows the run's own
    processes only, an empty ``/tmp`` and the run's directory, the only
    writable place. No home directory, project checkout or cache is there.
``namespace``
    the same view and the same namespaces (PID, network, mount; a user
    namespace where the user is not root) made by the supervisor and init
    themselves, see :mod:`pytest_gptoss.sandbox_child`. Init is PID 1, so the
    kernel kills everything left when it exits, even processes that called
    ``setsid()``. Started by root, the program runs as ``nobody``.
``plain``
    no namespaces: the subreaper sweep, plus a last sweep by the host of every
    process still in the supervisor's session. Files outside the run's
    directory, the network and other processes of the same user are not
    protected; a program that kills its supervisor and then calls ``setsid()``
    can escape. It contains buggy programs, not hostile ones, and is only used
    when asked for or when no other mode works here.

The run's directory is a fresh temporary directory (also ``HOME`` and
``TMPDIR``), removed afterwards. ``RLIMIT_NPROC`` is not used: it does nothing
as root and counts every process of the user otherwise.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from pytest_gptoss.sandbox_child import NOBODY, encode_config, processes
from pytest_gptoss.sandbox_view import BWRAP_CHILD, CHILD, PYTHON_BOOT, bwrap_command, filesystem_view

if TYPE_CHECKING:
    import subprocess

MIB = 1024 * 1024
PATH = "/usr/local/bin:/usr/bin:/bin"
ISOLATIONS = ("auto", "bwrap", "namespace", "plain")
STOP_GRACE_SECONDS = 5.0

_configured = "auto"


class SandboxError(RuntimeError):
    """The sandbox itself could not run the program (not the program's fault)."""


@dataclass(frozen=True)
class RunResult:
    """What a program did: its output, how it ended, and why it was stopped.

    ``returncode`` is the exit status, or ``-N`` when signal N ended it.
    ``killed_reason`` is ``"timeout"`` (wall clock), ``"output"`` (output
    cap), ``"cpu"`` (CPU time limit), ``"memory"`` (ran out of its memory
    limit), ``"signal N"`` (another signal), ``"sandbox killed"`` (the program
    killed the process that watched it, so its own status is unknown), or None.
    """

    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool
    killed_reason: str | None
    seconds: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    cpu_seconds: float | None = None
    isolation: str = "plain"

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed_reason is None


def run_program(
    source: str,
    *,
    language: str = "python",
    stdin: str | bytes | None = None,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    cpu_seconds: float | None = None,
    output_limit: int = 1_000_000,
    file_size_mb: int = 16,
    env: dict[str, str] | None = None,
    isolation: str | None = None,
) -> RunResult:
    """Run ``source`` in the sandbox and return what it did; nothing of it outlives the call.

    ``stdin`` None means an empty stdin (``/dev/null``). ``timeout`` is wall-clock
    seconds; ``cpu_seconds`` (rounded up to whole seconds) defaults to the wall
    ``timeout`` plus one second. ``output_limit`` caps stdout and stderr (bytes
    each); past it the program is killed. ``env`` adds to the minimal
    environment. ``isolation`` None is the mode set by :func:`use_isolation`
    (``auto`` unless set). Raises :class:`SandboxError` when the sandbox cannot
    start (a named mode that cannot work here included), ``ValueError`` for
    arguments it does not accept.
    """
    if language != "python":
        raise ValueError(f"language {language!r} is not supported; only 'python' is")
    if isolation is not None and isolation not in ISOLATIONS:
        raise ValueError(f"isolation {isolation!r} is not one of {', '.join(ISOLATIONS)}")
    if not timeout or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    mode = choose_isolation(isolation or _configured)
    limits = {
        "memory": int(memory_mb * MIB),
        "cpu": max(1, math.ceil(cpu_seconds if cpu_seconds is not None else timeout + 1)),
        "fsize": int(file_size_mb * MIB),
    }
    return _run_in_fresh_directory(source, mode, limits, stdin, timeout, output_limit, env)


def isolation_modes() -> tuple[str, ...]:
    """The isolation modes that really work on this machine, strongest first (probed once)."""
    global _modes_answer
    if _modes_answer is None:
        _modes_answer = (*(mode for mode in ("bwrap", "namespace") if not _problem(mode)), "plain")
    return _modes_answer


def choose_isolation(requested: str) -> str:
    """The mode a run with ``requested`` uses; :class:`SandboxError` saying why a named one cannot work."""
    if requested not in ISOLATIONS:
        raise ValueError(f"isolation {requested!r} is not one of {', '.join(ISOLATIONS)}")
    if requested == "auto":
        return next(mode for mode in ("bwrap", "namespace", "plain") if not _problem(mode))
    problem = _problem(requested)
    if problem:
        raise SandboxError(problem)
    return requested


def use_isolation(mode: str) -> None:
    """Make ``mode`` what :func:`run_program` uses when it is not told (for this process)."""
    global _configured
    _configured = choose_isolation(mode)


_DESCRIPTIONS = {
    "bwrap": "bwrap (programs see only Python and their own folder, unprivileged, without network)",
    "namespace": "namespace (programs see only Python and their own folder, unprivileged, without network)",
    "plain": "plain (no isolation: programs can read and write this machine's files, "
    "use its network and signal its processes)",
}


def describe_isolation(mode: str) -> str:
    """``mode`` and what it hides, in words for a header or a verdict."""
    return _DESCRIPTIONS[mode]


def configured_isolation() -> str:
    """The mode :func:`run_program` uses when it is not told (``auto`` is resolved)."""
    return choose_isolation(_configured)


def bwrap_works() -> bool:
    """Whether bubblewrap is installed and runs a program here (probed once)."""
    return "bwrap" in isolation_modes()


_modes_answer: tuple[str, ...] | None = None
_problems: dict[str, str] = {}


def _problem(mode: str) -> str:
    """Why ``mode`` cannot run a program here, in one line that says what to do; "" when it can."""
    if mode == "plain":
        return ""
    if mode not in _problems:
        import shutil

        if mode == "bwrap" and not shutil.which("bwrap"):
            _problems[mode] = ("bubblewrap is not installed; install it (apt-get install bubblewrap) "
                               "or choose --gptoss-sandbox=auto")
        else:
            try:
                result = _run_in_fresh_directory("print('ok')", mode, _PROBE_LIMITS, None, 20.0, 1000, None)
                _problems[mode] = "" if result.stdout == "ok\n" else f"a probe printed {result.stdout!r}"
            except SandboxError as exc:
                _problems[mode] = str(exc)
            if _problems[mode]:
                hint = ("unprivileged user namespaces may be off: run as root or enable them "
                        "(sysctl kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04)")
                _problems[mode] = f"the {mode} sandbox cannot run here ({_problems[mode]}); {hint}"
    return _problems[mode]


_PROBE_LIMITS = {"memory": 256 * MIB, "cpu": 20, "fsize": MIB}


def _run_in_fresh_directory(
    source: str,
    mode: str,
    limits: dict[str, int],
    stdin: str | bytes | None,
    timeout: float,
    output_limit: int,
    env: dict[str, str] | None,
) -> RunResult:
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="gptoss-run-")
    try:
        workdir = os.path.join(base, "program")
        os.mkdir(workdir)
        os.mkdir(os.path.join(base, "root"))
        with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as f:
            f.write(source)
        if mode == "namespace" and os.geteuid() == 0:
            os.chown(workdir, NOBODY, NOBODY)  # the program runs as nobody there
        python = os.path.realpath(sys.executable)  # a venv's python link is not in the program's view
        program = [python, "-I", "-S", "-B", "-X", "utf8", "-c", PYTHON_BOOT, "main.py"]
        with _stdin_file(stdin) as stdin_file:
            return _run(program, mode, limits, workdir, stdin_file, timeout, output_limit, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- host side ------------------------------------------------------------


def _run(
    program: list[str],
    mode: str,
    limits: dict[str, int],
    workdir: str,
    stdin_file: BinaryIO,
    timeout: float,
    output_limit: int,
    extra_env: dict[str, str] | None,
) -> RunResult:
    import selectors
    import subprocess

    status_r, status_w = os.pipe()
    config: dict = {"mode": mode, "status_fd": status_w, "host_pid": os.getpid(), "limits": limits}
    view = filesystem_view(workdir, program[0])
    if mode == "bwrap":
        config["bwrap"] = bwrap_command(view)
        config["bwrap_self"] = BWRAP_CHILD
    elif mode == "namespace":
        config["view"] = view
    command = [sys.executable, "-I", "-S", "-B", CHILD, "supervise", encode_config(config), "--", *program]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            stdin=stdin_file,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            cwd=workdir,
            env=_environment(workdir, extra_env),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(status_r)
        raise SandboxError(f"cannot start the sandbox: {exc}") from exc
    finally:
        os.close(status_w)

    out_pipe, err_pipe = proc.stdout, proc.stderr
    assert out_pipe is not None and err_pipe is not None  # both are pipes
    out_fd, err_fd = out_pipe.fileno(), err_pipe.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray(), status_r: bytearray()}
    truncated = {out_fd: False, err_fd: False}
    host_reason: str | None = None
    finished = False
    selector = selectors.DefaultSelector()
    try:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        deadline = started + timeout
        while selector.get_map() and host_reason is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                host_reason = "timeout"
                break
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    continue
                buffer = buffers[key.fd]
                buffer += data
                if key.fd in truncated and len(buffer) > output_limit:
                    del buffer[output_limit:]
                    truncated[key.fd] = True
                    host_reason = "output"
        seconds = time.monotonic() - started
        if host_reason is not None:
            _stop(proc)
            buffers[status_r] += _drain(status_r)
        finished = True
    finally:
        selector.close()
        if not finished:  # interrupted: do not wait for the program
            _stop(proc)
        _finish(proc)
        os.close(status_r)
        out_pipe.close()
        err_pipe.close()

    status = _parse_status(buffers[status_r].decode("utf-8", "replace"))
    stderr = buffers[err_fd].decode("utf-8", "replace")
    if "error" in status:
        raise SandboxError(status["error"])
    if "started" not in status and host_reason is None:
        tail = stderr.strip().splitlines()[-3:]
        raise SandboxError("the sandbox ended without running the program" + (": " + " | ".join(tail) if tail else ""))

    returncode = os.waitstatus_to_exitcode(status["exit"]) if "exit" in status else None
    cpu = status.get("cpu")
    if host_reason is None and "exit" not in status:
        host_reason = "sandbox killed"  # the program killed the process that watched it
    reason = host_reason or _killed_reason(returncode, cpu, limits["cpu"], stderr)
    return RunResult(
        stdout=buffers[out_fd].decode("utf-8", "replace"),
        stderr=stderr,
        returncode=returncode,
        timed_out=reason == "timeout",
        killed_reason=reason,
        seconds=round(seconds, 3),
        stdout_truncated=truncated[out_fd],
        stderr_truncated=truncated[err_fd],
        cpu_seconds=cpu,
        isolation=status.get("mode", mode),
    )


def _killed_reason(returncode: int | None, cpu: float | None, cpu_limit: int, stderr: str) -> str | None:
    if returncode is None or returncode == 0:
        return None
    if returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu is not None and cpu >= cpu_limit):
            return "cpu"
        return f"signal {number}"
    last_lines = stderr.strip().splitlines()[-3:]
    if any(line.startswith("MemoryError") or "Cannot allocate memory" in line for line in last_lines):
        return "memory"
    return None


def _parse_status(text: str) -> dict:
    status: dict = {}
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "mode":
            status["mode"] = rest
        elif word == "exit":
            raw, _, cpu = rest.partition(" ")
            status["exit"] = int(raw)
            status["cpu"] = float(cpu) if cpu else None
        elif word == "started":
            status["started"] = True
        elif word == "error":
            status.setdefault("error", rest)
    return status


def _environment(workdir: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": PATH,
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": workdir,
        "TMPDIR": workdir,
    }
    env.update(extra or {})
    return env


@contextmanager
def _stdin_file(data: str | bytes | None) -> Iterator[BinaryIO]:
    """/dev/null, or an unlinked temporary file holding the given input."""
    import tempfile

    if data is None:
        with open(os.devnull, "rb") as f:
            yield f
        return
    with tempfile.TemporaryFile() as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.seek(0)
        yield f


def _drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    with suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the supervisor to kill everything; kill its session if it does not."""
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_exited(proc.pid, STOP_GRACE_SECONDS):
        _kill_session(proc.pid)


def _finish(proc: subprocess.Popen[bytes]) -> None:
    """Make sure the supervisor and its whole session are gone, then reap it."""
    if not _wait_exited(proc.pid, STOP_GRACE_SECONDS):
        _stop(proc)
    # The supervisor is a zombie here, so its pid (the session id) is not reused yet.
    _kill_session(proc.pid)
    with suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait_exited(pid: int, seconds: float) -> bool:
    """Wait until ``pid`` has exited, without reaping it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def _kill_session(sid: int) -> None:
    """SIGKILL every live process of session ``sid`` until none is left."""
    for _ in range(200):
        victims = [p for p in processes() if p.sid == sid and p.state != "Z"]
        if not victims:
            return
        # Every group of the session belongs to the run; a group kill is atomic against fork.
        for group in {p.pgid for p in victims}:
            with suppress(OSError):
                os.killpg(group, signal.SIGKILL)
        for victim in victims:
            with suppress(OSError):
                os.kill(victim.pid, signal.SIGKILL)
        time.sleep(0.005)
