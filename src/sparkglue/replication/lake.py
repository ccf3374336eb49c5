"""The target folder as DMS lays it out, and the manifest that makes batches visible.

Layout under the target folder ``R``::

    R/SCHEMA/TABLE/LOAD00000001.parquet             full load (hexadecimal counter)
    R/[CdcPath/]SCHEMA/TABLE/[YYYY/MM/DD/]20261123-0915561719.parquet   changes, by commit time
    R/_sparkglue/TASK/manifest/00000001.json         one committed batch each
    R/_sparkglue/TASK/staging/00000002/…             a batch being written

A batch is written under ``staging/N/`` first. It becomes committed when ``manifest/N.json``
appears (written aside, flushed, then linked into place, which fails if it exists): that one
step makes every file of every table of the batch visible at once. The files are then moved to
their places; a reader that finds a committed file still in staging reads it there. Files of a
batch without a manifest are leftovers of a crash and are deleted on the next start. Spark and
the crawlers skip folders starting with ``_``, so the control folder never reads as data.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sparkglue.errors import InvalidInput

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "Batch",
    "FileEntry",
    "StagedFile",
    "TaskLake",
]

MANIFEST_FORMAT = "sparkglue.replication.manifest"
MANIFEST_VERSION = 1
CONTROL = "_sparkglue"


@dataclass(frozen=True)
class FileEntry:
    """One data file of a committed batch."""

    table: str  # source "schema.table"
    path: str  # relative to the target folder
    rows: int
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Batch:
    """A committed batch: the files it made visible and the source position it reached."""

    number: int
    kind: str  # "load" | "cdc"
    files: tuple[FileEntry, ...]
    position: int  # the slot may be advanced to here
    transactions: int
    first_commit_lsn: int
    last_commit_lsn: int
    committed_at: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    commit_times: tuple[str, ...] = ()

    def as_dict(self, task: str) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "task": task,
            "batch": self.number,
            "kind": self.kind,
            "position": self.position,
            "transactions": self.transactions,
            "first_commit_lsn": self.first_commit_lsn,
            "last_commit_lsn": self.last_commit_lsn,
            "committed_at": self.committed_at,
            "tables": self.tables,
            "files": [f.__dict__ for f in self.files],
            "commit_times": list(self.commit_times),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path) -> Batch:
        if data.get("format") != MANIFEST_FORMAT or data.get("format_version") != MANIFEST_VERSION:
            raise InvalidInput(
                f"{where} is not a version {MANIFEST_VERSION} replication manifest (format "
                f"{data.get('format')!r} version {data.get('format_version')!r}); use the "
                "sparkglue release that wrote it"
            )
        return cls(
            number=int(data["batch"]),
            kind=str(data["kind"]),
            files=tuple(FileEntry(**f) for f in data["files"]),
            position=int(data["position"]),
            transactions=int(data["transactions"]),
            first_commit_lsn=int(data["first_commit_lsn"]),
            last_commit_lsn=int(data["last_commit_lsn"]),
            committed_at=str(data["committed_at"]),
            tables=dict(data.get("tables", {})),
            commit_times=tuple(data.get("commit_times", ())),
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFile:
    """A data file being written in staging, in the target's format."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rows = 0
        self._writer: Any
        self._binary = [
            i for i, f in enumerate(schema) if fmt != "parquet" and pa.types.is_binary(f.type)
        ]
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(path, schema, compression="snappy")
        else:
            # CSV holds text: binary values are written in PostgreSQL's hex form (\x00ff).
            for i in self._binary:
                schema = schema.set(i, pa.field(schema[i].name, pa.string()))
            self._writer = pacsv.CSVWriter(
                path, schema, write_options=pacsv.WriteOptions(include_header=False)
            )

    def write(self, table: pa.Table) -> None:
        for i in self._binary:
            hexed = [None if v is None else "\\x" + v.hex() for v in table[i].to_pylist()]
            table = table.set_column(i, table.schema[i].name, pa.array(hexed, pa.string()))
        self._writer.write_table(table)
        self.rows += table.num_rows

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> int:
        self._writer.close()
        _fsync(self.path)
        return self.size()


class TaskLake:
    """The target folder of one task: its committed batches and the ones being written."""

    def __init__(self, root: Path, task: str) -> None:
        self.root = root
        self.task = task
        self.control = root / CONTROL / task
        self.manifest_dir = self.control / "manifest"
        self.staging_dir = self.control / "staging"
        self._batches: list[Batch] | None = None

    # ---- reading ----------------------------------------------------------------------------

    def batches(self, *, reload: bool = False) -> list[Batch]:
        """The committed batches, in order."""
        if self._batches is None or reload:
            found = []
            if self.manifest_dir.is_dir():
                for path in sorted(self.manifest_dir.glob("[0-9]*.json")):
                    data = json.loads(path.read_text(encoding="utf-8"))
                    found.append(Batch.from_dict(data, path))
            self._batches = found
        return self._batches

    def position(self) -> int:
        """The source position every committed batch covers (0 before the first)."""
        return max((b.position for b in self.batches()), default=0)

    def has_load(self) -> bool:
        return any(b.kind == "load" for b in self.batches())

    def next_number(self) -> int:
        return max((b.number for b in self.batches()), default=0) + 1

    def tables(self) -> dict[str, dict[str, Any]]:
        """Each replicated table (source ``schema.table``): its target folder, columns and key,
        as the newest batch that wrote it recorded them."""
        merged: dict[str, dict[str, Any]] = {}
        for batch in self.batches():
            merged.update(batch.tables)
        return merged

    def committed_files(self, table: str, kind: str | None = None) -> list[Path]:
        """The committed data files of source table ``table``, oldest batch first; a file not
        yet moved out of staging is given where it is."""
        out = []
        for batch in self.batches():
            if kind is not None and batch.kind != kind:
                continue
            for f in batch.files:
                if f.table == table:
                    final = self.root / f.path
                    staged = self._staged(batch.number, f.path)
                    out.append(final if final.exists() or not staged.exists() else staged)
        return out

    def used_names(self, folder: str) -> set[str]:
        """File names committed in a data folder (relative to the target)."""
        return {
            Path(f.path).name
            for b in self.batches()
            for f in b.files
            if str(Path(f.path).parent) == folder
        }

    # ---- writing ----------------------------------------------------------------------------

    def _staged(self, number: int, rel: str) -> Path:
        return self.staging_dir / f"{number:08d}" / rel

    def stage(self, number: int, rel: str, schema: pa.Schema, fmt: str) -> StagedFile:
        return StagedFile(self._staged(number, rel), schema, fmt)

    def commit(self, batch: Batch) -> None:
        """Make ``batch`` visible: one manifest file, linked into place atomically."""
        self.manifest_dir.mkdir(parents=True, exist_ok=True)
        final = self.manifest_dir / f"{batch.number:08d}.json"
        tmp = self.manifest_dir / f".{batch.number:08d}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(batch.as_dict(self.task), indent=1), encoding="utf-8")
        _fsync(tmp)
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise InvalidInput(
                f"replication task {self.task}: batch {batch.number} is already committed; "
                "is another process running this task?"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync(self.manifest_dir)
        if self._batches is not None:
            self._batches.append(batch)

    def publish(self, batch: Batch) -> None:
        """Move a committed batch's files from staging to their places (idempotent)."""
        for f in batch.files:
            staged = self._staged(batch.number, f.path)
            final = self.root / f.path
            if staged.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                staged.replace(final)
        shutil.rmtree(self.staging_dir / f"{batch.number:08d}", ignore_errors=True)

    def recover(self) -> None:
        """After a crash: finish moving committed batches, drop the files of uncommitted ones,
        and clear temporary manifests."""
        committed = {b.number: b for b in self.batches(reload=True)}
        if self.staging_dir.is_dir():
            for folder in sorted(self.staging_dir.iterdir()):
                number = int(folder.name) if folder.name.isdigit() else -1
                if number in committed:
                    self.publish(committed[number])
                else:
                    shutil.rmtree(folder, ignore_errors=True)
        if self.manifest_dir.is_dir():
            for tmp in self.manifest_dir.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def discard(self) -> None:
        """Forget everything this task wrote (a reload): data files and manifest."""
        for batch in self.batches(reload=True):
            for f in batch.files:
                (self.root / f.path).unlink(missing_ok=True)
        shutil.rmtree(self.control, ignore_errors=True)
        self._batches = None
