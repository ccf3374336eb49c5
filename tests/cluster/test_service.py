"""Cluster records without a JVM: attach, names, add-step and cancel-step errors, targets, and
recover() of clusters whose supervisor or step runner died."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.cluster.support import (
    dead_pid,
    gone,
    group_members,
    insert_cluster,
    script,
    start_group,
    wait_for,
)

from sparkglue.cluster import ClusterNotReady, ClusterSpec, StepSpec
from sparkglue.cluster.launcher import free_port
from sparkglue.errors import AlreadyExists, EntityNotFound, InvalidInput
from sparkglue.workspace import Workspace

PY = "print('hello')\n"


@pytest.fixture
def groups() -> Iterator[Callable[..., int]]:
    """``start_group``, with every group it started killed at teardown."""
    started: list[int] = []

    def start(*commands: str) -> int:
        started.append(start_group(*commands))
        return started[-1]

    yield start
    for pgid in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def test_attach_refuses_a_master_that_does_not_answer(workspace: Workspace):
    port = free_port()
    with pytest.raises(InvalidInput) as caught:
        workspace.clusters.attach("gone", f"spark://127.0.0.1:{port}")
    message = str(caught.value)
    assert f"nothing answers at 127.0.0.1:{port}" in message
    assert "--no-check" in message
    with pytest.raises(InvalidInput, match=f"nothing answers at 127.0.0.1:{port}"):
        workspace.clusters.attach("gone", f"sc://127.0.0.1:{port}")
    assert workspace.clusters.list_clusters() == []


def test_attach_without_checking_records_the_master(workspace: Workspace):
    port = free_port()
    cluster = workspace.clusters.attach("far", f"spark://127.0.0.1:{port}", check=False)
    assert (cluster.kind, cluster.state) == ("attached", "WAITING")
    assert cluster.master_url == f"spark://127.0.0.1:{port}"
    assert (cluster.connect_url, cluster.processes, cluster.pid) == (None, {}, None)
    yarn = workspace.clusters.attach("hadoop", "yarn")  # nothing to check for YARN
    assert (yarn.master_url, yarn.connect_url) == ("yarn", None)
    assert workspace.clusters.get("hadoop").id == yarn.id
    target = workspace.clusters.target("far")
    assert (target.master_url, target.connect_url, target.conf_dir) == (
        cluster.master_url,
        None,
        None,
    )
    assert target.submit_env() == {}
    assert [c.name for c in workspace.clusters.list_clusters()] == ["hadoop", "far"]


@pytest.mark.parametrize(
    ("name", "master", "message"),
    [
        ("web", "http://127.0.0.1:8080", "is not a cluster master"),
        ("bad", "spark://", "is not valid"),
        ("has space", "yarn", "is not a valid cluster name"),
    ],
)
def test_attach_refuses_bad_input(workspace: Workspace, name: str, master: str, message: str):
    with pytest.raises(InvalidInput, match=message):
        workspace.clusters.attach(name, master, check=False)
    assert workspace.clusters.list_clusters() == []


def test_a_spark_connect_only_cluster_takes_no_steps(workspace: Workspace, tmp_path: Path):
    connect = workspace.clusters.attach("sc", "sc://127.0.0.1:15002", check=False)
    assert (connect.master_url, connect.connect_url) == (None, "sc://127.0.0.1:15002")
    with pytest.raises(ClusterNotReady, match="Spark Connect server only"):
        workspace.clusters.add_step("sc", StepSpec(Name="s", Script=script(tmp_path, "s.py", PY)))
    assert workspace.clusters.steps("sc") == []
    assert workspace.clusters.get("sc").pid is None  # no step runner was started


def test_an_active_name_is_taken_until_the_cluster_ends(workspace: Workspace):
    first = workspace.clusters.attach("dup", "yarn")
    with pytest.raises(AlreadyExists, match=f"cluster 'dup' already exists \\({first.id}\\)"):
        workspace.clusters.attach("dup", "yarn")
    with pytest.raises(AlreadyExists, match=f"cluster 'dup' already runs \\({first.id}\\)"):
        workspace.clusters.create(ClusterSpec(Name="dup", Workers=1))
    assert [c.id for c in workspace.clusters.list_clusters()] == [first.id]

    ended = workspace.clusters.terminate("dup")
    assert (ended.state, ended.state_reason_code) == ("TERMINATED", "USER_REQUEST")
    assert ended.ended_at is not None
    with pytest.raises(ClusterNotReady, match="is TERMINATED"):
        workspace.clusters.terminate("dup")
    second = workspace.clusters.attach("dup", "yarn")
    # A name finds the active cluster; the ended one stays listed.
    assert workspace.clusters.get("dup").id == second.id
    assert workspace.clusters.get(first.id).state == "TERMINATED"
    assert [c.id for c in workspace.clusters.list_clusters(include_ended=False)] == [second.id]
    assert len(workspace.clusters.list_clusters()) == 2


def test_unknown_clusters_and_steps(workspace: Workspace):
    with pytest.raises(EntityNotFound, match="cluster 'nope' not found"):
        workspace.clusters.get("nope")
    with pytest.raises(EntityNotFound, match="step 's_nope' not found"):
        workspace.clusters.get_step("s_nope")


def test_add_step_errors(workspace: Workspace, tmp_path: Path):
    insert_cluster(workspace, "local")
    with pytest.raises(InvalidInput, match=r"step script .*missing\.py does not exist"):
        workspace.clusters.add_step("local", StepSpec(Name="s", Script="missing.py"))
    shell = script(tmp_path, "job.sh", "echo hi\n")
    with pytest.raises(InvalidInput, match=r"job\.sh is not a Python file"):
        workspace.clusters.add_step("local", StepSpec(Name="s", Script=shell))
    folder = tmp_path / "folder.py"
    folder.mkdir()
    with pytest.raises(InvalidInput, match="does not exist"):
        workspace.clusters.add_step("local", StepSpec(Name="s", Script=str(folder)))
    assert workspace.clusters.steps("local") == []


def test_add_step_resolves_a_relative_script(workspace: Workspace, tmp_path: Path):
    insert_cluster(workspace, "local")
    script(tmp_path, "job.py", PY)  # the tests run in tmp_path
    step = workspace.clusters.add_step("local", StepSpec(Name="s", Script="job.py", Args=["a"]))
    assert (step.state, step.script, step.args, step.seq) == (
        "PENDING",
        str((tmp_path / "job.py").resolve()),
        ["a"],
        1,
    )
    assert step.log_path == str(
        workspace.clusters.logs_dir(step.cluster_id) / "steps" / f"{step.id}.log"
    )
    assert workspace.clusters.add_step("local", StepSpec(Name="t", Script="job.py")).seq == 2


def test_failure_actions_other_than_continue_need_one_step_at_a_time(
    workspace: Workspace, tmp_path: Path
):
    spec = ClusterSpec(Name="many", StepConcurrencyLevel=3).model_dump(mode="json")
    insert_cluster(workspace, "many", spec=spec)
    job = script(tmp_path, "job.py", PY)
    for action in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER"):
        with pytest.raises(InvalidInput, match=f"ActionOnFailure {action} is not valid"):
            workspace.clusters.add_step(
                "many",
                StepSpec(Name="s", Script=job, ActionOnFailure=action),  # type: ignore[arg-type]
            )
    assert workspace.clusters.add_step("many", StepSpec(Name="s", Script=job)).state == "PENDING"


def test_add_step_on_a_cluster_that_cannot_take_steps(workspace: Workspace, tmp_path: Path):
    job = script(tmp_path, "job.py", PY)
    workspace.clusters.attach("old", "yarn")
    workspace.clusters.terminate("old")
    with pytest.raises(ClusterNotReady, match=r"cluster 'old' \(j_.*\) is TERMINATED"):
        workspace.clusters.add_step("old", StepSpec(Name="s", Script=job))
    insert_cluster(workspace, "stopping", state="TERMINATING")
    with pytest.raises(ClusterNotReady, match="is TERMINATING; it takes no steps"):
        workspace.clusters.add_step("stopping", StepSpec(Name="s", Script=job))
    insert_cluster(workspace, "starting", state="STARTING")
    with pytest.raises(ClusterNotReady, match="is STARTING; wait until it is WAITING"):
        workspace.clusters.target("starting")


def test_cancel_a_pending_step(workspace: Workspace, tmp_path: Path):
    cluster_id = insert_cluster(workspace, "local")
    job = script(tmp_path, "job.py", PY)
    step = workspace.clusters.add_step("local", StepSpec(Name="s", Script=job))
    kept = workspace.clusters.add_step("local", StepSpec(Name="t", Script=job))
    with pytest.raises(InvalidInput, match="cancellation option 'KILL'"):
        workspace.clusters.cancel_step("local", step.id, "KILL")
    cancelled = workspace.clusters.cancel_step("local", step.id)
    assert (cancelled.state, cancelled.error_message) == ("CANCELLED", "Cancelled by user request")
    assert cancelled.finished_at is not None
    with pytest.raises(InvalidInput, match=f"step {step.id} is already CANCELLED"):
        workspace.clusters.cancel_step("local", step.id)
    assert [s.state for s in workspace.clusters.steps(cluster_id)] == ["CANCELLED", "PENDING"]
    assert workspace.clusters.get_step(kept.id).state == "PENDING"
    insert_cluster(workspace, "other")
    with pytest.raises(EntityNotFound, match=f"step '{kept.id}' is not a step of cluster 'other'"):
        workspace.clusters.cancel_step("other", kept.id)


def test_recover_ends_a_cluster_whose_supervisor_is_gone(
    workspace: Workspace, tmp_path: Path, groups: Callable[..., int]
):
    # What a supervisor killed by SIGKILL leaves: its record, its Spark processes (here
    # stand-ins, each leading a process group) and a running step's process.
    master = groups("sleep 300", "sleep 300")
    worker = groups("sleep 300")
    step_proc = groups("sleep 300")
    cluster_id = insert_cluster(
        workspace,
        "orphan",
        state="RUNNING",
        processes={"master": master, "worker-1": worker},
    )
    job = script(tmp_path, "job.py", PY)
    running = workspace.clusters.add_step("orphan", StepSpec(Name="r", Script=job))
    workspace.clusters.step_transition(running.id, "RUNNING", child_pid=step_proc)
    pending = workspace.clusters.add_step("orphan", StepSpec(Name="p", Script=job))
    workspace.clusters.update(cluster_id, pid=dead_pid())
    # A cluster of another host is not this host's to judge.
    elsewhere = insert_cluster(
        workspace, "elsewhere", pid=dead_pid(), host="not-" + socket.gethostname()
    )
    # A supervisor that runs is left alone.
    alive = insert_cluster(workspace, "alive", pid=groups("sleep 300"))
    wait_for(lambda: all(len(group_members(p)) >= 2 for p in (master, worker)), "the stand-ins")

    assert workspace.clusters.recover() == 1
    cluster = workspace.clusters.get(cluster_id, recover=False)
    assert cluster.state == "TERMINATED_WITH_ERRORS"
    assert cluster.state_reason_code == "INTERNAL_ERROR"
    assert f"supervisor (pid {cluster.pid}) ended without terminating it" in (
        cluster.state_reason_message or ""
    )
    assert cluster.ended_at is not None
    assert all(gone(p) for p in (master, worker, step_proc))
    assert workspace.clusters.get_step(running.id).state == "INTERRUPTED"
    assert workspace.clusters.get_step(pending.id).state == "CANCELLED"
    assert workspace.clusters.get(elsewhere, recover=False).state == "WAITING"
    assert workspace.clusters.get(alive, recover=False).state == "WAITING"
    assert workspace.clusters.recover() == 0


def test_recover_finishes_a_termination_under_way(workspace: Workspace, groups: Callable[..., int]):
    leftover = groups("sleep 300")
    cluster_id = insert_cluster(
        workspace,
        "stopping",
        state="TERMINATING",
        state_reason_code="USER_REQUEST",
        state_reason_message="Terminated by user request",
        pid=dead_pid(),
        processes={"master": leftover},
    )
    failing_id = insert_cluster(
        workspace,
        "failing",
        state="TERMINATING",
        state_reason_code="STEP_FAILURE",
        state_reason_message="Step s_1 (x) failed",
        pid=dead_pid(),
    )
    assert workspace.clusters.recover() == 2
    stopped = workspace.clusters.get(cluster_id, recover=False)
    assert (stopped.state, stopped.state_reason_code) == ("TERMINATED", "USER_REQUEST")
    assert gone(leftover)
    failed = workspace.clusters.get(failing_id, recover=False)
    assert (failed.state, failed.state_reason_code) == ("TERMINATED_WITH_ERRORS", "STEP_FAILURE")
    assert failed.state_reason_message == "Step s_1 (x) failed"


def test_recover_frees_an_attached_cluster_whose_step_runner_died(
    workspace: Workspace, tmp_path: Path
):
    attached = workspace.clusters.attach("far", "yarn")
    job = script(tmp_path, "job.py", PY)
    # A step the runner had started, recorded directly: add_step would start a real runner.
    cluster_id = insert_cluster(workspace, "scratch")
    step = workspace.clusters.add_step("scratch", StepSpec(Name="r", Script=job))
    workspace.clusters.update_step(step.id, cluster_id=attached.id)
    workspace.clusters.step_transition(step.id, "RUNNING")
    workspace.clusters.update(attached.id, pid=dead_pid(), state="RUNNING")
    assert workspace.clusters.steps(cluster_id) == []

    assert workspace.clusters.recover() == 0  # an attached cluster does not end
    cluster = workspace.clusters.get(attached.id, recover=False)
    assert (cluster.state, cluster.pid) == ("WAITING", None)
    assert workspace.clusters.get_step(step.id).state == "INTERRUPTED"


def test_the_target_of_a_local_cluster(workspace: Workspace):
    cluster_id = insert_cluster(workspace, "local", last_activity_at="2020-01-01T00:00:00.000000Z")
    target = workspace.clusters.target("local")
    conf = workspace.clusters.cluster_dir(cluster_id) / "conf"
    assert (target.cluster_id, target.master_url, target.conf_dir) == (
        cluster_id,
        "spark://127.0.0.1:7077",
        conf,
    )
    assert target.submit_env() == {"SPARK_CONF_DIR": str(conf)}
    # Sending work to a cluster counts as activity (its idle timer starts again).
    assert workspace.clusters.get("local").last_activity_at != "2020-01-01T00:00:00.000000Z"


def test_steps_queue_while_a_local_cluster_starts(workspace: Workspace, tmp_path: Path):
    # No master yet (as EMR, steps added to a STARTING cluster wait for it).
    insert_cluster(workspace, "booting", state="STARTING", master_url=None)
    step = workspace.clusters.add_step(
        "booting", StepSpec(Name="s", Script=script(tmp_path, "job.py", PY))
    )
    assert step.state == "PENDING"
