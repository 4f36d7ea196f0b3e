"""What a sandboxed program sees: its filesystem view, bubblewrap's command line, and how its Python starts.

The view holds only what Python needs, read-only (the Python installation,
``/usr`` and the library directories, the dynamic linker's cache), and the
run's own directory; the ``bwrap`` and ``namespace`` modes of
:mod:`pytest_gptoss.sandbox` build it (bubblewrap from :func:`bwrap_command`,
the namespace mode in :mod:`pytest_gptoss.sandbox_child` from the same view).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pytest_gptoss.sandbox_child import NOBODY

#: the library directories a dynamically linked Python needs, where they exist
SYSTEM_PATHS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache")
#: the supervisor script, and where bubblewrap shows it, so the checkout stays hidden
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox_child.py")
BWRAP_CHILD = "/run/gptoss-sandbox/sandbox_child.py"
#: what the program's Python runs first (``-c``): the program file as ``__main__``, see sandbox_boot.py
PYTHON_BOOT = Path(__file__).with_name("sandbox_boot.py").read_text(encoding="utf-8")


def filesystem_view(workdir: str, python: str) -> dict:
    """What the program's filesystem holds: read-only paths, top-level links, its writable directory."""
    python_paths = {sys.base_prefix, sys.base_exec_prefix, os.path.dirname(python)}
    read_only, symlinks = [], {}
    for path in sorted(python_paths | set(SYSTEM_PATHS)):
        if os.path.islink(path) and os.path.dirname(path) == "/":
            symlinks[path] = os.readlink(path)
        elif os.path.exists(path) and not any(
            _inside(path, other) for other in python_paths | set(SYSTEM_PATHS) - {path}
        ):
            read_only.append(os.path.realpath(path))
    return {"root": os.path.join(os.path.dirname(workdir), "root"), "workdir": workdir,
            "read_only": read_only, "symlinks": symlinks}


def _inside(path: str, other: str) -> bool:
    return os.path.exists(other) and not os.path.islink(other) and path.startswith(other.rstrip("/") + "/")


def bwrap_command(view: dict) -> list[str]:
    import shutil

    binds = [arg for path in view["read_only"] for arg in ("--ro-bind", path, path)]
    links = [arg for path, target in view["symlinks"].items() for arg in ("--symlink", target, path)]
    workdir = view["workdir"]
    return [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--die-with-parent", "--new-session", "--as-pid-1",
        *binds, *links,
        "--ro-bind", CHILD, BWRAP_CHILD,
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--bind", workdir, workdir,
        "--remount-ro", "/",
        "--chdir", workdir,
        "--",
    ]  # fmt: skip
