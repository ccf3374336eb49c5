"""Replication endpoints and tasks: definitions, runs in their own process, status and
statistics, reload, resume and stop.

Task states are DMS's: Creating → Ready → Starting → Running → Stopping → Stopped, or Failed. A
task process killed without a final state is found by the next read and marked Failed;
``resume`` then continues from the last committed batch.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from pydantic import ValidationError

from sparkglue.catalog import DataCatalog, spec_error_message
from sparkglue.config import Settings
from sparkglue.errors import AlreadyExists, EntityNotFound, InvalidInput
from sparkglue.replication.lake import Batch, TaskLake
from sparkglue.replication.mappings import TableMappings, TablePlan
from sparkglue.replication.materialize import (
    catalog_names,
    default_database,
    generate_materialize_script,
)
from sparkglue.replication.runner import StopRequested, TaskRunner, plan_tables
from sparkglue.replication.source import PostgresSource, first_line
from sparkglue.replication.specs import (
    SourceEndpointSpec,
    TargetEndpointSpec,
    TaskSpec,
    endpoint_spec,
)
from sparkglue.replication.validate import TableValidation, validate_tables
from sparkglue.store import MetadataStore, orphaned, spawn_worker, utc_now
from sparkglue.store import schema as s

__all__ = ["ACTIVE_STATES", "ReplicationService", "TableStats", "TaskStatus"]

ACTIVE_STATES = ("Starting", "Running", "Stopping")

# Set by the task process's SIGTERM handler: stop at the end of the batch, as `task stop` does.
STOP_SIGNAL = threading.Event()


class TaskStatus(dict[str, Any]):
    """A task's record as DMS's DescribeReplicationTasks shows it (a dict of its fields)."""


class TableStats(dict[str, Any]):
    """One table's statistics as DMS's DescribeTableStatistics shows them."""


def slot_name(task: str) -> str:
    """A new task's replication slot: lowercase, digits and underscores, at most 63, with a
    random part so that two tasks (of two workspaces, or named alike) never share a slot."""
    stem = re.sub(r"[^a-z0-9_]", "_", task.lower())[:44]
    return f"sparkglue_{stem}_{secrets.token_hex(4)}"


class _Hooks:
    """What a running task tells the store: table states, batches, stop requests."""

    def __init__(self, service: ReplicationService, task: str, log: TextIO) -> None:
        self.service = service
        self.task = task
        self.log = log
        self._checked = 0.0
        self._stop = False

    def stop_requested(self) -> bool:
        if STOP_SIGNAL.is_set():
            return True
        now = time.monotonic()
        if not self._stop and now - self._checked > 0.2:
            self._checked = now
            self._stop = self.service._status(self.task) == "Stopping"
        return self._stop

    def table_state(self, table: str, state: str, **values: Any) -> None:
        self.service._set_table(self.task, table, state=state, **values)

    def committed(self, batch: Batch, lag: float | None) -> None:
        self.service._add_batch(self.task, batch)
        progress = {
            "batches": batch.number,
            "position": batch.position,
            "last_batch_at": batch.committed_at,
        }
        if lag is not None:
            progress["cdc_latency_seconds"] = round(lag, 3)
        self.service._update_progress(self.task, **progress)
        if batch.kind == "cdc":
            rows = sum(f.rows for f in batch.files)
            self.message(
                f"batch {batch.number}: {batch.transactions} transactions, {rows} changes"
                + (f", lag {lag:.2f} s" if lag is not None else "")
            )

    def moved(self, position: int) -> None:
        self.service._update_progress(self.task, position=position)

    def message(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        self.log.write(f"{stamp} {text}\n")
        self.log.flush()


class ReplicationService:
    """Endpoints and tasks of one workspace."""

    def __init__(self, store: MetadataStore, catalog: DataCatalog, settings: Settings) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.logs_dir = settings.workspace / "logs" / "replication"

    # ---- endpoints --------------------------------------------------------------------------

    def create_endpoint(
        self, spec: SourceEndpointSpec | TargetEndpointSpec | dict[str, Any]
    ) -> SourceEndpointSpec | TargetEndpointSpec:
        """Record an endpoint (a target's folder is checked to be in the lake)."""
        if isinstance(spec, dict):
            spec = endpoint_spec(spec)
        if isinstance(spec, TargetEndpointSpec):
            self.target_root(spec)
        with self.store.write() as conn:
            taken = conn.execute(
                sa.select(s.replication_endpoints.c.name).where(
                    s.replication_endpoints.c.name == spec.EndpointIdentifier
                )
            ).first()
            if taken:
                raise AlreadyExists(f"endpoint '{spec.EndpointIdentifier}' already exists")
            conn.execute(
                s.replication_endpoints.insert().values(
                    name=spec.EndpointIdentifier,
                    endpoint_type=spec.EndpointType,
                    engine=spec.EngineName,
                    spec=spec.model_dump(mode="json", exclude_none=True),
                    created_at=utc_now(),
                )
            )
        return spec

    def get_endpoint(self, name: str) -> SourceEndpointSpec | TargetEndpointSpec:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.replication_endpoints).where(s.replication_endpoints.c.name == name)
            ).first()
        if row is None:
            raise EntityNotFound(
                f"endpoint '{name}' not found; see `sparkglue replication endpoint list`"
            )
        return endpoint_spec(dict(row.spec))

    def list_endpoints(self) -> list[SourceEndpointSpec | TargetEndpointSpec]:
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.replication_endpoints).order_by(s.replication_endpoints.c.name)
            ).all()
        return [endpoint_spec(dict(r.spec)) for r in rows]

    def delete_endpoint(self, name: str) -> None:
        self.get_endpoint(name)
        with self.store.write() as conn:
            user = conn.execute(
                sa.select(s.replication_tasks.c.name).where(
                    sa.or_(
                        s.replication_tasks.c.source_endpoint == name,
                        s.replication_tasks.c.target_endpoint == name,
                    )
                )
            ).first()
            if user:
                raise InvalidInput(
                    f"endpoint '{name}' is used by task '{user.name}'; delete the task first"
                )
            conn.execute(
                s.replication_endpoints.delete().where(s.replication_endpoints.c.name == name)
            )

    def target_root(self, spec: TargetEndpointSpec) -> Path:
        return Path(
            self.catalog.resolve_location(
                spec.Path, what=f"endpoint {spec.EndpointIdentifier}: Path"
            )
        )

    def test_endpoint(self, name: str) -> tuple[list[str], list[str]]:
        """(problems, facts): what the endpoint lacks, and what was found."""
        spec = self.get_endpoint(name)
        if isinstance(spec, TargetEndpointSpec):
            root = self.target_root(spec)
            probe = root / "_sparkglue" / f".probe.{os.getpid()}"
            try:
                probe.parent.mkdir(parents=True, exist_ok=True)
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                return [f"cannot write to {root}: {exc.strerror}"], []
            return [], [f"folder {root} is writable", f"data format {spec.DataFormat}"]
        source = PostgresSource(spec)
        problems = source.test()
        tables = source.tables()
        facts = [f"{len(tables)} tables"] + [
            f"{t.schema}.{t.name} ({len(t.columns)} columns"
            + (f", key {', '.join(t.primary_key)})" if t.primary_key else ", no primary key)")
            for t in tables
        ]
        return problems, facts

    # ---- tasks ------------------------------------------------------------------------------

    def create_task(self, spec: TaskSpec | dict[str, Any]) -> TaskStatus:
        """Record a task (Creating, then Ready once its endpoints and mappings check out)."""
        if isinstance(spec, dict):
            try:
                spec = TaskSpec.model_validate(spec)
            except ValidationError as exc:
                raise InvalidInput(spec_error_message("replication task", exc)) from None
        name = spec.ReplicationTaskIdentifier
        if not isinstance(self.get_endpoint(spec.SourceEndpoint), SourceEndpointSpec):
            raise InvalidInput(f"endpoint '{spec.SourceEndpoint}' is not a source endpoint")
        if not isinstance(self.get_endpoint(spec.TargetEndpoint), TargetEndpointSpec):
            raise InvalidInput(f"endpoint '{spec.TargetEndpoint}' is not a target endpoint")
        mappings = TableMappings.parse(spec.TableMappings)
        with self.store.write() as conn:
            if conn.execute(
                sa.select(s.replication_tasks.c.name).where(s.replication_tasks.c.name == name)
            ).first():
                raise AlreadyExists(f"replication task '{name}' already exists")
            conn.execute(
                s.replication_tasks.insert().values(
                    name=name,
                    source_endpoint=spec.SourceEndpoint,
                    target_endpoint=spec.TargetEndpoint,
                    migration_type=spec.MigrationType,
                    spec={**spec.model_dump(mode="json"), "TableMappings": mappings.as_dict()},
                    status="Creating",
                    slot_name=slot_name(name),
                    progress={},
                    created_at=utc_now(),
                )
            )
        self._update(name, status="Ready")
        return self.get_task(name)

    def task_spec(self, name: str) -> TaskSpec:
        return TaskSpec.model_validate(self._row(name).spec)

    def _endpoints(self, spec: TaskSpec) -> tuple[SourceEndpointSpec, TargetEndpointSpec]:
        """A task's source and target endpoints (``create_task`` checked their kinds)."""
        source = self.get_endpoint(spec.SourceEndpoint)
        target = self.get_endpoint(spec.TargetEndpoint)
        assert isinstance(source, SourceEndpointSpec)
        assert isinstance(target, TargetEndpointSpec)
        return source, target

    @staticmethod
    def _plans(
        spec: TaskSpec, source: PostgresSource, target: TargetEndpointSpec
    ) -> list[TablePlan]:
        """The plans of the tables the task's mappings select on its source now."""
        return plan_tables(
            source,
            TableMappings.parse(spec.TableMappings),
            replica_full=source.replica_identity_full,
            target=target,
        )

    def _row(self, name: str) -> Any:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.replication_tasks).where(s.replication_tasks.c.name == name)
            ).first()
        if row is None:
            raise EntityNotFound(
                f"replication task '{name}' not found; see `sparkglue replication task list`"
            )
        return row

    def _status(self, name: str) -> str:
        return str(self._row(name).status)

    def get_task(self, name: str) -> TaskStatus:
        self.recover()
        row = self._row(name)
        return TaskStatus(
            ReplicationTaskIdentifier=row.name,
            SourceEndpoint=row.source_endpoint,
            TargetEndpoint=row.target_endpoint,
            MigrationType=row.migration_type,
            Status=row.status,
            StopReason=row.stop_reason,
            LastFailureMessage=row.last_failure,
            SlotName=row.slot_name,
            Progress=dict(row.progress or {}),
            Pid=row.pid,
            LogPath=row.log_path,
            MaterializedDatabase=row.materialized_database,
            CreatedAt=row.created_at,
            StartedAt=row.started_at,
            StoppedAt=row.stopped_at,
        )

    def list_tasks(self) -> list[TaskStatus]:
        self.recover()
        with self.store.read() as conn:
            names = conn.execute(
                sa.select(s.replication_tasks.c.name).order_by(s.replication_tasks.c.name)
            ).scalars()
            found = list(names)
        return [self.get_task(n) for n in found]

    def table_stats(self, name: str) -> list[TableStats]:
        self._row(name)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.replication_table_stats)
                .where(s.replication_table_stats.c.task_name == name)
                .order_by(s.replication_table_stats.c.table_key)
            ).all()
        out = []
        for r in rows:
            schema, _, table = r.table_key.partition(".")
            out.append(
                TableStats(
                    SchemaName=schema,
                    TableName=table,
                    TableState=r.state,
                    Inserts=r.inserts,
                    Updates=r.updates,
                    Deletes=r.deletes,
                    Ddls=r.ddls,
                    FullLoadRows=r.full_load_rows,
                    FullLoadErrorRows=r.full_load_error_rows,
                    FullLoadStartTime=r.full_load_start,
                    FullLoadEndTime=r.full_load_end,
                    LastUpdateTime=r.last_update_time,
                )
            )
        return out

    def delete_task(self, name: str) -> bool:
        """Delete a stopped task and drop its slot; its files in the lake stay. Returns
        whether a slot was dropped."""
        task = self.get_task(name)
        if task["Status"] in ACTIVE_STATES:
            raise InvalidInput(
                f"replication task '{name}' is {task['Status']}; stop it first "
                f"(`sparkglue replication task stop {name}`)"
            )
        source, _ = self._endpoints(self.task_spec(name))
        dropped = PostgresSource(source).drop_slot(task["SlotName"])
        # Its manifest goes too (a new task of that name starts afresh); data files stay.
        shutil.rmtree(self.lake(name).control, ignore_errors=True)
        self._clear_stats(name)
        with self.store.write() as conn:
            conn.execute(s.replication_tasks.delete().where(s.replication_tasks.c.name == name))
        return dropped

    def source_slot_exists(self, name: str) -> bool:
        """Whether the task's replication slot exists on its source."""
        source, _ = self._endpoints(self.task_spec(name))
        return PostgresSource(source).slot(self._row(name).slot_name) is not None

    def lake(self, name: str) -> TaskLake:
        """The task's target folder and manifest."""
        _, target = self._endpoints(self.task_spec(name))
        return TaskLake(self.target_root(target), name)

    # ---- running ----------------------------------------------------------------------------

    def start_task(self, name: str, *, reload: bool = False) -> subprocess.Popen[bytes]:
        """Start a Ready task (``reload``: start a Stopped or Failed one over, dropping its
        slot and the files it wrote). Returns the task's process."""
        status = self.get_task(name)["Status"]
        if reload:
            if status not in ("Ready", "Stopped", "Failed"):
                raise InvalidInput(
                    f"replication task '{name}' is {status}; stop it before a reload"
                )
            source, _ = self._endpoints(self.task_spec(name))
            PostgresSource(source).drop_slot(self._row(name).slot_name)
            self.lake(name).discard()
            self._clear_stats(name)
        elif status != "Ready":
            raise InvalidInput(
                f"replication task '{name}' is {status}, not Ready; use `sparkglue replication "
                f"task resume {name}` to continue it or `task start {name} --reload` to load "
                "it again"
            )
        return self._launch(name, status)

    def resume_task(self, name: str) -> subprocess.Popen[bytes]:
        """Continue a Stopped or Failed task from its last committed batch."""
        status = self.get_task(name)["Status"]
        if status not in ("Stopped", "Failed"):
            raise InvalidInput(
                f"replication task '{name}' is {status}; only a Stopped or Failed task resumes"
                + (
                    f" (start it with `sparkglue replication task start {name}`)"
                    if status == "Ready"
                    else ""
                )
            )
        return self._launch(name, status)

    def _launch(self, name: str, expected: str) -> subprocess.Popen[bytes]:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log = self.logs_dir / f"{name}.log"
        with self.store.write() as conn:
            done = conn.execute(
                s.replication_tasks.update()
                .where(s.replication_tasks.c.name == name, s.replication_tasks.c.status == expected)
                .values(
                    status="Starting",
                    pid=None,
                    host=socket.gethostname(),
                    log_path=str(log),
                    stop_reason=None,
                    last_failure=None,
                    started_at=utc_now(),
                    stopped_at=None,
                )
            )
        if done.rowcount != 1:
            raise InvalidInput(f"replication task '{name}' changed state; look at it again")
        proc = spawn_worker(
            "sparkglue.cli.replication_worker", str(self.settings.workspace), name, log=log
        )
        with self.store.write() as conn:
            conn.execute(
                s.replication_tasks.update()
                .where(s.replication_tasks.c.name == name, s.replication_tasks.c.pid.is_(None))
                .values(pid=proc.pid)
            )
        return proc

    def stop_task(self, name: str) -> TaskStatus:
        """Ask a running task to stop at the end of its batch (a load in progress is
        dropped and starts over on resume)."""
        status = self.get_task(name)["Status"]
        if status not in ("Starting", "Running"):
            raise InvalidInput(f"replication task '{name}' is {status}, not running")
        with self.store.write() as conn:
            conn.execute(
                s.replication_tasks.update()
                .where(
                    s.replication_tasks.c.name == name,
                    s.replication_tasks.c.status.in_(["Starting", "Running"]),
                )
                .values(status="Stopping")
            )
        return self.get_task(name)

    def wait(
        self, name: str, states: tuple[str, ...] = ("Stopped", "Failed"), timeout: float = 600
    ) -> TaskStatus:
        """Wait until the task is in one of ``states``."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get_task(name)
            if task["Status"] in states:
                return task
            if time.monotonic() > deadline:
                raise InvalidInput(
                    f"replication task '{name}' is still {task['Status']} after {timeout:.0f} s"
                )
            time.sleep(0.1)

    def recover(self) -> int:
        """Mark Failed the tasks of this host whose process is gone."""
        dead = orphaned(
            self.store, s.replication_tasks, s.replication_tasks.c.status, ACTIVE_STATES
        )
        for r in dead:
            with self.store.write() as conn:
                conn.execute(
                    s.replication_tasks.update()
                    .where(
                        s.replication_tasks.c.name == r.name,
                        s.replication_tasks.c.pid == r.pid,
                        s.replication_tasks.c.status.in_(ACTIVE_STATES),
                    )
                    .values(
                        status="Failed",
                        stop_reason="FAILED",
                        last_failure=(
                            f"the task's process (pid {r.pid}) ended without a final state; "
                            f"`sparkglue replication task resume {r.name}` continues from the "
                            "last committed batch"
                        ),
                        stopped_at=utc_now(),
                    )
                )
        return len(dead)

    def run_task(self, name: str, log: TextIO) -> str:
        """Run a started task in this process until it stops; returns its final status."""
        me = os.getpid()
        with self.store.write() as conn:
            claimed = conn.execute(
                s.replication_tasks.update()
                .where(
                    s.replication_tasks.c.name == name,
                    s.replication_tasks.c.status == "Starting",
                    sa.or_(s.replication_tasks.c.pid.is_(None), s.replication_tasks.c.pid == me),
                )
                .values(pid=me, status="Running")
            ).rowcount
        if claimed != 1:
            # Stopped before this process could start it: end it Stopped, not Failed.
            with self.store.write() as conn:
                conn.execute(
                    s.replication_tasks.update()
                    .where(
                        s.replication_tasks.c.name == name,
                        s.replication_tasks.c.status == "Stopping",
                        sa.or_(
                            s.replication_tasks.c.pid.is_(None), s.replication_tasks.c.pid == me
                        ),
                    )
                    .values(
                        status="Stopped",
                        stop_reason="STOPPED_BY_USER",
                        stopped_at=utc_now(),
                        pid=None,
                    )
                )
            return self._status(name)
        hooks = _Hooks(self, name, log)
        try:
            spec = self.task_spec(name)
            source_spec, target = self._endpoints(spec)
            source = PostgresSource(source_spec)
            plans = self._plans(spec, source, target)
            runner = TaskRunner(
                task=name,
                migration_type=spec.MigrationType,
                source=source,
                target=target,
                root=self.target_root(target),
                plans=plans,
                slot=self._row(name).slot_name,
                hooks=hooks,
            )
            self._rebuild_stats(
                name, runner.lake, [f"{p.source.schema}.{p.source.name}" for p in plans]
            )
            hooks.message(f"task {name} running ({spec.MigrationType}, {len(plans)} tables)")
            reason = runner.run()
        except StopRequested:
            reason = "STOPPED_BY_USER"
        except Exception as exc:
            hooks.message(f"failed: {exc!r}")
            self._update(
                name,
                status="Failed",
                stop_reason="FAILED",
                last_failure=first_line(exc),
                stopped_at=utc_now(),
                pid=None,
            )
            return "Failed"
        hooks.message(f"stopped: {reason}")
        self._update(name, status="Stopped", stop_reason=reason, stopped_at=utc_now(), pid=None)
        return "Stopped"

    # ---- materialize and validate -----------------------------------------------------------

    def materialize_script(self, name: str, database: str | None = None) -> tuple[str, str, str]:
        """(job name, script, database) of the job that materializes the task's tables."""
        _, target = self._endpoints(self.task_spec(name))
        lake = self.lake(name)
        if not lake.tables():
            raise InvalidInput(
                f"replication task '{name}' has committed nothing yet; start it and let it "
                "load first"
            )
        recorded = self._row(name).materialized_database
        if recorded and database and database.lower() != recorded:
            raise InvalidInput(
                f"replication task '{name}' materializes into database '{recorded}'; leave "
                f"--database out, or delete job '{name}-materialize' and its script to change it"
            )
        db = (database or recorded or default_database(name)).lower()
        script = generate_materialize_script(
            task=name,
            root=str(lake.root),
            database=db,
            data_format=target.DataFormat,
            op_in_load=target.IncludeOpForFullLoad,
            timestamp=target.TimestampColumnName,
        )
        self._update(name, materialized_database=db)
        return f"{name}-materialize", script, db

    def validate(self, name: str) -> list[TableValidation]:
        """Compare the source now with the task's materialized tables, key by key."""
        row = self._row(name)
        if not row.materialized_database:
            raise InvalidInput(
                f"replication task '{name}' has no materialized tables; run `sparkglue "
                f"replication materialize {name}` first"
            )
        spec = self.task_spec(name)
        source_spec, target = self._endpoints(spec)
        source = PostgresSource(source_spec)
        plans = self._plans(spec, source, target)
        names = catalog_names(self.lake(name).tables())
        locations = {}
        for plan in plans:
            key = f"{plan.source.schema}.{plan.source.name}"
            if key not in names:
                raise InvalidInput(
                    f"table {key} has no materialized copy; run `sparkglue replication "
                    f"materialize {name}` again"
                )
            table = self.catalog.get_table(row.materialized_database, names[key])
            locations[key] = (f"{row.materialized_database}.{names[key]}", str(table.location))
        return validate_tables(source, plans, locations)

    # ---- records ----------------------------------------------------------------------------

    def _update(self, name: str, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.replication_tasks.update()
                .where(s.replication_tasks.c.name == name)
                .values(**values)
            )

    def _update_progress(self, name: str, **values: Any) -> None:
        c = s.replication_tasks.c
        with self.store.write() as conn:
            current = conn.execute(sa.select(c.progress).where(c.name == name)).scalar_one()
            conn.execute(
                s.replication_tasks.update()
                .where(c.name == name)
                .values(progress={**(current or {}), **values})
            )

    def _clear_stats(self, task: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.replication_table_stats.delete().where(
                    s.replication_table_stats.c.task_name == task
                )
            )

    @staticmethod
    def _ensure_stats_row(conn: Any, task: str, table: str) -> None:
        exists = conn.execute(
            sa.select(s.replication_table_stats.c.task_name).where(
                s.replication_table_stats.c.task_name == task,
                s.replication_table_stats.c.table_key == table,
            )
        ).first()
        if not exists:
            conn.execute(
                s.replication_table_stats.insert().values(
                    task_name=task,
                    table_key=table,
                    state="Before load",
                    inserts=0,
                    updates=0,
                    deletes=0,
                    ddls=0,
                    full_load_rows=0,
                    full_load_error_rows=0,
                )
            )

    def _set_table(self, task: str, table: str, **values: Any) -> None:
        c = s.replication_table_stats.c
        with self.store.write() as conn:
            self._ensure_stats_row(conn, task, table)
            if "ddls" in values:
                values["ddls"] = c.ddls + values["ddls"]
            conn.execute(
                s.replication_table_stats.update()
                .where(c.task_name == task, c.table_key == table)
                .values(**values, last_update_time=utc_now())
            )

    def _add_batch(self, task: str, batch: Batch) -> None:
        if batch.kind != "cdc":
            return  # a load's rows are counted as the load goes (table_state)
        c = s.replication_table_stats.c
        with self.store.write() as conn:
            for f in batch.files:
                self._ensure_stats_row(conn, task, f.table)
                conn.execute(
                    s.replication_table_stats.update()
                    .where(c.task_name == task, c.table_key == f.table)
                    .values(
                        inserts=c.inserts + f.inserts,
                        updates=c.updates + f.updates,
                        deletes=c.deletes + f.deletes,
                        last_update_time=utc_now(),
                    )
                )

    def _rebuild_stats(self, task: str, lake: TaskLake, tables: list[str]) -> None:
        """Counts from the manifest, the record of what was committed (a crash between a commit
        and its statistics must not skew them)."""

        def zero() -> dict[str, int]:
            return {"inserts": 0, "updates": 0, "deletes": 0, "full_load_rows": 0}

        totals = {t: zero() for t in tables}
        loaded = set()
        for batch in lake.batches(reload=True):
            for f in batch.files:
                row = totals.setdefault(f.table, zero())
                if batch.kind == "load":
                    row["full_load_rows"] += f.rows
                else:
                    row["inserts"] += f.inserts
                    row["updates"] += f.updates
                    row["deletes"] += f.deletes
            if batch.kind == "load":
                loaded |= set(batch.tables)
        c = s.replication_table_stats.c
        with self.store.write() as conn:
            for table, counts in totals.items():
                self._ensure_stats_row(conn, task, table)
                values: dict[str, Any] = dict(counts)
                if table in loaded:
                    values["state"] = "Table completed"
                conn.execute(
                    s.replication_table_stats.update()
                    .where(c.task_name == task, c.table_key == table)
                    .values(**values)
                )
