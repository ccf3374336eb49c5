"""The ``Workspace``: the one object front ends talk to.

A workspace is a folder (``sparkglue.toml``, ``metadata.db``, ``lake/``, ``scripts/``,
``logs/``); the workspace opens its metadata store, catalog and Spark session on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkglue.catalog import DataCatalog
from sparkglue.config import SETTINGS_FILE, Settings, default_settings_file_text
from sparkglue.console import Console, NullConsole
from sparkglue.crawler import CrawlerService
from sparkglue.errors import EntityNotFound, SparkError, WorkspaceError
from sparkglue.store import LATEST_VERSION, MetadataStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkglue.cluster import ClusterService
    from sparkglue.jobs import JobService
    from sparkglue.jobs.service import RunTarget
    from sparkglue.ml import MLService
    from sparkglue.replication import ReplicationService
    from sparkglue.scheduler import SchedulerService
    from sparkglue.spark import CatalogBinding

__all__ = ["LAKE_BUCKETS", "Workspace"]

LAKE_BUCKETS = ("raw", "curated", "models")
_FOLDERS = ("scripts", "logs")


class Workspace:
    """A sparkglue workspace and the services it holds.

    Args:
        path: the workspace folder; else ``SPARKGLUE_WORKSPACE``; else ``./.sparkglue``.
        settings: already-resolved settings (then ``path`` is ignored).
        console: where progress goes (nothing by default).

    Raises:
        WorkspaceError: the folder is not a workspace (``Workspace.init`` creates one).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        settings: Settings | None = None,
        console: Console | None = None,
    ) -> None:
        self.settings = settings or Settings.resolve(path)
        self.console: Console = console or NullConsole()
        if not (self.settings.workspace / SETTINGS_FILE).is_file():
            looked = {
                "--workspace": "the --workspace flag",
                "SPARKGLUE_WORKSPACE": "SPARKGLUE_WORKSPACE",
                "default": "the default ./.sparkglue",
            }.get(self.settings.sources.get("workspace", "default"), "the default")
            raise WorkspaceError(
                f"no workspace at {self.settings.workspace} (from {looked}; checked --workspace, "
                "SPARKGLUE_WORKSPACE, ./.sparkglue); create one with `sparkglue init`"
            )
        self._store: MetadataStore | None = None
        self._catalog: DataCatalog | None = None
        self._session: SparkSession | None = None
        self._binding: CatalogBinding | None = None
        self._crawlers: CrawlerService | None = None
        self._jobs: JobService | None = None
        self._ml: MLService | None = None
        self._scheduler: SchedulerService | None = None
        self._replication: ReplicationService | None = None
        self._clusters: ClusterService | None = None

    @classmethod
    def init(
        cls,
        path: str | Path | None = None,
        *,
        settings: Settings | None = None,
        console: Console | None = None,
    ) -> Workspace:
        """Create a workspace (folders, settings file, migrated store); reuse an existing one."""
        settings = settings or Settings.resolve(path)
        root = settings.workspace
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"cannot create a workspace at {root}: it is a file")
        settings_file = root / SETTINGS_FILE
        try:
            root.mkdir(parents=True, exist_ok=True)
            if not settings_file.exists():
                tmp = settings_file.with_suffix(".toml.tmp")
                tmp.write_text(default_settings_file_text(), encoding="utf-8")
                tmp.replace(settings_file)
            for bucket in LAKE_BUCKETS:
                (settings.lake_root / bucket).mkdir(parents=True, exist_ok=True)
            for folder in _FOLDERS:
                (root / folder).mkdir(exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create the workspace at {root}: {exc.strerror or exc} ({exc.filename}); "
                "choose another folder"
            ) from None
        workspace = cls(settings=settings, console=console)
        workspace.store.check_current()  # opening the store migrates it
        return workspace

    # ---- services ----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.settings.workspace

    @property
    def store(self) -> MetadataStore:
        """The metadata store, migrated to the current schema on first use."""
        if self._store is None:
            store = MetadataStore(self.settings.metadata_url)
            if store.schema_version() < LATEST_VERSION:
                store.migrate()
            self._store = store
        return self._store

    @property
    def catalog(self) -> DataCatalog:
        """The Data Catalog."""
        if self._catalog is None:
            self._catalog = DataCatalog(
                self.store,
                lake_root=self.settings.lake_root,
                allowed_roots=self.settings.allowed_roots,
            )
        return self._catalog

    @property
    def crawlers(self) -> CrawlerService:
        """Classifiers, crawlers and crawl runs."""
        if self._crawlers is None:
            settings = self.settings

            def object_store() -> Any:
                from sparkglue.formats.objectstore import s3_filesystem

                return s3_filesystem(settings.s3_endpoint_url, settings.s3_region)

            self._crawlers = CrawlerService(
                self.store,
                self.catalog,
                logs_dir=self.path / "logs",
                console=self.console,
                object_store=object_store if settings.s3_configured else None,
            )
        return self._crawlers

    @property
    def jobs(self) -> JobService:
        """ETL jobs, their runs and bookmarks."""
        if self._jobs is None:
            from sparkglue.jobs import JobService

            self._jobs = JobService(
                self.store, self.catalog, self.settings, clusters=self.run_target
            )
        return self._jobs

    @property
    def clusters(self) -> ClusterService:
        """EMR-style clusters: launched locally or attached, and their steps."""
        if self._clusters is None:
            from sparkglue.cluster import ClusterService

            self._clusters = ClusterService(self.store, self.settings)
        return self._clusters

    def run_target(self, cluster: str) -> RunTarget:
        """Where a job run on ``cluster`` goes (the cluster must be WAITING or RUNNING)."""
        from sparkglue.jobs.service import RunTarget

        target = self.clusters.target(cluster)
        return RunTarget(
            master=target.master_url,
            connect=target.connect_url,
            env=target.submit_env(),
            runner=target.runner,
        )

    def on_cluster(self, cluster: str) -> Workspace:
        """This workspace with Spark pointed at a cluster: its Spark Connect server when it
        has one (no JVM starts here), else its master with the cluster's Spark configuration.
        For training and prediction with ``--cluster``."""
        import dataclasses
        import os

        target = self.clusters.target(cluster)
        master = target.connect_url or target.master_url
        assert master is not None
        if not master.startswith("sc://"):
            os.environ.update(target.submit_env())  # read when the driver's JVM starts
        settings = dataclasses.replace(
            self.settings,
            spark_master=master,
            sources={**self.settings.sources, "spark_master": f"cluster {cluster}"},
        )
        return Workspace(settings=settings, console=self.console)

    @property
    def ml(self) -> MLService:
        """Decision-tree models: training, the registry, batch and compiled prediction."""
        if self._ml is None:
            from sparkglue.ml import MLService

            self._ml = MLService(
                self.store, self.catalog, self.settings, self.spark, console=self.console
            )
        return self._ml

    @property
    def replication(self) -> ReplicationService:
        """DMS-style replication: endpoints, tasks, full load and change capture."""
        if self._replication is None:
            from sparkglue.replication import ReplicationService

            self._replication = ReplicationService(self.store, self.catalog, self.settings)
        return self._replication

    def materialize_replication(
        self, task: str, database: str | None = None, *, wait: bool = True
    ) -> tuple[str, str]:
        """Run the job that builds the current state of a replication task's tables (creating
        it, with its generated script, on first use); returns (job name, run id). The script is
        written once and may be edited; it reads the task's table list when it runs."""
        from sparkglue.jobs import JobSpec
        from sparkglue.jobs.specs import CommandSpec

        name, script, _db = self.replication.materialize_script(task, database)
        try:
            self.jobs.get_job(name)
        except EntityNotFound:
            location = f"scripts/{name}.py"
            path = self.settings.workspace / location
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(script, encoding="utf-8")
            self.jobs.create_job(
                JobSpec(
                    Name=name,
                    Description=f"Current state of the tables of replication task {task}",
                    Command=CommandSpec(Name="glueetl", ScriptLocation=location),
                )
            )
        run_id = self.jobs.start_run(name)
        self.jobs.launch(run_id)
        if wait:
            self.jobs.wait(run_id)
        return name, run_id

    @property
    def scheduler(self) -> SchedulerService:
        """Triggers, workflows and workflow runs (the daemon: ``sparkglue.scheduler.Scheduler``)."""
        if self._scheduler is None:
            from sparkglue.scheduler import SchedulerService

            self._scheduler = SchedulerService(self.store, self.jobs, self.crawlers, self.settings)
        return self._scheduler

    def spark(self) -> SparkSession:
        """The Spark session for the configured master, with this catalog's tables queryable."""
        if self._session is None:
            from sparkglue.spark import attach_catalog, build_session, check_prerequisites

            check_prerequisites(self.settings)
            with self.console.status(f"Starting Spark ({self.settings.spark_master})"):
                session = build_session(self.settings)
            self._binding = attach_catalog(session, self.catalog)
            self._session = session
        return self._session

    def sql(self, query: str) -> DataFrame:
        """Run Spark SQL over the catalog's tables.

        Raises:
            EntityNotFound: the query names a table that is neither in Spark nor in the catalog.
            SparkError: Spark rejected the query (the message is Spark's first line).
        """
        session = self.spark()
        from pyspark.errors import AnalysisException, ParseException

        try:
            return session.sql(query)
        except AnalysisException as exc:
            assert self._binding is not None
            missing = self._binding.missing_table(exc)
            if missing is not None:
                raise EntityNotFound(
                    f"table '{missing[0]}.{missing[1]}' not found in the catalog"
                ) from None
            kind = "syntax error" if isinstance(exc, ParseException) else "query error"
            raise SparkError(f"Spark SQL {kind}: {_first_line(exc)}") from None

    def query(self, query: str, limit: int) -> tuple[list[str], list[list[Any]], bool]:
        """Run a query and fetch at most ``limit`` rows: (columns, rows, truncated).

        Errors Spark raises while computing rows (division by zero, a bad cast in ANSI mode,
        unreadable files) are one-line :class:`SparkError` too.
        """
        frame = self.sql(query)
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            rows = [list(r) for r in frame.limit(limit + 1).collect()]
        except (PySparkException, Py4JJavaError) as exc:
            raise SparkError(f"Spark could not run the query: {_first_line(exc)}") from None
        return list(frame.columns), rows[:limit], len(rows) > limit

    def refresh_tables(self) -> None:
        """Make the session read table definitions from the catalog again on next use."""
        if self._binding is not None:
            self._binding.refresh()

    def close(self) -> None:
        """Release the store's connections (the Spark session stays for reuse in-process)."""
        if self._store is not None:
            self._store.dispose()
            self._store = None
            self._catalog = None
            self._crawlers = None
            self._jobs = None
            self._ml = None
            self._scheduler = None
            self._replication = None
            self._clusters = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "getMessage", lambda: str(exc))() or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
