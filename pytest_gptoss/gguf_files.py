"""GGUF files: their header (key/value metadata, tensor table), their shards, and who the model in one is.

Everything here reads the header alone, a few MB at most, never the weights:
the response cache and the results file ask for a model's identity before
(or without) loading it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

#: how the shards of a split model end their stems: ``-00001-of-00003``
SPLIT_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")

_GGUF_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9


def read_gguf_tensors(path: Path, metadata: dict[str, Any]) -> tuple[list[tuple[str, int]], int]:
    """The tensor table of a GGUF file: (name, ggml type) of each tensor, and the offset where the table ends.

    ``metadata`` is what :func:`read_gguf_metadata` read from the same file.
    Raises ``struct.error`` where the file ends inside the table.
    """
    tensors: list[tuple[str, int]] = []
    with open(path, "rb") as stream:
        stream.seek(8)
        (count,) = struct.unpack("<Q", stream.read(8))
        stream.seek(int(metadata["GGUF.header_bytes"]))
        for _ in range(count):
            (length,) = struct.unpack("<Q", stream.read(8))
            name = stream.read(length).decode("utf-8", "replace")
            (dims,) = struct.unpack("<I", stream.read(4))
            stream.seek(8 * dims, os.SEEK_CUR)
            (kind,) = struct.unpack("<I", stream.read(4))
            stream.seek(8, os.SEEK_CUR)
            tensors.append((name, kind))
        return tensors, stream.tell()


def read_gguf_metadata(path: Path, want: Callable[[str], bool] = lambda key: True) -> dict[str, Any]:
    """Read the GGUF header's key/value metadata without touching tensor data.

    Arrays whose key ``want`` rejects are skipped without being decoded, so the
    200k-entry vocabulary of a real model costs a quick scan, not a parse.
    Raises ValueError for a file that is not GGUF or ends inside its header.
    """
    try:
        return _read_metadata(path, want)
    except struct.error:
        raise ValueError(f"{path} ends inside its GGUF header (truncated, or not GGUF)") from None


def _read_metadata(path: Path, want: Callable[[str], bool]) -> dict[str, Any]:
    with open(path, "rb") as stream:
        if stream.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        (version,) = struct.unpack("<I", stream.read(4))
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old")
        _tensors, count = struct.unpack("<QQ", stream.read(16))
        metadata: dict[str, Any] = {"GGUF.version": version}
        for _ in range(count):
            key = _read_string(stream)
            (kind,) = struct.unpack("<I", stream.read(4))
            value = _read_value(stream, kind, decode=want(key))
            if want(key):
                metadata[key] = value
        metadata["GGUF.header_bytes"] = stream.tell()
    return metadata


def _read_string(stream: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", stream.read(8))
    return stream.read(length).decode("utf-8", errors="replace")


def _read_value(stream: BinaryIO, kind: int, *, decode: bool) -> Any:
    if kind in _GGUF_SCALARS:
        fmt, size = _GGUF_SCALARS[kind]
        return struct.unpack(fmt, stream.read(size))[0]
    if kind == _STRING:
        if decode:
            return _read_string(stream)
        _skip_string(stream)
        return None
    if kind == _ARRAY:
        item_kind, length = struct.unpack("<IQ", stream.read(12))
        if not decode:
            if item_kind in _GGUF_SCALARS:
                stream.seek(_GGUF_SCALARS[item_kind][1] * length, os.SEEK_CUR)
            else:
                for _ in range(length):
                    _read_value(stream, item_kind, decode=False)
            return None
        return [_read_value(stream, item_kind, decode=True) for _ in range(length)]
    raise ValueError(f"unknown GGUF value type {kind}")


def _skip_string(stream: BinaryIO) -> None:
    (length,) = struct.unpack("<Q", stream.read(8))
    stream.seek(length, os.SEEK_CUR)


def training_context(path: Path) -> int | None:
    """The context length the model was trained with, from its GGUF metadata."""
    metadata = read_gguf_metadata(path, lambda key: not key.startswith("tokenizer."))
    arch = metadata.get("general.architecture")
    value = metadata.get(f"{arch}.context_length")
    return int(value) if isinstance(value, int) else None


# --- the model's identity -----------------------------------------------------------


def model_identity(path: Path) -> dict[str, Any]:
    """Who a GGUF model is, read from its header alone (a few MB, never the weights).

    Raises OSError or ValueError for a file that cannot be read as GGUF.

    The hash covers the header, the key/value metadata and the tensor table
    (names, shapes, types, offsets), so a new quantization or checkpoint of
    the same architecture hashes differently. Read once per file version and
    process: the results file and the response cache both ask.
    """
    status = os.stat(path)
    return dict(_identity(str(path), status.st_size, status.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _identity(name: str, _size: int, _mtime_ns: int) -> dict[str, Any]:
    path = Path(name)
    metadata = read_gguf_metadata(path, lambda key: key.startswith("general.") or key.endswith(".block_count"))
    end = _tensor_table_end(path, metadata)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        remaining = end
        while remaining:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    shards = _shards(path)
    arch = metadata.get("general.architecture")
    return {
        "file": path.name,
        "size": sum(shard.stat().st_size for shard in shards),
        "shards": len(shards),
        "architecture": arch,
        "name": metadata.get("general.name"),
        "block_count": metadata.get(f"{arch}.block_count"),
        "header_sha256": digest.hexdigest(),
        "header_bytes": end,
    }


def _tensor_table_end(path: Path, metadata: Mapping[str, Any]) -> int:
    """Where the tensor table ends: the header, metadata and tensor infos all lie before it."""
    try:
        return read_gguf_tensors(path, dict(metadata))[1]
    except struct.error:
        raise ValueError(f"{path} ends inside its GGUF tensor table (truncated, or not GGUF)") from None


def _shards(path: Path) -> list[Path]:
    stem = path.name.removesuffix(".gguf")
    if not SPLIT_SUFFIX.search(stem):
        return [path]
    prefix = SPLIT_SUFFIX.sub("", stem)
    return sorted(path.parent.glob(f"{prefix}-*-of-*.gguf")) or [path]
