"""JDBC targets: a real PostgreSQL database (started by ./scripts/test) and SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkglue.catalog import ConnectionInput, DatabaseInput
from sparkglue.crawler import CrawlerSpec
from sparkglue.workspace import Workspace


def _crawl(ws: Workspace, connection: str, path: str) -> None:
    ws.catalog.create_database(DatabaseInput(name="shop"))
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": "db",
                "DatabaseName": "shop",
                "Targets": {
                    "JdbcTargets": [
                        {"ConnectionName": connection, "Path": path, "Exclusions": ["%audit%"]}
                    ]
                },
            }
        )
    )
    run = ws.crawlers.run("db")
    assert run.state == "SUCCEEDED", run.error_message


@pytest.mark.postgres
def test_postgres_tables_with_types_and_primary_keys(
    workspace: Workspace, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import _fresh_postgres_database

    url, drop = _fresh_postgres_database(postgres_admin_url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer int NOT NULL, "
                    "amount numeric(10,2), note text, placed timestamptz, paid boolean, day date, "
                    "tags text[], score double precision)"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TABLE public.lines (order_id bigint, line int, qty smallint, "
                    "PRIMARY KEY (order_id, line))"
                )
            )
            conn.execute(sa.text("CREATE TABLE public.audit_log (id int)"))
            conn.execute(sa.text("CREATE SCHEMA other"))
            conn.execute(sa.text("CREATE TABLE other.hidden (id int)"))
        parsed = sa.engine.make_url(url)
        monkeypatch.setenv("SG_SHOP_PASSWORD", "unused-with-trust-auth")
        workspace.catalog.create_connection(
            ConnectionInput(
                name="shop_pg",
                jdbc_url=f"jdbc:postgresql://{parsed.host}:{parsed.port}/{parsed.database}",
                username=parsed.username,
                password_ref="env:SG_SHOP_PASSWORD",
            )
        )
        _crawl(workspace, "shop_pg", f"{parsed.database}/public/%")
        tables = {t.name: t for t in workspace.catalog.list_tables("shop")}
        prefix = f"{parsed.database}_public_"
        assert sorted(tables) == [f"{prefix}lines", f"{prefix}orders"]
        orders = tables[f"{prefix}orders"]
        assert [(c.name, c.type) for c in orders.columns] == [
            ("id", "bigint"),
            ("customer", "int"),
            ("amount", "decimal(10,2)"),
            ("note", "string"),
            ("placed", "timestamp"),
            ("paid", "boolean"),
            ("day", "date"),
            ("tags", "array<string>"),
            ("score", "double"),
        ]
        assert orders.classification == "postgresql"
        assert orders.parameters["primaryKeys"] == "id"
        assert orders.parameters["connectionName"] == "shop_pg"
        assert json.loads(orders.parameters["rawTypes"])["amount"] == "NUMERIC(10, 2)"
        assert tables[f"{prefix}lines"].parameters["primaryKeys"] == "order_id,line"
        assert "unused-with-trust-auth" not in json.dumps(orders.model_dump())
    finally:
        engine.dispose()
        drop()


def test_sqlite_tables(workspace: Workspace, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, qty INTEGER, price REAL)")
    workspace.catalog.create_connection(ConnectionInput(name="lite", jdbc_url=f"jdbc:sqlite:{db}"))
    _crawl(workspace, "lite", "shop/%")
    (table,) = workspace.catalog.list_tables("shop")
    assert table.name == "shop_items"
    assert [(c.name, c.type) for c in table.columns] == [
        ("sku", "string"),
        ("qty", "int"),
        ("price", "double"),
    ]
    assert table.classification == "sqlite" and table.parameters["primaryKeys"] == "sku"


@pytest.mark.mysql
def test_mariadb_tables_with_types_and_primary_keys(workspace: Workspace, mysql_url: str) -> None:
    engine = sa.create_engine(mysql_url)
    parsed = sa.engine.make_url(mysql_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS orders, order_lines, audit_trail"))
            conn.execute(
                sa.text(
                    "CREATE TABLE orders (id BIGINT PRIMARY KEY AUTO_INCREMENT,"
                    " customer INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(200),"
                    " placed DATETIME, paid BOOLEAN,"
                    " day DATE, score DOUBLE)"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TABLE order_lines (order_id BIGINT, line INT, "
                    "qty SMALLINT, PRIMARY KEY (order_id, line))"
                )
            )
            conn.execute(sa.text("CREATE TABLE audit_trail (id INT)"))
        workspace.catalog.create_connection(
            ConnectionInput(
                name="shop_my",
                jdbc_url=f"jdbc:mysql://{parsed.host}:{parsed.port}/{parsed.database}",
                username=parsed.username,
            )
        )
        _crawl(workspace, "shop_my", f"{parsed.database}/%")
        tables = {t.name: t for t in workspace.catalog.list_tables("shop")}
        prefix = f"{parsed.database}_"
        assert sorted(tables) == [f"{prefix}order_lines", f"{prefix}orders"]
        orders = tables[f"{prefix}orders"]
        assert [(c.name, c.type) for c in orders.columns] == [
            ("id", "bigint"),
            ("customer", "int"),
            ("amount", "decimal(10,2)"),
            ("note", "string"),
            ("placed", "timestamp"),
            ("paid", "boolean"),
            ("day", "date"),
            ("score", "double"),
        ]
        assert orders.classification == "mysql" and orders.parameters["primaryKeys"] == "id"
        assert tables[f"{prefix}order_lines"].parameters["primaryKeys"] == "order_id,line"
    finally:
        engine.dispose()
