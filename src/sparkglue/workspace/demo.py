"""The end-to-end demo pipeline on the bundled penguins dataset.

Stage by stage it grows with the platform; today: a fresh workspace, the raw bucket laid out as
Hive partitions, a crawler that finds the raw table and its partitions, and Spark SQL over it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkglue.catalog import DatabaseInput
from sparkglue.config import Settings
from sparkglue.console import Console, NullConsole
from sparkglue.crawler import CrawlerSpec
from sparkglue.datasets import write_penguins_raw_bucket
from sparkglue.errors import WorkspaceError
from sparkglue.workspace.workspace import Workspace

__all__ = ["DEMO_MARKER", "SPECIES_BY_YEAR_SQL", "DemoResult", "run_demo"]

DEMO_MARKER = ".sparkglue-demo"
DEMO_CRAWLER = "raw_penguins"
SPECIES_BY_YEAR_SQL = (
    "SELECT species, year, count(*) AS penguins "
    "FROM raw.penguins GROUP BY species, year ORDER BY species, year"
)


@dataclass
class DemoResult:
    workspace: Path
    raw_rows: int
    crawl_run: str | None = None
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

    if not any(d.name == "raw" for d in ws.catalog.list_databases()):
        ws.catalog.create_database(
            DatabaseInput(name="raw", description="Raw data as it arrived", location_uri="raw")
        )
    elif any(t.name == "penguins" for t in ws.catalog.list_tables("raw")):
        # A shared (PostgreSQL) metadata store outlives the folder: start the demo table afresh.
        ws.catalog.delete_table("raw", "penguins")
    bucket_root = ws.settings.lake_root / "raw" / "penguins"
    bucket = write_penguins_raw_bucket(bucket_root)
    result.raw_rows = bucket.rows
    console.step(
        f"Raw bucket laid out: {bucket.rows} rows in {len(bucket.files)} files "
        f"(year={', '.join(bucket.rows_per_year)}) under {bucket_root}"
    )

    if any(c.name == DEMO_CRAWLER for c in ws.crawlers.list_crawlers()):
        ws.crawlers.delete_crawler(DEMO_CRAWLER)
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": DEMO_CRAWLER,
                "DatabaseName": "raw",
                "Description": "Finds the raw penguins table and its year partitions",
                "Targets": {"S3Targets": [{"Path": "raw/penguins"}]},
            }
        )
    )
    run = ws.crawlers.run(DEMO_CRAWLER)
    if run.state != "SUCCEEDED":
        raise WorkspaceError(f"the demo crawl {run.id} ended {run.state}: {run.error_message}")
    table = ws.catalog.get_table("raw", "penguins")
    result.crawl_run = run.id
    console.step(
        f"Crawler {DEMO_CRAWLER} found table {table.full_name}: {table.classification}, "
        f"{len(table.columns)} columns, partition key {table.partition_keys[0].name}, "
        f"{len(ws.catalog.get_partitions('raw', 'penguins'))} partitions, "
        f"~{table.parameters.get('recordCount')} records (crawl {run.id}, "
        f"{run.metrics.get('LastRuntimeSeconds')} s)"
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
        f"  .venv/bin/sparkglue crawler explain {run.id}\n"
        "  .venv/bin/sparkglue catalog partitions raw.penguins --filter \"year >= '2008'\"\n"
        '  .venv/bin/sparkglue catalog sql "SELECT count(*) FROM raw.penguins"'
    )
    ws.close()
    return result
