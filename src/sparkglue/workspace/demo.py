"""The end-to-end demo pipeline on the bundled penguins dataset.

Stage by stage it grows with the platform; today: a fresh workspace, the raw bucket laid out as
Hive partitions and a first crawl that finds the raw table and its partitions (the cleaning job
is written against it), then one workflow run through the scheduler: the raw crawl again, a
generated ETL job cleans it into ``lake/curated/penguins`` (Parquet by
year) as its own spark-submit run, a crawl of the curated folder checks the output, and a
pythonshell job trains a decision tree that predicts the species (Spark MLlib, evaluated and
registered). Then Spark SQL over both tables, and the tree promoted, scored in batch into a
catalog table, and asked single questions through the compiled predictor.
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
from sparkglue.datasets import (
    penguins_curated_job_file,
    train_decision_tree_script,
    write_penguins_raw_bucket,
)
from sparkglue.errors import WorkspaceError
from sparkglue.jobs import JobSpec
from sparkglue.scheduler import TriggerSpec, WorkflowSpec
from sparkglue.scheduler.daemon import wait_for_workflow_run
from sparkglue.scheduler.render import graph_svg, graph_text
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
TRAIN_JOB = "penguin_species_train"
DEMO_WORKFLOW = "penguins_pipeline"
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
    workflow_run: str | None = None
    workflow_statistics: dict[str, int] = field(default_factory=dict)
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


def _define_crawler(ws: Workspace, name: str, database: str, path: str, description: str) -> None:
    """(Re)create crawler ``name`` over ``path``; the workflow runs it."""
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


def _define_jobs(ws: Workspace, console: Console) -> None:
    """The generated cleaning job (bundled spec) and the pythonshell training job."""
    spec = load_spec_file(JobSpec, penguins_curated_job_file())
    train = JobSpec.model_validate(
        {
            "Name": TRAIN_JOB,
            "Description": "Train the species tree from the workflow run's properties",
            "Command": {"Name": "pythonshell", "ScriptLocation": f"scripts/{TRAIN_JOB}.py"},
            "Timeout": 30,
        }
    )
    for job in (spec, train):
        if any(j.Name == job.Name for j in ws.jobs.list_jobs()):
            ws.jobs.delete_job(job.Name)
    ws.jobs.create_job(spec, overwrite_script=True)
    script = ws.jobs.script_path(train)
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(train_decision_tree_script(), encoding="utf-8")
    ws.jobs.create_job(train)
    console.step(
        f"Job {spec.Name} generated from {len(spec.Generated.Mappings) if spec.Generated else 0} "
        f"column mappings: {ws.jobs.script_path(spec)}; job {TRAIN_JOB}: {script}"
    )


def _define_workflow(ws: Workspace) -> None:
    """crawl raw → clean → crawl curated → train, each step on the one before succeeding."""
    if any(w.Name == DEMO_WORKFLOW for w in ws.scheduler.list_workflows()):
        ws.scheduler.delete_workflow(DEMO_WORKFLOW)
    ws.scheduler.create_workflow(
        WorkflowSpec(
            Name=DEMO_WORKFLOW,
            Description="The penguins pipeline: raw files to a registered species tree",
            DefaultRunProperties={
                "table": "curated.penguins",
                "label": "species",
                "features": ",".join(DEMO_FEATURES),
                "model_name": DEMO_MODEL,
                "max_depth": "5",
                "description": "Penguin species from island, bill, flipper, mass and sex",
            },
            MaxConcurrentRuns=1,
        )
    )
    steps: list[tuple[str, dict[str, str] | None, dict[str, str]]] = [
        ("start_penguins_pipeline", None, {"CrawlerName": DEMO_CRAWLER}),
        (
            "after_raw_crawl",
            {"CrawlerName": DEMO_CRAWLER, "CrawlState": "SUCCEEDED"},
            {"JobName": DEMO_JOB},
        ),
        (
            "after_cleaning",
            {"JobName": DEMO_JOB, "State": "SUCCEEDED"},
            {"CrawlerName": CURATED_CRAWLER},
        ),
        (
            "after_curated_crawl",
            {"CrawlerName": CURATED_CRAWLER, "CrawlState": "SUCCEEDED"},
            {"JobName": TRAIN_JOB},
        ),
    ]
    for name, condition, action in steps:
        spec: dict[str, Any] = {"Name": name, "WorkflowName": DEMO_WORKFLOW, "Actions": [action]}
        if condition is None:
            spec["Type"] = "ON_DEMAND"
        else:
            spec.update(Type="CONDITIONAL", Predicate={"Conditions": [condition]})
        ws.scheduler.create_trigger(TriggerSpec.model_validate(spec))


def _run_workflow(ws: Workspace, result: DemoResult, console: Console) -> str:
    """Run the pipeline workflow through the scheduler; returns the trained model version."""
    run_id = ws.scheduler.start_workflow_run(DEMO_WORKFLOW)
    result.workflow_run = run_id
    console.step(f"Workflow {DEMO_WORKFLOW} run {run_id} started")
    run = wait_for_workflow_run(ws.scheduler, run_id, console)
    nodes, edges = ws.scheduler.graph(DEMO_WORKFLOW, run_id)
    picture = ws.path / "logs" / "workflows" / f"{DEMO_WORKFLOW}.svg"
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_text(
        graph_svg(nodes, edges, title=f"{DEMO_WORKFLOW} · run {run_id} · {run.state}"),
        encoding="utf-8",
    )
    console.message("\n".join(graph_text(nodes, edges)))
    result.workflow_statistics = dict(run.statistics)
    actions = {(a.kind, a.name): a for a in ws.scheduler.actions(run_id)}
    failed = [a for a in actions.values() if a.state != "SUCCEEDED"]
    if run.state != "COMPLETED" or failed or len(actions) != 4:
        why = "; ".join(f"{a.name} {a.state}: {a.error}" for a in failed) or "not every step ran"
        raise WorkspaceError(
            f"the demo workflow run {run_id} ended {run.state}: {why}; see "
            f"`sparkglue workflow show {DEMO_WORKFLOW} --run {run_id}`"
        )
    st = run.statistics
    console.step(
        f"Workflow run {run_id} COMPLETED: {st['SucceededActions']} of {st['TotalActions']} "
        f"steps succeeded (picture: {picture})"
    )
    result.crawl_run = actions[("CRAWLER", DEMO_CRAWLER)].run_id
    result.curated_crawl_run = actions[("CRAWLER", CURATED_CRAWLER)].run_id
    job = ws.jobs.get_run(actions[("JOB", DEMO_JOB)].run_id)
    result.job_run = job.id
    result.job_metrics = dict(job.metrics)
    return ws.scheduler.get_run_properties(run_id)["model_version"]


def _promote_and_predict(ws: Workspace, result: DemoResult, console: Console) -> None:
    """Promote the trained tree, score the curated table, answer single requests compiled."""
    model = ws.ml.get_model(result.model or DEMO_MODEL)
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

    _define_crawler(
        ws, DEMO_CRAWLER, "raw", "raw/penguins", "Finds the raw penguins table and its partitions"
    )
    # The cleaning job's mappings are written against the raw table, so it is crawled once
    # before the job is defined (as in Glue); the workflow crawls it again on every run.
    crawl = ws.crawlers.run(DEMO_CRAWLER)
    if crawl.state != "SUCCEEDED":
        raise WorkspaceError(
            f"the demo crawl {crawl.id} ended {crawl.state}: {crawl.error_message}"
        )
    table = ws.catalog.get_table("raw", "penguins")
    console.step(
        f"Crawler {DEMO_CRAWLER} found table {table.full_name}: {table.classification}, "
        f"{len(table.columns)} columns, partition key {table.partition_keys[0].name}, "
        f"{len(ws.catalog.get_partitions('raw', 'penguins'))} partitions, "
        f"~{table.parameters.get('recordCount')} records (crawl {crawl.id}, "
        f"{crawl.metrics.get('LastRuntimeSeconds')} s)"
    )
    _define_crawler(
        ws, CURATED_CRAWLER, "curated", "curated/penguins", "Checks the job's curated output"
    )
    _define_jobs(ws, console)
    _define_workflow(ws)
    for old in ws.ml.list_models(DEMO_MODEL):  # a shared metadata store outlives the folder
        ws.ml.delete(old.ref)
    result.seconds["prepare"] = time.perf_counter() - clock

    clock = time.perf_counter()
    result.model = _run_workflow(ws, result, console)
    result.seconds["workflow"] = time.perf_counter() - clock
    m = result.job_metrics
    console.step(
        f"Job run {result.job_run} SUCCEEDED in {m.get('ExecutionTime')} s: "
        f"{m.get('records_read')} records read, {m.get('records_written')} written "
        f"({m.get('bytes_written')} bytes of Parquet under curated/penguins, Spark application "
        f"{m.get('spark_application_id')})"
    )
    curated = ws.catalog.get_table("curated", "penguins")
    console.step(
        f"Crawler {CURATED_CRAWLER} crawled {curated.full_name}: {curated.classification}, "
        f"{len(curated.columns)} columns, "
        f"{len(ws.catalog.get_partitions('curated', 'penguins'))} partitions "
        f"(crawl {result.curated_crawl_run})"
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
    _promote_and_predict(ws, result, console)
    result.seconds["ml"] = time.perf_counter() - clock
    console.message(
        f"\nThe demo workspace is {ws.path}. Explore it:\n"
        "  .venv/bin/sparkglue catalog tables curated\n"
        f"  .venv/bin/sparkglue workflow show {DEMO_WORKFLOW}\n"
        f"  .venv/bin/sparkglue crawler explain {result.crawl_run}\n"
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
