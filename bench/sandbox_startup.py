"""Sandbox start-up cost: the wall time of running a program that does nothing, per isolation mode.

Every round runs ``pass`` once in each mode, alternating, so a busy moment on
the machine hits every mode alike; the figure is the median over the rounds.
``--repo`` measures another checkout's sandbox (an older commit unpacked with
``git archive``), so a change is compared on the same machine in one sitting.

    python bench/sandbox_startup.py
    python bench/sandbox_startup.py --rounds 50 --repo /tmp/sandbox-before
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="runs per mode (default: 30)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose sandbox to measure")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from pytest_gptoss import sandbox

    modes = sandbox.isolation_modes()
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for mode in modes:  # one unmeasured run each: imports and probes are not start-up cost
        sandbox.run_program("pass", isolation=mode)
    for _ in range(args.rounds):
        for mode in modes:
            started = time.perf_counter()
            result = sandbox.run_program("pass", isolation=mode)
            times[mode].append(time.perf_counter() - started)
            if not result.ok or result.isolation != mode:
                print(f"{mode}: the run failed: {result}", file=sys.stderr)
                return 1
    print(f"sandbox start-up, {args.rounds} rounds, {sandbox.__file__}")
    for mode in modes:
        ms = sorted(t * 1000 for t in times[mode])
        print(f"{mode:10} median {statistics.median(ms):6.1f} ms   min {ms[0]:6.1f} ms   max {ms[-1]:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
