"""Whole-file compression: detect the codec, and stream a file decompressed.

gzip and bzip2 through the standard library, zstd through ``zstandard``, LZ4 frames through
``lz4``, and Snappy (its framing format, or Hadoop's block format) through ``cramjam``, chunk by
chunk: a file is never loaded whole.
"""

from __future__ import annotations

import bz2
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["detect_compression", "open_decompressed", "read_head", "read_head_from"]

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xff\x06\x00\x00sNaPpY", "snappy"),
)
_SUFFIXES = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".lz4": "lz4",
    ".snappy": "snappy",
    ".sz": "snappy",
}


def detect_compression(path: Path | str, first_bytes: bytes) -> str | None:
    """A whole-file compression codec, from the magic bytes (the suffix as a tie-breaker)."""
    for magic, codec in _MAGIC:
        if first_bytes.startswith(magic):
            return codec
    name = str(path).rsplit("/", 1)[-1]
    suffix = _SUFFIXES.get(("." + name.rsplit(".", 1)[-1].lower()) if "." in name else "")
    # Raw (unframed) snappy has no magic; trust the suffix only for it.
    return "snappy" if suffix == "snappy" else None


class _SnappyStream(io.RawIOBase):
    """Snappy (framed or Hadoop blocks) decompressed as a readable stream."""

    def __init__(self, raw: BinaryIO) -> None:
        self._chunks = _snappy_chunks(raw)
        self._buffer = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while self._offset >= len(self._buffer):
            self._buffer = next(self._chunks, b"")
            self._offset = 0
            if not self._buffer:
                return 0
        chunk = self._buffer[self._offset : self._offset + len(target)]
        target[: len(chunk)] = chunk
        self._offset += len(chunk)
        return len(chunk)


def open_decompressed(path: Path, codec: str | None) -> Any:
    """A binary stream of the file's content, decompressed on the fly (whole-file codecs)."""
    raw = path.open("rb")
    if codec is None:
        return raw
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if codec == "bzip2":
        return bz2.BZ2File(raw)
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    if codec == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameFile(raw, "rb")
    if codec == "snappy":
        return io.BufferedReader(_SnappyStream(raw))
    raise ValueError(f"unknown codec {codec}")


def read_head(path: Path, codec: str | None, limit: int) -> tuple[bytes, int]:
    """Decompress only as much of the file as the first ``limit`` bytes need; also return how
    many stored bytes were read for them."""
    with path.open("rb") as raw:
        return read_head_from(raw, codec, limit)


def read_head_from(raw: BinaryIO, codec: str | None, limit: int) -> tuple[bytes, int]:
    """``read_head`` of an open binary stream."""
    if codec is None:
        data = raw.read(limit)
    elif codec == "gzip":
        data = _drain(gzip.GzipFile(fileobj=raw), limit)
    elif codec == "bzip2":
        data = _drain(bz2.BZ2File(raw), limit)
    elif codec == "zstd":
        import zstandard

        data = _drain(zstandard.ZstdDecompressor().stream_reader(raw), limit)
    elif codec == "lz4":
        import lz4.frame

        data = _drain(lz4.frame.LZ4FrameFile(raw, "rb"), limit)
    elif codec == "snappy":
        data = _snappy_head(raw, limit)
    else:
        raise ValueError(f"unknown codec {codec}")
    return data, raw.tell()


def _drain(stream: Any, limit: int) -> bytes:
    out = bytearray()
    read = stream.read
    while len(out) < limit:
        chunk = read(min(65536, limit - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


_SNAPPY_STREAM_ID = b"\xff\x06\x00\x00sNaPpY"


def _snappy_chunks(raw: BinaryIO) -> Iterator[bytes]:
    """Decompressed chunks of Snappy's framing format, or of Hadoop's block format (what
    ``.snappy`` files written by Hadoop use)."""
    import cramjam

    if raw.read(len(_SNAPPY_STREAM_ID)) == _SNAPPY_STREAM_ID:
        while True:
            header = raw.read(4)
            if len(header) < 4:
                return
            kind, length = header[0], int.from_bytes(header[1:4], "little")
            body = raw.read(length)
            if len(body) < length:
                raise ValueError("truncated snappy frame")
            if kind == 0x00:
                yield bytes(cramjam.snappy.decompress_raw(body[4:]))
            elif kind == 0x01:
                yield body[4:]
            elif kind < 0x80:
                raise ValueError(f"unknown snappy chunk type {kind}")
    raw.seek(0)
    while True:  # Hadoop: [block length][[chunk length][raw snappy]]…
        block = raw.read(4)
        if len(block) < 4:
            return
        remaining = int.from_bytes(block, "big")
        while remaining > 0:
            size = int.from_bytes(raw.read(4), "big")
            chunk = bytes(cramjam.snappy.decompress_raw(raw.read(size)))
            if not chunk:
                raise ValueError("malformed Hadoop snappy block")
            yield chunk
            remaining -= len(chunk)


def _snappy_head(raw: BinaryIO, limit: int) -> bytes:
    out = bytearray()
    for chunk in _snappy_chunks(raw):
        out += chunk
        if len(out) >= limit:
            break
    return bytes(out[:limit])
