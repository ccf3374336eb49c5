"""Replication fixtures: a fresh source database on the test PostgreSQL server, a workspace
with endpoints to it and to a lake folder, and a writer that changes the source concurrently."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from sparkglue.replication import TaskLake
from sparkglue.replication.source import parse_lsn
from sparkglue.workspace import Workspace

ALL_PUBLIC = {
    "rules": [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "all",
            "object-locator": {"schema-name": "public", "table-name": "%"},
            "rule-action": "include",
        }
    ]
}


@dataclass
class SourceDb:
    """A database of the test server: its URL (no password) and a libpq DSN."""

    url: str
    dsn: str
    name: str

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=True)

    def execute(self, sql: str, params: Any = None) -> None:
        with self.connect() as conn:
            conn.execute(sql, params)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(sql).fetchall()


def _dsn(url: sa.engine.URL) -> str:
    return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"


def fresh_source(admin_url: str) -> Iterator[SourceDb]:
    name = "rs_" + uuid.uuid4().hex[:12]
    admin = sa.engine.make_url(admin_url)
    with psycopg.connect(_dsn(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql", database=name)
    yield SourceDb(url=url.render_as_string(hide_password=False), dsn=_dsn(url), name=name)
    with psycopg.connect(_dsn(admin), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
            "WHERE database = %s AND active_pid IS NOT NULL",
            (name,),
        )
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE database = %s",
            (name,),
        )
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def source_db(postgres_admin_url: str) -> Iterator[SourceDb]:
    yield from fresh_source(postgres_admin_url)


def add_endpoints(ws: Workspace, source: SourceDb, **target: Any) -> None:
    ws.replication.create_endpoint(
        {"EndpointIdentifier": "pg", "EndpointType": "source", "Url": source.url}
    )
    ws.replication.create_endpoint(
        {
            "EndpointIdentifier": "lake",
            "EndpointType": "target",
            "Path": "raw/dms",
            "DataFormat": "parquet",
            "CdcMaxBatchInterval": 0.1,
            **target,
        }
    )


def add_task(
    ws: Workspace,
    name: str,
    mappings: dict[str, Any] | None = None,
    kind: str = "full-load-and-cdc",
) -> None:
    ws.replication.create_task(
        {
            "ReplicationTaskIdentifier": name,
            "SourceEndpoint": "pg",
            "TargetEndpoint": "lake",
            "MigrationType": kind,
            "TableMappings": mappings or ALL_PUBLIC,
        }
    )


SHOP = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, since date, vip boolean);
CREATE TABLE orders (
    id bigint PRIMARY KEY, customer int, amount numeric(12,2), note text, placed timestamptz
);
INSERT INTO customers SELECT g, 'customer ' || g, date '2024-01-01' + g, g % 7 = 0
    FROM generate_series(1, 200) g;
INSERT INTO orders SELECT g, g % 200 + 1, g * 1.25, 'order, "n" ' || g, now()
    FROM generate_series(1, %(orders)s) g;
"""


def create_shop(source: SourceDb, orders: int = 20000) -> None:
    with source.connect() as conn:
        conn.execute(SHOP.replace("%(orders)s", str(orders)))


@dataclass
class ChangeWriter:
    """Random inserts, updates (some of the key), deletes, two-table transactions and rolled-back
    transactions against the shop tables, from a thread, until stopped."""

    source: SourceDb
    seed: int = 1
    pause: float = 0.002
    committed: int = 0
    rolled_back_ids: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: BaseException | None = None
    _next_id: int = 0

    def start(self) -> ChangeWriter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        rnd = random.Random(self.seed)
        self._next_id = 10_000_000 + self.seed * 1_000_000
        while not self._stop.is_set():
            try:
                with self.source.connect() as conn:
                    self._loop(conn, rnd)
            except psycopg.OperationalError:
                time.sleep(0.2)  # the server restarted: connect again
            except BaseException as exc:
                self.error = exc
                return

    def _loop(self, conn: psycopg.Connection[Any], rnd: random.Random) -> None:
        while not self._stop.is_set():
            kind = rnd.random()
            if kind < 0.1:
                self._next_id += 1
                try:
                    with conn.transaction():
                        conn.execute(
                            "INSERT INTO orders VALUES (%s, 1, 1, 'rolled back', now())",
                            (self._next_id,),
                        )
                        raise _Rollback
                except _Rollback:
                    self.rolled_back_ids.append(self._next_id)
                continue
            with conn.transaction():
                for _ in range(rnd.randint(1, 4)):
                    self._next_id += 1
                    self._change(conn, rnd, self._next_id)
                if kind > 0.8:
                    conn.execute(
                        "UPDATE customers SET name = name || '+', vip = NOT vip WHERE id = %s",
                        (rnd.randint(1, 200),),
                    )
            self.committed += 1
            time.sleep(self.pause)

    @staticmethod
    def _change(conn: psycopg.Connection[Any], rnd: random.Random, new_id: int) -> None:
        pick = rnd.random()
        if pick < 0.45:
            conn.execute(
                "INSERT INTO orders VALUES (%s, %s, %s, %s, now())",
                (new_id, rnd.randint(1, 200), round(rnd.uniform(0, 999), 2), f"w{new_id}"),
            )
        elif pick < 0.75:
            conn.execute(
                "UPDATE orders SET amount = amount + 1, note = note || '.' WHERE id = "
                "(SELECT id FROM orders ORDER BY random() LIMIT 1)"
            )
        elif pick < 0.8:
            conn.execute(
                "UPDATE orders SET id = %s WHERE id = "
                "(SELECT id FROM orders ORDER BY random() LIMIT 1)",
                (new_id,),
            )
        else:
            conn.execute(
                "DELETE FROM orders WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1)"
            )


class _Rollback(Exception):
    pass


def source_state(source: SourceDb, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each row of a source table (keyed by its first column, the key in these tables)."""
    with source.connect() as conn:
        cur = conn.execute(f"SELECT * FROM {table}")
        names = [d.name for d in cur.description or []]
        return {(row[0],): dict(zip(names, row, strict=True)) for row in cur}


def read_files(lake: TaskLake, table: str, kind: str | None = None) -> pa.Table:
    """The committed rows of a table in the lake (Parquet or headerless CSV)."""
    info = lake.tables()[table]
    parts = []
    for path in lake.committed_files(table, kind):
        if path.suffix == ".parquet":
            parts.append(pq.read_table(path))
        else:
            parts.append(
                pacsv.read_csv(path, read_options=pacsv.ReadOptions(autogenerate_column_names=True))
            )
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c, _ in info["columns"]})
    return pa.concat_tables(parts, promote_options="permissive")


def current_state(lake: TaskLake, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """What the files say each key holds now: the newest change by (commit LSN, sequence)."""
    info = lake.tables()[table]
    key = info["primary_key"]
    rows = read_files(lake, table).to_pylist()
    rows.sort(key=lambda r: (r["_commit_lsn"], r["_commit_seq"]))
    state: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if row.get("Op", "I") == "D":
            state.pop(k, None)
        else:
            state[k] = {c: row[c] for c, _ in info["columns"]}
    return state


def caught_up(ws: Workspace, task: str, source: SourceDb, timeout: float = 60) -> None:
    """Wait until the running task has committed every change made so far: a marker change is
    made, and the task's position must pass the WAL position read just before its commit."""
    with source.connect() as conn, conn.transaction():
        before = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        conn.execute("UPDATE customers SET name = name WHERE id = 1")
    assert before is not None
    mark = parse_lsn(before[0])

    def reached() -> bool:
        record = ws.replication.get_task(task)
        if record["Status"] == "Starting":  # a resumed task reconnects to its slot first
            return False
        assert record["Status"] == "Running", record
        return int(record["Progress"].get("position", 0)) > mark

    wait_for(reached, timeout, f"task {task} to catch up")


def wait_for(check: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
