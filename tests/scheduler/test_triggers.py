"""Triggers outside workflows: predicates, conditional firings on real job runs, spec checks,
schedules and event batches (pythonshell scripts: real processes, no JVM)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa

from sparkglue.catalog import load_spec
from sparkglue.errors import InvalidInput
from sparkglue.scheduler import Scheduler, TriggerSpec, WorkflowSpec
from sparkglue.scheduler.cron import parse_cron
from sparkglue.scheduler.engine import TriggerEngine
from sparkglue.scheduler.specs import PredicateSpec
from sparkglue.store import schema as s
from sparkglue.workspace import Workspace
from tests.jobs.test_runner import _shell_job

QUICK = "print('done', flush=True)\n"
FAIL_ON_ASK = "import sys\nif '--fail' in sys.argv:\n    raise SystemExit('ValueError: asked to')\n"
SLOW = "import time\ntime.sleep(30)\n"
MANY = {"ExecutionProperty": {"MaxConcurrentRuns": 5}}


# ---- helpers shared with the workflow tests ----------------------------------------------------


def tick_until(scheduler: Scheduler, done: Callable[[], bool], limit: float = 30.0) -> None:
    """Run scheduler passes in this process until ``done()`` holds."""
    deadline = time.monotonic() + limit
    while True:
        assert scheduler.acquire()
        scheduler.tick()
        if done():
            return
        assert time.monotonic() < deadline, "the scheduler did not get there in time"
        time.sleep(0.05)


def tick_for(scheduler: Scheduler, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    tick_until(scheduler, lambda: time.monotonic() >= deadline, limit=seconds + 5)


def trigger(ws: Workspace, **values: Any) -> None:
    ws.scheduler.create_trigger(TriggerSpec.model_validate(values))


def firings(ws: Workspace, name: str) -> list[Any]:
    with ws.store.read() as conn:
        return list(
            conn.execute(
                sa.select(s.trigger_firings)
                .where(s.trigger_firings.c.trigger_name == name)
                .order_by(s.trigger_firings.c.fired_at, s.trigger_firings.c.id)
            ).all()
        )


def wait_all(ws: Workspace, job: str) -> list[str]:
    """The final states of every run of ``job``, oldest first."""
    return [ws.jobs.wait(r.id, poll=0.1).state for r in reversed(ws.jobs.list_runs(job))]


def one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


@pytest.fixture
def scheduler(workspace: Workspace) -> Iterator[Scheduler]:
    sch = Scheduler(workspace.scheduler, poll=0.05)
    yield sch
    if sch.held:
        sch.lease.release()


# ---- predicates --------------------------------------------------------------------------------


def job(name: str, state: str) -> dict[str, str]:
    return {"JobName": name, "State": state}


def crawl(name: str, state: str) -> dict[str, str]:
    return {"CrawlerName": name, "CrawlState": state}


A, B, R = ("JOB", "a"), ("JOB", "b"), ("CRAWLER", "r")


@pytest.mark.parametrize(
    ("logical", "conditions", "latest", "expected"),
    [
        ("AND", [job("a", "SUCCEEDED")], {A: "SUCCEEDED"}, True),
        ("AND", [job("a", "SUCCEEDED")], {A: "FAILED"}, False),
        ("AND", [job("a", "SUCCEEDED")], {}, False),
        ("AND", [job("a", "SUCCEEDED")], {A: "RUNNING"}, False),
        ("AND", [job("a", "SUCCEEDED"), job("b", "SUCCEEDED")], {A: "SUCCEEDED"}, False),
        ("AND", [job("a", "SUCCEEDED"), job("b", "FAILED")], {A: "SUCCEEDED", B: "FAILED"}, True),
        ("ANY", [job("a", "SUCCEEDED"), job("b", "SUCCEEDED")], {B: "SUCCEEDED"}, True),
        ("ANY", [job("a", "FAILED"), job("b", "TIMEOUT")], {A: "SUCCEEDED", B: "STOPPED"}, False),
        ("ANY", [job("a", "FAILED"), job("b", "TIMEOUT")], {B: "TIMEOUT"}, True),
        ("ANY", [job("a", "FAILED"), job("b", "TIMEOUT")], {}, False),
        ("AND", [job("a", "FAILED")], {A: "ERROR"}, True),
        ("AND", [job("a", "FAILED")], {A: "STOPPED"}, False),
        ("AND", [job("a", "FAILED")], {A: "TIMEOUT"}, False),
        ("AND", [job("a", "STOPPED")], {A: "STOPPED"}, True),
        ("AND", [job("a", "STOPPED")], {A: "FAILED"}, False),
        ("AND", [job("a", "STOPPED")], {A: "NOT_STARTED"}, False),
        ("AND", [job("a", "TIMEOUT")], {A: "TIMEOUT"}, True),
        ("AND", [job("a", "SUCCEEDED")], {A: "ERROR"}, False),
        ("AND", [crawl("r", "SUCCEEDED")], {R: "SUCCEEDED"}, True),
        ("AND", [crawl("r", "FAILED")], {R: "FAILED"}, True),
        ("AND", [crawl("r", "FAILED")], {R: "CANCELLED"}, False),
        ("AND", [crawl("r", "CANCELLED")], {R: "CANCELLED"}, True),
        # A job and a crawler of the same name are different nodes.
        ("AND", [crawl("a", "SUCCEEDED")], {A: "SUCCEEDED"}, False),
        ("AND", [job("a", "SUCCEEDED"), crawl("r", "SUCCEEDED")], {A: "SUCCEEDED"}, False),
        ("ANY", [job("a", "SUCCEEDED"), crawl("r", "SUCCEEDED")], {R: "SUCCEEDED"}, True),
    ],
)
def test_predicates(
    logical: str,
    conditions: list[dict[str, str]],
    latest: dict[tuple[str, str], str],
    expected: bool,
) -> None:
    predicate = PredicateSpec.model_validate({"Logical": logical, "Conditions": conditions})
    assert TriggerEngine.satisfied(predicate, latest) is expected


# ---- conditional triggers on real runs ---------------------------------------------------------


def test_an_any_trigger_fires_once_per_matching_run(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "x", FAIL_ON_ASK)
    _shell_job(workspace, "y", SLOW)
    _shell_job(workspace, "down", QUICK, **MANY)
    trigger(
        workspace,
        Name="on_trouble",
        Type="CONDITIONAL",
        StartOnCreation=True,
        Predicate={"Logical": "ANY", "Conditions": [job("x", "FAILED"), job("y", "TIMEOUT")]},
        Actions=[{"JobName": "down"}],
    )

    def downs() -> int:
        return len(workspace.jobs.list_runs("down"))

    failed = workspace.jobs.start_run("x", {"--fail": "yes"})
    assert workspace.jobs.supervise(failed).state == "FAILED"
    tick_until(scheduler, lambda: downs() == 1)

    timed_out = workspace.jobs.start_run("y", timeout_minutes=0.02)
    assert workspace.jobs.supervise(timed_out).state == "TIMEOUT"
    tick_until(scheduler, lambda: downs() == 2)

    ok = workspace.jobs.start_run("x")
    assert workspace.jobs.supervise(ok).state == "SUCCEEDED"
    tick_for(scheduler, 0.5)
    # A second scheduler (no memory of what the first fired) must not fire them again either.
    scheduler.lease.release()
    fresh = Scheduler(workspace.scheduler, poll=0.05)
    try:
        tick_for(fresh, 0.5)
    finally:
        fresh.lease.release()

    assert downs() == 2
    assert [f.tick_key for f in firings(workspace, "on_trouble")] == [
        f"run:{failed}",
        f"run:{timed_out}",
    ]
    assert wait_all(workspace, "down") == ["SUCCEEDED", "SUCCEEDED"]


def test_an_and_trigger_fires_once_both_succeeded(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "x", QUICK)
    _shell_job(workspace, "y", QUICK)
    _shell_job(workspace, "down", QUICK, **MANY)
    trigger(
        workspace,
        Name="both",
        Type="CONDITIONAL",
        StartOnCreation=True,
        Predicate={"Logical": "AND", "Conditions": [job("x", "SUCCEEDED"), job("y", "SUCCEEDED")]},
        Actions=[{"JobName": "down", "Arguments": {"--source": "both"}}],
    )
    x = workspace.jobs.start_run("x")
    assert workspace.jobs.supervise(x).state == "SUCCEEDED"
    tick_for(scheduler, 0.5)
    assert workspace.jobs.list_runs("down") == []

    y = workspace.jobs.start_run("y")
    assert workspace.jobs.supervise(y).state == "SUCCEEDED"
    tick_until(scheduler, lambda: len(workspace.jobs.list_runs("down")) == 1)
    tick_for(scheduler, 0.5)

    (started,) = workspace.jobs.list_runs("down")
    assert started.arguments["--source"] == "both"
    assert [f.tick_key for f in firings(workspace, "both")] == [f"and:{','.join(sorted([x, y]))}"]
    assert wait_all(workspace, "down") == ["SUCCEEDED"]


def test_a_trigger_that_is_not_activated_does_not_fire(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "x", QUICK)
    _shell_job(workspace, "down", QUICK)
    trigger(
        workspace,
        Name="idle",
        Type="CONDITIONAL",
        Predicate={"Conditions": [job("x", "SUCCEEDED")]},
        Actions=[{"JobName": "down"}],
    )
    assert workspace.scheduler.get_trigger("idle").state == "CREATED"
    assert workspace.jobs.supervise(workspace.jobs.start_run("x")).state == "SUCCEEDED"
    tick_for(scheduler, 0.4)
    assert workspace.jobs.list_runs("down") == []
    # Runs that ended before activation do not count either.
    workspace.scheduler.activate("idle")
    tick_for(scheduler, 0.4)
    assert workspace.jobs.list_runs("down") == [] and firings(workspace, "idle") == []


# ---- spec and definition checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"Type": "SCHEDULED"}, "a SCHEDULED trigger needs Schedule"),
        (
            {"Type": "ON_DEMAND", "Predicate": {"Conditions": [job("a", "FAILED")]}},
            "Predicate belongs to CONDITIONAL triggers, not ON_DEMAND",
        ),
        (
            {"Type": "SCHEDULED", "Schedule": "cron(61 * * * ? *)"},
            "minutes value 61 is out of range",
        ),
        (
            {"Type": "SCHEDULED", "Schedule": "cron(0 10 * * MON *)"},
            "day-of-month and day-of-week cannot both be set",
        ),
        (
            {"Type": "SCHEDULED", "Schedule": "rate(3 weeks)"},
            "unit 'weeks' is not one of seconds, minutes, hours, days",
        ),
        (
            {"Type": "ON_DEMAND", "Actions": [{"JobName": "a", "CrawlerName": "r"}]},
            "an action starts either a job (JobName) or a crawler (CrawlerName)",
        ),
        (
            {"Type": "ON_DEMAND", "Actions": [{"CrawlerName": "r", "Timeout": 5}]},
            "Arguments and Timeout apply to job actions only",
        ),
        (
            {"Type": "CONDITIONAL", "Predicate": {"Conditions": [{"JobName": "a"}]}},
            "a job condition needs both JobName and State",
        ),
        (
            {"Type": "SCHEDULED", "Schedule": "rate(1 hour)", "EventBatchingCondition": {}},
            "EventBatchingCondition belongs to EVENT triggers, not SCHEDULED",
        ),
        (
            {"Type": "ON_DEMAND", "StartOnCreation": True},
            "an ON_DEMAND trigger cannot StartOnCreation",
        ),
        ({"Type": "ON_DEMAND", "Schedul": "x"}, "unknown key 'Schedul'"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: dict[str, Any], message: str) -> None:
    body = {"Name": "t", "Actions": [{"JobName": "a"}], **spec}
    with pytest.raises(InvalidInput) as exc:
        load_spec(TriggerSpec, json.dumps(body), "t.json")
    assert one_line(exc).startswith("t.json: ") and message in str(exc.value)


def test_definitions_are_checked_against_the_workspace(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    _shell_job(workspace, "b", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    trigger(workspace, Name="start", Type="ON_DEMAND", WorkflowName="w", Actions=[{"JobName": "a"}])
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"Type": "ON_DEMAND", "Actions": [{"JobName": "ghost"}]},
            "trigger 't' names job 'ghost', which does not exist",
        ),
        (
            {
                "Type": "CONDITIONAL",
                "Predicate": {"Conditions": [crawl("nope", "SUCCEEDED")]},
                "Actions": [{"JobName": "a"}],
            },
            "names crawler 'nope', which does not exist",
        ),
        (
            {
                "Type": "CONDITIONAL",
                "WorkflowName": "w",
                "Predicate": {"Conditions": [job("b", "SUCCEEDED")]},
                "Actions": [{"JobName": "a"}],
            },
            "trigger 't' watches job 'b', which no trigger of workflow 'w' starts",
        ),
        (
            {
                "Type": "SCHEDULED",
                "WorkflowName": "w",
                "Schedule": "rate(1 hour)",
                "Actions": [{"JobName": "b"}],
            },
            "workflow 'w' already starts with trigger 'start'",
        ),
        (
            {"Type": "EVENT", "EventPath": "../outside", "Actions": [{"JobName": "a"}]},
            "EventPath ../outside is outside the lake",
        ),
        (
            {"Type": "EVENT", "EventPath": "/tmp", "Actions": [{"JobName": "a"}]},
            "EventPath /tmp is outside the lake",
        ),
    ]
    for spec, message in cases:
        with pytest.raises(InvalidInput) as exc:
            trigger(workspace, Name="t", **spec)
        assert message in one_line(exc), spec
    assert [t.name for t in service.list_triggers()] == ["start"]

    with pytest.raises(InvalidInput) as exc:
        service.activate("start")
    assert "trigger 'start' is ON_DEMAND: it is never activated" in one_line(exc)
    with pytest.raises(InvalidInput, match="nothing to deactivate"):
        service.deactivate("start")


def test_states_after_creation_and_activation(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    service = workspace.scheduler
    trigger(
        workspace,
        Name="now",
        Type="SCHEDULED",
        Schedule="rate(1 hour)",
        StartOnCreation=True,
        Actions=[{"JobName": "a"}],
    )
    trigger(
        workspace,
        Name="later",
        Type="SCHEDULED",
        Schedule="rate(1 hour)",
        Actions=[{"JobName": "a"}],
    )
    trigger(workspace, Name="manual", Type="ON_DEMAND", Actions=[{"JobName": "a"}])
    states = {t.name: (t.state, t.activated_at is not None) for t in service.list_triggers()}
    assert states == {
        "now": ("ACTIVATED", True),
        "later": ("CREATED", False),
        "manual": ("CREATED", False),
    }
    assert service.activate("later").state == "ACTIVATED"
    assert service.deactivate("later").state == "DEACTIVATED"
    assert service.start_trigger("later") == (None, None)  # StartTrigger activates it
    assert service.get_trigger("later").state == "ACTIVATED"
    service.delete_trigger("later")
    assert [t.name for t in service.list_triggers()] == ["now", "manual"]


# ---- schedules ---------------------------------------------------------------------------------


def test_next_fire_times_follow_the_cron(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    text = "cron(15 */3 ? * MON-FRI *)"
    trigger(workspace, Name="c", Type="SCHEDULED", Schedule=text, Actions=[{"JobName": "a"}])
    before = datetime.now(UTC)
    times = workspace.scheduler.next_fire_times("c")
    assert len(times) == 5
    assert all(a < b for a, b in pairwise(times))
    assert before < times[0]
    for t in times:
        assert (t.minute, t.second, t.hour % 3, t.weekday() < 5) == (15, 0, 0, True), t
    # The first one is the cron's own next time: nothing valid is skipped.
    assert times[0] == parse_cron(text).next_after(before)
    assert workspace.scheduler.next_fire_times("c", 2) == times[:2]


def test_a_rate_fires_at_even_epoch_seconds(workspace: Workspace, scheduler: Scheduler) -> None:
    _shell_job(workspace, "tick", QUICK, **MANY)
    trigger(
        workspace,
        Name="every2",
        Type="SCHEDULED",
        Schedule="rate(2 seconds)",
        StartOnCreation=True,
        Actions=[{"JobName": "tick"}],
    )
    before = time.time()
    stamps = [t.timestamp() for t in workspace.scheduler.next_fire_times("every2")]
    assert all(x == int(x) and int(x) % 2 == 0 for x in stamps), stamps
    assert [b - a for a, b in pairwise(stamps)] == [2.0] * 4
    assert before < stamps[0] <= before + 2

    tick_until(scheduler, lambda: len(firings(workspace, "every2")) == 2, limit=10)
    workspace.scheduler.deactivate("every2")
    tick_for(scheduler, 0.2)
    ticks = [
        datetime.fromisoformat(f.detail["tick"].replace("Z", "+00:00")).timestamp()
        for f in firings(workspace, "every2")
    ]
    assert ticks[1] - ticks[0] == 2 and ticks[0] % 2 == 0 and ticks[0] == int(ticks[0])
    assert wait_all(workspace, "tick") == ["SUCCEEDED", "SUCCEEDED"]


# ---- event triggers ----------------------------------------------------------------------------


def test_an_event_trigger_fires_for_a_full_batch(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "load", QUICK)
    folder = workspace.settings.lake_root / "raw" / "incoming"
    folder.mkdir(parents=True)
    trigger(
        workspace,
        Name="arrivals",
        Type="EVENT",
        EventPath="raw/incoming",
        EventBatchingCondition={"BatchSize": 2},
        StartOnCreation=True,
        Actions=[{"JobName": "load"}],
    )
    (folder / "a.csv").write_text("id\n1\n")
    (folder / "_SUCCESS").write_text("")
    (folder / ".hidden").write_text("x")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part.csv").write_text("id\n9\n")
    tick_for(scheduler, 1.2)  # new files are collected once a second
    assert firings(workspace, "arrivals") == []

    (folder / "sub").mkdir()
    (folder / "sub" / "b.csv").write_text("id\n2\n")
    tick_until(scheduler, lambda: len(firings(workspace, "arrivals")) == 1, limit=10)
    tick_for(scheduler, 1.2)
    (fired,) = firings(workspace, "arrivals")
    assert fired.detail["files"] == [str(folder / "a.csv"), str(folder / "sub" / "b.csv")]
    assert wait_all(workspace, "load") == ["SUCCEEDED"]


def test_an_event_batch_window_fires_a_short_batch(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "load", QUICK)
    folder = workspace.settings.lake_root / "raw" / "window"
    folder.mkdir(parents=True)
    trigger(
        workspace,
        Name="windowed",
        Type="EVENT",
        EventPath=str(folder),
        EventBatchingCondition={"BatchSize": 5, "BatchWindow": 1},
        StartOnCreation=True,
        Actions=[{"JobName": "load"}],
    )
    (folder / "only.json").write_text("{}")
    tick_until(scheduler, lambda: len(firings(workspace, "windowed")) == 1, limit=10)
    (fired,) = firings(workspace, "windowed")
    assert fired.detail["files"] == [str(folder / "only.json")]
    with workspace.store.read() as conn:
        seen_at = conn.execute(
            sa.select(s.trigger_event_files.c.seen_at).where(
                s.trigger_event_files.c.trigger_name == "windowed"
            )
        ).scalar_one()
    waited = datetime.fromisoformat(fired.fired_at.replace("Z", "+00:00")) - datetime.fromisoformat(
        seen_at.replace("Z", "+00:00")
    )
    assert waited.total_seconds() >= 1
    assert wait_all(workspace, "load") == ["SUCCEEDED"]


def test_files_written_right_after_activation_are_seen(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "load", QUICK, **MANY)
    folder = workspace.settings.lake_root / "raw" / "burst"
    folder.mkdir(parents=True)
    trigger(
        workspace,
        Name="burst",
        Type="EVENT",
        EventPath="raw/burst",
        EventBatchingCondition={"BatchSize": 100},
        StartOnCreation=True,
        Actions=[{"JobName": "load"}],
    )
    for i in range(100):  # at once, no pause: file times are a kernel tick coarse
        (folder / f"part-{i:03}.json").write_text("{}")
    tick_until(scheduler, lambda: len(firings(workspace, "burst")) == 1, limit=10)
    assert len(firings(workspace, "burst")[0].detail["files"]) == 100
    assert wait_all(workspace, "load") == ["SUCCEEDED"]


def test_an_event_trigger_made_again_fires_for_new_files(
    workspace: Workspace, scheduler: Scheduler
) -> None:
    _shell_job(workspace, "load", QUICK, **MANY)
    folder = workspace.settings.lake_root / "raw" / "again"
    folder.mkdir(parents=True)
    spec = {
        "Name": "again",
        "Type": "EVENT",
        "EventPath": "raw/again",
        "StartOnCreation": True,
        "Actions": [{"JobName": "load"}],
    }
    trigger(workspace, **spec)
    (folder / "first.json").write_text("{}")
    tick_until(scheduler, lambda: len(firings(workspace, "again")) == 1, limit=10)
    workspace.scheduler.delete_trigger("again")
    trigger(workspace, **spec)
    (folder / "second.json").write_text("{}")
    tick_until(scheduler, lambda: len(firings(workspace, "again")) == 1, limit=10)
    assert firings(workspace, "again")[0].detail["files"] == [str(folder / "second.json")]
    assert wait_all(workspace, "load") == ["SUCCEEDED", "SUCCEEDED"]
