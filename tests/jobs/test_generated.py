"""Generated scripts: mappings checked at creation, the script runs through spark-submit, the
target lands in the catalog; bookmarks make reruns incremental."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from sparkglue.catalog import DatabaseInput
from sparkglue.crawler import CrawlerSpec
from sparkglue.errors import InvalidInput
from sparkglue.jobs import JobSpec
from sparkglue.workspace import Workspace

pytestmark = pytest.mark.spark


def _raw_events(ws: Workspace, days: dict[str, list[str]]) -> None:
    for day, rows in days.items():
        folder = ws.settings.lake_root / "raw" / "events" / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{day}-{time.time_ns()}.csv").write_text(
            "Event Id,User,Amount,Info\n" + "\n".join(rows) + "\n"
        )


def _crawl(ws: Workspace) -> None:
    if "raw" not in {d.name for d in ws.catalog.list_databases()}:
        ws.catalog.create_database(DatabaseInput(name="raw"))
        ws.crawlers.create_crawler(
            CrawlerSpec.model_validate(
                {
                    "Name": "events",
                    "DatabaseName": "raw",
                    "Targets": {"S3Targets": [{"Path": "raw/events"}]},
                }
            )
        )
    assert ws.crawlers.run("events").state == "SUCCEEDED"


MAPPINGS = [
    "event id:bigint->event_id:bigint",
    "user:string->user_name:string",
    "amount:double->amount:decimal(10,2)",
    "day:string->day:int",
]


def _job(ws: Workspace, name: str, **generated: object) -> None:
    ws.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": name,
                "Command": {"Name": "glueetl", "ScriptLocation": f"scripts/{name}.py"},
                "DefaultArguments": {"--job-bookmark-option": "job-bookmark-enable"},
                "Generated": {
                    "Source": "raw.events",
                    "Target": "curated.events",
                    "Format": "parquet",
                    "PartitionBy": ["day"],
                    "Mappings": MAPPINGS,
                    **generated,
                },
            }
        )
    )


def test_bad_mappings_are_refused_when_the_job_is_created(workspace: Workspace) -> None:
    _raw_events(workspace, {"1": ["1,ann,2.5,x", "2,bob,3.5,y"]})
    _crawl(workspace)
    cases = {
        "nope:string->x:string": "raw.events has no column 'nope'",
        "user:string->x:strnig": "unknown type 'strnig'",
        "user:bigint->x:string": "'user' is string in raw.events, not bigint",
        "amount:double->x:array<int>": "a double value cannot be cast to array<int>",
        "user:string": "must be SOURCE:TYPE->TARGET:TYPE",
    }
    for mapping, message in cases.items():
        with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            _job(workspace, "bad", Mappings=[mapping])
    assert not (workspace.path / "scripts" / "bad.py").exists()
    assert workspace.jobs.list_jobs() == []


def test_a_generated_job_runs_and_bookmarks_make_it_incremental(workspace: Workspace) -> None:
    _raw_events(workspace, {"1": ["1,ann,2.5,x", "2,bob,3.5,y"], "2": ["3,cy,1.25,z"]})
    _crawl(workspace)
    _job(workspace, "clean", Filter="amount > 0", Dedupe=True)
    script = workspace.path / "scripts" / "clean.py"
    text = script.read_text()
    assert 'F.col("`event id`").alias("event_id"),' in text  # same type: no cast
    assert 'F.col("`amount`").try_cast("decimal(10,2)").alias("amount"),' in text
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--isolated", str(script)],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout

    first = workspace.jobs.supervise(workspace.jobs.start_run("clean"))
    assert first.state == "SUCCEEDED", first.error_message
    assert first.metrics["records_read"] == 3
    assert first.metrics["records_written"] == 3
    assert first.metrics["bytes_written"] > 0
    assert str(first.metrics["spark_application_id"]).startswith("local-")
    table = workspace.catalog.get_table("curated", "events")
    assert [(c.name, c.type) for c in table.columns] == [
        ("event_id", "bigint"),
        ("user_name", "string"),
        ("amount", "decimal(10,2)"),
    ]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "int")]
    assert sorted(p.values[0] for p in workspace.catalog.get_partitions("curated", "events")) == [
        "1",
        "2",
    ]

    # New files (one in a new partition): the next run reads only them.
    _raw_events(workspace, {"2": ["4,dee,9.0,w"], "3": ["5,eve,1.0,v", "6,fay,2.0,u"]})
    _crawl(workspace)
    second = workspace.jobs.supervise(workspace.jobs.start_run("clean"))
    assert second.state == "SUCCEEDED", second.error_message
    assert second.metrics["records_read"] == 3
    rows = workspace.sql("SELECT count(*) AS n FROM curated.events").collect()
    assert rows[0].n == 6
    versions = workspace.jobs.bookmark_versions("clean")
    assert [v["version"] for v in versions] == [1, 2]

    # Nothing new: nothing read, nothing written.
    third = workspace.jobs.supervise(workspace.jobs.start_run("clean"))
    assert third.metrics["records_read"] == 0

    # Rewind: the last run's files count as unread again.
    assert workspace.jobs.rewind_bookmark("clean") == 2
    workspace.jobs.reset_bookmark("clean")
    assert workspace.jobs.bookmark("clean") == {}


FAILING = """
import sys

from sparkglue.jobs.runtime import JobContext

job = JobContext.from_argv(sys.argv)
df = job.read_table("raw", "events", transformation_ctx="source")
job.write_table(df, database="curated", table="copy", path="curated/copy", format="json")
if job.args.get("fail") == "true":
    raise RuntimeError("asked to fail after writing")
job.commit()
"""


def test_a_failed_run_does_not_advance_the_bookmark(workspace: Workspace) -> None:
    _raw_events(workspace, {"1": ["1,ann,2.5,x"], "2": ["2,bob,3.5,y"]})
    _crawl(workspace)
    (workspace.path / "scripts" / "copy.py").write_text(FAILING)
    with pytest.raises(InvalidInput, match="hides the Python module 'copy'"):
        workspace.jobs.create_job(
            JobSpec.model_validate(
                {"Name": "copy", "Command": {"ScriptLocation": "scripts/copy.py"}}
            )
        )
    (workspace.path / "scripts" / "copy.py").rename(workspace.path / "scripts" / "copy_events.py")
    workspace.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": "copy",
                "Command": {"ScriptLocation": "scripts/copy_events.py"},
                "DefaultArguments": {"--job-bookmark-option": "job-bookmark-enable"},
            }
        )
    )
    failed = workspace.jobs.supervise(workspace.jobs.start_run("copy", {"--fail": "true"}))
    assert failed.state == "FAILED"
    assert "asked to fail after writing" in str(failed.error_message)
    assert workspace.jobs.bookmark("copy") == {}
    ok = workspace.jobs.supervise(workspace.jobs.start_run("copy"))
    assert ok.state == "SUCCEEDED", ok.error_message
    assert ok.metrics["records_read"] == 2  # each file once more, as the failure committed none
    assert len(workspace.jobs.bookmark("copy")["source"]["files"]) == 2


def test_a_generated_job_writes_avro_that_the_catalog_reads(workspace: Workspace) -> None:
    _raw_events(workspace, {"1": ["1,ann,2.5,x", "2,bob,3.5,y"], "2": ["3,cy,1.25,z"]})
    _crawl(workspace)
    _job(workspace, "to_avro", Format="avro", Target="curated.events_avro")
    run = workspace.jobs.supervise(workspace.jobs.start_run("to_avro"))
    assert run.state == "SUCCEEDED", run.error_message
    assert run.metrics["records_written"] == 3
    assert run.metrics["bytes_written"] > 0
    folder = workspace.settings.lake_root / "curated" / "events_avro"
    files = sorted(p.relative_to(folder).parent.name for p in folder.rglob("*.avro"))
    assert files == ["day=1", "day=2"]
    table = workspace.catalog.get_table("curated", "events_avro")
    assert table.classification == "avro"
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "int")]
    rows = workspace.sql(
        "SELECT day, count(*) AS n, sum(amount) AS total FROM curated.events_avro GROUP BY day "
        "ORDER BY day"
    ).collect()
    assert [(r.day, r.n, float(r.total)) for r in rows] == [(1, 2, 6.0), (2, 1, 1.25)]
