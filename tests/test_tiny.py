"""The random-weight gpt-oss GGUF: written deterministically, loaded by llama.cpp."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import gguf
import llama_cpp
import pytest

from pytest_gptoss import tiny
from pytest_gptoss.tiny import (
    GPT_OSS_20B,
    TINY_FILENAME,
    TinyShape,
    ensure_tiny,
    parameter_count,
    special_token_ids,
    write_gguf,
)

HARMONY = "<|start|>user<|message|>hi<|end|>"
SAMPLING = dict(temp=1.0, top_p=1.0, top_k=0, min_p=0.0)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def llm(model_path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(model_path), n_ctx=256, verbose=False)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _take(llm: llama_cpp.Llama, prompt: list[int], n: int, seed: int) -> list[int]:
    llm.set_seed(seed)
    out: list[int] = []
    for token in llm.generate(prompt, **SAMPLING):
        out.append(token)
        if len(out) == n:
            break
    return out


# -- writing ---------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = write_gguf(tmp_path / "a.gguf", seed=0)
    b = write_gguf(tmp_path / "b.gguf", seed=0)
    c = write_gguf(tmp_path / "c.gguf", seed=1)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_ensure_tiny_writes_once_under_a_versioned_name(tmp_path: Path) -> None:
    path = ensure_tiny(tmp_path / "cache")
    assert path == tmp_path / "cache" / TINY_FILENAME
    assert "-v" in TINY_FILENAME and TINY_FILENAME.endswith(".gguf")
    stamp = path.stat().st_mtime_ns
    assert ensure_tiny(tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == stamp
    assert _digest(path) == _digest(write_gguf(tmp_path / "again.gguf"))


def test_concurrent_writers_leave_one_complete_file(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(ensure_tiny, [tmp_path] * 4))
    assert set(paths) == {tmp_path / TINY_FILENAME}
    assert [p.name for p in tmp_path.iterdir()] == [TINY_FILENAME]
    assert _digest(paths[0]) == _digest(write_gguf(tmp_path / "ref.gguf"))


def test_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tiny, "_tensor_data", broken)
    with pytest.raises(OSError, match="disk full"):
        write_gguf(tmp_path / "m.gguf")
    assert list(tmp_path.iterdir()) == []


def test_metadata_and_tensor_layout(model_path: Path) -> None:
    reader = gguf.GGUFReader(model_path)
    fields = reader.fields

    def value(key: str) -> object:
        return fields[key].contents()

    shape = TinyShape()
    assert value("general.architecture") == "gpt-oss"
    assert value("gpt-oss.attention.sliding_window") == shape.sliding_window
    assert value("gpt-oss.expert_count") == shape.experts
    assert value("gpt-oss.attention.key_length") == shape.head_dim
    assert value("tokenizer.ggml.model") == "gpt2"
    assert value("tokenizer.ggml.pre") == "gpt-4o"
    assert len(value("tokenizer.ggml.merges")) >= 1

    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 3 + 19 * shape.layers
    sinks = tensors["blk.0.attn_sinks.weight"]
    assert sinks.tensor_type == gguf.GGMLQuantizationType.F32
    assert list(sinks.shape) == [shape.heads]
    # ggml order: ne0 is the row length, experts last
    down = tensors["blk.1.ffn_down_exps.weight"]
    assert list(down.shape) == [shape.expert_ff, shape.hidden, shape.experts]
    assert sum(int(t.n_elements) for t in reader.tensors) == parameter_count(shape)


def test_real_shapes_match_gpt_oss_20b_without_writing() -> None:
    assert parameter_count(GPT_OSS_20B) == 20_914_757_184
    ids = special_token_ids(GPT_OSS_20B)
    assert ids["<|startoftext|>"] == 199998
    assert ids["<|return|>"] == 200002
    assert ids["<|start|>"] == 200006
    assert ids["<|end|>"] == 200007
    assert ids["<|message|>"] == 200008
    assert ids["<|call|>"] == 200012


@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        (TinyShape(kv_heads=3), "F32", "multiple of kv_heads"),
        (TinyShape(experts_used=5), "F32", "experts_used"),
        (TinyShape(hidden=48), "Q8_0", "multiple of 32"),
        (TinyShape(), "Q4_K", "dtype must be one of"),
        (TinyShape(vocab_size=100), "F32", "too small"),
    ],
)
def test_bad_shapes_are_refused(tmp_path: Path, shape: TinyShape, dtype: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_gguf(tmp_path / "m.gguf", shape, dtype=dtype)
    assert list(tmp_path.iterdir()) == []


# -- llama.cpp -------------------------------------------------------------


def test_loads_as_gpt_oss(llm: llama_cpp.Llama) -> None:
    assert llm.metadata["general.architecture"] == "gpt-oss"
    assert llama_cpp.llama_model_n_swa(llm.model) == TinyShape().sliding_window
    assert llm.n_vocab() == len(tiny.build_vocab().tokens)


def test_control_tokens_are_single_tokens(llm: llama_cpp.Llama) -> None:
    ids = special_token_ids()
    tokens = llm.tokenize(HARMONY.encode(), add_bos=False, special=True)
    assert tokens[0] == ids["<|start|>"]
    assert tokens[-1] == ids["<|end|>"]
    assert ids["<|message|>"] in tokens
    assert len(tokens) < len(HARMONY) // 2
    for name, token in ids.items():
        assert llm.tokenize(name.encode(), add_bos=False, special=True) == [token]
    assert llm.detokenize(tokens, special=True).decode() == HARMONY


def test_return_needs_special_but_gpt_oss_markers_do_not(llm: llama_cpp.Llama) -> None:
    # llama.cpp turns <|start|>, <|message|>, <|channel|>, <|constrain|> and <|end|>
    # into user-defined tokens for gpt-oss: always matched, always rendered.
    ids = special_token_ids()
    assert llm.tokenize(b"<|start|>", add_bos=False, special=False) == [ids["<|start|>"]]
    assert llm.tokenize(b"<|end|>", add_bos=False, special=False) == [ids["<|end|>"]]
    assert len(llm.tokenize(b"<|return|>", add_bos=False, special=False)) > 1
    assert llm.detokenize([ids["<|channel|>"]]) == b"<|channel|>"
    assert llm.detokenize([ids["<|return|>"]]) == b""
    assert llm.detokenize([ids["<|return|>"]], special=True) == b"<|return|>"


@pytest.mark.parametrize(
    "text",
    ["你好，世界！这是一个测试。", "naïve café — 🙂 emoji", "the then\n\ttabs  and  spaces ", "\x00\x7f"],
)
def test_any_utf8_round_trips(llm: llama_cpp.Llama, text: str) -> None:
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)
    assert llm.detokenize(tokens).decode() == text


def test_merges_are_used(llm: llama_cpp.Llama) -> None:
    assert len(llm.tokenize(b" the", add_bos=False, special=False)) == 1


def test_end_of_generation_tokens(llm: llama_cpp.Llama) -> None:
    ids = special_token_ids()
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    assert llm.token_eos() == ids["<|return|>"]
    assert llm.token_bos() == ids["<|startoftext|>"]
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<|return|>"])
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<|call|>"])
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<|endoftext|>"])
    # with both <|return|> and <|call|> present, llama.cpp drops <|end|> from EOG
    assert not llama_cpp.llama_vocab_is_eog(vocab, ids["<|end|>"])
    for name in ("<|start|>", "<|message|>", "<|channel|>", "<|constrain|>"):
        assert not llama_cpp.llama_vocab_is_eog(vocab, ids[name])


def test_seeded_generation_is_reproducible(llm: llama_cpp.Llama) -> None:
    prompt = llm.tokenize(HARMONY.encode(), add_bos=False, special=True)
    first = _take(llm, prompt, 16, seed=1234)
    assert len(first) == 16
    assert all(0 <= t < llm.n_vocab() for t in first)
    assert _take(llm, prompt, 16, seed=1234) == first
    assert _take(llm, prompt, 16, seed=4321) != first


def test_load_and_generate_quickly(model_path: Path) -> None:
    start = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(model_path), n_ctx=256, verbose=False)
    prompt = llm.tokenize(HARMONY.encode(), add_bos=False, special=True)
    assert len(_take(llm, prompt, 16, seed=7)) == 16
    llm.close()
    assert time.perf_counter() - start < 20  # a hang guard; it takes milliseconds


@pytest.mark.parametrize("dtype", ["F16", "Q8_0", "MXFP4"])
def test_other_weight_types_load_and_generate(tmp_path: Path, dtype: str) -> None:
    path = write_gguf(tmp_path / f"{dtype}.gguf", dtype=dtype)
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
    assert types["blk.0.ffn_up_exps.weight"] == dtype
    assert types["blk.0.attn_sinks.weight"] == "F32"
    # as the plugin loads it: on an AMX build, llama.cpp's AMX kernels crash on Q8_0 matrices
    # (a prompt of more than one token), and the plugin loads such a model without them
    from pytest_gptoss.backends import Request
    from pytest_gptoss.backends.llama import LlamaBackend, Runtime

    backend = LlamaBackend(dtype, path, Runtime(ctx=256, parallel=1))
    request = Request(case="c", messages=(("user", "hi"),), reasoning="low", sample=0, seed=1, max_tokens=4,
                      temperature=1.0, top_p=1.0)
    (future,) = backend.submit([request])
    assert 0 < future.result(timeout=60).completion_tokens <= 4
    backend.close()


def test_real_vocabulary_ids_load(tmp_path: Path) -> None:
    shape = TinyShape(vocab_size=GPT_OSS_20B.vocab_size)
    path = write_gguf(tmp_path / "wide.gguf", shape, dtype="F16")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    assert llm.n_vocab() == 201088
    assert llm.token_eos() == 200002
    assert llm.tokenize(HARMONY.encode(), add_bos=False, special=True)[0] == 200006
    assert llama_cpp.llama_vocab_is_eog(vocab, 200012)
    assert not llama_cpp.llama_vocab_is_eog(vocab, 200007)
    prompt = llm.tokenize(HARMONY.encode(), add_bos=False, special=True)
    assert len(_take(llm, prompt, 4, seed=1)) == 4
    llm.close()
