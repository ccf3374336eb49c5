"""The end-to-end demo pipeline on the bundled penguins dataset.

Stage by stage it grows with the platform; today: a fresh workspace, the raw bucket laid out as
Hive partitions, a crawler that finds the raw table and its partitions, a generated ETL job that
cleans it into ``lake/curated/penguins`` (Parquet by year) as its own spark-submit run, a crawl of
the curated folder, Spark SQL over both, then a decision tree that predicts the species: trained
and evaluated on Spark MLlib, registered, promoted, scored in batch into a catalog table, and
asked single questions through the compiled predictor.
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
DEMO_MODEL = "penguin_species"
DEMO_FEATURES = [
    "island",
    "culmen_length_mm",
    "culmen_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
]
PREDICTIONS_TABLE = "curated.penguin_species_predictions"
# Three penguins nobody measured before: a typical Gentoo, Adelie and Chinstrap, and one
# with a missing measurement and an island the model never saw.
SINGLE_REQUESTS: list[dict[str, Any]] = [
    {
        "island": "Biscoe",
        "culmen_length_mm": 47.5,
        "culmen_depth_mm": 14.8,
        "flipper_length_mm": 216,
        "body_mass_g": 5200,
        "sex": "male",
    },
    {
        "island": "Torgersen",
        "culmen_length_mm": 38.6,
        "culmen_depth_mm": 19.2,
        "flipper_length_mm": 188,
        "body_mass_g": 3650,
        "sex": "female",
    },
    {
        "island": "Dream",
        "culmen_length_mm": 50.1,
        "culmen_depth_mm": 18.9,
        "flipper_length_mm": 196,
        "body_mass_g": 3800,
        "sex": None,
    },
    {
        "island": "Anvers",
        "culmen_length_mm": None,
        "culmen_depth_mm": 17.0,
        "flipper_length_mm": 195,
        "body_mass_g": 3900,
        "sex": "male",
    },
]
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
    model: str | None = None
    model_metrics: dict[str, Any] = field(default_factory=dict)
    model_folder: Path | None = None
    predict_run: str | None = None
    predictions: int = 0
    single_answers: list[dict[str, Any]] = field(default_factory=list)
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


def _train_and_predict(ws: Workspace, result: DemoResult, console: Console) -> None:
    """Train the species tree, score the curated table, answer single requests compiled."""
    from sparkglue.ml import TrainOptions

    for old in ws.ml.list_models(DEMO_MODEL):  # a shared metadata store outlives the folder
        ws.ml.delete(old.ref)
    model = ws.ml.train(
        DEMO_MODEL,
        TrainOptions(
            table="curated.penguins",
            label="species",
            features=DEMO_FEATURES,
            max_depth=5,
            description="Penguin species from island, bill, flipper, mass and sex",
        ),
    )
    ws.ml.promote(model.ref, "production")
    result.model = model.ref
    metrics = model.metadata["metrics"]
    result.model_metrics = metrics
    folder = Path(model.location)
    result.model_folder = folder
    cm = metrics["confusion_matrix"]
    console.table(
        f"Model {model.ref} on {metrics['test_rows']} test penguins: accuracy "
        f"{metrics['accuracy']:.3f}, weighted F1 {metrics['weighted_f1']:.3f} "
        "(rows: actual, columns: predicted)",
        ["actual \\ predicted", *cm["labels"]],
        [[label, *row] for label, row in zip(cm["labels"], cm["matrix"], strict=True)],
    )
    console.message("The tree as rules:\n" + (folder / "rules.txt").read_text().rstrip())
    console.step(
        f"Pictures: {folder / 'tree.svg'}, {folder / 'confusion_matrix.png'}, "
        f"{folder / 'feature_importances.png'}"
    )
    run = ws.ml.predict(f"{DEMO_MODEL}@production", "curated.penguins", PREDICTIONS_TABLE)
    result.predict_run = run.id
    result.predictions = int(run.metrics.get("records_written", 0))
    console.step(
        f"Batch prediction run {run.id} {run.state}: {result.predictions} rows scored into "
        f"{PREDICTIONS_TABLE} (Parquet, in the catalog)"
    )
    predictor = ws.ml.load_predictor(f"{DEMO_MODEL}@production")
    rows = []
    for record in SINGLE_REQUESTS:
        clock = time.perf_counter()
        answer = predictor.predict_one(record)
        micros = (time.perf_counter() - clock) * 1e6
        result.single_answers.append(answer)
        rows.append(
            [
                ", ".join("?" if v is None else str(v) for v in record.values()),
                answer["prediction"],
                f"{answer['probability']:.2f}",
                f"{micros:.0f} µs",
            ]
        )
    console.table(
        f"Single requests through the compiled predictor ({model.ref}, no JVM)",
        [", ".join(DEMO_FEATURES) + " (? = missing)", "species", "probability", "took"],
        rows,
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
    clock = time.perf_counter()
    _train_and_predict(ws, result, console)
    result.seconds["ml"] = time.perf_counter() - clock
    console.message(
        f"\nThe demo workspace is {ws.path}. Explore it:\n"
        "  .venv/bin/sparkglue catalog tables curated\n"
        f"  .venv/bin/sparkglue crawler explain {run.id}\n"
        "  .venv/bin/sparkglue catalog partitions raw.penguins --filter \"year >= '2008'\"\n"
        f"  .venv/bin/sparkglue job script {DEMO_JOB}\n"
        f"  .venv/bin/sparkglue job logs {result.job_run}\n"
        "  .venv/bin/sparkglue catalog sql "
        '"SELECT species, island, sex, body_mass_g FROM curated.penguins LIMIT 5"\n'
        f"  .venv/bin/sparkglue ml show {DEMO_MODEL}\n"
        f"  .venv/bin/sparkglue ml serve {DEMO_MODEL}@production"
    )
    ws.close()
    return result
