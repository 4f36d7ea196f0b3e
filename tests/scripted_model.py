"""A scripted model for the tool loop's tests: the real in-process backend, a script in place of decoding.

The GGUF (tiny, or another) is really loaded and its tokenizer really used:
each prompt the backend renders is detokenized and handed to the script, and
the text the script returns is tokenized and handed back as what the model
generated, so rendering, stop tokens and parsing all run the plugin's own code.
A script gets the prompt and returns the completion (the text after
``<|start|>assistant``). :func:`by_turn` scripts an exchange by how many tool
answers the prompt already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import pytest

from pytest_gptoss.backends import llama
from pytest_gptoss.backends.engine import EngineRequest, EngineResult

Script = Callable[[str], str]
TOOL_ANSWER = " to=assistant<|channel|>"


def by_turn(*completions: str) -> Script:
    """The n-th completion once the prompt holds n - 1 tool answers; the last one from then on."""
    def script(prompt: str) -> str:
        return completions[min(prompt.count(TOOL_ANSWER), len(completions) - 1)]

    return script


def call(name: str, arguments: str, analysis: str = "Need a tool.") -> str:
    """A completion that reasons, then calls ``functions.name`` with ``arguments``."""
    return (f"<|channel|>analysis<|message|>{analysis}<|end|><|start|>assistant<|channel|>commentary "
            f"to=functions.{name} <|constrain|>json<|message|>{arguments}<|call|>")


def python(code: str) -> str:
    """A completion that runs ``code`` through the python tool, its header as gpt-oss writes it."""
    return f"<|channel|>analysis<|message|>Let me compute.<|end|><|start|>assistant<|channel|>analysis to=python " \
           f"code<|message|>{code}<|call|>"


def final(answer: str, analysis: str = "Done.") -> str:
    return f"<|channel|>analysis<|message|>{analysis}<|end|><|start|>assistant<|channel|>final<|message|>" \
           f"{answer}<|return|>"


class ScriptedEngine:
    """Stands in for :class:`~pytest_gptoss.backends.engine.Engine`: answers each request from the script."""

    def __init__(self, model: llama.LoadedModel, script: Script, prompts: list[str]) -> None:
        self.model = model
        self.script = script
        self.prompts = prompts
        self.closed = False
        self.submitted = 0
        self.tokens = 0

    def submit(self, requests: Sequence[EngineRequest]) -> list[Future[EngineResult]]:
        futures = []
        for request in requests:
            prompt = self.model.detokenize(request.prompt)
            self.prompts.append(prompt)
            tokens = tuple(self.model.tokenize(self.script(prompt)))[: request.budget]
            future: Future[EngineResult] = Future()
            future.set_result(EngineResult(tokens=tokens, finish="stop", seconds=0.01))
            futures.append(future)
            self.submitted += 1
            self.tokens += len(tokens)
        return futures

    def stats(self) -> dict[str, Any]:
        """The figures the real engine reports, as a script makes them: every request one at a time."""
        return {"tokens": self.tokens, "busy_seconds": 0.0, "prefill_tokens": 0, "decode_tokens": self.tokens,
                "decode_seconds": 0.0, "llama_seconds": 0.0, "peak_in_flight": 1, "in_flight": 0,
                "submitted": self.submitted, "finished": self.submitted, "parallel": 1, "sampling": "script"}

    def close(self, timeout: float = 1.0) -> bool:
        self.closed = True
        return True


def install(monkeypatch: pytest.MonkeyPatch, script: Script) -> list[str]:
    """Make every loaded model of this process answer from ``script``; the prompts it was given, in order."""
    prompts: list[str] = []
    engines: dict[int, ScriptedEngine] = {}

    def engine(self: llama.LoadedModel, runtime: llama.Runtime) -> ScriptedEngine:
        return engines.setdefault(id(self), ScriptedEngine(self, script, prompts))

    monkeypatch.setattr(llama.LoadedModel, "engine", engine)
    return prompts
