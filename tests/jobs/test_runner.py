"""The job runner with real processes: timeout, stop, retries, concurrency, recovery, logs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from sparkglue.errors import InvalidInput
from sparkglue.jobs import ConcurrentRunsExceeded, JobSpec
from sparkglue.workspace import Workspace


def _shell_job(ws: Workspace, name: str, body: str, **extra: object) -> None:
    script = ws.path / "scripts" / f"{name}.py"
    script.write_text(body, encoding="utf-8")
    ws.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": name,
                "Command": {"Name": "pythonshell", "ScriptLocation": f"scripts/{name}.py"},
                **extra,
            }
        )
    )


def _wait_state(ws: Workspace, run_id: str, state: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while ws.jobs.get_run(run_id).state != state:
        assert time.monotonic() < deadline, ws.jobs.get_run(run_id)
        time.sleep(0.1)


def _ends(pid: int, limit: float = 10) -> bool:
    """Whether the process ends (an unreaped zombie has ended too)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


SLEEPER = """
import os, sys, time
print("child", os.getpid(), flush=True)
time.sleep(600)
"""


def test_a_run_succeeds_with_arguments_in_glue_precedence(workspace: Workspace) -> None:
    _shell_job(
        workspace,
        "echo",
        "import sys\nprint('ARGS', sys.argv[1:])\n",
        DefaultArguments={"--a": "default", "--b": "default"},
        NonOverridableArguments={"--c": "fixed"},
    )
    run_id = workspace.jobs.start_run("echo", {"--b": "run", "--c": "run"})
    run = workspace.jobs.supervise(run_id)
    assert run.state == "SUCCEEDED", run.error_message
    log = workspace.jobs.logs(run_id).read_text()
    assert "'--a', 'default'" in log and "'--b', 'run'" in log and "'--c', 'fixed'" in log
    assert "'--JOB_RUN_ID', '" + run_id in log
    assert run.metrics["ExecutionTime"] >= 0


def test_timeout_kills_the_process_tree_and_records_timeout(workspace: Workspace) -> None:
    _shell_job(
        workspace,
        "slow",
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('grandchild', child.pid, flush=True)\n"
        "child.wait()\n",
    )
    run_id = workspace.jobs.start_run("slow", timeout_minutes=0.05)
    started = time.monotonic()
    run = workspace.jobs.supervise(run_id)
    assert run.state == "TIMEOUT"
    assert "timeout of 0.05 minute(s)" in str(run.error_message)
    assert time.monotonic() - started < 20
    log = workspace.jobs.logs(run_id).read_text()
    grandchild = int(log.split("grandchild ")[1].split()[0])
    assert _ends(grandchild)


def test_stop_ends_a_background_run_stopped(workspace: Workspace) -> None:
    _shell_job(workspace, "sleeper", SLEEPER)
    run_id = workspace.jobs.start_run("sleeper")
    workspace.jobs.launch(run_id)
    _wait_state(workspace, run_id, "RUNNING")
    deadline = time.monotonic() + 20
    while "child" not in workspace.jobs.logs(run_id).read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    child = int(workspace.jobs.logs(run_id).read_text().split("child ")[1].split()[0])
    workspace.jobs.stop_run(run_id)
    run = workspace.jobs.wait(run_id, poll=0.1)
    assert run.state == "STOPPED"
    assert _ends(child)
    with pytest.raises(InvalidInput, match="already STOPPED"):
        workspace.jobs.stop_run(run_id)


def test_retries_are_attempts_linked_to_the_first_run(workspace: Workspace) -> None:
    _shell_job(workspace, "flaky", "raise SystemExit('ValueError: no input today')\n", MaxRetries=2)
    first = workspace.jobs.start_run("flaky")
    last = workspace.jobs.supervise(first)
    assert last.state == "FAILED"
    assert last.attempt == 2 and last.first_run_id == first
    runs = workspace.jobs.list_runs("flaky")
    assert sorted(r.attempt for r in runs) == [0, 1, 2]
    assert all(r.state == "FAILED" for r in runs)
    assert "no input today" in str(runs[0].error_message)
    assert workspace.jobs.wait(first).id == last.id


def test_max_concurrent_runs_refuses_the_extra_run(workspace: Workspace) -> None:
    _shell_job(workspace, "single", SLEEPER, ExecutionProperty={"MaxConcurrentRuns": 1})
    run_id = workspace.jobs.start_run("single")
    workspace.jobs.launch(run_id)
    with pytest.raises(ConcurrentRunsExceeded, match="allows 1 .*MaxConcurrentRuns"):
        workspace.jobs.start_run("single")
    workspace.jobs.stop_run(run_id)
    assert workspace.jobs.wait(run_id, poll=0.1).state == "STOPPED"
    second = workspace.jobs.start_run("single")  # room again
    workspace.jobs.stop_run(second)
    assert workspace.jobs.supervise(second).state == "STOPPED"


def test_a_run_whose_supervisor_died_is_resolved_as_error(workspace: Workspace) -> None:
    _shell_job(workspace, "orphan", SLEEPER)
    run_id = workspace.jobs.start_run("orphan")
    pid = workspace.jobs.launch(run_id)
    _wait_state(workspace, run_id, "RUNNING")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    run = workspace.jobs.get_run(run_id)  # any read of runs resolves it
    assert run.state == "ERROR"
    assert f"supervisor (pid {pid})" in str(run.error_message)


def test_bad_specs_and_arguments_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        workspace.jobs.create_job(
            JobSpec.model_validate(
                {"Name": "nope", "Command": {"ScriptLocation": "scripts/missing.py"}}
            )
        )
    with pytest.raises(ValueError, match="job-bookmark-option 'sometimes'"):
        JobSpec.model_validate(
            {
                "Name": "x",
                "Command": {"ScriptLocation": "x.py"},
                "DefaultArguments": {"--job-bookmark-option": "sometimes"},
            }
        )
    _shell_job(workspace, "ok", "print(1)\n")
    with pytest.raises(InvalidInput, match="must look like --name"):
        workspace.jobs.start_run("ok", {"nodash": "1"})
    with pytest.raises(InvalidInput, match="positive number of minutes"):
        workspace.jobs.start_run("ok", timeout_minutes=0)


def test_a_run_launched_twice_runs_once(workspace: Workspace, tmp_path: Path) -> None:
    marks = tmp_path / "marks.txt"
    _shell_job(
        workspace,
        "once",
        f"import os\nwith open({str(marks)!r}, 'a') as f:\n    f.write(str(os.getpid()) + '\\n')\n",
    )
    run_id = workspace.jobs.start_run("once")
    first = workspace.jobs.launch(run_id)
    second = workspace.jobs.launch(run_id)  # as a scheduler restarted after a crash might
    run = workspace.jobs.wait(run_id, poll=0.1)
    assert run.state == "SUCCEEDED"
    assert _ends(first) and _ends(second)
    assert len(marks.read_text().splitlines()) == 1
    assert workspace.jobs.get_run(run_id).attempt == 0
