"""The PostgreSQL side: connections, the endpoint test, table definitions, the slot, the
snapshot-consistent full-load read and the change stream.

Changes come from logical decoding with the wal2json output plugin (format version 2: one JSON
object per change, with ``B``/``C`` records around each transaction), streamed over PostgreSQL's
replication protocol (``START_REPLICATION … LOGICAL``) as the server decodes them, so decoding on
the server and writing here overlap. The slot moves only when the stream confirms a position,
which the runner does after the changes are committed in the lake: a crash at any point replays
from the last confirmed commit.
"""

from __future__ import annotations

import contextlib
import io
import select
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from sparkglue.errors import InvalidInput
from sparkglue.replication.mappings import SourceColumn, SourceTable
from sparkglue.replication.specs import SourceEndpointSpec
from sparkglue.replication.types import arrow_type, bytea

__all__ = [
    "ChangeStream",
    "PostgresSource",
    "SourceError",
    "first_line",
    "format_lsn",
    "parse_lsn",
    "quote_ident",
]

PLUGIN = "wal2json"
SLOT_WAIT = 10.0  # seconds to wait for a slot whose last holder is going away
_SESSION_OPTIONS = (
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 -c bytea_output=hex"
)
_COPY_BOTH = 8  # libpq's PGRES_COPY_BOTH: the server is streaming
_EPOCH_2000_US = 946_684_800_000_000  # PostgreSQL's clock starts at 2000-01-01 UTC


class SourceError(InvalidInput):
    """The source database refused or lacks something the replication needs."""

    code = "replication_source"


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` as the 64-bit position it names."""
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_filter(tables: list[tuple[str, str]]) -> str:
    """wal2json's add-tables value: schema.table pairs, with , . and \\ escaped."""

    def esc(part: str) -> str:
        return "".join("\\" + ch if ch in ",.\\ " else ch for ch in part)

    return ",".join(f"{esc(s)}.{esc(t)}" for s, t in tables)


class _CopyReader(io.RawIOBase):
    """The bytes of a ``COPY … TO STDOUT`` as a readable file, for pyarrow's CSV reader."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(bytes(chunk))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@dataclass(frozen=True)
class SlotInfo:
    name: str
    plugin: str
    confirmed: int  # confirmed_flush_lsn
    active: bool


class PostgresSource:
    """One PostgreSQL source endpoint."""

    def __init__(self, spec: SourceEndpointSpec) -> None:
        self.spec = spec

    # ---- connections ------------------------------------------------------------------------

    def connect(self, *, autocommit: bool = True, replication: bool = False) -> Any:
        import psycopg

        # Replication connections stream wal2json text; the others get the session settings the
        # reads rely on with the start-up packet (no round trip).
        extra = " replication='database'" if replication else f" options='{_SESSION_OPTIONS}'"
        try:
            conn = psycopg.connect(
                self.spec.conninfo() + extra, autocommit=autocommit, connect_timeout=10
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise SourceError(
                f"endpoint {self.spec.EndpointIdentifier}: cannot connect to {self.spec.Url}: "
                f"{first}; check the server, the URL and the password reference"
            ) from None
        return conn

    def test(self) -> list[str]:
        """What the source lacks for full load and CDC; an empty list means ready."""
        problems: list[str] = []
        with self.connect() as conn:
            version = int(conn.execute("SHOW server_version_num").fetchone()[0])
            if version < 100000:
                problems.append(f"PostgreSQL {version // 10000} is too old; use 10 or later")
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
            if wal_level != "logical":
                problems.append(
                    f"wal_level is '{wal_level}', not 'logical'; set wal_level = logical in "
                    "postgresql.conf and restart the server"
                )
            slots = int(conn.execute("SHOW max_replication_slots").fetchone()[0])
            used = int(conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0])
            if slots - used < 1:
                problems.append(
                    f"max_replication_slots ({slots}) are all in use; raise it or drop a slot"
                )
            role = conn.execute(
                "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            if not role or not role[0]:
                problems.append(
                    "the user lacks the REPLICATION privilege; ALTER ROLE … WITH REPLICATION"
                )
            if wal_level == "logical" and not problems:
                try:
                    conn.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM "
                        "pg_create_logical_replication_slot("
                        "'sparkglue_endpoint_test_' || pg_backend_pid(), %s, true)",
                        (PLUGIN,),
                    )
                except Exception as exc:
                    problems.append(
                        f"the {PLUGIN} output plugin is not available ({first_line(exc)}); install "
                        "it on the server (Debian/Ubuntu: postgresql-NN-wal2json)"
                    )
        return problems

    # ---- definitions ------------------------------------------------------------------------

    def tables(self) -> list[SourceTable]:
        """Every ordinary table outside the system schemas, with columns and primary key."""
        with self.connect() as conn:
            rows = conn.execute(
                """
                SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                       a.attnum,
                       array_position(i.indkey::int2[], a.attnum) AS key_pos
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_%%'
                ORDER BY n.nspname, c.relname, a.attnum
                """
            ).fetchall()
        found: dict[tuple[str, str], tuple[list[SourceColumn], dict[int, str]]] = {}
        for schema, table, column, typ, _attnum, key_pos in rows:
            cols, keys = found.setdefault((schema, table), ([], {}))
            cols.append(SourceColumn(name=column, pg_type=typ))
            if key_pos is not None:
                keys[int(key_pos)] = column
        return [
            SourceTable(
                schema=schema,
                name=table,
                columns=tuple(cols),
                primary_key=tuple(keys[k] for k in sorted(keys)),
            )
            for (schema, table), (cols, keys) in found.items()
        ]

    def replica_identity_full(self, schema: str, table: str) -> bool:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT c.relreplident FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (schema, table),
            ).fetchone()
        return bool(row) and row[0] == "f"

    # ---- the slot ---------------------------------------------------------------------------

    def slot(self, name: str) -> SlotInfo | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT slot_name, plugin, confirmed_flush_lsn::text, active "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (name,),
            ).fetchone()
        if row is None:
            return None
        return SlotInfo(row[0], row[1], parse_lsn(row[2]) if row[2] else 0, bool(row[3]))

    def drop_slot(self, name: str) -> bool:
        """Drop the slot if it exists (an active one's holder is terminated first)."""
        with self.connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE slot_name = %s AND active_pid IS NOT NULL",
                (name,),
            )
            deadline = time.monotonic() + SLOT_WAIT
            while True:  # the terminated holder lets go of the slot a moment later
                try:
                    row = conn.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = %s",
                        (name,),
                    ).fetchone()
                    break
                except Exception as exc:
                    if "is active for PID" not in str(exc) or time.monotonic() > deadline:
                        raise SourceError(
                            f"cannot drop replication slot {name}: {first_line(exc)}"
                        ) from None
                    time.sleep(0.1)
        return row is not None

    def create_slot(self, name: str) -> int:
        """A new slot (no snapshot); returns its consistent point."""
        with self.connect() as conn:
            try:
                row = conn.execute(
                    "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, %s)",
                    (name, PLUGIN),
                ).fetchone()
            except Exception as exc:
                raise SourceError(
                    f"cannot create replication slot {name}: {first_line(exc)}"
                ) from None
        return parse_lsn(row[0])

    @contextmanager
    def exported_slot(self, name: str) -> Iterator[tuple[str, int]]:
        """Create slot ``name`` and hold the snapshot it exports: yields (snapshot name,
        consistent point). Changes committed after that snapshot are exactly what the slot
        streams, so a full load read in it meets the change stream with no gap and no overlap.
        """
        conn = self.connect(replication=True)
        try:
            try:
                row = conn.execute(
                    f"CREATE_REPLICATION_SLOT {quote_ident(name)} LOGICAL {PLUGIN} EXPORT_SNAPSHOT"
                ).fetchone()
            except Exception as exc:
                raise SourceError(
                    f"cannot create replication slot {name}: {first_line(exc)}"
                ) from None
            yield str(row[2]), parse_lsn(str(row[1]))
        finally:
            conn.close()

    # ---- reading ----------------------------------------------------------------------------

    @contextmanager
    def snapshot(self, snapshot_name: str | None) -> Iterator[Any]:
        """A read-only REPEATABLE READ transaction, in the exported snapshot when named."""
        conn = self.connect(autocommit=False)
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if snapshot_name:
                conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_name}'")
            yield conn
        finally:
            conn.rollback()
            conn.close()

    def read_table(
        self, conn: Any, table: SourceTable, block_size: int = 4 << 20
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows through ``COPY … TO STDOUT (FORMAT csv)``, parsed by pyarrow with the
        lake types (source column names)."""
        names = [c.name for c in table.columns]
        types = {c.name: arrow_type(c.pg_type) for c in table.columns}
        read_types = {n: (pa.string() if pa.types.is_binary(t) else t) for n, t in types.items()}
        cols = ", ".join(quote_ident(n) for n in names)
        sql = (
            f"COPY {quote_ident(table.schema)}.{quote_ident(table.name)} ({cols}) "
            "TO STDOUT (FORMAT csv)"
        )
        cur = conn.cursor()
        with cur.copy(sql) as copy:
            reader = pacsv.open_csv(
                io.BufferedReader(_CopyReader(iter(copy)), buffer_size=1 << 20),
                read_options=pacsv.ReadOptions(column_names=names, block_size=block_size),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=read_types,
                    true_values=["t"],
                    false_values=["f"],
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                if any(pa.types.is_binary(t) for t in types.values()):
                    batch = _binary_columns(batch, types)
                yield batch

    @contextmanager
    def stream(
        self, slot: str, tables: list[tuple[str, str]], *, confirmed: int
    ) -> Iterator[ChangeStream]:
        """Stream the slot's changes of ``tables`` from its confirmed position (see
        ``ChangeStream``); ``confirmed`` is that position as the caller knows it, what the
        stream tells the server until it confirms more. A slot still held by a stream that is
        going away (a process killed a moment ago) is waited for, up to ``SLOT_WAIT`` s."""
        options = (
            "\"format-version\" '2', \"include-timestamp\" '1', \"include-lsn\" '1', "
            "\"include-types\" '0', "
            f'"add-tables" {_literal(_table_filter(tables) or "-.-")}'
        )
        command = f"START_REPLICATION SLOT {quote_ident(slot)} LOGICAL 0/0 ({options})"
        deadline = time.monotonic() + SLOT_WAIT
        while True:
            conn = self.connect(replication=True)
            pgconn = conn.pgconn
            pgconn.send_query(command.encode())
            result = pgconn.get_result()
            if result is not None and result.status == _COPY_BOTH:
                break
            message = (result.error_message if result is not None else b"").decode(errors="replace")
            conn.close()
            if "is active for PID" in message and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise SourceError(
                f"cannot stream replication slot {slot}: "
                f"{message.strip().splitlines()[0] if message.strip() else 'no answer'}"
            )
        changes = ChangeStream(conn, confirmed)
        try:
            yield changes
        finally:
            changes.close()

    def advance(self, slot: str, lsn: int) -> None:
        """Move the slot's confirmed position to ``lsn`` (never backwards)."""
        with self.connect() as conn:
            conn.execute(
                "SELECT pg_replication_slot_advance(slot_name, %s::pg_lsn) "
                "FROM pg_replication_slots WHERE slot_name = %s "
                "AND confirmed_flush_lsn < %s::pg_lsn",
                (format_lsn(lsn), slot, format_lsn(lsn)),
            )


class ChangeStream:
    """One slot's changes as the server decodes them, over the replication protocol.

    ``read`` returns the change records (wal2json JSON, one per change) that have arrived,
    waiting a little for the first; ``confirm`` tells the server that everything up to a
    position is safely kept, which is what moves the slot. The server's keepalives are answered
    with the last confirmed position, so a stream that is read from never times out.
    """

    def __init__(self, conn: Any, confirmed: int) -> None:
        import psycopg

        self._broken = psycopg.OperationalError
        self._conn = conn
        self._pg = conn.pgconn
        self._socket = self._pg.socket
        self.confirmed = confirmed
        self._last_status = time.monotonic()

    def read(self, timeout: float, limit: int = 20000) -> list[memoryview]:
        """The records that have arrived (at most ``limit``; views of the received messages,
        which orjson reads as they are), waiting up to ``timeout`` seconds for the first; an
        empty list means the stream is caught up.

        Raises:
            SourceError: the stream ended or the connection broke.
        """
        try:
            return self._read(timeout, limit)
        except self._broken as exc:
            raise SourceError(f"the change stream ended: {first_line(exc)}") from None

    def _read(self, timeout: float, limit: int) -> list[memoryview]:
        pg = self._pg
        out: list[memoryview] = []
        append = out.append
        deadline = 0.0
        while len(out) < limit:
            size, data = pg.get_copy_data(1)
            if size > 0:
                kind = data[0]
                if kind == 0x77:  # 'w' XLogData: start, end, send time, then the record
                    append(data[25:])
                elif kind == 0x6B and data[17]:  # 'k' keepalive that asks for an answer
                    self._status()
                continue
            if size < 0:
                result = pg.get_result()
                message = result.error_message.decode(errors="replace") if result else ""
                raise SourceError(
                    "the change stream ended: "
                    f"{message.strip().splitlines()[0] if message.strip() else 'server closed it'}"
                )
            if out:
                break
            # Nothing buffered: wait for the socket (keepalives do not count), then read.
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                break
            select.select([self._socket], [], [], deadline - now)
            pg.consume_input()
        if time.monotonic() - self._last_status > 10:
            self._status()
        return out

    def confirm(self, lsn: int) -> None:
        """Everything before ``lsn`` is kept: the slot may move there (never backwards).

        Raises:
            SourceError: the connection broke (the slot stays where it was; the batch is kept
                and its transactions are skipped when they come again).
        """
        if lsn > self.confirmed:
            self.confirmed = lsn
            try:
                self._status()
            except self._broken as exc:
                raise SourceError(f"the change stream ended: {first_line(exc)}") from None

    def _status(self) -> None:
        now = int(time.time() * 1_000_000) - _EPOCH_2000_US
        lsn = self.confirmed
        self._pg.put_copy_data(struct.pack("!cQQQQB", b"r", lsn, lsn, lsn, now, 0))
        self._pg.flush()
        self._last_status = time.monotonic()

    def close(self) -> None:
        """Tell the last confirmed position and end the stream."""
        try:
            # A broken stream cannot be told anything: closing it is all that is left.
            with contextlib.suppress(Exception):
                if self.confirmed:
                    self._status()
                self._pg.put_copy_end()
                self._pg.flush()
        finally:
            self._conn.close()


def _literal(text: str) -> str:
    """A string literal of the replication command language."""
    return "'" + text.replace("'", "''") + "'"


def _binary_columns(batch: pa.RecordBatch, types: dict[str, pa.DataType]) -> pa.RecordBatch:
    arrays = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_binary(types[name]):
            column = pa.array(
                [None if v is None else bytea(v) for v in column.to_pylist()],
                type=pa.binary(),
            )
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def first_line(exc: BaseException) -> str:
    """An error's first line, for one-line messages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
