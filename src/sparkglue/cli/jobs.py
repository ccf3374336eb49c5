"""``sparkglue job …``: generated and hand-written ETL jobs, their runs and bookmarks."""

from __future__ import annotations

import time
from typing import Any

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
from sparkglue.console import TerminalConsole
from sparkglue.errors import InvalidInput
from sparkglue.jobs import JobRun, JobSpec
from sparkglue.jobs.specs import FINAL_STATES


@click.group()
def job() -> None:
    """ETL jobs: generated PySpark scripts, runs, logs and bookmarks."""


@job.command("create")
@click.argument("name")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="YAML/JSON spec.")
@click.option("--source", help="The source catalog table, DB.TABLE.")
@click.option("--target", help="The target catalog table, DB.TABLE.")
@click.option("--path", help="The target folder (default: the lake's DB/TABLE).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "orc", "csv", "json", "avro"]),
    default="parquet",
    show_default=True,
)
@click.option("--partition-by", multiple=True, help="A target partition column (repeatable).")
@click.option("--mapping", multiple=True, help="'src_col:src_type->dst_col:dst_type' (repeatable).")
@click.option("--filter", "filter_", help="A Spark SQL condition on source columns.")
@click.option("--sql", help="A SQL transform over the view `mapped`.")
@click.option("--join", help="DB.TABLE:col1,col2[:how] joined with the source.")
@click.option("--drop-null-fields", is_flag=True, help="Drop columns null in every row.")
@click.option("--dedupe", is_flag=True, help="Drop duplicate rows.")
@click.option(
    "--mode", type=click.Choice(["append", "overwrite"]), default="append", show_default=True
)
@click.option("--script", help="A hand-written script instead (path, relative to the workspace).")
@click.option("--command", "command", type=click.Choice(["glueetl", "pythonshell"]))
@click.option("--arg", "args", multiple=True, help="A default argument --K=V (repeatable).")
@click.option("--max-retries", type=int)
@click.option("--timeout", type=int, help="Minutes (default 480).")
@click.option("--max-concurrent-runs", type=int)
@click.option("--worker-type", help="G.025X, G.1X, G.2X, G.4X, G.8X or Standard.")
@click.option("--number-of-workers", type=int)
@click.option("--cluster", help="Run on this cluster (`sparkglue cluster`) by default.")
@click.option("--bookmarks", type=click.Choice(["enable", "pause", "disable"]))
@click.option("--overwrite-script", is_flag=True, help="Replace an existing generated script.")
@pass_state
def create_job(state: CliState, /, name: str, **o: Any) -> None:
    """Create a job: generated from a source, a target and mappings, or a given script."""
    values: dict[str, Any] = {}
    if o["spec_file"]:
        from_file = load_spec_file(JobSpec, o["spec_file"])
        values = from_file.model_dump(mode="json", exclude_none=True)
    values["Name"] = name
    generated: dict[str, Any] = dict(values.get("Generated") or {})
    for flag, key in (("source", "Source"), ("target", "Target"), ("path", "Path")):
        if o[flag]:
            generated[key] = o[flag]
    if o["mapping"]:
        generated["Mappings"] = list(o["mapping"])
    if o["partition_by"]:
        generated["PartitionBy"] = list(o["partition_by"])
    if o["filter_"]:
        generated["Filter"] = o["filter_"]
    if o["sql"]:
        generated["Sql"] = o["sql"]
    if o["join"]:
        parts = o["join"].split(":")
        if len(parts) not in (2, 3):
            raise click.BadParameter("use DB.TABLE:col1,col2[:how]", param_hint="--join")
        generated["Join"] = {"Table": parts[0], "On": parts[1].split(",")}
        if len(parts) == 3:
            generated["Join"]["How"] = parts[2]
    if o["drop_null_fields"]:
        generated["DropNullFields"] = True
    if o["dedupe"]:
        generated["Dedupe"] = True
    if generated or not o["script"]:
        generated.setdefault("Format", o["fmt"])
        generated.setdefault("WriteMode", o["mode"])
        values["Generated"] = generated
    command = dict(values.get("Command") or {})
    command.setdefault("ScriptLocation", o["script"] or f"scripts/{name}.py")
    if o["command"]:
        command["Name"] = o["command"]
    values["Command"] = command
    defaults = dict(values.get("DefaultArguments") or {})
    defaults.update(parse_pairs(o["args"], "--arg"))
    if o["bookmarks"]:
        defaults["--job-bookmark-option"] = f"job-bookmark-{o['bookmarks']}"
    if defaults:
        values["DefaultArguments"] = defaults
    for flag, key in (
        ("max_retries", "MaxRetries"),
        ("timeout", "Timeout"),
        ("worker_type", "WorkerType"),
        ("number_of_workers", "NumberOfWorkers"),
        ("cluster", "Cluster"),
    ):
        if o[flag] is not None:
            values[key] = o[flag]
    if o["max_concurrent_runs"] is not None:
        values["ExecutionProperty"] = {"MaxConcurrentRuns": o["max_concurrent_runs"]}
    spec = build(JobSpec, "job", **values)
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.jobs.create_job(spec, overwrite_script=o["overwrite_script"])
        path = ws.jobs.script_path(spec)
    console.step(f"Job {name} created; script {path}")


@job.command("list")
@output_option
@pass_state
def list_jobs(state: CliState, output: str) -> None:
    """List jobs with their last run."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = []
        for spec in ws.jobs.list_jobs():
            runs = ws.jobs.list_runs(spec.Name)
            last = runs[0] if runs else None
            rows.append(
                [
                    spec.Name,
                    spec.Command.Name,
                    spec.Command.ScriptLocation,
                    last.state if last else None,
                    last.started_at if last else None,
                ]
            )
    console.table("Jobs", ["name", "command", "script", "last_run", "last_run_at"], rows)


@job.command("show")
@click.argument("name")
@output_option
@pass_state
def show_job(state: CliState, name: str, output: str) -> None:
    """Show a job's definition."""
    console = console_for(output)
    with state.open(console) as ws:
        spec = ws.jobs.get_job(name)
    console.record(spec.model_dump(mode="json", exclude_none=True))


@job.command("script")
@click.argument("name")
@pass_state
def show_script(state: CliState, name: str) -> None:
    """Print a job's script."""
    with state.open(TerminalConsole()) as ws:
        path = ws.jobs.script_path(ws.jobs.get_job(name))
    try:
        click.echo(path.read_text(encoding="utf-8"), nl=False)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def _print_run(console: Any, run: JobRun) -> None:
    m = run.metrics
    line = f"Job run {run.id} (attempt {run.attempt}) {run.state}"
    if "ExecutionTime" in m:
        line += f" in {m['ExecutionTime']} s"
    if "records_read" in m:
        line += (
            f": {m['records_read']} records read, {m.get('records_written', 0)} written, "
            f"{m.get('bytes_written', 0)} bytes"
        )
    if run.cluster:
        line += f" on cluster {run.cluster} ({m.get('submitted_via', 'not started')})"
    if run.state in ("SUCCEEDED",):
        console.step(line)
    else:
        console.warning(line + (f": {run.error_message}" if run.error_message else ""))


@job.command("run")
@click.argument("name")
@click.option("--arg", "args", multiple=True, help="A run argument --K=V (repeatable).")
@click.option("--timeout", type=float, help="Minutes, for this run only.")
@click.option("--cluster", help="Run on this cluster (`sparkglue cluster`).")
@click.option("--wait", is_flag=True, help="Wait for the run (and its retries) to end.")
@pass_state
def run_job(
    state: CliState,
    name: str,
    args: tuple[str, ...],
    timeout: float | None,
    cluster: str | None,
    wait: bool,
) -> None:
    """Start a run (its own process); --wait follows it to the end."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run_id = ws.jobs.start_run(
            name, parse_pairs(args, "--arg"), timeout_minutes=timeout, cluster=cluster
        )
        ws.jobs.launch(run_id)
        console.step(f"Job run {run_id} started; `sparkglue job logs {run_id} --follow`")
        if not wait:
            return
        with console.status(f"Running {name}"):
            run = ws.jobs.wait(run_id, poll=0.2)
        _print_run(console, run)
    if run.state != "SUCCEEDED":
        raise SystemExit(1)


@job.command("stop")
@click.argument("run_id")
@pass_state
def stop_run(state: CliState, run_id: str) -> None:
    """Stop a run and its whole process tree."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.jobs.stop_run(run_id)
        run = ws.jobs.wait(run_id, poll=0.2)
    _print_run(console, run)


@job.command("runs")
@click.argument("name")
@output_option
@pass_state
def list_runs(state: CliState, name: str, output: str) -> None:
    """A job's runs, newest first."""
    console = console_for(output)
    with state.open(console) as ws:
        runs = ws.jobs.list_runs(name)
    console.table(
        f"Runs of {name}",
        ["id", "attempt", "state", "cluster", "started_at", "seconds", "read", "written", "error"],
        [
            [
                r.id,
                r.attempt,
                r.state,
                r.cluster or "",
                r.started_at,
                r.metrics.get("ExecutionTime"),
                r.metrics.get("records_read"),
                r.metrics.get("records_written"),
                r.error_message,
            ]
            for r in runs
        ],
    )


@job.command("logs")
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the run ends.")
@pass_state
def logs(state: CliState, run_id: str, follow: bool) -> None:
    """Print a run's log."""
    with state.open(TerminalConsole()) as ws:
        path = ws.jobs.logs(run_id)
        offset = 0
        while True:
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    click.echo(chunk.decode("utf-8", "replace"), nl=False)
            if not follow or ws.jobs.get_run(run_id).state in FINAL_STATES:
                if follow and path.exists() and path.stat().st_size > offset:
                    continue
                return
            time.sleep(0.5)


@job.command("delete")
@click.argument("name")
@pass_state
def delete_job(state: CliState, name: str) -> None:
    """Delete a job, its runs and bookmarks (the script file stays)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.jobs.delete_job(name)
    console.step(f"Job {name} deleted")


@job.group("bookmark")
def bookmark() -> None:
    """A job's bookmark: what its runs have processed."""


@bookmark.command("show")
@click.argument("name")
@output_option
@pass_state
def bookmark_show(state: CliState, name: str, output: str) -> None:
    """Committed bookmark versions (files processed per transformation_ctx)."""
    console = console_for(output)
    with state.open(console) as ws:
        versions = ws.jobs.bookmark_versions(name)
    console.table(
        f"Bookmark of {name}",
        ["version", "run_id", "created_at", "files per transformation_ctx"],
        [[v["version"], v["run_id"], v["created_at"], v["contexts"]] for v in versions],
    )


@bookmark.command("reset")
@click.argument("name")
@pass_state
def bookmark_reset(state: CliState, name: str) -> None:
    """Forget everything processed: the next run reads all."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.jobs.reset_bookmark(name)
    console.step(f"Bookmark of {name} reset")


@bookmark.command("rewind")
@click.argument("name")
@pass_state
def bookmark_rewind(state: CliState, name: str) -> None:
    """Undo the last committed run's bookmark."""
    console = TerminalConsole()
    with state.open(console) as ws:
        version = ws.jobs.rewind_bookmark(name)
    console.step(f"Bookmark of {name} rewound to version {version}")
