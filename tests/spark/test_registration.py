"""Catalog tables in Spark SQL: registered lazily, with their partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkglue.catalog import Column, DatabaseInput, PartitionInput, TableInput
from sparkglue.errors import EntityNotFound, SparkError
from sparkglue.spark import is_connect, spark_table_ddl
from sparkglue.workspace import Workspace

pytestmark = pytest.mark.spark


def _csv_table(
    ws: Workspace,
    name: str,
    rows: dict[str, list[str]],
    *,
    partitioned: bool = True,
    db: str = "raw",
) -> None:
    if db not in {d.name for d in ws.catalog.list_databases()}:
        ws.catalog.create_database(DatabaseInput(name=db))
    root = ws.settings.lake_root / db / name
    parts = []
    for key, lines in rows.items():
        folder = root / f"year={key}" if partitioned else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{key}.csv").write_text("id,label\n" + "\n".join(lines) + "\n")
        parts.append(PartitionInput(values=[key]))
    table = TableInput(
        name=name,
        columns=[Column(name="id", type="bigint"), Column(name="label", type="string")],
        partition_keys=[Column(name="year", type="int")] if partitioned else [],
        location=f"{db}/{name}",
        parameters={"classification": "csv", "skip.header.line.count": "1"},
    )
    ws.catalog.create_table(db, table, parts if partitioned else [])


def test_query_a_catalog_table_by_name(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "t", {"2007": ["1,a", "2,b"], "2008": ["3,c"]})
    rows = spark_workspace.sql(
        "SELECT year, count(*) AS n FROM raw.t GROUP BY year ORDER BY year"
    ).collect()
    assert [(r.year, r.n) for r in rows] == [(2007, 2), (2008, 1)]
    # plain spark.sql and spark.table see it too
    session: Any = spark_workspace.spark()
    assert not is_connect(session)
    assert session.sql("SELECT sum(id) AS s FROM raw.t").collect()[0].s == 6
    assert session.table("raw.t").count() == 3


def test_only_catalog_partitions_are_read(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "t", {"2007": ["1,a"], "2008": ["2,b"]})
    stray = spark_workspace.settings.lake_root / "raw" / "t" / "year=2099"
    stray.mkdir()
    (stray / "x.csv").write_text("id,label\n9,z\n")
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 2


def test_joins_subqueries_and_ctes_register_every_table(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "a", {"2007": ["1,x", "2,y"]})
    _csv_table(spark_workspace, "b", {"2007": ["2,z"]}, db="curated")
    rows = spark_workspace.sql(
        "WITH q AS (SELECT id FROM curated.b) "
        "SELECT a.label FROM raw.a a JOIN q ON a.id = q.id "
        "WHERE a.id IN (SELECT id FROM curated.b)"
    ).collect()
    assert [r.label for r in rows] == ["y"]


def test_unqualified_names_use_the_current_database(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "plain", {"x": ["1,a"]}, partitioned=False, db="default")
    assert spark_workspace.sql("SELECT count(*) AS n FROM plain").collect()[0].n == 1


def test_unknown_table_is_a_clear_error(spark_workspace: Workspace) -> None:
    spark_workspace.catalog.create_database(DatabaseInput(name="raw"))
    with pytest.raises(EntityNotFound, match="^table 'raw.nope' not found in the catalog$"):
        spark_workspace.sql("SELECT * FROM raw.nope")


def test_sql_errors_are_one_line(spark_workspace: Workspace) -> None:
    with pytest.raises(SparkError, match="Spark SQL syntax error") as info:
        spark_workspace.sql("SELEC 1")
    assert "\n" not in str(info.value)
    with pytest.raises(SparkError, match="Spark SQL query error"):
        spark_workspace.sql("SELECT no_such_column FROM (SELECT 1 AS a)")


def test_refresh_reads_new_definitions(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "t", {"2007": ["1,a"]})
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 1
    folder = spark_workspace.settings.lake_root / "raw" / "t" / "year=2008"
    folder.mkdir()
    (folder / "p.csv").write_text("id,label\n2,b\n")
    spark_workspace.catalog.create_partition("raw", "t", PartitionInput(values=["2008"]))
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 1  # cached
    spark_workspace.refresh_tables()
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 2


def test_another_workspace_does_not_see_the_first_ones_tables(
    spark_workspace: Workspace, tmp_path: Path, spark_session: Any
) -> None:
    _csv_table(spark_workspace, "t", {"2007": ["1,a"]})
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 1
    other = Workspace.init(tmp_path / "other")
    assert other.spark() is spark_session
    other.catalog.create_database(DatabaseInput(name="raw"))
    with pytest.raises(EntityNotFound):
        other.sql("SELECT * FROM raw.t")


def test_reopening_the_workspace_keeps_the_users_own_tables(
    spark_workspace: Workspace, spark_session: Any
) -> None:
    _csv_table(spark_workspace, "t", {"2007": ["1,a"]})
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 1
    spark_session.range(3).write.saveAsTable("raw.summary")
    again = Workspace(spark_workspace.path)
    assert again.spark() is spark_session
    assert again.sql("SELECT count(*) AS n FROM raw.summary").collect()[0].n == 3
    assert again.sql("SELECT count(*) AS n FROM raw.t").collect()[0].n == 1
    spark_session.sql("DROP TABLE raw.summary")


def test_runtime_errors_are_one_line(spark_workspace: Workspace) -> None:
    with pytest.raises(SparkError, match="Spark could not run the query: .*DIVIDE_BY_ZERO") as info:
        spark_workspace.query("SELECT 1/0 AS x", 10)
    assert "\n" not in str(info.value)


def test_query_returns_columns_rows_and_truncation(spark_workspace: Workspace) -> None:
    columns, rows, truncated = spark_workspace.query("SELECT id, id AS id FROM range(5)", 3)
    assert columns == ["id", "id"] and rows == [[0, 0], [1, 1], [2, 2]] and truncated


def test_registration_is_lazy_with_a_thousand_tables(spark_workspace: Workspace) -> None:
    _csv_table(spark_workspace, "t0", {"x": ["1,a"]}, partitioned=False)
    for i in range(1, 1000):
        spark_workspace.catalog.create_table(
            "raw",
            TableInput(
                name=f"t{i}",
                columns=[Column(name="id", type="bigint")],
                location=f"raw/t{i}",
                parameters={"classification": "parquet"},
            ),
        )
    assert spark_workspace.sql("SELECT count(*) AS n FROM raw.t0").collect()[0].n == 1
    binding = spark_workspace._binding
    assert binding is not None
    assert list(binding.registered) == [("raw", "t0")]
    assert spark_workspace.spark().catalog.listTables("raw")[0].name == "t0"
    assert len(spark_workspace.spark().catalog.listTables("raw")) == 1


def test_a_failed_registration_leaves_no_table_behind(spark_workspace: Workspace) -> None:
    spark_workspace.catalog.create_database(DatabaseInput(name="raw"))
    spark_workspace.catalog.create_table(
        "raw",
        TableInput(
            name="bad",
            columns=[Column(name="id", type="bigint")],
            partition_keys=[Column(name="at", type="timestamp")],
            location="raw/bad",
            parameters={"classification": "csv"},
        ),
        [PartitionInput(values=["not-a-time"])],
    )
    with pytest.raises(SparkError, match="table 'raw.bad' could not be registered in Spark"):
        spark_workspace.sql("SELECT * FROM raw.bad")
    assert not spark_workspace.spark().catalog.tableExists("raw.bad")


def test_an_s3_table_without_an_s3_connector_says_what_to_add(
    spark_workspace: Workspace,
) -> None:
    spark_workspace.catalog.create_database(DatabaseInput(name="raw"))
    spark_workspace.catalog.create_table(
        "raw",
        TableInput(
            name="remote",
            columns=[Column(name="id", type="bigint")],
            location="s3://lake/remote",
            parameters={"classification": "parquet"},
        ),
    )
    with pytest.raises(SparkError, match="no S3 connector; add org.apache.hadoop:hadoop-aws"):
        spark_workspace.sql("SELECT * FROM raw.remote").collect()
    assert not spark_workspace.spark().catalog.tableExists("raw.remote")


def test_ddl_quotes_names_and_maps_csv_options() -> None:
    table = TableInput(
        name="p",
        columns=[Column(name="Culmen Length (mm)", type="double", comment="it's long")],
        partition_keys=[Column(name="year", type="string")],
        location="/lake/raw/p",
        serde_parameters={"field.delim": "|", "serialization.null.format": "NA", "quoteChar": '"'},
        parameters={"classification": "csv", "skip.header.line.count": "1"},
    )
    from sparkglue.catalog import Table

    full = Table.model_validate(
        {
            **table.model_dump(),
            "database": "raw",
            "version": 1,
            "created_at": "t",
            "updated_at": "t",
        }
    )
    create, ddl, alter = spark_table_ddl(full, [_part(["2007"], "/lake/raw/p/year=2007")])
    assert create == "CREATE DATABASE IF NOT EXISTS `raw`"
    assert "`Culmen Length (mm)` double COMMENT 'it\\'s long'" in ddl
    assert "OPTIONS ('sep' '|', 'header' 'true', 'quote' '\"', 'nullValue' 'NA')" in ddl
    assert "PARTITIONED BY (`year`) LOCATION '/lake/raw/p'" in ddl
    assert alter == (
        "ALTER TABLE `raw`.`p` ADD IF NOT EXISTS PARTITION (`year`='2007') "
        "LOCATION '/lake/raw/p/year=2007'"
    )


def test_unreadable_classification_is_refused() -> None:
    from sparkglue.catalog import Table

    table = Table(
        name="x",
        columns=[Column(name="a", type="int")],
        location="/l/x",
        parameters={"classification": "combined_apache"},
        database="raw",
        version=1,
        created_at="t",
        updated_at="t",
    )
    with pytest.raises(
        SparkError, match="classification 'combined_apache', which Spark cannot read"
    ):
        spark_table_ddl(table)


def _part(values: list[str], location: str) -> Any:
    from sparkglue.catalog import Partition

    return Partition(
        values=values, location=location, database="raw", table="p", created_at="t", updated_at="t"
    )


def _parquet_table(ws: Workspace, name: str, days: dict[str | None, list[int]]) -> Any:
    """A Parquet table partitioned by a string ``day`` (a null day included), in ``day=…``
    folders as Spark writes them, with a stray folder the catalog does not list."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if "raw" not in {d.name for d in ws.catalog.list_databases()}:
        ws.catalog.create_database(DatabaseInput(name="raw"))
    root = ws.settings.lake_root / "raw" / name
    parts = []
    for day, ids in days.items():
        # Named as Spark writes them: "%" escaped, a null value as Hive's default partition.
        text = "__HIVE_DEFAULT_PARTITION__" if day is None else day.replace("%", "%25")
        folder = root / f"day={text}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"id": ids}), folder / "part-0.parquet")
        parts.append(PartitionInput(values=[day], location=str(folder)))
    stray = root / "day=stray"
    stray.mkdir()
    pq.write_table(pa.table({"id": [999]}), stray / "part-0.parquet")
    table = TableInput(
        name=name,
        columns=[Column(name="id", type="bigint")],
        partition_keys=[Column(name="day", type="string")],
        location=str(root),
        parameters={"classification": "parquet"},
    )
    ws.catalog.create_table("raw", table, parts)
    return ws.catalog.get_table("raw", name), ws.catalog.get_partitions("raw", name)


def test_a_table_read_straight_from_its_files_equals_the_registered_table(
    spark_workspace: Workspace,
) -> None:
    from sparkglue.spark.registration import direct_frame

    table, parts = _parquet_table(
        spark_workspace, "d", {"2024-01-01": [1, 2], "a b%c": [3], None: [4]}
    )
    session: Any = spark_workspace.spark()
    direct = direct_frame(session, table, parts)
    assert direct is not None
    registered = session.table("raw.d")
    assert direct.schema.simpleString() == registered.schema.simpleString()
    rows = sorted((r.id, r.day) for r in direct.collect())
    assert rows == sorted((r.id, r.day) for r in registered.collect())
    assert rows == [(1, "2024-01-01"), (2, "2024-01-01"), (3, "a b%c"), (4, None)]  # no stray
    # A partition whose folder is gone reads as empty, as in the registered table.
    import shutil

    shutil.rmtree(spark_workspace.settings.lake_root / "raw" / "d" / "day=2024-01-01")
    direct = direct_frame(session, table, parts)
    assert direct is not None
    assert sorted(r.id for r in direct.collect()) == [3, 4]


def test_layouts_spark_cannot_find_alone_are_read_through_the_registered_table(
    spark_workspace: Workspace,
) -> None:
    from sparkglue.jobs.runtime import JobContext
    from sparkglue.spark.registration import direct_frame

    table, parts = _parquet_table(spark_workspace, "e", {"1": [1], "2": [2]})
    session: Any = spark_workspace.spark()
    # A partition kept outside the table's folder.
    elsewhere = spark_workspace.settings.lake_root / "elsewhere" / "day=3"
    elsewhere.mkdir(parents=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [3]}), elsewhere / "part-0.parquet")
    spark_workspace.catalog.create_partitions(
        "raw", "e", [PartitionInput(values=["3"], location=str(elsewhere))]
    )
    parts = spark_workspace.catalog.get_partitions("raw", "e")
    assert direct_frame(session, table, parts) is None
    # A partition without a location, an S3 table, a format only sparkglue reads: no.
    assert direct_frame(session, table, [*parts[:1], _part(["9"], "")]) is None
    s3 = table.model_copy(update={"location": "s3://bucket/e"})
    assert direct_frame(session, s3, []) is None
    grok = table.model_copy(update={"serde_library": "com.amazonaws.glue.serde.GrokSerDe"})
    assert direct_frame(session, grok, parts) is None
    # The job's read falls back to the registered table and reads every partition.
    job = JobContext({"JOB_NAME": "t"}, settings=spark_workspace.settings, spark=session)
    got = sorted((r.id, r.day) for r in job.read_table("raw", "e").collect())
    assert got == [(1, "1"), (2, "2"), (3, "3")]
