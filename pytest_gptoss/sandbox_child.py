"""The sandbox's side of a run: supervisor, init and the program's start.

This file runs as a script (``python -I -S sandbox_child.py ...``), so it
imports the standard library only, and only the cheap part of it: every module
it imports is start-up time of every program (``json``, ``dataclasses``,
``contextlib``, ``signal`` and ``typing`` together would double it), so the
config arrives as :func:`encode_config` hex and ``ctypes`` is imported only
where a system call needs it. :mod:`pytest_gptoss.sandbox` starts it and
describes the run in a JSON config; see that module for the whole picture.

In ``namespace`` mode init builds the program's view of the filesystem itself:
a read-only tmpfs root holding read-only binds of the Python installation, a
few device nodes, a fresh ``/proc`` of the run's PID namespace, an empty
``/tmp`` and the run's directory, the only writable place. It pivots into that
root and detaches the old one, and a program started by root runs as
``nobody`` with no capabilities and no way to gain privileges.
"""

from __future__ import annotations

import _signal as signal  # "signal" itself imports enum
import marshal
import os
import sys
import time

TYPE_CHECKING = False  # typing, too, is start-up time
if TYPE_CHECKING:
    import ctypes

OPEN_FILES = 256
NOBODY = 65534
DEVICES = ("null", "zero", "full", "random", "urandom")
TMP_SIZE = "size=64m"

_WATCHED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
_STOPPING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# Flags a bind mount inherits that an unprivileged remount must keep (statvfs -> mount).
_KEPT_FLAGS = ((os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV), (os.ST_NOEXEC, _MS_NOEXEC))


class suppress:  # contextlib.suppress, without importing contextlib
    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


# --- /proc ------------------------------------------------------------------


class Process:
    """One line of /proc/PID/stat, the fields the sweeps need."""

    __slots__ = ("pgid", "pid", "ppid", "sid", "state")

    def __init__(self, pid: int, ppid: int, pgid: int, sid: int, state: str) -> None:
        self.pid, self.ppid, self.pgid, self.sid, self.state = pid, ppid, pgid, sid, state


def encode_config(config: dict) -> str:
    """The config as one command-line word (the same interpreter reads it back)."""
    return marshal.dumps(config).hex()


def processes() -> list[Process]:
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
        found.append(Process(int(name), int(fields[1]), int(fields[2]), int(fields[3]), fields[0]))
    return found


def _descendants(root: int, table: list[Process]) -> list[Process]:
    children: dict[int, list[Process]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    result, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            result.append(child)
            todo.append(child.pid)
    return result


# --- supervisor -------------------------------------------------------------


def _supervise(config: dict, program: list[str]) -> int:
    status_fd = config["status_fd"]
    signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    libc = _libc()
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != config["host_pid"]:
        return 1  # the host is already gone
    mode = config["mode"]
    if mode == "namespace":
        problem = _enter_namespaces(libc)
        if problem:
            _report_error(status_fd, f"cannot start the sandbox (namespace): {problem}")
            return 70
    os.write(status_fd, f"mode {mode}\n".encode())

    child = os.fork()
    if child == 0:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            if mode == "bwrap":
                # init's command line is visible inside: it carries no host paths
                inside = {key: value for key, value in config.items() if key not in ("bwrap", "bwrap_self")}
                init = [program[0], "-I", "-S", "-B", config["bwrap_self"], "init", encode_config(inside), "--",
                        *program]
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


def _enter_namespaces(libc: ctypes.CDLL) -> str:
    """Put this process's future children in new PID, network and mount namespaces; "" or why not."""
    flags = _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWNS
    if libc.unshare(flags) != 0:
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(flags | _CLONE_NEWUSER) != 0:
            return f"unshare: {os.strerror(_errno())}"
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            try:
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
            except OSError as exc:
                return f"cannot map the user namespace: {exc.strerror}"
    # Nothing mounted from here on may reach the host's mount namespace.
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return f"cannot make the mounts private: {os.strerror(_errno())}"
    return ""


# --- init -------------------------------------------------------------------


def _init(config: dict, program: list[str]) -> None:
    """Start the program, wait for it, report its status; never returns."""
    status_fd = config["status_fd"]
    for signum in _STOPPING:
        signal.signal(signum, signal.SIG_DFL)
    if config["mode"] != "bwrap":  # bubblewrap's --die-with-parent does it there
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if config["mode"] == "namespace":
        try:
            _enter_view(config["view"])
        except OSError as exc:
            _report_error(status_fd, f"cannot start the sandbox (namespace): {exc}")
            os._exit(70)
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


def _enter_view(view: dict) -> None:
    """Build the program's filesystem in ``view["root"]`` and make it this process's root."""
    libc = _libc()
    root = view["root"]
    _mount(libc, "tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    for path in view["read_only"]:
        target = root + path
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").close()
        _bind(libc, path, target, read_only=True)
    for path, link in view["symlinks"].items():
        os.symlink(link, root + path)
    os.makedirs(root + "/dev")
    for name in DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        _bind(libc, f"/dev/{name}", f"{root}/dev/{name}", read_only=False)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, f"{root}/dev/{name}")
    os.makedirs(root + "/proc")
    _mount(libc, "proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
    os.makedirs(root + "/tmp")
    _mount(libc, "tmpfs", root + "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, TMP_SIZE + ",mode=1777")
    workdir = view["workdir"]
    os.makedirs(root + workdir, exist_ok=True)
    _bind(libc, workdir, root + workdir, read_only=False)
    _mount(libc, None, root, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
    os.chdir(root)
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root is not known on {os.uname().machine}")
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the new.
    if libc.syscall(number, b".", b".") != 0:
        raise OSError(_errno(), f"pivot_root: {os.strerror(_errno())}")
    if libc.umount2(b".", _MNT_DETACH) != 0:
        raise OSError(_errno(), f"cannot detach the old root: {os.strerror(_errno())}")
    os.chdir(workdir)


def _bind(libc: ctypes.CDLL, source: str, target: str, *, read_only: bool) -> None:
    _mount(libc, source, target, None, _MS_BIND, None)
    if read_only:
        kept = os.statvfs(target).f_flag
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID
        flags |= sum(mount_flag for stat_flag, mount_flag in _KEPT_FLAGS if kept & stat_flag)
        _mount(libc, None, target, None, flags, None)


def _mount(libc: ctypes.CDLL, source: str | None, target: str, kind: str | None, flags: int, data: str | None) -> None:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if libc.mount(raw(source), raw(target), raw(kind), flags, raw(data)) != 0:
        number = _errno()
        raise OSError(number, f"cannot mount {kind or source or 'again'} on {target}: {os.strerror(number)}")


# --- the program ------------------------------------------------------------


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
        if config["mode"] == "namespace":
            _drop_privileges()
        os.closerange(3, status_fd)
        os.closerange(status_fd + 1, 65536)
        os.set_inheritable(status_fd, False)
        os.execv(program[0], program)
    except BaseException as exc:
        _report_error(status_fd, f"cannot start {program[0]}: {exc}")
    os._exit(127)


def _drop_privileges() -> None:
    """Root becomes nobody; nobody, and anyone else, can never gain privileges again."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(_errno(), "cannot forbid new privileges")


def _set_limit(which: int, soft: int, hard: int | None = None) -> None:
    import resource

    _, current_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


# --- ending a run -----------------------------------------------------------


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
        descendants = [p for p in _descendants(me, processes()) if p.state != "Z"]
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


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def main(argv: list[str]) -> int:
    if argv == ["probe"]:
        return 0
    role, config_hex, separator, *program = argv
    if separator != "--" or role not in ("supervise", "init"):
        print("usage: sandbox_child.py supervise|init CONFIG -- PROGRAM...", file=sys.stderr)
        return 2
    config = marshal.loads(bytes.fromhex(config_hex))
    if role == "init":
        _init(config, program)
    try:
        return _supervise(config, program)
    except Exception as exc:
        _report_error(config["status_fd"], f"supervisor failed: {exc!r}")
        return 70


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
