"""Glue scripts as sparkglue jobs: Glue's arguments, bookmarks through the runner, and the
unit-test pattern Glue users follow (its own pytest process: it makes its own SparkContext)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparkglue import Workspace
from sparkglue.jobs import JobSpec

pytestmark = [pytest.mark.spark, pytest.mark.slow]

GLUE_SCRIPT = """
import sys
from awsglue.utils import getResolvedOptions
from awsglue.context import GlueContext
from awsglue.job import Job
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "target"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
events = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": ["s3://landing/events/"]},
    format="json",
    transformation_ctx="events",
)
print("read", events.count(), "records")
glueContext.write_dynamic_frame.from_options(
    frame=events,
    connection_type="s3",
    connection_options={"path": args["target"]},
    format="parquet",
)
job.commit()
"""


def test_bookmarked_glue_script_reads_only_new_files(workspace: Workspace) -> None:
    landing = workspace.settings.lake_root / "landing" / "events"
    landing.mkdir(parents=True)
    (landing / "a.json").write_text('{"id": 1}\n{"id": 2}\n')
    (landing / "b.json").write_text('{"id": 3}\n')
    script = workspace.path / "scripts" / "glue_events.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(GLUE_SCRIPT)
    target = workspace.settings.lake_root / "curated" / "events"
    workspace.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": "glue_events",
                "Command": {"ScriptLocation": "scripts/glue_events.py"},
                "DefaultArguments": {
                    "--job-bookmark-option": "job-bookmark-enable",
                    "--target": "s3://curated/events/",
                },
            }
        )
    )

    def run() -> str:
        run_id = workspace.jobs.start_run("glue_events")
        workspace.jobs.launch(run_id)
        done = workspace.jobs.wait(run_id, poll=0.2)
        log = Path(done.log_path).read_text() if done.log_path else ""
        assert done.state == "SUCCEEDED", (done.error_message, log[-3000:])
        return log

    def ids() -> list[int]:
        import pyarrow.parquet as pq

        return sorted(pq.read_table(target).column("id").to_pylist())

    assert "read 3 records" in run()
    assert ids() == [1, 2, 3]
    (landing / "c.json").write_text('{"id": 4}\n{"id": 5}\n')
    assert "read 2 records" in run()  # only c.json: job.commit() moved the bookmark
    assert ids() == [1, 2, 3, 4, 5]
    assert "read 0 records" in run()
    assert ids() == [1, 2, 3, 4, 5]


USER_JOB = """
import sys
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, Filter
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "target_path"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
orders = glueContext.create_dynamic_frame.from_options(
    "s3", {"paths": [args["source_path"]]}, format="json"
)
big = Filter.apply(frame=orders, f=lambda r: r["amount"] > 10)
out = ApplyMapping.apply(
    frame=big,
    mappings=[("id", "long", "order_id", "long"), ("amount", "long", "amount", "double")],
)
glueContext.write_dynamic_frame.from_options(
    frame=out,
    connection_type="s3",
    connection_options={"path": args["target_path"]},
    format="parquet",
)
job.commit()
"""

USER_TEST = """
import importlib
import sys
from unittest import mock

import pytest
from pyspark.context import SparkContext

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter


@pytest.fixture(scope="session")
def glue_context():
    sc = SparkContext("local[1]", "unit-tests")
    context = GlueContext(sc, minPartitions=1, targetPartitions=1)
    yield context
    sc.stop()


def test_job_keeps_big_orders(glue_context, monkeypatch):
    rows = [{"id": 1, "amount": 5}, {"id": 2, "amount": 50}, {"id": 3, "amount": 70}]
    source = DynamicFrame.fromDF(
        glue_context.spark_session.createDataFrame(rows), glue_context, "orders"
    )
    reader = mock.MagicMock(return_value=source)
    writer = mock.MagicMock()
    monkeypatch.setattr(DynamicFrameReader, "from_options", reader)
    monkeypatch.setattr(DynamicFrameWriter, "from_options", writer)
    monkeypatch.setattr(
        sys,
        "argv",
        ["user_job.py", "--JOB_NAME", "orders", "--source_path", "s3://in/orders/",
         "--target_path", "s3://out/orders/"],
    )
    sys.modules.pop("user_job", None)
    importlib.import_module("user_job")

    assert reader.call_args.args[0] == "s3"
    assert reader.call_args.args[1] == {"paths": ["s3://in/orders/"]}
    written = writer.call_args.kwargs["frame"].toDF()
    assert written.columns == ["order_id", "amount"]
    assert sorted(tuple(r) for r in written.collect()) == [(2, 50.0), (3, 70.0)]
    assert writer.call_args.kwargs["connection_options"] == {"path": "s3://out/orders/"}
"""


def test_glue_unit_test_pattern_works(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "user_job.py").write_text(textwrap.dedent(USER_JOB))
    (project / "test_user_job.py").write_text(textwrap.dedent(USER_TEST))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKGLUE_", "PYSPARK_"))}
    env["PYTHONPATH"] = str(project)
    env["SPARKGLUE_CLASS_ARCHIVE"] = "off"  # no archive made in the background
    env["SPARKGLUE_WORKSPACE"] = str(tmp_path / "no-workspace-needed")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user_job.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    assert not (tmp_path / "no-workspace-needed").exists()  # mocks: no workspace was touched
