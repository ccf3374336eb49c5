"""Replication benchmark: full load, change-capture throughput, lag and memory of
``sparkglue.replication`` against a private PostgreSQL server (wal2json), parquet targets.

- full load: ROWS rows in three tables (bigint key, integer, numeric(12,2), text, timestamptz,
  boolean, date) copied by a ``full-load`` task: rows/s from ``start_task`` to Stopped (the
  process start included), and of the load phase alone (the tables' FullLoadStartTime →
  FullLoadEndTime). Peer: ``COPY table TO STDOUT`` of the same tables read by psycopg, bytes
  discarded (best of 3).
- CDC throughput: CHANGES row changes (50% inserts, 30% updates, 20% deletes, 100 per
  transaction, over two tables) written while three ``cdc`` tasks are stopped after creating
  their slots; each task is then resumed in turn (CdcMaxBatchInterval 0.2 s, CdcMinFileSize
  256000 KB) and timed until its table statistics count every change, from ``resume_task`` (the
  goal's figure) and from Running (the process start left out): best and median of the three.
  Peer: the raw read of ``pg_logical_slot_peek_changes`` (wal2json format 2) on the first
  task's slot through a named cursor, best and median of 3. Goal: ours ≥ 0.5 × peer.
- lag: a ``cdc`` task with CdcMaxBatchInterval LAG_INTERVAL s (DMS's default is 60) while a
  writer thread makes 1,000 single-row changes per second (10 transactions of 10 one-row
  statements every 100 ms) for LAG_SECONDS s. The lag of a transaction is its batch's
  committed_at minus its source commit time. No peer.
- memory: one transaction inserting BIG_ROWS rows (``INSERT … SELECT generate_series``)
  captured by a ``cdc`` task: the peak RSS (VmHWM, polled) of the task's process and the time
  from the source commit until the batch is committed; the transaction must land in one batch.
  Goal: peak RSS < 1 GB.

Usage: .venv/bin/python bench/replication.py [--rows 2000000] [--changes 500000]
       [--lag-seconds 30] [--lag-interval 1] [--big-rows 5000000] [--only full|cdc|lag|memory]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    "id bigint PRIMARY KEY, qty integer, price numeric(12,2), name text, created timestamptz, "
    "active boolean, day date"
)
ROWS_SQL = (
    "SELECT g, (g % 1000)::int, (g % 100000) / 100.0, 'name-' || g, "
    "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0, "
    "date '2020-01-01' + (g % 2000)::int FROM generate_series({lo}::bigint, {hi}::bigint) g"
)
PEEK_SQL = (
    "SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'format-version', '2', "
    "'include-timestamp', '1', 'include-lsn', '1')"
)
BIG_BATCHES = {"CdcMaxBatchInterval": 0.2, "CdcMinFileSize": 256000}
Row = tuple[str, str, str, str]
START = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - START:6.1f} s] {text}", flush=True)


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def seconds(stamp: str) -> float:
    """An ISO ``…Z`` stamp or a ``yyyy-MM-dd HH:mm:ss.ffffff`` UTC stamp, as epoch seconds."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def versus(measure: str, ours: float, peer: float, name: str) -> Row:
    return (measure, f"{ours:,.0f}", f"{peer:,.0f} ({name})", f"{ours / peer:.2f}")


def alone(measure: str, ours: str) -> Row:
    return (measure, ours, "— (no peer)", "—")


def vm_kb(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory field (VmRSS, VmHWM) in kB; 0 once the process is gone."""
    try:
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith(field + ":"):
                return int(text.split()[1])
    except OSError:
        pass
    return 0


class Bench:
    """The server, the workspace and the tasks of one run."""

    def __init__(self, work: Path, url: str) -> None:
        from sparkglue.config import Settings
        from sparkglue.workspace import Workspace

        self.url = url
        self.db = psycopg.connect(url, autocommit=True)
        self.r = Workspace.init(settings=Settings.resolve(work / "ws", env={})).replication
        self.procs: list[subprocess.Popen[bytes]] = []
        self.r.create_endpoint({"EndpointIdentifier": "pg", "EndpointType": "source", "Url": url})

    def task(self, name: str, kind: str, schema: str, **target: Any) -> None:
        """A target endpoint and a task, both ``name``, for the tables of ``schema``."""
        where = {"Path": f"raw/dms/{name}", "DataFormat": "parquet", "TimestampColumnName": "ts"}
        self.r.create_endpoint(
            {"EndpointIdentifier": name, "EndpointType": "target", **where, **target}
        )
        locator = {"schema-name": schema, "table-name": "%"}
        rule = {"rule-type": "selection", "rule-id": "1", "rule-name": "all"}
        rule |= {"object-locator": locator, "rule-action": "include"}
        spec = {"ReplicationTaskIdentifier": name, "SourceEndpoint": "pg", "TargetEndpoint": name}
        self.r.create_task({**spec, "MigrationType": kind, "TableMappings": {"rules": [rule]}})

    def start(self, name: str, *, resume: bool = False) -> subprocess.Popen[bytes]:
        proc = self.r.resume_task(name) if resume else self.r.start_task(name)
        self.procs.append(proc)
        return proc

    def check(self, name: str) -> dict[str, Any]:
        """The task's status; a Failed task ends the run with its log."""
        task = self.r.get_task(name)
        if task["Status"] == "Failed":
            log = Path(task["LogPath"]).read_text()[-3000:] if task["LogPath"] else ""
            raise SystemExit(f"task {name} failed: {task['LastFailureMessage']}\n{log}")
        return task

    def capturing(self, name: str) -> None:
        """Wait until the task is Running with its slot created."""
        slot, deadline = self.r.get_task(name)["SlotName"], time.monotonic() + 120
        query = "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s"
        while not (
            self.check(name)["Status"] == "Running" and self.db.execute(query, (slot,)).fetchone()
        ):
            if time.monotonic() > deadline:
                raise SystemExit(f"task {name} did not create its slot")
            time.sleep(0.05)

    def changes(self, name: str) -> int:
        return sum(s["Inserts"] + s["Updates"] + s["Deletes"] for s in self.r.table_stats(name))

    def until_changes(self, name: str, total: int, timeout: float, poll: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while self.changes(name) < total:
            self.check(name)
            if time.monotonic() > deadline:
                raise SystemExit(f"task {name} has {self.changes(name)} of {total} changes")
            time.sleep(poll)

    def stop(self, name: str) -> None:
        if self.r.get_task(name)["Status"] in ("Starting", "Running"):
            self.r.stop_task(name)
        if self.r.wait(name, timeout=300)["Status"] != "Stopped":
            self.check(name)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.db.close()


def bench_full(b: Bench, rows: int) -> list[Row]:
    tables = [f"fl.t{i}" for i in range(3)]
    b.db.execute("CREATE SCHEMA fl")
    for i, table in enumerate(tables):
        b.db.execute(f"CREATE TABLE {table} ({COLUMNS})")
        size = rows // 3 + (1 if i < rows % 3 else 0)
        b.db.execute(f"INSERT INTO {table} " + ROWS_SQL.format(lo=1, hi=size))
    b.db.execute("VACUUM (FREEZE, ANALYZE)")  # neither side sets hint bits
    say(f"full load: {rows:,} rows in {len(tables)} tables written")

    best, nbytes = math.inf, 0
    for _ in range(3):
        clock, nbytes = time.perf_counter(), 0
        with b.db.cursor() as cur:
            for table in tables:
                with cur.copy(f"COPY {table} TO STDOUT") as copy:
                    for chunk in copy:
                        nbytes += len(chunk)
        best = min(best, time.perf_counter() - clock)
    peer = rows / best
    say(f"peer COPY TO STDOUT: {best:.2f} s, {peer:,.0f} rows/s ({nbytes / 2**20:.0f} MiB)")

    b.task("fl", "full-load", "fl")
    clock = time.perf_counter()
    b.start("fl")
    task = b.r.wait("fl", timeout=3600)
    wall = time.perf_counter() - clock
    if task["Status"] != "Stopped" or task["StopReason"] != "FULL_LOAD_ONLY_FINISHED":
        b.check("fl")
        raise SystemExit(f"full load ended {task['Status']} {task['StopReason']}")
    stats = b.r.table_stats("fl")
    loaded = sum(s["FullLoadRows"] for s in stats)
    if loaded != rows:
        raise SystemExit(f"the full load copied {loaded} of {rows} rows")
    began = min(seconds(s["FullLoadStartTime"]) for s in stats)
    phase = max(seconds(s["FullLoadEndTime"]) for s in stats) - began
    size = sum(f.bytes for batch in b.r.lake("fl").batches() for f in batch.files)
    say(
        f"ours full-load task: {wall:.2f} s start→Stopped ({rows / wall:,.0f} rows/s), load "
        f"phase {phase:.2f} s ({rows / phase:,.0f} rows/s), {size / 2**20:.0f} MiB parquet"
    )
    return [
        versus(f"full load, {rows:,} rows, start→Stopped (rows/s)", rows / wall, peer, "COPY"),
        versus("same, load phase only (rows/s)", rows / phase, peer, "COPY"),
    ]


def bench_cdc(b: Bench, changes: int, rounds: int = 3) -> list[Row]:
    txns = changes // 100
    total, preload = txns * 100, (txns + 1) // 2 * 50 + 100
    b.db.execute("CREATE SCHEMA cdc")
    for t in ("cdc.t0", "cdc.t1"):
        b.db.execute(f"CREATE TABLE {t} ({COLUMNS})")
        b.db.execute(f"INSERT INTO {t} " + ROWS_SQL.format(lo=1, hi=preload))
    # One task per round, each with a slot of its own made before the changes: every round
    # captures the same changes, as every round of the peer reads them.
    names = [f"cdc{i}" for i in range(rounds)]
    for name in names:
        b.task(name, "cdc", "cdc", **BIG_BATCHES)
        b.start(name)
        b.capturing(name)
        b.stop(name)
    slot = b.r.get_task(names[0])["SlotName"]
    say(f"cdc: {rounds} tasks with their slots created and stopped; writing {total:,} changes")

    # Per table: inserts above the preloaded keys, updates down from the top, deletes up from 1.
    nxt, high, low = [preload + 1] * 2, [preload] * 2, [1] * 2
    clock = time.perf_counter()
    for k in range(txns):
        i = k % 2
        t = f"cdc.t{i}"
        b.db.execute(
            f"BEGIN; INSERT INTO {t} {ROWS_SQL.format(lo=nxt[i], hi=nxt[i] + 49)}; "
            f"UPDATE {t} SET qty = qty + 1, price = price + 1, name = name || 'u' "
            f"WHERE id BETWEEN {high[i] - 29} AND {high[i]}; "
            f"DELETE FROM {t} WHERE id BETWEEN {low[i]} AND {low[i] + 19}; COMMIT"
        )
        nxt[i], high[i], low[i] = nxt[i] + 50, high[i] - 30, low[i] + 20
    say(f"cdc: {txns:,} transactions written in {time.perf_counter() - clock:.1f} s")

    peeks: list[float] = []
    seen = 0
    for _ in range(rounds):
        clock = time.perf_counter()
        with psycopg.connect(b.url) as conn, conn.cursor(name="peer") as cur:
            cur.execute(PEEK_SQL, (slot,))
            seen = 0
            while chunk := cur.fetchmany(20000):
                seen += len(chunk)
        peeks.append(time.perf_counter() - clock)
    say(f"peer peek: {', '.join(f'{x:.2f}' for x in peeks)} s for {seen:,} records")

    whole: list[float] = []
    inner: list[float] = []
    for name in names:
        clock = time.perf_counter()
        b.start(name, resume=True)
        while b.check(name)["Status"] == "Starting":
            time.sleep(0.02)
        running = time.perf_counter()
        b.until_changes(name, total, timeout=3600)
        done = time.perf_counter()
        b.stop(name)
        stats = b.r.table_stats(name)
        counts = [sum(s[k] for s in stats) for k in ("Inserts", "Updates", "Deletes")]
        if counts != [txns * 50, txns * 30, txns * 20]:
            raise SystemExit(f"task {name} counted inserts/updates/deletes {counts}")
        batches = [x for x in b.r.lake(name).batches(reload=True) if x.kind == "cdc"]
        whole.append(done - clock)
        inner.append(done - running)
        say(
            f"ours ({name}): resume→all committed {whole[-1]:.2f} s, Running→all committed "
            f"{inner[-1]:.2f} s, {len(batches)} batches"
        )
        b.r.delete_task(name)
    peer = total / min(peeks)
    what = f"CDC, {total:,} changes in {txns:,} transactions"
    return [
        versus(
            f"{what}, resume→all committed, best of {rounds} (changes/s)",
            total / min(whole),
            peer,
            f"raw peek, best of {rounds}",
        ),
        versus(
            f"same, median of {rounds} (changes/s)",
            total / statistics.median(whole),
            total / statistics.median(peeks),
            f"raw peek, median of {rounds}",
        ),
        versus(
            f"same, Running→all committed (process start left out), best of {rounds}",
            total / min(inner),
            peer,
            "raw peek",
        ),
    ]


def bench_lag(b: Bench, duration: float, interval: float) -> list[Row]:
    preload = max(10_000, int(duration * 200))  # deletes take 100 keys/s from the bottom
    b.db.execute("CREATE SCHEMA lag")
    b.db.execute(f"CREATE TABLE lag.t ({COLUMNS})")
    b.db.execute("INSERT INTO lag.t " + ROWS_SQL.format(lo=1, hi=preload))
    b.task("lag", "cdc", "lag", CdcMaxBatchInterval=interval)
    b.start("lag")
    b.capturing("lag")
    say(f"lag: task running (CdcMaxBatchInterval {interval:g} s); 1,000 changes/s, {duration:g} s")
    written = [0]

    def writer() -> None:
        rng, nxt, low = random.Random(3), preload + 1, 1
        with psycopg.connect(b.url, autocommit=True) as conn:
            clock = time.monotonic()
            for _ in range(int(duration * 10)):
                for _ in range(10):  # 10 transactions of 6 inserts, 3 updates and 1 delete
                    parts = [
                        f"INSERT INTO lag.t {ROWS_SQL.format(lo=n, hi=n)}"
                        for n in range(nxt, nxt + 6)
                    ]
                    ids = [rng.randint(low + 1, preload) for _ in range(3)]
                    parts += [f"UPDATE lag.t SET qty = qty + 1 WHERE id = {n}" for n in ids]
                    parts.append(f"DELETE FROM lag.t WHERE id = {low}")
                    conn.execute("BEGIN; " + "; ".join(parts) + "; COMMIT")
                    nxt, low, written[0] = nxt + 6, low + 1, written[0] + 10
                clock += 0.1
                time.sleep(max(0.0, clock - time.monotonic()))

    clock = time.monotonic()
    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    took = time.monotonic() - clock
    b.until_changes("lag", written[0], timeout=120 + interval * 5)
    b.stop("lag")
    batches = [x for x in b.r.lake("lag").batches(reload=True) if x.kind == "cdc"]
    lags = [seconds(x.committed_at) - seconds(t) for x in batches for t in x.commit_times]
    p50, p95, top = percentile(lags, 0.5), percentile(lags, 0.95), max(lags)
    rate = written[0] / took
    say(
        f"lag: {written[0]:,} changes in {took:.1f} s ({rate:,.0f}/s), {len(lags):,} transactions "
        f"in {len(batches)} batches: p50 {p50:.2f} s, p95 {p95:.2f} s, max {top:.2f} s"
    )
    b.r.delete_task("lag")
    where = f"CdcMaxBatchInterval {interval:g} s, {rate:,.0f} changes/s"
    return [alone(f"lag p50 / p95 / max (s), {where}", f"{p50:.2f} / {p95:.2f} / {top:.2f}")]


def bench_memory(b: Bench, rows: int) -> list[Row]:
    b.db.execute("CREATE SCHEMA big")
    b.db.execute(f"CREATE TABLE big.t ({COLUMNS})")
    b.task("big", "cdc", "big", **BIG_BATCHES)
    proc = b.start("big")
    b.capturing("big")
    idle = vm_kb(proc.pid, "VmHWM")
    say(f"memory: task running (peak RSS {idle / 1024:.0f} MB); one {rows:,}-row transaction")
    clock = time.perf_counter()
    b.db.execute("INSERT INTO big.t " + ROWS_SQL.format(lo=1, hi=rows))
    committed = time.perf_counter()
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], vm_kb(proc.pid, "VmRSS"), vm_kb(proc.pid, "VmHWM"))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        b.until_changes("big", rows, timeout=3600, poll=0.2)
    finally:
        stop.set()
        sampler.join()
    took = time.perf_counter() - committed
    hwm = max(peak[0], vm_kb(proc.pid, "VmHWM"))  # read before the stop
    b.stop("big")
    batches = [x for x in b.r.lake("big").batches(reload=True) if x.kind == "cdc" and x.files]
    landed = [sum(f.rows for f in x.files) for x in batches]
    one = len(batches) == 1 and landed[0] == rows and batches[0].transactions == 1
    say(
        f"memory: insert {committed - clock:.1f} s; commit→batch committed {took:.1f} s; peak "
        f"RSS {hwm / 1024:.0f} MB; batches with data: {len(batches)} (rows {landed}, "
        f"transactions {[x.transactions for x in batches]}) → "
        + ("the whole transaction in ONE batch" if one else "NOT in one batch")
    )
    b.r.delete_task("big")
    return [
        alone(f"peak RSS of the task, one {rows:,}-row transaction (MB)", f"{hwm / 1024:,.0f}"),
        alone("same, source commit → batch committed (s)", f"{took:.1f} ({rows / took:,.0f}/s)"),
        alone("same, in one committed batch", "yes" if one else f"NO: {landed}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--changes", type=int, default=500_000)
    parser.add_argument("--lag-seconds", type=float, default=30.0)
    parser.add_argument("--lag-interval", type=float, default=1.0)
    parser.add_argument("--big-rows", type=int, default=5_000_000)
    parser.add_argument("--only", choices=["full", "cdc", "lag", "memory"])
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("SPARKGLUE_")]:
        del os.environ[key]  # the task processes inherit this environment

    work = Path(tempfile.mkdtemp(prefix="sparkglue-replication-bench-"))
    work.chmod(0o755)  # the server runs as user postgres when we are root
    pg, script = work / "pg", str(ROOT / "scripts" / "postgres")
    bench: Bench | None = None
    try:
        started = subprocess.run([script, "start", str(pg)], check=True, capture_output=True)
        url = started.stdout.decode().split()[-1].replace("postgresql+psycopg:", "postgresql:")
        bench = Bench(work, url)
        version = bench.db.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20  # MemTotal
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GB RAM, Python "
            f"{platform.python_version()}, PostgreSQL {version} (fsync=off), wal2json, parquet",
            flush=True,
        )
        rows: list[Row] = []
        if args.only in (None, "full"):
            rows += bench_full(bench, args.rows)
        if args.only in (None, "cdc"):
            rows += bench_cdc(bench, args.changes)
        if args.only in (None, "lag"):
            rows += bench_lag(bench, args.lag_seconds, args.lag_interval)
        if args.only in (None, "memory"):
            rows += bench_memory(bench, args.big_rows)
        print("\n| measure | ours | peer | ratio (ours / peer) |\n|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        goals = []
        for measure, ours, _peer, ratio in rows:
            if measure.startswith("CDC"):  # best of 3 from resume_task, the start included
                goals.append(f"CDC ≥ 0.5 × peek ({'met' if float(ratio) >= 0.5 else 'missed'})")
            if measure.startswith("peak RSS"):
                met = float(ours.replace(",", "")) < 1024
                goals.append(f"peak RSS < 1 GB ({'met' if met else 'missed'})")
        if goals:
            print("\ngoals: " + "; ".join(goals))
    finally:
        if bench is not None:
            bench.close()
        subprocess.run([script, "stop", str(pg)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
