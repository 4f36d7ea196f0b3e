"""The benchmark still runs and prints the figures bench/README.md quotes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def _bench(*args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH), "--shape", "tiny", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_n_in_flight_against_one_at_a_time() -> None:
    out = _bench("--cases", "3", "--parallel", "2", "--max-tokens", "16")
    assert "| in flight | requests | tokens |" in out
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \|", out, re.MULTILINE)
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][1] == rows[1][1] == "3"  # the same requests on both sides
    assert re.search(r"\nspeedup \d+\.\d\d \(2 in flight vs one at a time, same model and prompts\)\n$", out)


def test_samples_of_one_prompt_prefill_it_once() -> None:
    out = _bench("--case", "frog-well", "--compare-sharing", "--parallel", "3", "--max-tokens", "8")
    shared, separate = map(int, re.search(r"shared prefill: (\d+) tokens instead of (\d+)", out).groups())
    prompt = int(re.search(r"\((\d+) prompt tokens\)", out).group(1))
    assert separate == 3 * prompt
    assert shared == prompt + 2  # the prefix once, then each sample feeds the prompt's last token


def test_token_prompts_go_straight_to_the_engine() -> None:
    out = _bench("--token-prompts", "distinct", "--prompt-tokens", "40", "--samples", "3", "--parallel", "3",
                 "--max-tokens", "8")
    rates = re.findall(r"^(\d+) in flight: 3 distinct prompts of 40 tokens, decode (\d+\.\d) tokens/s$", out,
                       re.MULTILINE)
    assert [width for width, _ in rates] == ["1", "3"]
    assert all(float(rate) > 0 for _, rate in rates)


def test_the_next_generations_of_exchanges_prefill_only_what_their_slots_do_not_hold() -> None:
    out = _bench("--continuations", "--prompt-tokens", "60", "--parallel", "3", "--max-tokens", "8")
    rows = dict((name, (int(prefilled), int(reused))) for name, prefilled, reused in
                re.findall(r"^\| (prefilled whole|reused) \| (\d+) \| (\d+) \|", out, re.MULTILINE))
    whole, (prefilled, reused) = rows["prefilled whole"], rows["reused"]
    assert whole[1] == 0 and prefilled + reused == whole[0]
    # each of the 3 feeds the tool's 40-token message and the token it sampled last, nothing more
    assert prefilled == 3 * 41
    assert re.search(r"\n[0-3] of 3 next generations gave the same tokens both ways\n", out)
    assert re.search(r"\nnext generations: 123 tokens prefilled instead of \d+, time \d+\.\d\d of prefilling whole\n$",
                     out)


def test_the_server_backend_against_the_bare_openai_client() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--server", "echo", "--cases", "3", "--samples", "2",
                           "--rounds", "2", "--parallel", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = re.findall(r"^\| (bare openai client|server backend) \| (\d+) \| (\d+) \|", done.stdout, re.MULTILINE)
    # the same requests on both sides, every one answered
    assert rows == [("bare openai client", "12", "24"), ("server backend", "12", "24")]
    assert re.search(r"\nbackend overhead [+-]\d+\.\d\d ms per request, [+-]\d+\.\d\d% of the backend's wall time\n$",
                     done.stdout)
