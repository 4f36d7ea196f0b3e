"""Speed benchmark: the batched engine against itself one at a time, and against llama.cpp's own tools.

Every figure is a ratio measured in one run on one machine, never an absolute
figure to compare across machines.

    python bench/bench.py --shape small --parallel 4     # N in flight vs one at a time, on the CPU
    python bench/bench.py --shape small --case phi4-mini-report --compare-sharing   # shared prompt prefill
    python bench/bench.py --model 20b.gguf --n-gpu-layers -1 --parallel 8,32 \\
        --llama-bench build/bin/llama-bench --batched-bench build/bin/llama-batched-bench
    python bench/bench.py --server http://127.0.0.1:8080/v1 --parallel 4   # the server backend vs bare openai
    python bench/bench.py --server echo --parallel 4     # the same against an instant local stand-in

The first mode sends the same requests (the shipped cases' harmony prompts,
the same seeds) through the plugin's backend twice, with ``--gptoss-parallel``
1 and N, and prints the aggregate throughput of each. With ``--llama-bench``
and ``--batched-bench`` it also runs those tools on the same model and prints
the plugin's decode speed as a fraction of theirs: single-stream against
``llama-bench`` tg, N in flight against ``llama-batched-bench`` at N.

With ``--server`` it measures the server backend's own cost instead: the same
chat requests (the shipped cases' messages and seeds) go to one server through
the backend and through the bare ``openai`` client with as many in flight,
round after round in alternating order, and it prints the backend's wall time
over the bare client's. ``--server echo`` starts an instant local server, so
that what is left is the client side alone, in milliseconds per request.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def shipped_cases() -> list[Any]:
    return [case for path in sorted((REPO / "cases").glob("*.yaml")) for case in load_file(path)]


def requests(cases: list[Any], samples: int, max_tokens: int) -> list[Request]:
    return [Request(case.id, case.messages, "medium", index, sample_seed(0, case.id, index), max_tokens, 1.0, 1.0)
            for case in cases for index in range(samples)]


def run_batch(backend: LlamaBackend, work: list[Request]) -> dict[str, Any]:
    """Submit every request at once, wait for all; the engine's figures for this batch alone."""
    before = backend.stats() if backend.stats() else {}
    started = time.perf_counter()
    generations = [future.result() for future in backend.submit(work)]
    seconds = time.perf_counter() - started
    after = backend.stats()

    def delta(key: str) -> float:
        return float(after[key] - before.get(key, 0))

    tokens = sum(g.completion_tokens for g in generations if g is not None)
    return {
        "tokens": tokens,
        "seconds": seconds,
        "rate": tokens / seconds,
        "decode_rate": delta("decode_tokens") / delta("decode_seconds") if delta("decode_seconds") else 0.0,
        "prefill_tokens": int(delta("prefill_tokens")),
        "llama_share": delta("llama_seconds") / delta("busy_seconds") if delta("busy_seconds") else 0.0,
        "peak": after["peak_in_flight"],
        "sampling": after["sampling"],
        "requests": len(generations),
    }


def backend_for(path: Path, args: argparse.Namespace, parallel: int, *, share: bool = True,
                reuse: bool = False) -> LlamaBackend:
    # by default no memory reused from the warm-up: every measured request prefills its prompt, as llama.cpp's
    # tools do
    runtime = Runtime(ctx=args.ctx, n_gpu_layers=args.n_gpu_layers, threads=args.threads, parallel=parallel,
                      flash_attn=args.flash_attn, sampling=args.sampling, share_prefix=share, reuse_memory=reuse)
    return LlamaBackend(f"bench-{parallel}", path, runtime)


def warm(backend: LlamaBackend, work: list[Request]) -> None:
    """One short untimed batch first: the first call pays for kernel loading and the context."""
    short = [Request(r.case, r.messages, r.reasoning, r.sample, r.seed, 4, 1.0, 1.0) for r in work]
    for future in backend.submit(short):
        future.result()


def table(rows: list[tuple[str, ...]]) -> None:
    print("| " + " | ".join(rows[0]) + " |")
    print("| " + " | ".join("---" for _ in rows[0]) + " |")
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")


def llama_bench(tool: str, path: Path, args: argparse.Namespace, tokens: int, depth: int) -> float:
    """llama-bench's tg tokens/s for ``tokens`` generated tokens after ``depth`` tokens of context."""
    command = [tool, "-m", str(path), "-p", "0", "-n", str(tokens), "-d", str(depth),
               "-ngl", "99" if args.n_gpu_layers else "0",
               "-fa", "0" if args.flash_attn == "off" else "1", "-o", "json", "-r", "3"]
    print("$ " + " ".join(command), file=sys.stderr)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)[0]["avg_ts"])


def batched_bench(tool: str, path: Path, args: argparse.Namespace, prompt: int, tokens: int,
                  parallel: list[int]) -> dict[int, float]:
    """llama-batched-bench's S_TG (aggregate decode tokens/s) for each number of sequences."""
    ctx = max(parallel) * (prompt + tokens) + 256
    command = [tool, "-m", str(path), "-c", str(ctx), "-b", "512", "-ub", "512", "-npp", str(prompt),
               "-ntg", str(tokens), "-npl", ",".join(str(p) for p in parallel),
               "-ngl", "99" if args.n_gpu_layers else "0", "-fa", "off" if args.flash_attn == "off" else "on",
               "--output-format", "jsonl"]
    print("$ " + " ".join(command), file=sys.stderr)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rates = {}
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rates[int(row["pl"])] = float(row["speed_tg"])
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--dtype", default="F16", help="weights of the written model: F32, F16, Q8_0, MXFP4")
    parser.add_argument("--model", help="an existing GGUF instead of a written one")
    parser.add_argument("--parallel", default="4", help="sequences in flight, or a comma list (default: 4)")
    parser.add_argument("--cases", type=int, default=8, help="how many shipped cases to use as prompts")
    parser.add_argument("--case", help="one shipped case's prompt for every request (with --samples)")
    parser.add_argument("--samples", type=int, default=0,
                        help="requests per case, sharing its prompt (default: enough to fill the most in flight)")
    parser.add_argument("--compare-sharing", action="store_true",
                        help="samples of one prompt prefilled once against each prefilling its own")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096, help="context per sequence at most")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--n-gpu-layers", type=int, default=-1)
    parser.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--sampling", choices=("auto", "backend", "cpu"), default="auto")
    parser.add_argument("--batched-depth", default="",
                        help="prompt lengths for llama-batched-bench, comma list (default: the prompts' mean)")
    parser.add_argument("--token-prompts", choices=("distinct", "same", "constant"),
                        help="prompts of --prompt-tokens random token ids instead of the shipped cases': "
                             "a different one per request, one for all, or one id repeated (as llama-batched-bench)")
    parser.add_argument("--prompt-tokens", type=int, default=822, help="length of --token-prompts prompts")
    parser.add_argument("--continuations", action="store_true",
                        help="the next generation of an exchange with tools (the last prompt, its answer and a "
                             "tool's message), its slot's memory reused against prefilled whole")
    parser.add_argument("--llama-bench", help="path of llama-bench, to compare single-stream decoding")
    parser.add_argument("--batched-bench", help="path of llama-batched-bench, to compare N in flight")
    parser.add_argument("--server", help="an OpenAI-compatible server URL[#MODEL], or 'echo': measure the server "
                        "backend against the bare openai client")
    parser.add_argument("--rounds", type=int, default=5, help="with --server: rounds of each side (default: 5)")
    args = parser.parse_args()
    parallel = [int(p) for p in args.parallel.split(",")]
    if args.server:
        return server_overhead(args, parallel[0])

    path = model_path(args)
    if args.token_prompts:  # prompts of random tokens: no shipped case is read
        return token_prompts(path, args, parallel)
    if args.continuations:
        return continuations(path, args, parallel[0])
    cases = shipped_cases()
    if args.case:
        cases = [case for case in cases if case.id == args.case]
        if not cases:
            parser.error(f"no shipped case '{args.case}'")
    else:
        cases = cases[:args.cases]
    print(f"model: {path.name} ({path.stat().st_size / 1e9:.2f} GB)")

    if args.compare_sharing:
        return shared_prefix(path, args, cases, parallel[0])

    # as many requests as the most sequences in flight, so every batch can fill
    work = requests(cases, args.samples or -(-max(parallel) // len(cases)), args.max_tokens)
    results = {}
    for width in [1, *parallel]:
        backend = backend_for(path, args, width)
        warm(backend, work)
        results[width] = run_batch(backend, work)
        backend.close()
    lengths = [len(backend.model.tokenize(backend.prompt_text(request))) for request in work]
    depth = round(sum(lengths) / len(lengths))
    print(f"work: {len(work)} requests over {len(cases)} shipped cases' prompts ({min(lengths)}-{max(lengths)} "
          f"tokens, mean {depth}), up to {args.max_tokens} tokens each; sampling on the {results[1]['sampling']}")
    print()
    table([("in flight", "requests", "tokens", "seconds", "tokens/s", "decode tokens/s", "in llama.cpp",
            "peak in flight")] + [
        (str(width), str(r["requests"]), str(r["tokens"]), f"{r['seconds']:.2f}", f"{r['rate']:.1f}",
         f"{r['decode_rate']:.1f}", f"{r['llama_share']:.1%}", str(r["peak"])) for width, r in results.items()])
    print()

    if args.llama_bench:
        for at in sorted({0, depth}):
            tg = llama_bench(args.llama_bench, path, args, args.max_tokens, at)
            print(f"single stream: plugin {results[1]['decode_rate']:.1f} tokens/s, llama-bench tg{args.max_tokens} "
                  f"at depth {at} {tg:.1f} tokens/s, ratio {results[1]['decode_rate'] / tg:.3f}")
    if args.batched_bench:
        for at in [int(d) for d in args.batched_depth.split(",") if d] or [depth]:
            rates = batched_bench(args.batched_bench, path, args, at, args.max_tokens, [1, *parallel])
            for width in [1, *parallel]:
                ours = results[width]["decode_rate"]
                print(f"{width} in flight: plugin {ours:.1f} decode tokens/s, llama-batched-bench at depth {at} "
                      f"{rates[width]:.1f}, ratio {ours / rates[width]:.3f}")
    for width in parallel:
        speedup = results[width]["rate"] / results[1]["rate"]
        print(f"speedup {speedup:.2f} ({width} in flight vs one at a time, same model and prompts)")
    return 0


def _token_prompts(mode: str, vocab: int, length: int, count: int) -> list[tuple[int, ...]]:
    """``count`` prompts of random ordinary token ids (gpt-oss's special tokens sit above 200,000)."""
    import random

    low, high = min(1000, vocab // 2), min(vocab, 200_000)
    draw = random.Random(0)
    first = tuple(draw.randrange(low, high) for _ in range(length))
    if mode == "same":
        return [first] * count
    if mode == "constant":
        return [(first[0],) * length] * count
    return [first] + [tuple(draw.randrange(low, high) for _ in range(length)) for _ in range(count - 1)]


def token_prompts(path: Path, args: argparse.Namespace, parallel: list[int]) -> int:
    """Requests of random token ids straight into the engine: which inputs make batching cheap."""

    from pytest_gptoss.backends.engine import EngineRequest

    count = args.samples or max(parallel)
    import llama_cpp

    rates = {}
    for width in [1, *parallel]:
        backend = backend_for(path, args, width, share=False)
        vocab = llama_cpp.llama_vocab_n_tokens(backend.model.vocab)
        work = [EngineRequest(prompt, args.max_tokens, index, 1.0, 1.0, frozenset())
                for index, prompt in enumerate(_token_prompts(args.token_prompts, vocab, args.prompt_tokens, count))]
        engine = backend.engine
        for future in engine.submit([EngineRequest(r.prompt, 4, r.seed, 1.0, 1.0, frozenset()) for r in work]):
            future.result()
        # the engine's own counters, not stats(), which rounds seconds to the millisecond: a small model's
        # few steps can take less than that
        tokens, seconds = engine.decode_tokens, engine.decode_seconds
        for future in engine.submit(work):
            future.result()
        tokens, seconds = engine.decode_tokens - tokens, engine.decode_seconds - seconds
        rates[width] = tokens / seconds if seconds else 0.0
        backend.close()
        print(f"{width} in flight: {count} {args.token_prompts} prompts of {args.prompt_tokens} tokens, "
              f"decode {rates[width]:.1f} tokens/s")
    if args.batched_bench:
        tool = batched_bench(args.batched_bench, path, args, args.prompt_tokens, args.max_tokens, [1, *parallel])
        for width in [1, *parallel]:
            print(f"{width} in flight: {args.token_prompts} prompts {rates[width]:.1f} decode tokens/s, "
                  f"llama-batched-bench {tool[width]:.1f}, ratio {rates[width] / tool[width]:.3f}")
    return 0


def continuations(path: Path, args: argparse.Namespace, width: int) -> int:
    """Exchanges with tools: each next generation reusing its slot's memory, against prefilling its whole prompt."""
    import llama_cpp

    from pytest_gptoss.backends.engine import EngineRequest
    from pytest_gptoss.backends.llama import TOOL_ROOM

    count = args.samples or width
    figures, answers = {}, {}
    for reuse in (False, True):
        backend = backend_for(path, args, width, reuse=reuse)
        vocab = llama_cpp.llama_vocab_n_tokens(backend.model.vocab)
        prompts = _token_prompts("distinct", vocab, args.prompt_tokens, count)
        engine = backend.engine
        # with the room the backend keeps for an exchange with tools; greedy, so that the two ways can be
        # compared token for token: on a random model's nearly flat distributions a seeded draw moves with
        # any rounding, a prefill in other chunks included
        firsts = [f.result() for f in engine.submit([EngineRequest(p, args.max_tokens, i, 0.0, 1.0, frozenset(),
                                                                   room=TOOL_ROOM) for i, p in enumerate(prompts)])]
        answer = _token_prompts("same", vocab, 40, 1)[0]  # a tool's message, the same length for every exchange
        follow = [EngineRequest(p + first.tokens + answer, args.max_tokens, i, 0.0, 1.0, frozenset())
                  for i, (p, first) in enumerate(zip(prompts, firsts))]
        before, started = engine.stats(), time.perf_counter()
        answers[reuse] = [future.result().tokens for future in engine.submit(follow)]
        seconds, after = time.perf_counter() - started, engine.stats()
        figures[reuse] = (after["prefill_tokens"] - before["prefill_tokens"],
                          after["reused_tokens"] - before["reused_tokens"], seconds)
        backend.close()
    print(f"work: {count} exchanges, {width} in flight: a prompt of {args.prompt_tokens} random tokens, up to "
          f"{args.max_tokens} generated greedily, then the next generation after a tool's message of 40 tokens")
    print()
    table([("memory", "prefilled tokens", "reused tokens", "seconds")] + [
        ("reused" if reuse else "prefilled whole", str(prefilled), str(reused), f"{seconds:.2f}")
        for reuse, (prefilled, reused, seconds) in figures.items()])
    # batches of other shapes may still change the arithmetic, and so a near tie, on some backends
    same = sum(a == b for a, b in zip(answers[True], answers[False]))
    print(f"\n{same} of {count} next generations gave the same tokens both ways")
    print(f"next generations: {figures[True][0]} tokens prefilled instead of {figures[False][0]}, "
          f"time {figures[True][2] / figures[False][2]:.2f} of prefilling whole")
    return 0


def shared_prefix(path: Path, args: argparse.Namespace, cases: list[Any], width: int) -> int:
    """Samples of one prompt: prefilled once and copied, against each prefilling its own."""
    work = requests(cases, args.samples or width, args.max_tokens)
    figures = {}
    for share in (False, True):
        backend = backend_for(path, args, width, share=share)
        warm(backend, work[:1])
        figures[share] = run_batch(backend, work)
        backend.close()
    prompt = len(backend.model.tokenize(backend.prompt_text(work[0])))
    print(f"work: {args.samples} samples of '{cases[0].id}' ({prompt} prompt tokens), up to {args.max_tokens} "
          f"tokens each, {width} in flight")
    print()
    table([("prompt", "prefilled tokens", "seconds", "tokens/s")] + [
        ("shared" if share else "each its own", str(r["prefill_tokens"]), f"{r['seconds']:.2f}", f"{r['rate']:.1f}")
        for share, r in figures.items()])
    print()
    print(f"shared prefill: {figures[True]['prefill_tokens']} tokens instead of {figures[False]['prefill_tokens']}, "
          f"time {figures[True]['seconds'] / figures[False]['seconds']:.2f} of each-its-own")
    return 0


def server_overhead(args: argparse.Namespace, width: int) -> int:
    """The server backend's wall time against the bare openai client's, same server, requests and concurrency."""
    from pytest_gptoss import servers
    from pytest_gptoss.backends.openai_server import ServerBackend

    echo = _echo_server() if args.server == "echo" else None
    spec = f"http://127.0.0.1:{echo.server_address[1]}/v1" if echo is not None else args.server
    url, model = servers.parse_server_spec(spec)
    server = servers.Server(url, model or servers.only_model(url), servers.api_key())
    backend = ServerBackend("bench", server, identity=servers.identity(server), parallel=width, timeout=600.0)
    bare = servers.client(url, timeout=600.0)
    cases = shipped_cases()[:args.cases]
    work = requests(cases, args.samples or 1, args.max_tokens)

    def bare_one(request: Request) -> int:
        body = backend.body(request)
        extra = {key: body.pop(key) for key in ("chat_template_kwargs",) if key in body}
        completion = bare.chat.completions.create(**body, extra_body=extra or None)
        return completion.usage.completion_tokens if completion.usage else 0

    def with_bare() -> tuple[float, int]:
        started = time.perf_counter()
        with ThreadPoolExecutor(width) as pool:
            tokens = sum(pool.map(bare_one, work))
        return time.perf_counter() - started, tokens

    def with_backend() -> tuple[float, int]:
        started = time.perf_counter()
        generations = [future.result() for future in backend.submit(work)]
        return time.perf_counter() - started, sum(g.completion_tokens for g in generations if g is not None)

    with_bare(), with_backend()  # warm: connections, the server's prompt cache
    seconds = {"bare openai client": 0.0, "server backend": 0.0}
    tokens = {"bare openai client": 0, "server backend": 0}
    for round_ in range(args.rounds):
        sides = [("bare openai client", with_bare), ("server backend", with_backend)]
        for name, run in sides if round_ % 2 == 0 else sides[::-1]:
            took, made = run()
            seconds[name] += took
            tokens[name] += made
    backend.close()
    if echo is not None:
        echo.shutdown()
    count = len(work) * args.rounds
    print(f"server: {servers.describe(backend.identity())}")
    print(f"work: {len(work)} requests ({len(cases)} shipped cases' messages), up to {args.max_tokens} tokens each, "
          f"{width} in flight, {args.rounds} rounds of each side in alternating order")
    print()
    table([("client", "requests", "tokens", "seconds", "ms per request")] + [
        (name, str(count), str(tokens[name]), f"{seconds[name]:.3f}", f"{1000 * seconds[name] / count:.2f}")
        for name in seconds])
    print()
    extra = seconds["server backend"] - seconds["bare openai client"]
    print(f"backend overhead {1000 * extra / count:+.2f} ms per request, {extra / seconds['server backend']:+.2%} "
          f"of the backend's wall time")
    return 0


def _echo_server() -> ThreadingHTTPServer:
    """An instant OpenAI-compatible server on 127.0.0.1: one model, one fixed answer."""

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "echo", "object": "model"}]}
                       if self.path == "/v1/models" else {"detail": "Not Found"})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200, {"id": "e", "object": "chat.completion", "created": 0, "model": "echo",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "42", "reasoning": "x"}}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})

        def _send(self, status: int, data: Any) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status if self.command == "POST" or self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    raise SystemExit(main())
