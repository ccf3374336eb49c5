"""The end-to-end demo pipeline on the bundled penguins dataset.

Stage by stage it grows with the platform; today: a fresh workspace, the raw bucket laid out as
Hive partitions, the raw table registered in the catalog from its spec, and Spark SQL over it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkglue.catalog import DatabaseInput, PartitionInput, parse_table_spec
from sparkglue.config import Settings
from sparkglue.console import Console, NullConsole
from sparkglue.datasets import penguins_table_spec_text, write_penguins_raw_bucket
from sparkglue.errors import WorkspaceError
from sparkglue.workspace.workspace import Workspace

__all__ = ["DEMO_MARKER", "SPECIES_BY_YEAR_SQL", "DemoResult", "run_demo"]

DEMO_MARKER = ".sparkglue-demo"
SPECIES_BY_YEAR_SQL = (
    "SELECT Species AS species, year, count(*) AS penguins "
    "FROM raw.penguins GROUP BY Species, year ORDER BY species, year"
)


@dataclass
class DemoResult:
    workspace: Path
    raw_rows: int
    species_by_year: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _fresh_workspace(settings: Settings) -> None:
    root = settings.workspace
    if not root.exists():
        return
    if not (root / DEMO_MARKER).exists():
        raise WorkspaceError(
            f"{root} exists and was not made by the demo; pass --workspace NEW_DIR for the demo "
            "or remove that folder"
        )
    shutil.rmtree(root)


def run_demo(settings: Settings, console: Console | None = None) -> DemoResult:
    """Run the demo into the workspace of ``settings`` (recreated if the demo made it)."""
    console = console or NullConsole()
    _fresh_workspace(settings)
    clock = time.perf_counter()
    ws = Workspace.init(settings=settings, console=console)
    (ws.path / DEMO_MARKER).write_text(
        "created by `sparkglue demo`; rerunning it recreates this folder\n"
    )
    result = DemoResult(workspace=ws.path, raw_rows=0)
    console.step(f"Workspace created at {ws.path} (metadata: {ws.store.dialect})")

    spec = parse_table_spec(penguins_table_spec_text(), "bundled penguins table spec")
    if any(d.name == spec.database for d in ws.catalog.list_databases()):
        # A shared (PostgreSQL) metadata store outlives the folder: start the demo table afresh.
        if any(t.name == spec.name for t in ws.catalog.list_tables(spec.database)):
            ws.catalog.delete_table(spec.database, spec.name)
    else:
        ws.catalog.create_database(
            DatabaseInput(
                name=spec.database, description="Raw data as it arrived", location_uri="raw"
            )
        )
    table_input = spec.table_input()
    bucket_root = Path(ws.catalog.resolve_location(table_input.location or "raw/penguins"))
    bucket = write_penguins_raw_bucket(bucket_root)
    result.raw_rows = bucket.rows
    console.step(
        f"Raw bucket laid out: {bucket.rows} rows in {len(bucket.files)} partitions "
        f"(year={', '.join(bucket.rows_per_year)}) under {bucket_root}"
    )

    partitions = [
        PartitionInput(
            values=[year],
            parameters={
                "recordCount": str(rows),
                "sizeKey": str(bucket.files[year].stat().st_size),
            },
        )
        for year, rows in bucket.rows_per_year.items()
    ]
    size = sum(f.stat().st_size for f in bucket.files.values())
    table_input = table_input.model_copy(
        update={
            "parameters": {
                **table_input.parameters,
                "recordCount": str(bucket.rows),
                "sizeKey": str(size),
                "objectCount": str(len(bucket.files)),
                "averageRecordSize": str(size // max(bucket.rows, 1)),
                "compressionType": "none",
                "typeOfData": "file",
            }
        }
    )
    table = ws.catalog.create_table(spec.database, table_input, partitions)
    console.step(
        f"Table {table.full_name} registered from its spec: {len(table.columns)} columns, "
        f"partition key {table.partition_keys[0].name}, {len(partitions)} partitions"
    )
    result.seconds["prepare"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ws.spark()
    result.seconds["spark_start"] = time.perf_counter() - clock
    clock = time.perf_counter()
    rows = [r.asDict() for r in ws.sql(SPECIES_BY_YEAR_SQL).collect()]
    result.seconds["query"] = time.perf_counter() - clock
    result.species_by_year = rows
    console.table(
        "Penguins per species and year (Spark SQL over raw.penguins)",
        ["species", "year", "penguins"],
        [[r["species"], r["year"], r["penguins"]] for r in rows],
    )
    total = sum(r["penguins"] for r in rows)
    console.step(
        f"Spark SQL counted {total} penguins (Spark start {result.seconds['spark_start']:.1f} s, "
        f"query {result.seconds['query']:.1f} s)"
    )
    console.message(
        f"\nThe demo workspace is {ws.path}. Explore it:\n"
        "  .venv/bin/sparkglue catalog tables raw\n"
        "  .venv/bin/sparkglue catalog partitions raw.penguins --filter \"year >= '2008'\"\n"
        '  .venv/bin/sparkglue catalog sql "SELECT count(*) FROM raw.penguins"'
    )
    ws.close()
    return result
