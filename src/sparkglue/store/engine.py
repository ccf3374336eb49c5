"""Opening the metadata store, transactions that never lose an update, and migrations.

SQLite (the default) runs in WAL mode so readers never block the writer; every write
transaction starts with ``BEGIN IMMEDIATE`` so two processes doing read-modify-write are
serialised instead of failing on lock upgrade. PostgreSQL writers lock the rows they change
(``SELECT … FOR UPDATE``, see the catalog) and migrations take an advisory lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from sparkglue.errors import StoreError
from sparkglue.store.migrations import LATEST_VERSION, MIGRATIONS
from sparkglue.store.schema import schema_migrations

_WRITE = "sparkglue_write"
_PG_MIGRATION_LOCK = 0x5350474C  # arbitrary constant: "SPGL"


def utc_now() -> str:
    """The current UTC time as stored in records (ISO 8601, microseconds, ``Z``)."""
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    """A time as stored in records (naive times are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """A stored time back as an aware UTC datetime."""
    return datetime.fromisoformat(text)


def _enable_wal(cursor: Any) -> None:
    """Switch a SQLite database to WAL. Turning a new database to WAL needs it to itself, and
    SQLite may answer "locked" at once instead of waiting while another process is migrating
    it; such a refusal is retried for as long as the busy timeout."""
    import sqlite3

    deadline = time.monotonic() + 60
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _redacted(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


class MetadataStore:
    """A connection pool to the metadata database with read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise StoreError(f"metadata URL '{url}' is not a valid database URL") from None
        self.dialect = parsed.get_backend_name()
        self.engine = self._create_engine(parsed)

    def _create_engine(self, parsed: sa.engine.URL) -> Engine:
        if self.dialect == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
                dbapi_conn.isolation_level = None
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA busy_timeout=60000")
                _enable_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                write = conn.get_execution_options().get(_WRITE, False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

            return engine
        if self.dialect == "postgresql":
            try:
                return sa.create_engine(parsed, pool_pre_ping=True)
            except ModuleNotFoundError:
                raise StoreError(
                    "the PostgreSQL metadata store needs the psycopg driver; install it with "
                    "pip install 'sparkglue[postgres]'"
                ) from None
        raise StoreError(
            f"metadata store '{self.dialect}' is not supported; use sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DB"
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        with self._connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(
                f"cannot open the metadata store {_redacted(self.url)}: {reason}; check the "
                "metadata_url setting (SPARKGLUE_METADATA_URL)"
            ) from None
        try:
            yield conn
        finally:
            conn.close()

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        with self.read() as conn:
            return self._version(conn)

    @staticmethod
    def _version(conn: Connection) -> int:
        if not sa.inspect(conn).has_table(schema_migrations.name):
            return 0
        value = conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar()
        return int(value or 0)

    def migrate(self) -> int:
        """Apply pending migrations; returns how many were applied.

        Safe to call from several processes at once: the first takes the lock and migrates,
        the others wait and find nothing left to do.
        """
        from alembic.migration import MigrationContext
        from alembic.operations import Operations

        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            if not sa.inspect(conn).has_table(schema_migrations.name):
                schema_migrations.create(conn)
            current = self._version(conn)
            if current > LATEST_VERSION:
                raise StoreError(
                    f"metadata store {_redacted(self.url)} has schema version {current}, newer "
                    f"than this sparkglue supports ({LATEST_VERSION}); upgrade sparkglue"
                )
            ops = Operations(MigrationContext.configure(conn))
            applied = 0
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                migration.apply(ops)
                conn.execute(
                    schema_migrations.insert().values(
                        version=migration.version,
                        description=migration.description,
                        applied_at=utc_now(),
                    )
                )
                applied += 1
            return applied

    def check_current(self) -> None:
        """Raise unless the schema is exactly at the version this code expects."""
        current = self.schema_version()
        if current != LATEST_VERSION:
            hint = (
                "run `sparkglue init` to migrate it"
                if current < LATEST_VERSION
                else ("upgrade sparkglue")
            )
            raise StoreError(
                f"metadata store {_redacted(self.url)} has schema version {current}, this "
                f"sparkglue needs {LATEST_VERSION}; {hint}"
            )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
