"""``sparkglue trigger …``, ``sparkglue workflow …`` and ``sparkglue scheduler``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sparkglue.catalog import load_spec_file
from sparkglue.cli.common import (
    CliState,
    build,
    console_for,
    output_option,
    parse_pairs,
    pass_state,
)
from sparkglue.console import Console, TerminalConsole
from sparkglue.scheduler import Scheduler, TriggerSpec, WorkflowSpec
from sparkglue.scheduler.daemon import wait_for_workflow_run
from sparkglue.scheduler.render import graph_svg, graph_text
from sparkglue.scheduler.service import TriggerRecord, WorkflowRun
from sparkglue.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

_STATES = {"SUCCEEDED", "STOPPED", "FAILED", "TIMEOUT", "CANCELLED"}


def _trigger_options(func: F) -> F:
    """The options shared by ``trigger create`` and ``workflow add-node``."""
    options = [
        click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="YAML/JSON."),
        click.option(
            "--type",
            "type_",
            type=click.Choice(["SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT"]),
        ),
        click.option("--schedule", help="cron(M H DoM Mon DoW Y) in UTC, or rate(N unit)."),
        click.option(
            "--start",
            "starts",
            multiple=True,
            metavar="job:NAME|crawler:NAME",
            help="An action (repeatable).",
        ),
        click.option("--arg", "args", multiple=True, help="--K=V for the job actions."),
        click.option("--timeout", type=int, help="Minutes, for the job actions' runs."),
        click.option(
            "--watch",
            multiple=True,
            metavar="job:NAME=STATE",
            help="A condition, e.g. job:clean=SUCCEEDED or crawler:raw=FAILED (repeatable).",
        ),
        click.option("--logical", type=click.Choice(["AND", "ANY"]), default=None),
        click.option("--event-path", help="EVENT: the lake folder whose new files fire it."),
        click.option("--batch-size", type=int, help="EVENT: files per firing (1-100)."),
        click.option("--batch-window", type=int, help="EVENT: seconds to wait for a batch."),
        click.option("--start-on-creation", is_flag=True, help="Activate it at once."),
        click.option("--description"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _target(text: str, flag: str) -> tuple[str, str]:
    kind, sep, name = text.partition(":")
    if not sep or kind.lower() not in ("job", "crawler") or not name:
        raise click.BadParameter(f"'{text}' is not job:NAME or crawler:NAME", param_hint=flag)
    return ("JobName" if kind.lower() == "job" else "CrawlerName"), name


def _trigger_spec(name: str, workflow: str | None, o: dict[str, Any]) -> TriggerSpec:
    values: dict[str, Any] = {}
    if o["spec_file"]:
        values = load_spec_file(TriggerSpec, o["spec_file"]).model_dump(
            mode="json", exclude_none=True
        )
    values["Name"] = name
    if workflow is not None:
        values["WorkflowName"] = workflow
    if o["type_"]:
        values["Type"] = o["type_"]
    if o["schedule"]:
        values["Schedule"] = o["schedule"]
    if o["starts"]:
        actions = []
        job_args = parse_pairs(o["args"], "--arg")
        for item in o["starts"]:
            key, target = _target(item, "--start")
            action: dict[str, Any] = {key: target}
            if key == "JobName":
                if job_args:
                    action["Arguments"] = job_args
                if o["timeout"] is not None:
                    action["Timeout"] = o["timeout"]
            actions.append(action)
        values["Actions"] = actions
    if o["watch"]:
        conditions = []
        for item in o["watch"]:
            target_text, sep, wanted = item.partition("=")
            key, target = _target(target_text, "--watch")
            if not sep or wanted.upper() not in _STATES:
                raise click.BadParameter(
                    f"'{item}' needs =STATE (SUCCEEDED, STOPPED, FAILED, TIMEOUT; crawlers "
                    "SUCCEEDED, FAILED, CANCELLED)",
                    param_hint="--watch",
                )
            state_key = "State" if key == "JobName" else "CrawlState"
            conditions.append({key: target, state_key: wanted.upper()})
        values["Predicate"] = {"Logical": o["logical"] or "AND", "Conditions": conditions}
    elif o["logical"]:
        raise click.BadParameter("--logical goes with --watch conditions", param_hint="--logical")
    if o["event_path"]:
        values["EventPath"] = o["event_path"]
    batching = {
        k: v
        for k, v in (("BatchSize", o["batch_size"]), ("BatchWindow", o["batch_window"]))
        if v is not None
    }
    if batching:
        values["EventBatchingCondition"] = batching
    if o["start_on_creation"]:
        values["StartOnCreation"] = True
    if o["description"]:
        values["Description"] = o["description"]
    return build(TriggerSpec, "trigger", **values)


def _created(console: Console, ws: Workspace, record: TriggerRecord) -> None:
    line = f"Trigger {record.name} ({record.type}) created, {record.state}"
    if record.workflow:
        line += f", in workflow {record.workflow}"
    console.step(line)
    if record.type == "SCHEDULED":
        times = ws.scheduler.next_fire_times(record.name, 1)
        if times:
            console.message(f"Next fire time: {times[0]:%Y-%m-%d %H:%M:%S} UTC")
    if record.type != "ON_DEMAND" and record.state != "ACTIVATED":
        console.message(f"It fires once activated: sparkglue trigger activate {record.name}")


# ---- triggers --------------------------------------------------------------------------------


@click.group()
def trigger() -> None:
    """Triggers: scheduled, conditional, on-demand and event."""


@trigger.command("create")
@click.argument("name")
@click.option("--workflow", help="Add it to this workflow.")
@_trigger_options
@pass_state
def create_trigger(state: CliState, /, name: str, workflow: str | None, **o: Any) -> None:
    """Create a trigger (it fires when `sparkglue scheduler` runs)."""
    spec = _trigger_spec(name, workflow, o)
    console = TerminalConsole()
    with state.open(console) as ws:
        record = ws.scheduler.create_trigger(spec)
        _created(console, ws, record)


@trigger.command("list")
@click.option("--workflow", help="Only this workflow's triggers.")
@output_option
@pass_state
def list_triggers(state: CliState, workflow: str | None, output: str) -> None:
    """List triggers."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [t.name, t.type, t.state, t.workflow, t.spec.Schedule or _predicate(t) or ""]
            for t in ws.scheduler.list_triggers(workflow=workflow)
        ]
    console.table("Triggers", ["name", "type", "state", "workflow", "when"], rows)


def _predicate(t: TriggerRecord) -> str:
    if t.spec.Predicate is None:
        return t.spec.EventPath or ""
    joiner = " and " if t.spec.Predicate.Logical == "AND" else " or "
    return joiner.join(f"{c.target}={c.wanted}" for c in t.spec.Predicate.Conditions)


@trigger.command("show")
@click.argument("name")
@output_option
@pass_state
def show_trigger(state: CliState, name: str, output: str) -> None:
    """Show a trigger and, for a scheduled one, its next five fire times."""
    console = console_for(output)
    with state.open(console) as ws:
        record = ws.scheduler.get_trigger(name)
        times = ws.scheduler.next_fire_times(name, 5)
    data = record.as_dict()
    data["next_fire_times"] = [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in times]
    console.record(data)


@trigger.command("start")
@click.argument("name")
@click.option("--property", "props", multiple=True, help="A run property K=V (workflows).")
@pass_state
def start_trigger(state: CliState, name: str, props: tuple[str, ...]) -> None:
    """Fire an ON_DEMAND trigger now; activate any other."""
    console = TerminalConsole()
    with state.open(console) as ws:
        firing, run_id = ws.scheduler.start_trigger(name, parse_pairs(props, "--property"))
        held = ws.scheduler.active_scheduler()
    if firing is None:
        console.step(f"Trigger {name} ACTIVATED")
        return
    console.step(
        f"Trigger {name} fired ({firing})" + (f": workflow run {run_id}" if run_id else "")
    )
    if not held:
        console.message("Its actions start when a scheduler runs: sparkglue scheduler")


@trigger.command("stop")
@click.argument("name")
@pass_state
def stop_trigger(state: CliState, name: str) -> None:
    """Deactivate a trigger (Glue's StopTrigger)."""
    _set_state(state, name, activate=False)


@trigger.command("activate")
@click.argument("name")
@pass_state
def activate_trigger(state: CliState, name: str) -> None:
    """ACTIVATED: the scheduler fires it from now on."""
    _set_state(state, name, activate=True)


@trigger.command("deactivate")
@click.argument("name")
@pass_state
def deactivate_trigger(state: CliState, name: str) -> None:
    """DEACTIVATED: the scheduler leaves it alone."""
    _set_state(state, name, activate=False)


def _set_state(state: CliState, name: str, *, activate: bool) -> None:
    console = TerminalConsole()
    with state.open(console) as ws:
        service = ws.scheduler
        record = service.activate(name) if activate else service.deactivate(name)
    console.step(f"Trigger {name} {record.state}")


@trigger.command("delete")
@click.argument("name")
@pass_state
def delete_trigger(state: CliState, name: str) -> None:
    """Delete a trigger."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.scheduler.delete_trigger(name)
    console.step(f"Trigger {name} deleted")


# ---- workflows -------------------------------------------------------------------------------


@click.group()
def workflow() -> None:
    """Workflows: graphs of triggers, jobs and crawlers, with runs and run properties."""


@workflow.command("create")
@click.argument("name")
@click.option("--property", "props", multiple=True, help="A default run property K=V.")
@click.option("--max-concurrent-runs", type=int)
@click.option("--description")
@pass_state
def create_workflow(
    state: CliState,
    name: str,
    props: tuple[str, ...],
    max_concurrent_runs: int | None,
    description: str | None,
) -> None:
    """Create a workflow; add its nodes with `workflow add-node`."""
    values: dict[str, Any] = {
        "Name": name,
        "DefaultRunProperties": parse_pairs(props, "--property"),
    }
    if max_concurrent_runs is not None:
        values["MaxConcurrentRuns"] = max_concurrent_runs
    if description:
        values["Description"] = description
    spec = build(WorkflowSpec, "workflow", **values)
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.scheduler.create_workflow(spec)
    console.step(f"Workflow {name} created")
    console.message(
        f"Add its starting trigger: sparkglue workflow add-node {name} --trigger start "
        "--type ON_DEMAND --start job:JOB"
    )


@workflow.command("add-node")
@click.argument("workflow_name", metavar="WORKFLOW")
@click.option("--trigger", "name", required=True, help="The new trigger's name.")
@_trigger_options
@pass_state
def add_node(state: CliState, /, workflow_name: str, name: str, **o: Any) -> None:
    """Add a trigger and the jobs/crawlers it starts to a workflow."""
    spec = _trigger_spec(name, workflow_name, o)
    console = TerminalConsole()
    with state.open(console) as ws:
        record = ws.scheduler.create_trigger(spec)
        _created(console, ws, record)


@workflow.command("list")
@output_option
@pass_state
def list_workflows(state: CliState, output: str) -> None:
    """List workflows with their last run."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = []
        for spec in ws.scheduler.list_workflows():
            runs = ws.scheduler.list_workflow_runs(spec.Name)
            last = runs[0] if runs else None
            rows.append(
                [
                    spec.Name,
                    len(ws.scheduler.list_triggers(workflow=spec.Name)),
                    last.state if last else None,
                    last.started_at if last else None,
                ]
            )
    console.table("Workflows", ["name", "triggers", "last_run", "last_run_at"], rows)


@workflow.command("show")
@click.argument("name")
@click.option("--run", "run_id", help="Show each node's state in this run (default: the last).")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False), help="Also write the SVG here.")
@output_option
@pass_state
def show_workflow(
    state: CliState, name: str, run_id: str | None, svg_path: str | None, output: str
) -> None:
    """Draw a workflow's graph, with each node's state in a run, as text and SVG."""
    console = console_for(output)
    with state.open(console) as ws:
        spec = ws.scheduler.get_workflow(name)
        if run_id is None:
            runs = ws.scheduler.list_workflow_runs(name)
            run_id = runs[0].id if runs else None
        run = ws.scheduler.get_workflow_run(run_id) if run_id else None
        nodes, edges = ws.scheduler.graph(name, run_id)
        target = Path(svg_path) if svg_path else ws.path / "logs" / "workflows" / f"{name}.svg"
    title = f"{name}" + (f" · run {run.id} · {run.state}" if run else "")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(graph_svg(nodes, edges, title=title), encoding="utf-8")
    if output == "json":
        console.record(
            {
                "workflow": spec.model_dump(mode="json", exclude_none=True),
                "run": run.as_dict() if run else None,
                "nodes": [n.__dict__ for n in nodes],
                "edges": [e.__dict__ for e in edges],
                "svg": str(target),
            }
        )
        return
    console.message(title)
    for line in graph_text(nodes, edges) or ["(no nodes yet: add them with `workflow add-node`)"]:
        console.message(line)
    if run is not None:
        console.message(_statistics(run))
    console.message(f"Picture: {target}")


def _statistics(run: WorkflowRun) -> str:
    st = run.statistics
    return (
        f"Run {run.id} {run.state}: {st.get('TotalActions', 0)} actions, "
        f"{st.get('SucceededActions', 0)} succeeded, {st.get('FailedActions', 0)} failed, "
        f"{st.get('TimeoutActions', 0)} timed out, {st.get('StoppedActions', 0)} stopped, "
        f"{st.get('RunningActions', 0)} running"
    )


def _follow(console: Console, ws: Workspace, run_id: str) -> None:
    run = wait_for_workflow_run(ws.scheduler, run_id, console)
    nodes, edges = ws.scheduler.graph(run.workflow, run.id)
    for line in graph_text(nodes, edges):
        console.message(line)
    line = _statistics(run)
    if run.state == "COMPLETED" and not run.statistics.get("FailedActions"):
        console.step(line)
    else:
        console.warning(line)
        raise SystemExit(1)


@workflow.command("run")
@click.argument("name")
@click.option("--property", "props", multiple=True, help="A run property K=V.")
@click.option("--wait", is_flag=True, help="Follow the run to its end (scheduling here if needed).")
@pass_state
def run_workflow(state: CliState, name: str, props: tuple[str, ...], wait: bool) -> None:
    """Start a workflow run through its ON_DEMAND trigger."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run_id = ws.scheduler.start_workflow_run(name, parse_pairs(props, "--property"))
        console.step(f"Workflow run {run_id} of {name} started")
        if wait:
            _follow(console, ws, run_id)
        elif ws.scheduler.active_scheduler() is None:
            console.message(
                "No scheduler is running: start one (`sparkglue scheduler`) or follow the run "
                f"with `sparkglue workflow run {name} --wait` next time"
            )


@workflow.command("runs")
@click.argument("name")
@output_option
@pass_state
def workflow_runs(state: CliState, name: str, output: str) -> None:
    """A workflow's runs with their statistics."""
    console = console_for(output)
    with state.open(console) as ws:
        runs = ws.scheduler.list_workflow_runs(name)
    if output == "json":
        console.record({"runs": [r.as_dict() for r in runs]})
        return
    rows = [
        [
            r.id,
            r.state,
            r.started_at[:19].replace("T", " "),
            r.statistics.get("TotalActions", 0),
            r.statistics.get("SucceededActions", 0),
            r.statistics.get("FailedActions", 0),
            r.statistics.get("RunningActions", 0),
        ]
        for r in runs
    ]
    console.table(
        f"Runs of {name}", ["run", "state", "started", "total", "ok", "failed", "running"], rows
    )


@workflow.command("resume")
@click.argument("name")
@click.argument("run_id")
@click.option("--node", "nodes", multiple=True, required=True, help="job:NAME or crawler:NAME.")
@click.option("--wait", is_flag=True, help="Follow the new run to its end.")
@pass_state
def resume_workflow(
    state: CliState, name: str, run_id: str, nodes: tuple[str, ...], wait: bool
) -> None:
    """Run chosen nodes of a finished run again, and everything after them."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run = ws.scheduler.get_workflow_run(run_id)
        if run.workflow != name:
            raise click.BadParameter(f"run {run_id} belongs to workflow {run.workflow}")
        chosen = [
            kind.lower() + sep + rest for kind, sep, rest in (n.partition(":") for n in nodes)
        ]
        new_id = ws.scheduler.resume_workflow_run(run_id, chosen)
        console.step(f"Workflow run {new_id} resumes {run_id} from {', '.join(nodes)}")
        if wait:
            _follow(console, ws, new_id)


@workflow.command("stop")
@click.argument("name")
@click.argument("run_id")
@pass_state
def stop_workflow(state: CliState, name: str, run_id: str) -> None:
    """Stop a workflow run: nothing new starts and running actions are stopped."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run = ws.scheduler.stop_workflow_run(run_id)
    console.step(f"Workflow run {run_id} of {name} {run.state}")


@workflow.command("run-properties")
@click.argument("run_id")
@click.option("--set", "values", multiple=True, help="K=V to add or change.")
@output_option
@pass_state
def run_properties(state: CliState, run_id: str, values: tuple[str, ...], output: str) -> None:
    """Show (or change) a workflow run's run properties."""
    console = console_for(output)
    with state.open(console) as ws:
        if values:
            props = ws.scheduler.put_run_properties(run_id, parse_pairs(values, "--set"))
        else:
            props = ws.scheduler.get_run_properties(run_id)
    console.record(props)


@workflow.command("delete")
@click.argument("name")
@pass_state
def delete_workflow(state: CliState, name: str) -> None:
    """Delete a workflow, its triggers and its runs' records."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.scheduler.delete_workflow(name)
    console.step(f"Workflow {name} deleted")


# ---- the daemon ------------------------------------------------------------------------------


@click.command("scheduler")
@click.option("--poll", type=float, default=0.25, show_default=True, help="Seconds per pass.")
@pass_state
def scheduler(state: CliState, poll: float) -> None:
    """Run the scheduler until interrupted (one active per metadata store)."""
    if poll <= 0:
        raise click.BadParameter("must be a positive number of seconds", param_hint="--poll")
    console = TerminalConsole()
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with state.open(console) as ws:
        console.step(f"Scheduler started for {ws.path} (Ctrl-C stops it)")
        Scheduler(ws.scheduler, console, poll=poll).run(stop=stop)
    console.step("Scheduler stopped")
