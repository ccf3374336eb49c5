"""Scheduler benchmark: the hand-off from a job to its conditional successor, and the idle cost
of a daemon watching many scheduled triggers.

- hand-off: a workflow ``start → up → (CONDITIONAL up SUCCEEDED) → down`` of two trivial
  pythonshell jobs, run RUNS times (after one warm-up run) through one ``sparkglue scheduler
  --poll POLL`` process. The latency is from up's ``finished_at`` to down's ``started_at`` (its
  run recorded STARTING), both in ``job_runs``. The peer is the same hand-off done by a
  cron-style poller: a loop that reads ``job_runs`` once every PEER_POLL seconds and starts
  down (``start_run`` + ``launch``) for each up run that has SUCCEEDED. Its checks run on
  their own clock and each up run starts after a random pause, so where up ends within a
  period is left to chance (otherwise the fixed length of the runs would pin it).
- idle: TRIGGERS ACTIVATED SCHEDULED triggers whose cron expressions next fire after 2150
  (varied fields: lists, ranges, steps, ``L``, ``W``, ``#``). The time of the daemon's first
  trigger load (``Scheduler._reload``), its first pass (``tick``) and a later pass, in-process;
  then ``sparkglue scheduler`` in its own process, left to settle SETTLE seconds, and its CPU
  time (utime + stime from /proc) over WINDOW seconds as % of one core.

Usage: .venv/bin/python bench/scheduler.py [--runs 20] [--poll 0.25] [--peer-poll 1]
       [--triggers 1000] [--settle 5] [--window 30]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SHELL = "print('done')\n"
FINAL_JOB = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")


def far_cron(i: int) -> str:
    """A valid cron expression that first fires after 2150, varied by ``i``."""
    m, h, day = i % 60, (i * 7) % 24, 1 + i % 28
    month, year = 1 + (i // 7) % 12, 2150 + i % 50
    forms = [
        f"cron({m} {h} {day} {month} ? {year})",
        f"cron({m} {h} L {month} ? {year})",
        f"cron({m} {h} ? {month} {1 + i % 7}#{1 + i % 4} {year})",
        f"cron({m} {h} {day}W {month} ? {year})",
        f"cron(0/15 {h} ? {month} MON-FRI {year})",
        f"cron({m} {h}-{min(h + 3, 23)} ? JAN,JUL {1 + i % 7}L {year})",
        f"cron({m},{(m + 30) % 60} {h} L-{1 + i % 5} {month} ? {year}-2199)",
        f"cron({m} */6 {day} {month}/3 ? {year})",
    ]
    return forms[i % len(forms)]


def stamp_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_daemon(ws: Any, env: dict[str, str], poll: float, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sparkglue.cli",
                "-w",
                str(ws.path),
                "scheduler",
                "--poll",
                str(poll),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while (ws.scheduler.active_scheduler() or {}).get("pid") != proc.pid:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the scheduler did not take the lease:\n{log.read_text()}")
        time.sleep(0.05)
    return proc


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def handoff_ours(ws: Any, runs: int) -> list[float]:
    """Latencies (s) of the daemon's hand-offs, one workflow run at a time."""
    out = []
    for i in range(runs + 1):
        run_id = ws.scheduler.start_workflow_run("handoff")
        deadline = time.monotonic() + 120
        while (run := ws.scheduler.get_workflow_run(run_id)).state in ("RUNNING", "STOPPING"):
            if time.monotonic() > deadline:
                raise SystemExit(f"workflow run {run_id} did not end")
            time.sleep(0.05)
        if run.state != "COMPLETED" or run.statistics.get("SucceededActions") != 2:
            raise SystemExit(f"workflow run {run_id} ended {run.state}: {run.statistics}")
        ids = {a.name: a.run_id for a in ws.scheduler.actions(run_id)}
        up = ws.jobs.get_run(ids["up"], recover=False)
        down = ws.jobs.get_run(ids["down"], recover=False)
        if i:  # the first run warms the page cache
            out.append(stamp_seconds(down.started_at) - stamp_seconds(up.finished_at))
    return out


def handoff_peer(ws: Any, runs: int, peer_poll: float) -> list[float]:
    """Latencies (s) of a cron-style poller's hand-offs, one up run at a time."""
    from sparkglue.store import schema as s

    watching: set[str] = set()
    handed: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[str] = []

    def poller() -> None:
        clock = time.monotonic()
        while not stop.is_set():
            clock += peer_poll
            stop.wait(max(0.0, clock - time.monotonic()))
            with lock:
                pending = list(watching)
            if not pending:
                continue
            with ws.store.read() as conn:
                ended = conn.execute(
                    sa.select(s.job_runs.c.id, s.job_runs.c.state).where(
                        s.job_runs.c.id.in_(pending), s.job_runs.c.state.in_(FINAL_JOB)
                    )
                ).all()
            for row in ended:
                if row.state == "SUCCEEDED":
                    down = ws.jobs.start_run("down")
                    ws.jobs.launch(down)
                    handed[row.id] = down
                else:
                    failures.append(f"up run {row.id} ended {row.state}")
                with lock:
                    watching.discard(row.id)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    pauses = random.Random(7)
    out = []
    try:
        for i in range(runs + 1):
            time.sleep(pauses.uniform(0, peer_poll))
            up_id = ws.jobs.start_run("up")
            ws.jobs.launch(up_id)
            with lock:
                watching.add(up_id)
            deadline = time.monotonic() + 120
            while up_id not in handed:
                if failures or time.monotonic() > deadline:
                    raise SystemExit(f"the peer's hand-off failed: {failures or 'timed out'}")
                time.sleep(0.02)
            down = ws.jobs.wait(handed[up_id], poll=0.05)
            if down.state != "SUCCEEDED":
                raise SystemExit(f"the peer's down run ended {down.state}")
            up = ws.jobs.get_run(up_id, recover=False)
            if i:
                out.append(stamp_seconds(down.started_at) - stamp_seconds(up.finished_at))
    finally:
        stop.set()
        thread.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.25)
    parser.add_argument("--peer-poll", type=float, default=1.0)
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()

    from sparkglue import Settings, Workspace
    from sparkglue.jobs import JobSpec
    from sparkglue.scheduler import Scheduler, TriggerSpec, WorkflowSpec, parse_schedule
    from sparkglue.store import schema as s

    work = Path(tempfile.mkdtemp(prefix="sparkglue-scheduler-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKGLUE_")}
    env["PYTHONUNBUFFERED"] = "1"
    daemon: subprocess.Popen[bytes] | None = None
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}",
            flush=True,
        )
        ws = Workspace.init(settings=Settings.resolve(work / "ws", env={}))
        print(f"metadata store: {ws.store.dialect}", flush=True)
        for name in ("up", "down", "noop"):
            (ws.path / "scripts" / f"{name}.py").write_text(SHELL)
            ws.jobs.create_job(
                JobSpec.model_validate(
                    {
                        "Name": name,
                        "Command": {"Name": "pythonshell", "ScriptLocation": f"scripts/{name}.py"},
                    }
                )
            )
        ws.scheduler.create_workflow(WorkflowSpec(Name="handoff"))
        for spec in (
            {"Name": "start", "Type": "ON_DEMAND", "Actions": [{"JobName": "up"}]},
            {
                "Name": "after_up",
                "Type": "CONDITIONAL",
                "Predicate": {"Conditions": [{"JobName": "up", "State": "SUCCEEDED"}]},
                "Actions": [{"JobName": "down"}],
            },
        ):
            ws.scheduler.create_trigger(
                TriggerSpec.model_validate({**spec, "WorkflowName": "handoff"})
            )

        # ---- hand-off latency ----------------------------------------------------------------
        daemon = start_daemon(ws, env, args.poll, work / "handoff.log")
        ours = handoff_ours(ws, args.runs)
        stop_daemon(daemon)
        daemon = None
        print(
            f"daemon (--poll {args.poll:g}): hand-off p50 {percentile(ours, 0.5) * 1e3:.0f} ms, "
            f"p95 {percentile(ours, 0.95) * 1e3:.0f} ms over {len(ours)} runs",
            flush=True,
        )
        peer = handoff_peer(ws, args.runs, args.peer_poll)
        print(
            f"cron-style poller (every {args.peer_poll:g} s): hand-off p50 "
            f"{percentile(peer, 0.5) * 1e3:.0f} ms, p95 {percentile(peer, 0.95) * 1e3:.0f} ms "
            f"over {len(peer)} runs",
            flush=True,
        )

        # ---- many scheduled triggers ----------------------------------------------------------
        clock = time.perf_counter()
        for i in range(args.triggers):
            expression = far_cron(i)
            parse_schedule(expression)  # a typo here should fail loudly, not as a create error
            ws.scheduler.create_trigger(
                TriggerSpec.model_validate(
                    {
                        "Name": f"far_{i:04d}",
                        "Type": "SCHEDULED",
                        "Schedule": expression,
                        "StartOnCreation": True,
                        "Actions": [{"JobName": "noop"}],
                    }
                )
            )
        created = time.perf_counter() - clock
        print(f"created {args.triggers:,} scheduled triggers in {created:.1f} s", flush=True)

        scheduler = Scheduler(ws.scheduler, poll=args.poll)
        clock = time.perf_counter()
        scheduler._reload()
        reload_s = time.perf_counter() - clock
        due = sorted(scheduler._due.values())
        if len(due) != args.triggers or due[0].year < 2150:
            raise SystemExit(f"expected {args.triggers} triggers due after 2150, got {due[:1]}")
        scheduler = Scheduler(ws.scheduler, poll=args.poll)
        if not scheduler.acquire():
            raise SystemExit("another scheduler holds this workspace's lease")
        clock = time.perf_counter()
        scheduler.tick()
        first_tick = time.perf_counter() - clock
        later: list[float] = []
        for _ in range(20):
            clock = time.perf_counter()
            scheduler.tick()
            later.append(time.perf_counter() - clock)
        scheduler.lease.release()
        print(
            f"in-process: first trigger load {reload_s * 1e3:.0f} ms, first pass "
            f"{first_tick * 1e3:.0f} ms, later passes {statistics.mean(later) * 1e3:.1f} ms "
            "(mean of 20)",
            flush=True,
        )

        daemon = start_daemon(ws, env, 0.25, work / "idle.log")
        time.sleep(args.settle)
        cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(args.window)
        cpu_used, wall = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - wall_before
        memory = rss_mb(daemon.pid)
        stop_daemon(daemon)
        daemon = None
        idle = 100 * cpu_used / wall
        with ws.store.read() as conn:
            firings = conn.execute(
                sa.select(sa.func.count())
                .select_from(s.trigger_firings)
                .where(s.trigger_firings.c.trigger_name.like("far_%"))
            ).scalar_one()
        if firings:
            raise SystemExit(f"{firings} of the far-future triggers fired")
        print(
            f"daemon with {args.triggers:,} triggers (--poll 0.25): {cpu_used:.2f} s CPU over "
            f"{wall:.0f} s = {idle:.2f}% of one core, RSS {memory:.0f} MB",
            flush=True,
        )

        p50, p95 = percentile(ours, 0.5), percentile(ours, 0.95)
        peer50, peer95 = percentile(peer, 0.5), percentile(peer, 0.95)
        print()
        print("| measure | sparkglue | peer | ratio (peer / ours) |")
        print("|---|---|---|---|")
        print(
            f"| hand-off, up SUCCEEDED → down STARTING, p50 (ms, {len(ours)} runs) | "
            f"{p50 * 1e3:.0f} (daemon, --poll {args.poll:g}) | {peer50 * 1e3:.0f} (cron-style "
            f"poller, every {args.peer_poll:g} s) | {peer50 / p50:.1f}x |"
        )
        print(f"| same, p95 (ms) | {p95 * 1e3:.0f} | {peer95 * 1e3:.0f} | {peer95 / p95:.1f}x |")
        print(
            f"| idle daemon, {args.triggers:,} scheduled triggers (% of one core over "
            f"{args.window:g} s) | {idle:.2f} | — | — |"
        )
        print(
            f"| first trigger load, {args.triggers:,} triggers (ms) | {reload_s * 1e3:.0f} "
            "| — | — |"
        )
        print(
            f"| first pass / later pass, {args.triggers:,} triggers (ms) | "
            f"{first_tick * 1e3:.0f} / {statistics.mean(later) * 1e3:.1f} | — | — |"
        )
        print(
            f"\ngoals: hand-off p50 < 1000 ms ({'met' if p50 < 1 else 'missed'}); idle CPU < 5% "
            f"({'met' if idle < 5 else 'missed'})"
        )
    finally:
        if daemon is not None:
            stop_daemon(daemon)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
