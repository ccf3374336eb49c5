"""Firing triggers exactly once, starting their actions, and following workflow runs.

A firing is a row keyed by (trigger, tick): a scheduled tick's time, ``wr:<run>`` for a
conditional trigger in a workflow run, the matching run ids for one outside a workflow, the
first file of an event batch, or a fresh id for an on-demand start. The firing, its workflow
run and its *planned* actions — each with the id its job or crawl run will get — are written in
one transaction, and only while this process holds the scheduler lease (the write renews the
lease, so a process that lost it cannot fire). Starting a planned action is idempotent: a run
with that id either exists or is created, so a scheduler killed at any point and restarted
finishes what was planned and never starts one action twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sparkglue.crawler import CrawlerService
from sparkglue.errors import SparkGlueError
from sparkglue.jobs import JobService
from sparkglue.scheduler.specs import PredicateSpec, TriggerSpec
from sparkglue.store import MetadataStore, new_record_id, parse_stamp, process_alive, utc_now
from sparkglue.store import schema as s

__all__ = [
    "ACTIVE_RUN_STATES",
    "ActionState",
    "Lease",
    "LeaseLost",
    "TriggerEngine",
    "action_statistics",
    "condition_met",
]

ACTIVE_RUN_STATES = ("RUNNING", "STOPPING")
_JOB_FINAL = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")
_CRAWL_FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_LEASE = "scheduler"
_LAUNCH_GRACE = 5.0


class LeaseLost(Exception):
    """This process no longer holds the scheduler lease; it must not fire."""


class Lease:
    """The one-active-scheduler lease: a row naming its holder until ``expires_at``.

    Another process takes it when it has expired, or at once when the holder is a process of
    this host that no longer exists (a scheduler killed with ``kill -9``).
    """

    def __init__(self, store: MetadataStore, ttl: float = 10.0) -> None:
        self.store = store
        self.ttl = ttl
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"{self.host}:{self.pid}:{new_record_id('lease')[-6:]}"

    def try_acquire(self) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        now = time.time()
        values = {
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "expires_at": now + self.ttl,
        }
        with self.store.write() as conn:
            row = conn.execute(
                sa.select(s.scheduler_leases)
                .where(s.scheduler_leases.c.name == _LEASE)
                .with_for_update()
            ).first()
            if row is None:
                conn.execute(
                    s.scheduler_leases.insert().values(name=_LEASE, acquired_at=utc_now(), **values)
                )
                return True
            if row.holder != self.holder and self._live(row, now):
                return False
            if row.holder != self.holder:
                values["acquired_at"] = utc_now()
            conn.execute(
                s.scheduler_leases.update()
                .where(s.scheduler_leases.c.name == _LEASE)
                .values(**values)
            )
            return True

    def fence(self, conn: sa.Connection) -> None:
        """Renew the lease inside ``conn``'s transaction, or raise :class:`LeaseLost`."""
        # The holder alone decides: a takeover always writes a new holder, and a pass that
        # outlived the lease's time (a slow disk, a long lock wait) must not stop this process
        # from firing when nobody took over.
        done = conn.execute(
            s.scheduler_leases.update()
            .where(
                s.scheduler_leases.c.name == _LEASE,
                s.scheduler_leases.c.holder == self.holder,
            )
            .values(expires_at=time.time() + self.ttl)
        )
        if done.rowcount != 1:
            raise LeaseLost

    def release(self) -> None:
        # The row stays (expired), so a waiting process always finds a row to lock.
        with self.store.write() as conn:
            conn.execute(
                s.scheduler_leases.update()
                .where(
                    s.scheduler_leases.c.name == _LEASE,
                    s.scheduler_leases.c.holder == self.holder,
                )
                .values(expires_at=0.0)
            )

    def current(self) -> dict[str, Any] | None:
        """Who holds the lease now (None when nobody does)."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.scheduler_leases).where(s.scheduler_leases.c.name == _LEASE)
            ).first()
        if row is None or not self._live(row, time.time()):
            return None
        return {"holder": row.holder, "host": row.host, "pid": row.pid}

    def _live(self, row: Any, now: float) -> bool:
        """Whether a lease row still binds: not expired, and not held by a dead process of
        this host."""
        gone = row.host == self.host and not process_alive(row.pid)
        return row.expires_at >= now and not gone


@dataclass
class ActionState:
    """What became of one planned action."""

    kind: str
    name: str
    run_id: str
    state: str  # the run's state after retries; PLANNED/NOT_STARTED before any run exists
    error: str | None
    inherited: bool


def action_statistics(actions: Iterable[ActionState]) -> dict[str, int]:
    """Glue's workflow run Statistics over the actions a run itself started."""
    own = [a for a in actions if not a.inherited and a.state != "NOT_STARTED"]

    def count(*states: str) -> int:
        return sum(1 for a in own if a.state in states)

    return {
        "TotalActions": len(own),
        "SucceededActions": count("SUCCEEDED"),
        "FailedActions": count("FAILED", "ERROR"),
        "TimeoutActions": count("TIMEOUT"),
        "StoppedActions": count("STOPPED", "CANCELLED"),
        "RunningActions": count("PLANNED", "STARTING", "RUNNING", "STOPPING", "CANCELLING"),
    }


def _short_key(key: str) -> str:
    return key if len(key) <= 200 else key[:150] + "#" + hashlib.sha1(key.encode()).hexdigest()


def condition_met(wanted: str, state: str) -> bool:
    """A job that ended in ERROR (its process died) counts as FAILED, as a refused start does."""
    return state == wanted or (wanted == "FAILED" and state == "ERROR")


class TriggerEngine:
    """Fires triggers and follows what they started (used by the lease holder)."""

    def __init__(self, store: MetadataStore, jobs: JobService, crawlers: CrawlerService) -> None:
        self.store = store
        self.jobs = jobs
        self.crawlers = crawlers

    # ---- firing ------------------------------------------------------------------------------

    def fire(
        self,
        spec: TriggerSpec,
        tick_key: str,
        *,
        lease: Lease | None,
        workflow_run_id: str | None = None,
        properties: dict[str, str] | None = None,
        cursor: str | None = None,
        event_file_ids: list[int] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> str | None:
        """Record a firing and plan its actions; None when this tick has fired already.

        A starting trigger of a workflow (any type but CONDITIONAL) starts a workflow run;
        a conditional one adds to ``workflow_run_id``. Without ``lease`` (an on-demand start
        with a fresh key) any process may record a firing.
        """
        key = _short_key(tick_key)
        firing_id = new_record_id("tf")
        with self.store.write() as conn:
            if lease is not None:
                lease.fence(conn)
            if cursor is not None:
                conn.execute(
                    s.triggers.update()
                    .where(s.triggers.c.name == spec.Name)
                    .values(schedule_cursor=cursor)
                )
            exists = conn.execute(
                sa.select(s.trigger_firings.c.id).where(
                    s.trigger_firings.c.trigger_name == spec.Name,
                    s.trigger_firings.c.tick_key == key,
                )
            ).first()
            if exists is not None:
                return None
            error = None
            run_id = workflow_run_id
            if spec.WorkflowName and spec.Type != "CONDITIONAL":
                run_id, error = self._new_workflow_run(conn, spec, properties or {})
            conn.execute(
                s.trigger_firings.insert().values(
                    id=firing_id,
                    trigger_name=spec.Name,
                    tick_key=key,
                    workflow_run_id=run_id,
                    fired_at=utc_now(),
                    error_message=error,
                    detail=detail or {},
                )
            )
            if event_file_ids:
                conn.execute(
                    s.trigger_event_files.update()
                    .where(s.trigger_event_files.c.id.in_(event_file_ids))
                    .values(firing_id=firing_id)
                )
            if error is None:
                extra = (
                    {"--WORKFLOW_NAME": spec.WorkflowName, "--WORKFLOW_RUN_ID": run_id}
                    if spec.WorkflowName and run_id
                    else {}
                )
                for index, action in enumerate(spec.Actions):
                    conn.execute(
                        s.trigger_actions.insert().values(
                            firing_id=firing_id,
                            action_index=index,
                            workflow_run_id=run_id,
                            kind=action.kind,
                            name=action.target,
                            run_id=new_record_id("jr" if action.kind == "JOB" else "cr"),
                            state="PLANNED",
                            arguments={**action.Arguments, **extra},
                            timeout_minutes=action.Timeout,
                            inherited=False,
                            created_at=utc_now(),
                        )
                    )
        return firing_id

    def _new_workflow_run(
        self, conn: sa.Connection, spec: TriggerSpec, properties: dict[str, str]
    ) -> tuple[str | None, str | None]:
        row = conn.execute(
            sa.select(s.workflows).where(s.workflows.c.name == spec.WorkflowName).with_for_update()
        ).first()
        if row is None:
            return None, f"workflow '{spec.WorkflowName}' no longer exists"
        definition = row.definition
        limit = definition.get("MaxConcurrentRuns")
        if limit:
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(s.workflow_runs)
                .where(
                    s.workflow_runs.c.workflow_name == spec.WorkflowName,
                    s.workflow_runs.c.state.in_(ACTIVE_RUN_STATES),
                )
            ).scalar_one()
            if active >= limit:
                return None, (
                    f"workflow '{spec.WorkflowName}' already has {active} run(s) in progress and "
                    f"allows {limit} (MaxConcurrentRuns); wait or stop one"
                )
        run_id = new_record_id("wr")
        conn.execute(
            s.workflow_runs.insert().values(
                id=run_id,
                workflow_name=spec.WorkflowName,
                state="RUNNING",
                run_properties={**definition.get("DefaultRunProperties", {}), **properties},
                previous_run_id=None,
                started_by=spec.Name,
                started_at=utc_now(),
                statistics={},
            )
        )
        return run_id, None

    # ---- starting what was planned -----------------------------------------------------------

    def start_planned(self, lease: Lease) -> int:
        """Start every planned action (idempotently); returns how many were handled.

        Each action is claimed first (PLANNED → LAUNCHING, fenced by the lease) so that a stop
        and a start cannot both win; a LAUNCHING action left by a process that died is taken
        up again, and starting it finds the run it may already have created."""
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.trigger_actions)
                .where(s.trigger_actions.c.state.in_(["PLANNED", "LAUNCHING"]))
                .order_by(s.trigger_actions.c.id)
            ).all()
        for row in rows:
            if not self._claim(row, lease):
                continue
            try:
                started = self._start(row)
            except SparkGlueError as exc:
                self._set_action(row.id, "REFUSED", exc.message, expect="LAUNCHING")
                continue
            if started:
                self._set_action(row.id, "STARTED", None, expect="LAUNCHING")
                self._stop_if_stopping(row)
        return len(rows)

    def _claim(self, row: Any, lease: Lease) -> bool:
        with self.store.write() as conn:
            lease.fence(conn)
            if row.workflow_run_id is not None:
                state = conn.execute(
                    sa.select(s.workflow_runs.c.state).where(
                        s.workflow_runs.c.id == row.workflow_run_id
                    )
                ).scalar()
                if state != "RUNNING":
                    conn.execute(
                        s.trigger_actions.update()
                        .where(
                            s.trigger_actions.c.id == row.id,
                            s.trigger_actions.c.state.in_(["PLANNED", "LAUNCHING"]),
                        )
                        .values(state="NOT_STARTED", error_message="the workflow run was stopped")
                    )
                    return False
            done = conn.execute(
                s.trigger_actions.update()
                .where(
                    s.trigger_actions.c.id == row.id,
                    s.trigger_actions.c.state.in_(["PLANNED", "LAUNCHING"]),
                )
                .values(state="LAUNCHING")
            )
            return done.rowcount == 1

    def _stop_if_stopping(self, row: Any) -> None:
        """A workflow run stopped while this action was being started: stop what started."""
        if row.workflow_run_id is None:
            return
        with self.store.read() as conn:
            state = conn.execute(
                sa.select(s.workflow_runs.c.state).where(
                    s.workflow_runs.c.id == row.workflow_run_id
                )
            ).scalar()
        if state != "RUNNING":
            self.stop_action(row.kind, row.name, row.run_id)

    def stop_action(self, kind: str, name: str, run_id: str) -> None:
        """Ask an action's run (its latest attempt, for a job) to stop; one that has ended
        already, or never started, is left as it is."""
        with contextlib.suppress(SparkGlueError):
            if kind == "JOB":
                self.jobs.stop_run(self.last_attempt(run_id))
            else:
                self.crawlers.stop_crawler(name)

    def _start(self, row: Any) -> bool:
        """Start one planned action; False when it must wait for a later pass."""
        if row.kind == "JOB":
            with self.store.read() as conn:
                run = conn.execute(
                    sa.select(s.job_runs.c.pid, s.job_runs.c.started_at).where(
                        s.job_runs.c.id == row.run_id
                    )
                ).first()
            if run is None:
                self.jobs.start_run(
                    row.name,
                    dict(row.arguments),
                    timeout_minutes=row.timeout_minutes,
                    run_id=row.run_id,
                )
                self.jobs.launch(row.run_id)
            elif run.pid is None:
                # Recorded by a scheduler that died around the launch: a supervisor it did
                # start records its pid within moments, so only a run that stays without one
                # is launched again.
                if time.time() - parse_stamp(run.started_at).timestamp() < _LAUNCH_GRACE:
                    return False
                self.jobs.launch(row.run_id)
            return True
        with self.store.read() as conn:
            crawl = conn.execute(
                sa.select(s.crawl_runs.c.id).where(s.crawl_runs.c.id == row.run_id)
            ).first()
        if crawl is None:
            self.crawlers.start_run(row.name, run_id=row.run_id)
            self.crawlers.launch(row.run_id)
        return True

    def relaunch_orphans(self, older_than: float = _LAUNCH_GRACE) -> int:
        """Launch job runs that a firing created but whose supervisor never started (the
        scheduler died between recording the run and launching it)."""
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.job_runs.c.id, s.job_runs.c.started_at)
                .join(s.trigger_actions, s.trigger_actions.c.run_id == s.job_runs.c.id)
                .where(
                    s.job_runs.c.state == "STARTING",
                    s.job_runs.c.pid.is_(None),
                    s.trigger_actions.c.state == "STARTED",
                )
            ).all()
        cutoff = time.time() - older_than
        late = [r.id for r in rows if parse_stamp(r.started_at).timestamp() < cutoff]
        for run_id in late:
            self.jobs.launch(run_id)
        return len(late)

    def _set_action(self, action_id: int, state: str, error: str | None, *, expect: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.trigger_actions.update()
                .where(s.trigger_actions.c.id == action_id, s.trigger_actions.c.state == expect)
                .values(state=state, error_message=error)
            )

    # ---- what became of actions --------------------------------------------------------------

    def action_states(self, workflow_run_id: str) -> list[ActionState]:
        """The actions of a workflow run (inherited ones too), oldest first."""
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.trigger_actions)
                .where(s.trigger_actions.c.workflow_run_id == workflow_run_id)
                .order_by(s.trigger_actions.c.id)
            ).all()
        return self._resolve(rows)

    def _resolve(self, rows: Sequence[Any]) -> list[ActionState]:
        job_ids = [r.run_id for r in rows if r.kind == "JOB" and r.state == "STARTED"]
        crawl_ids = [r.run_id for r in rows if r.kind == "CRAWLER" and r.state == "STARTED"]
        jobs = self.job_run_states(job_ids)
        crawls: dict[str, tuple[str, str | None]] = {}
        if crawl_ids:
            with self.store.read() as conn:
                for c in conn.execute(
                    sa.select(
                        s.crawl_runs.c.id, s.crawl_runs.c.state, s.crawl_runs.c.error_message
                    ).where(s.crawl_runs.c.id.in_(crawl_ids))
                ):
                    crawls[c.id] = (c.state, c.error_message)
        out = []
        for r in rows:
            if r.state == "STARTED":
                # A started action's run was recorded before it was marked started: a run
                # that is gone was deleted with its job or crawler.
                state, error = (jobs if r.kind == "JOB" else crawls).get(
                    r.run_id, ("ERROR", "its run record no longer exists")
                )
            elif r.state == "LAUNCHING":
                state, error = "PLANNED", None
            elif r.state == "REFUSED":
                state, error = "FAILED", r.error_message
            else:
                state, error = r.state, r.error_message
            out.append(ActionState(r.kind, r.name, r.run_id, state, error, bool(r.inherited)))
        return out

    def job_run_states(self, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """The state of each job run after its retries: the last attempt's, and RUNNING while a
        failed attempt's supervisor lives on to start the next one."""
        if not run_ids:
            return {}
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.job_runs).where(
                    sa.or_(s.job_runs.c.id.in_(run_ids), s.job_runs.c.first_run_id.in_(run_ids))
                )
            ).all()
        last: dict[str, Any] = {}
        for r in rows:
            first = r.first_run_id or r.id
            if first not in last or r.attempt > last[first].attempt:
                last[first] = r
        retries: dict[str, int] = {}
        out: dict[str, tuple[str, str | None]] = {}
        for first, r in last.items():
            state = r.state
            if state == "FAILED" and r.pid and r.host == socket.gethostname():
                if r.job_name not in retries:
                    try:
                        retries[r.job_name] = self.jobs.get_job(r.job_name).MaxRetries
                    except SparkGlueError:
                        retries[r.job_name] = 0
                if r.attempt < retries[r.job_name] and process_alive(r.pid):
                    state = "RUNNING"
            out[first] = (state, r.error_message)
        return out

    def last_attempt(self, run_id: str) -> str:
        """The id of the latest attempt of a job run (itself when it was never retried)."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.job_runs.c.id)
                .where(sa.or_(s.job_runs.c.id == run_id, s.job_runs.c.first_run_id == run_id))
                .order_by(s.job_runs.c.attempt.desc())
                .limit(1)
            ).first()
        return run_id if row is None else str(row.id)

    @staticmethod
    def is_final(state: str) -> bool:
        return state in _JOB_FINAL or state in _CRAWL_FINAL or state == "NOT_STARTED"

    # ---- conditions --------------------------------------------------------------------------

    @staticmethod
    def satisfied(predicate: PredicateSpec, latest: dict[tuple[str, str], str]) -> bool:
        """Whether the latest state of each watched job/crawler meets the predicate."""
        met = [
            condition_met(c.wanted, latest.get((c.kind, c.target), ""))
            for c in predicate.Conditions
        ]
        return all(met) if predicate.Logical == "AND" else any(met)

    def latest_anywhere(
        self, predicate: PredicateSpec, since: str
    ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
        """For a trigger outside workflows: the latest final run of each watched job/crawler
        that ended after ``since``: (states, run ids)."""
        states: dict[tuple[str, str], str] = {}
        ids: dict[tuple[str, str], str] = {}
        with self.store.read() as conn:
            for c in predicate.Conditions:
                table = s.job_runs if c.kind == "JOB" else s.crawl_runs
                name_col = table.c.job_name if c.kind == "JOB" else table.c.crawler_name
                first = table.c.first_run_id if c.kind == "JOB" else sa.null()
                row = conn.execute(
                    sa.select(
                        table.c.id,
                        table.c.state,
                        table.c.finished_at,
                        first.label("first_run_id"),
                    )
                    .where(name_col == c.target)
                    .order_by(table.c.started_at.desc(), table.c.id.desc())
                    .limit(1)
                ).first()
                if row is None or row.finished_at is None or row.finished_at < since:
                    continue
                run_id = row.id
                if c.kind == "JOB":
                    # A retry attempt belongs to its first run: that is the logical run.
                    run_id = row.first_run_id or row.id
                    state = self.job_run_states([run_id]).get(run_id, (row.state, None))[0]
                    if state == "RUNNING":
                        continue
                else:
                    state = row.state
                states[(c.kind, c.target)] = state
                ids[(c.kind, c.target)] = run_id
        return states, ids
