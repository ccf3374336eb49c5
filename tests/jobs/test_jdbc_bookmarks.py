"""JDBC bookmarks on a real PostgreSQL table: each run reads only the rows past the last
committed key; a failed run commits nothing; every row reaches the target exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from sparkglue.catalog import ConnectionInput, DatabaseInput
from sparkglue.crawler import CrawlerSpec
from sparkglue.jobs import JobSpec
from sparkglue.jobs.runtime import JdbcSource
from sparkglue.spark.session import jdbc_driver_jars
from sparkglue.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

COPY = """
import sys

from sparkglue.jobs.runtime import JobContext

job = JobContext.from_argv(sys.argv)
df = job.read_table("shop", job.args["table"], transformation_ctx="orders")
if job.args.get("fail") == "true":
    print("read", df.count(), "rows")
    raise RuntimeError("asked to fail after reading")
job.write_table(df, database="curated", table="orders", path="curated/orders")
job.commit()
"""


@pytest.fixture
def shop(workspace: Workspace, postgres_admin_url: str) -> Iterator[tuple[Workspace, Any, str]]:
    from tests.conftest import _fresh_postgres_database

    if not any("postgresql" in jar for jar in jdbc_driver_jars()):
        pytest.fail("the PostgreSQL JDBC driver is required (./scripts/test installs it)")
    url, drop = _fresh_postgres_database(postgres_admin_url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE public.orders (id bigserial PRIMARY KEY, amount numeric(8,2))")
        )
    parsed = sa.engine.make_url(url)
    workspace.catalog.create_connection(
        ConnectionInput(
            name="shop_pg",
            jdbc_url=f"jdbc:postgresql://{parsed.host}:{parsed.port}/{parsed.database}",
            username=parsed.username,
        )
    )
    workspace.catalog.create_database(DatabaseInput(name="shop"))
    workspace.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": "shop",
                "DatabaseName": "shop",
                "Targets": {
                    "JdbcTargets": [
                        {"ConnectionName": "shop_pg", "Path": f"{parsed.database}/public/%"}
                    ]
                },
            }
        )
    )
    assert workspace.crawlers.run("shop").state == "SUCCEEDED"
    (table,) = workspace.catalog.list_tables("shop")
    try:
        yield workspace, engine, table.name
    finally:
        engine.dispose()
        drop()


def _insert(engine: Any, *amounts: float) -> None:
    with engine.begin() as conn:
        for amount in amounts:
            conn.execute(sa.text("INSERT INTO public.orders (amount) VALUES (:a)"), {"a": amount})


def test_jdbc_bookmarks_read_each_row_once(shop: tuple[Workspace, Any, str]) -> None:
    ws, engine, table = shop
    (ws.path / "scripts" / "copy_orders.py").write_text(COPY)
    ws.jobs.create_job(
        JobSpec.model_validate(
            {
                "Name": "orders",
                "Command": {"ScriptLocation": "scripts/copy_orders.py"},
                "DefaultArguments": {
                    "--job-bookmark-option": "job-bookmark-enable",
                    "--table": table,
                },
            }
        )
    )

    def run(**args: str) -> Any:
        arguments = {f"--{k}": v for k, v in args.items()}
        return ws.jobs.supervise(ws.jobs.start_run("orders", arguments))

    _insert(engine, 1.5, 2.5, 3.5, 4.5, 5.5)
    first = run()
    assert first.state == "SUCCEEDED", first.error_message
    assert first.metrics["records_read"] == 5
    assert ws.jobs.bookmark("orders")["orders"]["jdbc"] == {"keys": ["id"], "last": [5]}

    _insert(engine, 6.5, 7.5, 8.5)
    second = run()
    assert second.metrics["records_read"] == 3  # only the rows past id 5

    _insert(engine, 9.5, 10.5)
    failed = run(fail="true")
    assert failed.state == "FAILED" and "asked to fail after reading" in str(failed.error_message)
    assert ws.jobs.bookmark("orders")["orders"]["jdbc"]["last"] == [8]  # not advanced
    for expected in (2, 0):
        again = run()
        assert again.state == "SUCCEEDED", again.error_message
        assert again.metrics["records_read"] == expected  # the failed run's rows, then nothing
    assert ws.jobs.bookmark_versions("orders")[-1]["contexts"] == {"orders": "rows up to id=10"}

    import pyarrow.dataset as ds

    written = ds.dataset(str(ws.settings.lake_root / "curated" / "orders"), format="parquet")
    ids = sorted(written.to_table(columns=["id"]).column("id").to_pylist())
    assert ids == list(range(1, 11))  # each row exactly once


def test_range_conditions_and_literals() -> None:
    source = JdbcSource.__new__(JdbcSource)
    source.kind = "postgresql"
    assert source.range_condition(["id"], after=[5], upto=[9]) == ('(("id" > 5)) AND (("id" <= 9))')
    two = source.range_condition(["day", "n"], after=["2026-01-02", 3], upto=None)
    assert two == '(("day" > \'2026-01-02\') OR ("day" = \'2026-01-02\' AND "n" > 3))'
    assert source.literal("it's") == "'it''s'"
    assert source.range_condition(["id"], after=None, upto=None) == "1 = 1"
