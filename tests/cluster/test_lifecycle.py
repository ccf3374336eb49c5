"""A local cluster's life with real processes: terminate, a crashed master, idle
auto-termination, a supervisor that died, and bootstrap actions. Each test launches its own
1-worker cluster, all created at the start of the module (the bootstrap failure none: it fails
before any Spark process starts)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.test_cli import run
from tests.cluster.support import (
    all_pids,
    describe,
    finish,
    gone,
    log_tail,
    processes_in,
    script,
    up,
    wait_ended,
    wait_for,
)

from sparkglue.cluster import BootstrapAction, ClusterSpec, StepSpec
from sparkglue.store import process_alive
from sparkglue.workspace import Workspace

pytestmark = pytest.mark.spark


def small(name: str, **values: object) -> ClusterSpec:
    return ClusterSpec.model_validate(
        {"Name": name, "Workers": 1, "WorkerCores": 1, "WorkerMemory": "512m", **values}
    )


def assert_all_gone(ws: Workspace, cluster_id: str, pids: list[int]) -> None:
    """Every pid and process group is gone, and nothing runs in the cluster's folder."""
    supervisor = ws.clusters.get(cluster_id, recover=False).pid
    if supervisor:  # it records the end, then exits
        wait_for(lambda: not process_alive(supervisor), "the supervisor to exit", 30)
    pids = sorted(set(pids) | set(all_pids(ws, cluster_id)))
    assert pids
    left = [p for p in pids if not gone(p)]
    assert left == [], f"still running: {left}\n{describe(left)}"
    assert processes_in(ws.clusters.cluster_dir(cluster_id)) == []


# A step whose tasks block, so that terminate meets a driver, an executor and Python workers.
BLOCKING = """
import os, sys, time
from pathlib import Path
from pyspark.sql import SparkSession

marks = Path(sys.argv[1])
spark = SparkSession.builder.getOrCreate()


def block(rows):
    (marks / str(os.getpid())).touch()
    time.sleep(600)
    yield 1


spark.sparkContext.parallelize(range(1), 1).mapPartitions(block).collect()
"""

BOOTSTRAP_OK = """#!/bin/sh
echo "$SPARKGLUE_CLUSTER_NAME $1" > "$2"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lifecycle")


@pytest.fixture(scope="module")
def launched(module_ws: Workspace, folder: Path) -> Iterator[dict[str, str]]:
    """The 1-worker clusters of the tests below (name → id, and "block": the id of the step
    queued on "term"), created together so that their JVMs start side by side rather than one
    cluster after another."""
    action = BootstrapAction(
        Name="ok",
        Path=script(folder, "boot.sh", BOOTSTRAP_OK),
        Args=["bootstrapped", str(folder / "booted")],
    )
    specs = [
        small("term", BootstrapActions=[action]),
        small("crash"),
        small("idle", IdleTimeout=3),
        small("orphan"),
    ]
    ids: dict[str, str] = {}
    try:
        for spec in specs:
            ids[spec.Name] = module_ws.clusters.create(spec).id
        # A step queued while the cluster starts runs once it is up: its driver starts while
        # the tests before the one that needs it run.
        (folder / "marks").mkdir()
        blocking = StepSpec(
            Name="block",
            Script=script(folder, "block.py", BLOCKING),
            Args=[str(folder / "marks")],
        )
        ids["block"] = module_ws.clusters.add_step(ids["term"], blocking).id
        yield ids
    finally:
        for cluster_id in ids.values():
            finish(module_ws, cluster_id)


def test_a_crashed_master_ends_the_cluster(module_ws: Workspace, launched: dict[str, str]):
    cluster = up(module_ws, launched["crash"])
    pids = all_pids(module_ws, cluster.id)
    master = cluster.processes["master"]
    os.kill(master, signal.SIGKILL)

    ended = wait_ended(module_ws, cluster.id)
    assert ended.state == "TERMINATED_WITH_ERRORS"
    assert ended.state_reason_code == "INSTANCE_FAILURE"
    assert f"master process (pid {master})" in (ended.state_reason_message or "")
    assert_all_gone(module_ws, cluster.id, pids)


def test_an_idle_cluster_terminates_itself(module_ws: Workspace, launched: dict[str, str]):
    ended = wait_ended(module_ws, launched["idle"], timeout=240)
    assert ended.state == "TERMINATED", ended.state_reason_message
    assert ended.ready_at is not None  # it came up, then went idle
    assert "idle" in (ended.state_reason_message or "")
    assert "IdleTimeout 3 s" in (ended.state_reason_message or "")
    assert set(ended.processes) == {"master", "worker-1"}
    assert_all_gone(module_ws, ended.id, [])


def test_recover_ends_a_cluster_whose_supervisor_died(
    module_ws: Workspace, launched: dict[str, str]
):
    cluster = up(module_ws, launched["orphan"])
    assert cluster.pid is not None
    spark_pids = list(cluster.processes.values())
    os.kill(cluster.pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(cluster.pid or 0), "the supervisor to die", 30)
    # The Spark processes outlive their supervisor: recover() has to stop them.
    assert all(process_alive(p) for p in spark_pids)

    assert module_ws.clusters.recover() == 1
    ended = module_ws.clusters.get(cluster.id, recover=False)
    assert ended.state == "TERMINATED_WITH_ERRORS"
    assert ended.state_reason_code == "INTERNAL_ERROR"
    assert f"supervisor (pid {cluster.pid})" in (ended.state_reason_message or "")
    assert_all_gone(module_ws, cluster.id, spark_pids)
    assert module_ws.clusters.recover() == 0


def test_terminate_stops_every_process(
    module_ws: Workspace, launched: dict[str, str], folder: Path
):
    cluster = up(module_ws, launched["term"])
    # The bootstrap action ran before the cluster came up, with the cluster's name.
    assert (folder / "booted").read_text() == "term bootstrapped\n"
    step_id = launched["block"]
    task = wait_for(lambda: list((folder / "marks").iterdir()), "the step's task to start", 240)
    python_worker = int(task[0].name)
    pids = [*all_pids(module_ws, cluster.id), python_worker]
    assert module_ws.clusters.get_step(step_id).child_pid in pids
    assert all(process_alive(p) for p in pids)

    ended = module_ws.clusters.terminate("term")
    assert (ended.state, ended.state_reason_code) == ("TERMINATED", "USER_REQUEST")
    assert module_ws.clusters.get_step(step_id).state == "INTERRUPTED"
    assert_all_gone(module_ws, cluster.id, pids)


BOOTSTRAP_FAILS = """#!/bin/sh
echo "bootstrap says hello to $1"
exit 3
"""


def test_a_failing_bootstrap_action_fails_the_cluster(
    workspace: Workspace, cleanup: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    action = BootstrapAction(
        Name="fails", Path=script(tmp_path, "fail.sh", BOOTSTRAP_FAILS), Args=["you"]
    )
    created = workspace.clusters.create(small("boot", BootstrapActions=[action]))
    cleanup.append(created.id)
    ended = wait_ended(workspace, created.id)
    assert ended.state == "TERMINATED_WITH_ERRORS"
    assert ended.state_reason_code == "BOOTSTRAP_FAILURE"
    message = ended.state_reason_message or ""
    assert "bootstrap action 1 (fails)" in message
    assert "return code 3" in message
    assert "bootstrap says hello to you" in message
    wait_for(lambda: gone(created.pid or 0), "the supervisor to exit", 30)
    # No Spark process was started.
    assert ended.processes == {}
    assert ended.master_url is None
    logs = Path(ended.log_dir or "")
    assert not (logs / "master.log").exists()
    assert processes_in(workspace.clusters.cluster_dir(created.id)) == []
    # The script's output is in its own log and in the supervisor's.
    bootstrap_log = (logs / "bootstrap-actions" / "1.log").read_text()
    assert "bootstrap says hello to you" in bootstrap_log
    supervisor_log = (logs / "supervisor.log").read_text()
    assert "bootstrap action 1: bootstrap says hello to you" in supervisor_log, log_tail(
        logs / "supervisor.log"
    )
    # ... which `cluster logs` prints.
    ws = str(workspace.settings.workspace)
    code, out, err = run(capsys, "-w", ws, "cluster", "logs", "boot", "--node", "bootstrap-1")
    assert (code, out) == (0, bootstrap_log), err
    code, out, err = run(capsys, "-w", ws, "cluster", "logs", "boot")
    assert (code, out) == (0, supervisor_log), err
