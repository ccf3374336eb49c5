"""Triggers and workflows: definitions, on-demand starts, workflow runs, graphs, run properties.

What fires when is the daemon's work (:mod:`sparkglue.scheduler.daemon`); this service records
definitions and requests, and reads back what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkglue.config import Settings
from sparkglue.crawler import CrawlerService
from sparkglue.errors import AlreadyExists, EntityNotFound, InvalidInput
from sparkglue.jobs import JobService
from sparkglue.scheduler.engine import (
    ACTIVE_RUN_STATES,
    ActionState,
    Lease,
    TriggerEngine,
    action_statistics,
)
from sparkglue.scheduler.render import GraphEdge, GraphNode
from sparkglue.scheduler.schedule import parse_schedule
from sparkglue.scheduler.specs import TriggerSpec, WorkflowSpec
from sparkglue.store import MetadataStore, new_record_id, utc_now
from sparkglue.store import schema as s

__all__ = ["RUN_FINAL_STATES", "SchedulerService", "TriggerRecord", "WorkflowRun"]

RUN_FINAL_STATES = ("COMPLETED", "STOPPED", "ERROR")


@dataclass
class TriggerRecord:
    name: str
    type: str
    state: str
    workflow: str | None
    spec: TriggerSpec
    schedule_cursor: str | None
    activated_at: str | None
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "spec"}
        out["definition"] = self.spec.model_dump(mode="json", exclude_none=True)
        return out


@dataclass
class WorkflowRun:
    id: str
    workflow: str
    state: str
    run_properties: dict[str, str]
    previous_run_id: str | None
    started_by: str | None
    started_at: str
    finished_at: str | None
    error_message: str | None
    statistics: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SchedulerService:
    """Triggers, workflows and workflow runs of one workspace."""

    def __init__(
        self,
        store: MetadataStore,
        jobs: JobService,
        crawlers: CrawlerService,
        settings: Settings,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.crawlers = crawlers
        self.settings = settings
        self.engine = TriggerEngine(store, jobs, crawlers)

    def active_scheduler(self) -> dict[str, Any] | None:
        """The scheduler process holding the lease (host, pid), or None when none runs."""
        return Lease(self.store).current()

    # ---- workflows ---------------------------------------------------------------------------

    def create_workflow(self, spec: WorkflowSpec) -> WorkflowSpec:
        now = utc_now()
        with self.store.write() as conn:
            if conn.execute(
                sa.select(s.workflows.c.id).where(s.workflows.c.name == spec.Name)
            ).first():
                raise AlreadyExists(f"workflow '{spec.Name}' already exists")
            conn.execute(
                s.workflows.insert().values(
                    name=spec.Name,
                    definition=spec.model_dump(mode="json", exclude_none=True),
                    created_at=now,
                    updated_at=now,
                )
            )
        return spec

    def get_workflow(self, name: str) -> WorkflowSpec:
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.workflows).where(s.workflows.c.name == name)).first()
        if row is None:
            raise EntityNotFound(f"workflow '{name}' not found; see `sparkglue workflow list`")
        return WorkflowSpec.model_validate(row.definition)

    def list_workflows(self) -> list[WorkflowSpec]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(s.workflows).order_by(s.workflows.c.name)).all()
        return [WorkflowSpec.model_validate(r.definition) for r in rows]

    def delete_workflow(self, name: str) -> None:
        """Delete a workflow, its triggers and its run history; refused while a run is on."""
        self.get_workflow(name)
        with self.store.write() as conn:
            active = conn.execute(
                sa.select(s.workflow_runs.c.id).where(
                    s.workflow_runs.c.workflow_name == name,
                    s.workflow_runs.c.state.in_(ACTIVE_RUN_STATES),
                )
            ).first()
            if active is not None:
                raise InvalidInput(
                    f"workflow '{name}' has run {active.id} in progress; stop it first "
                    f"(`sparkglue workflow stop {name} {active.id}`)"
                )
            runs = sa.select(s.workflow_runs.c.id).where(s.workflow_runs.c.workflow_name == name)
            conn.execute(
                s.trigger_actions.delete().where(s.trigger_actions.c.workflow_run_id.in_(runs))
            )
            conn.execute(s.workflow_runs.delete().where(s.workflow_runs.c.workflow_name == name))
            conn.execute(s.triggers.delete().where(s.triggers.c.workflow_name == name))
            conn.execute(s.workflows.delete().where(s.workflows.c.name == name))

    # ---- triggers ----------------------------------------------------------------------------

    def create_trigger(self, spec: TriggerSpec) -> TriggerRecord:
        """Record a trigger after checking what it names exists.

        Raises:
            InvalidInput: an action or condition names an unknown job or crawler, a workflow's
                conditional trigger watches a node no trigger of the workflow starts, or an
                event path is outside the lake.
        """
        for action in spec.Actions:
            self._check_target(spec.Name, action.kind, action.target)
        if spec.Predicate is not None:
            for condition in spec.Predicate.Conditions:
                self._check_target(spec.Name, condition.kind, condition.target)
        if spec.EventPath is not None:
            self.event_folder(spec)
        if spec.WorkflowName is not None:
            self.get_workflow(spec.WorkflowName)
            self._check_workflow_fit(spec)
        now = utc_now()
        active = spec.StartOnCreation and spec.Type != "ON_DEMAND"
        with self.store.write() as conn:
            if conn.execute(
                sa.select(s.triggers.c.id).where(s.triggers.c.name == spec.Name)
            ).first():
                raise AlreadyExists(f"trigger '{spec.Name}' already exists")
            conn.execute(
                s.triggers.insert().values(
                    name=spec.Name,
                    workflow_name=spec.WorkflowName,
                    type=spec.Type,
                    state="ACTIVATED" if active else "CREATED",
                    definition=spec.model_dump(mode="json", exclude_none=True),
                    schedule_cursor=now if active else None,
                    activated_at=now if active else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get_trigger(spec.Name)

    def _check_target(self, trigger: str, kind: str, name: str) -> None:
        try:
            if kind == "JOB":
                self.jobs.get_job(name)
            else:
                self.crawlers.get_crawler(name, recover=False)
        except EntityNotFound:
            what = "job" if kind == "JOB" else "crawler"
            raise InvalidInput(
                f"trigger '{trigger}' names {what} '{name}', which does not exist; create it "
                f"first (`sparkglue {what} create {name} …`)"
            ) from None

    def _check_workflow_fit(self, spec: TriggerSpec) -> None:
        others = self.list_triggers(workflow=spec.WorkflowName)
        if spec.Type != "CONDITIONAL":
            starting = [t.name for t in others if t.type != "CONDITIONAL"]
            if starting:
                raise InvalidInput(
                    f"workflow '{spec.WorkflowName}' already starts with trigger "
                    f"'{starting[0]}'; a workflow has one starting trigger, the rest CONDITIONAL"
                )
            return
        started = {(a.kind, a.target) for t in others for a in t.spec.Actions}
        assert spec.Predicate is not None
        for c in spec.Predicate.Conditions:
            if (c.kind, c.target) not in started:
                what = "job" if c.kind == "JOB" else "crawler"
                raise InvalidInput(
                    f"trigger '{spec.Name}' watches {what} '{c.target}', which no trigger of "
                    f"workflow '{spec.WorkflowName}' starts; add the trigger that starts it first"
                )

    def get_trigger(self, name: str) -> TriggerRecord:
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.triggers).where(s.triggers.c.name == name)).first()
        if row is None:
            raise EntityNotFound(f"trigger '{name}' not found; see `sparkglue trigger list`")
        return _trigger(row)

    def list_triggers(self, *, workflow: str | None = None) -> list[TriggerRecord]:
        query = sa.select(s.triggers).order_by(s.triggers.c.id)
        if workflow is not None:
            query = query.where(s.triggers.c.workflow_name == workflow)
        with self.store.read() as conn:
            return [_trigger(r) for r in conn.execute(query).all()]

    def delete_trigger(self, name: str) -> None:
        self.get_trigger(name)
        with self.store.write() as conn:
            conn.execute(s.triggers.delete().where(s.triggers.c.name == name))
            conn.execute(
                s.trigger_event_files.delete().where(s.trigger_event_files.c.trigger_name == name)
            )
            # A trigger made again under this name starts with no ticks fired (event batch
            # keys count from the ids of its files, which SQLite may hand out again).
            conn.execute(s.trigger_firings.delete().where(s.trigger_firings.c.trigger_name == name))

    def activate(self, name: str) -> TriggerRecord:
        """ACTIVATED: the scheduler fires it. Scheduled ticks count from now on."""
        trigger = self.get_trigger(name)
        if trigger.type == "ON_DEMAND":
            raise InvalidInput(
                f"trigger '{name}' is ON_DEMAND: it is never activated; start it with "
                f"`sparkglue trigger start {name}`"
            )
        if trigger.state != "ACTIVATED":
            now = utc_now()
            self._set_trigger(name, state="ACTIVATED", activated_at=now, schedule_cursor=now)
        return self.get_trigger(name)

    def deactivate(self, name: str) -> TriggerRecord:
        trigger = self.get_trigger(name)
        if trigger.type == "ON_DEMAND":
            raise InvalidInput(f"trigger '{name}' is ON_DEMAND: there is nothing to deactivate")
        self._set_trigger(name, state="DEACTIVATED")
        return self.get_trigger(name)

    def _set_trigger(self, name: str, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.triggers.update()
                .where(s.triggers.c.name == name)
                .values(updated_at=utc_now(), **values)
            )

    def start_trigger(
        self, name: str, properties: dict[str, str] | None = None
    ) -> tuple[str | None, str | None]:
        """Glue's StartTrigger: fire an ON_DEMAND trigger now (its actions start when a
        scheduler runs), or activate any other. Returns (firing id, workflow run id)."""
        trigger = self.get_trigger(name)
        if trigger.type != "ON_DEMAND":
            self.activate(name)
            return None, None
        firing = self.engine.fire(
            trigger.spec, f"start:{new_record_id('x')}", lease=None, properties=properties
        )
        assert firing is not None
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.trigger_firings).where(s.trigger_firings.c.id == firing)
            ).one()
        if row.error_message:
            raise InvalidInput(row.error_message)
        return firing, row.workflow_run_id

    def next_fire_times(self, name: str, count: int = 5) -> list[datetime]:
        """The next ``count`` fire times of a SCHEDULED trigger (UTC)."""
        trigger = self.get_trigger(name)
        if trigger.spec.Schedule is None:
            return []
        return parse_schedule(trigger.spec.Schedule).next_times(datetime.now(UTC), count)

    def event_folder(self, spec: TriggerSpec) -> Path:
        """The folder an EVENT trigger watches: ``EventPath`` under the lake."""
        assert spec.EventPath is not None
        root = self.settings.lake_root.resolve()
        path = Path(spec.EventPath)
        folder = (path if path.is_absolute() else root / path).resolve()
        if folder != root and root not in folder.parents:
            raise InvalidInput(
                f"trigger '{spec.Name}': EventPath {spec.EventPath} is outside the lake "
                f"({root}); give a folder under it"
            )
        return folder

    # ---- workflow runs -----------------------------------------------------------------------

    def start_workflow_run(self, name: str, properties: dict[str, str] | None = None) -> str:
        """Glue's StartWorkflowRun: fire the workflow's ON_DEMAND trigger; returns the run id.

        Its actions start when a scheduler runs (`sparkglue scheduler`, or the waiting
        `sparkglue workflow run --wait`)."""
        self.get_workflow(name)
        starting = [t for t in self.list_triggers(workflow=name) if t.type == "ON_DEMAND"]
        if not starting:
            raise InvalidInput(
                f"workflow '{name}' has no ON_DEMAND trigger to start it; add one with "
                f"`sparkglue workflow add-node {name} --trigger NAME --type ON_DEMAND --start "
                "job:JOB`"
            )
        _, run_id = self.start_trigger(starting[0].name, properties)
        assert run_id is not None
        return run_id

    def get_workflow_run(self, run_id: str) -> WorkflowRun:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(s.workflow_runs).where(s.workflow_runs.c.id == run_id)
            ).first()
        if row is None:
            raise EntityNotFound(
                f"workflow run '{run_id}' not found; see `sparkglue workflow runs NAME`"
            )
        run = _workflow_run(row)
        if run.state in ACTIVE_RUN_STATES:
            run.statistics = action_statistics(self.engine.action_states(run_id))
        return run

    def list_workflow_runs(self, name: str) -> list[WorkflowRun]:
        self.get_workflow(name)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.workflow_runs.c.id)
                .where(s.workflow_runs.c.workflow_name == name)
                .order_by(s.workflow_runs.c.started_at.desc(), s.workflow_runs.c.id.desc())
            ).all()
        return [self.get_workflow_run(r.id) for r in rows]

    def actions(self, run_id: str) -> list[ActionState]:
        """What a workflow run started, and how each ended."""
        self.get_workflow_run(run_id)
        return self.engine.action_states(run_id)

    def stop_workflow_run(self, run_id: str) -> WorkflowRun:
        """STOPPING: nothing new starts; running jobs and crawls are asked to stop."""
        run = self.get_workflow_run(run_id)
        if run.state not in ACTIVE_RUN_STATES:
            raise InvalidInput(f"workflow run {run_id} is already {run.state}")
        with self.store.write() as conn:
            conn.execute(
                s.workflow_runs.update()
                .where(s.workflow_runs.c.id == run_id, s.workflow_runs.c.state == "RUNNING")
                .values(state="STOPPING")
            )
            conn.execute(
                s.trigger_actions.update()
                .where(
                    s.trigger_actions.c.workflow_run_id == run_id,
                    s.trigger_actions.c.state == "PLANNED",
                )
                .values(state="NOT_STARTED", error_message="the workflow run was stopped")
            )
        for action in self.engine.action_states(run_id):
            if not action.inherited and not self.engine.is_final(action.state):
                self.engine.stop_action(action.kind, action.name, action.run_id)
        self.settle_stopping()
        return self.get_workflow_run(run_id)

    def settle_stopping(self) -> None:
        """End STOPPING runs whose actions have all ended (any process may do this)."""
        with self.store.read() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    sa.select(s.workflow_runs.c.id).where(s.workflow_runs.c.state == "STOPPING")
                )
            ]
        for run_id in ids:
            actions = self.engine.action_states(run_id)
            if all(self.engine.is_final(a.state) for a in actions):
                self.finish_run(run_id, "STOPPED", actions, from_state="STOPPING")

    def finish_run(
        self,
        run_id: str,
        state: str,
        actions: list[ActionState],
        *,
        from_state: str = "RUNNING",
        error: str | None = None,
    ) -> None:
        with self.store.write() as conn:
            conn.execute(
                s.workflow_runs.update()
                .where(s.workflow_runs.c.id == run_id, s.workflow_runs.c.state == from_state)
                .values(
                    state=state,
                    finished_at=utc_now(),
                    statistics=action_statistics(actions),
                    error_message=error,
                )
            )

    def resume_workflow_run(self, run_id: str, node_ids: list[str]) -> str:
        """Glue's ResumeWorkflowRun: run the chosen job/crawler nodes again, and everything
        downstream of them, in a new run linked to the old one; returns the new run id."""
        old = self.get_workflow_run(run_id)
        if old.state not in RUN_FINAL_STATES:
            raise InvalidInput(
                f"workflow run {run_id} is {old.state}; only a finished run can be resumed"
            )
        nodes, edges = self.graph(old.workflow)
        known = {n.id for n in nodes if n.type != "TRIGGER"}
        if not node_ids:
            raise InvalidInput("name at least one node to resume from (--node job:NAME)")
        for chosen in node_ids:
            if chosen not in known:
                raise InvalidInput(
                    f"workflow '{old.workflow}' has no job or crawler node '{chosen}'; its nodes "
                    f"are {', '.join(sorted(known))}"
                )
        downstream = _downstream(set(node_ids), edges)
        # As in Glue, a chosen node that another chosen node leads to runs when its trigger
        # fires, not at once.
        node_ids = [
            n for n in node_ids if not any(n in _downstream({o}, edges) - {o} for o in node_ids)
        ]
        with self.store.read() as conn:
            old_actions = conn.execute(
                sa.select(s.trigger_actions)
                .where(s.trigger_actions.c.workflow_run_id == run_id)
                .order_by(s.trigger_actions.c.id)
            ).all()
        old_args = {(r.kind, r.name): dict(r.arguments) for r in old_actions}
        new_id = new_record_id("wr")
        now = utc_now()
        with self.store.write() as conn:
            conn.execute(
                s.workflow_runs.insert().values(
                    id=new_id,
                    workflow_name=old.workflow,
                    state="RUNNING",
                    run_properties=old.run_properties,
                    previous_run_id=run_id,
                    started_by="resume",
                    started_at=now,
                    statistics={},
                )
            )
            for action in old_actions:
                if _node_id(action.kind, action.name) in downstream:
                    continue
                conn.execute(
                    s.trigger_actions.insert().values(
                        firing_id=None,
                        action_index=0,
                        workflow_run_id=new_id,
                        kind=action.kind,
                        name=action.name,
                        run_id=action.run_id,
                        state=action.state,  # the old outcome, whatever it was, stands
                        arguments={},
                        timeout_minutes=None,
                        inherited=True,
                        error_message=action.error_message,
                        created_at=now,
                    )
                )
            # Triggers upstream of the chosen nodes already fired in the old run; they must
            # not fire again on the inherited states.
            for node in nodes:
                if node.type == "TRIGGER" and node.id not in downstream:
                    conn.execute(
                        s.trigger_firings.insert().values(
                            id=new_record_id("tf"),
                            trigger_name=node.name,
                            tick_key=f"wr:{new_id}",
                            workflow_run_id=new_id,
                            fired_at=now,
                            detail={"inherited_from": run_id},
                        )
                    )
            for index, chosen in enumerate(node_ids):
                kind, name = chosen.split(":", 1)
                kind = kind.upper()
                args = old_args.get((kind, name), {})
                args.update({"--WORKFLOW_NAME": old.workflow, "--WORKFLOW_RUN_ID": new_id})
                conn.execute(
                    s.trigger_actions.insert().values(
                        firing_id=None,
                        action_index=index,
                        workflow_run_id=new_id,
                        kind=kind,
                        name=name,
                        run_id=new_record_id("jr" if kind == "JOB" else "cr"),
                        state="PLANNED",
                        arguments=args if kind == "JOB" else {},
                        timeout_minutes=None,
                        inherited=False,
                        created_at=now,
                    )
                )
        return new_id

    # ---- run properties ----------------------------------------------------------------------

    def get_run_properties(self, run_id: str) -> dict[str, str]:
        """Glue's GetWorkflowRunProperties."""
        return dict(self.get_workflow_run(run_id).run_properties)

    def put_run_properties(self, run_id: str, properties: dict[str, str]) -> dict[str, str]:
        """Glue's PutWorkflowRunProperties: merge ``properties`` into the run's."""
        for key, value in properties.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidInput("run properties are strings: KEY=VALUE")
        with self.store.write() as conn:
            row = conn.execute(
                sa.select(s.workflow_runs.c.run_properties)
                .where(s.workflow_runs.c.id == run_id)
                .with_for_update()  # two jobs writing at once keep each other's keys
            ).first()
            if row is None:
                raise EntityNotFound(f"workflow run '{run_id}' not found")
            merged = {**row.run_properties, **properties}
            conn.execute(
                s.workflow_runs.update()
                .where(s.workflow_runs.c.id == run_id)
                .values(run_properties=merged)
            )
        return merged

    # ---- the graph ---------------------------------------------------------------------------

    def graph(
        self, name: str, run_id: str | None = None
    ) -> tuple[list[GraphNode], list[GraphEdge]]:
        """A workflow's nodes and edges; with ``run_id``, each node's state in that run."""
        self.get_workflow(name)
        triggers = self.list_triggers(workflow=name)
        states: dict[str, str] = {}
        if run_id is not None:
            for done in self.engine.action_states(run_id):
                states[_node_id(done.kind, done.name)] = done.state
            with self.store.read() as conn:
                for f in conn.execute(
                    sa.select(s.trigger_firings.c.trigger_name, s.trigger_firings.c.detail).where(
                        s.trigger_firings.c.workflow_run_id == run_id
                    )
                ):
                    if not f.detail.get("inherited_from"):
                        states[f"trigger:{f.trigger_name}"] = "FIRED"
        nodes: dict[str, GraphNode] = {}
        edges: list[GraphEdge] = []
        for t in triggers:
            detail = t.type
            if t.spec.Schedule:
                detail = f"{t.type} {t.spec.Schedule}"
            elif t.spec.Predicate is not None:
                detail = f"{t.type} {t.spec.Predicate.Logical}"
            tid = f"trigger:{t.name}"
            nodes[tid] = GraphNode(tid, "TRIGGER", t.name, detail, states.get(tid))
            for started in t.spec.Actions:
                aid = _node_id(started.kind, started.target)
                nodes.setdefault(
                    aid, GraphNode(aid, started.kind, started.target, "", states.get(aid))
                )
                edges.append(GraphEdge(tid, aid))
            for c in t.spec.Predicate.Conditions if t.spec.Predicate else []:
                cid = _node_id(c.kind, c.target)
                nodes.setdefault(cid, GraphNode(cid, c.kind, c.target, "", states.get(cid)))
                edges.append(GraphEdge(cid, tid, c.wanted))
        return list(nodes.values()), edges


def _node_id(kind: str, name: str) -> str:
    return f"{kind.lower()}:{name}"


def _downstream(start: set[str], edges: list[GraphEdge]) -> set[str]:
    seen = set(start)
    frontier = list(start)
    while frontier:
        node = frontier.pop()
        for e in edges:
            if e.source == node and e.target not in seen:
                seen.add(e.target)
                frontier.append(e.target)
    return seen


def _trigger(row: Any) -> TriggerRecord:
    return TriggerRecord(
        name=row.name,
        type=row.type,
        state=row.state,
        workflow=row.workflow_name,
        spec=TriggerSpec.model_validate(row.definition),
        schedule_cursor=row.schedule_cursor,
        activated_at=row.activated_at,
        created_at=row.created_at,
    )


def _workflow_run(row: Any) -> WorkflowRun:
    return WorkflowRun(
        id=row.id,
        workflow=row.workflow_name,
        state=row.state,
        run_properties=dict(row.run_properties),
        previous_run_id=row.previous_run_id,
        started_by=row.started_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_message=row.error_message,
        statistics=dict(row.statistics),
    )
