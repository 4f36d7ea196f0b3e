"""Model specs (``20b``, ``120b``, ``tiny``, a path, ``hf:REPO/FILE``, a server URL) and where their files are.

Published models are looked up in the local Hugging Face cache first, so a run
works fully offline once the file is there; otherwise they are downloaded with
huggingface_hub (which shows a progress bar). ``llama_cpp.Llama.from_pretrained``
is not used because it lists the repository over the network even when the file
is cached.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_gptoss import servers
from pytest_gptoss.gguf_files import SPLIT_SUFFIX

PUBLISHED = {
    "20b": ("ggml-org/gpt-oss-20b-GGUF", ("gpt-oss-20b-mxfp4.gguf",)),
    "120b": (
        "ggml-org/gpt-oss-120b-GGUF",
        tuple(f"gpt-oss-120b-mxfp4-0000{i}-of-00003.gguf" for i in (1, 2, 3)),
    ),
}
SPEC_HELP = ("use 20b, 120b, tiny, a path to a .gguf file, hf:OWNER/REPO/FILE.gguf, "
             "or a server as http(s)://HOST:PORT/v1[#MODEL]")


class ModelNotFound(Exception):
    """The model's file is neither on disk nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--gptoss-model`` value. ``label`` names it in node ids."""

    spec: str
    kind: str  # "published", "tiny", "path", "hf", "server"
    label: str
    repo: str | None = None
    files: tuple[str, ...] = ()
    path: str | None = None
    #: a server's base URL, and the model it serves (None until its only model is named)
    url: str | None = None
    served: str | None = None


def parse_spec(value: str) -> ModelSpec:
    """Parse one model spec; raise ValueError with a one-line message if it is none."""
    spec = value.strip()
    if spec in PUBLISHED:
        repo, files = PUBLISHED[spec]
        return ModelSpec(spec, "published", spec, repo=repo, files=files)
    if spec == "tiny":
        return ModelSpec(spec, "tiny", "tiny")
    if servers.is_server_spec(spec):
        url, model = servers.parse_server_spec(spec)
        label = servers.served_label(model) if model else "server"
        return ModelSpec(url + (f"#{model}" if model else ""), "server", label, url=url, served=model)
    if spec.startswith("hf:"):
        parts = spec[3:].split("/")
        if len(parts) < 3 or not all(parts) or not parts[-1].endswith(".gguf"):
            raise ValueError(f"'{spec}' is not hf:OWNER/REPO/FILE.gguf")
        repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
        return ModelSpec(spec, "hf", _stem(filename), repo=repo, files=(filename,))
    if spec.endswith(".gguf") or os.sep in spec or spec.startswith("."):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ValueError(f"model file '{spec}' does not exist")
        return ModelSpec(spec, "path", _stem(path.name), path=str(path.resolve()))
    raise ValueError(f"'{spec}' is not a model; {SPEC_HELP}")


def unique_labels(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Give every spec a distinct label (``candidate``, ``candidate-2``...)."""
    seen: dict[str, int] = {}
    result = []
    for spec in specs:
        count = seen.get(spec.label, 0) + 1
        seen[spec.label] = count
        label = spec.label if count == 1 else f"{spec.label}-{count}"
        result.append(dataclasses.replace(spec, label=label))
    return result


def _stem(filename: str) -> str:
    stem = Path(filename).name.removesuffix(".gguf")
    stem = SPLIT_SUFFIX.sub("", stem)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem) or "model"


def cache_dir() -> Path:
    """Where the plugin keeps what it writes (the tiny model): $GPTOSS_CACHE_HOME or ~/.cache."""
    base = os.environ.get("GPTOSS_CACHE_HOME") or os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "pytest-gptoss"


def resolve(spec: ModelSpec, *, download: bool, progress: bool = True) -> Path:
    """The local path of the model's (first) GGUF file.

    With ``download=False`` only the local cache is consulted. Raises
    :class:`ModelNotFound` with a one-line message saying what to run.
    """
    if spec.kind == "path":
        return Path(spec.path or spec.spec)
    if spec.kind == "tiny":
        from pytest_gptoss.tiny import ensure_tiny

        return ensure_tiny(cache_dir())
    assert spec.repo is not None
    paths = [_cached(spec.repo, name) for name in spec.files]
    if all(paths):
        return Path(paths[0])  # type: ignore[arg-type]
    if not download:
        raise ModelNotFound(_absent_message(spec, "it is not in the local Hugging Face cache"))
    return _download(spec, progress=progress)


def _cached(repo: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id=repo, filename=filename)
    return found if isinstance(found, str) and os.path.isfile(found) else None


#: seconds the hub has to answer one request before a run takes it as unreachable
PROBE_SECONDS = 5.0


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be used now, or None when it answers.

    One request, no retries: huggingface_hub's own retries take half a minute
    and print a warning each before saying the file cannot be had.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "it is not cached and HF_HUB_OFFLINE is set"
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=PROBE_SECONDS)
    except Exception:  # any failure to get an answer (refused, no route, no name, timeout) means offline
        return f"it is not cached and the Hugging Face hub cannot be reached (offline; {constants.ENDPOINT})"
    return None


def _download(spec: ModelSpec, *, progress: bool) -> Path:
    import huggingface_hub
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    assert spec.repo is not None
    unreachable = hub_unreachable()
    if unreachable is not None:
        raise ModelNotFound(_absent_message(spec, unreachable))
    first: str | None = None
    if not progress:
        disable_progress_bars()
    try:
        for filename in spec.files:
            path = huggingface_hub.hf_hub_download(repo_id=spec.repo, filename=filename)
            first = first or path
    except Exception as exc:  # the hub raises many kinds; all mean "not here"
        reason = _download_failure(exc)
        raise ModelNotFound(_absent_message(spec, reason)) from None
    finally:
        if not progress:
            enable_progress_bars()
    assert first is not None
    return Path(first)


def _download_failure(exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled") or "offline" in str(exc).lower():
        return "it is not cached and the Hugging Face hub cannot be reached (offline)"
    if name in ("RepositoryNotFoundError", "EntryNotFoundError", "RemoteEntryNotFoundError"):
        return "the hub has no such file"
    if name == "GatedRepoError":
        return "the repository is gated; log in with `hf auth login`"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return f"the download failed ({name}: {first_line})"


def _absent_message(spec: ModelSpec, reason: str) -> str:
    files = " ".join(spec.files)
    return (
        f"model '{spec.spec}' ({spec.repo}/{spec.files[0]}) is unavailable: {reason}. "
        f"Run `hf download {spec.repo} {files}` where the hub is reachable, "
        f"or pass --gptoss-model=/path/to/{spec.files[0]}"
    )
