"""``sparkglue classifier …`` and ``sparkglue crawler …``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sparkglue.catalog import load_spec_file
from sparkglue.cli.common import CliState, build, console_for, output_option, pass_state
from sparkglue.console import TerminalConsole
from sparkglue.crawler import (
    CrawlerSpec,
    CsvClassifierSpec,
    GrokClassifierSpec,
    JsonClassifierSpec,
    XmlClassifierSpec,
)
from sparkglue.crawler.service import CrawlRun
from sparkglue.errors import InvalidInput


@click.group()
def classifier() -> None:
    """Custom classifiers: grok, CSV, JSON and XML."""


def _text_or_file(value: str | None) -> str | None:
    if value and value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return value


@classifier.command("create-grok")
@click.argument("name")
@click.option("--classification", required=True, help="The classification tables get.")
@click.option(
    "--pattern", required=True, help="The grok pattern, e.g. '%{IP:client} %{WORD:verb}'."
)
@click.option("--custom-patterns", help="'NAME regex' lines, or @FILE.")
@pass_state
def create_grok(
    state: CliState, name: str, classification: str, pattern: str, custom_patterns: str | None
) -> None:
    """Create a grok classifier."""
    spec = build(
        GrokClassifierSpec,
        "classifier",
        Name=name,
        Classification=classification,
        GrokPattern=pattern,
        CustomPatterns=_text_or_file(custom_patterns),
    )
    _create(state, spec)


@classifier.command("create-csv")
@click.argument("name")
@click.option("--delimiter", help="One character; default: try , | tab ; Ctrl-A.")
@click.option("--quote", "quote", default='"', show_default=True, help="The quote character.")
@click.option(
    "--contains-header",
    type=click.Choice(["UNKNOWN", "PRESENT", "ABSENT"]),
    default="UNKNOWN",
    show_default=True,
)
@click.option("--header", help="Column names, comma-separated.")
@click.option("--disable-value-trimming", is_flag=True)
@click.option("--allow-single-column", is_flag=True)
@pass_state
def create_csv(
    state: CliState,
    name: str,
    delimiter: str | None,
    quote: str,
    contains_header: str,
    header: str | None,
    disable_value_trimming: bool,
    allow_single_column: bool,
) -> None:
    """Create a CSV classifier."""
    spec = build(
        CsvClassifierSpec,
        "classifier",
        Name=name,
        Delimiter=delimiter,
        QuoteSymbol=quote,
        ContainsHeader=contains_header,
        Header=[h.strip() for h in header.split(",")] if header else [],
        DisableValueTrimming=disable_value_trimming,
        AllowSingleColumn=allow_single_column,
    )
    _create(state, spec)


@classifier.command("create-json")
@click.argument("name")
@click.option("--json-path", required=True, help="Where records are: $, $[*], $.items[*] …")
@pass_state
def create_json(state: CliState, name: str, json_path: str) -> None:
    """Create a JSON classifier."""
    _create(state, build(JsonClassifierSpec, "classifier", Name=name, JsonPath=json_path))


@classifier.command("create-xml")
@click.argument("name")
@click.option("--classification", required=True)
@click.option("--row-tag", required=True, help="The element that holds one record.")
@pass_state
def create_xml(state: CliState, name: str, classification: str, row_tag: str) -> None:
    """Create an XML classifier."""
    _create(
        state,
        build(
            XmlClassifierSpec,
            "classifier",
            Name=name,
            Classification=classification,
            RowTag=row_tag,
        ),
    )


def _create(state: CliState, spec: Any) -> None:
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.crawlers.create_classifier(spec)
    console.step(f"Classifier {spec.Name} created")


@classifier.command("list")
@output_option
@pass_state
def list_classifiers(state: CliState, output: str) -> None:
    """List custom classifiers."""
    console = console_for(output)
    with state.open(console) as ws:
        found = ws.crawlers.list_classifiers()
    rows = [
        [
            c["name"],
            c["kind"],
            c.get("classification"),
            c.get("grok_pattern") or c.get("json_path") or c.get("row_tag") or c.get("delimiter"),
        ]
        for c in found
    ]
    console.table("Classifiers", ["name", "kind", "classification", "rule"], rows)


@classifier.command("delete")
@click.argument("name")
@pass_state
def delete_classifier(state: CliState, name: str) -> None:
    """Delete a custom classifier."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.crawlers.delete_classifier(name)
    console.step(f"Classifier {name} deleted")


# ---- crawlers ----------------------------------------------------------------------------------


@click.group()
def crawler() -> None:
    """Crawlers: find tables in folders and databases."""


def _crawler_options(func: Any) -> Any:
    options = [
        click.option(
            "--spec",
            "spec_path",
            type=click.Path(dir_okay=False),
            help="A YAML/JSON file with Glue's CreateCrawler fields.",
        ),
        click.option("--database", help="DatabaseName: where tables go."),
        click.option(
            "--path", "paths", multiple=True, help="A folder to crawl (lake-relative or absolute)."
        ),
        click.option(
            "--jdbc",
            "jdbc",
            multiple=True,
            metavar="CONNECTION:DB/SCHEMA/TABLE",
            help="A JDBC target, e.g. shop:shop/public/%.",
        ),
        click.option(
            "--exclude", "excludes", multiple=True, help="An exclusion glob (all targets)."
        ),
        click.option("--table-prefix", help="TablePrefix."),
        click.option(
            "--classifier", "classifiers", multiple=True, help="A custom classifier, in order."
        ),
        click.option("--update-behavior", type=click.Choice(["LOG", "UPDATE_IN_DATABASE"])),
        click.option(
            "--delete-behavior",
            type=click.Choice(["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"]),
        ),
        click.option(
            "--recrawl-behavior", type=click.Choice(["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"])
        ),
        click.option("--table-level", type=int, help="TableLevelConfiguration."),
        click.option(
            "--combine-compatible-schemas",
            is_flag=True,
            default=None,
            help="TableGroupingPolicy: CombineCompatibleSchemas.",
        ),
        click.option("--sample-size", type=int, help="Files sampled per leaf folder (1-249)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _spec_from(name: str | None, base: dict[str, Any], options: dict[str, Any]) -> CrawlerSpec:
    spec = dict(base)
    if name:
        spec["Name"] = name
    if options["database"]:
        spec["DatabaseName"] = options["database"]
    targets = dict(spec.get("Targets") or {})
    if options["paths"]:
        targets["S3Targets"] = [
            {
                "Path": p,
                "Exclusions": list(options["excludes"]),
                **({"SampleSize": options["sample_size"]} if options["sample_size"] else {}),
            }
            for p in options["paths"]
        ]
    if options["jdbc"]:
        jdbc = []
        for item in options["jdbc"]:
            connection, sep, path = item.partition(":")
            if not sep:
                raise click.BadParameter(f"'{item}' is not CONNECTION:PATH", param_hint="--jdbc")
            jdbc.append(
                {
                    "ConnectionName": connection,
                    "Path": path,
                    "Exclusions": list(options["excludes"]),
                }
            )
        targets["JdbcTargets"] = jdbc
    if targets:
        spec["Targets"] = targets
    if options["table_prefix"] is not None:
        spec["TablePrefix"] = options["table_prefix"]
    if options["classifiers"]:
        spec["Classifiers"] = list(options["classifiers"])
    policy = dict(spec.get("SchemaChangePolicy") or {})
    if options["update_behavior"]:
        policy["UpdateBehavior"] = options["update_behavior"]
    if options["delete_behavior"]:
        policy["DeleteBehavior"] = options["delete_behavior"]
    if policy:
        spec["SchemaChangePolicy"] = policy
    if options["recrawl_behavior"]:
        spec["RecrawlPolicy"] = {"RecrawlBehavior": options["recrawl_behavior"]}
    configuration = spec.get("Configuration") or {}
    if isinstance(configuration, str):
        configuration = json.loads(configuration) if configuration.strip() else {}
    grouping = dict(configuration.get("Grouping") or {})
    if options["table_level"] is not None:
        grouping["TableLevelConfiguration"] = options["table_level"]
    if options["combine_compatible_schemas"]:
        grouping["TableGroupingPolicy"] = "CombineCompatibleSchemas"
    if grouping:
        spec["Configuration"] = {**configuration, "Grouping": grouping}
    return build(CrawlerSpec, "crawler", **spec)


def _load_base(spec_path: str | None) -> dict[str, Any]:
    if not spec_path:
        return {}
    return load_spec_file(CrawlerSpec, spec_path).model_dump(mode="json", exclude_none=True)


@crawler.command("create")
@click.argument("name", required=False)
@_crawler_options
@pass_state
def create_crawler(
    state: CliState, /, name: str | None, spec_path: str | None, **options: Any
) -> None:
    """Create a crawler from flags or a spec file (flags win)."""
    spec = _spec_from(name, _load_base(spec_path), options)
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.crawlers.create_crawler(spec)
    console.step(
        f"Crawler {spec.Name} created; run it with `sparkglue crawler run {spec.Name} --wait`"
    )


@crawler.command("update")
@click.argument("name")
@_crawler_options
@pass_state
def update_crawler(state: CliState, /, name: str, spec_path: str | None, **options: Any) -> None:
    """Change a crawler: the flags (or spec file) given replace those fields."""
    console = TerminalConsole()
    with state.open(console) as ws:
        current = ws.crawlers.get_crawler(name).spec.model_dump(mode="json", exclude_none=True)
        base = {**current, **_load_base(spec_path)}
        spec = _spec_from(name, base, options)
        ws.crawlers.update_crawler(spec)
    console.step(f"Crawler {name} updated")


@crawler.command("list")
@output_option
@pass_state
def list_crawlers(state: CliState, output: str) -> None:
    """List crawlers."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = []
        for c in ws.crawlers.list_crawlers():
            runs = ws.crawlers.list_runs(c.name)
            last = runs[0] if runs else None
            rows.append(
                [
                    c.name,
                    c.state,
                    c.spec.DatabaseName,
                    ", ".join(t.Path for t in c.spec.Targets.S3Targets)
                    or ", ".join(t.Path for t in c.spec.Targets.JdbcTargets),
                    last.state if last else None,
                    last.started_at if last else None,
                ]
            )
    console.table(
        "Crawlers", ["name", "state", "database", "targets", "last_run", "last_run_at"], rows
    )


@crawler.command("show")
@click.argument("name")
@output_option
@pass_state
def show_crawler(state: CliState, name: str, output: str) -> None:
    """Show a crawler's definition and state."""
    console = console_for(output)
    with state.open(console) as ws:
        record = ws.crawlers.get_crawler(name)
    console.record(
        {
            "Name": record.name,
            "State": record.state,
            "CreationTime": record.created_at,
            "LastUpdated": record.updated_at,
            **record.spec.model_dump(mode="json", exclude_none=True, exclude={"Name"}),
        }
    )


def _print_run(console: Any, run: CrawlRun) -> None:
    m = run.metrics
    summary = (
        f"Crawl {run.id} {run.state}: {m.get('TablesCreated', 0)} tables created, "
        f"{m.get('TablesUpdated', 0)} updated, {m.get('TablesDeleted', 0)} deleted; "
        f"{m.get('PartitionsAdded', 0)} partitions added; {m.get('FilesRead', 0)} files "
        f"read, {m.get('FilesSkipped', 0)} skipped in {m.get('LastRuntimeSeconds', 0)} s"
    )
    if run.state == "SUCCEEDED":
        console.step(summary)
    else:
        console.warning(summary + (f" — {run.error_message}" if run.error_message else ""))


@crawler.command("run")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Crawl here and wait for the result.")
@pass_state
def run_crawler(state: CliState, name: str, wait: bool) -> None:
    """Start a crawl (in the background unless --wait)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run_id = ws.crawlers.start_run(name)
        if wait:
            run = ws.crawlers.execute(run_id)
            _print_run(console, run)
            console.message(f"Why each file went where it did: sparkglue crawler explain {run.id}")
            if run.state != "SUCCEEDED":
                raise SystemExit(1)
            return
        ws.crawlers.launch(run_id)
    console.step(f"Crawl {run_id} started; follow it with `sparkglue crawler runs {name}`")


@crawler.command("stop")
@click.argument("name")
@pass_state
def stop_crawler(state: CliState, name: str) -> None:
    """Stop a running crawl (it ends CANCELLED at its next check)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run_id = ws.crawlers.stop_crawler(name)
    console.step(f"Crawl {run_id} of {name} is stopping")


@crawler.command("runs")
@click.argument("name")
@output_option
@pass_state
def list_runs(state: CliState, name: str, output: str) -> None:
    """List a crawler's runs, newest first."""
    console = console_for(output)
    with state.open(console) as ws:
        ws.crawlers.recover()
        runs = ws.crawlers.list_runs(name)
    rows = [
        [
            r.id,
            r.state,
            r.started_at,
            r.finished_at,
            r.metrics.get("TablesCreated"),
            r.metrics.get("TablesUpdated"),
            r.metrics.get("TablesDeleted"),
            r.metrics.get("PartitionsAdded"),
            r.metrics.get("FilesRead"),
            r.metrics.get("FilesSkipped"),
            r.metrics.get("LastRuntimeSeconds"),
            r.error_message,
        ]
        for r in runs
    ]
    console.table(
        f"Runs of {name}",
        [
            "id",
            "state",
            "started_at",
            "finished_at",
            "created",
            "updated",
            "deleted",
            "partitions_added",
            "files_read",
            "files_skipped",
            "seconds",
            "error",
        ],
        rows,
    )


@crawler.command("explain")
@click.argument("run_id")
@click.option("--file", "file_glob", help="Only files whose path contains this text.")
@output_option
@pass_state
def explain(state: CliState, run_id: str, file_glob: str | None, output: str) -> None:
    """Why a crawl run did what it did: each file's classifiers, certainty, winner, schema."""
    console = console_for(output)
    with state.open(console) as ws:
        run, files = ws.crawlers.explain(run_id)
    if file_glob:
        files = [f for f in files if file_glob in f["path"]]
    if output == "json":
        console.record({**run.as_dict(), "files": files})
        return
    _print_run(console, run)
    for line in run.metrics.get("Decisions", []):
        console.message(f"  {line}")
    rows = []
    for f in files:
        tried = "; ".join(f"{t['classifier']} {t['certainty']:g}" for t in f.get("tried", []))
        schema = ", ".join(f"{n}:{t}" for n, t in f.get("schema", []))
        rows.append(
            [
                f["path"],
                f.get("classification"),
                f.get("winner"),
                tried,
                f.get("skipped") or (schema[:80] + ("…" if len(schema) > 80 else "")),
            ]
        )
    console.table(
        f"Files of {run.id}",
        ["file", "classification", "winner", "tried (certainty)", "schema or why skipped"],
        rows,
    )


@crawler.command("delete")
@click.argument("name")
@pass_state
def delete_crawler(state: CliState, name: str) -> None:
    """Delete a crawler and its run history (its tables stay)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.crawlers.delete_crawler(name)
    console.step(f"Crawler {name} deleted")
