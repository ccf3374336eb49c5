"""Helpers for cluster tests: launching real clusters, waiting without hanging, checking by pid
that processes are gone, and cleaning up whatever a test left running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkglue.cluster import Cluster, ClusterSpec, Step
from sparkglue.cluster.specs import ENDED_STEP_STATES
from sparkglue.store import new_record_id, process_alive, schema, utc_now
from sparkglue.workspace import Workspace

KEEP_ENV = (
    "SPARKGLUE_TEST_POSTGRES_URL",
    "SPARKGLUE_TEST_MYSQL_URL",
    "SPARKGLUE_TEST_REQUIRE_SERVICES",
    "SPARKGLUE_CLASS_ARCHIVE",
)


@contextlib.contextmanager
def clean_env() -> Iterator[pytest.MonkeyPatch]:
    """No SPARKGLUE_* setting of the developer reaches a module-scoped workspace (the autouse
    fixture of tests/conftest.py only covers function scope)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("SPARKGLUE_") and key not in KEEP_ENV:
                mp.delenv(key)
        yield mp


def wait_for(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail (not hang) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(0.2)


def log_tail(path: str | Path | None, lines: int = 30) -> str:
    if not path or not Path(path).is_file():
        return f"(no log at {path})"
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def launch(
    ws: Workspace, spec: ClusterSpec, ids: list[str] | None = None, timeout: float = 240.0
) -> Cluster:
    """Create a cluster (its id appended to ``ids`` for teardown) and wait until it is up."""
    created = ws.clusters.create(spec)
    if ids is not None:
        ids.append(created.id)
    return up(ws, created.id, timeout)


def up(ws: Workspace, cluster_id: str, timeout: float = 240.0) -> Cluster:
    """The cluster once it is up: WAITING, or RUNNING steps queued while it started (the
    test fails with its supervisor's log if it ends instead)."""
    cluster = ws.clusters.wait(cluster_id, ("WAITING", "RUNNING"), timeout=timeout)
    if cluster.state not in ("WAITING", "RUNNING"):
        log = Path(cluster.log_dir or "") / "supervisor.log"
        pytest.fail(
            f"cluster {cluster.name} is {cluster.state} ({cluster.state_reason_code}: "
            f"{cluster.state_reason_message})\n{log_tail(log)}"
        )
    return cluster


def wait_step(ws: Workspace, step_id: str, timeout: float = 240.0) -> Step:
    """The step once it has ended."""
    wait_for(
        lambda: ws.clusters.get_step(step_id).state in ENDED_STEP_STATES,
        f"step {step_id} to end",
        timeout,
    )
    return ws.clusters.wait_step(step_id)


def wait_ended(ws: Workspace, cluster_id: str, timeout: float = 180.0) -> Cluster:
    return ws.clusters.wait(cluster_id, ("TERMINATED", "TERMINATED_WITH_ERRORS"), timeout=timeout)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def describe(pids: list[int]) -> str:
    """What the live processes among ``pids`` (and their groups) are, for failure messages."""
    lines = []
    for pid in sorted({m for p in pids for m in [p, *group_members(p)]}):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        lines.append(f"{pid} (group {(_stat(pid) or ['?'] * 3)[2]}): {cmd[:300]}")
    return "\n".join(lines)


def gone(pid: int) -> bool:
    """The process and every member of the process group it led have ended."""
    return not process_alive(pid) and not group_members(pid)


def processes_in(folder: str | Path) -> list[int]:
    """Live processes that run inside ``folder`` or name it on their command line: a
    cluster's folder is the working directory of its master and workers, holds its executors'
    work dirs, and its ``conf`` folder is on the class path of every JVM it started."""
    text = str(folder)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = str((entry / "cwd").readlink())
        except OSError:
            continue
        fields = _stat(int(entry.name))
        inside = cwd == text or cwd.startswith(text + "/")
        if (inside or text in cmdline) and fields and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def all_pids(ws: Workspace, cluster_id: str) -> list[int]:
    """Every pid a cluster recorded: supervisor, Spark processes and step processes."""
    cluster = ws.clusters.get(cluster_id, recover=False)
    pids = [int(p) for p in cluster.processes.values()]
    if cluster.pid:
        pids.append(int(cluster.pid))
    pids += [st.child_pid for st in ws.clusters.steps(cluster_id) if st.child_pid]
    return pids


def finish(ws: Workspace, cluster_id: str, seen: list[int] | None = None) -> None:
    """Teardown: terminate the cluster if it still runs, then SIGKILL whatever survived."""
    with contextlib.suppress(Exception):
        cluster = ws.clusters.get(cluster_id, recover=False)
        if cluster.active:
            ws.clusters.terminate(cluster_id, timeout=60)
    pids = set(seen or [])
    with contextlib.suppress(Exception):
        pids.update(all_pids(ws, cluster_id))
    for pid in pids:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
    for pid in processes_in(ws.clusters.cluster_dir(cluster_id)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def script(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def insert_cluster(ws: Workspace, name: str, **values: Any) -> str:
    """Record a local cluster directly (no supervisor: nothing runs its steps); its id."""
    cluster_id = new_record_id("j")
    spec = ClusterSpec(Name=name, Workers=1, WorkerCores=1, StepConcurrencyLevel=1)
    now = utc_now()
    row: dict[str, Any] = {
        "id": cluster_id,
        "name": name,
        "kind": "local",
        "state": "WAITING",
        "state_reason_code": None,
        "state_reason_message": "Cluster ready to run steps",
        "spec": spec.model_dump(mode="json"),
        "master_url": "spark://127.0.0.1:7077",
        "connect_url": None,
        "web_uis": {},
        "processes": {},
        "pid": None,
        "host": socket.gethostname(),
        "log_dir": str(ws.clusters.logs_dir(cluster_id)),
        "created_at": now,
        "ready_at": now,
        "last_activity_at": now,
    }
    row.update(values)
    with ws.store.write() as conn:
        conn.execute(schema.clusters.insert().values(**row))
    return cluster_id


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def start_group(*commands: str) -> int:
    """Start ``sh -c`` running ``commands`` in the background, in a new session; the leader's
    pid (its children share its process group)."""
    script = " & ".join(commands) + " & wait"
    return subprocess.Popen(["sh", "-c", script], start_new_session=True).pid
