"""The end-to-end demo pipeline on the bundled penguins dataset.

Stage by stage it grows with the platform; today: a fresh workspace, the raw bucket laid out as
Hive partitions, a crawler that finds the raw table and its partitions, a generated ETL job that
cleans it into ``lake/curated/penguins`` (Parquet by year) as its own spark-submit run, a crawl of
the curated folder, and Spark SQL over both.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkglue.catalog import DatabaseInput, load_spec_file
from sparkglue.config import Settings
from sparkglue.console import Console, NullConsole
from sparkglue.crawler import CrawlerSpec
from sparkglue.datasets import penguins_curated_job_file, write_penguins_raw_bucket
from sparkglue.errors import WorkspaceError
from sparkglue.jobs import JobSpec
from sparkglue.workspace.workspace import Workspace

__all__ = [
    "CURATED_SUMMARY_SQL",
    "DEMO_MARKER",
    "SPECIES_BY_YEAR_SQL",
    "DemoResult",
    "run_demo",
]

DEMO_MARKER = ".sparkglue-demo"
DEMO_CRAWLER = "raw_penguins"
CURATED_CRAWLER = "curated_penguins"
DEMO_JOB = "penguins_curated"
CURATED_SUMMARY_SQL = (
    "SELECT species, count(*) AS penguins, round(avg(flipper_length_mm), 1) AS flipper_mm, "
    "round(avg(body_mass_g)) AS body_mass_g FROM curated.penguins GROUP BY species ORDER BY species"
)
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
    job_run: str | None = None
    job_metrics: dict[str, Any] = field(default_factory=dict)
    curated_crawl_run: str | None = None
    curated_summary: list[dict[str, Any]] = field(default_factory=list)
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


def _crawl(ws: Workspace, name: str, database: str, path: str, description: str) -> Any:
    """(Re)create crawler ``name`` over ``path`` and crawl now; a failed crawl ends the demo."""
    if any(c.name == name for c in ws.crawlers.list_crawlers()):
        ws.crawlers.delete_crawler(name)
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": name,
                "DatabaseName": database,
                "Description": description,
                "Targets": {"S3Targets": [{"Path": path}]},
            }
        )
    )
    run = ws.crawlers.run(name)
    if run.state != "SUCCEEDED":
        raise WorkspaceError(f"the demo crawl {run.id} ended {run.state}: {run.error_message}")
    return run


def _run_cleaning_job(ws: Workspace, result: DemoResult, console: Console) -> None:
    """Create the generated cleaning job from the bundled spec and run it in its own process."""
    spec = load_spec_file(JobSpec, penguins_curated_job_file())
    if any(j.Name == spec.Name for j in ws.jobs.list_jobs()):
        ws.jobs.delete_job(spec.Name)
    ws.jobs.create_job(spec, overwrite_script=True)
    script = ws.jobs.script_path(spec)
    console.step(
        f"Job {spec.Name} generated from {len(spec.Generated.Mappings) if spec.Generated else 0} "
        f"column mappings: {script}"
    )
    run_id = ws.jobs.start_run(spec.Name)
    ws.jobs.launch(run_id)
    result.job_run = run_id
    with console.status(f"Running job {spec.Name} (spark-submit, run {run_id})"):
        run = ws.jobs.wait(run_id)
    if run.state != "SUCCEEDED":
        raise WorkspaceError(
            f"the demo job run {run.id} ended {run.state}: {run.error_message}; "
            f"see `sparkglue job logs {run.id}`"
        )
    m = run.metrics
    result.job_metrics = dict(m)
    console.step(
        f"Job run {run.id} SUCCEEDED in {m.get('ExecutionTime')} s: {m.get('records_read')} "
        f"records read, {m.get('records_written')} written ({m.get('bytes_written')} bytes of "
        f"Parquet under curated/penguins, Spark application {m.get('spark_application_id')})"
    )


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

    for database, description in (
        ("raw", "Raw data as it arrived"),
        ("curated", "Cleaned, typed data, ready for analysis and training"),
    ):
        if not any(d.name == database for d in ws.catalog.list_databases()):
            ws.catalog.create_database(
                DatabaseInput(name=database, description=description, location_uri=database)
            )
        elif any(t.name == "penguins" for t in ws.catalog.list_tables(database)):
            # A shared (PostgreSQL) metadata store outlives the folder: start afresh.
            ws.catalog.delete_table(database, "penguins")
    bucket_root = ws.settings.lake_root / "raw" / "penguins"
    bucket = write_penguins_raw_bucket(bucket_root)
    result.raw_rows = bucket.rows
    console.step(
        f"Raw bucket laid out: {bucket.rows} rows in {len(bucket.files)} files "
        f"(year={', '.join(bucket.rows_per_year)}) under {bucket_root}"
    )

    run = _crawl(
        ws, DEMO_CRAWLER, "raw", "raw/penguins", "Finds the raw penguins table and its partitions"
    )
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
    _run_cleaning_job(ws, result, console)
    result.seconds["job"] = time.perf_counter() - clock
    curated_run = _crawl(
        ws, CURATED_CRAWLER, "curated", "curated/penguins", "Checks the job's curated output"
    )
    result.curated_crawl_run = curated_run.id
    curated = ws.catalog.get_table("curated", "penguins")
    console.step(
        f"Crawler {CURATED_CRAWLER} crawled {curated.full_name}: {curated.classification}, "
        f"{len(curated.columns)} columns, "
        f"{len(ws.catalog.get_partitions('curated', 'penguins'))} partitions "
        f"(crawl {curated_run.id})"
    )

    clock = time.perf_counter()
    ws.spark()
    ws.refresh_tables()  # a session from an earlier demo in this process knows the old files
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
    clock = time.perf_counter()
    summary = [r.asDict() for r in ws.sql(CURATED_SUMMARY_SQL).collect()]
    result.curated_summary = summary
    console.table(
        "Curated penguins per species (Spark SQL over curated.penguins)",
        ["species", "penguins", "mean flipper (mm)", "mean body mass (g)"],
        [[r["species"], r["penguins"], r["flipper_mm"], r["body_mass_g"]] for r in summary],
    )
    console.step(
        f"{sum(r['penguins'] for r in summary)} curated penguins "
        f"(query {time.perf_counter() - clock:.1f} s)"
    )
    console.message(
        f"\nThe demo workspace is {ws.path}. Explore it:\n"
        "  .venv/bin/sparkglue catalog tables curated\n"
        f"  .venv/bin/sparkglue crawler explain {run.id}\n"
        "  .venv/bin/sparkglue catalog partitions raw.penguins --filter \"year >= '2008'\"\n"
        f"  .venv/bin/sparkglue job script {DEMO_JOB}\n"
        f"  .venv/bin/sparkglue job logs {result.job_run}\n"
        "  .venv/bin/sparkglue catalog sql "
        '"SELECT species, island, sex, body_mass_g FROM curated.penguins LIMIT 5"'
    )
    ws.close()
    return result
