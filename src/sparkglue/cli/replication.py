"""``sparkglue replication …``: DMS-style endpoints, tasks, materialize and validate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import yaml

from sparkglue.cli.common import CliState, console_for, output_option, pass_state
from sparkglue.console import Console, TerminalConsole
from sparkglue.errors import InvalidInput
from sparkglue.replication import SourceEndpointSpec
from sparkglue.replication.source import format_lsn
from sparkglue.workspace import Workspace


@click.group()
def replication() -> None:
    """Replicate PostgreSQL into the lake: full load and change data capture (DMS)."""


def _load_document(text: str, what: str) -> dict[str, Any]:
    """A JSON/YAML document given inline or as a file path."""
    source = text
    if not text.lstrip().startswith(("{", "[")):
        path = Path(text)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{what} file {path} cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise InvalidInput(f"{what} is not valid JSON or YAML: {first}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return data


# ---- endpoints ----------------------------------------------------------------------------


@replication.group()
def endpoint() -> None:
    """Source (PostgreSQL) and target (lake folder) endpoints."""


@endpoint.command("create")
@click.argument("name")
@click.option("--type", "type_", type=click.Choice(["source", "target"]), help="Endpoint type.")
@click.option("--spec", "spec_file", help="A JSON/YAML file with DMS's fields.")
@click.option("--url", help="source: postgresql://USER@HOST:PORT/DATABASE (no password).")
@click.option("--password-env", help="source: the environment variable holding the password.")
@click.option("--password-file", help="source: a file holding the password.")
@click.option("--path", help="target: the folder, relative to the lake or absolute.")
@click.option("--data-format", type=click.Choice(["csv", "parquet"]), help="target: csv|parquet.")
@click.option("--include-op-for-full-load", is_flag=True, default=None, help="target.")
@click.option("--timestamp-column-name", help="target: add this commit/transfer time column.")
@click.option("--cdc-path", help="target: a folder for CDC files inside the target.")
@click.option("--date-partition-enabled", is_flag=True, default=None, help="target: YYYY/MM/DD.")
@click.option("--cdc-max-batch-interval", type=float, help="target: seconds (default 60).")
@click.option("--cdc-min-file-size", type=int, help="target: kilobytes (default 32000).")
@click.option("--max-file-size", type=int, help="target: kilobytes per LOAD file.")
@pass_state
def create_endpoint(state: CliState, /, name: str, type_: str | None, **o: Any) -> None:
    """Create an endpoint (DMS's CreateEndpoint)."""
    values: dict[str, Any] = {}
    spec_file = o.pop("spec_file")
    if spec_file:
        values = _load_document(spec_file, "endpoint spec")
    fields = {
        "url": "Url",
        "password_env": "PasswordEnv",
        "password_file": "PasswordFile",
        "path": "Path",
        "data_format": "DataFormat",
        "include_op_for_full_load": "IncludeOpForFullLoad",
        "timestamp_column_name": "TimestampColumnName",
        "cdc_path": "CdcPath",
        "date_partition_enabled": "DatePartitionEnabled",
        "cdc_max_batch_interval": "CdcMaxBatchInterval",
        "cdc_min_file_size": "CdcMinFileSize",
        "max_file_size": "MaxFileSize",
    }
    values.update({fields[k]: v for k, v in o.items() if v is not None})
    values["EndpointIdentifier"] = name
    if type_:
        values["EndpointType"] = type_
    console = TerminalConsole()
    with state.open(console) as ws:
        spec = ws.replication.create_endpoint(values)
    console.step(f"Endpoint {spec.EndpointIdentifier} ({spec.EndpointType}) created")


@endpoint.command("list")
@output_option
@pass_state
def list_endpoints(state: CliState, output: str) -> None:
    """List endpoints."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [e.EndpointIdentifier, e.EndpointType, e.EngineName]
            + ([e.Url] if isinstance(e, SourceEndpointSpec) else [f"{e.Path} ({e.DataFormat})"])
            for e in ws.replication.list_endpoints()
        ]
    console.table("Endpoints", ["name", "type", "engine", "where"], rows)


@endpoint.command("test")
@click.argument("name")
@pass_state
def test_endpoint(state: CliState, name: str) -> None:
    """Connect and report what is missing for full load and CDC."""
    console = TerminalConsole()
    with state.open(console) as ws:
        problems, facts = ws.replication.test_endpoint(name)
    for fact in facts:
        console.message(f"  {fact}")
    if problems:
        for problem in problems:
            console.warning(problem)
        raise InvalidInput(f"endpoint {name}: {len(problems)} problem(s); fix them and test again")
    console.step(f"Endpoint {name}: ready")


@endpoint.command("delete")
@click.argument("name")
@pass_state
def delete_endpoint(state: CliState, name: str) -> None:
    """Delete an endpoint no task uses."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.replication.delete_endpoint(name)
    console.step(f"Endpoint {name} deleted")


# ---- tasks --------------------------------------------------------------------------------


@replication.group()
def task() -> None:
    """Replication tasks: full load, CDC, or both."""


@task.command("create")
@click.argument("name")
@click.option(
    "--spec", "spec_file", help="A JSON/YAML file with DMS's CreateReplicationTask fields."
)
@click.option("--source", help="The source endpoint.")
@click.option("--target", help="The target endpoint.")
@click.option("--migration-type", type=click.Choice(["full-load", "cdc", "full-load-and-cdc"]))
@click.option("--table-mappings", help="DMS table mappings: a JSON file or inline JSON.")
@pass_state
def create_task(
    state: CliState,
    /,
    name: str,
    spec_file: str | None,
    source: str | None,
    target: str | None,
    migration_type: str | None,
    table_mappings: str | None,
) -> None:
    """Create a task (DMS's CreateReplicationTask)."""
    values = _load_document(spec_file, "task spec") if spec_file else {}
    values["ReplicationTaskIdentifier"] = name
    for key, value in (
        ("SourceEndpoint", source),
        ("TargetEndpoint", target),
        ("MigrationType", migration_type),
    ):
        if value:
            values[key] = value
    if table_mappings:
        values["TableMappings"] = _load_document(table_mappings, "table mappings")
    if "TableMappings" not in values:
        raise InvalidInput("task: give the table mappings with --table-mappings FILE|JSON")
    console = TerminalConsole()
    with state.open(console) as ws:
        record = ws.replication.create_task(values)
    console.step(f"Task {name} {record['Status']} ({record['MigrationType']})")


def _follow(console: Console, ws: Workspace, name: str, until_load: bool) -> dict[str, Any]:
    """Show table progress until the task stops, or (``until_load``) its full load is done."""
    shown: set[str] = set()
    said, said_at = "", 0.0
    while True:
        record = ws.replication.get_task(name)
        stats = ws.replication.table_stats(name)
        for t in stats:
            key = f"{t['SchemaName']}.{t['TableName']}"
            if t["TableState"] == "Table completed" and key not in shown:
                shown.add(key)
                console.step(f"{key}: {t['FullLoadRows']:,} rows loaded")
        for t in stats:
            if t["TableState"] == "Full load":
                line = f"loading {t['SchemaName']}.{t['TableName']}: {t['FullLoadRows']:,} rows"
                if line != said and time.monotonic() - said_at > 2:
                    console.message(line)
                    said, said_at = line, time.monotonic()
        if record["Status"] in ("Stopped", "Failed"):
            return record
        load_done = bool(stats) and all(t["TableState"] == "Table completed" for t in stats)
        cdc_only = record["MigrationType"] == "cdc"
        if until_load and record["Status"] == "Running" and (load_done or cdc_only):
            return record
        time.sleep(0.3)


def _started(console: Console, ws: Workspace, name: str, wait: bool) -> None:
    console.step(f"Task {name} started; `sparkglue replication task status {name}`")
    if not wait:
        return
    record = _follow(console, ws, name, until_load=True)
    if record["Status"] == "Failed":
        raise InvalidInput(f"task {name} failed: {record['LastFailureMessage']}")
    if record["Status"] == "Running":
        console.step(f"Task {name}: full load done; capturing changes")
    else:
        console.step(f"Task {name}: {record['Status']} ({record['StopReason']})")


@task.command("start")
@click.argument("name")
@click.option("--reload", is_flag=True, help="Start over: drop the slot and the files written.")
@click.option("--wait", is_flag=True, help="Follow the full load to its end.")
@pass_state
def start_task(state: CliState, name: str, reload: bool, wait: bool) -> None:
    """Start a task in its own process."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.replication.start_task(name, reload=reload)
        _started(console, ws, name, wait)


@task.command("resume")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Follow a full load still to do to its end.")
@pass_state
def resume_task(state: CliState, name: str, wait: bool) -> None:
    """Continue a Stopped or Failed task from its last committed batch."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.replication.resume_task(name)
        _started(console, ws, name, wait)


@task.command("stop")
@click.argument("name")
@pass_state
def stop_task(state: CliState, name: str) -> None:
    """Stop a task at the end of its current batch."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.replication.stop_task(name)
        with console.status(f"Stopping {name}"):
            record = ws.replication.wait(name)
    console.step(f"Task {name} {record['Status']}")


@task.command("list")
@output_option
@pass_state
def list_tasks(state: CliState, output: str) -> None:
    """List tasks."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [t["ReplicationTaskIdentifier"], t["MigrationType"], t["Status"], t["StopReason"] or ""]
            for t in ws.replication.list_tasks()
        ]
    console.table("Replication tasks", ["name", "type", "status", "stop reason"], rows)


@task.command("status")
@click.argument("name")
@output_option
@pass_state
def task_status(state: CliState, name: str, output: str) -> None:
    """A task's status, progress and lag, and each table's state and rows."""
    console = console_for(output)
    with state.open(console) as ws:
        record = dict(ws.replication.get_task(name))
        stats = ws.replication.table_stats(name)
    progress = record.get("Progress") or {}
    if "position" in progress:
        progress["position"] = format_lsn(int(progress["position"]))
    record["Tables"] = [
        {
            "table": f"{t['SchemaName']}.{t['TableName']}",
            "state": t["TableState"],
            "full_load_rows": t["FullLoadRows"],
            "changes": t["Inserts"] + t["Updates"] + t["Deletes"],
        }
        for t in stats
    ]
    console.record(record)


@task.command("stats")
@click.argument("name")
@output_option
@pass_state
def task_stats(state: CliState, name: str, output: str) -> None:
    """Table statistics (DMS's DescribeTableStatistics)."""
    console = console_for(output)
    with state.open(console) as ws:
        stats = ws.replication.table_stats(name)
    columns = [
        "SchemaName",
        "TableName",
        "TableState",
        "Inserts",
        "Updates",
        "Deletes",
        "Ddls",
        "FullLoadRows",
        "FullLoadErrorRows",
        "LastUpdateTime",
    ]
    console.table(f"Table statistics of {name}", columns, [[t[c] for c in columns] for t in stats])


@task.command("delete")
@click.argument("name")
@pass_state
def delete_task(state: CliState, name: str) -> None:
    """Delete a stopped task and drop its slot (its files in the lake stay)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        dropped = ws.replication.delete_task(name)
    console.step(f"Task {name} deleted" + ("; its replication slot dropped" if dropped else ""))


# ---- materialize and validate -------------------------------------------------------------


@replication.command("materialize")
@click.argument("name")
@click.option("--database", help="The catalog database (default: the task's name).")
@click.option("--no-wait", is_flag=True, help="Start the job and return.")
@pass_state
def materialize(state: CliState, name: str, database: str | None, no_wait: bool) -> None:
    """Build the current state of each table (a generated job) into curated Parquet."""
    console = TerminalConsole()
    with state.open(console) as ws:
        with console.status(f"Materializing {name}"):
            job, run_id = ws.materialize_replication(name, database, wait=not no_wait)
        if no_wait:
            console.step(f"Job {job} run {run_id} started; `sparkglue job logs {run_id}`")
            return
        run = ws.jobs.get_run(run_id)
        db = ws.replication.get_task(name)["MaterializedDatabase"]
    if run.state != "SUCCEEDED":
        raise InvalidInput(
            f"job {job} run {run_id} ended {run.state}: {run.error_message}; see "
            f"`sparkglue job logs {run_id}`"
        )
    console.step(f"Job {job} run {run_id} SUCCEEDED: tables in database {db}")


@replication.command("validate")
@click.argument("name")
@click.option("--show", default=20, show_default=True, help="Mismatched keys to list per table.")
@output_option
@pass_state
def validate(state: CliState, name: str, show: int, output: str) -> None:
    """Compare the source with the materialized tables: counts and a hash per key."""
    console = console_for(output)
    with state.open(console) as ws:
        results = ws.replication.validate(name)
    console.table(
        f"Validation of {name}",
        ["table", "target", "source rows", "target rows", "missing", "extra", "different"],
        [
            [
                r.table,
                r.target,
                r.source_rows,
                r.target_rows,
                len(r.missing),
                len(r.extra),
                len(r.different),
            ]
            for r in results
        ],
    )
    bad = [r for r in results if not r.ok]
    for r in bad:
        for kind, keys in (("missing", r.missing), ("extra", r.extra), ("different", r.different)):
            for key in keys[:show]:
                console.message(f"{r.table}: {kind} key {json.dumps(list(key), default=str)}")
    if bad:
        total = sum(r.mismatched for r in bad)
        raise InvalidInput(
            f"validation of {name}: {total} mismatched key(s) in {len(bad)} table(s)"
        )
    console.step(f"Validation of {name}: every table matches its source")
