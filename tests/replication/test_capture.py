"""Full load and change capture against a real PostgreSQL server with a concurrent writer."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from sparkglue.replication.runner import LSN_COLUMN, SEQ_COLUMN
from sparkglue.workspace import Workspace

from .conftest import (
    ALL_PUBLIC,
    ChangeWriter,
    SourceDb,
    add_endpoints,
    add_task,
    caught_up,
    create_shop,
    current_state,
    read_files,
    source_state,
    wait_for,
)

pytestmark = pytest.mark.postgres


def _running(ws: Workspace, task: str, batches: int = 1) -> bool:
    """The task runs and has committed ``batches`` batches (the first is its full load)."""
    record = ws.replication.get_task(task)
    assert record["Status"] not in ("Failed", "Stopped"), record
    return bool(record["Status"] == "Running" and record["Progress"].get("batches", 0) >= batches)


def test_full_load_and_cdc_under_a_concurrent_writer_equal_the_source(
    workspace: Workspace, source_db: SourceDb
) -> None:
    create_shop(source_db, orders=30000)
    add_endpoints(workspace, source_db, TimestampColumnName="dms_ts")
    add_task(workspace, "shop")
    writer = ChangeWriter(source_db).start()  # writes during the full load and after it
    proc = workspace.replication.start_task("shop")
    wait_for(lambda: _running(workspace, "shop", 3), what="the load and two CDC batches")
    wait_for(lambda: writer.committed > 300, what="more writes")
    writer.stop()
    caught_up(workspace, "shop", source_db)
    workspace.replication.stop_task("shop")
    assert workspace.replication.wait("shop")["Status"] == "Stopped"
    assert proc.wait(10) == 0

    lake = workspace.replication.lake("shop")
    kinds = Counter(b.kind for b in lake.batches())
    assert kinds["load"] == 1 and kinds["cdc"] >= 2
    for table in ("public.orders", "public.customers"):
        rows = read_files(lake, table)
        pairs = list(zip(rows[LSN_COLUMN].to_pylist(), rows[SEQ_COLUMN].to_pylist(), strict=True))
        assert len(pairs) == len(set(pairs)), f"{table}: a (commit LSN, sequence) repeats"
        expected = source_state(source_db, table)
        got = current_state(lake, table)
        assert got.keys() == expected.keys()
        assert got == expected
    notes = read_files(lake, "public.orders")["note"].to_pylist()
    assert "rolled back" not in notes and writer.rolled_back_ids

    # Two-table transactions are never split across batches.
    batch_of: dict[int, set[int]] = {}
    for batch in lake.batches():
        if batch.kind != "cdc":
            continue
        for f in batch.files:
            table = pq.read_table(lake.root / f.path, columns=[LSN_COLUMN])
            for lsn in set(table[LSN_COLUMN].to_pylist()):
                batch_of.setdefault(lsn, set()).add(batch.number)
    assert batch_of and all(len(numbers) == 1 for numbers in batch_of.values())

    stats = {s["TableName"]: s for s in workspace.replication.table_stats("shop")}
    assert stats["orders"]["TableState"] == "Table completed"
    assert stats["orders"]["FullLoadRows"] >= 30000
    assert stats["orders"]["Inserts"] > 0 and stats["orders"]["Deletes"] > 0
    assert stats["customers"]["Updates"] > 0

    # The generated materialize job, and validation, agree.
    _job, run_id = workspace.materialize_replication("shop")
    assert workspace.jobs.get_run(run_id).state == "SUCCEEDED", workspace.jobs.logs(run_id)
    results = workspace.replication.validate("shop")
    assert [(r.table, r.ok) for r in results] == [
        ("public.customers", True),
        ("public.orders", True),
    ]
    assert results[1].source_rows == len(source_state(source_db, "orders"))
    # Re-running gives the same tables; a change to the source then shows as a mismatch.
    _, again = workspace.materialize_replication("shop")
    assert workspace.jobs.get_run(again).state == "SUCCEEDED"
    assert all(r.ok for r in workspace.replication.validate("shop"))
    source_db.execute("UPDATE orders SET note = 'changed' WHERE id = (SELECT min(id) FROM orders)")
    source_db.execute("DELETE FROM customers WHERE id = 2")
    after = {r.table: r for r in workspace.replication.validate("shop")}
    assert len(after["public.orders"].different) == 1
    assert after["public.customers"].extra == [(2,)]


def test_files_are_laid_out_as_dms_writes_them(workspace: Workspace, source_db: SourceDb) -> None:
    create_shop(source_db, orders=5000)
    add_endpoints(
        workspace,
        source_db,
        DataFormat="csv",
        IncludeOpForFullLoad=True,
        TimestampColumnName="ts",
        CdcPath="changes",
        DatePartitionEnabled=True,
        MaxFileSize=40,
    )
    add_task(workspace, "layout")
    workspace.replication.start_task("layout")
    wait_for(lambda: _running(workspace, "layout"), what="the task to run")
    source_db.execute("INSERT INTO customers VALUES (900, 'new, \"quoted\"', NULL, true)")
    source_db.execute("DELETE FROM customers WHERE id = 3")
    caught_up(workspace, "layout", source_db)
    workspace.replication.stop_task("layout")
    workspace.replication.wait("layout")

    root = workspace.replication.lake("layout").root
    loads = sorted(p.name for p in (root / "public" / "orders").glob("LOAD*.csv"))
    assert len(loads) > 10  # 40 KB files: the counter runs past 9 in hexadecimal
    assert loads[:11] == [f"LOAD{n:08X}.csv" for n in range(1, 12)]
    assert "LOAD0000000A.csv" in loads
    first = (root / "public" / "customers" / "LOAD00000001.csv").read_text().splitlines()
    assert len(first) == 200  # no header line
    # Strings are quoted (so an empty string and a NULL differ); numbers are not.
    op, ts, ident, *_ = first[0].split(",")
    assert op == '"I"' and ident == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", ts.strip('"'))

    changes = sorted((root / "changes" / "public" / "customers").rglob("*.csv"))
    assert changes
    rel = changes[0].relative_to(root / "changes" / "public" / "customers")
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\d{8}-\d{10}\.csv", str(rel))
    lines = [line for p in changes for line in p.read_text().splitlines()]
    ops = [line.split(",")[0].strip('"') for line in lines]
    assert "I" in ops and "D" in ops and set(ops) <= {"I", "U", "D"}
    inserted = next(line for line in lines if ",900," in line)
    assert '"new, ""quoted"""' in inserted
    assert not (root / "public" / "customers" / "_sparkglue").exists()


KINDS = """
CREATE TABLE kinds (
    id int PRIMARY KEY, s smallint, i int, b bigint, r real, d double precision,
    n numeric(12,3), nw numeric(30,10), nu numeric, t text, vc varchar(10), ch char(3),
    bo boolean, dt date, ts timestamp, tz timestamptz, tm time, u uuid, j jsonb, ba bytea,
    arr int[], iv interval
);
"""
VALUES = [
    "(%s, 1, -2, 9000000000, 1.5, 0.1, 123456789.125, 12345678901234567890.0123456789, "
    "3.14159265358979323846, 'a,b \"c\"' || chr(10) || 'd', 'vc', 'ab', true, '2024-02-29', "
    "'2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02', '10:11:12', "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '\\x00ff10', '{1,2,3}', "
    "'1 day 02:00:00')",
    "(%s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, false, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(%s, -32768, 2147483647, -1, 3.4e38, -1e300, -0.001, 0, 0, 'ü €', 'x', 'x', NULL, "
    "'1970-01-01', '1999-12-31 23:59:59', '2000-01-01 00:00:00+00', '00:00:00', NULL, "
    "'null', '\\x', '{}', '-3 mons')",
]


def test_load_and_change_files_hold_the_same_values(
    workspace: Workspace, source_db: SourceDb
) -> None:
    source_db.execute(KINDS)
    for n, values in enumerate(VALUES):
        source_db.execute(f"INSERT INTO kinds VALUES {values}", (n,))
    add_endpoints(workspace, source_db)
    add_task(workspace, "kinds")
    workspace.replication.start_task("kinds")
    wait_for(lambda: _running(workspace, "kinds"), what="the task to run")
    for n, values in enumerate(VALUES):
        source_db.execute(f"INSERT INTO kinds VALUES {values}", (100 + n,))
    source_db.execute("CREATE TABLE marker_free (id int PRIMARY KEY)")  # not selected: ignored
    with source_db.connect() as conn:
        conn.execute("UPDATE kinds SET nw = nw + 1 WHERE id = 100")
        conn.execute("UPDATE kinds SET nw = nw - 1 WHERE id = 100")
    wait_for(
        lambda: (
            sum(
                1 for b in workspace.replication.lake("kinds").batches(reload=True) for _ in b.files
            )
            >= 2
        ),
        what="the changes",
    )
    wait_for(
        lambda: len(current_state(workspace.replication.lake("kinds"), "public.kinds")) == 6,
        what="all six rows",
    )
    workspace.replication.stop_task("kinds")
    workspace.replication.wait("kinds")
    lake = workspace.replication.lake("kinds")
    loaded = read_files(lake, "public.kinds", "load").to_pylist()
    changed = read_files(lake, "public.kinds", "cdc").to_pylist()
    inserted = {r["id"] - 100: r for r in changed if r["Op"] == "I"}
    updated = [r for r in changed if r["Op"] == "U"]
    for row in loaded:
        twin = inserted[row["id"]]
        for column, value in row.items():
            if column in ("id", LSN_COLUMN, SEQ_COLUMN):
                continue
            assert twin[column] == value, (column, value, twin[column])
    assert loaded[0]["nw"] == Decimal("12345678901234567890.0123456789")
    assert loaded[0]["nu"] == "3.14159265358979323846"
    assert loaded[0]["ba"] == b"\x00\xff\x10"
    assert [r["nw"] for r in updated] == [
        Decimal("12345678901234567891.0123456789"),
        Decimal("12345678901234567890.0123456789"),
    ]
    assert "public.marker_free" not in lake.tables()


RULES: list[dict[str, Any]] = [
    {
        "rule-type": "selection",
        "rule-id": "1",
        "rule-name": "shop",
        "object-locator": {"schema-name": "public", "table-name": "%"},
        "rule-action": "include",
    },
    {
        "rule-type": "selection",
        "rule-id": "2",
        "rule-name": "no-audit",
        "object-locator": {"schema-name": "public", "table-name": "audit_%"},
        "rule-action": "exclude",
    },
    {
        "rule-type": "transformation",
        "rule-id": "10",
        "rule-name": "rename-table",
        "rule-target": "table",
        "object-locator": {"schema-name": "public", "table-name": "orders"},
        "rule-action": "rename",
        "value": "sales",
    },
    {
        "rule-type": "transformation",
        "rule-id": "11",
        "rule-name": "rename-column",
        "rule-target": "column",
        "object-locator": {"schema-name": "public", "table-name": "orders", "column-name": "note"},
        "rule-action": "rename",
        "value": "remark",
    },
    {
        "rule-type": "transformation",
        "rule-id": "12",
        "rule-name": "drop-placed",
        "rule-target": "column",
        "object-locator": {
            "schema-name": "public",
            "table-name": "orders",
            "column-name": "placed",
        },
        "rule-action": "remove-column",
    },
    {
        "rule-type": "transformation",
        "rule-id": "13",
        "rule-name": "add-source",
        "rule-target": "column",
        "object-locator": {"schema-name": "public", "table-name": "orders"},
        "rule-action": "add-column",
        "value": "source",
        "expression": "'shop-db'",
        "data-type": {"type": "string", "length": 20},
    },
    {
        "rule-type": "transformation",
        "rule-id": "14",
        "rule-name": "amount-as-double",
        "rule-target": "column",
        "object-locator": {
            "schema-name": "public",
            "table-name": "orders",
            "column-name": "amount",
        },
        "rule-action": "change-data-type",
        "data-type": {"type": "real8"},
    },
    {
        "rule-type": "transformation",
        "rule-id": "15",
        "rule-name": "upper-customers",
        "rule-target": "column",
        "object-locator": {"schema-name": "public", "table-name": "customers", "column-name": "%"},
        "rule-action": "convert-uppercase",
    },
    {
        "rule-type": "transformation",
        "rule-id": "16",
        "rule-name": "prefix-customers",
        "rule-target": "table",
        "object-locator": {"schema-name": "public", "table-name": "customers"},
        "rule-action": "add-prefix",
        "value": "dim_",
    },
    {
        "rule-type": "transformation",
        "rule-id": "17",
        "rule-name": "schema",
        "rule-target": "schema",
        "object-locator": {"schema-name": "public"},
        "rule-action": "rename",
        "value": "shop",
    },
]

CASES = [
    # (source table, target folder, column, what the rule did)
    ("public.orders", "shop/sales", "remark", "renamed column note"),
    ("public.orders", "shop/sales", "source", "added constant column"),
    ("public.orders", "shop/sales", "amount", "amount as double"),
    ("public.customers", "shop/dim_customers", "NAME", "upper-case column"),
]


@pytest.fixture
def mapped_task(workspace: Workspace, source_db: SourceDb) -> Workspace:
    create_shop(source_db, orders=300)
    source_db.execute("CREATE TABLE audit_log (id int PRIMARY KEY, what text)")
    add_endpoints(workspace, source_db)
    add_task(workspace, "mapped", {"rules": RULES})
    workspace.replication.start_task("mapped")
    wait_for(lambda: _running(workspace, "mapped"), what="the task to run")
    source_db.execute("INSERT INTO orders VALUES (5000, 7, 10.5, 'cdc row', now())")
    source_db.execute("INSERT INTO audit_log VALUES (1, 'ignored')")
    source_db.execute("UPDATE customers SET name = 'renamed' WHERE id = 7")
    caught_up(workspace, "mapped", source_db)
    workspace.replication.stop_task("mapped")
    workspace.replication.wait("mapped")
    return workspace


@pytest.mark.parametrize(("table", "folder", "column", "rule"), CASES)
def test_mapping_rules_shape_load_and_change_files_alike(
    mapped_task: Workspace, table: str, folder: str, column: str, rule: str
) -> None:
    lake = mapped_task.replication.lake("mapped")
    assert lake.tables()[table]["schema"] + "/" + lake.tables()[table]["table"] == folder
    load = pq.read_table(lake.committed_files(table, "load")[0])
    cdc = pq.read_table(lake.committed_files(table, "cdc")[0])
    assert cdc.schema.names[0] == "Op"
    assert load.schema == cdc.schema.remove(0), rule
    assert column in load.schema.names, rule
    assert all(
        str(p.relative_to(lake.root)).startswith(folder + "/") for p in lake.committed_files(table)
    )
    if column == "source":
        assert set(load["source"].to_pylist()) == set(cdc["source"].to_pylist()) == {"shop-db"}
    if column == "amount":
        assert load.schema.field("amount").type == cdc.schema.field("amount").type
        assert str(cdc.schema.field("amount").type) == "double"
        assert 10.5 in cdc["amount"].to_pylist()
    assert "placed" not in load.schema.names and "note" not in load.schema.names
    assert "public.audit_log" not in lake.tables()


def test_a_table_without_a_primary_key_fails_the_task_with_a_clear_error(
    workspace: Workspace, source_db: SourceDb
) -> None:
    source_db.execute("CREATE TABLE events (at timestamptz, what text)")
    add_endpoints(workspace, source_db)
    add_task(workspace, "nokey")
    proc = workspace.replication.start_task("nokey")
    proc.wait(30)
    record = workspace.replication.get_task("nokey")
    assert record["Status"] == "Failed"
    assert "table public.events has no primary key" in record["LastFailureMessage"]
    assert workspace.replication.lake("nokey").batches() == []


def test_a_keyless_table_replicates_with_replica_identity_full_and_a_defined_key(
    workspace: Workspace, source_db: SourceDb
) -> None:
    source_db.execute(
        "CREATE TABLE events (code text NOT NULL, what text); "
        "ALTER TABLE events REPLICA IDENTITY FULL; "
        "INSERT INTO events VALUES ('a', 'one'), ('b', 'two')"
    )
    rules = {
        "rules": [
            *ALL_PUBLIC["rules"],
            {
                "rule-type": "transformation",
                "rule-id": "2",
                "rule-name": "key",
                "rule-target": "table",
                "object-locator": {"schema-name": "public", "table-name": "events"},
                "rule-action": "define-primary-key",
                "primary-key-def": {"name": "events_key", "columns": ["code"]},
            },
        ]
    }
    add_endpoints(workspace, source_db)
    add_task(workspace, "keyed", rules)
    workspace.replication.start_task("keyed")
    wait_for(lambda: _running(workspace, "keyed"), what="the task to run")
    source_db.execute("DELETE FROM events WHERE code = 'a'")
    source_db.execute("UPDATE events SET what = 'TWO' WHERE code = 'b'")
    wait_for(
        lambda: (
            current_state(workspace.replication.lake("keyed"), "public.events")
            == {("b",): {"code": "b", "what": "TWO"}}
        ),
        what="the delete and the update",
    )
    workspace.replication.stop_task("keyed")
    workspace.replication.wait("keyed")


def test_a_full_load_task_stops_by_itself_and_a_cdc_task_captures_only_later_changes(
    workspace: Workspace, source_db: SourceDb
) -> None:
    create_shop(source_db, orders=100)
    add_endpoints(workspace, source_db)
    add_task(workspace, "once", kind="full-load")
    proc = workspace.replication.start_task("once")
    record = workspace.replication.wait("once")
    assert proc.wait(10) == 0
    assert (record["Status"], record["StopReason"]) == ("Stopped", "FULL_LOAD_ONLY_FINISHED")
    assert workspace.replication.source_slot_exists("once") is False
    lake = workspace.replication.lake("once")
    assert len(current_state(lake, "public.orders")) == 100

    add_task(workspace, "later", kind="cdc")
    workspace.replication.start_task("later")
    wait_for(
        lambda: (
            workspace.replication.get_task("later")["Status"] == "Running"
            and workspace.replication.source_slot_exists("later")
        ),
        what="the slot",
    )
    source_db.execute("INSERT INTO orders VALUES (101, 1, 1, 'after', now())")
    caught_up(workspace, "later", source_db)
    workspace.replication.stop_task("later")
    workspace.replication.wait("later")
    later = workspace.replication.lake("later")
    assert not later.has_load()
    assert list(current_state(later, "public.orders")) == [(101,)]
