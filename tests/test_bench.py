"""The benchmark still runs, and both of its sides still generate the same tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def test_the_benchmark_runs_and_both_sides_agree() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--shape", "tiny", "--cases", "3", "--rounds", "1", "--max-tokens", "24"],
        capture_output=True, text=True, timeout=300,
    )
    # exit 1 would mean the plugin's path generated other tokens than plain llama-cpp-python
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| plain llama-cpp-python |" in done.stdout
    assert "plugin / plain time per token: " in done.stdout
