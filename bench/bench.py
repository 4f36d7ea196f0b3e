"""Speed benchmark: the plugin's generation path against plain llama-cpp-python.

Both sides run the same model, the same harmony prompts (the shipped cases'),
the same seeds and the same sampling settings, in one process, alternating
case by case, so the only difference is the plugin's own work: rendering,
stop handling, detokenizing and parsing the channels. The result is a ratio
measured in one run, never an absolute figure to compare across machines.

    python bench/bench.py                        # a random gpt-oss of the "small" shape, on CPU
    python bench/bench.py --shape tiny
    python bench/bench.py --model /models/gpt-oss-20b-mxfp4.gguf --n-gpu-layers -1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_gptoss import harmony  # noqa: E402
from pytest_gptoss.backends import Request, sample_seed  # noqa: E402
from pytest_gptoss.backends.llama import LlamaBackend, Runtime  # noqa: E402
from pytest_gptoss.cases import load_file  # noqa: E402
from pytest_gptoss.models import cache_dir  # noqa: E402
from pytest_gptoss.tiny import GPT_OSS_20B, TinyShape, write_gguf  # noqa: E402

SHAPES = {
    "tiny": TinyShape(),
    # small enough to write in seconds, with the real 201,088-token vocabulary so that
    # the output layer and sampling cost what they cost on gpt-oss
    "small": TinyShape(hidden=512, layers=4, heads=8, kv_heads=4, head_dim=64, experts=8,
                       experts_used=2, expert_ff=512, sliding_window=128, vocab_size=201088),
    "20b": GPT_OSS_20B,
}


def model_path(args: argparse.Namespace) -> Path:
    if args.model:
        return Path(args.model)
    path = cache_dir() / f"bench-{args.shape}-{args.dtype}.gguf"
    if not path.is_file():
        print(f"writing a random gpt-oss GGUF of the {args.shape} shape to {path} ...", file=sys.stderr)
        write_gguf(path, SHAPES[args.shape], dtype=args.dtype)
    return path


def prompts(limit: int) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    cases = [case for path in sorted((REPO / "cases").glob("*.yaml")) for case in load_file(path)]
    return [(case.id, case.messages) for case in cases[:limit]]


def plain_generate(llm: object, messages: tuple[tuple[str, str], ...], seed: int, max_tokens: int) -> int:
    """What a user of llama-cpp-python alone would write: the same prompt, seed and stop tokens."""
    prompt = llm.tokenize(harmony.render_prompt(messages, "medium").encode(), add_bos=False, special=True)
    stops = {llm.tokenize(t.encode(), add_bos=False, special=True)[0]
             for t in (*harmony.STOP_TOKENS, harmony.ENDOFTEXT)}
    budget = min(max_tokens, llm.n_ctx() - len(prompt))
    llm.reset()
    llm.set_seed(seed)
    count = 0
    for token in llm.generate(prompt, top_k=0, top_p=1.0, min_p=0.0, temp=1.0, repeat_penalty=1.0):
        count += 1
        if token in stops or count >= budget:
            break
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--dtype", default="F16", help="weights of the written model: F32, F16, Q8_0, MXFP4")
    parser.add_argument("--model", help="an existing GGUF instead of a written one")
    parser.add_argument("--cases", type=int, default=8, help="how many shipped cases to use as prompts")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-gpu-layers", type=int, default=-1)
    args = parser.parse_args()

    path = model_path(args)
    backend = LlamaBackend("bench", path, Runtime(ctx=args.ctx, n_gpu_layers=args.n_gpu_layers, threads=args.threads))
    started = time.perf_counter()
    llm = backend.llm  # one load, shared by both sides
    load_seconds = time.perf_counter() - started
    work = prompts(args.cases)

    # one untimed generation per side first: the first call pays for kernel loading and warm-up
    case, messages = work[0]
    plain_generate(llm, messages, 0, 8)
    backend.generate([Request(case, messages, "medium", 0, 0, 8, 1.0, 1.0)])

    plain_times, plugin_times, plain_tokens, plugin_tokens = [], [], 0, 0
    for round_index in range(args.rounds):
        plain_round = plugin_round = 0.0
        for index, (case, messages) in enumerate(work):
            seed = sample_seed(round_index, case, 0)
            request = Request(case, messages, "medium", 0, seed, args.max_tokens, 1.0, 1.0)
            sides = ("plain", "plugin") if index % 2 == 0 else ("plugin", "plain")
            for side in sides:
                start = time.perf_counter()
                if side == "plain":
                    plain_tokens += plain_generate(llm, messages, seed, args.max_tokens)
                    plain_round += time.perf_counter() - start
                else:
                    plugin_tokens += backend.generate([request])[0].completion_tokens
                    plugin_round += time.perf_counter() - start
        plain_times.append(plain_round)
        plugin_times.append(plugin_round)

    plain_rate = plain_tokens / sum(plain_times)
    plugin_rate = plugin_tokens / sum(plugin_times)
    print(f"model: {path.name} ({path.stat().st_size / 1e9:.2f} GB), loaded in {load_seconds:.2f} s")
    print(f"work: {len(work)} shipped cases x {args.rounds} rounds, up to {args.max_tokens} tokens each")
    print()
    print("| side | tokens | seconds (median round) | tokens/s |")
    print("| --- | --- | --- | --- |")
    print(f"| plain llama-cpp-python | {plain_tokens} | {statistics.median(plain_times):.3f} | {plain_rate:.1f} |")
    print(f"| pytest-gptoss backend | {plugin_tokens} | {statistics.median(plugin_times):.3f} | {plugin_rate:.1f} |")
    print()
    print(f"plugin / plain time per token: {plain_rate / plugin_rate:.3f}")
    if plain_tokens != plugin_tokens:
        print(f"warning: token counts differ ({plain_tokens} vs {plugin_tokens}); the sides did not generate "
              "the same text", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
