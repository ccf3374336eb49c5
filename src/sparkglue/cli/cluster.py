"""``sparkglue cluster …``: EMR-style clusters and their steps."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click

from sparkglue.cli.common import CliState, build, console_for, output_option, pass_state
from sparkglue.console import TerminalConsole
from sparkglue.errors import EntityNotFound, InvalidInput


@click.group()
def cluster() -> None:
    """Spark clusters (EMR): launch one here, attach an existing one, run steps."""


def _describe(c: Any) -> dict[str, Any]:
    spec = dict(c.spec)
    record: dict[str, Any] = {
        "Id": c.id,
        "Name": c.name,
        "Kind": c.kind,
        "State": c.state,
        "StateChangeReason": {
            "Code": c.state_reason_code,
            "Message": c.state_reason_message,
        },
        "MasterUrl": c.master_url,
        "ConnectUrl": c.connect_url,
        "WebUIs": c.web_uis,
        "Timeline": {
            "CreationDateTime": c.created_at,
            "ReadyDateTime": c.ready_at,
            "EndDateTime": c.ended_at,
        },
        "LogDir": c.log_dir,
    }
    if c.kind == "local":
        record["Instances"] = {
            "Workers": spec.get("Workers"),
            "WorkerCores": spec.get("WorkerCores"),
            "WorkerMemory": spec.get("WorkerMemory"),
        }
        record["Processes"] = c.processes
        record["StepConcurrencyLevel"] = spec.get("StepConcurrencyLevel")
        if spec.get("IdleTimeout"):
            record["AutoTerminationPolicy"] = {"IdleTimeout": spec["IdleTimeout"]}
        if spec.get("BootstrapActions"):
            record["BootstrapActions"] = spec["BootstrapActions"]
        if spec.get("Configurations"):
            record["Configurations"] = spec["Configurations"]
    return record


@cluster.command("create")
@click.argument("name")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes.")
@click.option("--worker-cores", type=int, help="Cores each worker offers [default: all].")
@click.option("--worker-memory", default="2g", show_default=True, help="Memory per worker.")
@click.option("--configurations", "configurations", help="EMR configurations JSON file.")
@click.option(
    "--bootstrap-action",
    "bootstrap",
    multiple=True,
    help="'SCRIPT [ARGS]' run before the Spark processes start (repeatable).",
)
@click.option("--auto-terminate-idle", type=int, help="Terminate after this many idle seconds.")
@click.option("--connect", is_flag=True, help="Also start a Spark Connect server (warm runs).")
@click.option("--connect-cores", type=int, help="Cores the Connect server holds [default: half].")
@click.option("--history-server", is_flag=True, help="Also start a Spark history server.")
@click.option("--step-concurrency", type=int, default=1, show_default=True, help="Steps at once.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--no-wait", is_flag=True, help="Return at once instead of waiting until ready.")
@pass_state
def create(state: CliState, /, name: str, **o: Any) -> None:
    """Launch a Spark standalone cluster on this machine (EMR's RunJobFlow)."""
    from sparkglue.cluster import BootstrapAction, ClusterSpec, parse_configurations

    actions = []
    for number, text in enumerate(o["bootstrap"], start=1):
        try:
            parts = shlex.split(text)
        except ValueError as exc:
            raise InvalidInput(f"--bootstrap-action '{text}': {exc}") from None
        if not parts:
            raise InvalidInput("--bootstrap-action is empty; give 'SCRIPT [ARGS]'")
        actions.append(BootstrapAction(Name=f"bootstrap-{number}", Path=parts[0], Args=parts[1:]))
    values: dict[str, Any] = {
        "Name": name,
        "Workers": o["workers"],
        "WorkerMemory": o["worker_memory"],
        "BootstrapActions": actions,
        "Connect": o["connect"],
        "HistoryServer": o["history_server"],
        "StepConcurrencyLevel": o["step_concurrency"],
        "Host": o["host"],
    }
    if o["worker_cores"] is not None:
        values["WorkerCores"] = o["worker_cores"]
    if o["connect_cores"] is not None:
        values["ConnectCores"] = o["connect_cores"]
    if o["auto_terminate_idle"] is not None:
        values["IdleTimeout"] = o["auto_terminate_idle"]
    if o["configurations"]:
        values["Configurations"] = parse_configurations(o["configurations"])
    spec = build(ClusterSpec, f"cluster '{name}'", **values)
    console = TerminalConsole()
    with state.open(console) as ws:
        created = ws.clusters.create(spec)
        console.step(f"Cluster {name} ({created.id}) STARTING; logs in {created.log_dir}")
        if o["no_wait"]:
            return
        started = time.monotonic()

        def report(c: Any) -> None:
            reason = c.state_reason_message or ""
            console.message(f"  {time.monotonic() - started:5.1f}s  {c.state:<22} {reason}")

        final = ws.clusters.wait(created.id, ("WAITING", "RUNNING"), on_change=report)
    if final.state not in ("WAITING", "RUNNING"):
        code = final.state_reason_code or "INTERNAL_ERROR"
        raise InvalidInput(f"cluster {name} {final.state} ({code}): {final.state_reason_message}")
    console.step(f"Cluster {name} is {final.state} (master {final.master_url})")
    _print_uis(console, final)


def _print_uis(console: Any, c: Any) -> None:
    uis = c.web_uis or {}
    if uis.get("master"):
        console.message(f"  master UI     {uis['master']}")
    for number, url in enumerate(uis.get("workers", []), start=1):
        console.message(f"  worker-{number} UI   {url}")
    if c.connect_url:
        console.message(f"  Spark Connect {c.connect_url}  (UI {uis.get('connect', '-')})")
    if uis.get("history"):
        console.message(f"  history UI    {uis['history']}")


@cluster.command("attach")
@click.argument("name")
@click.option(
    "--master", required=True, help="spark://HOST:7077 | yarn | k8s://… | sc://HOST:15002"
)
@click.option("--no-check", is_flag=True, help="Do not check that the master answers.")
@pass_state
def attach(state: CliState, /, name: str, master: str, no_check: bool) -> None:
    """Record an existing cluster so jobs, training and steps can target it."""
    console = TerminalConsole()
    with state.open(console) as ws:
        c = ws.clusters.attach(name, master, check=not no_check)
    console.step(f"Cluster {name} ({c.id}) attached to {master}")


@cluster.command("list")
@click.option("--active", is_flag=True, help="Only clusters that have not ended.")
@output_option
@pass_state
def list_clusters(state: CliState, /, active: bool, output: str) -> None:
    """List clusters, newest first."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [c.name, c.id, c.kind, c.state, c.master_url or c.connect_url or "", c.created_at]
            for c in ws.clusters.list_clusters(include_ended=not active)
        ]
    console.table("Clusters", ["name", "id", "kind", "state", "master", "created"], rows)


@cluster.command("describe")
@click.argument("name")
@output_option
@pass_state
def describe(state: CliState, /, name: str, output: str) -> None:
    """A cluster's state, reason, addresses, processes and settings."""
    console = console_for(output)
    with state.open(console) as ws:
        c = ws.clusters.get(name)
    console.record(_describe(c))


@cluster.command("terminate")
@click.argument("name")
@click.option("--no-wait", is_flag=True, help="Return at once.")
@pass_state
def terminate(state: CliState, /, name: str, no_wait: bool) -> None:
    """Terminate a cluster: stop its steps and every process it started."""
    console = TerminalConsole()
    with state.open(console) as ws, console.status(f"Terminating {name}"):
        c = ws.clusters.terminate(name, wait=not no_wait)
    console.step(f"Cluster {name} {c.state}")


@cluster.command("add-step")
@click.argument("name")
@click.option("--script", required=True, help="The PySpark script the step runs.")
@click.option("--step-name", help="The step's name [default: the script's name].")
@click.option("--args", "args_", multiple=True, help="Script arguments (repeatable; split as sh).")
@click.option(
    "--action-on-failure",
    type=click.Choice(["CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER"]),
    default="CONTINUE",
    show_default=True,
)
@click.option("--wait", is_flag=True, help="Wait for the step to end; fail if it fails.")
@pass_state
def add_step(state: CliState, /, name: str, script: str, **o: Any) -> None:
    """Queue a step: spark-submit of a PySpark script on the cluster (EMR's AddJobFlowSteps)."""
    from sparkglue.cluster import StepSpec

    args: list[str] = []
    for text in o["args_"]:
        try:
            args += shlex.split(text)
        except ValueError as exc:
            raise InvalidInput(f"--args '{text}': {exc}") from None
    spec = build(
        StepSpec,
        "step",
        Name=o["step_name"] or Path(script).stem,
        Script=script,
        Args=args,
        ActionOnFailure=o["action_on_failure"],
    )
    console = TerminalConsole()
    with state.open(console) as ws:
        step = ws.clusters.add_step(name, spec)
        console.step(f"Step {step.id} ({step.name}) PENDING on {name}; log {step.log_path}")
        if not o["wait"]:
            return
        with console.status(f"Waiting for step {step.id}"):
            step = ws.clusters.wait_step(step.id)
    if step.state != "COMPLETED":
        raise InvalidInput(f"step {step.id} {step.state}: {step.error_message or ''}")
    console.step(f"Step {step.id} COMPLETED")


@cluster.command("steps")
@click.argument("name")
@output_option
@pass_state
def steps(state: CliState, /, name: str, output: str) -> None:
    """A cluster's steps and their states."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [
                st.id,
                st.name,
                st.state,
                st.action_on_failure,
                st.started_at or "",
                st.finished_at or "",
                st.error_message or "",
            ]
            for st in ws.clusters.steps(name)
        ]
    console.table(
        f"Steps of {name}",
        ["id", "name", "state", "on failure", "started", "ended", "reason"],
        rows,
    )


@cluster.command("cancel-step")
@click.argument("name")
@click.argument("step_id")
@click.option(
    "--cancellation-option",
    type=click.Choice(["SEND_INTERRUPT", "TERMINATE_PROCESS"]),
    default="SEND_INTERRUPT",
    show_default=True,
)
@pass_state
def cancel_step(state: CliState, /, name: str, step_id: str, cancellation_option: str) -> None:
    """Cancel a pending or running step."""
    console = TerminalConsole()
    with state.open(console) as ws:
        step = ws.clusters.cancel_step(name, step_id, cancellation_option)
    console.step(f"Step {step_id} {step.state}")


@cluster.command("logs")
@click.argument("name")
@click.option("--step", "step_id", help="A step's log instead of the cluster's.")
@click.option(
    "--node",
    default="supervisor",
    show_default=True,
    help="supervisor | master | worker-N | connect | history | bootstrap-N",
)
@pass_state
def logs(state: CliState, /, name: str, step_id: str | None, node: str) -> None:
    """Print a cluster's, a node's or a step's log."""
    console = TerminalConsole()
    with state.open(console) as ws:
        c = ws.clusters.get(name)
        if step_id:
            path = Path(ws.clusters.get_step(step_id).log_path or "")
        elif node.startswith("bootstrap-"):
            path = Path(c.log_dir or "") / "bootstrap-actions" / f"{node.split('-', 1)[1]}.log"
        else:
            path = Path(c.log_dir or "") / f"{node}.log"
    if not path.is_file():
        raise EntityNotFound(f"no log at {path}; see `sparkglue cluster describe {name}`")
    sys.stdout.write(path.read_text(encoding="utf-8", errors="replace"))
