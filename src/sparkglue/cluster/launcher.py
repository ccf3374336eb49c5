"""Starting and stopping the processes of a local Spark standalone cluster.

Everything comes from the PySpark distribution: ``bin/spark-class`` runs the standalone
``Master``, ``Worker`` and ``HistoryServer``; ``bin/spark-submit`` runs the Spark Connect server
(``spark-internal`` is the primary resource of Spark's built-in applications). Each process is
started in its own session, so that stopping one stops its whole process group (a worker's
executors included).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparkglue.store import process_alive

__all__ = [
    "CONNECT_SERVER_CLASS",
    "free_port",
    "http_json",
    "kill_group",
    "port_open",
    "spark_home",
    "start_process",
    "stop_processes",
]

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"


def spark_home() -> Path:
    """The PySpark distribution's folder (``bin/spark-class``, ``jars/``), found without
    importing PySpark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:  # pragma: no cover - PySpark is a dependency
        raise RuntimeError("PySpark is not installed")
    return Path(spec.origin).parent


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host if host != "0.0.0.0" else "", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        with socket.create_connection((target, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_json(url: str, timeout: float = 2.0) -> Any:
    """The JSON document at ``url``; None when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def spark_env(conf_dir: Path, host: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a cluster process: this Python for PySpark workers, the cluster's
    configuration folder, and the host to bind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env.update(
        {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(conf_dir),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }
    )
    if host not in ("0.0.0.0", ""):
        env["SPARK_LOCAL_IP"] = host
    env.update(extra or {})
    return env


def start_process(command: list[str], log: Path, env: Mapping[str, str], cwd: Path) -> int:
    """Start ``command`` in its own session with its output appended to ``log``; its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=str(cwd),
            start_new_session=True,
        )
    return proc.pid


def kill_group(pid: int, sig: int) -> None:
    """Signal the process group led by ``pid`` (and ``pid`` itself if it left the group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    # Processes this process started are its children: collect them so they do not linger
    # as zombies (others are reaped by their own parent).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def group_alive(pid: int) -> bool:
    """Whether the process or any member of its process group still runs."""
    _reap(pid)
    if process_alive(pid):
        return True
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # Members of the group may be zombies of a dead leader; check them one by one.
    return any(process_alive(p) for p in _group_members(pid))


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace")
            rest = fields.rsplit(")", 1)[-1].split()
            if int(rest[2]) == pgid:
                members.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return members


def stop_processes(pids: list[int], grace: float = 10.0) -> list[int]:
    """Stop process groups: SIGTERM, then SIGKILL for those still running after ``grace``
    seconds. Returns the pids still alive at the end (empty when all are gone)."""
    for pid in pids:
        kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if group_alive(pid):
            kill_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(group_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if group_alive(p)]


def master_command(host: str, port: int, ui_port: int) -> list[str]:
    return [
        str(spark_home() / "bin" / "spark-class"),
        MASTER_CLASS,
        "--host",
        host,
        "--port",
        str(port),
        "--webui-port",
        str(ui_port),
    ]


def worker_command(
    master_url: str, host: str, cores: int, memory: str, ui_port: int, work_dir: Path
) -> list[str]:
    return [
        str(spark_home() / "bin" / "spark-class"),
        WORKER_CLASS,
        "--host",
        host,
        "--cores",
        str(cores),
        "--memory",
        memory,
        "--webui-port",
        str(ui_port),
        "--work-dir",
        str(work_dir),
        master_url,
    ]


def connect_command(master_url: str, conf: Mapping[str, str]) -> list[str]:
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        CONNECT_SERVER_CLASS,
        "--name",
        "Spark Connect server",
        "--master",
        master_url,
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return [*command, "spark-internal"]


def history_command() -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), HISTORY_CLASS]
