"""Warm runs on a cluster started with Spark Connect: a job written against sparkglue's API runs
as plain Python over the cluster's Connect server (no JVM of its own), a script that needs a
SparkContext is spark-submitted to the cluster's master, and training runs on the cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.ml.conftest import DEMO_FEATURES, add_table, penguin_rows

from sparkglue.cluster import Cluster
from sparkglue.cluster.launcher import http_json
from sparkglue.jobs import JobSpec
from sparkglue.jobs.specs import CommandSpec
from sparkglue.workspace import Workspace

pytestmark = pytest.mark.spark

OWN_API = """
import json, os, sys
from pathlib import Path

from sparkglue.jobs.runtime import JobContext
from sparkglue.spark import is_connect


def java_descendants(root):
    # Every process under `root` (the run's supervisor) whose command is a JVM.
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
                cmd = (entry / "cmdline").read_bytes().split(b"\\0")[0].decode()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append((int(entry.name), cmd))
    found, todo = [], [root]
    while todo:
        for pid, cmd in children.get(todo.pop(), []):
            todo.append(pid)
            if cmd.endswith("java"):
                found.append(pid)
    return found


job = JobContext.from_argv(sys.argv)
total = job.spark.range(1000).selectExpr("sum(id) AS total").collect()[0]["total"]
Path(job.args["out"]).write_text(json.dumps({
    "total": total,
    "connect": is_connect(job.spark),
    "gateway": os.environ.get("PYSPARK_GATEWAY_PORT"),
    "java": java_descendants(os.getppid()),
}))
job.commit()
"""

NEEDS_JVM = """
import sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
sc = spark.sparkContext
count = sc.parallelize(range(100), 4).count()
open(sys.argv[sys.argv.index("--out") + 1], "w").write(f"{sc.master} {count}")
"""


@pytest.fixture
def warm(connect_cluster: tuple[Workspace, Cluster]) -> tuple[Workspace, Cluster]:
    """The test run's cluster with Spark Connect (tests/conftest.py)."""
    return connect_cluster


def _job(ws: Workspace, name: str, text: str) -> None:
    (ws.path / "scripts" / f"{name}.py").write_text(text, encoding="utf-8")
    ws.jobs.create_job(
        JobSpec(Name=name, Command=CommandSpec(Name="glueetl", ScriptLocation=f"scripts/{name}.py"))
    )


def test_an_own_api_job_runs_over_spark_connect_with_no_jvm_of_its_own(
    warm: tuple[Workspace, Cluster], tmp_path: Path
) -> None:
    ws, cluster = warm
    assert cluster.connect_url and cluster.connect_url.startswith("sc://")
    _job(ws, "warm_job", OWN_API)
    out = tmp_path / "out.json"
    run_id = ws.jobs.start_run("warm_job", {"--out": str(out)}, cluster=cluster.name)
    ws.jobs.launch(run_id)
    run = ws.jobs.wait(run_id)
    assert run.state == "SUCCEEDED", Path(run.log_path or "").read_text()
    assert run.cluster == cluster.name
    assert run.metrics["cluster"] == cluster.name
    assert run.metrics["submitted_via"] == "spark-connect"
    assert run.metrics["warm_python"] is True  # forked from the cluster's preloaded runner
    seen = json.loads(out.read_text())
    assert seen == {
        "total": 499500,
        "connect": True,
        "gateway": None,
        "java": [],
    }
    # The work ran in the cluster's Connect server: it lists the job's query among its jobs.
    ui = cluster.web_uis["connect"]
    app = http_json(f"{ui}/api/v1/applications")[0]["id"]
    jobs = http_json(f"{ui}/api/v1/applications/{app}/jobs") or []
    assert any(j.get("status") == "SUCCEEDED" for j in jobs)


def test_without_its_warm_runner_a_run_starts_a_new_python_and_still_succeeds(
    warm: tuple[Workspace, Cluster], tmp_path: Path
) -> None:
    ws, cluster = warm
    _job(ws, "cold_python_job", OWN_API)
    sock = ws.clusters.runner_socket(cluster.id)
    assert sock is not None and sock.exists()
    hidden = sock.with_name("runner.sock.hidden")
    sock.rename(hidden)  # the runner keeps listening, but no run can find it
    try:
        out = tmp_path / "out.json"
        run_id = ws.jobs.start_run("cold_python_job", {"--out": str(out)}, cluster=cluster.name)
        ws.jobs.launch(run_id)
        run = ws.jobs.wait(run_id)
    finally:
        hidden.rename(sock)
    log = Path(run.log_path or "").read_text()
    assert run.state == "SUCCEEDED", log
    assert run.metrics["warm_python"] is False
    assert "starting a new Python instead" in log
    assert json.loads(out.read_text())["total"] == 499500


SLOW_OWN_API = """
import sys, time
from pathlib import Path
from sparkglue.jobs.runtime import JobContext

job = JobContext.from_argv(sys.argv)
Path(job.args["started"]).write_text("yes")
time.sleep(300)
"""


def test_stopping_a_warm_run_stops_its_forked_process(
    warm: tuple[Workspace, Cluster], tmp_path: Path
) -> None:
    from tests.cluster.support import wait_for

    from sparkglue.store import process_alive

    ws, cluster = warm
    _job(ws, "slow_warm_job", SLOW_OWN_API)
    started = tmp_path / "started"
    run_id = ws.jobs.start_run("slow_warm_job", {"--started": str(started)}, cluster=cluster.name)
    ws.jobs.launch(run_id)
    wait_for(started.exists, "the warm run to start", 120)
    import sqlalchemy as sa

    from sparkglue.store import schema as s

    with ws.jobs.store.read() as conn:
        child = conn.execute(
            sa.select(s.job_runs.c.child_pid).where(s.job_runs.c.id == run_id)
        ).scalar_one()
    assert child is not None and process_alive(child)
    runner = ws.clusters.get(cluster.id).processes["runner"]
    assert int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1]) == runner
    ws.jobs.stop_run(run_id)
    run = ws.jobs.wait(run_id)
    assert run.state == "STOPPED"
    wait_for(lambda: not process_alive(child), "the forked run to end", 30)


def test_a_script_that_needs_a_spark_context_is_submitted_to_the_cluster_master(
    warm: tuple[Workspace, Cluster], tmp_path: Path
) -> None:
    ws, cluster = warm
    _job(ws, "jvm_job", NEEDS_JVM)
    out = tmp_path / "out.txt"
    run_id = ws.jobs.start_run("jvm_job", {"--out": str(out)}, cluster=cluster.name)
    ws.jobs.launch(run_id)
    run = ws.jobs.wait(run_id)
    assert run.state == "SUCCEEDED", Path(run.log_path or "").read_text()
    assert run.metrics["submitted_via"] == "spark-submit"
    assert out.read_text() == f"{cluster.master_url} 100"
    master = http_json(f"{cluster.web_uis['master']}/json/")
    assert "jvm_job" in [a["name"] for a in master["completedapps"]]


def test_a_job_on_an_unknown_or_ended_cluster_is_refused_at_once(
    warm: tuple[Workspace, Cluster],
) -> None:
    from sparkglue.errors import EntityNotFound

    ws, _ = warm
    _job(ws, "refused_job", NEEDS_JVM)
    with pytest.raises(EntityNotFound, match="cluster 'nope' not found"):
        ws.jobs.start_run("refused_job", cluster="nope")
    assert ws.jobs.list_runs("refused_job") == []


def test_ml_train_with_cluster_trains_on_the_clusters_connect_server(
    warm: tuple[Workspace, Cluster],
) -> None:
    ws, cluster = warm
    add_table(ws, "penguins", penguin_rows())
    ui = cluster.web_uis["connect"]
    app = http_json(f"{ui}/api/v1/applications")[0]["id"]
    before = len(http_json(f"{ui}/api/v1/applications/{app}/jobs") or [])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKGLUE_", "SPARK_"))}
    env["SPARKGLUE_CLASS_ARCHIVE"] = "off"  # no archive made in the background
    done = subprocess.run(
        [
            *(sys.executable, "-m", "sparkglue.cli", "--workspace", str(ws.path), "ml", "train"),
            *("species", "--table", "curated.penguins", "--label", "species"),
            *("--features", ",".join(DEMO_FEATURES), "--cluster", cluster.name, "-o", "json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    assert summary["model"] == "species:1"
    assert summary["metrics"]["accuracy"] > 0.85
    after = len(http_json(f"{ui}/api/v1/applications/{app}/jobs") or [])
    assert after > before  # the training's Spark jobs ran in the cluster's Connect server
