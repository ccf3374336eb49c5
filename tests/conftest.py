"""Shared fixtures: one Spark session per run, workspaces, and catalogs on every backend."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkglue.catalog import DataCatalog
from sparkglue.config import Settings
from sparkglue.store import MetadataStore
from sparkglue.workspace import Workspace

POSTGRES_ENV = "SPARKGLUE_TEST_POSTGRES_URL"
MYSQL_ENV = "SPARKGLUE_TEST_MYSQL_URL"
REQUIRE_ENV = "SPARKGLUE_TEST_REQUIRE_SERVICES"
# Drivers start as they would on a fresh machine, and no test leaves an archive being made in
# the background; tests/spark/test_archive.py turns it on where it is what is tested.
ARCHIVE_ENV = "SPARKGLUE_CLASS_ARCHIVE"
os.environ[ARCHIVE_ENV] = "off"


def pytest_configure(config: pytest.Config) -> None:
    # Set here rather than in pyproject: resolving the category there imports sparkglue before
    # coverage starts measuring it.
    config.addinivalue_line("filterwarnings", "error::sparkglue.errors.SparkGlueWarning")


def _service_missing(what: str) -> None:
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{what} is required by ./scripts/test but is not available")
    pytest.skip(f"{what} is not available (./scripts/test starts it)")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SPARKGLUE_* settings or writes into the checkout."""
    for key in list(os.environ):
        if key.startswith("SPARKGLUE_") and key not in (
            POSTGRES_ENV,
            MYSQL_ENV,
            REQUIRE_ENV,
            ARCHIVE_ENV,
        ):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _service_missing("PostgreSQL")
    return str(url)


@pytest.fixture(scope="session")
def mysql_url() -> str:
    url = os.environ.get(MYSQL_ENV)
    if not url:
        _service_missing("MariaDB")
    return str(url)


def _fresh_postgres_database(admin_url: str) -> tuple[str, Any]:
    import sqlalchemy as sa

    name = "sg_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url, drop = _fresh_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def catalog(store_url: str, lake: Path) -> Iterator[DataCatalog]:
    store = MetadataStore(store_url)
    store.migrate()
    yield DataCatalog(store, lake_root=lake)
    store.dispose()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The one SparkSession of the test run (local[2]); workspaces reuse it."""
    from sparkglue.spark import build_session

    root = tmp_path_factory.mktemp("spark")
    settings = Settings.resolve(
        root,
        overrides={"spark_master": "local[2]", "spark_conf": {"spark.sql.shuffle.partitions": "2"}},
        env={},
    )
    session = build_session(settings)
    yield session
    session.stop()


@pytest.fixture
def spark_workspace(workspace: Workspace, spark_session: Any) -> Workspace:
    """A workspace whose ``spark()`` is the shared session, bound to its catalog."""
    assert workspace.spark() is spark_session
    return workspace


@pytest.fixture(scope="session")
def connect_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """A cluster of this machine (one worker) started with a warm Spark Connect server, for
    the whole test run: (its workspace, its record). Clients share this machine's files, so
    lake paths work on both sides; its Python workers run in this interpreter's environment."""
    from sparkglue.cluster import ClusterSpec
    from tests.cluster.support import all_pids, clean_env, finish, gone, launch, processes_in

    with clean_env():
        ws = Workspace.init(tmp_path_factory.mktemp("connect") / "ws")
        spec = ClusterSpec(Name="tests", Workers=1, WorkerCores=2, WorkerMemory="2g", Connect=True)
        cluster = launch(ws, spec)
        left: list[int] = []
        try:
            yield ws, cluster
            # terminate leaves nothing behind: master, worker, Connect server, warm runner
            pids = all_pids(ws, cluster.id)
            assert {"runner", "connect"} <= set(ws.clusters.get(cluster.id).processes)
            assert ws.clusters.terminate(cluster.id, timeout=120).state == "TERMINATED"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                left = [p for p in pids if not gone(p)]
                left += processes_in(ws.clusters.cluster_dir(cluster.id))
                if not left:
                    break
                time.sleep(0.2)
        finally:
            finish(ws, cluster.id)
            ws.close()
        assert left == [], f"processes left after terminate: {left}"


@pytest.fixture(scope="session")
def connect_url(connect_cluster: tuple[Any, Any]) -> str:
    """The ``sc://127.0.0.1:PORT`` URL of the test run's Spark Connect server."""
    return str(connect_cluster[1].connect_url)
