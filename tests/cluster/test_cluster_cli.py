"""``sparkglue cluster …`` as a user types it, without launching a cluster: one-line errors
that record nothing, attach, list, describe, steps, cancel-step, logs and terminate."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_cli import run
from tests.cluster.support import insert_cluster, script

from sparkglue.cluster.launcher import free_port
from sparkglue.workspace import Workspace


@pytest.fixture
def ws(workspace: Workspace) -> str:
    return str(workspace.settings.workspace)


def sh(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> tuple[int, str, str]:
    """``sparkglue -w WS cluster COMMAND`` (split as a shell would)."""
    return run(capsys, "-w", ws, "cluster", *shlex.split(command))


def ok(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> str:
    code, out, err = sh(capsys, ws, command)
    assert code == 0, (command, out, err)
    return out


def as_json(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> Any:
    return json.loads(ok(capsys, ws, command + " -o json"))


def fails(capsys: pytest.CaptureFixture[str], ws: str, command: str, message: str) -> None:
    """The command exits 1 with one line ``Error: …`` matching ``message`` (after at most a
    progress line such as ``Terminating NAME …``)."""
    code, out, err = sh(capsys, ws, command)
    assert code == 1, (command, out, err)
    *before, last = err.splitlines() or [""]
    assert last.startswith("Error: ") and err.endswith("\n"), err
    assert all(line.endswith(" …") for line in before), err
    assert re.search(message, last), err


def test_create_with_a_bad_configurations_file_records_nothing(
    capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path
):
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps([{"Classification": "hive-site", "Properties": {"a": "b"}}]))
    fails(
        capsys,
        ws,
        f"create c --configurations {conf}",
        rf"configurations file {re.escape(str(conf))}: classification 'hive-site' is not "
        "supported",
    )
    conf.write_text('[{"Classification": "spark-env", "Properties": {"A": "1"}}]')
    fails(capsys, ws, f"create c --configurations {conf}", "nested 'export' configuration")
    conf.write_text("[{")
    fails(capsys, ws, f"create c --configurations {conf}", r"is not valid JSON")
    fails(capsys, ws, f"create c --configurations {tmp_path / 'no.json'}", "cannot be read")
    assert as_json(capsys, ws, "list") == []
    assert not (Path(ws) / "logs" / "clusters").exists()  # no supervisor was started


def test_create_refuses_bad_settings(capsys: pytest.CaptureFixture[str], ws: str, tmp_path: Path):
    fails(capsys, ws, "create c --worker-memory 2gb", r"WorkerMemory: '2gb' is not a memory size")
    fails(capsys, ws, "create 'a b'", r"'a b' is not a valid cluster name")
    fails(capsys, ws, "create c --workers 0", r"cluster 'c': Workers")
    fails(
        capsys,
        ws,
        f"create c --bootstrap-action '{tmp_path / 'missing.sh'} x'",
        r"bootstrap action 1 \(bootstrap-1\): script .*missing\.sh does not exist",
    )
    fails(capsys, ws, "create c --bootstrap-action ''", "--bootstrap-action is empty")
    assert as_json(capsys, ws, "list") == []


def test_describe_an_unknown_cluster(capsys: pytest.CaptureFixture[str], ws: str):
    fails(capsys, ws, "describe nope", r"cluster 'nope' not found; see `sparkglue cluster list`")
    fails(capsys, ws, "terminate nope", r"cluster 'nope' not found")
    fails(capsys, ws, "steps nope", r"cluster 'nope' not found")


def test_attach_describe_list_and_terminate(capsys: pytest.CaptureFixture[str], ws: str):
    port = free_port()
    fails(
        capsys,
        ws,
        f"attach far --master spark://127.0.0.1:{port}",
        rf"nothing answers at 127\.0\.0\.1:{port} .*--no-check",
    )
    fails(capsys, ws, "attach far --master local[2]", "is not a cluster master")
    fails(capsys, ws, "attach 'a b' --master yarn", r"'a b' is not a valid cluster name")
    assert as_json(capsys, ws, "list") == []

    out = ok(capsys, ws, f"attach far --master spark://127.0.0.1:{port} --no-check")
    assert f"attached to spark://127.0.0.1:{port}" in out
    ok(capsys, ws, "attach hadoop --master yarn")
    fails(capsys, ws, "attach hadoop --master yarn", "cluster 'hadoop' already exists")
    listed = as_json(capsys, ws, "list")
    assert [(c["name"], c["kind"], c["state"], c["master"]) for c in listed] == [
        ("hadoop", "attached", "WAITING", "yarn"),
        ("far", "attached", "WAITING", f"spark://127.0.0.1:{port}"),
    ]
    described = as_json(capsys, ws, "describe far")
    assert described["State"] == "WAITING"
    assert described["Kind"] == "attached"
    assert described["MasterUrl"] == f"spark://127.0.0.1:{port}"
    assert described["StateChangeReason"]["Message"] == f"Attached to spark://127.0.0.1:{port}"
    assert "Processes" not in described

    assert "Cluster hadoop TERMINATED" in ok(capsys, ws, "terminate hadoop")
    assert [c["name"] for c in as_json(capsys, ws, "list --active")] == ["far"]
    assert as_json(capsys, ws, "describe hadoop")["State"] == "TERMINATED"
    fails(capsys, ws, "terminate hadoop", "is TERMINATED")


def test_steps_add_cancel_and_logs(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, ws: str, tmp_path: Path
):
    cluster_id = insert_cluster(workspace, "local")
    job = script(tmp_path, "job.py", "print('hi')\n")
    fails(capsys, ws, "add-step local --script missing.py", r"missing\.py does not exist")
    fails(
        capsys,
        ws,
        f"add-step local --script {script(tmp_path, 'job.sh', 'echo')}",
        r"is not a Python file",
    )
    fails(capsys, ws, f'add-step local --script {job} --args "\'a"', r"--args ''a'")
    out = ok(capsys, ws, f"add-step local --script {job} --args '--day 1' --args x")
    step_id = re.search(r"Step (s_\S+) \(job\) PENDING on local", out)
    assert step_id, out
    step = workspace.clusters.get_step(step_id[1])
    assert step.args == ["--day", "1", "x"]

    steps = as_json(capsys, ws, "steps local")
    assert [(s["id"], s["name"], s["state"], s["on failure"]) for s in steps] == [
        (step.id, "job", "PENDING", "CONTINUE")
    ]
    assert f"Step {step.id} CANCELLED" in ok(capsys, ws, f"cancel-step local {step.id}")
    fails(capsys, ws, f"cancel-step local {step.id}", "is already CANCELLED")
    assert as_json(capsys, ws, "steps local")[0]["state"] == "CANCELLED"

    fails(capsys, ws, "logs local", r"no log at .*supervisor\.log")
    fails(capsys, ws, f"logs local --step {step.id}", rf"no log at .*{step.id}\.log")
    log = workspace.clusters.logs_dir(cluster_id) / "master.log"
    log.parent.mkdir(parents=True)
    log.write_text("master says hi\n")
    assert ok(capsys, ws, "logs local --node master") == "master says hi\n"
    described = as_json(capsys, ws, "describe local")
    assert described["Instances"] == {"Workers": 1, "WorkerCores": 1, "WorkerMemory": "2g"}
    assert described["StepConcurrencyLevel"] == 1
