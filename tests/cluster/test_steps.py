"""Steps on one real 2-worker cluster, shared by the tests of this module in file order: tasks
spread over both workers, the cluster's configurations reach the Spark processes, a step
survives a killed worker, and each ActionOnFailure; TERMINATE_CLUSTER ends the cluster, so it
comes last."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.cluster.support import (
    all_pids,
    finish,
    gone,
    launch,
    log_tail,
    processes_in,
    script,
    wait_ended,
    wait_for,
    wait_step,
)

from sparkglue.cluster import Cluster, ClusterSpec, Configuration, Step, StepSpec
from sparkglue.cluster.launcher import http_json
from sparkglue.cluster.specs import ENDED_STEP_STATES
from sparkglue.workspace import Workspace

pytestmark = pytest.mark.spark

USER_PROPERTY = ("spark.sparkglue.test.marker", "from-configurations")
EXPORT = ("SG_CLUSTER_TEST_EXPORT", "exported by spark-env")
LOG4J = ("logger.sgtest.name", "org.example.sgtest")

# One application for the first three tests (a driver and its executors take most of a
# step's time). Both executors must have registered before tasks start (spark.cores.max is
# what the standalone scheduler counts them against), so that the first one does not take
# every task. Phase 1 records where each task ran and what it saw; phase 2 waits for the test
# to say go, then runs slow tasks, each leaving a marker (partition_attempt_worker), so that
# the test can kill a worker while it runs some.
APP = """
import json, os, sys, time
from pathlib import Path
from pyspark import TaskContext
from pyspark.sql import SparkSession

spread_out, go, marks, slow_out = map(Path, sys.argv[1:5])
spark = (
    SparkSession.builder.config("spark.cores.max", "2")
    .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
    .config("spark.scheduler.maxRegisteredResourcesWaitingTime", "120s")
    .getOrCreate()
)
sc = spark.sparkContext


def worker_of(cwd):
    return next((p for p in Path(cwd).parts if p.startswith("worker-")), "none:" + cwd)


def where(rows):
    ctx = TaskContext.get()
    time.sleep(0.5)
    yield {
        "partition": ctx.partitionId(),
        "cwd": os.getcwd(),
        "worker": worker_of(os.getcwd()),
        "export": os.environ.get("SG_CLUSTER_TEST_EXPORT"),
    }


tasks = sc.parallelize(range(6), 6).mapPartitions(where).collect()
spread_out.write_text(json.dumps({
    "app": sc.applicationId,
    "tasks": tasks,
    "property": spark.conf.get("spark.sparkglue.test.marker", None),
    "driver_export": os.environ.get("SG_CLUSTER_TEST_EXPORT"),
}))

for _ in range(3000):
    if go.exists():
        break
    time.sleep(0.1)


def slow(rows):
    ctx = TaskContext.get()
    (marks / f"{ctx.partitionId()}_{ctx.attemptNumber()}_{worker_of(os.getcwd())}").touch()
    time.sleep(2)
    yield ctx.partitionId()


done = sorted(sc.parallelize(range(8), 8).mapPartitions(slow).collect())
slow_out.write_text(json.dumps(done))
spark.stop()
"""

# Fails once the test has queued what must follow it (the go file exists): no race with
# the steps queued after it.
FAIL = """
import sys, time
from pathlib import Path

go = Path(sys.argv[1])
for _ in range(600):
    if go.exists():
        break
    time.sleep(0.1)
raise RuntimeError("step failed on purpose")
"""

# A step without a Spark session: it only proves it ran.
TOUCH = """
import sys
from pathlib import Path

Path(sys.argv[1]).write_text("ran")
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("steps")


@pytest.fixture(scope="module")
def two(module_ws: Workspace) -> Iterator[Cluster]:
    """One 2-worker cluster for the whole module, with a configuration of each kind."""
    spec = ClusterSpec(
        Name="two",
        Workers=2,
        WorkerCores=1,
        WorkerMemory="1g",
        Configurations=[
            Configuration(Classification="spark-defaults", Properties=dict([USER_PROPERTY])),
            Configuration(
                Classification="spark-env",
                Configurations=[Configuration(Classification="export", Properties=dict([EXPORT]))],
            ),
            Configuration(
                Classification="spark-log4j2",
                Properties={LOG4J[0]: LOG4J[1], "logger.sgtest.level": "error"},
            ),
        ],
    )
    ids: list[str] = []
    try:
        yield launch(module_ws, spec, ids)
    finally:
        for cluster_id in ids:
            finish(module_ws, cluster_id)


@dataclass
class App:
    """The shared application step and its files."""

    step_id: str
    spread: Path
    go: Path
    marks: Path
    slow: Path

    def ended(self, ws: Workspace) -> Step:
        """Let phase 2 run (if no test did) and wait for the step to end."""
        self.go.touch()
        return wait_step(ws, self.step_id)


@pytest.fixture(scope="module")
def app(module_ws: Workspace, two: Cluster, folder: Path) -> App:
    marks = folder / "marks"
    marks.mkdir()
    paths = [folder / "spread.json", folder / "go-slow", marks, folder / "slow.json"]
    step = module_ws.clusters.add_step(
        two.id,
        StepSpec(Name="app", Script=script(folder, "app.py", APP), Args=list(map(str, paths))),
    )
    return App(step.id, *paths)


@pytest.fixture(scope="module")
def spread(module_ws: Workspace, app: App) -> dict[str, Any]:
    """What phase 1 saw: one record per task, the Spark property and the export."""

    def written() -> bool:
        step = module_ws.clusters.get_step(app.step_id)
        if step.state in ENDED_STEP_STATES and not app.spread.exists():
            pytest.fail(f"step {step.id} {step.state}:\n{log_tail(step.log_path)}")
        return app.spread.exists()

    wait_for(written, "the application's first job", timeout=240)
    return dict(json.loads(app.spread.read_text()))


@pytest.fixture
def queue_free(module_ws: Workspace, app: App) -> None:
    """Steps run one at a time: the shared application must be out of the way."""
    app.ended(module_ws)


def add(ws: Workspace, cluster: Cluster, name: str, path: str, *args: str, **kw: Any) -> str:
    return ws.clusters.add_step(
        cluster.id, StepSpec(Name=name, Script=path, Args=list(args), **kw)
    ).id


def test_tasks_run_on_both_workers(module_ws: Workspace, two: Cluster, spread: dict[str, Any]):
    work = module_ws.clusters.cluster_dir(two.id) / "work"
    assert len(spread["tasks"]) == 6
    # Executors run in their worker's work dir: WORKSPACE/clusters/ID/work/worker-N/APP/EXEC.
    for task in spread["tasks"]:
        assert Path(task["cwd"]).is_relative_to(work), task
    assert {t["worker"] for t in spread["tasks"]} == {"worker-1", "worker-2"}
    # The master runs the application, and each of its workers has an executor of it.
    state = http_json(f"{two.web_uis['master']}/json/")
    assert state is not None
    assert state["aliveworkers"] == 2
    assert spread["app"] in {a["id"] for a in state["activeapps"] + state["completedapps"]}
    for ui in two.web_uis["workers"]:
        worker = http_json(f"{ui}/json/")
        assert worker is not None, ui
        executors = worker["executors"] + worker["finishedexecutors"]
        assert spread["app"] in {e["appid"] for e in executors}, (ui, executors)


def test_configurations_are_written_and_applied(
    module_ws: Workspace, two: Cluster, spread: dict[str, Any]
):
    conf = module_ws.clusters.cluster_dir(two.id) / "conf"
    defaults = (conf / "spark-defaults.conf").read_text().splitlines()
    assert f"{USER_PROPERTY[0]} {USER_PROPERTY[1]}" in defaults
    assert f"spark.master {two.master_url}" in defaults
    env = (conf / "spark-env.sh").read_text()
    assert f"export {EXPORT[0]}='{EXPORT[1]}'" in env.splitlines()
    log4j = (conf / "log4j2.properties").read_text().splitlines()
    assert f"{LOG4J[0]} = {LOG4J[1]}" in log4j
    assert "logger.sgtest.level = error" in log4j
    assert any(line.startswith("rootLogger.level = ") for line in log4j)
    # ... and the Spark processes read them: the driver and every executor.
    assert spread["property"] == USER_PROPERTY[1]
    assert spread["driver_export"] == EXPORT[1]
    assert {t["export"] for t in spread["tasks"]} == {EXPORT[1]}


def test_step_completes_when_a_worker_is_killed(module_ws: Workspace, two: Cluster, app: App):
    app.go.touch()

    def worker_1_busy() -> bool:
        return any(m.name.endswith("_worker-1") for m in app.marks.iterdir())

    wait_for(worker_1_busy, "a task to start on worker-1", timeout=240)
    assert module_ws.clusters.get_step(app.step_id).state == "RUNNING"
    victim = module_ws.clusters.get(two.id).processes["worker-1"]
    os.kill(victim, signal.SIGKILL)

    step = app.ended(module_ws)
    assert step.state == "COMPLETED", log_tail(step.log_path)
    assert json.loads(app.slow.read_text()) == list(range(8))
    # The killed worker's executor went with it: a task it had was run again elsewhere.
    marks = sorted(m.name for m in app.marks.iterdir())
    assert any(int(m.split("_")[1]) > 0 for m in marks), marks
    # The supervisor started the worker again, and it registered with the master.
    wait_for(lambda: gone(victim), "the killed worker's processes to end")
    wait_for(
        lambda: module_ws.clusters.get(two.id).processes["worker-1"] != victim,
        "worker-1 to be started again",
    )
    wait_for(
        lambda: (http_json(f"{two.web_uis['master']}/json/") or {}).get("aliveworkers") == 2,
        "two alive workers again",
    )
    assert module_ws.clusters.get(two.id).state in ("WAITING", "RUNNING")


@pytest.mark.usefixtures("queue_free")
def test_continue_runs_the_next_step(module_ws: Workspace, two: Cluster, folder: Path):
    go = folder / "go-continue"
    fail = add(module_ws, two, "fail", script(folder, "fail.py", FAIL), str(go))
    ran, skipped = folder / "after-continue", folder / "cancelled-by-user"
    after = add(module_ws, two, "after", script(folder, "touch.py", TOUCH), str(ran))
    later = add(module_ws, two, "later", script(folder, "touch.py", TOUCH), str(skipped))
    # A pending step is cancelled at once by the user.
    assert module_ws.clusters.cancel_step(two.id, later).state == "CANCELLED"
    go.touch()

    failed = wait_step(module_ws, fail)
    assert failed.state == "FAILED"
    assert failed.exit_code not in (None, 0)
    assert "step failed on purpose" in (failed.error_message or ""), failed
    done = wait_step(module_ws, after)
    assert done.state == "COMPLETED", log_tail(done.log_path)
    assert ran.read_text() == "ran"
    cancelled = module_ws.clusters.get_step(later)
    assert cancelled.state == "CANCELLED"
    assert cancelled.started_at is None
    assert not skipped.exists()
    cluster = module_ws.clusters.wait(two.id, ("WAITING",), timeout=60)
    assert cluster.state == "WAITING"


@pytest.mark.usefixtures("queue_free")
def test_cancel_and_wait_cancels_pending_steps(module_ws: Workspace, two: Cluster, folder: Path):
    go = folder / "go-cancel"
    fail = add(
        module_ws,
        two,
        "fail",
        script(folder, "fail.py", FAIL),
        str(go),
        ActionOnFailure="CANCEL_AND_WAIT",
    )
    outs = [folder / "pending-1", folder / "pending-2"]
    pending = [add(module_ws, two, "p", script(folder, "touch.py", TOUCH), str(o)) for o in outs]
    assert [module_ws.clusters.get_step(p).state for p in pending] == ["PENDING", "PENDING"]
    go.touch()

    assert wait_step(module_ws, fail).state == "FAILED"
    for step_id in pending:
        step = wait_step(module_ws, step_id)
        assert step.state == "CANCELLED"
        assert fail in (step.error_message or "")
        assert step.started_at is None
    assert not any(o.exists() for o in outs)
    cluster = module_ws.clusters.wait(two.id, ("WAITING",), timeout=60)
    assert cluster.state == "WAITING"


@pytest.mark.usefixtures("queue_free")
def test_terminate_cluster_on_failure(module_ws: Workspace, two: Cluster, folder: Path):
    go = folder / "go-terminate"
    fail = add(
        module_ws,
        two,
        "fail",
        script(folder, "fail.py", FAIL),
        str(go),
        ActionOnFailure="TERMINATE_CLUSTER",
    )
    out = folder / "never"
    pending = add(module_ws, two, "p", script(folder, "touch.py", TOUCH), str(out))
    pids = all_pids(module_ws, two.id)
    go.touch()

    cluster = wait_ended(module_ws, two.id)
    assert cluster.state == "TERMINATED_WITH_ERRORS"
    assert cluster.state_reason_code == "STEP_FAILURE"
    assert fail in (cluster.state_reason_message or "")
    assert module_ws.clusters.get_step(fail).state == "FAILED"
    assert module_ws.clusters.get_step(pending).state == "CANCELLED"
    assert not out.exists()
    pids = sorted(set(pids) | set(all_pids(module_ws, two.id)))
    wait_for(lambda: all(gone(p) for p in pids), "the cluster's processes to end", 30)
    assert processes_in(module_ws.clusters.cluster_dir(two.id)) == []
