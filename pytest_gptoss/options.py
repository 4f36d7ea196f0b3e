"""The plugin's options, their ini and environment twins, and how a value is chosen.

The command line wins over the environment, which wins over the ini file,
which wins over the default. Every value is checked by the same parser
wherever it came from; a bad one is a one-line ``pytest.UsageError``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_gptoss.harmony import REASONING_EFFORTS
from pytest_gptoss.models import ModelSpec, parse_spec, unique_labels
from pytest_gptoss.sandbox import ISOLATIONS as SANDBOX_MODES

MODEL = "model"
REASONING = "reasoning"
SAMPLES = "samples"
SEED = "seed"
TEMPERATURE = "temperature"
TOP_P = "top_p"
MAX_TOKENS = "max_tokens"
CTX = "ctx"
N_GPU_LAYERS = "n_gpu_layers"
THREADS = "threads"
RECORD = "record"
REPLAY = "replay"
RESULTS = "results"
BASELINE = "baseline"
GATE = "gate"
CACHE_DIR = "cache_dir"
NO_CACHE = "no_cache"
PARALLEL = "parallel"
FLASH_ATTN = "flash_attn"
SANDBOX = "sandbox"
TIMEOUT = "timeout"
#: options that only in-process models use; a run of served models alone refuses them
IN_PROCESS_ONLY = (CTX, N_GPU_LAYERS, THREADS, FLASH_ATTN)


def _model_specs(value: str) -> tuple[ModelSpec, ...]:
    specs = [part for part in value.split(",") if part.strip()]
    if not specs:
        raise ValueError("empty model spec")
    return tuple(parse_spec(spec) for spec in specs)


def _efforts(value: str) -> tuple[str, ...]:
    efforts = [part.strip() for part in value.split(",") if part.strip()]
    bad = [e for e in efforts if e not in REASONING_EFFORTS]
    if bad or not efforts:
        raise ValueError(
            f"'{value}' is not a reasoning effort; use low, medium, high or a list like low,high"
        )
    return tuple(dict.fromkeys(efforts))


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not an integer; use {what}") from None
        if number < minimum:
            raise ValueError(f"{number} is out of range; use {what}")
        return number

    return parse


def _float_in(low: float, high: float, what: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a number; use {what}") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range; use {what}")
        return number

    return parse


def _path(value: str) -> Path:
    if not value.strip():
        raise ValueError("empty path")
    return Path(value).expanduser()


def _existing_file(hint: str) -> Callable[[str], Path]:
    def parse(value: str) -> Path:
        path = _path(value)
        if not path.is_file():
            raise ValueError(f"'{value}' does not exist; {hint}")
        return path

    return parse


def _boolean(value: str) -> bool:
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
    if value.strip().lower() not in words:
        raise ValueError(f"'{value}' is not a boolean; use true or false")
    return words[value.strip().lower()]


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip().lower() not in choices:
            raise ValueError(f"'{value}' is not one of {', '.join(choices)}")
        return value.strip().lower()

    return parse
def _sandbox_mode(value: str) -> str:
    if value.strip() not in SANDBOX_MODES:
        raise ValueError(f"'{value}' is not a sandbox mode; use {', '.join(SANDBOX_MODES)}")
    return value.strip()


def _gates(value: str) -> tuple[tuple[str, str], ...]:
    gates = []
    for part in value.split(","):
        candidate, sep, baseline = part.strip().partition(":")
        if not sep or not candidate or not baseline or candidate == baseline:
            raise ValueError(f"'{part.strip()}' is not CANDIDATE:BASELINE (two model labels of this run)")
        gates.append((candidate, baseline))
    return tuple(gates)


@dataclass(frozen=True)
class Option:
    """One option: ``--gptoss-NAME``, ini ``gptoss_NAME``, env ``GPTOSS_NAME``."""

    name: str
    parse: Callable[[str], Any]
    help: str
    default: Any = None
    metavar: str = "VALUE"
    repeatable: bool = False
    #: a switch: on the command line it takes no value
    switch: bool = False

    @property
    def flag(self) -> str:
        return "--gptoss-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "gptoss_" + self.name

    @property
    def env(self) -> str:
        return "GPTOSS_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option(MODEL, _model_specs, "model to test: 20b, 120b, tiny, a .gguf path, hf:OWNER/REPO/FILE or an "
           "OpenAI-compatible server http(s)://HOST:PORT/v1[#MODEL]; repeat to test several", (), "SPEC",
           repeatable=True),
    Option(REASONING, _efforts, "reasoning effort, or a comma list to test each (default: medium)",
           ("medium",), "EFFORT[,EFFORT]"),
    Option(SAMPLES, _int_at_least(1, "a positive integer"), "generations per case (default: 1)", 1, "N"),
    Option(SEED, _int_at_least(0, "an integer >= 0"), "run seed; each generation is seeded from "
           "(seed, case id, sample) (default: 0)", 0, "N"),
    Option(TEMPERATURE, _float_in(0.0, 5.0, "a number from 0 to 5"), "sampling temperature "
           "(default: 1.0, OpenAI's recommendation for gpt-oss)", 1.0, "T"),
    Option(TOP_P, _float_in(0.0, 1.0, "a number from 0 to 1"), "nucleus sampling top_p (default: 1.0)",
           1.0, "P"),
    Option(MAX_TOKENS, _int_at_least(1, "a positive integer"), "most tokens a generation may produce, "
           "reasoning included (default: 16384)", 16384, "N"),
    Option(CTX, _int_at_least(0, "0 (the model's own) or a positive integer"), "context size in tokens, "
           "capped at the model's training context (default: 32768)", 32768, "N"),
    Option(N_GPU_LAYERS, _int_at_least(-1, "-1 (all), 0 (none) or a layer count"), "layers to offload "
           "to the GPU of a CUDA or Metal build (default: -1, all)", -1, "N"),
    Option(THREADS, _int_at_least(1, "a positive integer"), "CPU threads for llama.cpp "
           "(default: llama-cpp-python's choice)", None, "N"),
    Option(RECORD, _path, "write every generation to this JSONL transcript file", None, "PATH"),
    Option(REPLAY, _existing_file("record transcripts with --gptoss-record first"),
           "grade the transcripts in this JSONL file instead of running a model", None, "PATH"),
    Option(RESULTS, _path, "write the run's results (settings, model identities, one row per case) "
           "to this JSON file", None, "PATH"),
    Option(BASELINE, _existing_file("write one with --gptoss-results first"), "compare with an earlier "
           "results file and fail the session on a regression", None, "PATH"),
    Option(GATE, _gates, "compare two models of this run and fail the session where the candidate "
           "regresses", (), "CANDIDATE:BASELINE", repeatable=True),
    Option(CACHE_DIR, _path, "where generations are cached, keyed on everything that changes them "
           "(default: ~/.cache/pytest-gptoss/responses)", None, "PATH"),
    Option(NO_CACHE, _boolean, "neither read nor write the response cache", False, switch=True),
    Option(PARALLEL, _int_at_least(1, "a positive integer"), "generations in flight at once: sequences "
           "decoded together in one llama.cpp context, or concurrent requests to a server (default: 8)", 8, "N"),
    Option(TIMEOUT, _float_in(0.001, 86400.0, "a number of seconds from 0.001 to 86400"), "seconds one request "
           "to a server may take before it is an error (default: 1800)", 1800.0, "SECONDS"),
    Option(FLASH_ATTN, _choice("auto", "on", "off"), "flash attention for in-process models; auto uses it "
           "where the build and device support it (default: auto)", "auto", "auto|on|off"),
    Option(SANDBOX, _sandbox_mode, "isolation for model-written programs: auto (the strongest that works "
           "here), bwrap, namespace or plain (no isolation)", "auto", "MODE"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("gptoss", "gpt-oss model tests")
    for option in OPTIONS:
        help_text = f"{option.help}. ini: {option.ini}, env: {option.env}"
        if option.switch:
            group.addoption(option.flag, dest=f"gptoss_{option.name}", action="store_const", const=True,
                            default=None, help=help_text)
            parser.addini(option.ini, f"{option.help} (same as {option.flag})", type="string")
            continue
        group.addoption(
            option.flag,
            dest=f"gptoss_{option.name}",
            action="append" if option.repeatable else "store",
            type=_argparse_type(option),
            default=None,
            metavar=option.metavar,
            help=help_text,
        )
        kind: Literal["linelist", "string"] = "linelist" if option.repeatable else "string"
        parser.addini(option.ini, f"{option.help} (same as {option.flag})", type=kind)


def _argparse_type(option: Option) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return option.parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = option.name
    return parse


@dataclass(frozen=True)
class Settings:
    models: tuple[ModelSpec, ...]
    reasoning: tuple[str, ...]
    samples: int
    seed: int
    temperature: float
    top_p: float
    max_tokens: int
    ctx: int
    n_gpu_layers: int
    threads: int | None
    record: Path | None
    replay: Path | None
    results: Path | None
    baseline: Path | None
    gate: tuple[tuple[str, str], ...]
    cache_dir: Path | None
    no_cache: bool
    parallel: int = 8
    flash_attn: str = "auto"
    sandbox: str = "auto"
    timeout: float = 1800.0


def settings(config: pytest.Config) -> Settings:
    """Choose every option's value (command line, environment, ini, default)."""
    values = {option.name: _value(config, option) for option in OPTIONS}
    for option in OPTIONS:
        if option.repeatable and isinstance(values[option.name], list):
            # repeated on the command line: one tuple per flag
            values[option.name] = tuple(item for group in values[option.name] for item in group)
    values[MODEL] = tuple(unique_labels([_named(spec) for spec in values[MODEL]]))
    return Settings(**{("models" if name == MODEL else name): value for name, value in values.items()})


def _named(spec: ModelSpec) -> ModelSpec:
    """A server spec with its model named: the one ``GET /v1/models`` lists when the spec names none."""
    if spec.kind != "server" or spec.served is not None:
        return spec
    from dataclasses import replace

    from pytest_gptoss import servers

    assert spec.url is not None
    try:
        model = servers.only_model(spec.url)
    except servers.ServerError as exc:
        raise pytest.UsageError(f"--gptoss-model={spec.spec}: {exc}") from None
    return replace(spec, served=model, label=servers.served_label(model))


def given(config: pytest.Config, name: str) -> str | None:
    """Where the option ``name`` was set (its flag, environment variable or ini key), or None if it was not."""
    option = next(option for option in OPTIONS if option.name == name)
    if config.getoption(f"gptoss_{option.name}") is not None:
        return option.flag
    if os.environ.get(option.env):
        return f"environment variable {option.env}"
    if config.getini(option.ini):
        return f"ini {option.ini}"
    return None


def in_process_options_given(config: pytest.Config) -> list[str]:
    """Where each option that only in-process models read was given (its flag, ini key or variable)."""
    return [where for name in IN_PROCESS_ONLY if (where := given(config, name)) is not None]


def as_plain(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, for the results file."""
    plain: dict[str, Any] = {}
    for name, value in vars(settings).items():
        if name == "models":
            plain[name] = [{"spec": spec.spec, "label": spec.label} for spec in value]
        elif isinstance(value, Path):
            plain[name] = str(value)
        elif name == GATE:
            plain[name] = [f"{c}:{b}" for c, b in value]
        else:
            plain[name] = list(value) if isinstance(value, tuple) else value
    return plain


def _value(config: pytest.Config, option: Option) -> Any:
    cli = config.getoption(f"gptoss_{option.name}")
    if cli is not None:
        return cli
    env = os.environ.get(option.env)
    if env:
        return _checked(option, env, f"environment variable {option.env}")
    ini = config.getini(option.ini)
    if ini:
        if option.repeatable:
            return tuple(item for line in ini for item in _checked(option, line, f"ini {option.ini}"))
        return _checked(option, ini, f"ini {option.ini}")
    return option.default


def _checked(option: Option, raw: str, source: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"{source}: {exc}") from None
