"""The response cache: keyed on everything that changes a generation, never on anything else."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_gptoss.backends import BackendError, Generation, Request, done
from pytest_gptoss.cache import CachedBackend, ResponseCache, cache_key
from pytest_gptoss.harmony import Message, Tool

CASES = "cases:\n  - id: a\n    prompt: q\n    samples: 2\n    max_tokens: 24\n    check: {numeric: 1}\n"
REQUEST = Request("a", (("user", "q"),), "medium", 0, 7, 24, 1.0, 1.0)
MODEL = {"header_sha256": "ab" * 32, "size": 1, "architecture": "gpt-oss"}
#: REQUEST's key on MODEL and RUNTIME as computed at 8524a3f, before requests could carry tools
KEY_BEFORE_TOOLS = "bc6d9456219a64fb336804636e5a4e069b475f47baa17574d5051e42e7bbef7c"
RUNTIME = {"ctx": 32768, "n_gpu_layers": -1, "threads": None, "build": {"llama_cpp_python": "0.3.36"}}


def transcripts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def caching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPTOSS_NO_CACHE", raising=False)


@pytest.mark.usefixtures("caching")
def test_a_rerun_comes_from_the_cache_and_gives_the_same_answers(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASES})
    first = pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses", "--gptoss-record=one.jsonl")
    second = pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses", "--gptoss-record=two.jsonl")
    one, two = transcripts(pytester.path / "one.jsonl"), transcripts(pytester.path / "two.jsonl")
    assert [t.get("cached", False) for t in one] == [False, False]
    assert [t["cached"] for t in two] == [True, True]
    assert [{k: v for k, v in t.items() if k != "cached"} for t in two] == one
    assert len(list((pytester.path / "responses").rglob("*.json"))) == 2
    assert first.parseoutcomes() == second.parseoutcomes()
    second.stdout.fnmatch_lines(["2 of 2 generations came from the response cache*"])


@pytest.mark.usefixtures("caching")
def test_no_cache_neither_reads_nor_writes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASES})
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses", "--gptoss-no-cache", "--gptoss-record=t.jsonl")
    assert not (pytester.path / "responses").exists()
    assert not any(t.get("cached") for t in transcripts(pytester.path / "t.jsonl"))


@pytest.mark.usefixtures("caching")
def test_a_new_seed_misses_the_cache(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"cases/c": CASES})
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses")
    pytester.runpytest("--gptoss-model=tiny", "--gptoss-cache-dir=responses", "--gptoss-seed=1", "--gptoss-record=t.jsonl")
    assert not any(t.get("cached") for t in transcripts(pytester.path / "t.jsonl"))
    assert len(list((pytester.path / "responses").rglob("*.json"))) == 4


@pytest.mark.parametrize(
    "change",
    [
        lambda r, m, rt: (replace(r, seed=8), m, rt),
        lambda r, m, rt: (replace(r, reasoning="high"), m, rt),
        lambda r, m, rt: (replace(r, messages=(("user", "q2"),)), m, rt),
        lambda r, m, rt: (replace(r, temperature=0.5), m, rt),
        lambda r, m, rt: (replace(r, top_p=0.9), m, rt),
        lambda r, m, rt: (replace(r, max_tokens=25), m, rt),
        lambda r, m, rt: (r, {**m, "header_sha256": "cd" * 32}, rt),
        lambda r, m, rt: (r, m, {**rt, "n_gpu_layers": 0}),
        lambda r, m, rt: (r, m, {**rt, "build": {"llama_cpp_python": "0.3.37"}}),
        lambda r, m, rt: (replace(r, tools=(Tool("rate", "A rate."),)), m, rt),
        lambda r, m, rt: (replace(r, builtin_tools=("python",)), m, rt),
        lambda r, m, rt: (replace(r, history=(Message("tool", "1", channel="commentary", name="functions.rate"),)),
                          m, rt),
    ],
    ids=["seed", "effort", "prompt", "temperature", "top_p", "max_tokens", "model", "gpu", "build", "tools",
         "python-tool", "history"],
)
def test_everything_that_changes_a_generation_changes_the_key(change) -> None:
    assert cache_key(*change(REQUEST, MODEL, RUNTIME)) != cache_key(REQUEST, MODEL, RUNTIME)


def test_a_request_without_tools_keeps_the_key_it_had_before_requests_could_carry_them() -> None:
    # computed at 8524a3f, before requests had tools, builtin_tools and history
    assert cache_key(REQUEST, MODEL, RUNTIME) == KEY_BEFORE_TOOLS


def test_the_sample_index_alone_does_not_change_the_key() -> None:
    # the seed already differs per sample; the index is only where the answer is reported
    assert cache_key(replace(REQUEST, sample=3), MODEL, RUNTIME) == cache_key(REQUEST, MODEL, RUNTIME)


class Counting:
    label = "m"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def submit(self, requests: list[Request]) -> list:
        self.calls.append(len(requests))
        return [done(Generation(case=r.case, model="m", reasoning=r.reasoning, sample=r.sample, final=f"{r.seed}"))
                for r in requests]

    def stats(self) -> dict:
        return {}


def generate(backend: CachedBackend, requests: list[Request]) -> list[Generation]:
    return [future.result() for future in backend.submit(requests)]


def test_only_the_misses_are_generated(tmp_path: Path) -> None:
    inner = Counting()
    backend = CachedBackend(inner, ResponseCache(tmp_path), MODEL, RUNTIME)
    first = generate(backend, [REQUEST])
    both = generate(backend, [REQUEST, replace(REQUEST, sample=1, seed=9)])
    assert inner.calls == [1, 1]
    assert [g.final for g in both] == ["7", "9"] and [g.cached for g in both] == [True, False]
    assert first[0].final == "7"


@pytest.mark.parametrize("content", [
    "{not json", '{"final": "x"}', '{"case": "a", "final": "7", "finish_re',
    '{"case": "a", "final": "7", "finish_reason": "stop", "completion_tokens": 1, "has_final": true, '
    '"tool_calls": [{"recipient": "python", "seconds": "slow"}]}'],
    ids=["not-json", "written-by-something-else", "truncated", "a-field-of-the-wrong-type"])
def test_an_unusable_entry_is_a_miss_with_one_warning_and_is_rewritten(tmp_path: Path, content: str) -> None:
    inner = Counting()
    cache = ResponseCache(tmp_path)
    backend = CachedBackend(inner, cache, MODEL, RUNTIME)
    generate(backend, [REQUEST])
    (entry,) = list(tmp_path.rglob("*.json"))
    entry.write_text(content)
    with pytest.warns(UserWarning, match="cannot be used") as caught:
        again = generate(backend, [REQUEST])
    assert len(caught) == 1
    assert inner.calls == [1, 1] and not again[0].cached
    assert json.loads(entry.read_text())["final"] == "7"
    assert generate(backend, [REQUEST])[0].cached  # rewritten whole


class Later:
    """A backend whose generations are finished by another thread, as the engine's and a server's are."""

    label = "m"

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def submit(self, requests: list[Request]) -> list:
        made = [Future() for _ in requests]
        self.futures.extend(made)
        return made


def test_an_answer_is_seen_only_once_it_is_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResponseCache(tmp_path)
    slow_put = cache.put

    def put(key: str, transcript: dict) -> None:
        time.sleep(0.2)  # a slow disk: whoever waits on the answer must not see it before the entry is there
        slow_put(key, transcript)

    monkeypatch.setattr(cache, "put", put)
    inner = Later()
    (future,) = CachedBackend(inner, cache, MODEL, RUNTIME).submit([REQUEST])
    finisher = threading.Thread(target=inner.futures[0].set_result,
                                args=(Generation(case="a", model="m", reasoning="medium", sample=0, final="7"),))
    finisher.start()
    assert future.result(timeout=5).final == "7"
    assert [json.loads(path.read_text())["final"] for path in tmp_path.rglob("*.json")] == ["7"]
    finisher.join()


def test_a_failed_generation_fails_its_answer_and_stores_nothing(tmp_path: Path) -> None:
    inner = Later()
    (future,) = CachedBackend(inner, ResponseCache(tmp_path), MODEL, RUNTIME).submit([REQUEST])
    inner.futures[0].set_exception(BackendError("case 'a': the engine stopped"))
    with pytest.raises(BackendError, match="engine stopped"):
        future.result(timeout=5)
    assert not list(tmp_path.rglob("*.json"))
