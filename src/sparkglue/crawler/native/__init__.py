"""The crawler's compiled typers: Glue's type rules over CSV and JSON Lines samples, in C.

``typer.c`` reads a sample's bytes once and gives the same column types as the Python
classifiers (a property test compares the two on random input). For anything it does not read
the same way it says so, and the classifier types that sample in Python, as before.

The library is built once per machine with the first C compiler found: ``$CC``, ``cc``,
``gcc``, ``clang``, then Zig's (the ``ziglang`` package: ``pip install 'sparkglue[native]'``),
into the machine's cache folder (``$SPARKGLUE_CACHE_DIR``, else ``~/.cache/sparkglue``), under
a name hashed from the source and the compiler, so that a changed source builds afresh.
``python -m sparkglue.crawler.native`` builds it ahead of the first crawl (``./scripts/setup``
does). With no compiler, or with ``SPARKGLUE_NATIVE=off``, crawls type every sample in Python
(and with Arrow's CSV reader): the same results, more slowly.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sparkglue.config.machine import cache_dir, keep_newest, switched_off

__all__ = ["CsvTyping", "JsonTyping", "NativeTyper", "active_typer", "build", "load"]

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("typer.c")
_TYPES: tuple[str | None, ...] = (None, "boolean", "bigint", "double", "string")
_MAX_KEYS = 512
SWITCH_ENV = "SPARKGLUE_NATIVE"
_BUILD_SECONDS = 300
_KEEP = 3  # builds kept in the cache folder
_FLAGS = ("-O2", "-shared", "-fPIC")

_loaded: NativeTyper | None = None
_tried = False


class NativeTyper:
    """The loaded library; each method returns None when the sample must be typed in Python."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lib = ctypes.CDLL(str(path))
        c_int, c_size, c_char, c_ints = (
            ctypes.c_int,
            ctypes.c_size_t,
            ctypes.c_ubyte,
            ctypes.POINTER(ctypes.c_int),
        )
        self._widths = lib.sg_csv_widths
        self._widths.argtypes = [ctypes.c_char_p, c_size, c_char, c_char, c_int, c_ints]
        self._widths.restype = c_int
        self._csv = lib.sg_csv_types
        self._csv.argtypes = [ctypes.c_char_p, c_size, c_char, c_char, c_int, c_int, c_ints, c_ints]
        self._csv.restype = c_int
        self._json = lib.sg_json_lines_types
        self._json.argtypes = [ctypes.c_char_p, c_size, c_int, c_int, c_int, c_ints, c_ints, c_ints]
        self._json.restype = c_int

    def csv_widths(self, data: bytes, delimiter: str, quote: str, limit: int) -> list[int] | None:
        """The number of fields of each of the first ``limit`` records (Python's csv reader,
        empty lines skipped)."""
        if not _one_ascii(delimiter, quote):
            return None
        widths = (ctypes.c_int * limit)()
        n = self._widths(data, len(data), ord(delimiter), ord(quote), limit, widths)
        return None if n < 0 else widths[:n]

    def csv_types(
        self, data: bytes, delimiter: str, quote: str, width: int, limit: int
    ) -> CsvTyping | None:
        """Column types of the records of ``width`` fields among the first ``limit``, the
        first such record aside (a header, or data the caller types)."""
        if not _one_ascii(delimiter, quote):
            return None
        types = (ctypes.c_int * max(width, 1))()
        info = (ctypes.c_int * 4)()
        if self._csv(data, len(data), ord(delimiter), ord(quote), width, limit, types, info) < 0:
            return None
        if info[1] < 0:
            return None  # no record of that width
        try:
            first = data[info[1] : info[2]].decode("utf-8")
        except UnicodeDecodeError:
            return None  # not text: the classifiers pass only text
        return CsvTyping(
            types=[_TYPES[t] for t in types[:width]],
            ragged=info[0],
            first_record=first,
            typed_records=info[3],
        )

    def json_lines_types(self, data: bytes, complete: bool, limit: int) -> JsonTyping | None:
        """Keys (in the order first seen) and types of the first ``limit`` lines, each one JSON
        object of scalar values; and the lines of the whole data that are not blank. ``data``
        starts with no blank; ``complete`` says whether it is the whole file."""
        key_at = (ctypes.c_int * (2 * _MAX_KEYS))()
        types = (ctypes.c_int * _MAX_KEYS)()
        info = (ctypes.c_int * 3)()
        status = self._json(data, len(data), complete, limit, _MAX_KEYS, key_at, types, info)
        if status < 0:
            return None
        try:
            columns = {
                data[key_at[2 * k] : key_at[2 * k] + key_at[2 * k + 1]].decode("utf-8"): _TYPES[
                    types[k]
                ]
                for k in range(info[0])
            }
        except UnicodeDecodeError:
            return None  # not text: the classifiers pass only text
        return JsonTyping(columns=columns, records=info[1], lines=info[2])


def _one_ascii(*symbols: str) -> bool:
    """Whether each symbol is one ASCII character, as the typer takes them."""
    return all(len(c) == 1 and ord(c) < 128 for c in symbols)


@dataclass(frozen=True)
class CsvTyping:
    """What the CSV typer read."""

    types: list[str | None]
    ragged: int  # records of another width, left out
    first_record: str  # the text of the first record of the right width
    typed_records: int


@dataclass(frozen=True)
class JsonTyping:
    """What the JSON Lines typer read."""

    columns: dict[str, str | None]
    records: int
    lines: int  # lines of the whole data that are not blank


def active_typer() -> NativeTyper | None:
    """The typer when this process loaded it (a crawl of many files does, see
    ``crawler.engine``); None otherwise: a few files are typed in Python, with the same
    results, and no build is started for them."""
    return _loaded


def load() -> NativeTyper | None:
    """The typer, built first if needed; None (once logged) when it cannot be had."""
    global _loaded, _tried
    if _tried:
        return _loaded
    _tried = True
    if switched_off(SWITCH_ENV):
        return None
    try:
        _loaded = NativeTyper(build())
    except (OSError, RuntimeError) as exc:
        log.info("the crawler types samples in Python: %s", exc)
    return _loaded


def compilers() -> list[list[str]]:
    """The C compilers to try, in order (each a command line)."""
    found: list[list[str]] = []
    if os.environ.get("CC"):
        found.append(shlex.split(os.environ["CC"]))
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            found.append([path])
    if importlib.util.find_spec("ziglang") is not None:
        found.append([sys.executable, "-m", "ziglang", "cc"])
    return found


def build(compiler: list[str] | None = None, directory: Path | None = None) -> Path:
    """The built library's path, building it when no build of this source by this compiler
    is there. Raises RuntimeError when no compiler is found or none builds it."""
    source = SOURCE.read_bytes()
    candidates = [compiler] if compiler else compilers()
    if not candidates:
        raise RuntimeError(
            "no C compiler found (set CC, install cc, or pip install 'sparkglue[native]')"
        )
    folder = directory or cache_dir()
    errors = []
    for command in candidates:
        recipe = source + " ".join([*command, *_FLAGS]).encode()
        digest = hashlib.sha256(recipe).hexdigest()[:16]
        suffix = ".dll" if sys.platform == "win32" else ".so"
        target = folder / f"typer-{digest}-{sys.platform}-{platform.machine()}{suffix}"
        if target.exists():
            return target
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _compile(command, target)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            errors.append(f"{shlex.join(command)}: {exc}")
            continue
        keep_newest(folder, f"typer-*{suffix}", _KEEP)
        return target
    raise RuntimeError("the crawler's typer did not build: " + "; ".join(errors))


def _compile(command: list[str], target: Path) -> None:
    """Compile into a temporary file first and rename it: a concurrent build or a reader
    never sees half a library."""
    fd, partial = tempfile.mkstemp(prefix=target.stem + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [*command, *_FLAGS, "-o", partial, str(SOURCE)],
            capture_output=True,
            text=True,
            timeout=_BUILD_SECONDS,
            check=False,
        )
        if done.returncode:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
        NativeTyper(Path(partial))  # loads and has every function
        Path(partial).replace(target)
    finally:
        Path(partial).unlink(missing_ok=True)
