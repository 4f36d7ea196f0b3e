"""Run an untrusted program in a child process and make sure nothing of it survives.

Three processes take part in a run::

    host (run_program) -> supervisor -> init -> program

The supervisor (this file run as a script) starts in a session of its own and
marks itself a child subreaper, so every orphan of the program is re-parented
to it. It applies no limits to itself; when the program ends, or the host asks
it to stop, it kills every descendant it can find (by process group and by
walking ``/proc``) until it has no children left. The init process starts the
program with resource limits and reports its exact exit status and CPU time.

Isolation, best first (``run_program(isolation="auto")`` picks the first that
works here and falls back silently):

``bwrap``
    bubblewrap with new PID, network, IPC and UTS namespaces, the whole
    filesystem read-only except the run's directory, a private ``/dev``.
``namespace``
    new PID and network namespaces made by the supervisor itself (as root, or
    through a user namespace for other users): init is PID 1, so the kernel
    kills everything left when it exits, even processes that called
    ``setsid()``; the program cannot signal anything outside; no network.
``plain``
    no namespaces: the subreaper sweep, plus a last sweep by the host of every
    process still in the supervisor's session. Files outside the run's
    directory, the network and other processes of the same user are not
    protected; a program that kills its supervisor and then calls ``setsid()``
    can escape. It contains buggy programs, not malicious ones.

The run's directory is a fresh temporary directory (also ``HOME`` and
``TMPDIR``), removed afterwards. ``RLIMIT_NPROC`` is not used: it does nothing
as root and counts every process of the user otherwise.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import ctypes
    import subprocess

MIB = 1024 * 1024
PATH = "/usr/local/bin:/usr/bin:/bin"
ISOLATIONS = ("auto", "bwrap", "namespace", "plain")
OPEN_FILES = 256
STOP_GRACE_SECONDS = 5.0

_SELF = os.path.abspath(__file__)
_WATCHED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
_STOPPING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

# Runs the program file as __main__ under `python -I -S`: no site-packages, yet
# `exit()` and `quit()` work, and a traceback shows only the program's frames.
_PYTHON_BOOT = """\
def _boot():
    import builtins, sys, _sitebuiltins, __main__
    del __main__._boot
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    sys.argv = sys.argv[1:]
    __main__.__file__ = sys.argv[0]
    try:
        with open(sys.argv[0], "rb") as f:
            code = compile(f.read(), sys.argv[0], "exec")
        exec(code, vars(__main__))
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        exc.__traceback__ = exc.__traceback__.tb_next
        sys.excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)
_boot()
"""

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


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
    isolation: str = "auto",
) -> RunResult:
    """Run ``source`` in the sandbox and return what it did; nothing of it outlives the call.

    ``stdin`` None means an empty stdin (``/dev/null``). ``cpu_seconds`` defaults
    to the wall ``timeout`` plus one second. ``output_limit`` caps stdout and
    stderr (bytes each); past it the program is killed. ``env`` adds to the
    minimal environment. Raises :class:`SandboxError` when the sandbox cannot
    start, ``ValueError`` for arguments it does not accept.
    """
    if language != "python":
        raise ValueError(f"language {language!r} is not supported; only 'python' is")
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation {isolation!r} is not one of {', '.join(ISOLATIONS)}")
    if not timeout or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    mode = isolation
    if mode == "auto":
        mode = "bwrap" if bwrap_works() else "namespace"
    elif mode == "bwrap" and not bwrap_works():
        raise SandboxError("bubblewrap is not installed or cannot create its namespaces here")
    limits = {
        "memory": int(memory_mb * MIB),
        "cpu": max(1, math.ceil(cpu_seconds if cpu_seconds is not None else timeout + 1)),
        "fsize": int(file_size_mb * MIB),
    }
    import shutil
    import tempfile

    workdir = tempfile.mkdtemp(prefix="gptoss-run-")
    try:
        with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as f:
            f.write(source)
        program = [sys.executable, "-I", "-S", "-B", "-X", "utf8", "-c", _PYTHON_BOOT, "main.py"]
        with _stdin_file(stdin) as stdin_file:
            return _run(program, mode, limits, workdir, stdin_file, timeout, output_limit, env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def isolation_modes() -> tuple[str, ...]:
    """The isolation modes that really work on this machine, best first."""
    return _isolation_modes()


def bwrap_works() -> bool:
    """Whether bubblewrap is installed and can create its namespaces here (probed once)."""
    return _bwrap_works()


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
    config = {"mode": mode, "status_fd": status_w, "host_pid": os.getpid(), "limits": limits}
    if mode == "bwrap":
        config["bwrap"] = _bwrap_args(workdir)
    command = [sys.executable, "-I", "-S", "-B", _SELF, "supervise", json.dumps(config), "--", *program]
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

    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
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
        proc.stdout.close()
        proc.stderr.close()

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
        victims = [p for p in _processes() if p.sid == sid and p.state != "Z"]
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


def _bwrap_args(workdir: str) -> list[str]:
    import shutil

    return [
        shutil.which("bwrap") or "bwrap",
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session", "--as-pid-1",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--bind", workdir, workdir,
        "--chdir", workdir,
        "--",
    ]  # fmt: skip


_bwrap_answer: bool | None = None


def _bwrap_works() -> bool:
    global _bwrap_answer
    if _bwrap_answer is None:
        import shutil
        import subprocess
        import tempfile

        answer = False
        if shutil.which("bwrap"):
            with tempfile.TemporaryDirectory(prefix="gptoss-probe-") as workdir:
                try:
                    probe = subprocess.run(
                        [*_bwrap_args(workdir), sys.executable, "-I", "-S", "-B", _SELF, "probe"],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        timeout=20,
                        env=_environment(workdir, None),
                    )
                    answer = probe.returncode == 0
                except (OSError, subprocess.SubprocessError):
                    answer = False
        _bwrap_answer = answer
    return _bwrap_answer


_modes_answer: tuple[str, ...] | None = None


def _isolation_modes() -> tuple[str, ...]:
    global _modes_answer
    if _modes_answer is None:
        modes = ["bwrap"] if _bwrap_works() else []
        with suppress(SandboxError):
            if run_program("pass", isolation="namespace", timeout=20).isolation == "namespace":
                modes.append("namespace")
        _modes_answer = (*modes, "plain")
    return _modes_answer


# --- /proc ------------------------------------------------------------------


@dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str


def _processes() -> list[_Process]:
    """Every process visible in /proc (pids as the /proc mount sees them)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) < 4:
            continue
        found.append(_Process(int(name), int(fields[1]), int(fields[2]), int(fields[3]), fields[0]))
    return found


def _descendants(root: int, table: list[_Process]) -> list[_Process]:
    children: dict[int, list[_Process]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    result, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            result.append(child)
            todo.append(child.pid)
    return result


# --- supervisor, init and program (run as `python -I -S sandbox.py ...`) ----


def _supervise(config: dict, program: list[str]) -> int:
    status_fd = config["status_fd"]
    signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    libc = _libc()
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != config["host_pid"]:
        return 1  # the host is already gone
    mode = config["mode"]
    if mode == "namespace" and not _enter_namespaces(libc):
        mode = "plain"
    os.write(status_fd, f"mode {mode}\n".encode())

    child = os.fork()
    if child == 0:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            if mode == "bwrap":
                init = [sys.executable, "-I", "-S", "-B", _SELF, "init", json.dumps(config), "--", *program]
                os.execv(config["bwrap"][0], [*config["bwrap"], *init])
            _init(config, program)
        except BaseException as exc:
            _report_error(status_fd, f"cannot start the sandbox ({mode}): {exc}")
        os._exit(70)

    stopped = False
    while not stopped:
        info = signal.sigwaitinfo(_WATCHED)
        if info.si_signo != signal.SIGCHLD:
            stopped = True
        elif _reap_all(child):
            break
    _sweep(child)
    return 0


def _enter_namespaces(libc: ctypes.CDLL) -> bool:
    """Put this process's future children in new PID and network namespaces."""
    flags = _CLONE_NEWPID | _CLONE_NEWNET
    if libc.unshare(flags) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(flags | _CLONE_NEWUSER) != 0:
        return False
    # Unmapped ids still work (they only show as "nobody"), so a failed write is not fatal.
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with suppress(OSError), open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    return True


def _init(config: dict, program: list[str]) -> None:
    """Start the program, wait for it, report its status; never returns."""
    status_fd = config["status_fd"]
    for signum in _STOPPING:
        signal.signal(signum, signal.SIG_DFL)
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        _exec_program(config, program)
    os.write(status_fd, b"started\n")
    while True:
        try:
            done, status, usage = os.wait3(0)
        except ChildProcessError:
            os._exit(70)
        if done == pid:
            cpu = usage.ru_utime + usage.ru_stime
            os.write(status_fd, f"exit {status} {cpu:.3f}\n".encode())
            os._exit(0)


def _exec_program(config: dict, program: list[str]) -> None:
    import resource

    status_fd = config["status_fd"]
    try:
        os.setpgid(0, 0)
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_DFL)
        limits = config["limits"]
        _set_limit(resource.RLIMIT_AS, limits["memory"])
        _set_limit(resource.RLIMIT_CPU, limits["cpu"], limits["cpu"] + 1)
        _set_limit(resource.RLIMIT_FSIZE, limits["fsize"])
        _set_limit(resource.RLIMIT_CORE, 0)
        _set_limit(resource.RLIMIT_NOFILE, OPEN_FILES)
        os.closerange(3, status_fd)
        os.closerange(status_fd + 1, 65536)
        os.set_inheritable(status_fd, False)
        os.execv(program[0], program)
    except BaseException as exc:
        _report_error(status_fd, f"cannot start {program[0]}: {exc}")
    os._exit(127)


def _set_limit(which: int, soft: int, hard: int | None = None) -> None:
    import resource

    _, current_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _reap_all(child: int) -> bool:
    """Reap every exited child; True when ``child`` was among them."""
    found = False
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return found
        found = found or pid == child


def _sweep(child: int) -> None:
    """SIGKILL every descendant until this process has no children left."""
    me, my_group = os.getpid(), os.getpgid(0)
    with suppress(ProcessLookupError):
        os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        descendants = [p for p in _descendants(me, _processes()) if p.state != "Z"]
        # A group kill is atomic against fork, so a fork bomb cannot outrun it.
        for group in {p.pgid for p in descendants} - {my_group}:
            with suppress(OSError):
                os.killpg(group, signal.SIGKILL)
        for proc in descendants:
            with suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.002)


def _report_error(status_fd: int, message: str) -> None:
    with suppress(OSError):
        os.write(status_fd, f"error {message}\n".replace("\n", " ").strip().encode() + b"\n")


def _libc() -> ctypes.CDLL:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _main(argv: list[str]) -> int:
    if argv == ["probe"]:
        return 0
    role, config_json, separator, *program = argv
    if separator != "--" or role not in ("supervise", "init"):
        print("usage: sandbox.py supervise|init CONFIG -- PROGRAM...", file=sys.stderr)
        return 2
    config = json.loads(config_json)
    if role == "init":
        _init(config, program)
    try:
        return _supervise(config, program)
    except Exception as exc:
        _report_error(config["status_fd"], f"supervisor failed: {exc!r}")
        return 70


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
