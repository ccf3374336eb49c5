"""The catalog test suite; every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sparkglue.catalog import (
    Column,
    ConnectionInput,
    DatabaseInput,
    DataCatalog,
    PartitionInput,
    TableInput,
)
from sparkglue.errors import AlreadyExists, ConcurrentModification, EntityNotFound, InvalidInput


def _table(name: str = "penguins", *cols: tuple[str, str], **extra: object) -> TableInput:
    columns = [
        Column(name=n, type=t) for n, t in (cols or (("species", "string"), ("mass", "bigint")))
    ]
    data: dict[str, object] = {
        "name": name,
        "columns": columns,
        "location": f"raw/{name}",
        "parameters": {"classification": "csv"},
    }
    data.update(extra)
    return TableInput.model_validate(data)


@pytest.fixture
def raw(catalog: DataCatalog) -> DataCatalog:
    catalog.create_database(DatabaseInput(name="raw", description="raw data"))
    return catalog


def test_databases(catalog: DataCatalog, lake: Path) -> None:
    db = catalog.create_database(
        DatabaseInput(name="Raw", location_uri="raw", parameters={"team": "ml"})
    )
    assert db.name == "raw"  # Glue lower-cases names
    assert db.location_uri == str(lake / "raw")
    assert [d.name for d in catalog.list_databases()] == ["raw"]
    assert catalog.get_database("RAW").parameters == {"team": "ml"}
    with pytest.raises(AlreadyExists, match="database 'raw' already exists"):
        catalog.create_database(DatabaseInput(name="raw"))
    with pytest.raises(EntityNotFound, match="database 'nope' not found in the catalog"):
        catalog.get_database("nope")


def test_delete_database_needs_cascade_when_not_empty(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    with pytest.raises(InvalidInput, match="still has 1 table"):
        raw.delete_database("raw")
    raw.delete_database("raw", cascade=True)
    assert raw.list_databases() == []


def test_create_and_get_table(raw: DataCatalog, lake: Path) -> None:
    created = raw.create_table("raw", _table(partition_keys=[Column(name="year", type="STRING")]))
    table = raw.get_table("raw", "penguins")
    assert table == created
    assert table.version == 1
    assert table.full_name == "raw.penguins"
    assert table.location == str(lake / "raw" / "penguins")
    assert table.classification == "csv"
    assert table.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert table.serde_library == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert [(c.name, c.type) for c in table.partition_keys] == [("year", "string")]
    assert [t.name for t in raw.list_tables("raw")] == ["penguins"]


def test_complex_types_and_comments_round_trip(raw: DataCatalog) -> None:
    table = _table(
        "nested",
        ("tags", "array<string>"),
        ("point", "struct<a:int,b:string>"),
        ("attrs", "map<string, double>"),
    )
    table = table.model_copy(
        update={
            "columns": [*table.columns, Column(name="note", type="string", comment="free text")]
        }
    )
    raw.create_table("raw", table)
    got = raw.get_table("raw", "nested")
    assert [c.type for c in got.columns] == [
        "array<string>",
        "struct<a:int,b:string>",
        "map<string,double>",
        "string",
    ]
    assert got.columns[-1].comment == "free text"


def test_missing_things_are_named(raw: DataCatalog) -> None:
    with pytest.raises(EntityNotFound, match="table 'raw.nope' not found in the catalog"):
        raw.get_table("raw", "nope")
    with pytest.raises(EntityNotFound, match="database 'other' not found"):
        raw.get_table("other", "x")
    with pytest.raises(EntityNotFound, match="database 'other' not found"):
        raw.create_table("other", _table())


def test_duplicate_table_is_refused(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    with pytest.raises(AlreadyExists, match="table 'raw.penguins' already exists"):
        raw.create_table("raw", _table())


def test_two_schema_updates_leave_three_versions_and_diff_shows_them(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    raw.update_table("raw", _table("penguins", ("species", "string"), ("mass", "double")))
    raw.update_table(
        "raw", _table("penguins", ("species", "string"), ("mass", "double"), ("island", "string"))
    )
    versions = raw.list_table_versions("raw", "penguins")
    assert [v.version for v in versions] == [1, 2, 3]
    assert raw.get_table("raw", "penguins").version == 3
    assert [c.type for c in versions[0].table_input.columns] == ["string", "bigint"]

    diff = raw.diff_table_versions("raw", "penguins", 1, 3)
    described = [c.describe() for c in diff.changes]
    assert "+ column island: string" in described
    assert "~ column mass type: bigint -> double" in described
    assert len(described) == 2
    assert raw.diff_table_versions("raw", "penguins", 2, 2).changes == []


def test_unchanged_update_makes_no_version(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    assert raw.update_table("raw", _table()).version == 1
    assert len(raw.list_table_versions("raw", "penguins")) == 1


def test_expected_version_guards_against_lost_updates(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    raw.update_table("raw", _table(description="v2"), expected_version=1)
    with pytest.raises(ConcurrentModification, match="is at version 2, not 1"):
        raw.update_table("raw", _table(description="stale"), expected_version=1)
    assert raw.get_table("raw", "penguins").description == "v2"


def test_alter_table_reads_and_writes_atomically(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    table = raw.alter_table(
        "raw",
        "penguins",
        lambda t: t.to_input().model_copy(update={"parameters": {**t.parameters, "k": "v"}}),
    )
    assert table.parameters == {"classification": "csv", "k": "v"}
    assert table.version == 2


def test_table_versions_can_be_read_and_deleted(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    raw.update_table("raw", _table(description="second"))
    assert raw.get_table_version("raw", "penguins", 1).table_input.description is None
    with pytest.raises(InvalidInput, match="current version"):
        raw.delete_table_version("raw", "penguins", 2)
    raw.delete_table_version("raw", "penguins", 1)
    assert [v.version for v in raw.list_table_versions("raw", "penguins")] == [2]
    with pytest.raises(EntityNotFound, match="version 1 of table 'raw.penguins' not found"):
        raw.get_table_version("raw", "penguins", 1)


def test_deprecated_flag(raw: DataCatalog) -> None:
    raw.create_table("raw", _table())
    raw.set_deprecated("raw", "penguins")
    assert raw.get_table("raw", "penguins").deprecated
    assert raw.list_tables("raw", include_deprecated=False) == []
    assert raw.get_table("raw", "penguins").version == 1


def test_delete_table_removes_versions_and_partitions(raw: DataCatalog) -> None:
    raw.create_table(
        "raw",
        _table(partition_keys=[Column(name="year", type="string")]),
        [PartitionInput(values=["2007"])],
    )
    raw.delete_table("raw", "penguins")
    with pytest.raises(EntityNotFound):
        raw.get_table("raw", "penguins")
    raw.create_table("raw", _table(partition_keys=[Column(name="year", type="string")]))
    assert raw.get_partitions("raw", "penguins") == []
    assert len(raw.list_table_versions("raw", "penguins")) == 1


def test_location_outside_the_lake_is_refused(raw: DataCatalog, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="outside the lake and the allowed roots"):
        raw.create_table("raw", _table(location="/etc"))
    with pytest.raises(InvalidInput, match="outside the lake"):
        raw.create_table("raw", _table(location="raw/../../escape"))
    assert raw.list_tables("raw") == []
    other = DataCatalog(raw.store, lake_root=raw.lake_root, allowed_roots=[tmp_path / "shared"])
    table = other.create_table("raw", _table(location=str(tmp_path / "shared" / "t")))
    assert table.location == str(tmp_path / "shared" / "t")
    remote = other.create_table("raw", _table("remote", location="s3://bucket/prefix/"))
    assert remote.location == "s3://bucket/prefix"


def test_partitions(raw: DataCatalog, lake: Path) -> None:
    keys = [Column(name="year", type="int"), Column(name="island", type="string")]
    raw.create_table("raw", _table(partition_keys=keys))
    added = raw.create_partitions(
        "raw",
        "penguins",
        [
            PartitionInput(values=[str(y), i], parameters={"recordCount": "10"})
            for y in (2007, 2008, 2009)
            for i in ("Biscoe", "Dream")
        ],
    )
    assert added == 6
    part = raw.get_partition("raw", "penguins", ["2008", "Dream"])
    assert part.location == str(lake / "raw" / "penguins" / "year=2008" / "island=Dream")
    got = raw.get_partitions("raw", "penguins", "year >= '2008' AND island = 'Dream'")
    assert [p.values for p in got] == [["2008", "Dream"], ["2009", "Dream"]]
    assert len(raw.get_partitions("raw", "penguins")) == 6

    assert (
        raw.create_partitions(
            "raw", "penguins", [PartitionInput(values=["2008", "Dream"])], if_not_exists=True
        )
        == 0
    )
    with pytest.raises(AlreadyExists, match=r"partition \(year='2008', island='Dream'\)"):
        raw.create_partition("raw", "penguins", PartitionInput(values=["2008", "Dream"]))

    raw.update_partition(
        "raw", "penguins", PartitionInput(values=["2008", "Dream"], parameters={"recordCount": "3"})
    )
    assert raw.get_partition("raw", "penguins", ["2008", "Dream"]).parameters == {
        "recordCount": "3"
    }
    assert raw.delete_partitions("raw", "penguins", [["2008", "Dream"], ["1999", "x"]]) == 1
    assert len(raw.get_partitions("raw", "penguins")) == 5


def test_bad_partitions_write_nothing(raw: DataCatalog) -> None:
    keys = [Column(name="year", type="int")]
    raw.create_table("raw", _table(partition_keys=keys))
    with pytest.raises(InvalidInput, match="one value per partition key"):
        raw.create_partitions("raw", "penguins", [PartitionInput(values=["2007", "x"])])
    with pytest.raises(InvalidInput, match="'abc' for key 'year' of 'raw.penguins' is not a int"):
        raw.create_partitions(
            "raw", "penguins", [PartitionInput(values=["2007"]), PartitionInput(values=["abc"])]
        )
    assert raw.get_partitions("raw", "penguins") == []
    with pytest.raises(InvalidInput, match="is not a int"):
        raw.create_table(
            "raw", _table("other", partition_keys=keys), [PartitionInput(values=["nope"])]
        )
    with pytest.raises(EntityNotFound):
        raw.get_table("raw", "other")
    typed = [Column(name="day", type="date"), Column(name="ok", type="boolean")]
    raw.create_table("raw", _table("typed", partition_keys=typed))
    for values, wrong in (
        (["2026-02-30", "true"], "date"),
        (["20260203", "true"], "date"),
        (["2026-02-03", "yes"], "boolean"),
    ):
        with pytest.raises(InvalidInput, match=f"is not a {wrong}"):
            raw.create_partitions("raw", "typed", [PartitionInput(values=values)])
    raw.create_partitions("raw", "typed", [PartitionInput(values=["2026-02-03", "TRUE"])])
    assert raw.get_partitions("raw", "typed")[0].values == ["2026-02-03", "TRUE"]


def test_partition_filter_errors_name_the_table_keys(raw: DataCatalog) -> None:
    raw.create_table("raw", _table(partition_keys=[Column(name="year", type="string")]))
    with pytest.raises(
        InvalidInput, match=r"'colour' is not a partition key \(partition keys: year\)"
    ):
        raw.get_partitions("raw", "penguins", "colour = 'red'")


def test_connections_never_store_the_password(
    raw: DataCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SG_TEST_DB_PASSWORD", "s3cr3t-value")
    raw.create_connection(
        ConnectionInput(
            name="pg",
            jdbc_url="jdbc:postgresql://localhost:5432/shop",
            username="etl",
            password_ref="env:SG_TEST_DB_PASSWORD",
        )
    )
    conn = raw.get_connection("pg")
    assert raw.resolve_password(conn) == "s3cr3t-value"
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    raw.create_connection(
        ConnectionInput(
            name="pg2", jdbc_url="jdbc:postgresql://h/db", password_ref=f"file:{secret}"
        )
    )
    assert raw.resolve_password(raw.get_connection("pg2")) == "from-file"
    assert [c.name for c in raw.list_connections()] == ["pg", "pg2"]
    with raw.store.read() as db:
        dumped = str(db.execute(sa.text("SELECT * FROM catalog_connections")).all())
    assert "s3cr3t-value" not in dumped and "from-file" not in dumped

    monkeypatch.delenv("SG_TEST_DB_PASSWORD")
    with pytest.raises(InvalidInput, match=r"\$SG_TEST_DB_PASSWORD, which is not set"):
        raw.resolve_password(conn)
    raw.delete_connection("pg")
    with pytest.raises(EntityNotFound, match="connection 'pg' not found"):
        raw.get_connection("pg")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"password_ref": "hunter2"}, "must be env:VARIABLE or file:PATH"),
        ({"jdbc_url": "jdbc:postgresql://h/db?password=x"}, "must not contain a password"),
        ({"jdbc_url": "jdbc:postgresql://u:pw@h/db"}, "must not contain a password"),
        ({"parameters": {"PASSWORD": "x"}}, "looks like a password"),
        ({"jdbc_url": "postgresql://h/db"}, "must start with 'jdbc:'"),
    ],
)
def test_connection_inputs_refuse_plaintext_passwords(
    fields: dict[str, object], problem: str
) -> None:
    data: dict[str, object] = {"name": "c", "jdbc_url": "jdbc:postgresql://h/db", **fields}
    with pytest.raises(ValueError, match=problem):
        ConnectionInput.model_validate(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"name": "t", "columns": [{"name": "a", "type": "strng"}]}, "unknown type 'strng'"),
        (
            {"name": "t", "columns": [{"name": "a", "type": "int"}, {"name": "A", "type": "int"}]},
            "appears twice",
        ),
        ({"name": "t", "columns": []}, "at least one column"),
        ({"name": "bad name", "columns": [{"name": "a", "type": "int"}]}, "is not valid"),
        (
            {
                "name": "t",
                "columns": [{"name": "a", "type": "int"}],
                "partition_keys": [{"name": "p", "type": "array<int>"}],
            },
            "must have a primitive type",
        ),
        ({"name": "t", "columns": [{"name": "a", "type": "int"}], "colums": []}, "Extra inputs"),
    ],
)
def test_table_inputs_are_validated(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        TableInput.model_validate(data)


def test_null_and_separator_values_are_distinct_partitions(raw: DataCatalog) -> None:
    keys = [Column(name="a", type="string"), Column(name="b", type="string")]
    raw.create_table("raw", _table(partition_keys=keys))
    values = [["a\x1fb", "c"], ["a", "b\x1fc"], ["x", None], [None, None]]
    raw.create_partitions("raw", "penguins", [PartitionInput(values=v) for v in values])
    got = {tuple(p.values) for p in raw.get_partitions("raw", "penguins")}
    assert got == {tuple(v) for v in values}
    nulls = raw.get_partitions("raw", "penguins", "b IS NULL")
    assert sorted(p.values[0] or "" for p in nulls) == ["", "x"]
    assert raw.get_partition("raw", "penguins", [None, None]).location is not None


def test_partition_values_are_canonical_escaped_and_never_empty(
    raw: DataCatalog, lake: Path
) -> None:
    keys = [Column(name="n", type="int"), Column(name="k", type="string")]
    raw.create_table("raw", _table(partition_keys=keys))
    raw.create_partition("raw", "penguins", PartitionInput(values=["01", "../../x/y"]))
    (part,) = raw.get_partitions("raw", "penguins")
    assert part.values == ["1", "../../x/y"]
    assert part.location == str(lake / "raw" / "penguins" / "n=1" / "k=..%2F..%2Fx%2Fy")
    with pytest.raises(AlreadyExists):
        raw.create_partition("raw", "penguins", PartitionInput(values=["1", "../../x/y"]))
    with pytest.raises(InvalidInput, match="is empty; use null"):
        raw.create_partition("raw", "penguins", PartitionInput(values=["2", ""]))


def test_partition_keys_cannot_change_under_existing_partitions(raw: DataCatalog) -> None:
    keys = [Column(name="year", type="string"), Column(name="site", type="string")]
    raw.create_table("raw", _table(partition_keys=keys), [PartitionInput(values=["1", "a"])])
    with pytest.raises(InvalidInput, match=r"has 1 partition\(s\) under its partition keys"):
        raw.update_table("raw", _table(partition_keys=keys[:1]))
    assert raw.get_table("raw", "penguins").version == 1
    raw.delete_partitions("raw", "penguins", [["1", "a"]])
    assert raw.update_table("raw", _table(partition_keys=keys[:1])).version == 2


def test_concurrent_creators_get_already_exists(raw: DataCatalog) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(_: int) -> str:
        try:
            raw.create_database(DatabaseInput(name="race"))
            return "created"
        except AlreadyExists:
            return "exists"

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = sorted(pool.map(create, range(6)))
    assert results == ["created"] + ["exists"] * 5

    raw.create_table("raw", _table(partition_keys=[Column(name="p", type="string")]))

    def add(i: int) -> int:
        parts = [PartitionInput(values=[str(v)]) for v in range(i, i + 10)]
        return raw.create_partitions("raw", "penguins", parts, if_not_exists=True)

    with ThreadPoolExecutor(max_workers=6) as pool:
        added = sum(pool.map(add, range(0, 30, 5)))
    assert added == 35 == len(raw.get_partitions("raw", "penguins"))


def test_locations_with_pattern_characters_are_refused(raw: DataCatalog) -> None:
    with pytest.raises(InvalidInput, match=r"contains \[ \], which Spark reads as a file pattern"):
        raw.create_table("raw", _table(location="raw/data[1]"))


def test_diff_sees_renames_by_case_and_partition_key_order(raw: DataCatalog) -> None:
    keys = [Column(name="a", type="string"), Column(name="b", type="string")]
    raw.create_table("raw", _table("t", ("Name", "string"), partition_keys=keys))
    raw.update_table("raw", _table("t", ("name", "string"), partition_keys=keys[::-1]))
    described = [c.describe() for c in raw.diff_table_versions("raw", "t", 1, 2).changes]
    assert "+ column name: string" in described and "- column Name: string" in described
    assert "~ partition key order: ['a', 'b'] -> ['b', 'a']" in described


def test_hyphens_are_not_valid_names() -> None:
    with pytest.raises(ValueError, match="use 1-255 lower-case letters, digits or '_'"):
        DatabaseInput(name="my-db")
