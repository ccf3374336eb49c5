"""awsglue's JDBC paths against the real PostgreSQL server: from_options reads, from_jdbc_conf
writes through a catalog connection, from_catalog reads and writes a crawled table."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.jobs.test_jdbc_bookmarks import _insert, shop  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.spark, pytest.mark.postgres]


def test_jdbc_reads_and_writes(
    shop: tuple[Any, Any, str],  # noqa: F811
    glue_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from awsglue.dynamicframe import DynamicFrame

    workspace, engine, table = shop
    monkeypatch.setenv("SPARKGLUE_WORKSPACE", str(workspace.path))
    _insert(engine, 1.5, 20.0, 300.25)
    parsed = engine.url
    jdbc_url = f"jdbc:postgresql://{parsed.host}:{parsed.port}/{parsed.database}"

    orders = glue_context.create_dynamic_frame.from_options(
        "postgresql",
        {"url": jdbc_url, "dbtable": "public.orders", "user": parsed.username},
    )
    assert sorted(float(r["amount"]) for r in orders.toDF().collect()) == [1.5, 20.0, 300.25]

    big = DynamicFrame.fromDF(orders.toDF().where("amount > 10"), glue_context, "big")
    glue_context.write_dynamic_frame.from_jdbc_conf(
        frame=big,
        catalog_connection="shop_pg",
        connection_options={"dbtable": "public.big_orders", "database": parsed.database},
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT amount FROM public.big_orders ORDER BY amount"))
        assert [float(r[0]) for r in rows] == [20.0, 300.25]

    crawled = glue_context.create_dynamic_frame.from_catalog(database="shop", table_name=table)
    assert crawled.count() == 3
    glue_context.write_dynamic_frame.from_catalog(
        frame=big.drop_fields(["id"]), database="shop", table_name=table
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM public.orders")).scalar() == 5
    with pytest.raises(ValueError, match="failed: ERROR: duplicate key value"):
        glue_context.write_dynamic_frame.from_catalog(frame=big, database="shop", table_name=table)

    with pytest.raises(ValueError, match="needs 'dbtable'"):
        glue_context.write_dynamic_frame.from_jdbc_conf(
            frame=big, catalog_connection="shop_pg", connection_options={}
        )
