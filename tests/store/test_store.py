from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sparkglue.errors import StoreError
from sparkglue.store import LATEST_VERSION, MetadataStore, metadata
from sparkglue.store.schema import schema_migrations


def test_migrate_is_idempotent(store_url: str) -> None:
    store = MetadataStore(store_url)
    assert store.schema_version() == 0
    assert store.migrate() == LATEST_VERSION
    assert store.migrate() == 0
    assert store.schema_version() == LATEST_VERSION
    store.check_current()
    store.dispose()


def test_migrated_schema_matches_the_table_definitions(store_url: str) -> None:
    store = MetadataStore(store_url)
    store.migrate()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.dispose()


def test_newer_schema_is_refused(store_url: str) -> None:
    store = MetadataStore(store_url)
    store.migrate()
    with store.write() as conn:
        conn.execute(
            schema_migrations.insert().values(
                version=LATEST_VERSION + 1, description="future", applied_at="x"
            )
        )
    with pytest.raises(StoreError, match="newer than this sparkglue supports"):
        store.migrate()
    with pytest.raises(StoreError, match="upgrade sparkglue"):
        store.check_current()
    store.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_unreachable_store_is_one_line(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'm.db'}")
    with pytest.raises(StoreError, match="cannot open the metadata store") as info:
        store.schema_version()
    assert "\n" not in str(info.value)


@pytest.mark.postgres
def test_unreachable_postgres_names_the_setting(postgres_admin_url: str) -> None:
    url = sa.engine.make_url(postgres_admin_url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="SPARKGLUE_METADATA_URL"):
        MetadataStore(url).schema_version()


def test_concurrent_migrations_apply_once(store_url: str) -> None:
    code = (
        "import sys; from sparkglue.store import MetadataStore; "
        "print(MetadataStore(sys.argv[1]).migrate())"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    applied = sorted(int(p.communicate(timeout=120)[0].strip()) for p in procs)
    assert applied == [0, 0, LATEST_VERSION]
    store = MetadataStore(store_url)
    with store.read() as conn:
        rows = conn.execute(sa.select(schema_migrations.c.version)).scalars().all()
    assert sorted(rows) == list(range(1, LATEST_VERSION + 1))
    store.dispose()


def test_compiled_json_writes_what_the_json_column_reads_back(store_url: str) -> None:
    from sparkglue.store.schema import CompiledJSON, crawl_run_files, crawl_runs

    store = MetadataStore(store_url)
    store.migrate()
    values = [
        {"size": 3, "certainty": 1.0, "tried": [{"reason": 'a "quoted" \u00e9 \\ reason'}]},
        {"huge": 2**70, "nested": {"x": [None, True, -0.5]}},  # past 64 bits: the standard encoder
        {"not a number": float("nan")},
    ]
    with store.write() as conn:
        conn.execute(
            crawl_runs.insert().values(
                id="cr_1", crawler_name="c", state="RUNNING", started_at="t", metrics={}
            )
        )
        conn.execute(
            crawl_run_files.insert().values(
                decision=sa.bindparam("decision", type_=CompiledJSON())
            ),
            [{"run_id": "cr_1", "path": f"p{i}", "decision": v} for i, v in enumerate(values)],
        )
    with store.read() as conn:
        read = conn.execute(
            sa.select(crawl_run_files.c.decision).order_by(crawl_run_files.c.id)
        ).scalars()
        assert list(read) == [*values[:2], {"not a number": None}]
    store.dispose()
