"""The scheduler daemon: one loop that fires triggers and follows workflow runs.

Each pass (every ``poll`` seconds) it: ends runs whose process died, reloads triggers when they
changed, fires SCHEDULED triggers whose next tick is due, collects new files for EVENT
triggers, fires CONDITIONAL triggers whose predicate holds, starts planned actions, and ends
workflow runs with nothing left to do. Only the holder of the store's lease does any of this;
a second daemon waits for the lease.

Missed ticks (the daemon was down) fire once on start: the first missed tick fires and the
trigger's cursor moves to now, so the ticks in between are skipped, not replayed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkglue.console import Console, NullConsole
from sparkglue.errors import SparkGlueError
from sparkglue.scheduler.engine import ActionState, Lease, LeaseLost, condition_met
from sparkglue.scheduler.schedule import Schedule, parse_schedule
from sparkglue.scheduler.service import (
    RUN_FINAL_STATES,
    SchedulerService,
    TriggerRecord,
    WorkflowRun,
)
from sparkglue.store import parse_stamp, stamp, utc_now
from sparkglue.store import schema as s

__all__ = ["Scheduler", "wait_for_workflow_run"]

_RECOVER_EVERY = 2.0
_EVENTS_EVERY = 1.0
_MTIME_SLACK = 0.1
_FIRED_MEMORY = 10_000


class Scheduler:
    """Runs the triggers of one metadata store.

    Args:
        service: the workspace's scheduler service.
        console: where firings and waits are reported.
        poll: seconds between passes.
        lease_ttl: seconds a holder keeps the lease without renewing it.
    """

    def __init__(
        self,
        service: SchedulerService,
        console: Console | None = None,
        *,
        poll: float = 0.25,
        lease_ttl: float = 10.0,
    ) -> None:
        self.service = service
        self.engine = service.engine
        self.store = service.store
        self.console: Console = console or NullConsole()
        self.poll = poll
        self.lease = Lease(service.store, ttl=lease_ttl)
        self._signature: tuple[Any, ...] | None = None
        self._triggers: dict[str, TriggerRecord] = {}
        self._schedules: dict[str, Schedule] = {}
        self._due: dict[str, datetime] = {}
        self._known_files: dict[str, set[str]] = {}
        self._fired: set[tuple[str, str]] = set()
        self._last_recover = 0.0
        self._last_events = 0.0
        self._renewed = 0.0
        self.held = False

    # ---- the loop ----------------------------------------------------------------------------

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Run passes until ``stop`` is set or ``until()`` is true; the lease is released."""
        stop = stop or threading.Event()
        waiting_said = False
        try:
            while not stop.is_set():
                if until is not None and until():
                    break
                if not self.acquire():
                    if not waiting_said:
                        holder = self.lease.current() or {}
                        self.console.step(
                            f"Another scheduler holds the lease ({holder.get('holder', '?')}); "
                            "waiting for it"
                        )
                        waiting_said = True
                    stop.wait(1.0)
                    continue
                if waiting_said:
                    self.console.step("Took over the scheduler lease")
                    waiting_said = False
                try:
                    self.tick()
                except LeaseLost:
                    self.held = False
                    self.console.warning("Lost the scheduler lease; waiting to take it again")
                    continue
                except (SparkGlueError, sa.exc.SQLAlchemyError, OSError) as exc:
                    # A store that is briefly unreachable or locked, or a process that cannot
                    # be started, must not end the daemon: say so and try again shortly.
                    text = getattr(exc, "message", None) or str(exc).strip().splitlines()[0]
                    self.console.warning(f"Scheduler pass failed ({text}); retrying in 1 s")
                    self._forget()
                    stop.wait(1.0)
                    continue
                stop.wait(self.poll)
        finally:
            if self.held:
                self.lease.release()
                self.held = False

    def acquire(self) -> bool:
        """Take or renew the lease when due; whether this process holds it."""
        now = time.monotonic()
        if self.held and now - self._renewed < self.lease.ttl / 5:
            return True
        was_held = self.held
        self.held = self.lease.try_acquire()
        if self.held:
            if not self._renewed:
                self.console.step(f"Scheduler {self.lease.holder} holds the lease")
            if not was_held:
                self._forget()  # another process may have acted meanwhile
            self._renewed = now
        return self.held

    def _forget(self) -> None:
        """Drop what this process remembers of the store; the next pass reads it afresh."""
        self._signature = None
        self._known_files = {}
        self._fired = set()

    def tick(self, now: datetime | None = None) -> None:
        """One pass over everything the scheduler watches."""
        now = now or datetime.now(UTC)
        clock = time.monotonic()
        if clock - self._last_recover >= _RECOVER_EVERY:
            self._last_recover = clock
            self.service.jobs.recover()
            self.service.crawlers.recover()
            self.engine.relaunch_orphans()
        self._reload()
        self._fire_schedules(now)
        if clock - self._last_events >= _EVENTS_EVERY:
            self._last_events = clock
            self._collect_events(now)
        self.engine.start_planned(self.lease)
        self._fire_conditionals()
        self.engine.start_planned(self.lease)
        self._finish_runs()

    # ---- triggers ----------------------------------------------------------------------------

    def _reload(self) -> None:
        with self.store.read() as conn:
            signature = tuple(
                conn.execute(sa.select(sa.func.count(), sa.func.max(s.triggers.c.updated_at))).one()
            )
        if signature == self._signature:
            return
        self._signature = signature
        self._triggers = {t.name: t for t in self.service.list_triggers()}
        self._schedules, self._due = {}, {}
        for t in self._triggers.values():
            if t.type != "SCHEDULED" or t.state != "ACTIVATED" or t.spec.Schedule is None:
                continue
            schedule = parse_schedule(t.spec.Schedule)
            cursor = parse_stamp(t.schedule_cursor or t.activated_at or utc_now())
            due = schedule.next_after(cursor)
            if due is not None:
                self._schedules[t.name] = schedule
                self._due[t.name] = due
        self._known_files = {
            name: files for name, files in self._known_files.items() if name in self._triggers
        }

    def _fire_schedules(self, now: datetime) -> None:
        for name, due in list(self._due.items()):
            if due > now:
                continue
            trigger = self._triggers[name]
            cursor = max(due, now)
            fired = self.engine.fire(
                trigger.spec,
                f"tick:{stamp(due)}",
                lease=self.lease,
                cursor=stamp(cursor),
                detail={"tick": stamp(due)},
            )
            late = (now - due).total_seconds()
            if fired:
                note = f" ({late:.0f} s late: missed ticks fire once)" if late > 60 else ""
                self.console.step(f"Fired {name} for its tick {stamp(due)}{note}")
            nxt = self._schedules[name].next_after(cursor)
            if nxt is None:
                del self._due[name]
            else:
                self._due[name] = nxt

    def _collect_events(self, now: datetime) -> None:
        for trigger in self._triggers.values():
            if trigger.type != "EVENT" or trigger.state != "ACTIVATED":
                continue
            try:
                folder = self.service.event_folder(trigger.spec)
            except SparkGlueError:
                continue
            since = parse_stamp(trigger.activated_at or utc_now()).timestamp()
            known = self._known_files.get(trigger.name)
            if known is None:
                with self.store.read() as conn:
                    known = {
                        r.path
                        for r in conn.execute(
                            sa.select(s.trigger_event_files.c.path).where(
                                s.trigger_event_files.c.trigger_name == trigger.name
                            )
                        )
                    }
                self._known_files[trigger.name] = known
            new = [p for p in _new_files(str(folder), since) if p not in known]
            if new:
                with self.store.write() as conn:
                    recorded = {
                        r.path
                        for r in conn.execute(
                            sa.select(s.trigger_event_files.c.path).where(
                                s.trigger_event_files.c.trigger_name == trigger.name,
                                s.trigger_event_files.c.path.in_(new),
                            )
                        )
                    }
                    rows = [
                        {"trigger_name": trigger.name, "path": p, "seen_at": utc_now()}
                        for p in new
                        if p not in recorded
                    ]
                    if rows:
                        conn.execute(s.trigger_event_files.insert(), rows)
                known.update(new)
            with self.store.read() as conn:
                waiting = conn.execute(
                    sa.select(s.trigger_event_files)
                    .where(
                        s.trigger_event_files.c.trigger_name == trigger.name,
                        s.trigger_event_files.c.firing_id.is_(None),
                    )
                    .order_by(s.trigger_event_files.c.id)
                ).all()
            if not waiting:
                continue
            batching = trigger.spec.batching
            age = (now - parse_stamp(waiting[0].seen_at)).total_seconds()
            if len(waiting) < batching.BatchSize and age < batching.BatchWindow:
                continue
            batch = waiting[: batching.BatchSize]
            fired = self.engine.fire(
                trigger.spec,
                f"files:{batch[0].id}",
                lease=self.lease,
                event_file_ids=[r.id for r in batch],
                detail={"files": [r.path for r in batch]},
            )
            if fired:
                self.console.step(f"Fired {trigger.name} for {len(batch)} new file(s)")

    def _fire_conditionals(self) -> None:
        conditionals = [
            t
            for t in self._triggers.values()
            if t.type == "CONDITIONAL" and t.spec.Predicate is not None
        ]
        if not conditionals:
            return
        for run_id, workflow in self._running_runs():
            candidates = [
                t for t in conditionals if t.workflow == workflow and t.state != "DEACTIVATED"
            ]
            if not candidates:
                continue
            for t in self._ready_in_run(run_id, candidates):
                if self.engine.fire(
                    t.spec, f"wr:{run_id}", lease=self.lease, workflow_run_id=run_id
                ):
                    self.console.step(f"Fired {t.name} in workflow run {run_id}")
        for t in conditionals:
            if t.workflow is not None or t.state != "ACTIVATED" or t.spec.Predicate is None:
                continue
            states, ids = self.engine.latest_anywhere(t.spec.Predicate, t.activated_at or "")
            predicate = t.spec.Predicate
            keys: list[str] = []
            if predicate.Logical == "ANY":
                keys = [
                    f"run:{ids[(c.kind, c.target)]}"
                    for c in predicate.Conditions
                    if (c.kind, c.target) in ids
                    and condition_met(c.wanted, states[(c.kind, c.target)])
                ]
            elif self.engine.satisfied(predicate, states):
                keys = ["and:" + ",".join(sorted(ids.values()))]
            for key in keys:
                if (t.name, key) in self._fired:
                    continue
                if self.engine.fire(t.spec, key, lease=self.lease):
                    self.console.step(f"Fired {t.name} ({key})")
                if len(self._fired) > _FIRED_MEMORY:
                    self._fired.clear()  # only saves store look-ups; the store's key decides
                self._fired.add((t.name, key))

    def _running_runs(self) -> list[tuple[str, str]]:
        with self.store.read() as conn:
            return [
                (r.id, r.workflow_name)
                for r in conn.execute(
                    sa.select(s.workflow_runs.c.id, s.workflow_runs.c.workflow_name).where(
                        s.workflow_runs.c.state == "RUNNING"
                    )
                )
            ]

    def _ready_in_run(
        self,
        run_id: str,
        candidates: list[TriggerRecord],
        actions: list[ActionState] | None = None,
    ) -> list[TriggerRecord]:
        """The conditional triggers of a run that have not fired in it and whose predicate
        holds on the latest state of each node (of ``actions``, when already read)."""
        with self.store.read() as conn:
            fired = {
                r.trigger_name
                for r in conn.execute(
                    sa.select(s.trigger_firings.c.trigger_name).where(
                        s.trigger_firings.c.workflow_run_id == run_id
                    )
                )
            }
        pending = [t for t in candidates if t.name not in fired]
        if not pending:
            return []
        if actions is None:
            actions = self.engine.action_states(run_id)
        latest = {(a.kind, a.name): a.state for a in actions}
        return [
            t
            for t in pending
            if t.spec.Predicate is not None and self.engine.satisfied(t.spec.Predicate, latest)
        ]

    # ---- workflow runs -----------------------------------------------------------------------

    def _finish_runs(self) -> None:
        for run_id, workflow in self._running_runs():
            actions = self.engine.action_states(run_id)
            if not all(self.engine.is_final(a.state) for a in actions):
                continue
            candidates = [
                t
                for t in self._triggers.values()
                if t.workflow == workflow and t.type == "CONDITIONAL" and t.state != "DEACTIVATED"
            ]
            if self._ready_in_run(run_id, candidates, actions):
                continue  # fires on the next pass
            self.service.finish_run(run_id, "COMPLETED", actions)
            self.console.step(f"Workflow run {run_id} of {workflow} COMPLETED")
        self.service.settle_stopping()


def _new_files(folder: str, since: float) -> list[str]:
    """Data files under ``folder`` changed at or after ``since`` (hidden and ``_`` names,
    such as Spark's ``_SUCCESS`` and ``_temporary``, are not data)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            path = Path(root) / name
            try:
                # File times lag the wall clock by up to a kernel tick: a file written just
                # after activation may look a little older than it.
                stat = path.stat()
                # ctime too: a file copied in with its old modification time is new here.
                if max(stat.st_mtime, stat.st_ctime) >= since - _MTIME_SLACK:
                    found.append(str(path))
            except OSError:
                continue
    return found


def wait_for_workflow_run(
    service: SchedulerService, run_id: str, console: Console | None = None, poll: float = 0.25
) -> WorkflowRun:
    """Wait for a workflow run to end. When no scheduler is running, schedule here (this
    process takes the lease until the run ends), so an on-demand run needs no daemon."""
    scheduler = Scheduler(service, console, poll=poll)

    def ended() -> bool:
        return service.get_workflow_run(run_id).state in RUN_FINAL_STATES

    if scheduler.lease.current() is None and not ended():
        scheduler.console.step("No scheduler is running; scheduling here until the run ends")
    scheduler.run(until=ended)
    return service.get_workflow_run(run_id)
