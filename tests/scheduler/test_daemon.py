"""The scheduler daemon with real processes: two daemons on one store, ``kill -9`` mid-run and
restart, missed ticks, and the one-active-scheduler lease on every store backend."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sparkglue.jobs import JobSpec
from sparkglue.scheduler import Scheduler, TriggerSpec, WorkflowSpec
from sparkglue.scheduler.engine import Lease, LeaseLost
from sparkglue.store import MetadataStore
from sparkglue.store import schema as s
from sparkglue.workspace import Workspace

ACTIVE = ("STARTING", "RUNNING", "STOPPING")
FINAL = ("COMPLETED", "STOPPED", "ERROR")


# ---- helpers -----------------------------------------------------------------------------------


def _shell_job(ws: Workspace, name: str, body: str, **extra: object) -> None:
    script = ws.path / "scripts" / f"{name}.py"
    script.write_text(body, encoding="utf-8")
    ws.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": name,
                "Command": {"Name": "pythonshell", "ScriptLocation": f"scripts/{name}.py"},
                **extra,
            }
        )
    )


def _daemon(ws: Workspace, log: Path, poll: float = 0.2) -> subprocess.Popen[bytes]:
    """``sparkglue scheduler`` in its own process, its output in ``log``."""
    # Unbuffered: a daemon killed with SIGKILL must still have written what it did.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
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


def _kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    # Reaped at once: an unreaped zombie still counts as a live lease holder.
    proc.wait()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        _kill9(proc)


def _rows(ws: Workspace, query: sa.Select[Any]) -> list[Any]:
    with ws.store.read() as conn:
        return list(conn.execute(query).all())


def _until(check: Callable[[], Any], limit: float, what: str, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {limit} s waiting for {what}"
        time.sleep(poll)


def _lease_pid(ws: Workspace) -> int | None:
    rows = _rows(ws, sa.select(s.scheduler_leases.c.pid))
    return int(rows[0].pid) if rows else None


def _job_runs(ws: Workspace, job: str | None = None) -> list[Any]:
    query = sa.select(s.job_runs)
    if job is not None:
        query = query.where(s.job_runs.c.job_name == job)
    return _rows(ws, query)


def _no_active_runs(ws: Workspace) -> bool:
    return not [r for r in _job_runs(ws) if r.state in ACTIVE]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _fired_ticks(log: Path) -> set[str]:
    return set(re.findall(r"Fired every3 for its tick (\S+)", log.read_text(errors="replace")))


# ---- two daemons, one lease ---------------------------------------------------------------------


def test_two_schedulers_fire_each_tick_exactly_once(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    # A run that outlasts a period under load must not refuse the next tick's run.
    _shell_job(ws, "tick", "print('tick')\n", ExecutionProperty={"MaxConcurrentRuns": 5})
    ws.scheduler.create_trigger(
        TriggerSpec.model_validate(
            {
                "Name": "every3",
                "Type": "SCHEDULED",
                "Schedule": "rate(3 seconds)",
                "StartOnCreation": True,
                "Actions": [{"JobName": "tick"}],
            }
        )
    )
    logs = {name: tmp_path / f"scheduler-{name}.log" for name in ("one", "two")}
    started = time.monotonic()
    procs = {name: _daemon(ws, log) for name, log in logs.items()}
    try:
        holder = _until(lambda: _lease_pid(ws), 30, "a scheduler to take the lease")
        assert holder in {p.pid for p in procs.values()}

        # Killed just before a tick is due, so that tick is missed by the holder and must be
        # fired, once, by the process that takes over.
        time.sleep(max(0.0, started + 28 - time.monotonic()))
        missed = (time.time() // 3 + 2) * 3
        time.sleep(max(0.0, missed - 0.15 - time.time()))
        holder = _lease_pid(ws)
        victim = next(n for n, p in procs.items() if p.pid == holder)
        survivor = next(n for n in procs if n != victim)
        assert procs[survivor].poll() is None, logs[survivor].read_text()
        killed_at = time.time()
        _kill9(procs[victim])
        _until(
            lambda: _lease_pid(ws) == procs[survivor].pid,
            15,
            "the surviving scheduler to take the lease over",
            poll=0.05,
        )
        taken_at = time.time()
        assert taken_at - killed_at < 5, "a dead holder of this host is replaced at once"

        time.sleep(max(0.0, started + 60 - time.monotonic()))
        stopped_at = time.time()
        _stop(procs[survivor])
        assert procs[survivor].returncode == 0, logs[survivor].read_text()
        _until(lambda: _no_active_runs(ws), 30, "the started job runs to end", poll=0.25)
    finally:
        for proc in procs.values():
            _stop(proc)

    firings = _rows(
        ws, sa.select(s.trigger_firings).where(s.trigger_firings.c.trigger_name == "every3")
    )
    keys = [f.tick_key for f in firings]
    assert len(keys) == len(set(keys)), Counter(keys).most_common(3)
    assert all(f.error_message is None for f in firings)
    assert len(firings) >= 15, keys
    ticks = sorted(_epoch(k.removeprefix("tick:")) for k in keys)
    assert all(t % 3 == 0 for t in ticks), ticks
    assert ticks[-1] <= stopped_at

    # Consecutive 3 s steps: a gap may open only before the first firing or, if the takeover
    # stalls past a whole period, across the takeover; a missed tick fires once, never twice.
    fired_at = {_epoch(f.tick_key.removeprefix("tick:")): _epoch(f.fired_at) for f in firings}
    gaps = [(a, b) for a, b in pairwise(ticks[1:]) if b - a != 3]
    assert len(gaps) <= 1, gaps
    for before, after in gaps:
        assert before <= taken_at and after >= killed_at - 3, (gaps, killed_at, taken_at)
        assert fired_at[after] >= killed_at
    in_outage = [t for t in ticks if killed_at < t <= taken_at]
    assert len(in_outage) <= 1, in_outage
    assert missed in fired_at, "the tick due during the takeover fires"
    assert fired_at[missed] >= killed_at
    later = [t for t in ticks if t > taken_at]
    assert len(later) >= 8, "the survivor goes on firing after the takeover"

    # Each process fired ticks of its own; none was fired by both.
    by_victim, by_survivor = _fired_ticks(logs[victim]), _fired_ticks(logs[survivor])
    assert by_victim and by_survivor
    assert datetime.fromtimestamp(missed, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") in by_survivor
    assert not by_victim & by_survivor
    assert by_victim | by_survivor <= {k.removeprefix("tick:") for k in keys}
    survivor_log = logs[survivor].read_text()
    assert "Another scheduler holds the lease" in survivor_log, survivor_log
    assert "Took over the scheduler lease" in survivor_log, survivor_log

    # One job run per firing, each planned by exactly one action.
    actions = _rows(
        ws,
        sa.select(s.trigger_actions).where(
            s.trigger_actions.c.firing_id.in_([f.id for f in firings])
        ),
    )
    runs = _job_runs(ws, "tick")
    assert len(runs) == len(firings)
    assert len(actions) == len(firings)
    assert Counter(a.run_id for a in actions) == Counter(r.id for r in runs)
    assert {a.state for a in actions} == {"STARTED"}
    assert [r for r in runs if r.state != "SUCCEEDED"] == []


# ---- kill -9 mid-workflow ---------------------------------------------------------------------


def _chain(ws: Workspace) -> None:
    """start → a (3 s) → b (2 s) → c, by CONDITIONAL triggers on SUCCEEDED."""
    _shell_job(ws, "a", "import time\ntime.sleep(3)\n")
    _shell_job(ws, "b", "import time\ntime.sleep(2)\n")
    _shell_job(ws, "c", "print('c')\n")
    ws.scheduler.create_workflow(WorkflowSpec(Name="chain"))
    ws.scheduler.create_trigger(
        TriggerSpec.model_validate(
            {
                "Name": "start",
                "WorkflowName": "chain",
                "Type": "ON_DEMAND",
                "Actions": [{"JobName": "a"}],
            }
        )
    )
    for name, watched, started in (("after_a", "a", "b"), ("after_b", "b", "c")):
        ws.scheduler.create_trigger(
            TriggerSpec.model_validate(
                {
                    "Name": name,
                    "WorkflowName": "chain",
                    "Type": "CONDITIONAL",
                    "Predicate": {"Conditions": [{"JobName": watched, "State": "SUCCEEDED"}]},
                    "Actions": [{"JobName": started}],
                }
            )
        )


@pytest.mark.parametrize("kill_when", ["a_running", "b_fired"])
def test_kill_9_mid_workflow_then_restart_completes_without_double_runs(
    workspace: Workspace, tmp_path: Path, kill_when: str
) -> None:
    ws = workspace
    _chain(ws)
    run_id = ws.scheduler.start_workflow_run("chain")
    first = _daemon(ws, tmp_path / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        if kill_when == "a_running":
            _until(
                lambda: any(r.state == "RUNNING" for r in _job_runs(ws, "a")),
                30,
                "job a to run",
                poll=0.05,
            )
        else:
            _until(
                lambda: _rows(
                    ws,
                    sa.select(s.trigger_firings.c.id).where(
                        s.trigger_firings.c.trigger_name == "after_a",
                        s.trigger_firings.c.workflow_run_id == run_id,
                    ),
                ),
                40,
                "the trigger of b to fire",
                poll=0.02,
            )
        _kill9(first)
        assert ws.scheduler.get_workflow_run(run_id).state == "RUNNING"
        time.sleep(1)
        second = _daemon(ws, tmp_path / "second.log")
        run = _until(
            lambda: (r := ws.scheduler.get_workflow_run(run_id)).state in FINAL and r,
            60,
            "the workflow run to end",
            poll=0.25,
        )
        _stop(second)
    finally:
        _stop(first)
        if second is not None:
            _stop(second)

    logs = "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert run.state == "COMPLETED", logs
    assert run.statistics["TotalActions"] == 3, run.statistics
    assert run.statistics["SucceededActions"] == 3, run.statistics
    runs = _job_runs(ws)
    assert Counter(r.job_name for r in runs) == {"a": 1, "b": 1, "c": 1}
    assert {r.state for r in runs} == {"SUCCEEDED"}, [(r.job_name, r.state) for r in runs]
    assert [r for r in runs if r.state in ACTIVE] == []
    for r in runs:
        assert r.arguments["--WORKFLOW_RUN_ID"] == run_id
    firings = _rows(
        ws, sa.select(s.trigger_firings).where(s.trigger_firings.c.workflow_run_id == run_id)
    )
    assert Counter(f.trigger_name for f in firings) == {"start": 1, "after_a": 1, "after_b": 1}
    actions = ws.scheduler.actions(run_id)
    assert sorted(a.run_id for a in actions) == sorted(r.id for r in runs)


# ---- missed ticks -----------------------------------------------------------------------------


def test_missed_ticks_fire_once_on_start(workspace: Workspace) -> None:
    ws = workspace
    _shell_job(ws, "tick", "print('tick')\n")
    ws.scheduler.create_trigger(
        TriggerSpec.model_validate(
            {
                "Name": "minutely",
                "Type": "SCHEDULED",
                "Schedule": "cron(* * * * ? *)",
                "StartOnCreation": True,
                "Actions": [{"JobName": "tick"}],
            }
        )
    )
    # The second pass must not reach the next minute's tick, which would rightly fire.
    if datetime.now(UTC).second >= 50:
        time.sleep(61 - datetime.now(UTC).second)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    cursor = long_ago.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with ws.store.write() as conn:
        conn.execute(
            s.triggers.update()
            .where(s.triggers.c.name == "minutely")
            .values(schedule_cursor=cursor)
        )

    def firings() -> list[Any]:
        return _rows(
            ws,
            sa.select(s.trigger_firings).where(s.trigger_firings.c.trigger_name == "minutely"),
        )

    scheduler = Scheduler(ws.scheduler, poll=0.1)
    try:
        assert scheduler.acquire()
        scheduler.tick()
        fired = firings()
        assert len(fired) == 1
        first_missed = long_ago.replace(second=0, microsecond=0) + timedelta(minutes=1)
        assert fired[0].tick_key == "tick:" + first_missed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        moved = ws.scheduler.get_trigger("minutely").schedule_cursor
        assert moved is not None
        assert abs(_epoch(moved) - time.time()) < 10

        scheduler.tick()
        assert len(firings()) == 1
        # A restarted daemon reads the moved cursor and does not replay either.
        scheduler.lease.release()
        restarted = Scheduler(ws.scheduler, poll=0.1)
        assert restarted.acquire()
        restarted.tick()
        restarted.lease.release()
        assert len(firings()) == 1
    finally:
        scheduler.lease.release()

    runs = _job_runs(ws, "tick")
    assert len(runs) == 1
    assert ws.jobs.wait(runs[0].id, poll=0.1).state == "SUCCEEDED"


# ---- the lease on every backend -----------------------------------------------------------------


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    metadata = MetadataStore(store_url)
    metadata.migrate()
    yield metadata
    metadata.dispose()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_holder(store: MetadataStore, host: str, pid: int, expires_in: float) -> None:
    with store.write() as conn:
        conn.execute(s.scheduler_leases.delete())
        conn.execute(
            s.scheduler_leases.insert().values(
                name="scheduler",
                holder=f"{host}:{pid}:abcdef",
                host=host,
                pid=pid,
                expires_at=time.time() + expires_in,
                acquired_at="2025-01-01T00:00:00.000000Z",
            )
        )


def test_a_held_lease_is_refused_until_released(store: MetadataStore) -> None:
    first, second = Lease(store, ttl=30), Lease(store, ttl=30)
    assert first.try_acquire()
    assert first.try_acquire(), "the holder renews"
    assert not second.try_acquire()
    assert (first.current() or {}).get("holder") == first.holder
    second.release()  # not the holder: changes nothing
    assert not second.try_acquire()
    first.release()
    assert first.current() is None
    assert second.try_acquire()
    assert not first.try_acquire()


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(
    store: MetadataStore,
) -> None:
    first, second = Lease(store, ttl=0.4), Lease(store, ttl=30)
    assert first.try_acquire()
    with store.write() as conn:
        first.fence(conn)  # the holder may write
    assert not second.try_acquire()
    time.sleep(0.6)
    assert first.current() is None
    assert second.try_acquire()
    assert not first.try_acquire()
    with pytest.raises(LeaseLost), store.write() as conn:
        first.fence(conn)
    with store.write() as conn:
        second.fence(conn)
    assert (second.current() or {}).get("holder") == second.holder


def test_a_lapsed_lease_nobody_took_still_lets_its_holder_fire(store: MetadataStore) -> None:
    # A pass slower than the lease's time (a long lock wait) must not stop the only scheduler;
    # only a takeover, which writes a new holder, fences the old one.
    lease = Lease(store, ttl=0.3)
    assert lease.try_acquire()
    time.sleep(0.5)
    with store.write() as conn:
        lease.fence(conn)
    other = Lease(store, ttl=0.3)
    assert not other.try_acquire(), "the fence renewed it"
    time.sleep(0.5)
    assert other.try_acquire()
    with pytest.raises(LeaseLost), store.write() as conn:
        lease.fence(conn)


def test_a_dead_holder_on_this_host_is_replaced_at_once(store: MetadataStore) -> None:
    dead = _dead_pid()
    _write_holder(store, socket.gethostname(), dead, expires_in=3600)
    lease = Lease(store, ttl=30)
    assert lease.current() is None
    assert lease.try_acquire()
    row = _store_rows(store)[0]
    assert (row.holder, row.pid) == (lease.holder, os.getpid())


def test_a_holder_on_another_host_is_trusted_until_it_expires(store: MetadataStore) -> None:
    _write_holder(store, "elsewhere.invalid", _dead_pid(), expires_in=3600)
    lease = Lease(store, ttl=30)
    assert (lease.current() or {}).get("host") == "elsewhere.invalid"
    assert not lease.try_acquire()
    _write_holder(store, "elsewhere.invalid", 1, expires_in=-1)
    assert lease.try_acquire()


def _store_rows(store: MetadataStore) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(sa.select(s.scheduler_leases)).all())
