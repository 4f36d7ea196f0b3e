"""Which backend each kind of model spec gets, and what each backend says of its model's identity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from openai_standin import StandIn, free_port

from pytest_gptoss import servers
from pytest_gptoss.backends import BackendError
from pytest_gptoss.backends.factory import GGUF_KEY, make_backend
from pytest_gptoss.backends.llama import LlamaBackend
from pytest_gptoss.backends.openai_server import ServerBackend
from pytest_gptoss.backends.replay import ReplayBackend, ReplayModel
from pytest_gptoss.cache import CachedBackend
from pytest_gptoss.gguf_files import model_identity
from pytest_gptoss.models import parse_spec
from pytest_gptoss.options import Settings
from pytest_gptoss.run import Run
from pytest_gptoss.tiny import ensure_tiny


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(models=(), reasoning=("medium",), samples=1, seed=0, temperature=1.0, top_p=1.0, max_tokens=16,
                    ctx=4096, n_gpu_layers=0, threads=None, record=None, replay=None, results=None, baseline=None,
                    gate=(), cache_dir=tmp_path / "responses", no_cache=False)


@pytest.fixture
def llama_server() -> Iterator[StandIn]:
    server = StandIn(flavour="llama.cpp")
    yield server
    server.stop()


def test_a_gguf_file_runs_in_process_behind_the_cache_keyed_on_its_header(settings: Settings, tmp_path: Path) -> None:
    tiny = ensure_tiny(tmp_path / "models")
    spec = parse_spec(str(tiny))
    backend = make_backend(spec.label, settings, spec=spec, path=tiny)
    assert isinstance(backend, CachedBackend) and isinstance(backend.inner, LlamaBackend)
    identity = model_identity(tiny)
    assert backend.identity() == identity
    assert backend.model == {key: identity[key] for key in GGUF_KEY}
    assert not backend.inner.loaded  # the identity and the cache key come from the header alone


def test_without_the_cache_the_backend_is_bare(settings: Settings, tmp_path: Path) -> None:
    tiny = ensure_tiny(tmp_path / "models")
    spec = parse_spec(str(tiny))
    backend = make_backend(spec.label, replace(settings, no_cache=True), spec=spec, path=tiny)
    assert isinstance(backend, LlamaBackend)
    assert backend.identity()["header_sha256"] == model_identity(tiny)["header_sha256"]


def test_a_file_that_is_not_gguf_has_no_identity(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(BackendError, match="not a readable GGUF file"):
        LlamaBackend("broken", broken).identity()
    spec = parse_spec(str(broken))
    with pytest.raises(BackendError, match="not a readable GGUF file"):
        make_backend(spec.label, settings, spec=spec, path=broken)


def test_transcripts_answer_as_recorded_and_name_their_file(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"case": "a", "final": "1", "model": "m"}) + "\n")
    backend = make_backend("m", settings, spec=None, replay=ReplayBackend(path))
    assert isinstance(backend, ReplayModel)
    assert backend.identity() == {"transcripts": str(path)}


def test_a_served_model_is_what_its_server_says_of_itself(settings: Settings, llama_server: StandIn) -> None:
    spec = parse_spec(f"{llama_server.url}#{llama_server.model}")
    backend = make_backend(spec.label, settings, spec=spec)
    assert isinstance(backend, CachedBackend) and isinstance(backend.inner, ServerBackend)
    said = servers.identity(servers.Server(llama_server.url, llama_server.model))
    assert backend.identity() == said and said["kind"] == "llama.cpp"
    assert backend.model == said
    assert backend.inner.template_effort  # llama-server is given the effort in its template's kwargs too


def test_a_server_that_does_not_answer_is_the_same_error_for_every_case(settings: Settings) -> None:
    spec = parse_spec(f"http://127.0.0.1:{free_port()}/v1#m")
    with pytest.raises(servers.ServerUnreachable) as raised:
        make_backend(spec.label, settings, spec=spec)
    assert isinstance(raised.value, BackendError)
    run = Run(replace(settings, models=(spec,)))
    with pytest.raises(BackendError) as first:
        run.backend(spec.label)
    with pytest.raises(BackendError) as second:
        run.backend(spec.label)
    assert second.value is first.value  # asked once, not once per case
    assert run.identity(spec.label) == {"error": str(first.value)}
