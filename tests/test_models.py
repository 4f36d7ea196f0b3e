"""Model specs and their files: the local Hugging Face cache, downloads (faked at the hub), GGUF metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from pytest_gptoss import gguf_files, models
from pytest_gptoss.models import ModelNotFound, parse_spec, resolve
from pytest_gptoss.tiny import TinyShape, ensure_tiny


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tiny(tmp_path_factory.mktemp("tiny"))


class FakeHub:
    """Stands in for huggingface_hub's cache lookup and download."""

    def __init__(self, source: Path, cache: Path, *, online: bool = True) -> None:
        self.source = source
        self.cache = cache
        self.online = online
        self.cached: dict[tuple[str, str], str] = {}
        self.downloads: list[tuple[str, str]] = []

    def try_to_load_from_cache(self, repo_id: str, filename: str, **_: object) -> str | None:
        return self.cached.get((repo_id, filename))

    def hf_hub_download(self, repo_id: str, filename: str, **_: object) -> str:
        if not self.online:
            raise LocalEntryNotFoundError("cannot reach the hub and the file is not cached")
        self.downloads.append((repo_id, filename))
        target = self.cache / repo_id.replace("/", "--") / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.source, target)
        self.cached[(repo_id, filename)] = str(target)
        return str(target)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tiny_file: Path, tmp_path: Path) -> FakeHub:
    fake = FakeHub(tiny_file, tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", fake.try_to_load_from_cache)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    # the fake answers for itself, online or not: the run's probe of the real hub never happens
    monkeypatch.setattr(models, "hub_unreachable", lambda: None)
    return fake


@pytest.mark.parametrize(
    ("spec", "kind", "label"),
    [
        ("20b", "published", "20b"),
        ("120b", "published", "120b"),
        ("tiny", "tiny", "tiny"),
        ("hf:unsloth/gpt-oss-20b-GGUF/gpt-oss-20b-Q4_K_M.gguf", "hf", "gpt-oss-20b-Q4_K_M"),
        ("hf:org/repo/sub/dir/model-00001-of-00002.gguf", "hf", "model"),
    ],
)
def test_parse_spec(spec: str, kind: str, label: str) -> None:
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.label) == (kind, label)


def test_a_path_spec_is_labelled_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "candidate-00001-of-00003.gguf"
    path.write_bytes(b"GGUF")
    parsed = parse_spec(str(path))
    assert (parsed.kind, parsed.label, parsed.path) == ("path", "candidate", str(path))


def test_labels_are_made_unique(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for folder in (tmp_path, tmp_path / "a"):
        (folder / "m.gguf").write_bytes(b"GGUF")
    specs = models.unique_labels([parse_spec(str(tmp_path / "m.gguf")), parse_spec(str(tmp_path / "a/m.gguf"))])
    assert [s.label for s in specs] == ["m", "m-2"]


def test_the_120b_model_is_three_shards() -> None:
    spec = parse_spec("120b")
    assert spec.repo == "ggml-org/gpt-oss-120b-GGUF"
    assert spec.files[0] == "gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    assert len(spec.files) == 3


def test_a_cached_model_is_used_without_the_network(hub: FakeHub, tiny_file: Path) -> None:
    hub.online = False
    hub.cached[("ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-mxfp4.gguf")] = str(tiny_file)
    assert resolve(parse_spec("20b"), download=True) == tiny_file
    assert hub.downloads == []


def test_an_absent_model_is_downloaded_shard_by_shard(hub: FakeHub) -> None:
    path = resolve(parse_spec("120b"), download=True, progress=False)
    assert hub.downloads == [("ggml-org/gpt-oss-120b-GGUF", f"gpt-oss-120b-mxfp4-0000{i}-of-00003.gguf")
                             for i in (1, 2, 3)]
    assert path.name == "gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    # the next lookup finds it in the cache and downloads nothing more
    assert resolve(parse_spec("120b"), download=False) == path
    assert len(hub.downloads) == 3


def test_an_absent_model_offline_says_what_to_run(hub: FakeHub) -> None:
    hub.online = False
    with pytest.raises(ModelNotFound) as info:
        resolve(parse_spec("20b"), download=True)
    message = str(info.value)
    assert "\n" not in message
    assert "offline" in message
    assert "hf download ggml-org/gpt-oss-20b-GGUF gpt-oss-20b-mxfp4.gguf" in message
    assert "--gptoss-model=/path/to/gpt-oss-20b-mxfp4.gguf" in message


def test_workers_never_download(hub: FakeHub) -> None:
    with pytest.raises(ModelNotFound, match="not in the local Hugging Face cache"):
        resolve(parse_spec("20b"), download=False)
    assert hub.downloads == []


def test_an_offline_run_is_one_usage_line(pytester: pytest.Pytester, hub: FakeHub) -> None:
    hub.online = False
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: c\n    prompt: q\n    check: {numeric: 1}\n"})
    result = pytester.runpytest("--gptoss-model=20b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["ERROR: model '20b' (ggml-org/gpt-oss-20b-GGUF/gpt-oss-20b-mxfp4.gguf) is "
                                 "unavailable: it is not cached and the Hugging Face hub cannot be reached*"])


def test_a_downloaded_model_runs_the_cases(pytester: pytest.Pytester, hub: FakeHub) -> None:
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: c\n    prompt: q\n    max_tokens: 8\n"
                                              "    check: {numeric: 1}\n"})
    result = pytester.runpytest("--gptoss-model=20b", "-rA")
    assert hub.downloads == [("ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-mxfp4.gguf")]
    result.stdout.fnmatch_lines(["gptoss: model 20b: *gpt-oss-20b-mxfp4.gguf (0.00 GB)", "*c.yaml::c[[]20b-medium[]]*"])
    assert result.parseoutcomes().get("errors", 0) == 0


def test_gguf_metadata_is_read_from_the_header(tiny_file: Path) -> None:
    metadata = gguf_files.read_gguf_metadata(tiny_file)
    assert metadata["general.architecture"] == "gpt-oss"
    assert metadata["gpt-oss.context_length"] == TinyShape().context_length
    assert "<|return|>" in metadata["tokenizer.ggml.tokens"]
    assert gguf_files.training_context(tiny_file) == TinyShape().context_length


def test_metadata_of_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04not a gguf")
    with pytest.raises(ValueError, match="is not a GGUF file"):
        gguf_files.read_gguf_metadata(path)


def test_a_file_that_is_not_gguf_is_an_error_outcome(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: c\n    prompt: q\n    check: {numeric: 1}\n"})
    result = pytester.runpytest("--gptoss-model=broken.gguf")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot load model*broken.gguf*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("gguf", [b"GGUF" + b"\0" * 64, b"GGUF\x03\0\0\0\x01"], ids=["old-version", "truncated"])
def test_an_unreadable_model_with_the_cache_and_a_results_file_is_still_one_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gguf: bytes
) -> None:
    monkeypatch.delenv("GPTOSS_NO_CACHE", raising=False)
    pytester.path.joinpath("broken.gguf").write_bytes(gguf)
    pytester.makefile(".yaml", **{"cases/c": "cases:\n  - id: c\n    prompt: q\n    check: {numeric: 1}\n"})
    result = pytester.runpytest("--gptoss-model=broken.gguf", "--gptoss-results=r.json",
                                "--gptoss-cache-dir=responses")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot load model*broken.gguf: not a readable GGUF file*"])
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()
    data = json.loads(pytester.path.joinpath("r.json").read_text())
    assert "error" in data["models"]["broken"]
    assert data["rows"][0]["outcome"] == "error"
