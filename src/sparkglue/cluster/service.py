"""Cluster records: create (launched by a supervisor process), attach, describe, terminate,
steps, and the target that jobs and training run against.

A cluster is a record (``j_…``) that goes STARTING → BOOTSTRAPPING → WAITING ⇄ RUNNING →
TERMINATING → TERMINATED | TERMINATED_WITH_ERRORS, with EMR's state-change reason codes. A
local cluster's processes are owned by its supervisor (``sparkglue.cluster.supervisor``); a
cluster whose supervisor died is found by the next process that reads clusters, its processes
are stopped and it is marked TERMINATED_WITH_ERRORS. An attached cluster is only a record:
nothing is launched or stopped, and a step runner process runs its steps while it has some.

Steps (``s_…``) go PENDING → RUNNING → COMPLETED | FAILED, or CANCELLED (cancelled while
pending, or while running through CANCEL_PENDING), or INTERRUPTED (running when the cluster
ended).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from sparkglue.catalog import spec_error_message
from sparkglue.cluster.launcher import port_open, stop_processes
from sparkglue.cluster.specs import (
    ACTIVE_CLUSTER_STATES,
    ENDED_CLUSTER_STATES,
    ENDED_STEP_STATES,
    ClusterSpec,
    StepSpec,
)
from sparkglue.config import Settings
from sparkglue.errors import AlreadyExists, CatalogError, EntityNotFound, InvalidInput
from sparkglue.store import (
    MetadataStore,
    new_record_id,
    orphaned,
    process_alive,
    spawn_worker,
    utc_now,
)
from sparkglue.store import schema as s

__all__ = ["Cluster", "ClusterNotReady", "ClusterService", "ClusterTarget", "Step"]

# Where each cluster state may be entered from (the one place transitions are checked).
CLUSTER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "BOOTSTRAPPING": ("STARTING",),
    "WAITING": ("STARTING", "BOOTSTRAPPING", "RUNNING"),
    "RUNNING": ("WAITING",),
    "TERMINATING": ("STARTING", "BOOTSTRAPPING", "WAITING", "RUNNING"),
    "TERMINATED": ("TERMINATING", "STARTING", "BOOTSTRAPPING", "WAITING", "RUNNING"),
    "TERMINATED_WITH_ERRORS": ACTIVE_CLUSTER_STATES,
}
STEP_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "RUNNING": ("PENDING",),
    "CANCEL_PENDING": ("RUNNING",),
    "COMPLETED": ("RUNNING", "CANCEL_PENDING"),
    "FAILED": ("RUNNING", "CANCEL_PENDING"),
    "CANCELLED": ("PENDING", "RUNNING", "CANCEL_PENDING"),
    "INTERRUPTED": ("RUNNING", "CANCEL_PENDING"),
}
# Reasons that end a cluster in TERMINATED; any other ends it in TERMINATED_WITH_ERRORS.
CLEAN_REASONS = ("USER_REQUEST", "ALL_STEPS_COMPLETED")
CANCEL_OPTIONS = ("SEND_INTERRUPT", "TERMINATE_PROCESS")
_MASTER_SCHEMES = ("spark://", "yarn", "k8s://", "sc://")
RUNNER_ADDRESS = "runner.addr"  # in a cluster's folder: where its warm runner listens


class ClusterNotReady(CatalogError):
    """The cluster cannot take work in its current state."""

    code = "cluster_not_ready"
    http_status = 409


@dataclass
class Cluster:
    """A cluster record."""

    id: str
    name: str
    kind: str
    state: str
    state_reason_code: str | None
    state_reason_message: str | None
    spec: dict[str, Any]
    master_url: str | None
    connect_url: str | None
    web_uis: dict[str, Any]
    processes: dict[str, int]
    pid: int | None
    host: str | None
    log_dir: str | None
    created_at: str
    ready_at: str | None
    ended_at: str | None
    last_activity_at: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_CLUSTER_STATES

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Step:
    """A step record."""

    id: str
    cluster_id: str
    seq: int
    name: str
    script: str
    args: list[str]
    action_on_failure: str
    state: str
    cancel_option: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    error_message: str | None
    exit_code: int | None
    log_path: str | None
    child_pid: int | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ClusterTarget:
    """Where work sent to a cluster runs.

    Attributes:
        name: the cluster's name.
        cluster_id: the cluster's id.
        master_url: the master applications are submitted to (``spark://``, ``yarn``,
            ``k8s://``), or None for an attached Spark Connect server only.
        connect_url: the Spark Connect server (``sc://``), when the cluster has one.
        conf_dir: the cluster's Spark configuration folder (``SPARK_CONF_DIR`` for
            ``spark-submit``), for a local cluster.
        runner: the socket of the cluster's warm Python for runs over Spark Connect (a local
            cluster started with ``--connect``), else None.
    """

    name: str
    cluster_id: str
    master_url: str | None
    connect_url: str | None
    conf_dir: Path | None
    runner: Path | None = None

    def submit_env(self) -> dict[str, str]:
        """Environment for a ``spark-submit`` (or a JVM driver) against this cluster."""
        return {"SPARK_CONF_DIR": str(self.conf_dir)} if self.conf_dir else {}


def _cluster(row: Any) -> Cluster:
    return Cluster(**{c.name: getattr(row, c.name) for c in s.clusters.columns})


def _step(row: Any) -> Step:
    return Step(**{c.name: getattr(row, c.name) for c in s.cluster_steps.columns})


class ClusterService:
    """The clusters and steps of one workspace."""

    def __init__(self, store: MetadataStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # ---- places -----------------------------------------------------------------------------

    def cluster_dir(self, cluster_id: str) -> Path:
        """Configuration, worker and event-log folders of a local cluster."""
        return self.settings.workspace / "clusters" / cluster_id

    def logs_dir(self, cluster_id: str) -> Path:
        return self.settings.workspace / "logs" / "clusters" / cluster_id

    # ---- reading ----------------------------------------------------------------------------

    def list_clusters(self, *, include_ended: bool = True) -> list[Cluster]:
        """Clusters, newest first."""
        self.recover()
        query = sa.select(s.clusters).order_by(
            s.clusters.c.created_at.desc(), s.clusters.c.id.desc()
        )
        if not include_ended:
            query = query.where(s.clusters.c.state.in_(ACTIVE_CLUSTER_STATES))
        with self.store.read() as conn:
            return [_cluster(r) for r in conn.execute(query).all()]

    def get(self, ref: str, *, recover: bool = True) -> Cluster:
        """A cluster by id, or by name (the active one, else the newest)."""
        if recover:
            self.recover()
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.clusters).where(s.clusters.c.id == ref)).first()
            if row is None:
                rows = conn.execute(
                    sa.select(s.clusters)
                    .where(s.clusters.c.name == ref)
                    .order_by(s.clusters.c.created_at.desc(), s.clusters.c.id.desc())
                ).all()
                active = [r for r in rows if r.state in ACTIVE_CLUSTER_STATES]
                row = active[0] if active else (rows[0] if rows else None)
        if row is None:
            raise EntityNotFound(
                f"cluster '{ref}' not found; see `sparkglue cluster list` for the clusters"
            )
        return _cluster(row)

    def active(self, ref: str) -> Cluster:
        """The cluster, which must not have ended."""
        cluster = self.get(ref)
        if not cluster.active:
            raise ClusterNotReady(
                f"cluster '{cluster.name}' ({cluster.id}) is {cluster.state}; create a new one "
                f"with `sparkglue cluster create {cluster.name}`"
            )
        return cluster

    def steps(self, ref: str) -> list[Step]:
        """The steps of a cluster, in the order they were added."""
        return self._steps_of(self.get(ref).id)

    def _steps_of(self, cluster_id: str) -> list[Step]:
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.cluster_steps)
                .where(s.cluster_steps.c.cluster_id == cluster_id)
                .order_by(s.cluster_steps.c.seq)
            ).all()
        return [_step(r) for r in rows]

    def get_step(self, step_id: str) -> Step:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.cluster_steps).where(s.cluster_steps.c.id == step_id)
            ).first()
        if row is None:
            raise EntityNotFound(f"step '{step_id}' not found; see `sparkglue cluster steps NAME`")
        return _step(row)

    def target(self, ref: str) -> ClusterTarget:
        """Where to run work on a cluster; it must be WAITING or RUNNING."""
        cluster = self.active(ref)
        if cluster.state not in ("WAITING", "RUNNING"):
            raise ClusterNotReady(
                f"cluster '{cluster.name}' is {cluster.state}; wait until it is WAITING "
                f"(`sparkglue cluster describe {cluster.name}`)"
            )
        self.touch(cluster.id)
        conf_dir = self.cluster_dir(cluster.id) / "conf" if cluster.kind == "local" else None
        runner = self.runner_socket(cluster.id) if "runner" in cluster.processes else None
        return ClusterTarget(
            name=cluster.name,
            cluster_id=cluster.id,
            master_url=cluster.master_url,
            connect_url=cluster.connect_url,
            conf_dir=conf_dir,
            runner=runner,
        )

    def runner_socket(self, cluster_id: str) -> Path | None:
        """The socket of a cluster's warm runner (written down in its folder by the cluster's
        supervisor), None when it has none."""
        try:
            text = (self.cluster_dir(cluster_id) / RUNNER_ADDRESS).read_text(encoding="utf-8")
        except OSError:
            return None
        return Path(text.strip()) if text.strip() else None

    # ---- creating ---------------------------------------------------------------------------

    def create(self, spec: ClusterSpec) -> Cluster:
        """Record a local cluster (STARTING) and start its supervisor, which launches it."""
        from sparkglue.spark.java import require_java

        require_java()
        actions = []
        for number, action in enumerate(spec.BootstrapActions, start=1):
            path = Path(action.Path).expanduser()
            path = path if path.is_absolute() else (Path.cwd() / path)
            if not path.is_file():
                raise InvalidInput(
                    f"bootstrap action {number} ({action.Name}): script {path} does not exist; "
                    "give the path of a script file"
                )
            actions.append(action.model_copy(update={"Path": str(path.resolve())}))
        spec = spec.model_copy(update={"BootstrapActions": actions})
        self.recover()
        cluster_id = new_record_id("j")
        with self.store.write() as conn:
            taken = conn.execute(
                sa.select(s.clusters.c.id).where(
                    s.clusters.c.name == spec.Name,
                    s.clusters.c.state.in_(ACTIVE_CLUSTER_STATES),
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(
                    f"cluster '{spec.Name}' already runs ({taken.id}); terminate it first "
                    f"(`sparkglue cluster terminate {spec.Name}`) or choose another name"
                )
            conn.execute(
                s.clusters.insert().values(
                    id=cluster_id,
                    name=spec.Name,
                    kind="local",
                    state="STARTING",
                    state_reason_code=None,
                    state_reason_message="Configuring cluster software",
                    spec=spec.model_dump(mode="json"),
                    master_url=None,
                    connect_url=None,
                    web_uis={},
                    processes={},
                    pid=None,
                    host=socket.gethostname(),
                    log_dir=str(self.logs_dir(cluster_id)),
                    created_at=utc_now(),
                )
            )
        self._launch_supervisor(cluster_id)
        return self.get(cluster_id, recover=False)

    def attach(self, name: str, master: str, *, check: bool = True) -> Cluster:
        """Record an existing cluster by its master URL; nothing is launched."""
        try:
            ClusterSpec(Name=name)  # the same name rules
        except ValidationError as exc:
            raise InvalidInput(spec_error_message(f"cluster '{name}'", exc)) from None
        if not master.startswith(_MASTER_SCHEMES):
            raise InvalidInput(
                f"master '{master}' is not a cluster master; use spark://HOST:7077, yarn, "
                "k8s://https://HOST:PORT or sc://HOST:15002"
            )
        from sparkglue.config.settings import _MASTER_PATTERNS

        if not any(p.fullmatch(master) for p in _MASTER_PATTERNS):
            raise InvalidInput(
                f"master '{master}' is not valid; use spark://HOST:PORT, yarn, "
                "k8s://https://HOST:PORT or sc://HOST:PORT"
            )
        if check and master.startswith(("spark://", "sc://")):
            hostport = master.split("://", 1)[1].split("/", 1)[0].split(",")[0]
            host, _, port = hostport.rpartition(":")
            default = 7077 if master.startswith("spark://") else 15002
            host, port_n = (host, int(port)) if port.isdigit() else (hostport, default)
            if not port_open(host, port_n, timeout=2.0):
                raise InvalidInput(
                    f"nothing answers at {host}:{port_n} (from --master {master}); start the "
                    "cluster first, or attach without checking (--no-check)"
                )
        self.recover()
        cluster_id = new_record_id("j")
        connect = master if master.startswith("sc://") else None
        with self.store.write() as conn:
            taken = conn.execute(
                sa.select(s.clusters.c.id).where(
                    s.clusters.c.name == name, s.clusters.c.state.in_(ACTIVE_CLUSTER_STATES)
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(
                    f"cluster '{name}' already exists ({taken.id}); terminate it first or "
                    "choose another name"
                )
            now = utc_now()
            conn.execute(
                s.clusters.insert().values(
                    id=cluster_id,
                    name=name,
                    kind="attached",
                    state="WAITING",
                    state_reason_code=None,
                    state_reason_message=f"Attached to {master}",
                    spec={"Name": name, "Master": master, "StepConcurrencyLevel": 1},
                    master_url=None if connect else master,
                    connect_url=connect,
                    web_uis={},
                    processes={},
                    pid=None,
                    host=socket.gethostname(),
                    log_dir=str(self.logs_dir(cluster_id)),
                    created_at=now,
                    ready_at=now,
                    last_activity_at=now,
                )
            )
        return self.get(cluster_id, recover=False)

    def _launch_supervisor(self, cluster_id: str) -> int:
        log = self.logs_dir(cluster_id) / "supervisor.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = spawn_worker(
            "sparkglue.cli.cluster_worker", str(self.settings.workspace), cluster_id, log=log
        )
        with self.store.write() as conn:
            conn.execute(
                s.clusters.update()
                .where(s.clusters.c.id == cluster_id, s.clusters.c.pid.is_(None))
                .values(pid=proc.pid)
            )
        return proc.pid

    # ---- waiting ----------------------------------------------------------------------------

    def wait(
        self,
        ref: str,
        states: tuple[str, ...],
        *,
        timeout: float = 300.0,
        on_change: Callable[[Cluster], None] | None = None,
    ) -> Cluster:
        """Wait until the cluster is in one of ``states`` or has ended; report each change."""
        cluster = self.get(ref)
        seen = (cluster.state, cluster.state_reason_message)
        if on_change:
            on_change(cluster)
        deadline = time.monotonic() + timeout
        while cluster.state not in states and cluster.state not in ENDED_CLUSTER_STATES:
            if time.monotonic() > deadline:
                raise ClusterNotReady(
                    f"cluster '{cluster.name}' is still {cluster.state} after {timeout:g} s; "
                    f"see its log in {cluster.log_dir}"
                )
            time.sleep(0.25)
            cluster = self.get(cluster.id)
            now = (cluster.state, cluster.state_reason_message)
            if now != seen and on_change:
                on_change(cluster)
            seen = now
        return cluster

    def wait_step(self, step_id: str, *, poll: float = 0.25) -> Step:
        """Wait until a step has ended."""
        while True:
            step = self.get_step(step_id)
            if step.state in ENDED_STEP_STATES:
                return step
            self.recover()
            time.sleep(poll)

    # ---- changing ---------------------------------------------------------------------------

    def transition(
        self,
        cluster_id: str,
        state: str,
        code: str | None = None,
        message: str | None = None,
        **values: Any,
    ) -> bool:
        """Move a cluster to ``state`` if its current state allows it; whether it moved."""
        allowed = CLUSTER_TRANSITIONS[state]
        values = {"state": state, **values}
        if code is not None or message is not None:
            values.update(state_reason_code=code, state_reason_message=message)
        if state in ENDED_CLUSTER_STATES:
            values.setdefault("ended_at", utc_now())
        with self.store.write() as conn:
            done = conn.execute(
                s.clusters.update()
                .where(s.clusters.c.id == cluster_id, s.clusters.c.state.in_(allowed))
                .values(**values)
            )
        return done.rowcount == 1

    def step_transition(self, step_id: str, state: str, **values: Any) -> bool:
        """Move a step to ``state`` if its current state allows it; whether it moved."""
        allowed = STEP_TRANSITIONS[state]
        values = {"state": state, **values}
        if state in ENDED_STEP_STATES:
            values.setdefault("finished_at", utc_now())
        with self.store.write() as conn:
            done = conn.execute(
                s.cluster_steps.update()
                .where(s.cluster_steps.c.id == step_id, s.cluster_steps.c.state.in_(allowed))
                .values(**values)
            )
        return done.rowcount == 1

    def update(self, cluster_id: str, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(s.clusters.update().where(s.clusters.c.id == cluster_id).values(**values))

    def update_step(self, step_id: str, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.cluster_steps.update().where(s.cluster_steps.c.id == step_id).values(**values)
            )

    def touch(self, cluster_id: str) -> None:
        """Note activity on a cluster (its idle timer starts again)."""
        self.update(cluster_id, last_activity_at=utc_now())

    def terminate(self, ref: str, *, wait: bool = True, timeout: float = 120.0) -> Cluster:
        """Terminate a cluster: stop its steps and processes (USER_REQUEST)."""
        cluster = self.active(ref)
        self.transition(cluster.id, "TERMINATING", "USER_REQUEST", "Terminated by user request")
        cluster = self.get(cluster.id, recover=False)
        if cluster.pid and process_alive(cluster.pid):
            # The supervisor (or step runner) stops what it owns and records the end.
            with contextlib.suppress(ProcessLookupError):
                os.kill(cluster.pid, signal.SIGTERM)
        else:
            self._end_without_supervisor(cluster, "TERMINATED", None, None)
        if not wait:
            return self.get(cluster.id, recover=False)
        return self.wait(cluster.id, ENDED_CLUSTER_STATES, timeout=timeout)

    def add_step(self, ref: str, spec: StepSpec) -> Step:
        """Queue a step (PENDING); the cluster's supervisor (or step runner) starts it."""
        cluster = self.active(ref)
        if cluster.state == "TERMINATING":
            raise ClusterNotReady(f"cluster '{cluster.name}' is TERMINATING; it takes no steps")
        level = int(cluster.spec.get("StepConcurrencyLevel", 1))
        if level > 1 and spec.ActionOnFailure != "CONTINUE":
            raise InvalidInput(
                f"ActionOnFailure {spec.ActionOnFailure} is not valid on cluster "
                f"'{cluster.name}', whose StepConcurrencyLevel is {level}; use CONTINUE"
            )
        script = Path(spec.Script).expanduser()
        script = (script if script.is_absolute() else Path.cwd() / script).resolve()
        if not script.is_file():
            raise InvalidInput(f"step script {script} does not exist; give a PySpark script file")
        if script.suffix != ".py":
            raise InvalidInput(
                f"step script {script} is not a Python file; a step runs a PySpark script "
                "(.py) with spark-submit"
            )
        # A local cluster that is still starting has no master yet: its steps wait (PENDING).
        if cluster.kind == "attached" and cluster.master_url is None:
            raise ClusterNotReady(
                f"cluster '{cluster.name}' is a Spark Connect server only ({cluster.connect_url});"
                " steps are spark-submit applications and need a spark://, yarn or k8s:// master"
            )
        step_id = new_record_id("s")
        with self.store.write() as conn:
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(s.cluster_steps.c.seq), 0)).where(
                    s.cluster_steps.c.cluster_id == cluster.id
                )
            ).scalar_one()
            conn.execute(
                s.cluster_steps.insert().values(
                    id=step_id,
                    cluster_id=cluster.id,
                    seq=int(seq) + 1,
                    name=spec.Name,
                    script=str(script),
                    args=list(spec.Args),
                    action_on_failure=spec.ActionOnFailure,
                    state="PENDING",
                    created_at=utc_now(),
                    log_path=str(self.logs_dir(cluster.id) / "steps" / f"{step_id}.log"),
                )
            )
        if cluster.kind == "attached" and not (cluster.pid and process_alive(cluster.pid)):
            self.update(cluster.id, pid=None)
            self._launch_supervisor(cluster.id)
        return self.get_step(step_id)

    def cancel_step(self, ref: str, step_id: str, option: str = "SEND_INTERRUPT") -> Step:
        """Cancel a pending step at once, or a running one through CANCEL_PENDING (the
        supervisor interrupts it, or kills it with TERMINATE_PROCESS)."""
        if option not in CANCEL_OPTIONS:
            raise InvalidInput(
                f"cancellation option '{option}' is not one of SEND_INTERRUPT, TERMINATE_PROCESS"
            )
        cluster = self.get(ref)
        step = self.get_step(step_id)
        if step.cluster_id != cluster.id:
            raise EntityNotFound(f"step '{step_id}' is not a step of cluster '{cluster.name}'")
        if step.state == "PENDING":
            self.step_transition(step_id, "CANCELLED", error_message="Cancelled by user request")
        elif step.state == "RUNNING":
            self.step_transition(step_id, "CANCEL_PENDING", cancel_option=option)
        elif step.state != "CANCEL_PENDING":
            raise InvalidInput(f"step {step_id} is already {step.state}")
        return self.get_step(step_id)

    # ---- recovery ---------------------------------------------------------------------------

    def recover(self) -> int:
        """End the clusters of this host whose supervisor is gone: stop what is left of
        their processes and mark them TERMINATED_WITH_ERRORS (TERMINATED when a termination
        was already under way). Returns how many were ended."""
        ended = 0
        for row in orphaned(self.store, s.clusters, s.clusters.c.state, ACTIVE_CLUSTER_STATES):
            cluster = _cluster(row)
            if cluster.kind == "attached":
                self._interrupt_steps(cluster.id, "the step runner ended while it ran")
                self.update(cluster.id, pid=None)
                if cluster.state == "RUNNING":
                    self.transition(cluster.id, "WAITING")
                if any(st.state == "PENDING" for st in self._steps_of(cluster.id)):
                    self._launch_supervisor(cluster.id)
                continue
            message = f"the cluster's supervisor (pid {cluster.pid}) ended without terminating it"
            if cluster.state == "TERMINATING":
                final = (
                    "TERMINATED"
                    if cluster.state_reason_code in CLEAN_REASONS
                    else "TERMINATED_WITH_ERRORS"
                )
                self._end_without_supervisor(cluster, final, None, None)
            else:
                self._end_without_supervisor(
                    cluster, "TERMINATED_WITH_ERRORS", "INTERNAL_ERROR", message
                )
            ended += 1
        return ended

    def _end_without_supervisor(
        self, cluster: Cluster, final: str, code: str | None, message: str | None
    ) -> None:
        self._interrupt_steps(cluster.id, "the cluster ended while the step ran")
        left = stop_processes([int(p) for p in cluster.processes.values()], grace=5.0)
        if left:
            detail = f"; processes {', '.join(map(str, left))} could not be stopped"
            message = (message or cluster.state_reason_message or "") + detail
        if code is None:
            code, message = cluster.state_reason_code, message or cluster.state_reason_message
        self.transition(cluster.id, final, code, message)

    def _interrupt_steps(self, cluster_id: str, why: str) -> None:
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.cluster_steps).where(
                    s.cluster_steps.c.cluster_id == cluster_id,
                    s.cluster_steps.c.state.not_in(ENDED_STEP_STATES),
                )
            ).all()
        for row in rows:
            step = _step(row)
            if step.state == "PENDING":
                self.step_transition(step.id, "CANCELLED", error_message="the cluster ended")
                continue
            if step.child_pid:
                stop_processes([step.child_pid], grace=2.0)
            self.step_transition(step.id, "INTERRUPTED", error_message=why)


def describe_bootstrap(action: dict[str, Any]) -> str:
    """A bootstrap action as one command line."""
    return shlex.join([str(action["Path"]), *map(str, action.get("Args", []))])
