"""A file as classifiers see it: its size, compression and a bounded, decompressed head.

Classifiers never load a file whole. ``head()`` returns at most ``HEAD_BYTES`` of decompressed
content; columnar formats read their footer through pyarrow, which seeks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sparkglue.formats.compression import detect_compression, read_head

__all__ = ["HEAD_BYTES", "FileSample"]

HEAD_BYTES = 1024 * 1024  # Glue samples the first 1 MB of a file


@dataclass
class FileSample:
    """One file under a crawl target."""

    path: Path
    relative: str
    size: int
    mtime: float
    _first: bytes | None = field(default=None, repr=False)
    _head: bytes | None = field(default=None, repr=False)
    _compression: str | None = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)
    _consumed: int = field(default=0, repr=False)
    head_error: str | None = None

    @classmethod
    def of(cls, path: Path, relative: str) -> FileSample:
        st = path.stat()
        return cls(path=path, relative=relative, size=st.st_size, mtime=st.st_mtime)

    def first_bytes(self, n: int = 16) -> bytes:
        if self._first is None:
            with self.path.open("rb") as fh:
                self._first = fh.read(64)
        return self._first[:n]

    def last_bytes(self, n: int) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(max(0, self.size - n))
            return fh.read(n)

    @property
    def compression(self) -> str | None:
        if not self._checked:
            self._compression = detect_compression(self.path, self.first_bytes(16))
            self._checked = True
        return self._compression

    def head(self, limit: int = HEAD_BYTES) -> bytes:
        """Up to ``limit`` bytes of the decompressed content (empty when it cannot be read;
        ``head_error`` then says why)."""
        if self._head is None:
            try:
                self._head, self._consumed = read_head(self.path, self.compression, HEAD_BYTES)
            except Exception as exc:  # a corrupt stream is a property of the file, recorded
                self.head_error = f"cannot decompress ({self.compression}): {exc}"
                self._head = b""
        return self._head[:limit]

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
        return self.path.open("rb")
