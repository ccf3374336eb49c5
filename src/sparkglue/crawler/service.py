"""Crawlers: definitions, runs, and what a run changes in the catalog.

A run is a record (``cr_…``) with a state (RUNNING → SUCCEEDED | FAILED | CANCELLED), metrics
(Glue's TablesCreated/Updated/Deleted plus partitions and files), a log file, and the decision
taken for every file, so ``crawler explain`` can say why a table looks the way it does. A run
whose process died is found by the next process that reads runs and marked FAILED.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sparkglue.catalog import DataCatalog
from sparkglue.console import Console, NullConsole
from sparkglue.crawler.catalog_sync import CatalogSync
from sparkglue.crawler.classifiers import Classifier, custom_classifier
from sparkglue.crawler.engine import (
    FolderMemo,
    TablePlan,
    collections_paused,
    dedupe_table_names,
    list_files,
    list_object_files,
    plan_tables,
    scan,
)
from sparkglue.crawler.globs import ExclusionSet
from sparkglue.crawler.specs import (
    ClassifierSpec,
    CrawlerSpec,
    classifier_definition,
)
from sparkglue.errors import (
    AlreadyExists,
    CatalogError,
    EntityNotFound,
    InvalidInput,
    SparkGlueError,
)
from sparkglue.formats.objectstore import S3_SCHEMES, s3_key
from sparkglue.store import MetadataStore, new_record_id, process_alive, utc_now
from sparkglue.store import schema as s

__all__ = ["CrawlRun", "CrawlerRecord", "CrawlerRunning", "CrawlerService"]

CRAWLER_STATES = ("READY", "RUNNING", "STOPPING")
RUN_STATES = ("RUNNING", "CANCELLING", "CANCELLED", "SUCCEEDED", "FAILED", "ERROR")


class CrawlStopped(Exception):
    """Raised inside a crawl that was asked to stop (internal: the run ends CANCELLED)."""


class CrawlerRunning(CatalogError):
    """Starting a crawler that is already running (Glue's CrawlerRunningException)."""

    code = "crawler_running"
    http_status = 409


@dataclass
class CrawlerRecord:
    name: str
    spec: CrawlerSpec
    state: str
    created_at: str
    updated_at: str
    folders_seen: list[str] = field(default_factory=list)
    folder_listing: dict[str, Any] = field(default_factory=dict)  # see engine.FolderMemo


@dataclass
class CrawlRun:
    id: str
    crawler: str
    state: str
    started_at: str
    finished_at: str | None
    error_message: str | None
    metrics: dict[str, Any]
    log_path: str | None
    pid: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "crawler": self.crawler,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error_message": self.error_message,
            "metrics": self.metrics,
            "log_path": self.log_path,
        }


class CrawlerService:
    """Classifiers, crawlers and crawl runs on one metadata store and catalog."""

    def __init__(
        self,
        store: MetadataStore,
        catalog: DataCatalog,
        *,
        logs_dir: Path,
        console: Console | None = None,
        object_store: Callable[[], Any] | None = None,
    ) -> None:
        """``object_store`` makes the pyarrow filesystem for ``s3://`` targets (None when no
        S3 settings are given: such targets are then refused)."""
        self.store = store
        self.object_store = object_store
        self._object_fs: Any = None
        self.catalog = catalog
        self.logs_dir = logs_dir
        self.console: Console = console or NullConsole()
        self.sync = CatalogSync(catalog)

    # ---- classifiers -------------------------------------------------------------------------

    def create_classifier(self, spec: ClassifierSpec) -> None:
        kind, definition = classifier_definition(spec)
        custom_classifier(spec.Name, kind, definition)  # compile it now: errors at creation
        now = utc_now()
        try:
            with self.store.write() as conn:
                conn.execute(
                    s.classifiers.insert().values(
                        name=spec.Name,
                        kind=kind,
                        definition=definition,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"classifier '{spec.Name}' already exists") from None

    def list_classifiers(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(s.classifiers).order_by(s.classifiers.c.name)).all()
        return [
            {"name": r.name, "kind": r.kind, **r.definition, "created_at": r.created_at}
            for r in rows
        ]

    def delete_classifier(self, name: str) -> None:
        with self.store.write() as conn:
            if (
                conn.execute(s.classifiers.delete().where(s.classifiers.c.name == name)).rowcount
                == 0
            ):
                raise EntityNotFound(f"classifier '{name}' not found")

    def _classifiers(self, names: Sequence[str]) -> list[Classifier]:
        with self.store.read() as conn:
            rows = {
                r.name: r
                for r in conn.execute(
                    sa.select(s.classifiers).where(s.classifiers.c.name.in_(list(names)))
                ).all()
            }
        missing = [n for n in names if n not in rows]
        if missing:
            raise EntityNotFound(
                f"classifier '{missing[0]}' not found; see `sparkglue classifier list`"
            )
        return [custom_classifier(n, rows[n].kind, rows[n].definition) for n in names]

    # ---- crawlers ----------------------------------------------------------------------------

    def _validate(self, spec: CrawlerSpec) -> None:
        self._classifiers(spec.Classifiers)
        for target in spec.Targets.S3Targets:
            self._target_root(target.Path)
        for jdbc in spec.Targets.JdbcTargets:
            self.catalog.get_connection(jdbc.ConnectionName)

    def _target_root(self, path: str) -> _Root:
        if path.startswith(S3_SCHEMES):
            if self.object_store is None:
                raise InvalidInput(
                    f"target '{path}': no S3 settings; set [s3] endpoint_url and/or region in "
                    "sparkglue.toml (or SPARKGLUE_S3_ENDPOINT_URL / SPARKGLUE_S3_REGION)"
                )
            base = s3_key(path)
            if not base:
                raise InvalidInput(f"target '{path}': name a bucket, as s3://BUCKET/PREFIX")
            return _Root(f"s3://{base}", base, filesystem=True)
        location = self.catalog.resolve_location(path, what=f"crawler target '{path}'")
        return _Root(location, location)

    @staticmethod
    def _list_objects(
        filesystem: Any,
        root: _Root,
        exclusions: ExclusionSet,
        passed: Callable[[str, str], None],
    ) -> tuple[list[tuple[str, str]], dict[str, tuple[int, float]]]:
        from pyarrow import fs

        try:
            info = filesystem.get_file_info(root.base)
            if info.type != fs.FileType.Directory:
                what = "an object, not a prefix" if info.type == fs.FileType.File else "empty"
                raise InvalidInput(
                    f"crawler target {root.location} is {what} (or its bucket does not "
                    "exist); point it at a prefix that holds objects"
                )
            return list_object_files(filesystem, root.base, exclusions, passed)
        except OSError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(
                f"crawler target {root.location} cannot be listed: {first}; check [s3] "
                "endpoint_url and region and the AWS credentials"
            ) from None

    def _filesystem(self) -> Any:
        if self._object_fs is None and self.object_store is not None:
            self._object_fs = self.object_store()
        return self._object_fs

    def create_crawler(self, spec: CrawlerSpec) -> CrawlerRecord:
        """Create a crawler; its classifiers, target folders and connections must exist."""
        self._validate(spec)
        now = utc_now()
        try:
            with self.store.write() as conn:
                conn.execute(
                    s.crawlers.insert().values(
                        name=spec.Name,
                        definition=spec.model_dump(mode="json"),
                        state="READY",
                        folders_seen=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"crawler '{spec.Name}' already exists") from None
        return self.get_crawler(spec.Name)

    def update_crawler(self, spec: CrawlerSpec) -> CrawlerRecord:
        """Replace a crawler's definition (not while it runs)."""
        self._validate(spec)
        with self.store.write() as conn:
            row = self._crawler_row(conn, spec.Name, lock=True)
            if row.state != "READY":
                raise CrawlerRunning(f"crawler '{spec.Name}' is {row.state}; update it when READY")
            conn.execute(
                s.crawlers.update()
                .where(s.crawlers.c.id == row.id)
                .values(definition=spec.model_dump(mode="json"), updated_at=utc_now())
            )
        return self.get_crawler(spec.Name)

    def get_crawler(self, name: str, *, recover: bool = True) -> CrawlerRecord:
        if recover:
            self.recover()
        with self.store.read() as conn:
            return _crawler(self._crawler_row(conn, name))

    def list_crawlers(self) -> list[CrawlerRecord]:
        self.recover()
        with self.store.read() as conn:
            rows = conn.execute(sa.select(s.crawlers).order_by(s.crawlers.c.name)).all()
        return [_crawler(r) for r in rows]

    def delete_crawler(self, name: str) -> None:
        """Delete a crawler and its runs (the tables it made stay in the catalog)."""
        with self.store.write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            if row.state != "READY":
                raise CrawlerRunning(f"crawler '{name}' is {row.state}; delete it when READY")
            run_ids = sa.select(s.crawl_runs.c.id).where(s.crawl_runs.c.crawler_name == name)
            conn.execute(s.crawl_run_files.delete().where(s.crawl_run_files.c.run_id.in_(run_ids)))
            conn.execute(s.crawl_runs.delete().where(s.crawl_runs.c.crawler_name == name))
            conn.execute(s.crawlers.delete().where(s.crawlers.c.id == row.id))

    def _crawler_row(self, conn: Any, name: str, *, lock: bool = False) -> Any:
        query = sa.select(s.crawlers).where(s.crawlers.c.name == name)
        if lock and self.store.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise EntityNotFound(f"crawler '{name}' not found; see `sparkglue crawler list`")
        return row

    # ---- runs --------------------------------------------------------------------------------

    def start_run(self, name: str, *, run_id: str | None = None) -> str:
        """Mark the crawler RUNNING and create its run record; the caller then executes it
        (here with ``execute``, or in the background with ``launch``). ``run_id`` is given by
        callers that record the id before the run exists."""
        self.recover()
        run_id = run_id or new_record_id("cr")
        log_path = self.logs_dir / f"{run_id}.log"
        with self.store.write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            if row.state != "READY":
                raise CrawlerRunning(f"crawler '{name}' is already {row.state}")
            conn.execute(
                s.crawlers.update()
                .where(s.crawlers.c.id == row.id)
                .values(state="RUNNING", updated_at=utc_now())
            )
            conn.execute(
                s.crawl_runs.insert().values(
                    id=run_id,
                    crawler_name=name,
                    state="RUNNING",
                    started_at=utc_now(),
                    metrics={},
                    log_path=str(log_path),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            )
        return run_id

    def claim_run(self, run_id: str, pid: int | None = None) -> None:
        """Record which process (a background worker) executes the run."""
        with self.store.write() as conn:
            conn.execute(
                s.crawl_runs.update()
                .where(s.crawl_runs.c.id == run_id)
                .values(pid=pid or os.getpid())
            )

    def launch(self, run_id: str) -> int:
        """Execute a started run in a background process; returns its pid."""
        run = self.get_run(run_id, recover=False)
        log = Path(run.log_path or self.logs_dir / f"{run_id}.log").with_suffix(".worker.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        # The workspace folder holds logs/: the worker opens the same workspace from it.
        workspace = str(self.logs_dir.parent)
        with log.open("w") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "sparkglue.cli.crawl_worker", workspace, run_id],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        # The run belongs to the worker from now on: recovery must not take it for dead
        # when the starting process exits.
        self.claim_run(run_id, worker.pid)
        return worker.pid

    def run(self, name: str) -> CrawlRun:
        """Crawl now, in this process, and return the finished run."""
        return self.execute(self.start_run(name))

    def execute(self, run_id: str) -> CrawlRun:
        """Do the crawl of a started run and record how it ended."""
        run = self.get_run(run_id, recover=False)
        crawler = self.get_crawler(run.crawler, recover=False)
        clock = time.perf_counter()
        log_lines: list[str] = []
        metrics: dict[str, Any] = dict.fromkeys(
            (
                "TablesCreated",
                "TablesUpdated",
                "TablesDeleted",
                "PartitionsAdded",
                "PartitionsRemoved",
                "FilesRead",
                "FilesSkipped",
                "FilesNotSampled",
            ),
            0,
        )
        decisions: list[tuple[str, dict[str, Any]]] = []
        state, error = "SUCCEEDED", None
        with collections_paused():
            try:
                self._crawl(crawler, log_lines, metrics, decisions, run_id)
            except CrawlStopped:
                state, error = "CANCELLED", "stopped on request (`sparkglue crawler stop`)"
            except SparkGlueError as exc:
                state, error = "FAILED", exc.message
            except Exception as exc:  # recorded on the run; the process itself carries on
                state, error = "FAILED", f"{type(exc).__name__}: {exc}"
            self._finish(run, run_id, clock, log_lines, metrics, decisions, state, error)
        return self.get_run(run_id, recover=False)

    def _finish(
        self,
        run: CrawlRun,
        run_id: str,
        clock: float,
        log_lines: list[str],
        metrics: dict[str, Any],
        decisions: list[tuple[str, dict[str, Any]]],
        state: str,
        error: str | None,
    ) -> None:
        """Record how a run ended: its metrics, log, state and every file's decision."""
        # What was done and why is kept whether or not the crawl finished.
        metrics["Decisions"] = log_lines[-200:]
        seconds = time.perf_counter() - clock
        metrics["LastRuntimeSeconds"] = round(seconds, 3)
        previous = [
            float(r.metrics["LastRuntimeSeconds"])
            for r in self.list_runs(run.crawler)
            if r.state == "SUCCEEDED" and r.metrics.get("LastRuntimeSeconds") is not None
        ]
        durations = sorted([*previous, seconds])
        metrics["MedianRuntimeSeconds"] = round(durations[len(durations) // 2], 3)
        if error:
            log_lines.append(f"FAILED: {error}")
        self._write_log(run.log_path, log_lines)
        with self.store.write() as conn:
            if decisions:
                conn.execute(
                    s.crawl_run_files.insert().values(
                        decision=sa.bindparam("decision", type_=s.CompiledJSON())
                    ),
                    [{"run_id": run_id, "path": path, "decision": d} for path, d in decisions],
                )
            # Only a run still RUNNING ends here: one that recovery marked FAILED stays so.
            conn.execute(
                s.crawl_runs.update()
                .where(
                    s.crawl_runs.c.id == run_id,
                    s.crawl_runs.c.state.in_(["RUNNING", "CANCELLING"]),
                )
                .values(state=state, finished_at=utc_now(), error_message=error, metrics=metrics)
            )
            conn.execute(
                s.crawlers.update()
                .where(s.crawlers.c.name == run.crawler)
                .values(state="READY", updated_at=utc_now())
            )

    def stop_crawler(self, name: str) -> str:
        """Ask a running crawl to stop; returns its run id. The crawl stops at its next check
        (between targets, every 256 files, and before it changes the catalog)."""
        with self.store.write() as conn:
            row = self._crawler_row(conn, name, lock=True)
            run_id = conn.execute(
                sa.select(s.crawl_runs.c.id).where(
                    s.crawl_runs.c.crawler_name == name, s.crawl_runs.c.state == "RUNNING"
                )
            ).scalar()
            if row.state != "RUNNING" or run_id is None:
                raise InvalidInput(f"crawler '{name}' is {row.state}, not running; nothing to stop")
            conn.execute(
                s.crawlers.update().where(s.crawlers.c.id == row.id).values(state="STOPPING")
            )
            conn.execute(
                s.crawl_runs.update().where(s.crawl_runs.c.id == run_id).values(state="CANCELLING")
            )
        return str(run_id)

    def _check_stop(self, run_id: str) -> None:
        with self.store.read() as conn:
            state = conn.execute(
                sa.select(s.crawl_runs.c.state).where(s.crawl_runs.c.id == run_id)
            ).scalar()
        if state == "CANCELLING":
            raise CrawlStopped

    def list_runs(self, name: str) -> list[CrawlRun]:
        with self.store.read() as conn:
            self._crawler_row(conn, name)
            rows = conn.execute(
                sa.select(s.crawl_runs)
                .where(s.crawl_runs.c.crawler_name == name)
                .order_by(s.crawl_runs.c.started_at.desc())
            ).all()
        return [_run(r) for r in rows]

    def get_run(self, run_id: str, *, recover: bool = True) -> CrawlRun:
        if recover:
            self.recover()
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.crawl_runs).where(s.crawl_runs.c.id == run_id)).first()
        if row is None:
            raise EntityNotFound(f"crawl run '{run_id}' not found")
        return _run(row)

    def explain(self, run_id: str) -> tuple[CrawlRun, list[dict[str, Any]]]:
        """A run and the decision recorded for each file it considered."""
        run = self.get_run(run_id)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.crawl_run_files.c.path, s.crawl_run_files.c.decision)
                .where(s.crawl_run_files.c.run_id == run_id)
                .order_by(s.crawl_run_files.c.id)
            ).all()
        return run, [{"path": r.path, **r.decision} for r in rows]

    def recover(self) -> int:
        """Fail runs whose process is gone (same host) and free their crawlers."""
        host = socket.gethostname()
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.crawl_runs.c.id, s.crawl_runs.c.pid, s.crawl_runs.c.crawler_name).where(
                    s.crawl_runs.c.state.in_(["RUNNING", "CANCELLING"]), s.crawl_runs.c.host == host
                )
            ).all()
        dead = [r for r in rows if r.pid is None or not process_alive(r.pid)]
        for r in dead:
            with self.store.write() as conn:
                conn.execute(
                    s.crawl_runs.update()
                    .where(
                        s.crawl_runs.c.id == r.id,
                        s.crawl_runs.c.state.in_(["RUNNING", "CANCELLING"]),
                    )
                    .values(
                        state="FAILED",
                        finished_at=utc_now(),
                        error_message=f"the crawl process (pid {r.pid}) ended without finishing",
                    )
                )
                conn.execute(
                    s.crawlers.update()
                    .where(s.crawlers.c.name == r.crawler_name)
                    .values(state="READY", updated_at=utc_now())
                )
        return len(dead)

    @staticmethod
    def _write_log(path: str | None, lines: list[str]) -> None:
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    # ---- the crawl ---------------------------------------------------------------------------

    def _crawl(
        self,
        crawler: CrawlerRecord,
        log: list[str],
        metrics: dict[str, Any],
        decisions: list[tuple[str, dict[str, Any]]],
        run_id: str,
    ) -> None:
        spec = crawler.spec
        self.catalog.get_database(spec.DatabaseName)
        custom = self._classifiers(spec.Classifiers)
        incremental = spec.RecrawlPolicy.RecrawlBehavior == "CRAWL_NEW_FOLDERS_ONLY"
        seen = set(crawler.folders_seen) if incremental else set()
        plans: list[tuple[TablePlan, list[str]]] = []
        new_folders: set[str] = set()
        listings: dict[str, Any] = {}
        for target in spec.Targets.S3Targets:
            self._check_stop(run_id)
            target_root = self._target_root(target.Path)
            root = target_root.location
            exclusions = ExclusionSet(target.Exclusions)
            key = root

            def is_new(folder: str, _key: str = key) -> bool:
                return f"{_key}/{folder}".rstrip("/") not in seen

            passed_over: list[tuple[str, str]] = []

            def passed(relative: str, why: str, out: list[tuple[str, str]] = passed_over) -> None:
                out.append((relative, why))

            filesystem: Any = None
            stats: dict[str, tuple[int, float]] | None = None
            if target_root.filesystem:
                filesystem = self._filesystem()
                listing, stats = self._list_objects(filesystem, target_root, exclusions, passed)
            else:
                if not Path(root).is_dir():
                    raise InvalidInput(f"crawler target {root} is not a folder")
                new_only = is_new if incremental else None
                memo = None
                if incremental:
                    memo = FolderMemo(before=crawler.folder_listing.get(key) or {})
                    listings[key] = memo.now
                listing = list(
                    list_files(Path(root), exclusions, passed, folders=new_only, memo=memo)
                )
            with self.console.progress(f"Crawling {root}", len(listing)) as show:
                done = [0]

                def advance(steps: int, show: Any = show, done: list[int] = done) -> None:
                    show(steps)
                    done[0] += steps
                    if done[0] % 256 == 0:
                        self._check_stop(run_id)

                results, skipped = scan(
                    root,
                    exclusions,
                    custom,
                    sample_size=target.SampleSize,
                    only_folders=is_new if incremental else None,
                    progress=advance,
                    listing=listing,
                    skipped_in_listing=passed_over,
                    filesystem=filesystem,
                    stats=stats,
                )
            for f in [*results, *skipped]:
                decisions.append((f"{key}/{f.relative}", f.decision()))
            metrics["FilesRead"] += sum(
                1 for f in results if f.sampled and f.skipped != "empty file"
            )
            metrics["FilesNotSampled"] += sum(1 for f in results if not f.sampled)
            metrics["FilesSkipped"] += len(skipped) + sum(1 for f in results if f.skipped)
            new_folders |= {f"{key}/{f.folder}".rstrip("/") for f in results}
            grouping = spec.grouping
            level = grouping.TableLevelConfiguration
            if incremental and level is None:
                # New folders are grouped where this crawler's tables already are, not as if
                # they were all there is under the include path.
                depths = {
                    depth
                    for t in self.catalog.list_tables(spec.DatabaseName)
                    if t.parameters.get("UPDATED_BY_CRAWLER") == spec.Name
                    and (depth := _depth_under(t.location or "", root)) is not None
                }
                if len(depths) == 1 and (depth := depths.pop()) > 0:
                    level = depth
            target_plans, grouping_notes = plan_tables(
                root,
                results,
                table_level=level,
                combine_compatible=grouping.TableGroupingPolicy == "CombineCompatibleSchemas",
            )
            log.extend(f"grouping: {n}" for n in grouping_notes)
            plans.extend((p, target.Exclusions) for p in target_plans)
        jdbc_tables = self.sync.jdbc_tables(spec, log)

        log.extend(f"grouping: {n}" for n in dedupe_table_names([p for p, _ in plans]))
        self._check_stop(run_id)  # the last moment to stop without touching the catalog
        self.sync.apply(spec, plans, jdbc_tables, incremental, metrics, log)
        if new_folders or listings:
            with self.store.write() as conn:
                conn.execute(
                    s.crawlers.update()
                    .where(s.crawlers.c.name == spec.Name)
                    .values(
                        folders_seen=sorted(set(crawler.folders_seen) | new_folders),
                        folder_listing=listings or None,
                    )
                )


@dataclass(frozen=True)
class _Root:
    """A crawl target: its location (a local path or ``s3://…``) and, for objects, the
    ``bucket/prefix`` the filesystem lists."""

    location: str
    base: str
    filesystem: bool = False


def _depth_under(location: str, root: str) -> int | None:
    """How many folders ``location`` lies below ``root`` (None when not under it)."""
    location, root = location.rstrip("/"), root.rstrip("/")
    if location == root:
        return 0
    if not location.startswith(root + "/"):
        return None
    return location[len(root) + 1 :].count("/") + 1


def _crawler(row: Any) -> CrawlerRecord:
    return CrawlerRecord(
        name=row.name,
        spec=CrawlerSpec.model_validate(row.definition),
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        folders_seen=list(row.folders_seen or []),
        folder_listing=dict(row.folder_listing or {}),
    )


def _run(row: Any) -> CrawlRun:
    return CrawlRun(
        id=row.id,
        crawler=row.crawler_name,
        state=row.state,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_message=row.error_message,
        metrics=dict(row.metrics or {}),
        log_path=row.log_path,
        pid=row.pid,
    )
