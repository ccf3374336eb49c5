"""JDBC targets: tables of PostgreSQL, MySQL/MariaDB and SQLite databases, read by inspection.

The include path is ``database/schema/table`` (``database/table`` for MySQL and SQLite) with
``%`` and ``_`` wildcards, as Glue takes it. Columns get Hive types (their database type is
kept in the ``rawTypes`` table parameter) and primary keys are recorded (``primaryKeys``).
Only the connection's name is stored with the table, never its credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sparkglue.catalog import Connection, DataCatalog
from sparkglue.errors import InvalidInput

__all__ = ["JdbcTable", "inspect_jdbc_target", "sqlalchemy_url"]


@dataclass
class JdbcTable:
    database: str
    schema: str | None
    name: str
    columns: list[tuple[str, str, str]]  # (name, hive type, raw type)
    primary_key: list[str]
    classification: str
    notes: list[str] = field(default_factory=list)


def sqlalchemy_url(connection: Connection, password: str | None) -> tuple[Any, str]:
    """The SQLAlchemy URL of a JDBC URL, and the classification Glue gives its tables."""
    import sqlalchemy as sa

    url = connection.jdbc_url
    m = re.fullmatch(
        r"jdbc:(postgresql|mysql|mariadb)://([^/:?]+)(?::(\d+))?/([^?;]+)(?:[?;].*)?", url
    )
    if m:
        kind, host, port, database = m.groups()
        driver = "postgresql+psycopg" if kind == "postgresql" else "mysql+pymysql"
        return sa.engine.URL.create(
            driver,
            username=connection.username,
            password=password,
            host=host,
            port=int(port) if port else None,
            database=database,
        ), ("postgresql" if kind == "postgresql" else "mysql")
    m = re.fullmatch(r"jdbc:sqlite:(.+)", url)
    if m:
        return sa.engine.URL.create("sqlite", database=m.group(1)), "sqlite"
    raise InvalidInput(
        f"connection '{connection.name}' has JDBC URL '{url}', which the crawler cannot read; "
        "supported: jdbc:postgresql://, jdbc:mysql://, jdbc:mariadb://, jdbc:sqlite:"
    )


def _like(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(out, re.IGNORECASE)


def hive_type(sql_type: Any) -> str:
    """The Hive type of a SQLAlchemy column type."""
    import sqlalchemy as sa

    checks: list[tuple[type[Any], str]] = [
        (sa.Boolean, "boolean"),
        (sa.SmallInteger, "smallint"),
        (sa.BigInteger, "bigint"),
        (sa.Integer, "int"),
        (sa.Float, "double"),
        (sa.Date, "date"),
        (sa.DateTime, "timestamp"),
        (sa.LargeBinary, "binary"),
        (sa.Interval, "string"),
        (sa.Time, "string"),
    ]
    if type(sql_type).__name__.upper() == "TINYINT":
        # MySQL's BOOLEAN is TINYINT(1), and its JDBC driver reports it as a boolean.
        return "boolean" if getattr(sql_type, "display_width", None) == 1 else "tinyint"
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        precision, scale = sql_type.precision, sql_type.scale
        if precision and 1 <= precision <= 38:
            return f"decimal({precision},{scale or 0})"
        return "decimal(38,18)"
    for kind, name in checks:
        if isinstance(sql_type, kind):
            if (
                name == "double"
                and getattr(sql_type, "precision", None)
                and sql_type.precision <= 24
            ):
                return "float"
            return name
    if isinstance(sql_type, sa.ARRAY):
        return f"array<{hive_type(sql_type.item_type)}>"
    return "string"


def inspect_jdbc_target(
    connection: Connection, path: str, exclusions: list[str]
) -> list[JdbcTable]:
    """The tables a JDBC include path selects, with their columns and primary keys."""
    import sqlalchemy as sa

    url, classification = sqlalchemy_url(connection, DataCatalog.resolve_password(connection))
    parts = path.strip("/").split("/")
    if classification == "postgresql":
        if len(parts) != 3:
            raise InvalidInput(
                f"JDBC path '{path}' must be database/schema/table (with % wildcards)"
            )
        _, schema_pattern, table_pattern = parts
    else:
        if len(parts) not in (2, 3):
            raise InvalidInput(f"JDBC path '{path}' must be database/table (with % wildcards)")
        schema_pattern, table_pattern = "%", parts[-1]
    excluded = [_like(e.replace("*", "%")) for e in exclusions]
    engine = sa.create_engine(url)
    tables: list[JdbcTable] = []
    try:
        inspector = sa.inspect(engine)
        schemas: list[str | None]
        if classification == "postgresql":
            schemas = [
                s for s in inspector.get_schema_names() if _like(schema_pattern).fullmatch(s)
            ]
        else:
            schemas = [None]
        for schema in schemas:
            for name in sorted(inspector.get_table_names(schema=schema)):
                if not _like(table_pattern).fullmatch(name):
                    continue
                qualified = f"{schema}/{name}" if schema else name
                if any(rx.fullmatch(qualified) or rx.fullmatch(name) for rx in excluded):
                    continue
                columns = [
                    (c["name"], hive_type(c["type"]), str(c["type"]))
                    for c in inspector.get_columns(name, schema=schema)
                ]
                pk = (
                    inspector.get_pk_constraint(name, schema=schema).get("constrained_columns")
                    or []
                )
                database = parts[0] if parts else ""
                tables.append(JdbcTable(database, schema, name, columns, list(pk), classification))
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InvalidInput(
            f"cannot connect with connection '{connection.name}': {reason}"
        ) from None
    finally:
        engine.dispose()
    return tables
