"""A gpt-oss-architecture GGUF with random weights, for smoke tests and benchmarks.

The model's answers are noise. What it proves is the plumbing: llama.cpp loads
it through the real gpt-oss code path (MoE experts with biases, attention
sinks, alternating sliding-window layers), its byte-level BPE vocabulary
round-trips any UTF-8 text, and the harmony control tokens are single tokens
with llama.cpp's gpt-oss end-of-generation rules applied to them.

The same writer produces real gpt-oss shapes (see ``GPT_OSS_20B``) for speed
benchmarks; tensors are generated and written one at a time, so memory stays
bounded by the largest tensor, not the model.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_gptoss.files import atomic_path

if TYPE_CHECKING:
    import gguf
    import numpy as np

#: Bump when the bytes ``ensure_tiny`` writes change, so stale caches are not reused.
FORMAT_VERSION = 1
TINY_FILENAME = f"tiny-gpt-oss-v{FORMAT_VERSION}.gguf"

ARCH = "gpt-oss"
WEIGHT_SCALE = 0.02
#: the E8M0 scale byte of every MXFP4 block: 2**(120 - 128) per unit, so weights stay within +-0.05
MXFP4_SCALE = 120
DTYPES = ("F32", "F16", "Q8_0", "MXFP4")

# The tail of o200k_harmony: control tokens at their offsets from <|startoftext|>
# (199998 in the real vocabulary), every other id of the block reserved.
HARMONY_OFFSETS: dict[str, int] = {
    "<|startoftext|>": 0,
    "<|endoftext|>": 1,
    "<|return|>": 4,
    "<|constrain|>": 5,
    "<|channel|>": 7,
    "<|start|>": 8,
    "<|end|>": 9,
    "<|message|>": 10,
    "<|call|>": 14,
    "<|endofprompt|>": 20,
}
HARMONY_BLOCK_REAL = 201088 - 199998
HARMONY_BLOCK_MIN = max(HARMONY_OFFSETS.values()) + 1

# A few real merges so the BPE path runs; each result is itself a vocabulary token.
MERGES: tuple[tuple[str, str], ...] = (
    ("Ġ", "t"),
    ("h", "e"),
    ("i", "n"),
    ("Ġt", "he"),
    ("e", "r"),
    ("o", "n"),
    ("a", "n"),
    ("Ġ", "a"),
)

_CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class TinyShape:
    """Hyperparameters of the generated model; the defaults load in milliseconds.

    ``vocab_size`` None gives the smallest vocabulary (256 byte tokens, the
    merges, a compact harmony block). An explicit size pads with unused filler
    tokens and places the harmony block where o200k_harmony has it, so
    ``201088`` reproduces the real token ids (``<|return|>`` = 200002).
    """

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    experts: int = 4
    experts_used: int = 2
    expert_ff: int = 64
    context_length: int = 4096
    sliding_window: int = 8
    rope_freq_base: float = 150000.0
    rope_scaling_factor: float | None = None
    rope_original_context: int = 4096
    rms_eps: float = 1e-5
    vocab_size: int | None = None


#: The shapes of openai/gpt-oss-20b (about 21B parameters: tens of GB unless MXFP4).
GPT_OSS_20B = TinyShape(
    hidden=2880,
    layers=24,
    heads=64,
    kv_heads=8,
    head_dim=64,
    experts=32,
    experts_used=4,
    expert_ff=2880,
    context_length=131072,
    sliding_window=128,
    rope_scaling_factor=32.0,
    vocab_size=201088,
)


@dataclass(frozen=True)
class Vocab:
    """A byte-level BPE vocabulary: token texts, GGUF token types and merges."""

    tokens: list[str]
    types: list[int]
    merges: list[str]
    special: dict[str, int]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from each byte to a printable character."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {byte: chr(char) for byte, char in zip(printable, chars)}


def build_vocab(shape: TinyShape = TinyShape()) -> Vocab:
    """The vocabulary for ``shape``: token id ``b`` (b < 256) is the byte ``b``."""
    import gguf

    normal, control, unused = (
        int(gguf.TokenType.NORMAL),
        int(gguf.TokenType.CONTROL),
        int(gguf.TokenType.UNUSED),
    )
    byte_chars = bytes_to_unicode()
    tokens = [byte_chars[b] for b in range(256)]
    known = set(tokens)
    for left, right in MERGES:
        if left not in known or right not in known:
            raise ValueError(f"merge {left!r} + {right!r} uses a token not in the vocabulary")
        if left + right not in known:
            tokens.append(left + right)
            known.add(left + right)
    types = [normal] * len(tokens)

    n_base = len(tokens)
    if shape.vocab_size is None:
        block_start, vocab_size = n_base, n_base + HARMONY_BLOCK_MIN
    else:
        vocab_size = shape.vocab_size
        block_start = max(n_base, vocab_size - HARMONY_BLOCK_REAL)
        if vocab_size < block_start + HARMONY_BLOCK_MIN:
            raise ValueError(
                f"vocab_size {vocab_size} is too small: need at least "
                f"{n_base + HARMONY_BLOCK_MIN} for the byte tokens, merges and harmony tokens"
            )
    for token_id in range(n_base, block_start):
        tokens.append(f"<|filler_{token_id}|>")
        types.append(unused)

    names = {offset: name for name, offset in HARMONY_OFFSETS.items()}
    for token_id in range(block_start, vocab_size):
        tokens.append(names.get(token_id - block_start, f"<|reserved_{token_id}|>"))
        types.append(control)

    special = {name: block_start + offset for name, offset in HARMONY_OFFSETS.items()}
    merges = [f"{left} {right}" for left, right in MERGES]
    return Vocab(tokens=tokens, types=types, merges=merges, special=special)


def special_token_ids(shape: TinyShape = TinyShape()) -> dict[str, int]:
    """The id of each harmony control token in the model written for ``shape``."""
    return dict(build_vocab(shape).special)


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # numpy order; GGUF stores it reversed (ggml ne order)
    qtype: int
    fill: str  # "ones" or "normal"


def _tensor_plan(shape: TinyShape, n_vocab: int, dtype: str) -> list[_Tensor]:
    import gguf

    Q = gguf.GGMLQuantizationType
    f32 = Q.F32
    matrix = {"F32": Q.F32, "F16": Q.F16, "Q8_0": Q.Q8_0, "MXFP4": Q.F16}[dtype]
    expert = {"F32": Q.F32, "F16": Q.F16, "Q8_0": Q.Q8_0, "MXFP4": Q.MXFP4}[dtype]

    h, e, ff = shape.hidden, shape.experts, shape.expert_ff
    q_dim, kv_dim = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    plan = [_Tensor("token_embd.weight", (n_vocab, h), matrix, "normal")]
    for il in range(shape.layers):
        blk = f"blk.{il}."
        plan += [
            _Tensor(blk + "attn_norm.weight", (h,), f32, "ones"),
            _Tensor(blk + "attn_q.weight", (q_dim, h), matrix, "normal"),
            _Tensor(blk + "attn_q.bias", (q_dim,), f32, "normal"),
            _Tensor(blk + "attn_k.weight", (kv_dim, h), matrix, "normal"),
            _Tensor(blk + "attn_k.bias", (kv_dim,), f32, "normal"),
            _Tensor(blk + "attn_v.weight", (kv_dim, h), matrix, "normal"),
            _Tensor(blk + "attn_v.bias", (kv_dim,), f32, "normal"),
            _Tensor(blk + "attn_output.weight", (h, q_dim), matrix, "normal"),
            _Tensor(blk + "attn_output.bias", (h,), f32, "normal"),
            _Tensor(blk + "attn_sinks.weight", (shape.heads,), f32, "normal"),
            _Tensor(blk + "post_attention_norm.weight", (h,), f32, "ones"),
            _Tensor(blk + "ffn_gate_inp.weight", (e, h), f32, "normal"),
            _Tensor(blk + "ffn_gate_inp.bias", (e,), f32, "normal"),
            _Tensor(blk + "ffn_gate_exps.weight", (e, ff, h), expert, "normal"),
            _Tensor(blk + "ffn_gate_exps.bias", (e, ff), f32, "normal"),
            _Tensor(blk + "ffn_up_exps.weight", (e, ff, h), expert, "normal"),
            _Tensor(blk + "ffn_up_exps.bias", (e, ff), f32, "normal"),
            _Tensor(blk + "ffn_down_exps.weight", (e, h, ff), expert, "normal"),
            _Tensor(blk + "ffn_down_exps.bias", (e, h), f32, "normal"),
        ]
    plan += [
        _Tensor("output_norm.weight", (h,), f32, "ones"),
        _Tensor("output.weight", (n_vocab, h), matrix, "normal"),
    ]
    return plan


def parameter_count(shape: TinyShape = TinyShape()) -> int:
    """How many weights the model written for ``shape`` holds."""
    n_vocab = len(build_vocab(shape).tokens)
    return sum(math.prod(t.shape) for t in _tensor_plan(shape, n_vocab, "F32"))


def _nbytes(tensor: _Tensor) -> int:
    import gguf

    block_size, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(tensor.qtype)]
    rows = math.prod(tensor.shape[:-1])
    return rows * (tensor.shape[-1] // block_size) * type_size


def _tensor_data(tensor: _Tensor, rng: np.random.Generator) -> np.ndarray:
    """The tensor's bytes as gguf expects them, generated in bounded row chunks."""
    import gguf
    import numpy as np

    Q = gguf.GGMLQuantizationType
    n = tensor.shape[-1]
    rows = math.prod(tensor.shape[:-1])
    if tensor.fill == "ones":
        return np.ones(tensor.shape, dtype=np.float32)

    if tensor.qtype == Q.F32:
        out = np.empty((rows, n), dtype=np.float32)
    elif tensor.qtype == Q.F16:
        out = np.empty((rows, n), dtype=np.float16)
    else:
        block_size, type_size = gguf.GGML_QUANT_SIZES[Q(tensor.qtype)]
        out = np.empty((rows, n // block_size * type_size), dtype=np.uint8)

    step = max(1, _CHUNK_ELEMENTS // n)
    if tensor.qtype == Q.MXFP4:
        # Blocks are drawn directly: random 4-bit values under one fixed scale. Quantizing
        # normal draws in numpy would take about 40 minutes at gpt-oss-20b's shape.
        block_size, type_size = gguf.GGML_QUANT_SIZES[Q.MXFP4]
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            blocks = rng.integers(0, 256, (stop - start, n // block_size, type_size), dtype=np.uint8)
            blocks[:, :, 0] = MXFP4_SCALE
            out[start:stop] = blocks.reshape(stop - start, -1)
        return out.reshape(*tensor.shape[:-1], out.shape[-1])
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        chunk = rng.standard_normal((stop - start, n), dtype=np.float32) * WEIGHT_SCALE
        if tensor.qtype in (Q.F32, Q.F16):
            out[start:stop] = chunk
        else:
            out[start:stop] = gguf.quants.quantize(chunk, Q(tensor.qtype))
    return out.reshape(*tensor.shape[:-1], out.shape[-1])


def _check(shape: TinyShape, dtype: str) -> None:
    import gguf

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if shape.heads % shape.kv_heads:
        raise ValueError(f"heads ({shape.heads}) must be a multiple of kv_heads ({shape.kv_heads})")
    if not 0 < shape.experts_used <= shape.experts:
        raise ValueError(f"experts_used must be in 1..{shape.experts}, got {shape.experts_used}")
    if shape.head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {shape.head_dim}")
    if dtype in ("Q8_0", "MXFP4"):
        block = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[dtype]][0]
        rows = {"hidden": shape.hidden, "heads*head_dim": shape.heads * shape.head_dim,
                "expert_ff": shape.expert_ff}
        for what, size in rows.items():
            if size % block:
                raise ValueError(f"{dtype} needs {what} ({size}) to be a multiple of {block}")


def _add_metadata(w: gguf.GGUFWriter, shape: TinyShape, vocab: Vocab, dtype: str) -> None:
    import gguf

    file_type = {
        "F32": gguf.LlamaFileType.ALL_F32,
        "F16": gguf.LlamaFileType.MOSTLY_F16,
        "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "MXFP4": gguf.LlamaFileType.MOSTLY_MXFP4_MOE,
    }[dtype]
    w.add_name("gpt-oss random weights")
    w.add_file_type(int(file_type))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    w.add_context_length(shape.context_length)
    w.add_embedding_length(shape.hidden)
    w.add_block_count(shape.layers)
    w.add_feed_forward_length(shape.expert_ff)
    w.add_head_count(shape.heads)
    w.add_head_count_kv(shape.kv_heads)
    w.add_key_length(shape.head_dim)
    w.add_value_length(shape.head_dim)
    w.add_rope_freq_base(shape.rope_freq_base)
    if shape.rope_scaling_factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(shape.rope_scaling_factor)
        w.add_rope_scaling_orig_ctx_len(shape.rope_original_context)
    w.add_layer_norm_rms_eps(shape.rms_eps)
    w.add_expert_count(shape.experts)
    w.add_expert_used_count(shape.experts_used)
    w.add_expert_feed_forward_length(shape.expert_ff)
    w.add_sliding_window(shape.sliding_window)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-4o")
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    w.add_token_merges(vocab.merges)
    w.add_bos_token_id(vocab.special["<|startoftext|>"])
    w.add_eos_token_id(vocab.special["<|return|>"])
    w.add_pad_token_id(vocab.special["<|endoftext|>"])
    w.add_add_bos_token(False)


def write_gguf(
    path: str | os.PathLike[str],
    shape: TinyShape = TinyShape(),
    seed: int = 0,
    *,
    dtype: str = "F32",
) -> Path:
    """Write a random-weight gpt-oss GGUF to ``path`` atomically; return the path.

    The same ``shape``, ``seed`` and ``dtype`` give the same bytes. ``dtype``
    is the type of the weight matrices: F32, F16, Q8_0, or MXFP4 (MoE experts
    in MXFP4 and other matrices F16, as the released checkpoints quantize only
    the experts). Norms,
    biases, sinks and the router stay F32. Readers never see a partial file:
    it is written beside ``path`` and renamed into place.
    """
    import gguf
    import numpy as np

    _check(shape, dtype)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab(shape)
    plan = _tensor_plan(shape, len(vocab.tokens), dtype)
    rng = np.random.default_rng(seed)

    Q = gguf.GGMLQuantizationType
    with atomic_path(path, mode=0o644) as tmp:
        writer = gguf.GGUFWriter(tmp, ARCH)
        try:
            _add_metadata(writer, shape, vocab, dtype)
            for tensor in plan:
                is_float = tensor.qtype in (Q.F32, Q.F16)
                writer.add_tensor_info(
                    tensor.name,
                    tensor.shape,
                    np.dtype(np.float16 if tensor.qtype == Q.F16 else np.float32),
                    _nbytes(tensor),
                    raw_dtype=None if is_float else Q(tensor.qtype),
                )
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for tensor in plan:
                writer.write_tensor_data(_tensor_data(tensor, rng))
        finally:
            writer.close()
    return path


def ensure_tiny(cache_dir: str | os.PathLike[str]) -> Path:
    """The cached tiny model in ``cache_dir``, written there on first use.

    A cached file whose bytes are not the writer's (truncated, overwritten) is
    written again, with one warning: the writer is deterministic, so the right
    bytes are known.
    """
    path = Path(cache_dir) / TINY_FILENAME
    if path.is_file():
        if _digest(path) == _expected_digest():
            return path
        warnings.warn(f"gptoss: the cached tiny model {path} is damaged; writing it again", stacklevel=2)
    write_gguf(path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _expected_digest() -> str:
    with tempfile.TemporaryDirectory(prefix="gptoss-tiny-") as folder:
        return _digest(write_gguf(Path(folder) / TINY_FILENAME))


__all__ = (
    "GPT_OSS_20B",
    "TINY_FILENAME",
    "TinyShape",
    "build_vocab",
    "bytes_to_unicode",
    "ensure_tiny",
    "parameter_count",
    "special_token_ids",
    "write_gguf",
)
