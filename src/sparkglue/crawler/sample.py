"""A file as classifiers see it: its size, compression and a bounded, decompressed head.

Classifiers never load a large file whole. ``head()`` returns at most ``HEAD_BYTES`` of
decompressed content; columnar formats read their footer through pyarrow, which seeks. A file
is local, or an object of a pyarrow filesystem (S3) when ``filesystem`` is given. A local file
no larger than ``HEAD_BYTES`` is read once, whole: its magic bytes, its end, its head (and a
Parquet footer) all come from that read.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from sparkglue.formats.compression import detect_compression, read_head_from

__all__ = ["HEAD_BYTES", "FileSample"]

HEAD_BYTES = 1024 * 1024  # Glue samples the first 1 MB of a file


@dataclass
class FileSample:
    """One file under a crawl target."""

    path: Path | str
    relative: str
    size: int
    mtime: float
    _first: bytes | None = field(default=None, repr=False)
    _head: bytes | None = field(default=None, repr=False)
    _compression: str | None = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)
    _consumed: int = field(default=0, repr=False)
    _text: str | None = field(default=None, repr=False)
    _stored: bytes | None = field(default=None, repr=False)
    _first_line: str | None = field(default=None, repr=False)
    head_error: str | None = None
    text_error: str | None = None
    filesystem: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, path: Path, relative: str) -> FileSample:
        st = path.stat()
        return cls(path=path, relative=relative, size=st.st_size, mtime=st.st_mtime)

    def stored_bytes(self) -> bytes | None:
        """The whole stored file, for a local file no larger than ``HEAD_BYTES`` (read once);
        None for a larger file or an object of a remote filesystem."""
        if self._stored is None and self.filesystem is None and 0 < self.size <= HEAD_BYTES:
            # One unbuffered read (a few more if the system returns less): no buffer to fill
            # and copy out of, which is a good part of reading a small file.
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                chunks = [os.read(fd, self.size)]
                while chunks[-1] and sum(map(len, chunks)) < self.size:
                    chunks.append(os.read(fd, self.size - sum(map(len, chunks))))
            finally:
                os.close(fd)
            self._stored = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._stored

    def first_bytes(self, n: int = 16) -> bytes:
        if self._first is None:
            stored = self.stored_bytes()
            if stored is not None:
                self._first = stored[:64]
            else:
                with self.open_raw() as fh:
                    self._first = fh.read(64)
        return self._first[:n]

    def last_bytes(self, n: int) -> bytes:
        stored = self.stored_bytes()
        if stored is not None:
            return stored[-n:] if n else b""
        with self.open_raw() as fh:
            fh.seek(max(0, self.size - n))
            return fh.read(n)

    @property
    def compression(self) -> str | None:
        if not self._checked:
            self._compression = detect_compression(str(self.path), self.first_bytes(16))
            self._checked = True
        return self._compression

    def head(self, limit: int = HEAD_BYTES) -> bytes:
        """Up to ``limit`` bytes of the decompressed content (empty when it cannot be read;
        ``head_error`` then says why)."""
        if self._head is None:
            try:
                stored = self.stored_bytes()
                if stored is not None and self.compression is None:
                    self._head, self._consumed = stored, len(stored)  # no copy
                else:
                    with io.BytesIO(stored) if stored is not None else self.open_raw() as raw:
                        self._head, self._consumed = read_head_from(
                            raw, self.compression, HEAD_BYTES
                        )
            except Exception as exc:  # a corrupt stream is a property of the file, recorded
                self.head_error = f"cannot decompress ({self.compression}): {exc}"
                self._head = b""
        return self._head[:limit]

    def text(self) -> str:
        """``head()`` decoded as UTF-8 once for every text classifier, a leading byte-order mark
        dropped; a character cut by the end of the sample is left out. Empty when the head is
        not UTF-8 text: ``text_error`` (or ``head_error``) then says why."""
        if self._text is None:
            raw = self.head()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if not self.head_is_whole_file and exc.start >= len(raw) - 4:
                    text = raw[: exc.start].decode("utf-8")
                else:
                    self.text_error = f"not UTF-8 text (byte {exc.start})"
                    text = ""
            self._text = text.removeprefix("\ufeff")
        return self._text

    def first_line(self) -> str:
        """The first line of ``text()`` that is not blank (empty when there is none), found
        once for every classifier that looks at it."""
        if self._first_line is None:
            text = self.text()
            self._first_line = ""
            for size in (4096, 65536):  # a window: the whole sample is not split into lines
                lines = text[:size].splitlines()
                if len(text) > size and lines:
                    lines = lines[:-1]  # may be cut by the window
                line = next((line for line in lines if line.strip()), None)
                if line is not None:
                    self._first_line = line
                    break
        return self._first_line

    @property
    def head_fraction(self) -> float:
        """The share of the file (in stored bytes) that ``head()`` was decompressed from."""
        self.head()
        if self.size == 0 or self.head_is_whole_file:
            return 1.0
        return min(1.0, max(self._consumed, 1) / self.size)

    @property
    def head_is_whole_file(self) -> bool:
        """Whether ``head()`` holds the entire (decompressed) content."""
        data = self.head()
        if self.compression is None:
            return len(data) >= self.size
        return len(data) < HEAD_BYTES

    def open_raw(self) -> BinaryIO:
        """The stored bytes, seekable."""
        if self.filesystem is None:
            return open(self.path, "rb")  # noqa: PTH123 (a str path: no Path per file)
        return cast(BinaryIO, self.filesystem.open_input_file(str(self.path)))
