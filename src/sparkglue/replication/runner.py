"""What a running task does: the full load in the slot's snapshot, then batches of whole
transactions, each committed in the lake before the slot moves.

Changes are streamed from the slot as the server decodes them (the replication protocol), so the
server's decoding and this process's writing overlap. The order of every CDC batch is: read whole
transactions from the stream (the slot does not move) → write the batch's files in staging →
commit the manifest (the batch becomes visible) → move the files into place → confirm the
batch's end position to the server (the slot moves). A crash before the manifest loses only
staging files, which the next start deletes and writes again from the same slot position; a
crash after it replays transactions the manifest already covers, and those are skipped by their
end position. A transaction is never split across batches.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa

from sparkglue.errors import InvalidInput
from sparkglue.replication.lake import Batch, FileEntry, StagedFile, TaskLake
from sparkglue.replication.mappings import TableMappings, TablePlan
from sparkglue.replication.source import ChangeStream, PostgresSource, SourceError, parse_lsn
from sparkglue.replication.specs import TargetEndpointSpec
from sparkglue.replication.types import arrow_type, needs_exact_numbers, to_arrow

__all__ = ["CRASH_ENV", "RunnerHooks", "TaskRunner", "plan_tables", "table_schema"]

# Fault injection for the crash tests: "POINT" or "POINT:N" kills this process with SIGKILL the
# Nth time it passes POINT (load-table, staged, committed, published, advanced).
CRASH_ENV = "SPARKGLUE_REPLICATION_CRASH_AT"
LSN_COLUMN = "_commit_lsn"
SEQ_COLUMN = "_commit_seq"
_FLUSH_ROWS = 50_000
_crash_counts: dict[str, int] = {}


def _crashpoint(point: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _crash_counts[point] = _crash_counts.get(point, 0) + 1
    if _crash_counts[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class StopRequested(Exception):
    """The task was asked to stop; the batch being written is dropped."""


class RunnerHooks(Protocol):
    def stop_requested(self) -> bool: ...

    def table_state(self, table: str, state: str, **values: Any) -> None: ...

    def committed(self, batch: Batch, lag: float | None) -> None: ...

    def moved(self, position: int) -> None: ...

    def message(self, text: str) -> None: ...


def _timestamp_text(value: str) -> str:
    """A PostgreSQL timestamp (``2026-11-23 09:16:56.17199+00``) as DMS's
    ``yyyy-MM-dd HH:mm:ss.SSSSSS`` in UTC."""
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")


def table_schema(plan: TablePlan, target: TargetEndpointSpec, *, with_op: bool) -> pa.Schema:
    """The columns of a LOAD or CDC file: Op first, then the timestamp column, the table's
    columns, and the ordering columns."""
    fields: list[pa.Field] = []
    if with_op:
        fields.append(pa.field("Op", pa.string()))
    if target.TimestampColumnName:
        fields.append(pa.field(target.TimestampColumnName, pa.string()))
    fields += list(plan.output_schema())
    fields += [pa.field(LSN_COLUMN, pa.int64()), pa.field(SEQ_COLUMN, pa.int64())]
    return pa.schema(fields)


def plan_tables(
    source: PostgresSource,
    mappings: TableMappings,
    *,
    replica_full: Callable[[str, str], bool],
    target: TargetEndpointSpec | None = None,
) -> list[TablePlan]:
    """The plans of the selected tables; a table whose changes could not be keyed, or whose
    column names collide with the columns the target adds, is refused."""
    added = {"Op", LSN_COLUMN, SEQ_COLUMN}
    if target is not None and target.TimestampColumnName:
        added.add(target.TimestampColumnName)
    tables = source.tables()
    chosen = set(mappings.selected([(t.schema, t.name) for t in tables]))
    plans = []
    for table in tables:
        if (table.schema, table.name) not in chosen:
            continue
        plan = mappings.plan(table)
        clash = [c.name for c in plan.columns if c.name in added]
        if clash:
            raise InvalidInput(
                f"table {table.schema}.{table.name} has a column '{clash[0]}', a name the "
                "target adds to every file (Op, the TimestampColumnName, _commit_lsn, "
                "_commit_seq); rename it with a transformation rule or change the target"
            )
        if not table.primary_key and not replica_full(table.schema, table.name):
            raise InvalidInput(
                f"table {table.schema}.{table.name} has no primary key, so its updates and "
                "deletes carry no key; ALTER TABLE … REPLICA IDENTITY FULL (with a "
                "define-primary-key rule), add a primary key, or exclude the table"
            )
        plans.append(plan)
    if not plans:
        raise InvalidInput(
            "the table mappings select no table of the source; check the selection rules "
            "against `sparkglue replication endpoint test`'s table list"
        )
    folders: dict[str, str] = {}
    for plan in plans:
        folder = f"{plan.target_schema}/{plan.target_table}"
        key = f"{plan.source.schema}.{plan.source.name}"
        if folder in folders:
            raise InvalidInput(
                f"tables {folders[folder]} and {key} both map to {folder}; rename one with a "
                "transformation rule"
            )
        folders[folder] = key
    return plans


@dataclass
class _TableChanges:
    """The changes of one table in the batch being written, buffered then staged.

    Each change is one list: the source columns' values, then Op, commit LSN, sequence and
    commit time; the buffer is turned into columns at once when it is flushed."""

    plan: TablePlan
    schema: pa.Schema
    names: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    exact: bool
    key_index: tuple[int, ...]
    rows: list[list[Any]] = field(default_factory=list)
    inserts: int = 0
    updates: int = 0
    deletes: int = 0

    @property
    def width(self) -> int:
        return len(self.names)

    def take(self, target: TargetEndpointSpec) -> pa.Table:
        columns = list(zip(*self.rows, strict=True))
        self.rows = []
        width = self.width
        data = pa.table(
            [to_arrow(columns[i], t) for i, t in enumerate(self.types)],
            names=list(self.names),
        )
        out = self.plan.apply(data)
        arrays: list[pa.Array] = [pa.array(columns[width], pa.string())]
        if target.TimestampColumnName:
            arrays.append(pa.array(columns[width + 3], pa.string()))
        arrays += list(out.columns)
        arrays += [
            pa.array(columns[width + 1], pa.int64()),
            pa.array(columns[width + 2], pa.int64()),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


class TaskRunner:
    """One run of a task, in this process."""

    def __init__(
        self,
        *,
        task: str,
        migration_type: str,
        source: PostgresSource,
        target: TargetEndpointSpec,
        root: Path,
        plans: list[TablePlan],
        slot: str,
        hooks: RunnerHooks,
    ) -> None:
        self.task = task
        self.migration_type = migration_type
        self.source = source
        self.target = target
        self.lake = TaskLake(root, task)
        self.plans = {f"{p.source.schema}.{p.source.name}": p for p in plans}
        self.slot = slot
        self.hooks = hooks
        self.ext = "parquet" if target.DataFormat == "parquet" else "csv"

    # ---- the whole run ----------------------------------------------------------------------

    def run(self) -> str:
        """Load and/or capture until done or stopped; returns the stop reason."""
        self.lake.recover()
        self._check_tables()
        wants_load = self.migration_type in ("full-load", "full-load-and-cdc")
        wants_cdc = self.migration_type in ("cdc", "full-load-and-cdc")
        if wants_load and not self.lake.has_load():
            # An unfinished load's snapshot died with its process: load again from a new slot.
            if wants_cdc:
                self.source.drop_slot(self.slot)
                with self.source.exported_slot(self.slot) as (snapshot, consistent):
                    self.hooks.message(f"slot {self.slot} created; loading in its snapshot")
                    self._full_load(snapshot, consistent)
            else:
                self._full_load(None, 0)
        if not wants_cdc:
            return "FULL_LOAD_ONLY_FINISHED"
        if self.source.slot(self.slot) is None:
            if self.lake.batches():
                raise SourceError(
                    f"replication slot {self.slot} is gone from the source, so changes since "
                    "the last batch are lost; start the task again with --reload"
                )
            self.source.create_slot(self.slot)
            self.hooks.message(f"slot {self.slot} created; capturing changes from now")
        return self._capture()

    def _check_tables(self) -> None:
        recorded = self.lake.tables()
        for key, plan in self.plans.items():
            before = recorded.get(key)
            if before is None and self.lake.has_load():
                # Its rows from before now were never loaded, nor its changes captured.
                raise InvalidInput(
                    f"table {key} appeared after the task's full load; start the task again "
                    "with --reload to load it, or exclude it in the table mappings"
                )
            now = _table_info(plan)
            if before is not None and before["columns"] != now["columns"]:
                raise InvalidInput(
                    f"table {key} changed since the task last wrote it (its columns or "
                    "mappings differ); start the task again with --reload"
                )

    # ---- full load --------------------------------------------------------------------------

    def _full_load(self, snapshot: str | None, consistent: int) -> None:
        number = self.lake.next_number()
        files: list[FileEntry] = []
        max_bytes = self.target.MaxFileSize * 1024
        for key in self.plans:
            self.hooks.table_state(key, "Before load")
        with self.source.snapshot(snapshot) as conn:
            for key, plan in self.plans.items():
                started = _now()
                self.hooks.table_state(key, "Full load", full_load_start=started)
                schema = table_schema(plan, self.target, with_op=self.target.IncludeOpForFullLoad)
                folder = f"{plan.target_schema}/{plan.target_table}"
                counter, rows, staged = 1, 0, None
                last_report = time.monotonic()
                for batch in self.source.read_table(conn, plan.source):
                    if self.hooks.stop_requested():
                        raise StopRequested
                    table = self._load_rows(plan, pa.Table.from_batches([batch]), rows, schema)
                    # Files end near MaxFileSize: rows are written in slices sized by the bytes
                    # a row has taken so far.
                    per_row = max(1.0, table.nbytes / max(1, table.num_rows))
                    while table.num_rows:
                        if staged is None:
                            rel = f"{folder}/LOAD{counter:08X}.{self.ext}"
                            staged = self.lake.stage(number, rel, schema, self.ext)
                        if staged.rows:
                            per_row = max(1.0, staged.size() / staged.rows)
                        fit = max(1, int((max_bytes - staged.size()) / per_row))
                        part, table = table.slice(0, fit), table.slice(fit)
                        staged.write(part)
                        rows += part.num_rows
                        if staged.size() >= max_bytes * 0.95:
                            files.append(_entry(key, rel, staged))
                            counter, staged = counter + 1, None
                    if time.monotonic() - last_report > 1:
                        self.hooks.table_state(key, "Full load", full_load_rows=rows)
                        last_report = time.monotonic()
                if staged is not None:
                    files.append(_entry(key, rel, staged))
                self.hooks.table_state(
                    key, "Table completed", full_load_rows=rows, full_load_end=_now()
                )
                self.hooks.message(f"full load: {key}: {rows} rows")
                _crashpoint("load-table")
        batch = Batch(
            number=number,
            kind="load",
            files=tuple(files),
            position=consistent,
            transactions=0,
            first_commit_lsn=0,
            last_commit_lsn=0,
            committed_at=_now(),
            tables={k: _table_info(p) for k, p in self.plans.items()},
        )
        self._commit(batch, None)

    def _load_rows(
        self, plan: TablePlan, data: pa.Table, offset: int, schema: pa.Schema
    ) -> pa.Table:
        out = plan.apply(data)
        n = out.num_rows
        arrays: list[pa.Array] = []
        if self.target.IncludeOpForFullLoad:
            arrays.append(pa.array(["I"] * n, pa.string()))
        if self.target.TimestampColumnName:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            arrays.append(pa.array([stamp] * n, pa.string()))
        arrays += list(out.columns)
        arrays += [
            pa.array([0] * n, pa.int64()),
            pa.array(range(offset + 1, offset + n + 1), pa.int64()),
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    # ---- change capture ---------------------------------------------------------------------

    def _capture(self) -> str:
        position = self.lake.position()
        slot = self.source.slot(self.slot)
        assert slot is not None
        if slot.confirmed < position:
            # The server forgot a confirmation (it keeps them at checkpoints): catch the slot up.
            self.source.advance(self.slot, position)
        upto = max(1000, self.target.CdcMinFileSize * 1024 // 128)
        tables = [(p.source.schema, p.source.name) for p in self.plans.values()]
        self._leftover: list[memoryview] = []
        with self.source.stream(self.slot, tables, confirmed=max(position, slot.confirmed)) as s:
            behind = False
            while True:
                # Collecting a batch makes many small lists that all live until it is written:
                # the cyclic collector would walk them again and again for nothing. Nothing is
                # promoted while it is off, so a young collection afterwards finds every cycle
                # the batch left.
                gc.disable()
                try:
                    position, behind = self._capture_batch(s, position, upto, behind)
                finally:
                    gc.enable()
                    gc.collect(0)
                if self.hooks.stop_requested():
                    return "STOPPED_BY_USER"

    def _capture_batch(
        self, stream: ChangeStream, position: int, upto: int, behind: bool
    ) -> tuple[int, bool]:
        """Read whole transactions into one batch and commit it; returns the new position and
        whether more was waiting when it closed.

        The batch closes at the end of a transaction once ``CdcMaxBatchInterval`` has passed
        and the stream is caught up (at once when caught up, if the last batch was ``behind``),
        or once twice the interval has passed, or once it holds ``upto`` changes; and on a stop
        request between transactions. A stop in the middle of a transaction drops the batch."""
        number = self.lake.next_number()
        tables: dict[tuple[str, str], _TableChanges] = {}
        for _key, plan in self.plans.items():
            names = tuple(c.name for c in plan.source.columns)
            tables[(plan.source.schema, plan.source.name)] = _TableChanges(
                plan=plan,
                schema=table_schema(plan, self.target, with_op=True),
                names=names,
                types=tuple(arrow_type(c.pg_type) for c in plan.source.columns),
                exact=needs_exact_numbers([c.pg_type for c in plan.source.columns]),
                key_index=tuple(names.index(k) for k in _source_key(plan)),
            )
        staged: dict[str, tuple[str, StagedFile]] = {}
        first_stamp: str | None = None  # DMS's commit time text of the batch's first change
        txns = changes = 0
        first_commit = last_commit = 0
        end = position
        commit_times: list[str] = []
        skip = in_txn = caught_up = False
        commit_lsn = seq = 0
        stamp = ""
        loads = orjson.loads
        interval = self.target.CdcMaxBatchInterval
        wait = 0.0 if behind else interval
        opened = time.monotonic()
        chunk, self._leftover = self._leftover, []
        done = False
        while not done:
            if not chunk:
                age = time.monotonic() - opened
                if not in_txn and (
                    changes >= upto or (age >= wait and caught_up) or age >= 2 * interval
                ):
                    break
                if self.hooks.stop_requested():
                    if in_txn:
                        raise StopRequested
                    break
                chunk = stream.read(timeout=min(0.05, max(0.001, wait - age)))
                caught_up = not chunk
                continue
            # A full chunk means more is waiting: close at a transaction's end after 2 intervals.
            closing = time.monotonic() - opened >= 2 * interval
            for i, data in enumerate(chunk):
                changes += 1
                record = loads(data)
                action = record["action"]
                if action == "I" and not skip:
                    # The common case, kept short: an insert whose columns are as planned.
                    table = tables.get((record["schema"], record["table"]))
                    if table is None:
                        continue
                    columns = record["columns"]
                    if (
                        not table.exact
                        and len(columns) == table.width
                        and columns[-1]["name"] == table.names[-1]
                    ):
                        seq += 1
                        values = [c["value"] for c in columns]
                        values += (action, commit_lsn, seq, stamp)
                        table.rows.append(values)
                        table.inserts += 1
                        if first_stamp is None:
                            first_stamp = stamp
                        if len(table.rows) >= _FLUSH_ROWS:
                            self._flush(number, table, staged, first_stamp)
                        continue
                if action == "B":
                    in_txn = True
                    skip = parse_lsn(record["nextlsn"]) <= position
                    commit_lsn, seq = parse_lsn(record["lsn"]), 0
                    stamp = _timestamp_text(record["timestamp"])
                    continue
                if action == "C":
                    in_txn = False
                    if not skip:
                        txns += 1
                        first_commit = first_commit or commit_lsn
                        last_commit = commit_lsn
                        end = parse_lsn(record["nextlsn"])
                        commit_times.append(stamp)
                    if closing or changes >= upto:
                        self._leftover, done = chunk[i + 1 :], True
                        break
                    continue
                if skip or action == "M":
                    continue
                table = tables.get((record.get("schema"), record.get("table")))
                if table is None:
                    continue
                if action == "T":
                    raise InvalidInput(
                        f"TRUNCATE of {record['schema']}.{record['table']} cannot be replicated "
                        "as row changes; start the task again with --reload"
                    )
                if table.exact:
                    record = json.loads(bytes(data), parse_float=str)
                if first_stamp is None:
                    first_stamp = stamp
                seq = self._add_change(table, action, record, commit_lsn, seq, stamp)
                if len(table.rows) >= _FLUSH_ROWS:
                    self._flush(number, table, staged, first_stamp)
            chunk = []
        for table in tables.values():
            if table.rows:
                assert first_stamp is not None
                self._flush(number, table, staged, first_stamp)
        if not staged:
            # Nothing of the selected tables (transactions of other tables only, or ones already
            # committed that the server sent again after forgetting an advance): move the slot
            # on, with no batch.
            stream.confirm(max(end, position))
            if end > position:
                self.hooks.moved(end)
            return max(end, position), not caught_up
        files = tuple(
            _entry(key, rel, f, tables[tuple(key.split(".", 1))])  # type: ignore[index]
            for key, (rel, f) in staged.items()
        )
        batch = Batch(
            number=number,
            kind="cdc",
            files=files,
            position=end,
            transactions=txns,
            first_commit_lsn=first_commit,
            last_commit_lsn=last_commit,
            committed_at=_now(),
            tables={
                f"{t.plan.source.schema}.{t.plan.source.name}": _table_info(t.plan)
                for t in tables.values()
                if f"{t.plan.source.schema}.{t.plan.source.name}" in staged
            },
            commit_times=tuple(commit_times),
        )
        lag = None
        if commit_times:
            newest = datetime.strptime(commit_times[-1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            lag = (datetime.now(UTC) - newest).total_seconds()
        self._commit(batch, lag)
        stream.confirm(end)
        _crashpoint("advanced")
        return end, not caught_up

    def _add_change(
        self,
        table: _TableChanges,
        action: str,
        record: dict[str, Any],
        lsn: int,
        seq: int,
        stamp: str,
    ) -> int:
        if action == "D":
            values = self._keyed(table, record.get("identity") or [], record)
            values += ("D", lsn, seq + 1, stamp)
            table.rows.append(values)
            table.deletes += 1
            return seq + 1
        columns = record["columns"]
        # wal2json lists the columns in table order; the count and the last name catch a
        # column added or dropped since the task started.
        if len(columns) == table.width and columns[-1]["name"] == table.names[-1]:
            values = [c["value"] for c in columns]
        else:
            values = self._by_name(table, columns, record)
        if action == "U":
            identity = record.get("identity")
            if identity and self._key_changed(table, identity, values):
                # The key itself changed: the old key's row is gone.
                seq += 1
                old = self._keyed(table, identity, record)
                old += ("D", lsn, seq, stamp)
                table.rows.append(old)
                table.deletes += 1
            table.updates += 1
        else:
            table.inserts += 1
        values += (action, lsn, seq + 1, stamp)
        table.rows.append(values)
        return seq + 1

    @staticmethod
    def _key_changed(
        table: _TableChanges, identity: list[dict[str, Any]], values: list[Any]
    ) -> bool:
        # By name: wal2json lists the identity in table order, which need not be key order.
        old = {c["name"]: c["value"] for c in identity}
        return any(old.get(table.names[i]) != values[i] for i in table.key_index)

    def _by_name(
        self, table: _TableChanges, columns: list[dict[str, Any]], record: dict[str, Any]
    ) -> list[Any]:
        got = {c["name"]: c["value"] for c in columns}
        unknown = [n for n in got if n not in table.names]
        if unknown:
            key = f"{record['schema']}.{record['table']}"
            self.hooks.table_state(key, "Table error", ddls=1)
            raise InvalidInput(
                f"table {key} gained column '{unknown[0]}' while the task ran; DDL changes are "
                "not replicated: start the task again with --reload"
            )
        # A column missing from an update is an unchanged TOASTed value wal2json leaves out;
        # under REPLICA IDENTITY FULL the old row holds it.
        old = {c["name"]: c["value"] for c in record.get("identity") or ()}
        return [got[n] if n in got else old.get(n) for n in table.names]

    def _keyed(
        self, table: _TableChanges, identity: list[dict[str, Any]], record: dict[str, Any]
    ) -> list[Any]:
        got = {c["name"]: c["value"] for c in identity}
        missing = [table.names[i] for i in table.key_index if table.names[i] not in got]
        if missing:
            raise InvalidInput(
                f"a change of {record['schema']}.{record['table']} carries no value for key "
                f"column '{missing[0]}'; set REPLICA IDENTITY FULL on the table or add a "
                "primary key"
            )
        return [got.get(n) for n in table.names]

    def _flush(
        self,
        number: int,
        table: _TableChanges,
        staged: dict[str, tuple[str, StagedFile]],
        first_stamp: str,
    ) -> None:
        plan = table.plan
        key = f"{plan.source.schema}.{plan.source.name}"
        if key not in staged:
            rel = self._cdc_path(plan, first_stamp)
            staged[key] = (rel, self.lake.stage(number, rel, table.schema, self.ext))
        staged[key][1].write(table.take(self.target))

    def _cdc_path(self, plan: TablePlan, first_stamp: str) -> str:
        """``[CdcPath/]schema/table/[YYYY/MM/DD/]yyyyMMdd-HHmmssffff.ext``, named by the batch's
        first commit time, made unique against committed names."""
        stamp = datetime.strptime(first_stamp, "%Y-%m-%d %H:%M:%S.%f")
        parts = [self.target.CdcPath] if self.target.CdcPath else []
        parts += [plan.target_schema, plan.target_table]
        if self.target.DatePartitionEnabled:
            parts += [f"{stamp:%Y}", f"{stamp:%m}", f"{stamp:%d}"]
        folder = "/".join(parts)
        used = self.lake.used_names(folder)
        tick = int(f"{stamp:%H%M%S}{stamp.microsecond // 100:04d}")
        while True:
            name = f"{stamp:%Y%m%d}-{tick:010d}.{self.ext}"
            if name not in used:
                return f"{folder}/{name}"
            tick += 1

    # ---- commit -----------------------------------------------------------------------------

    def _commit(self, batch: Batch, lag: float | None) -> None:
        _crashpoint("staged")
        self.lake.commit(batch)
        _crashpoint("committed")
        self.lake.publish(batch)
        self.hooks.committed(batch, lag)
        _crashpoint("published")


def _source_key(plan: TablePlan) -> tuple[str, ...]:
    """The key columns by their source names."""
    by_target = {c.name: c.source for c in plan.columns}
    return tuple(str(by_target[k]) for k in plan.primary_key)


def _table_info(plan: TablePlan) -> dict[str, Any]:
    return {
        "schema": plan.target_schema,
        "table": plan.target_table,
        "columns": [[f.name, str(f.type)] for f in plan.output_schema()],
        "primary_key": list(plan.primary_key),
    }


def _entry(
    key: str, rel: str, staged: StagedFile, changes: _TableChanges | None = None
) -> FileEntry:
    size = staged.close()
    if changes is None:
        return FileEntry(table=key, path=rel, rows=staged.rows, inserts=staged.rows, bytes=size)
    return FileEntry(
        table=key,
        path=rel,
        rows=staged.rows,
        inserts=changes.inserts,
        updates=changes.updates,
        deletes=changes.deletes,
        bytes=size,
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
