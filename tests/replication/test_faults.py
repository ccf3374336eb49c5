"""Exactly once under faults: the task killed with SIGKILL at every step of its commit protocol
and at random times, the server crashed after slot advances, all under a concurrent writer."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sparkglue.replication import TaskLake
from sparkglue.replication.runner import CRASH_ENV, LSN_COLUMN, SEQ_COLUMN
from sparkglue.workspace import Workspace

from .conftest import (
    ChangeWriter,
    SourceDb,
    add_endpoints,
    add_task,
    caught_up,
    create_shop,
    current_state,
    fresh_source,
    read_files,
    source_state,
)

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"
TABLES = (("public.orders", "orders"), ("public.customers", "customers"))


@pytest.fixture(scope="module")
def private_server(postgres_admin_url: str) -> Iterator[tuple[str, Path]]:
    """A server of this module's own, so that crashing it disturbs no other test. (Its folder
    is not under pytest's, which the server's own user may not be able to enter.)"""
    folder = Path(tempfile.mkdtemp(prefix="sparkglue-pg-"))
    url = subprocess.run(
        [str(SCRIPT), "start", str(folder)], check=True, capture_output=True, text=True, cwd="/"
    ).stdout.strip()
    try:
        yield url, folder
    finally:
        subprocess.run([str(SCRIPT), "stop", str(folder)], check=False, cwd="/")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _source(admin_url: str) -> Iterator[SourceDb]:
    gen = fresh_source(admin_url)
    try:
        yield next(gen)
    finally:
        next(gen, None)


def _assert_nothing_repeated(lake: TaskLake) -> None:
    for table, _ in TABLES:
        if table not in lake.tables():
            continue
        rows = read_files(lake, table)
        pairs = list(zip(rows[LSN_COLUMN].to_pylist(), rows[SEQ_COLUMN].to_pylist(), strict=True))
        assert len(pairs) == len(set(pairs)), f"{table}: a (commit LSN, sequence) repeats"
    names = [f.path for b in lake.batches(reload=True) for f in b.files]
    assert len(names) == len(set(names)), "a file is committed twice"


def _slot_position(source: SourceDb, slot: str) -> int | None:
    from sparkglue.replication.source import parse_lsn

    rows = source.rows(
        f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'"
    )
    return parse_lsn(rows[0][0]) if rows and rows[0][0] else None


def test_kill_9_and_server_crashes_lose_nothing_and_repeat_nothing(
    private_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_url, server_dir = private_server
    rnd = random.Random(20261123)
    with _source(admin_url) as source:
        create_shop(source, orders=40000)
        ws = Workspace.init(tmp_path / "ws")
        add_endpoints(ws, source, CdcMaxBatchInterval=0.05)
        add_task(ws, "faults")
        writer = ChangeWriter(source, seed=7, pause=0.001).start()
        # Mid full load (twice at a step, once at random), then each step of the CDC commit
        # protocol and random kills, in a shuffled order.
        steps = ["load-table", "load-table", None]
        cdc = ["staged", "committed", "published", "advanced"] * 4 + [None] * 5
        rnd.shuffle(cdc)
        steps += cdc
        crashes = rewinds = 0
        for trial, step in enumerate(steps):
            if step is None:
                monkeypatch.delenv(CRASH_ENV, raising=False)
            else:
                nth = rnd.randint(1, 2 if step == "load-table" else 3)
                monkeypatch.setenv(CRASH_ENV, f"{step}:{nth}")
            started = time.monotonic()
            proc = (
                ws.replication.start_task("faults")
                if trial == 0
                else ws.replication.resume_task("faults")
            )
            try:
                proc.wait(rnd.uniform(0.3, 1.5) if step is None else 20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)  # a random moment, or a step not reached
                proc.wait()
            assert proc.returncode == -signal.SIGKILL, f"trial {trial} ({step}) exited"
            print(f"trial {trial} {step}: {time.monotonic() - started:.1f} s")
            record = ws.replication.get_task("faults")
            assert record["Status"] == "Failed", record
            assert "ended without a final state" in record["LastFailureMessage"]
            lake = ws.replication.lake("faults")
            _assert_nothing_repeated(lake)
            if step == "advanced" and lake.has_load() and crashes < 3:
                before = _slot_position(source, record["SlotName"])
                subprocess.run([str(SCRIPT), "crash-restart", str(server_dir)], check=True, cwd="/")
                crashes += 1
                after = _slot_position(source, record["SlotName"])
                assert before is not None and after is not None
                rewinds += after < before  # the advance was lost with the crash
        monkeypatch.delenv(CRASH_ENV, raising=False)
        assert crashes == 3 and rewinds >= 1
        assert len(steps) >= 20

        ws.replication.resume_task("faults")
        time.sleep(1)
        writer.stop()
        caught_up(ws, "faults", source)
        ws.replication.stop_task("faults")
        assert ws.replication.wait("faults")["Status"] == "Stopped"

        lake = ws.replication.lake("faults")
        _assert_nothing_repeated(lake)
        assert not any(lake.staging_dir.iterdir()) if lake.staging_dir.exists() else True
        for table, name in TABLES:
            assert current_state(lake, table) == source_state(source, name), table
        notes = read_files(lake, "public.orders")["note"].to_pylist()
        assert "rolled back" not in notes
        _, run_id = ws.materialize_replication("faults")
        assert ws.jobs.get_run(run_id).state == "SUCCEEDED", ws.jobs.logs(run_id).read_text()[
            -3000:
        ]
        assert [(r.table, r.ok) for r in ws.replication.validate("faults")] == [
            ("public.customers", True),
            ("public.orders", True),
        ]
        ws.close()
