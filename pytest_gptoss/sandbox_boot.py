# What a sandboxed program's Python runs first, given as its `-c` code (sandbox_view.PYTHON_BOOT): it runs
# the program file named by its first argument as __main__ under `python -I -S`. There are no
# site-packages there, yet `exit()` and `quit()` work, and a traceback shows only the program's frames.
# It leaves no name of its own behind in __main__.


def _boot() -> None:
    import _sitebuiltins
    import builtins
    import sys

    import __main__

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
        exc.__traceback__ = exc.__traceback__.tb_next if exc.__traceback__ else None
        sys.excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)


if __name__ == "__main__":  # as `-c` code; importing this module runs nothing
    _boot()
