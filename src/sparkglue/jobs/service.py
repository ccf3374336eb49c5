"""Jobs: definitions, generated scripts, runs (a process each), attempts and bookmarks.

A run is a record (``jr_…``) that goes STARTING → RUNNING → SUCCEEDED | FAILED | TIMEOUT |
STOPPED | ERROR. ``start_run`` checks ``MaxConcurrentRuns`` and records the run; a supervisor
process (``supervise``) starts the script in its own process group (spark-submit for
``glueetl``, Python for ``pythonshell``), enforces the timeout, honours stop requests, retries
failed attempts (each attempt a run linked to the first) and, on success, commits the job
bookmark the script left. A run whose supervisor died is marked ERROR by the next process that
reads runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkglue.catalog import DataCatalog
from sparkglue.config import Settings
from sparkglue.errors import (
    AlreadyExists,
    CatalogError,
    EntityNotFound,
    InvalidInput,
    SparkGlueError,
)
from sparkglue.jobs.generate import generate_script
from sparkglue.jobs.mapping import check_mappings
from sparkglue.jobs.runtime import BOOKMARK_IN_ENV, RESULT_ENV
from sparkglue.jobs.specs import (
    FINAL_STATES,
    JobSpec,
    check_database_table,
    resolve_arguments,
    worker_conf,
)
from sparkglue.jobs.warm import WarmChild
from sparkglue.store import (
    MetadataStore,
    failure_line,
    new_record_id,
    orphaned,
    spawn_worker,
    utc_now,
)
from sparkglue.store import schema as s

__all__ = ["ConcurrentRunsExceeded", "JobRun", "JobService", "RunTarget", "uses_own_api"]

ACTIVE_STATES = ("STARTING", "RUNNING", "STOPPING")
_POLL = 0.2
_KILL_GRACE = 5.0


class ConcurrentRunsExceeded(CatalogError):
    """Glue's ConcurrentRunsExceededException."""

    code = "concurrent_runs_exceeded"
    http_status = 409


@dataclass(frozen=True)
class RunTarget:
    """Where a run on a cluster goes: the master ``spark-submit`` uses, the cluster's Spark
    Connect server (if any), the environment a driver needs (its ``SPARK_CONF_DIR``), and the
    socket of the cluster's warm Python that runs over Spark Connect are forked from (if any;
    see sparkglue.jobs.warm)."""

    master: str | None
    connect: str | None
    env: dict[str, str]
    runner: Path | None = None


def uses_own_api(script: str) -> bool:
    """Whether a job script is written against sparkglue's own API only (``JobContext`` and
    DataFrames), so that it runs over Spark Connect: it imports ``sparkglue.jobs.runtime`` and
    neither ``awsglue``, ``py4j`` nor ``SparkContext``, and touches no ``sparkContext``, RDD or
    JVM handle (``.rdd``, ``._jvm``, ``._jsc``). Such scripts need a driver JVM."""
    import ast

    try:
        tree = ast.parse(script)
    except SyntaxError:
        return False
    own = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
                if any(a.name == "SparkContext" for a in node.names):
                    return False
            if any(m.split(".")[0] in ("awsglue", "py4j") for m in modules):
                return False
            own = own or any(m.startswith("sparkglue.jobs.runtime") for m in modules)
        elif isinstance(node, ast.Attribute) and node.attr in _JVM_ATTRIBUTES:
            return False
    return own


_JVM_ATTRIBUTES = ("sparkContext", "SparkContext", "rdd", "_jvm", "_jsc", "_jdf")


@dataclass
class JobRun:
    id: str
    job: str
    attempt: int
    first_run_id: str | None
    state: str
    arguments: dict[str, str]
    timeout_minutes: float
    started_at: str
    finished_at: str | None
    error_message: str | None
    metrics: dict[str, Any]
    log_path: str | None
    cluster: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class JobService:
    """Job definitions, runs and bookmarks of one workspace."""

    def __init__(
        self,
        store: MetadataStore,
        catalog: DataCatalog,
        settings: Settings,
        clusters: Callable[[str], RunTarget] | None = None,
    ) -> None:
        """``clusters`` finds where a run on a named cluster goes (it raises when the cluster
        cannot take work); without it, runs on clusters are refused."""
        self.clusters = clusters
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.scripts_dir = settings.workspace / "scripts"
        self.logs_dir = settings.workspace / "logs" / "jobs"

    # ---- definitions -------------------------------------------------------------------------

    def script_path(self, spec: JobSpec) -> Path:
        path = Path(spec.Command.ScriptLocation)
        return path if path.is_absolute() else self.settings.workspace / path

    def _check(self, spec: JobSpec) -> str | None:
        """Check a spec; return the generated script text when it has a ``Generated`` part."""
        stem = self.script_path(spec).stem
        if stem in sys.stdlib_module_names or stem in ("pyspark", "sparkglue"):
            raise InvalidInput(
                f"job '{spec.Name}': script name '{stem}.py' hides the Python module '{stem}' "
                "from the script itself; rename the script"
            )
        gen = spec.Generated
        if gen is None:
            if not self.script_path(spec).is_file():
                raise InvalidInput(
                    f"job '{spec.Name}': script {self.script_path(spec)} does not exist; write "
                    "it first or generate one with --source/--target/--mapping"
                )
            return None
        db, name = check_database_table(gen.Source)
        table = self.catalog.get_table(db, name)
        columns = {c.name: c.type for c in [*table.columns, *table.partition_keys]}
        if gen.Join is not None:
            jdb, jname = check_database_table(gen.Join.Table)
            other = self.catalog.get_table(jdb, jname)
            for c in [*other.columns, *other.partition_keys]:
                columns.setdefault(c.name, c.type)
            missing = [k for k in gen.Join.On if k not in columns]
            if missing:
                raise InvalidInput(f"job '{spec.Name}': join column '{missing[0]}' is unknown")
        try:
            mappings = check_mappings(gen.Mappings, columns, gen.Source)
        except ValueError as exc:
            raise InvalidInput(f"job '{spec.Name}': {exc}") from None
        targets = {m.target for m in mappings}
        for key in gen.PartitionBy:
            if key not in targets and gen.Sql is None:
                raise InvalidInput(
                    f"job '{spec.Name}': partition column '{key}' is not a mapped target column"
                )
        location = gen.Path or "/".join(check_database_table(gen.Target))
        self.catalog.resolve_location(location, what=f"job '{spec.Name}' target path")
        return generate_script(spec.Name, gen, mappings)

    def create_job(self, spec: JobSpec, *, overwrite_script: bool = False) -> JobSpec:
        """Create a job; a generated one gets its script written into ``scripts/``."""
        with self.store.read() as conn:
            taken = conn.execute(sa.select(s.jobs.c.id).where(s.jobs.c.name == spec.Name)).first()
        if taken is not None:
            raise AlreadyExists(f"job '{spec.Name}' already exists")
        script = self._check(spec)
        path = self.script_path(spec)
        if script is not None and path.exists() and not overwrite_script:
            raise AlreadyExists(
                f"script {path} exists; delete it, or pass --overwrite-script to replace it"
            )
        now = utc_now()
        try:
            with self.store.write() as conn:
                conn.execute(
                    s.jobs.insert().values(
                        name=spec.Name,
                        definition=spec.model_dump(mode="json", exclude_none=True),
                        created_at=now,
                        updated_at=now,
                    )
                )
                if script is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".py.tmp")
                    tmp.write_text(script, encoding="utf-8")
                    tmp.replace(path)
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"job '{spec.Name}' already exists") from None
        return spec

    def get_job(self, name: str) -> JobSpec:
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.jobs).where(s.jobs.c.name == name)).first()
        if row is None:
            raise EntityNotFound(f"job '{name}' not found; see `sparkglue job list`")
        return JobSpec.model_validate(row.definition)

    def list_jobs(self) -> list[JobSpec]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(s.jobs).order_by(s.jobs.c.name)).all()
        return [JobSpec.model_validate(r.definition) for r in rows]

    def delete_job(self, name: str) -> None:
        """Delete a job, its runs and its bookmarks (not its script file)."""
        self.get_job(name)
        if self.active_runs(name):
            raise InvalidInput(f"job '{name}' has runs in progress; stop them first")
        with self.store.write() as conn:
            conn.execute(s.job_runs.delete().where(s.job_runs.c.job_name == name))
            conn.execute(s.job_bookmarks.delete().where(s.job_bookmarks.c.job_name == name))
            conn.execute(s.jobs.delete().where(s.jobs.c.name == name))

    # ---- runs --------------------------------------------------------------------------------

    def active_runs(self, name: str) -> list[JobRun]:
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.job_runs).where(
                    s.job_runs.c.job_name == name, s.job_runs.c.state.in_(ACTIVE_STATES)
                )
            ).all()
        return [_run(r) for r in rows]

    def start_run(
        self,
        name: str,
        arguments: dict[str, str] | None = None,
        *,
        timeout_minutes: float | None = None,
        run_id: str | None = None,
        cluster: str | None = None,
    ) -> str:
        """Record a new run (STARTING); refuse it beyond ``MaxConcurrentRuns``.

        ``timeout_minutes`` overrides the job's ``Timeout`` for this run (Glue's StartJobRun
        takes one too). ``run_id`` is given by callers that record the id before the run exists
        (the scheduler plans a firing's runs first, so a restart never starts one twice).
        ``cluster`` runs it on a cluster instead of the job's ``Cluster`` or master."""
        if timeout_minutes is not None and timeout_minutes <= 0:
            raise InvalidInput(f"timeout {timeout_minutes} must be a positive number of minutes")
        self.recover()
        spec = self.get_job(name)
        try:
            args = resolve_arguments(spec, dict(arguments or {}))
        except ValueError as exc:
            raise InvalidInput(f"job '{name}': {exc}") from None
        cluster = cluster or spec.Cluster
        if cluster is not None:
            self._target(cluster)  # refuse at once a cluster that cannot take work
        run_id = run_id or new_record_id("jr")
        limit = spec.ExecutionProperty.MaxConcurrentRuns
        with self.store.write() as conn:
            conn.execute(  # a row lock on PostgreSQL; SQLite's write lock is already held
                sa.select(s.jobs.c.id).where(s.jobs.c.name == name).with_for_update()
            )
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(s.job_runs)
                .where(s.job_runs.c.job_name == name, s.job_runs.c.state.in_(ACTIVE_STATES))
            ).scalar_one()
            if active >= limit:
                raise ConcurrentRunsExceeded(
                    f"job '{name}' already has {active} run(s) in progress and allows "
                    f"{limit} (ExecutionProperty.MaxConcurrentRuns); wait or stop one"
                )
            conn.execute(
                s.job_runs.insert().values(
                    id=run_id,
                    job_name=name,
                    attempt=0,
                    first_run_id=None,
                    state="STARTING",
                    arguments=args,
                    timeout_minutes=timeout_minutes or spec.Timeout,
                    started_at=utc_now(),
                    metrics={},
                    log_path=str(self.logs_dir / f"{run_id}.log"),
                    pid=None,
                    host=socket.gethostname(),
                    cluster=cluster,
                )
            )
        return run_id

    def _target(self, cluster: str) -> RunTarget:
        if self.clusters is None:
            raise InvalidInput(f"cluster '{cluster}' cannot be used here: no clusters are known")
        return self.clusters(cluster)

    def launch(self, run_id: str) -> int:
        """Start the supervisor of a run in the background; returns its pid."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        proc = spawn_worker("sparkglue.cli.job_worker", str(self.settings.workspace), run_id)
        # Only an unclaimed run takes this pid: a supervisor that already claimed it keeps it,
        # and the one started here then finds the run taken and leaves.
        with self.store.write() as conn:
            conn.execute(
                s.job_runs.update()
                .where(s.job_runs.c.id == run_id, s.job_runs.c.pid.is_(None))
                .values(pid=proc.pid)
            )
        return proc.pid

    def get_run(self, run_id: str, *, recover: bool = True) -> JobRun:
        if recover:
            self.recover()
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.job_runs).where(s.job_runs.c.id == run_id)).first()
        if row is None:
            raise EntityNotFound(f"job run '{run_id}' not found; see `sparkglue job runs JOB`")
        return _run(row)

    def list_runs(self, name: str) -> list[JobRun]:
        self.recover()
        self.get_job(name)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.job_runs)
                .where(s.job_runs.c.job_name == name)
                .order_by(s.job_runs.c.started_at.desc(), s.job_runs.c.id.desc())
            ).all()
        return [_run(r) for r in rows]

    def wait(self, run_id: str, poll: float = 0.5) -> JobRun:
        """Wait for a run and its retries; returns the last attempt."""
        while True:
            run = self.get_run(run_id)
            if run.state in FINAL_STATES:
                nxt = self._next_attempt(run)
                if nxt is None:
                    return run
                run_id = nxt
                continue
            time.sleep(poll)

    def _next_attempt(self, run: JobRun) -> str | None:
        first = run.first_run_id or run.id
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.job_runs.c.id).where(
                    s.job_runs.c.first_run_id == first, s.job_runs.c.attempt == run.attempt + 1
                )
            ).first()
        return None if row is None else str(row.id)

    def stop_run(self, run_id: str) -> JobRun:
        """Ask a run to stop; its supervisor kills the script's whole process tree."""
        run = self.get_run(run_id)
        if run.state in FINAL_STATES:
            raise InvalidInput(f"job run {run_id} is already {run.state}")
        with self.store.write() as conn:
            conn.execute(
                s.job_runs.update()
                .where(s.job_runs.c.id == run_id, s.job_runs.c.state.in_(ACTIVE_STATES))
                .values(state="STOPPING")
            )
            child = conn.execute(
                sa.select(s.job_runs.c.child_pid).where(s.job_runs.c.id == run_id)
            ).scalar_one()
        if child:
            _kill_group(child, signal.SIGTERM)
        return self.get_run(run_id)

    def recover(self) -> int:
        """End as ERROR the runs of this host whose supervisor is gone, killing their script."""
        dead = orphaned(self.store, s.job_runs, s.job_runs.c.state, ACTIVE_STATES)
        for r in dead:
            if r.child_pid:
                _kill_group(r.child_pid, signal.SIGKILL)
            self._finish(
                r.id, "ERROR", f"the run's supervisor (pid {r.pid}) ended without a final state"
            )
        return len(dead)

    def logs(self, run_id: str) -> Path:
        run = self.get_run(run_id)
        if not run.log_path:
            raise EntityNotFound(f"job run {run_id} has no log")
        return Path(run.log_path)

    # ---- the supervisor ----------------------------------------------------------------------

    def supervise(self, run_id: str) -> JobRun:
        """Run the attempts of a started run to their end (in this process)."""
        run = self.get_run(run_id, recover=False)
        spec = self.get_job(run.job)
        if not self._claim(run_id):
            return self.get_run(run_id, recover=False)
        while True:
            state = self._attempt(run, spec)
            if state != "FAILED" or run.attempt >= spec.MaxRetries:
                return self.get_run(run.id, recover=False)
            retry_id = new_record_id("jr")
            with self.store.write() as conn:
                conn.execute(
                    s.job_runs.insert().values(
                        id=retry_id,
                        job_name=run.job,
                        attempt=run.attempt + 1,
                        first_run_id=run.first_run_id or run.id,
                        state="STARTING",
                        arguments=run.arguments,
                        timeout_minutes=run.timeout_minutes,
                        started_at=utc_now(),
                        metrics={},
                        log_path=str(self.logs_dir / f"{retry_id}.log"),
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        cluster=run.cluster,
                    )
                )
            run = self.get_run(retry_id, recover=False)

    def _claim(self, run_id: str) -> bool:
        """Make this process the run's only supervisor; False when another one has it (a run
        launched twice after a crash must still run once)."""
        me = os.getpid()
        with self.store.write() as conn:
            done = conn.execute(
                s.job_runs.update()
                .where(
                    s.job_runs.c.id == run_id,
                    s.job_runs.c.state.in_(["STARTING", "STOPPING"]),
                    s.job_runs.c.child_pid.is_(None),
                    sa.or_(s.job_runs.c.pid.is_(None), s.job_runs.c.pid == me),
                )
                .values(pid=me)
            )
        return done.rowcount == 1

    def _command(self, spec: JobSpec, run: JobRun, master: str | None = None) -> list[str]:
        """The run's command: Python for pythonshell and for runs over Spark Connect
        (``master`` ``sc://…``), else spark-submit against ``master`` (default: the job's or
        the workspace's)."""
        script = str(self.script_path(spec))
        args = {"--JOB_NAME": spec.Name, "--JOB_RUN_ID": run.id, **run.arguments}
        tail = [item for key, value in args.items() for item in (key, value)]
        if spec.Command.Name == "pythonshell" or (master or "").startswith("sc://"):
            return [sys.executable, script, *tail]
        import pyspark

        from sparkglue.spark.session import session_conf

        submit = str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
        master = master or spec.SparkMaster or self.settings.spark_master
        # What must be in place before the driver's JVM starts (the script's session sets
        # the rest): the JDBC drivers and other jars on its class path, and the quiet log.
        conf = session_conf(self.settings)
        options = []
        if conf.get("spark.jars"):
            options += ["--jars", conf["spark.jars"]]
        if conf.get("spark.driver.extraJavaOptions"):
            options += ["--driver-java-options", conf["spark.driver.extraJavaOptions"]]
        return [submit, "--master", master, "--name", spec.Name, *options, script, *tail]

    def _attempt(self, run: JobRun, spec: JobSpec) -> str:
        log = Path(run.log_path or self.logs_dir / f"{run.id}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        result = log.with_suffix(".result.json")
        bookmark_in = log.with_suffix(".bookmark.json")
        bookmark_in.write_text(json.dumps(self.bookmark(spec.Name)), encoding="utf-8")
        env = dict(os.environ)
        env.update(
            {
                "SPARKGLUE_WORKSPACE": str(self.settings.workspace),
                RESULT_ENV: str(result),
                BOOKMARK_IN_ENV: str(bookmark_in),
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable,
            }
        )
        # A process that once made a Spark Connect session keeps these: a run decides alone.
        env.pop("SPARK_CONNECT_MODE_ENABLED", None)
        env.pop("SPARK_REMOTE", None)
        if spec.SparkMaster:
            env["SPARKGLUE_SPARK_MASTER"] = spec.SparkMaster
        master: str | None = None
        placement: dict[str, Any] = {}
        runner: Path | None = None
        if run.cluster is not None and spec.Command.Name == "glueetl":
            try:
                master, placement, target_env, runner = self._placement(spec, run.cluster)
            except SparkGlueError as exc:
                return self._finish(run.id, "FAILED", str(exc))
            env.update(target_env)
            env["SPARKGLUE_SPARK_MASTER"] = master
        # Executor sizes are the cluster's business over Spark Connect.
        sizes = {} if (master or "").startswith("sc://") else worker_conf(spec)
        conf = {**self.settings.spark_conf, **sizes}
        env["SPARKGLUE_SPARK_APP_NAME"] = spec.Name
        if conf:
            env["SPARKGLUE_SPARK_CONF"] = json.dumps(conf)
        if self.get_run(run.id, recover=False).state == "STOPPING":
            return self._finish(run.id, "STOPPED", "stopped before it started")
        command = self._command(spec, run, master)
        child: subprocess.Popen[bytes] | WarmChild | None = None
        if runner is not None:
            child = self._warm_child(runner, command, env, log)
            placement["warm_python"] = child is not None
        if child is None:
            with log.open("ab") as out:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=str(self.settings.workspace),
                    start_new_session=True,
                )
        with self.store.write() as conn:  # a stop asked for meanwhile stays STOPPING
            conn.execute(
                s.job_runs.update().where(s.job_runs.c.id == run.id).values(child_pid=child.pid)
            )
            conn.execute(
                s.job_runs.update()
                .where(s.job_runs.c.id == run.id, s.job_runs.c.state != "STOPPING")
                .values(state="RUNNING")
            )
        deadline = time.monotonic() + run.timeout_minutes * 60
        while True:
            code = child.poll()
            if code is not None:
                break
            if time.monotonic() > deadline:
                self._kill(child)
                return self._finish(
                    run.id,
                    "TIMEOUT",
                    f"the run exceeded its timeout of {run.timeout_minutes:g} minute(s)",
                )
            if self.get_run(run.id, recover=False).state == "STOPPING":
                self._kill(child)
                return self._finish(run.id, "STOPPED", "stopped by request")
            time.sleep(_POLL)
        if self.get_run(run.id, recover=False).state == "STOPPING":
            return self._finish(run.id, "STOPPED", "stopped by request")
        if code != 0:
            return self._finish(run.id, "FAILED", failure_line(log))
        outcome: dict[str, Any] = {}
        if result.exists():
            outcome = json.loads(result.read_text(encoding="utf-8"))
        metrics = {**dict(outcome.get("metrics", {})), **placement}
        option = run.arguments.get("--job-bookmark-option", "job-bookmark-disable")
        if option == "job-bookmark-enable" and outcome.get("bookmark"):
            self._commit_bookmark(spec.Name, run.id, outcome["bookmark"])
        return self._finish(run.id, "SUCCEEDED", None, metrics)

    def _placement(
        self, spec: JobSpec, cluster: str
    ) -> tuple[str, dict[str, Any], dict[str, str], Path | None]:
        """(master, metrics naming the cluster and how the run reached it, driver environment,
        warm runner) for a run on ``cluster``: over its Spark Connect server (forked from its
        warm runner, if it has one) when it has one and the script uses only sparkglue's API
        (no JVM started), else with spark-submit to its master."""
        target = self._target(cluster)
        script = self.script_path(spec).read_text(encoding="utf-8", errors="replace")
        if target.connect and uses_own_api(script):
            via = {"cluster": cluster, "submitted_via": "spark-connect"}
            return target.connect, via, {}, target.runner
        if target.master is None:
            raise InvalidInput(
                f"cluster '{cluster}' is a Spark Connect server only and the script of job "
                f"'{spec.Name}' needs a driver JVM (it uses awsglue, a SparkContext or RDDs); "
                "attach the cluster's spark:// master as well, or use sparkglue's JobContext"
            )
        via = {"cluster": cluster, "submitted_via": "spark-submit"}
        return target.master, via, target.env, None

    def _warm_child(
        self, runner: Path, command: list[str], env: dict[str, str], log: Path
    ) -> WarmChild | None:
        """The run's script forked from the cluster's warm runner (``command`` is
        ``[python, script, args…]``); None, with a note in the log, when the runner cannot."""
        try:
            return WarmChild.start(runner, command, env=env, cwd=self.settings.workspace, log=log)
        except OSError as exc:
            with log.open("a", encoding="utf-8") as out:
                out.write(f"sparkglue: {exc}; starting a new Python instead\n")
            return None

    def _kill(self, child: subprocess.Popen[bytes] | WarmChild) -> None:
        _kill_group(child.pid, signal.SIGTERM)
        try:
            child.wait(_KILL_GRACE)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid, signal.SIGKILL)
            child.wait()

    def _update(self, run_id: str, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(s.job_runs.update().where(s.job_runs.c.id == run_id).values(**values))

    def _finish(
        self,
        run_id: str,
        state: str,
        error: str | None,
        metrics: dict[str, Any] | None = None,
    ) -> str:
        run = self.get_run(run_id, recover=False)
        finished = utc_now()
        seconds = (
            datetime.fromisoformat(finished) - datetime.fromisoformat(run.started_at)
        ).total_seconds()
        values: dict[str, Any] = {
            "state": state,
            "finished_at": finished,
            "error_message": error,
            "metrics": {**(metrics or {}), "ExecutionTime": round(seconds, 3)},
        }
        with self.store.write() as conn:
            conn.execute(
                s.job_runs.update()
                .where(s.job_runs.c.id == run_id, s.job_runs.c.state.in_(ACTIVE_STATES))
                .values(**values)
            )
        return state

    # ---- bookmarks ---------------------------------------------------------------------------

    def bookmark(self, name: str) -> dict[str, Any]:
        """The committed bookmark state of a job: per transformation_ctx."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.job_bookmarks)
                .where(s.job_bookmarks.c.job_name == name)
                .order_by(s.job_bookmarks.c.version.desc())
                .limit(1)
            ).first()
        return {} if row is None else dict(row.state)

    def bookmark_versions(self, name: str) -> list[dict[str, Any]]:
        self.get_job(name)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.job_bookmarks)
                .where(s.job_bookmarks.c.job_name == name)
                .order_by(s.job_bookmarks.c.version)
            ).all()
        return [
            {
                "version": r.version,
                "run_id": r.run_id,
                "created_at": r.created_at,
                "contexts": {ctx: _bookmark_summary(v) for ctx, v in dict(r.state).items()},
            }
            for r in rows
        ]

    def _commit_bookmark(self, name: str, run_id: str, state: dict[str, Any]) -> None:
        with self.store.write() as conn:
            version = conn.execute(
                sa.select(sa.func.max(s.job_bookmarks.c.version)).where(
                    s.job_bookmarks.c.job_name == name
                )
            ).scalar_one()
            conn.execute(
                s.job_bookmarks.insert().values(
                    job_name=name,
                    version=(version or 0) + 1,
                    run_id=run_id,
                    state=state,
                    created_at=utc_now(),
                )
            )

    def reset_bookmark(self, name: str) -> None:
        """Forget what the job has processed: its next run reads everything."""
        self.get_job(name)
        with self.store.write() as conn:
            conn.execute(s.job_bookmarks.delete().where(s.job_bookmarks.c.job_name == name))

    def rewind_bookmark(self, name: str) -> int:
        """Undo the last committed run's bookmark; returns the version now current (0: none)."""
        self.get_job(name)
        with self.store.write() as conn:
            version = conn.execute(
                sa.select(sa.func.max(s.job_bookmarks.c.version)).where(
                    s.job_bookmarks.c.job_name == name
                )
            ).scalar_one()
            if version is None:
                raise InvalidInput(f"job '{name}' has no bookmark to rewind")
            conn.execute(
                s.job_bookmarks.delete().where(
                    s.job_bookmarks.c.job_name == name, s.job_bookmarks.c.version == version
                )
            )
        return int(version) - 1


def _bookmark_summary(state: dict[str, Any]) -> str:
    """What one transformation_ctx has processed: files, or rows up to a key."""
    if "jdbc" in state:
        keys, last = state["jdbc"].get("keys", []), state["jdbc"].get("last", [])
        return "rows up to " + ", ".join(f"{k}={v}" for k, v in zip(keys, last, strict=False))
    return f"{len(state.get('files', {}))} files"


def _run(row: Any) -> JobRun:
    return JobRun(
        id=row.id,
        job=row.job_name,
        attempt=row.attempt,
        first_run_id=row.first_run_id,
        state=row.state,
        arguments=dict(row.arguments or {}),
        timeout_minutes=float(row.timeout_minutes),
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_message=row.error_message,
        metrics=dict(row.metrics or {}),
        log_path=row.log_path,
        cluster=row.cluster,
    )
