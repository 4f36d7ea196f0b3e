"""The response cache: a generation is stored under a hash of everything that changes it.

The key covers the model's identity (the hash of its GGUF header, metadata and
tensor table), llama-cpp-python's version and llama.cpp's build, the exact
prompt messages, the reasoning effort, the seed and every sampling and runtime
setting that can change the tokens. A rerun with nothing changed (``--lf``,
a checker fixed, a report regenerated) then costs no generation at all.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pytest_gptoss.backends import Backend, Generation, Request, done
from pytest_gptoss.files import atomic_path
from pytest_gptoss.transcripts import line_problem

FORMAT_VERSION = 1
#: what every stored transcript holds, and the type it holds it as
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "case": str, "final": str, "finish_reason": str, "completion_tokens": int, "has_final": bool,
}


def cache_key(request: Request, model: Mapping[str, Any], runtime: Mapping[str, Any]) -> str:
    """The hash of everything that changes what ``request`` generates on this model and build."""
    material = {
        "format": FORMAT_VERSION,
        "model": model,
        "runtime": runtime,
        # a request without tools hashes as it did before requests could carry them
        "request": {k: v for k, v in asdict(request).items()
                    if k != "sample" and not (k in ("tools", "builtin_tools", "history") and not v)},
    }
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=list)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """A directory of generations, one JSON file per key."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored transcript, or None.

        An entry that cannot be used (truncated, not JSON, written by something
        else) counts as absent, with one warning; the new generation replaces it.
        """
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and all(isinstance(data.get(k), t) for k, t in REQUIRED.items()) \
                and line_problem(data) is None:
            return data
        warnings.warn(f"gptoss: response cache entry {path} cannot be used (truncated, or not written by "
                      f"pytest-gptoss {FORMAT_VERSION}); generating the answer again", stacklevel=2)
        return None

    def put(self, key: str, transcript: Mapping[str, Any]) -> None:
        """Store atomically, so concurrent workers never read half a file."""
        path = self._path(key)
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(dict(transcript), ensure_ascii=False), encoding="utf-8")


class CachedBackend:
    """A backend that answers from the cache where it can and stores what it generates."""

    def __init__(self, inner: Backend, cache: ResponseCache, model: Mapping[str, Any],
                 runtime: Mapping[str, Any]) -> None:
        self.inner = inner
        self.label = inner.label
        self.cache = cache
        self.model = dict(model)
        self.runtime = dict(runtime)

    def submit(self, requests: Sequence[Request]) -> list[Future[Generation | None]]:
        """Hits are answered at once and never reach the inner backend; misses are stored when made."""
        keys = [cache_key(request, self.model, self.runtime) for request in requests]
        found: list[Future[Generation | None] | None] = []
        for request, key in zip(requests, keys):
            stored = self.cache.get(key)
            found.append(None if stored is None else done(Generation.from_transcript(
                {**stored, "model": self.label, "sample": request.sample, "cached": True}
            )))
        missing = [index for index, future in enumerate(found) if future is None]
        if missing:
            made = self.inner.submit([requests[index] for index in missing])
            for index, future in zip(missing, made):
                found[index] = self._stored(keys[index], future)
        return [future for future in found if future is not None]

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def close(self) -> None:
        self.inner.close()

    def prompt_text(self, request: Request) -> str:
        if not getattr(self.inner, "loaded", True):
            # rendering a chat template means loading the model, which a run of cache hits never does
            return "(the answers came from the response cache: the model was not prompted in this run)"
        return self.inner.prompt_text(request)

    def _stored(self, key: str, made: Future[Generation | None]) -> Future[Generation | None]:
        """A future that completes only once ``made``'s generation is in the cache.

        Whoever waits on the answer then finds it stored: a run that ends as its
        last answer arrives loses no entry, and a rerun never races the write.
        """
        answered: Future[Generation | None] = Future()

        def store(future: Future[Generation | None]) -> None:
            if future.cancelled():
                answered.cancel()
                return
            error = future.exception()
            if error is not None:
                answered.set_exception(error)
                return
            generation = future.result()
            if generation is not None:
                try:
                    self.cache.put(key, generation.to_transcript())
                except OSError as problem:
                    warnings.warn(f"gptoss: could not write the response cache entry for case "
                                  f"'{generation.case}': {problem}; the answer is used but not stored",
                                  stacklevel=2)
            answered.set_result(generation)

        made.add_done_callback(store)
        return answered
