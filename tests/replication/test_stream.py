"""The change stream: the replication protocol against a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest

from sparkglue.replication import source as source_module
from sparkglue.replication.source import ChangeStream, PostgresSource, SourceError, parse_lsn
from sparkglue.replication.specs import SourceEndpointSpec
from sparkglue.replication.types import to_arrow

from .conftest import SourceDb, wait_for


def _source(db: SourceDb) -> PostgresSource:
    return PostgresSource(
        SourceEndpointSpec.model_validate(
            {"EndpointIdentifier": "pg", "EndpointType": "source", "Url": db.url}
        )
    )


def _records(stream: ChangeStream, want: int, timeout: float = 30) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < want:
        assert time.monotonic() < deadline, f"only {len(out)} of {want} records came"
        out += [orjson.loads(r) for r in stream.read(timeout=0.5)]
    return out


def _confirmed(db: SourceDb, slot: str) -> int:
    rows = db.rows(
        f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'"
    )
    return parse_lsn(rows[0][0])


@pytest.mark.postgres
def test_the_stream_gives_whole_transactions_and_only_a_confirm_moves_the_slot(
    source_db: SourceDb,
) -> None:
    source_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    src = _source(source_db)
    start = src.create_slot("s_stream")
    source_db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    source_db.execute("INSERT INTO t VALUES (3, 'c')")
    with src.stream("s_stream", [("public", "t")], confirmed=start) as stream:
        records = _records(stream, 7)
        assert [r["action"] for r in records] == ["B", "I", "I", "C", "B", "I", "C"]
        assert [c["value"] for c in records[1]["columns"]] == [1, "a"]
        assert "type" not in records[1]["columns"][0]  # types are not asked for
        # Caught up: an empty read, after waiting its whole timeout (keepalives do not end it).
        clock = time.monotonic()
        assert stream.read(timeout=0.3) == []
        assert time.monotonic() - clock >= 0.25
        assert _confirmed(source_db, "s_stream") == start  # reading does not move the slot
        first_end = parse_lsn(records[3]["nextlsn"])
        stream.confirm(first_end)
        wait_for(lambda: _confirmed(source_db, "s_stream") == first_end, 10, "the confirm")
    # A new stream starts after the confirmed transaction.
    with src.stream("s_stream", [("public", "t")], confirmed=first_end) as stream:
        again = _records(stream, 3)
        assert [r["action"] for r in again] == ["B", "I", "C"]
        assert again[1]["columns"][0]["value"] == 3


@pytest.mark.postgres
def test_a_slot_held_by_a_live_stream_is_refused_after_waiting(
    source_db: SourceDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    src = _source(source_db)
    start = src.create_slot("s_held")
    monkeypatch.setattr(source_module, "SLOT_WAIT", 0.5)
    with (
        src.stream("s_held", [("public", "t")], confirmed=start),
        pytest.raises(SourceError) as caught,
        src.stream("s_held", [("public", "t")], confirmed=start),
    ):
        pass
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot stream replication slot s_held: ")
    assert "is active for PID" in message


@pytest.mark.postgres
def test_a_slot_is_taken_over_when_its_last_holder_lets_go(source_db: SourceDb) -> None:
    source_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    src = _source(source_db)
    start = src.create_slot("s_handover")
    source_db.execute("INSERT INTO t VALUES (1)")
    first = src.stream("s_handover", [("public", "t")], confirmed=start)
    first.__enter__()
    threading.Timer(0.5, lambda: first.__exit__(None, None, None)).start()
    clock = time.monotonic()
    with src.stream("s_handover", [("public", "t")], confirmed=start) as second:
        assert time.monotonic() - clock >= 0.4  # it waited for the first holder
        assert [r["action"] for r in _records(second, 3)] == ["B", "I", "C"]


def test_json_numbers_become_exact_decimals() -> None:
    values = [0.01, 100.0, 5, None, 1234567890.12, -0.07, 999999999.99]
    got = to_arrow(values, pa.decimal128(12, 2)).to_pylist()
    assert got == [
        Decimal("0.01"),
        Decimal("100.00"),
        Decimal("5.00"),
        None,
        Decimal("1234567890.12"),
        Decimal("-0.07"),
        Decimal("999999999.99"),
    ]
    # Text among the numbers (wide numerics parsed exactly) goes through text.
    mixed = to_arrow(["12345678901234567890.0123456789", 2], pa.decimal128(30, 10)).to_pylist()
    assert mixed == [Decimal("12345678901234567890.0123456789"), Decimal("2.0000000000")]


@pytest.mark.postgres
@pytest.mark.parametrize("cut", ["drop the slot", "end the server's process"])
def test_a_stream_the_server_ends_is_a_one_line_source_error(source_db: SourceDb, cut: str) -> None:
    source_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    src = _source(source_db)
    start = src.create_slot("s_cut")
    with src.stream("s_cut", [("public", "t")], confirmed=start) as stream:
        if cut == "drop the slot":  # its holder is ended first
            assert src.drop_slot("s_cut")
            assert src.slot("s_cut") is None
        else:
            source_db.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE slot_name = 's_cut'"
            )
        with pytest.raises(SourceError) as caught:
            for _ in range(100):
                stream.read(timeout=0.1)
    assert str(caught.value).startswith("the change stream ended: ")
    assert "\n" not in str(caught.value)
