"""The supervisor of a cluster: one process that launches it, watches it, runs its steps and
stops it (what EMR's instance controller does for a cluster).

Launch: write the cluster's Spark configuration folder, run the bootstrap actions
(BOOTSTRAPPING), start the master, then the workers (each its own process) and wait until all
have registered, then the history server and the Spark Connect server when asked (the latter
warmed up with a first query), and report WAITING. Then, twice a second: a dead master ends the
cluster (TERMINATED_WITH_ERRORS, INSTANCE_FAILURE); a dead worker, history or Connect server is
started again; pending steps start up to ``StepConcurrencyLevel``; a failed step applies its
``ActionOnFailure``; an idle cluster past its ``IdleTimeout`` terminates; a termination request
(or SIGTERM) stops steps and processes and records the end.

For an attached cluster the supervisor is only a step runner: it runs the pending steps against
the recorded master and exits when none are left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sparkglue.cluster.launcher import (
    connect_command,
    free_port,
    group_alive,
    history_command,
    http_json,
    kill_group,
    master_command,
    port_open,
    spark_env,
    spark_home,
    start_process,
    stop_processes,
    worker_command,
)
from sparkglue.cluster.service import (
    CLEAN_REASONS,
    RUNNER_ADDRESS,
    Cluster,
    ClusterService,
    Step,
)
from sparkglue.cluster.specs import ClusterSpec, render_configurations
from sparkglue.store import failure_line, parse_stamp, utc_now

__all__ = ["ClusterSupervisor"]

POLL = 0.5
MASTER_TIMEOUT = 90.0
WORKERS_TIMEOUT = 120.0
CONNECT_TIMEOUT = 180.0
BOOTSTRAP_TIMEOUT = 3600.0
CONNECT_APP_NAME = "Spark Connect server"
_SOCKET_PATH_MAX = 100  # bytes; a Unix socket path holds 107
_QUIET_LOG4J = {
    "rootLogger.level": "info",
    "rootLogger.appenderRef.stdout.ref": "console",
    "appender.console.type": "Console",
    "appender.console.name": "console",
    "appender.console.target": "SYSTEM_ERR",
    "appender.console.layout.type": "PatternLayout",
    "appender.console.layout.pattern": "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex",
    "logger.jetty.name": "org.sparkproject.jetty",
    "logger.jetty.level": "warn",
}
_WARM_UP = (
    "import sys\n"
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n"
    "spark.range(10000).selectExpr('sum(id) AS s').collect()\n"
    "spark.range(1000).selectExpr('id % 7 AS k').groupBy('k').count().collect()\n"
)


class LaunchFailed(Exception):
    """The cluster could not be launched; ``code`` is EMR's state-change reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Running:
    step: Step
    proc: subprocess.Popen[bytes]
    signalled: bool = False


class ClusterSupervisor:
    """Launches, watches and stops one cluster, and runs its steps."""

    def __init__(self, service: ClusterService, cluster_id: str, log: TextIO) -> None:
        self.service = service
        self.cluster_id = cluster_id
        self.out = log
        self.stop_requested = threading.Event()
        self.running: dict[str, _Running] = {}
        self.processes: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        self._connect_jobs: int | None = None
        self._socket: Path | None = None

    # ---- helpers ----------------------------------------------------------------------------

    def log(self, text: str) -> None:
        self.out.write(f"{utc_now()} {text}\n")
        self.out.flush()

    def cluster(self) -> Cluster:
        return self.service.get(self.cluster_id, recover=False)

    @property
    def spec(self) -> ClusterSpec:
        return ClusterSpec.model_validate(self._spec_dict)

    @property
    def home(self) -> Path:
        return self.service.cluster_dir(self.cluster_id)

    @property
    def logs(self) -> Path:
        return self.service.logs_dir(self.cluster_id)

    def _record_processes(self) -> None:
        self.service.update(self.cluster_id, processes=dict(self.processes))

    # ---- the whole life ---------------------------------------------------------------------

    def run(self) -> str:
        """Launch (local) and supervise the cluster until it ends; returns its final state."""
        cluster = self.cluster()
        self._spec_dict: dict[str, Any] = dict(cluster.spec)
        signal.signal(signal.SIGTERM, lambda _n, _f: self.stop_requested.set())
        if cluster.kind == "attached":
            return self._run_steps_only(cluster)
        try:
            self._launch()
        except LaunchFailed as exc:
            self.log(f"launch failed: {exc.code}: {exc.message}")
            final = "TERMINATED" if exc.code in CLEAN_REASONS else "TERMINATED_WITH_ERRORS"
            return self._shutdown(final, exc.code, exc.message)
        except Exception as exc:
            message = f"the cluster could not be launched: {type(exc).__name__}: {exc}"
            self.log(message)
            return self._shutdown("TERMINATED_WITH_ERRORS", "INTERNAL_ERROR", message)
        while True:
            ended = self._tick()
            if ended is not None:
                return ended
            time.sleep(POLL)

    def _tick(self) -> str | None:
        cluster = self.cluster()
        if cluster.state == "TERMINATING" or self.stop_requested.is_set():
            code = cluster.state_reason_code or "USER_REQUEST"
            message = cluster.state_reason_message or "Terminated by user request"
            if cluster.state != "TERMINATING":
                code, message = "USER_REQUEST", "Terminated by user request (SIGTERM)"
            final = "TERMINATED" if code in CLEAN_REASONS else "TERMINATED_WITH_ERRORS"
            return self._shutdown(final, code, message)
        failure = self._check_processes()
        if failure is not None:
            return self._shutdown("TERMINATED_WITH_ERRORS", "INSTANCE_FAILURE", failure)
        terminate = self._steps(cluster)
        if terminate is not None:
            return self._shutdown("TERMINATED_WITH_ERRORS", "STEP_FAILURE", terminate)
        idle = self._idle(cluster)
        if idle is not None:
            return self._shutdown("TERMINATED", "ALL_STEPS_COMPLETED", idle)
        return None

    # ---- launch -----------------------------------------------------------------------------

    def _launch(self) -> None:
        spec = self.spec
        host = spec.Host
        conf_dir = self.home / "conf"
        for folder in (conf_dir, self.home / "work", self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.ports = {
            "master": free_port(host),
            "master_ui": free_port(host),
            **{f"worker-{i}_ui": free_port(host) for i in range(1, spec.Workers + 1)},
        }
        if spec.Connect:
            self.ports["connect"] = free_port(host)
            self.ports["connect_ui"] = free_port(host)
        if spec.HistoryServer:
            self.ports["history_ui"] = free_port(host)
        master_url = f"spark://{host}:{self.ports['master']}"
        defaults, env_vars, log4j = render_configurations(spec.Configurations)
        self._write_conf(conf_dir, master_url, defaults, env_vars, log4j)
        self.env = spark_env(conf_dir, host)

        if spec.BootstrapActions:
            self.service.transition(
                self.cluster_id, "BOOTSTRAPPING", None, "Running bootstrap actions"
            )
            self._bootstrap(spec)

        self.log(f"starting the master at {master_url}")
        self.processes["master"] = start_process(
            master_command(host, self.ports["master"], self.ports["master_ui"]),
            self.logs / "master.log",
            self.env,
            self.home,
        )
        self._record_processes()
        ui = f"http://{_reachable(host)}:{self.ports['master_ui']}"
        self._wait(
            lambda: (http_json(f"{ui}/json/") or {}).get("status") == "ALIVE",
            MASTER_TIMEOUT,
            "master",
            self.logs / "master.log",
        )
        web_uis: dict[str, Any] = {"master": ui, "workers": []}
        self.service.update(
            self.cluster_id,
            master_url=master_url,
            web_uis=web_uis,
            state_reason_message="Starting the workers",
        )
        for i in range(1, spec.Workers + 1):
            self._start_worker(i)
            web_uis["workers"].append(f"http://{_reachable(host)}:{self.ports[f'worker-{i}_ui']}")
        self._record_processes()
        self.log(f"waiting for {spec.Workers} worker(s) to register")
        self._wait(
            lambda: _alive_workers(ui) >= spec.Workers,
            WORKERS_TIMEOUT,
            "workers",
            self.logs / "worker-1.log",
        )
        self.service.update(self.cluster_id, web_uis=web_uis)
        if spec.HistoryServer:
            self._start_history()
            web_uis["history"] = f"http://{_reachable(host)}:{self.ports['history_ui']}"
            self._wait(
                lambda: port_open(host, self.ports["history_ui"]),
                MASTER_TIMEOUT,
                "history server",
                self.logs / "history.log",
            )
            self.service.update(self.cluster_id, web_uis=web_uis)
        connect_url = None
        if spec.Connect:
            self.service.update(self.cluster_id, state_reason_message="Starting Spark Connect")
            self._start_connect()
            connect_url = f"sc://{_reachable(host)}:{self.ports['connect']}"
            self._wait(
                lambda: port_open(host, self.ports["connect"]),
                CONNECT_TIMEOUT,
                "Spark Connect server",
                self.logs / "connect.log",
            )
            web_uis["connect"] = f"http://{_reachable(host)}:{self.ports['connect_ui']}"
            self.service.update(self.cluster_id, web_uis=web_uis)
            self._warm_up(connect_url)
            self._start_runner()
            self._wait(
                self._runner_socket().exists,
                CONNECT_TIMEOUT,
                "warm runner",
                self.logs / "runner.log",
            )
            (self.home / RUNNER_ADDRESS).write_text(str(self._runner_socket()), encoding="utf-8")
        now = utc_now()
        self.service.transition(
            self.cluster_id,
            "WAITING",
            None,
            "Cluster ready to run steps",
            connect_url=connect_url,
            ready_at=now,
            last_activity_at=now,
        )
        self.log("cluster ready")

    def _write_conf(
        self,
        conf_dir: Path,
        master_url: str,
        defaults: dict[str, str],
        env_vars: dict[str, str],
        log4j: dict[str, str],
    ) -> None:
        spec = self.spec
        props: dict[str, str] = {
            "spark.master": master_url,
            "spark.sql.session.timeZone": "UTC",
            "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            # Each worker holds WorkerCores; executors of one core spread an application's
            # work over every worker instead of filling the first one.
            "spark.executor.cores": "1",
            "spark.sql.shuffle.partitions": str(max(4, 2 * spec.total_cores)),
        }
        if _megabytes(spec.WorkerMemory) < 1024:
            # Spark's default executor (1g) would never fit on a smaller worker: applications
            # would wait for executors forever.
            props["spark.executor.memory"] = spec.WorkerMemory
        from sparkglue.spark.session import jdbc_driver_jars

        drivers = jdbc_driver_jars()
        if drivers:
            props["spark.jars"] = ",".join(drivers)
        if spec.HistoryServer:
            events = self.home / "events"
            events.mkdir(parents=True, exist_ok=True)
            props.update(
                {
                    "spark.eventLog.enabled": "true",
                    "spark.eventLog.dir": events.as_uri(),
                    "spark.history.fs.logDirectory": events.as_uri(),
                    "spark.history.ui.port": str(self.ports["history_ui"]),
                }
            )
        props.update(defaults)
        lines = [f"{k} {v}" for k, v in props.items()]
        (conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
        exports = [f"export {k}={_shell_quote(v)}" for k, v in env_vars.items()]
        (conf_dir / "spark-env.sh").write_text(
            "# Written by sparkglue from the cluster's spark-env configuration.\n"
            + "\n".join(exports)
            + "\n",
            encoding="utf-8",
        )
        log_props = {**_QUIET_LOG4J, **log4j}
        (conf_dir / "log4j2.properties").write_text(
            "\n".join(f"{k} = {v}" for k, v in log_props.items()) + "\n", encoding="utf-8"
        )

    def _bootstrap(self, spec: ClusterSpec) -> None:
        for number, action in enumerate(spec.BootstrapActions, start=1):
            log = self.logs / "bootstrap-actions" / f"{number}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            path = Path(action.Path)
            command = _script_command(path, action.Args)
            self.log(f"bootstrap action {number} ({action.Name}): {' '.join(command)}")
            env = {
                **self.env,
                "SPARKGLUE_CLUSTER_ID": self.cluster_id,
                "SPARKGLUE_CLUSTER_NAME": spec.Name,
            }
            with log.open("ab") as out:
                try:
                    code = subprocess.run(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=str(self.home),
                        timeout=BOOTSTRAP_TIMEOUT,
                        check=False,
                    ).returncode
                except subprocess.TimeoutExpired:
                    code = -1
                except OSError as exc:
                    out.write(f"cannot run {path}: {exc}\n".encode())
                    code = 127
            output = log.read_text(encoding="utf-8", errors="replace")
            for line in output.splitlines():
                self.log(f"bootstrap action {number}: {line}")
            if code != 0:
                last = failure_line(log) if output.strip() else "no output"
                raise LaunchFailed(
                    "BOOTSTRAP_FAILURE",
                    f"bootstrap action {number} ({action.Name}) returned a non-zero return code "
                    f"{code}: {last} (log: {log})",
                )
            if self.stop_requested.is_set():
                raise LaunchFailed("USER_REQUEST", "Terminated by user request")

    def _start_worker(self, number: int) -> None:
        spec = self.spec
        master_url = f"spark://{spec.Host}:{self.ports['master']}"
        work = self.home / "work" / f"worker-{number}"
        work.mkdir(parents=True, exist_ok=True)
        self.processes[f"worker-{number}"] = start_process(
            worker_command(
                master_url,
                spec.Host,
                spec.WorkerCores,
                spec.WorkerMemory,
                self.ports[f"worker-{number}_ui"],
                work,
            ),
            self.logs / f"worker-{number}.log",
            self.env,
            self.home,
        )
        self._record_processes()

    def _start_history(self) -> None:
        self.processes["history"] = start_process(
            history_command(), self.logs / "history.log", self.env, self.home
        )
        self._record_processes()

    def _start_connect(self) -> None:
        spec = self.spec
        master_url = f"spark://{spec.Host}:{self.ports['master']}"
        conf = {
            "spark.connect.grpc.binding.port": str(self.ports["connect"]),
            "spark.connect.grpc.binding.address": spec.Host,
            "spark.ui.port": str(self.ports["connect_ui"]),
            "spark.cores.max": str(spec.connect_cores),
            "spark.executor.cores": "1",
            "spark.sql.catalogImplementation": "in-memory",
            "spark.sql.warehouse.dir": str(self.home / "warehouse"),
        }
        self.processes["connect"] = start_process(
            connect_command(master_url, conf), self.logs / "connect.log", self.env, self.home
        )
        self._record_processes()

    def _runner_socket(self) -> Path:
        """Where the warm runner listens: in the cluster's folder, or in a private temporary
        folder when that path is too long for a Unix socket (107 bytes)."""
        if self._socket is None:
            path = self.home / "runner.sock"
            if len(os.fsencode(str(path))) > _SOCKET_PATH_MAX:
                path = Path(tempfile.mkdtemp(prefix="sparkglue-runner-")) / "runner.sock"
            self._socket = path
        return self._socket

    def _start_runner(self) -> None:
        """The warm Python that job runs over Spark Connect are forked from (jobs.warm)."""
        socket_path = self._runner_socket()
        skip = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")
        env = {k: v for k, v in os.environ.items() if k not in skip}
        self.processes["runner"] = start_process(
            [sys.executable, "-m", "sparkglue.cli.warm_runner", str(socket_path)],
            self.logs / "runner.log",
            env,
            self.home,
        )
        self._record_processes()

    def _warm_up(self, connect_url: str) -> None:
        """Run first queries, so that the first job finds executors started and code loaded."""
        self.service.update(self.cluster_id, state_reason_message="Warming up Spark Connect")
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _WARM_UP, connect_url],
                capture_output=True,
                text=True,
                timeout=CONNECT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.log("Spark Connect warm-up did not finish in time; continuing")
            return
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise LaunchFailed(
                "INTERNAL_ERROR",
                "the Spark Connect server does not answer queries: "
                + (lines[-1] if lines else f"exit code {done.returncode}"),
            )
        self.log(f"Spark Connect warmed up in {time.monotonic() - started:.1f} s")

    def _wait(self, ready: Any, timeout: float, what: str, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.stop_requested.is_set():
                raise LaunchFailed("USER_REQUEST", "Terminated by user request")
            for role, pid in self.processes.items():
                if not group_alive(pid):
                    where = self.logs / f"{role}.log"
                    raise LaunchFailed(
                        "INTERNAL_ERROR",
                        f"the {role} process exited while starting: {failure_line(where)} "
                        f"(log: {where})",
                    )
            if time.monotonic() > deadline:
                raise LaunchFailed(
                    "INTERNAL_ERROR", f"the {what} did not start within {timeout:g} s (log: {log})"
                )
            time.sleep(0.2)

    # ---- watching ---------------------------------------------------------------------------

    def _check_processes(self) -> str | None:
        for role in list(self.processes):
            pid = self.processes[role]
            if group_alive(pid):
                continue
            if role == "master":
                return (
                    f"the master process (pid {pid}) exited unexpectedly; see "
                    f"{self.logs / 'master.log'}"
                )
            if role.startswith("worker-") and self.processes["master"]:
                self.log(f"{role} (pid {pid}) exited; starting it again")
                self._start_worker(int(role.split("-")[1]))
            elif role == "history":
                self.log(f"the history server (pid {pid}) exited; starting it again")
                self._start_history()
            elif role == "connect":
                self.log(f"the Spark Connect server (pid {pid}) exited; starting it again")
                self._start_connect()
            elif role == "runner":
                self.log(f"the warm runner (pid {pid}) exited; starting it again")
                self._start_runner()
        return None

    def _idle(self, cluster: Cluster) -> str | None:
        timeout = self.spec.IdleTimeout
        if timeout is None:
            return None
        if self.running or self._pending():
            self.service.touch(self.cluster_id)
            return None
        ui = cluster.web_uis.get("master")
        state = http_json(f"{ui}/json/") if ui else None
        apps = [a for a in (state or {}).get("activeapps", []) if a.get("name") != CONNECT_APP_NAME]
        busy = bool(apps) or self._connect_busy(cluster)
        if busy:
            self.service.touch(self.cluster_id)
            return None
        last = parse_stamp(cluster.last_activity_at or cluster.ready_at or utc_now())
        idle = time.time() - last.timestamp()
        if idle >= timeout:
            return f"Cluster was idle for {int(idle)} s (auto-termination IdleTimeout {timeout} s)"
        return None

    def _connect_busy(self, cluster: Cluster) -> bool:
        """Whether the Connect server ran or is running Spark jobs since the last look."""
        ui = cluster.web_uis.get("connect")
        if not ui:
            return False
        apps = http_json(f"{ui}/api/v1/applications")
        if not apps:
            return False
        jobs = http_json(f"{ui}/api/v1/applications/{apps[0]['id']}/jobs") or []
        count = len(jobs)
        running = any(j.get("status") == "RUNNING" for j in jobs)
        changed = self._connect_jobs is not None and count != self._connect_jobs
        self._connect_jobs = count
        return running or changed

    # ---- steps ------------------------------------------------------------------------------

    def _pending(self) -> list[Step]:
        return [s for s in self.service.steps(self.cluster_id) if s.state == "PENDING"]

    def _steps(self, cluster: Cluster) -> str | None:
        """Finish ended steps, apply failures, start pending ones. Returns why the cluster
        must terminate (TERMINATE_CLUSTER), if it must."""
        terminate: str | None = None
        for step_id, entry in list(self.running.items()):
            current = self.service.get_step(step_id)
            code = entry.proc.poll()
            if code is None:
                if current.state == "CANCEL_PENDING" and not entry.signalled:
                    sig = (
                        signal.SIGKILL
                        if current.cancel_option == "TERMINATE_PROCESS"
                        else signal.SIGTERM
                    )
                    self.log(f"step {step_id}: cancelling ({current.cancel_option})")
                    kill_group(entry.proc.pid, sig)
                    entry.signalled = True
                continue
            del self.running[step_id]
            if current.state == "CANCEL_PENDING":
                self.service.step_transition(
                    step_id, "CANCELLED", exit_code=code, error_message="Cancelled by user request"
                )
                self.log(f"step {step_id} cancelled")
                continue
            if code == 0:
                self.service.step_transition(step_id, "COMPLETED", exit_code=0)
                self.log(f"step {step_id} ({current.name}) completed")
                continue
            error = failure_line(Path(current.log_path or ""))
            self.service.step_transition(step_id, "FAILED", exit_code=code, error_message=error)
            self.log(f"step {step_id} ({current.name}) failed ({code}): {error}")
            action = current.action_on_failure
            if action in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER"):
                for step in self._pending():
                    self.service.step_transition(
                        step.id,
                        "CANCELLED",
                        error_message=f"Cancelled because step {step_id} failed ({action})",
                    )
            if action == "TERMINATE_CLUSTER":
                terminate = f"Step {step_id} ({current.name}) failed"
        if terminate is not None:
            return terminate
        level = int(cluster.spec.get("StepConcurrencyLevel", 1))
        for step in self._pending():
            if len(self.running) >= level or cluster.state == "TERMINATING":
                break
            self._start_step(cluster, step)
        busy = bool(self.running)
        if busy and cluster.state == "WAITING":
            self.service.transition(self.cluster_id, "RUNNING", None, "Running step")
        elif not busy and cluster.state == "RUNNING":
            self.service.transition(self.cluster_id, "WAITING", None, "Cluster ready to run steps")
        return None

    def _start_step(self, cluster: Cluster, step: Step) -> None:
        master = cluster.master_url or ""
        command = [
            str(spark_home() / "bin" / "spark-submit"),
            "--master",
            master,
            "--name",
            step.name,
            step.script,
            *step.args,
        ]
        env = dict(getattr(self, "env", None) or os.environ)
        env.update(
            {
                "SPARKGLUE_WORKSPACE": str(self.service.settings.workspace),
                "SPARKGLUE_SPARK_MASTER": master,
                "SPARKGLUE_CLUSTER_ID": self.cluster_id,
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable,
            }
        )
        log = Path(step.log_path or self.logs / "steps" / f"{step.id}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        if not self.service.step_transition(step.id, "RUNNING", started_at=utc_now()):
            return  # cancelled meanwhile
        with log.open("ab") as out:
            out.write(f"{utc_now()} {' '.join(command)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(Path(step.script).parent),
                start_new_session=True,
            )
        self.service.update_step(step.id, child_pid=proc.pid)
        self.running[step.id] = _Running(step, proc)
        self.log(f"step {step.id} ({step.name}) started: pid {proc.pid}")

    def _run_steps_only(self, cluster: Cluster) -> str:
        self.env = dict(os.environ)
        while True:
            cluster = self.cluster()
            if cluster.state == "TERMINATING" or self.stop_requested.is_set():
                return self._shutdown(
                    "TERMINATED", cluster.state_reason_code or "USER_REQUEST", None
                )
            terminate = self._steps(cluster)
            if terminate is not None:
                return self._shutdown("TERMINATED_WITH_ERRORS", "STEP_FAILURE", terminate)
            if not self.running and not self._pending():
                self.service.update(self.cluster_id, pid=None)
                return cluster.state
            time.sleep(POLL)

    # ---- the end ----------------------------------------------------------------------------

    def _shutdown(self, final: str, code: str, message: str | None) -> str:
        cluster = self.cluster()
        if cluster.state != "TERMINATING":
            self.service.transition(self.cluster_id, "TERMINATING", code, message)
        message = message or cluster.state_reason_message
        self.log(f"terminating: {code}: {message}")
        for step_id, entry in list(self.running.items()):
            stop_processes([entry.proc.pid], grace=3.0)
            entry.proc.wait()
            self.service.step_transition(
                step_id, "INTERRUPTED", error_message="The cluster terminated while it ran"
            )
        self.running.clear()
        for step in self._pending():
            self.service.step_transition(
                step.id, "CANCELLED", error_message="The cluster terminated"
            )
        workers = sorted(r for r in self.processes if r.startswith("worker-"))
        order = ["runner", "connect", "history", *workers, "master"]
        pids = [self.processes[r] for r in order if r in self.processes]
        left = stop_processes(pids)
        if self._socket is not None:  # a runner killed outright leaves its socket
            with contextlib.suppress(OSError):
                (self.home / RUNNER_ADDRESS).unlink()
            with contextlib.suppress(OSError):
                self._socket.unlink()
            if self._socket.parent != self.home:
                with contextlib.suppress(OSError):
                    self._socket.parent.rmdir()
        if left:
            message = f"{message}; processes {', '.join(map(str, left))} could not be stopped"
            self.log(message)
        self.service.transition(self.cluster_id, final, code, message)
        self.log(f"{final}")
        return final


def _script_command(path: Path, args: list[str]) -> list[str]:
    if path.suffix == ".py":
        return [sys.executable, str(path), *args]
    if os.access(path, os.X_OK):
        return [str(path), *args]
    return ["/bin/sh", str(path), *args]


def _megabytes(size: str) -> int:
    """``512m`` → 512, ``2g`` → 2048 (sizes as ``ClusterSpec.WorkerMemory`` holds them)."""
    return int(size[:-1]) * (1024 if size[-1].lower() == "g" else 1)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _alive_workers(ui: str) -> int:
    state = http_json(f"{ui}/json/") or {}
    return int(state.get("aliveworkers", 0))
