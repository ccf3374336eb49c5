"""Workflow runs end to end: chains, joins, run properties, resume, stop, limits, crawler nodes
(pythonshell scripts and crawl workers: real processes, no JVM)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from awsglue.utils import (
    GlueArgumentError,
    get_workflow_run_properties,
    put_workflow_run_properties,
)
from sparkglue.errors import EntityNotFound, InvalidInput
from sparkglue.scheduler import Scheduler, WorkflowRun, WorkflowSpec
from sparkglue.scheduler.daemon import wait_for_workflow_run
from sparkglue.scheduler.render import graph_svg
from sparkglue.store import schema as s
from sparkglue.workspace import Workspace
from tests.crawler.test_crawls import crawler, write
from tests.jobs.test_runner import _shell_job
from tests.scheduler.test_triggers import firings, one_line, tick_for, tick_until, trigger

QUICK = "print('done', flush=True)\n"
FAIL = "raise SystemExit('ValueError: b cannot go on')\n"
SVG = "{http://www.w3.org/2000/svg}"
# A job's arguments come as --KEY VALUE pairs after the script's name.
ARGS = "import sys\nargs = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
GATE = ARGS + (
    "import os\n"
    "if not os.path.exists(args['--flag']):\n"
    "    raise SystemExit('ValueError: not ready')\n"
)


def start(ws: Workspace, workflow: str, *actions: dict[str, Any]) -> None:
    trigger(ws, Name="start", Type="ON_DEMAND", WorkflowName=workflow, Actions=list(actions))


def after(
    ws: Workspace, name: str, workflow: str, watch: list[dict[str, str]], *actions: dict[str, Any]
) -> None:
    trigger(
        ws,
        Name=name,
        Type="CONDITIONAL",
        WorkflowName=workflow,
        Predicate={"Logical": "AND", "Conditions": watch},
        Actions=list(actions),
    )


def job(name: str, state: str) -> dict[str, str]:
    return {"JobName": name, "State": state}


def finish(ws: Workspace, run_id: str, limit: float = 40) -> WorkflowRun:
    """Schedule in this process until the run ends (failing, not hanging, when it does not)."""
    deadline = time.monotonic() + limit
    service = ws.scheduler
    Scheduler(service, poll=0.05).run(
        until=lambda: (
            service.get_workflow_run(run_id).state in ("COMPLETED", "STOPPED", "ERROR")
            or time.monotonic() > deadline
        )
    )
    run = service.get_workflow_run(run_id)
    assert run.state in ("COMPLETED", "STOPPED"), (run, service.actions(run_id))
    return run


def states(ws: Workspace, workflow: str, run_id: str) -> dict[str, str | None]:
    nodes, _ = ws.scheduler.graph(workflow, run_id)
    return {n.id: n.state for n in nodes}


def stats(**counts: int) -> dict[str, int]:
    keys = ("Total", "Succeeded", "Failed", "Timeout", "Stopped", "Running")
    return {f"{k}Actions": counts.get(k, 0) for k in keys}


def test_a_chain_runs_on_success_and_on_failure(workspace: Workspace) -> None:
    for name, body in (("a", QUICK), ("b", FAIL), ("c", QUICK), ("d", QUICK)):
        _shell_job(workspace, name, body)
    workspace.scheduler.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(workspace, "a_ok", "w", [job("a", "SUCCEEDED")], {"JobName": "b"})
    after(workspace, "b_failed", "w", [job("b", "FAILED")], {"JobName": "c"})
    after(workspace, "a_failed", "w", [job("a", "FAILED")], {"JobName": "d"})

    run_id = workspace.scheduler.start_workflow_run("w")
    run = wait_for_workflow_run(workspace.scheduler, run_id, poll=0.05)

    assert run.state == "COMPLETED" and run.finished_at is not None
    assert run.statistics == stats(Total=3, Succeeded=2, Failed=1)
    assert run.started_by == "start" and run.previous_run_id is None
    assert states(workspace, "w", run_id) == {
        "trigger:start": "FIRED",
        "job:a": "SUCCEEDED",
        "trigger:a_ok": "FIRED",
        "job:b": "FAILED",
        "trigger:b_failed": "FIRED",
        "job:c": "SUCCEEDED",
        "trigger:a_failed": None,
        "job:d": None,
    }
    actions = {a.name: a for a in workspace.scheduler.actions(run_id)}
    assert sorted(actions) == ["a", "b", "c"]
    assert actions["b"].error == "ValueError: b cannot go on"
    arguments = workspace.jobs.get_run(actions["c"].run_id).arguments
    assert arguments["--WORKFLOW_NAME"] == "w" and arguments["--WORKFLOW_RUN_ID"] == run_id
    assert workspace.jobs.list_runs("d") == []

    svg = ET.fromstring(graph_svg(*workspace.scheduler.graph("w", run_id), title="w"))
    drawn = {g.get("data-id"): g.get("data-state") for g in svg.iter(f"{SVG}g")}
    assert drawn["job:a"] == "SUCCEEDED" and drawn["job:b"] == "FAILED"
    assert drawn["trigger:b_failed"] == "FIRED" and drawn["job:d"] is None


def test_a_refused_start_counts_as_failed(workspace: Workspace) -> None:
    hold = ARGS + "import time\nif '--hold' in args:\n    time.sleep(60)\n"
    _shell_job(workspace, "a", hold)
    _shell_job(workspace, "c", QUICK)
    workspace.scheduler.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(workspace, "a_failed", "w", [job("a", "FAILED")], {"JobName": "c"})
    # The job allows one run at a time, and one is already in progress.
    busy = workspace.jobs.start_run("a", {"--hold": "yes"})
    workspace.jobs.launch(busy)
    try:
        run = finish(workspace, workspace.scheduler.start_workflow_run("w"))
    finally:
        workspace.jobs.stop_run(busy)
    assert workspace.jobs.wait(busy, poll=0.1).state == "STOPPED"

    assert run.state == "COMPLETED"
    assert run.statistics == stats(Total=2, Succeeded=1, Failed=1)
    refused, c = workspace.scheduler.actions(run.id)
    assert (refused.name, refused.state, c.name, c.state) == ("a", "FAILED", "c", "SUCCEEDED")
    assert "job 'a' already has 1 run(s) in progress and allows 1" in str(refused.error)
    assert [r.id for r in workspace.jobs.list_runs("a")] == [busy]


def test_run_properties_pass_between_jobs(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "seen.json"
    writer = (
        ARGS + "import os\n"
        "from sparkglue.workspace import Workspace\n"
        "service = Workspace(os.environ['SPARKGLUE_WORKSPACE']).scheduler\n"
        "run = args['--WORKFLOW_RUN_ID']\n"
        "owner = service.get_run_properties(run)['owner']\n"
        "service.put_run_properties(run, {'rows': '42', 'seen_owner': owner})\n"
    )
    reader = (  # written as a Glue script would be, through awsglue
        "import json, sys\n"
        "from awsglue.utils import getResolvedOptions, get_workflow_run_properties\n"
        "args = getResolvedOptions(sys.argv, ['WORKFLOW_NAME', 'WORKFLOW_RUN_ID', 'out'])\n"
        "props = get_workflow_run_properties(\n"
        "    Name=args['WORKFLOW_NAME'], RunId=args['WORKFLOW_RUN_ID']\n"
        ")['RunProperties']\n"
        "open(args['out'], 'w').write(json.dumps(props, sort_keys=True))\n"
    )
    _shell_job(workspace, "a", writer)
    _shell_job(workspace, "b", reader)
    workspace.scheduler.create_workflow(
        WorkflowSpec(Name="w", DefaultRunProperties={"env": "dev", "owner": "ops"})
    )
    start(workspace, "w", {"JobName": "a"})
    after(
        workspace,
        "then",
        "w",
        [job("a", "SUCCEEDED")],
        {"JobName": "b", "Arguments": {"--out": str(out)}},
    )

    run_id = workspace.scheduler.start_workflow_run("w", {"owner": "me", "day": "mon"})
    assert workspace.scheduler.get_run_properties(run_id) == {
        "env": "dev",
        "owner": "me",
        "day": "mon",
    }
    run = finish(workspace, run_id)
    assert run.statistics == stats(Total=2, Succeeded=2)
    expected = {"env": "dev", "owner": "me", "day": "mon", "rows": "42", "seen_owner": "me"}
    assert json.loads(out.read_text()) == expected
    assert workspace.scheduler.get_run_properties(run_id) == expected
    with pytest.raises(InvalidInput, match="run properties are strings"):
        workspace.scheduler.put_run_properties(run_id, {"n": 1})  # type: ignore[dict-item]
    monkeypatch.setenv("SPARKGLUE_WORKSPACE", str(workspace.path))
    assert put_workflow_run_properties(Name="w", RunId=run_id, RunProperties={"k": "v"}) == {}
    assert get_workflow_run_properties(Name="w", RunId=run_id)["RunProperties"]["k"] == "v"
    with pytest.raises(GlueArgumentError, match=f"workflow run {run_id} belongs to workflow w"):
        get_workflow_run_properties(Name="other", RunId=run_id)
    with pytest.raises(EntityNotFound):
        workspace.scheduler.put_run_properties("wr_nope", {"k": "v"})


def test_an_and_join_waits_for_both_branches(workspace: Workspace) -> None:
    _shell_job(workspace, "a", "import time\ntime.sleep(0.6)\n")
    _shell_job(workspace, "b", QUICK)
    _shell_job(workspace, "c", QUICK)
    workspace.scheduler.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"}, {"JobName": "b"})
    after(workspace, "join", "w", [job("a", "SUCCEEDED"), job("b", "SUCCEEDED")], {"JobName": "c"})

    run = finish(workspace, workspace.scheduler.start_workflow_run("w"))

    assert run.state == "COMPLETED"
    assert run.statistics == stats(Total=3, Succeeded=3)
    (c,) = workspace.jobs.list_runs("c")
    (a,) = workspace.jobs.list_runs("a")
    (b,) = workspace.jobs.list_runs("b")
    assert a.finished_at and b.finished_at
    assert c.started_at >= max(a.finished_at, b.finished_at)
    assert [f.tick_key for f in firings(workspace, "join")] == [f"wr:{run.id}"]


def test_resume_reruns_a_failed_node_and_what_follows(workspace: Workspace, tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    _shell_job(workspace, "a", QUICK)
    _shell_job(workspace, "b", GATE)
    _shell_job(workspace, "c", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(
        workspace,
        "a_ok",
        "w",
        [job("a", "SUCCEEDED")],
        {"JobName": "b", "Arguments": {"--flag": str(flag)}},
    )
    after(workspace, "b_ok", "w", [job("b", "SUCCEEDED")], {"JobName": "c"})

    old = finish(workspace, service.start_workflow_run("w"))
    assert old.statistics == stats(Total=2, Succeeded=1, Failed=1)
    assert workspace.jobs.list_runs("c") == []

    flag.touch()
    new_id = service.resume_workflow_run(old.id, ["job:b"])
    new = finish(workspace, new_id)

    assert new.state == "COMPLETED" and new.previous_run_id == old.id
    assert new.started_by == "resume"
    assert new.statistics == stats(Total=2, Succeeded=2)  # the inherited a is not its own
    assert len(workspace.jobs.list_runs("a")) == 1
    assert [r.state for r in workspace.jobs.list_runs("b")] == ["SUCCEEDED", "FAILED"]
    assert [r.state for r in workspace.jobs.list_runs("c")] == ["SUCCEEDED"]
    by_name = {a.name: a for a in service.actions(new_id)}
    assert by_name["a"].inherited and by_name["a"].state == "SUCCEEDED"
    assert by_name["a"].run_id == workspace.jobs.list_runs("a")[0].id
    rerun = workspace.jobs.get_run(by_name["b"].run_id).arguments
    assert rerun["--WORKFLOW_RUN_ID"] == new_id and rerun["--flag"] == str(flag)
    assert states(workspace, "w", new_id)["job:c"] == "SUCCEEDED"
    assert service.get_workflow_run(old.id).statistics == old.statistics

    with pytest.raises(InvalidInput) as exc:
        service.resume_workflow_run(old.id, ["job:ghost"])
    assert "workflow 'w' has no job or crawler node 'job:ghost'; its nodes are" in one_line(exc)
    with pytest.raises(InvalidInput, match="name at least one node"):
        service.resume_workflow_run(old.id, [])
    with pytest.raises(EntityNotFound):
        service.resume_workflow_run("wr_nope", ["job:b"])
    running = service.start_workflow_run("w")
    with pytest.raises(InvalidInput) as exc:
        service.resume_workflow_run(running, ["job:b"])
    assert f"workflow run {running} is RUNNING; only a finished run" in one_line(exc)
    assert service.stop_workflow_run(running).state == "STOPPED"


def test_resume_of_a_stopped_run_keeps_what_never_started(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    _shell_job(workspace, "x", QUICK)
    _shell_job(workspace, "c", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"}, {"JobName": "x"})
    after(workspace, "a_ok", "w", [job("a", "SUCCEEDED")], {"JobName": "c"})
    old = service.stop_workflow_run(service.start_workflow_run("w"))  # before anything starts
    assert old.state == "STOPPED"
    assert {a.name: a.state for a in service.actions(old.id)} == {
        "a": "NOT_STARTED",
        "x": "NOT_STARTED",
    }

    new = finish(workspace, service.resume_workflow_run(old.id, ["job:a"]))

    assert new.state == "COMPLETED"
    assert new.statistics == stats(Total=2, Succeeded=2)  # a and c; x stays not started
    assert {a.name: a.state for a in service.actions(new.id)} == {
        "x": "NOT_STARTED",
        "a": "SUCCEEDED",
        "c": "SUCCEEDED",
    }
    assert workspace.jobs.list_runs("x") == []


def test_stop_ends_the_running_job_and_the_run(workspace: Workspace) -> None:
    _shell_job(workspace, "sleeper", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    _shell_job(workspace, "after", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "sleeper"})
    # Would fire on the stopped job, were the run not stopping.
    after(workspace, "on_stop", "w", [job("sleeper", "STOPPED")], {"JobName": "after"})
    run_id = service.start_workflow_run("w")
    scheduler = Scheduler(service, poll=0.05)
    try:
        tick_until(scheduler, lambda: service.actions(run_id)[0].state == "RUNNING")
        stopping = service.stop_workflow_run(run_id)
        assert stopping.state in ("STOPPING", "STOPPED")
        tick_until(scheduler, lambda: service.get_workflow_run(run_id).state == "STOPPED")
        tick_for(scheduler, 0.3)
    finally:
        scheduler.lease.release()

    run = service.get_workflow_run(run_id)
    assert run.state == "STOPPED" and run.finished_at is not None
    assert run.statistics == stats(Total=1, Stopped=1)
    (sleeper,) = workspace.jobs.list_runs("sleeper")
    assert sleeper.state == "STOPPED"
    assert workspace.jobs.list_runs("after") == [] and firings(workspace, "on_stop") == []
    with pytest.raises(InvalidInput) as exc:
        service.stop_workflow_run(run_id)
    assert one_line(exc) == f"workflow run {run_id} is already STOPPED"


def test_max_concurrent_runs_refuses_a_second_run(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w", MaxConcurrentRuns=1))
    start(workspace, "w", {"JobName": "a"})
    first = service.start_workflow_run("w")  # no scheduler runs: it stays RUNNING
    with pytest.raises(InvalidInput) as exc:
        service.start_workflow_run("w")
    assert one_line(exc) == (
        "workflow 'w' already has 1 run(s) in progress and allows 1 (MaxConcurrentRuns); "
        "wait or stop one"
    )
    assert [r.id for r in service.list_workflow_runs("w")] == [first]
    # Stopping a run that has started nothing ends it at once and frees its place.
    assert service.stop_workflow_run(first).state == "STOPPED"
    second = service.start_workflow_run("w")
    assert service.stop_workflow_run(second).state == "STOPPED"
    assert workspace.jobs.list_runs("a") == []
    assert [a.state for a in service.actions(first)] == ["NOT_STARTED"]
    assert service.get_workflow_run(first).statistics == stats()


def test_a_crawler_node_feeds_a_job(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "penguins"
    write(data / "a.csv", "species,mass\nadelie,3750\ngentoo,5000\n")
    write(data / "b.csv", "species,mass\nchinstrap,3800\nadelie,3450\n")
    crawler(workspace, "penguins_raw", "raw/penguins")
    _shell_job(workspace, "report", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"CrawlerName": "penguins_raw"})
    trigger(
        workspace,
        Name="crawled",
        Type="CONDITIONAL",
        WorkflowName="w",
        Predicate={"Conditions": [{"CrawlerName": "penguins_raw", "CrawlState": "SUCCEEDED"}]},
        Actions=[{"JobName": "report"}],
    )

    run = finish(workspace, service.start_workflow_run("w"))

    assert run.state == "COMPLETED"
    assert run.statistics == stats(Total=2, Succeeded=2)
    crawl, report = service.actions(run.id)
    assert (crawl.kind, crawl.state, report.state) == ("CRAWLER", "SUCCEEDED", "SUCCEEDED")
    assert workspace.crawlers.get_run(crawl.run_id).state == "SUCCEEDED"
    table = workspace.catalog.get_table("raw", "penguins")
    assert [c.name for c in table.columns] == ["species", "mass"]
    assert states(workspace, "w", run.id)["crawler:penguins_raw"] == "SUCCEEDED"


def test_delete_waits_for_the_running_run(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    _shell_job(workspace, "b", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(workspace, "then", "w", [job("a", "SUCCEEDED")], {"JobName": "b"})
    run_id = service.start_workflow_run("w")
    with pytest.raises(InvalidInput) as exc:
        service.delete_workflow("w")
    assert one_line(exc).startswith(f"workflow 'w' has run {run_id} in progress; stop it first")
    assert len(service.list_triggers(workflow="w")) == 2

    service.stop_workflow_run(run_id)
    service.delete_workflow("w")
    assert service.list_triggers() == [] and service.list_workflows() == []
    for missing in (
        lambda: service.get_trigger("start"),
        lambda: service.get_workflow("w"),
        lambda: service.get_workflow_run(run_id),
    ):
        with pytest.raises(EntityNotFound):
            missing()
    # The names are free again.
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "b"})
    assert [t.name for t in service.list_triggers(workflow="w")] == ["start"]


def test_a_workflow_runs_on_either_metadata_store(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Child processes (job supervisors, crawl workers) find the store through the environment.
    monkeypatch.setenv("SPARKGLUE_METADATA_URL", store_url)
    ws = Workspace.init(tmp_path / "shared")
    try:
        assert ws.store.dialect == store_url.split(":")[0].split("+")[0]
        write(ws.settings.lake_root / "raw" / "notes" / "a.csv", "id,note\n1,x\n2,y\n")
        crawler(ws, "notes", "raw/notes")
        _shell_job(ws, "a", QUICK)
        _shell_job(ws, "b", FAIL)
        ws.scheduler.create_workflow(WorkflowSpec(Name="w", DefaultRunProperties={"k": "v"}))
        start(ws, "w", {"CrawlerName": "notes"})
        after(
            ws,
            "crawled",
            "w",
            [{"CrawlerName": "notes", "CrawlState": "SUCCEEDED"}],
            {"JobName": "a"},
        )
        after(ws, "a_ok", "w", [job("a", "SUCCEEDED")], {"JobName": "b"})

        run = wait_for_workflow_run(ws.scheduler, ws.scheduler.start_workflow_run("w"), poll=0.05)

        assert run.state == "COMPLETED"
        assert run.statistics == stats(Total=3, Succeeded=2, Failed=1)
        assert {a.name: a.state for a in ws.scheduler.actions(run.id)} == {
            "notes": "SUCCEEDED",
            "a": "SUCCEEDED",
            "b": "FAILED",
        }
        assert ws.scheduler.get_run_properties(run.id) == {"k": "v"}
        assert ws.scheduler.active_scheduler() is None  # the lease went with the wait
    finally:
        ws.close()


def test_an_action_a_dead_scheduler_was_launching_starts_once(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    run_id = service.start_workflow_run("w")
    # A scheduler claimed the action and died before starting it.
    with workspace.store.write() as conn:
        conn.execute(
            s.trigger_actions.update()
            .where(s.trigger_actions.c.workflow_run_id == run_id)
            .values(state="LAUNCHING")
        )
    for _ in range(2):  # two schedulers, one after the other
        scheduler = Scheduler(service, poll=0.05)
        assert scheduler.acquire()
        scheduler.tick()
        scheduler.lease.release()
    assert finish(workspace, run_id).statistics == stats(Total=1, Succeeded=1)
    assert len(workspace.jobs.list_runs("a")) == 1


def test_a_run_whose_job_run_record_is_gone_ends_failed(workspace: Workspace) -> None:
    _shell_job(workspace, "a", QUICK)
    _shell_job(workspace, "b", QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(workspace, "a_ok", "w", [job("a", "SUCCEEDED")], {"JobName": "b"})
    run_id = service.start_workflow_run("w")
    scheduler = Scheduler(service, poll=0.05)
    tick_until(scheduler, lambda: bool(workspace.jobs.list_runs("a")), limit=10)
    workspace.jobs.wait(workspace.jobs.list_runs("a")[0].id, poll=0.05)
    with workspace.store.write() as conn:  # as deleting the job would
        conn.execute(s.job_runs.delete().where(s.job_runs.c.job_name == "a"))
    tick_until(scheduler, lambda: service.get_workflow_run(run_id).state == "COMPLETED", limit=10)
    scheduler.lease.release()
    (gone,) = service.actions(run_id)
    assert (gone.state, gone.error) == ("ERROR", "its run record no longer exists")
    assert service.get_workflow_run(run_id).statistics == stats(Total=1, Failed=1)
    assert workspace.jobs.list_runs("b") == []


def test_resume_runs_a_chosen_node_after_another_chosen_node_once(
    workspace: Workspace,
) -> None:
    for name in ("a", "b"):
        _shell_job(workspace, name, QUICK)
    service = workspace.scheduler
    service.create_workflow(WorkflowSpec(Name="w"))
    start(workspace, "w", {"JobName": "a"})
    after(workspace, "a_ok", "w", [job("a", "SUCCEEDED")], {"JobName": "b"})
    old = finish(workspace, service.start_workflow_run("w"))

    new = finish(workspace, service.resume_workflow_run(old.id, ["job:b", "job:a"]))

    assert new.statistics == stats(Total=2, Succeeded=2)
    assert len(workspace.jobs.list_runs("a")) == 2 and len(workspace.jobs.list_runs("b")) == 2
