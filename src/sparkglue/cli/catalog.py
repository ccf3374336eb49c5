"""``sparkglue catalog …``: databases, tables, versions, partitions and SQL."""

from __future__ import annotations

import click

from sparkglue.catalog import DatabaseInput, load_table_spec, split_table_name
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


@click.group()
def catalog() -> None:
    """The Data Catalog: databases, tables, versions, partitions, SQL."""


@catalog.command("databases")
@output_option
@pass_state
def databases(state: CliState, output: str) -> None:
    """List databases."""
    console = console_for(output)
    with state.open(console) as ws:
        rows = [
            [
                d.name,
                d.description,
                d.location_uri,
                ws.catalog.count_tables(d.name),
                d.created_at,
            ]
            for d in ws.catalog.list_databases()
        ]
    console.table("Databases", ["name", "description", "location", "tables", "created_at"], rows)


@catalog.command("create-database")
@click.argument("name")
@click.option("--description", help="What the database holds.")
@click.option("--location", help="Its folder, relative to the lake or absolute.")
@click.option("--parameter", "parameters", multiple=True, metavar="K=V", help="A parameter.")
@pass_state
def create_database(
    state: CliState,
    name: str,
    description: str | None,
    location: str | None,
    parameters: tuple[str, ...],
) -> None:
    """Create a database."""
    console = TerminalConsole()
    database = build(
        DatabaseInput,
        "database",
        name=name,
        description=description,
        location_uri=location,
        parameters=parse_pairs(parameters, "--parameter"),
    )
    with state.open(console) as ws:
        ws.catalog.create_database(database)
    console.step(f"Database {database.name} created")


@catalog.command("delete-database")
@click.argument("name")
@click.option("--cascade", is_flag=True, help="Also delete the tables in it.")
@pass_state
def delete_database(state: CliState, name: str, cascade: bool) -> None:
    """Delete a database (with --cascade, also its tables)."""
    console = TerminalConsole()
    with state.open(console) as ws:
        ws.catalog.delete_database(name, cascade=cascade)
    console.step(f"Database {name} deleted")


@catalog.command("tables")
@click.argument("database")
@output_option
@pass_state
def tables(state: CliState, database: str, output: str) -> None:
    """List the tables of DATABASE."""
    console = console_for(output)
    with state.open(console) as ws:
        found = ws.catalog.list_tables(database)
    rows = [
        [
            t.name,
            t.classification,
            len(t.columns),
            ",".join(k.name for k in t.partition_keys),
            t.version,
            t.deprecated,
            t.location,
        ]
        for t in found
    ]
    console.table(
        f"Tables in {database}",
        [
            "name",
            "classification",
            "columns",
            "partition_keys",
            "version",
            "deprecated",
            "location",
        ],
        rows,
    )


@catalog.command("show")
@click.argument("table")
@click.option("--version", "version", type=int, help="Show this version instead of the current.")
@output_option
@pass_state
def show(state: CliState, table: str, version: int | None, output: str) -> None:
    """Show a table (DB.TABLE) in full."""
    console = console_for(output)
    database, name = split_table_name(table)
    with state.open(console) as ws:
        current = ws.catalog.get_table(database, name)
        if version is None:
            data = current.model_dump(mode="json")
        else:
            stored = ws.catalog.get_table_version(database, name, version)
            data = {
                "database": database,
                "version": stored.version,
                "current_version": current.version,
                "created_at": stored.created_at,
                **stored.table_input.model_dump(mode="json"),
            }
    console.record(data)


@catalog.command("versions")
@click.argument("table")
@output_option
@pass_state
def versions(state: CliState, table: str, output: str) -> None:
    """List the stored versions of a table (DB.TABLE)."""
    console = console_for(output)
    database, name = split_table_name(table)
    with state.open(console) as ws:
        current = ws.catalog.get_table(database, name).version
        found = ws.catalog.list_table_versions(database, name)
    rows = [
        [
            v.version,
            v.version == current,
            v.created_at,
            len(v.table_input.columns),
            ", ".join(f"{c.name}:{c.type}" for c in v.table_input.columns)[:120],
        ]
        for v in found
    ]
    console.table(
        f"Versions of {database}.{name}",
        ["version", "current", "created_at", "columns", "schema"],
        rows,
    )


@catalog.command("diff")
@click.argument("table")
@click.argument("old", type=int)
@click.argument("new", type=int)
@output_option
@pass_state
def diff(state: CliState, table: str, old: int, new: int, output: str) -> None:
    """Show what changed in a table (DB.TABLE) from version OLD to version NEW."""
    console = console_for(output)
    database, name = split_table_name(table)
    with state.open(console) as ws:
        result = ws.catalog.diff_table_versions(database, name, old, new)
    if output == "json":
        console.record({"table": f"{database}.{name}", **result.as_dict()})
        return
    console.message(f"{database}.{name}: version {old} -> {new}")
    if not result.changes:
        console.message("  no differences")
    for change in result.changes:
        console.message("  " + change.describe())


@catalog.command("partitions")
@click.argument("table")
@click.option("--filter", "expression", help="A Glue partition filter, e.g. \"year >= '2008'\".")
@output_option
@pass_state
def partitions(state: CliState, table: str, expression: str | None, output: str) -> None:
    """List the partitions of a table (DB.TABLE), optionally filtered."""
    console = console_for(output)
    database, name = split_table_name(table)
    with state.open(console) as ws:
        keys = [k.name for k in ws.catalog.get_table(database, name).partition_keys]
        found = ws.catalog.get_partitions(database, name, expression)
    rows = [
        [
            "/".join(
                f"{k}={'NULL' if v is None else v}" for k, v in zip(keys, p.values, strict=True)
            ),
            p.location,
            p.parameters.get("recordCount"),
            p.created_at,
        ]
        for p in found
    ]
    console.table(
        f"Partitions of {database}.{name}" + (f" where {expression}" if expression else ""),
        ["partition", "location", "recordCount", "created_at"],
        rows,
    )


@catalog.command("create-table")
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="A YAML or JSON table spec (see docs/catalog.md).",
)
@pass_state
def create_table(state: CliState, spec_path: str) -> None:
    """Create a table (and its listed partitions) from a spec file."""
    console = TerminalConsole()
    spec = load_table_spec(spec_path)
    with state.open(console) as ws:
        table = ws.catalog.create_table(spec.database, spec.table_input(), spec.partitions)
    console.step(
        f"Table {table.full_name} created (version 1, {len(table.columns)} columns, "
        f"{len(spec.partitions)} partitions)"
    )


@catalog.command("update-table")
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The table's new spec (YAML or JSON).",
)
@click.option(
    "--expected-version", type=int, help="Fail unless the table is still at this version."
)
@pass_state
def update_table(state: CliState, spec_path: str, expected_version: int | None) -> None:
    """Replace a table's definition from a spec file, keeping the old one as a version."""
    console = TerminalConsole()
    spec = load_table_spec(spec_path)
    if spec.partitions:
        raise InvalidInput(
            f"{spec_path}: update-table changes the table only; remove the 'partitions' key"
        )
    with state.open(console) as ws:
        before = ws.catalog.get_table(spec.database, spec.name).version
        table = ws.catalog.update_table(
            spec.database, spec.table_input(), expected_version=expected_version
        )
    if table.version == before:
        console.step(f"Table {table.full_name} unchanged (still version {before})")
    else:
        console.step(f"Table {table.full_name} updated to version {table.version}")


@catalog.command("delete-table")
@click.argument("table")
@pass_state
def delete_table(state: CliState, table: str) -> None:
    """Delete a table (DB.TABLE) with its versions and partitions (not its files)."""
    console = TerminalConsole()
    database, name = split_table_name(table)
    with state.open(console) as ws:
        ws.catalog.delete_table(database, name)
    console.step(f"Table {database}.{name} deleted from the catalog (its files are kept)")


@catalog.command("sql")
@click.argument("query")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Show at most this many rows.",
)
@output_option
@pass_state
def sql(state: CliState, query: str, limit: int, output: str) -> None:
    """Run a Spark SQL QUERY over the catalog's tables."""
    console = console_for(output)
    with state.open(console) as ws:
        columns, rows, truncated = ws.query(query, limit)
    console.table("", columns, rows)
    if truncated:
        console.warning(f"showing the first {limit} rows; raise --limit to see more")
