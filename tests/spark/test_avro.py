"""Avro files written by Spark tasks with fastavro: every type, Spark's partition layout, the
write modes, and nothing left behind by a bad or failed write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sparkglue.errors import InvalidInput, SparkError
from sparkglue.spark.avro import avro_schema, write_avro

pytestmark = pytest.mark.spark

SCHEMA = (
    "id bigint, small int, ratio double, f float, name string, ok boolean, day date, "
    "at timestamp, amount decimal(12,2), raw binary, tags array<int>, attrs map<string,int>, "
    "point struct<x:int,label:string>, country string"
)


def _rows() -> list[tuple[Any, ...]]:
    return [
        (
            1,
            7,
            0.5,
            1.5,
            "ana",
            True,
            dt.date(2024, 1, 31),
            dt.datetime(2024, 1, 31, 12, 30, 1, 250000, tzinfo=dt.UTC),
            Decimal("1234.50"),
            b"\x00\x01",
            [1, 2],
            {"a": 1},
            (3, "p"),
            "a/b",
        ),
        (2, None, None, None, None, None, None, None, None, None, None, None, None, None),
        (3, -1, -2.25, 0.0, "ümlaut", False, dt.date(1970, 1, 1), None, Decimal("-0.01"),
         b"", [], {}, (None, None), "DE"),
    ]  # fmt: skip


def _read(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    import fastavro

    found = []
    for path in sorted(folder.rglob("*.avro")):
        with path.open("rb") as fh:
            found += [(str(path.parent.relative_to(folder)), r) for r in fastavro.reader(fh)]
    return found


def test_every_type_round_trips_in_sparks_layout(spark_session: Any, tmp_path: Path) -> None:
    df = spark_session.createDataFrame(_rows(), SCHEMA)
    target = tmp_path / "out"
    assert write_avro(df, target, partition_by=["country"]) == 3
    assert (target / "_SUCCESS").is_file()
    assert not (target / "_temporary").exists()
    folders = sorted(p.name for p in target.iterdir() if p.is_dir())
    assert folders == ["country=DE", "country=__HIVE_DEFAULT_PARTITION__", "country=a%2Fb"]

    records = {r["id"]: (folder, r) for folder, r in _read(target)}
    folder, first = records[1]
    assert folder == "country=a%2Fb"
    assert "country" not in first  # a partition column lives in the folder name
    assert first["small"] == 7 and first["ratio"] == 0.5 and first["f"] == 1.5
    assert first["name"] == "ana" and first["ok"] is True
    assert first["day"] == dt.date(2024, 1, 31)
    assert first["at"] == dt.datetime(2024, 1, 31, 12, 30, 1, 250000, tzinfo=dt.UTC)
    assert first["amount"] == Decimal("1234.50")
    assert first["raw"] == b"\x00\x01"
    assert first["tags"] == [1, 2] and first["attrs"] == {"a": 1}
    assert first["point"] == {"x": 3, "label": "p"}
    assert records[2][0] == "country=__HIVE_DEFAULT_PARTITION__"
    assert all(v is None for k, v in records[2][1].items() if k != "id")
    assert records[3][1]["name"] == "ümlaut" and records[3][1]["amount"] == Decimal("-0.01")
    assert records[3][1]["point"] == {"x": None, "label": None}


def test_schema_is_what_spark_avro_writes(spark_session: Any) -> None:
    df = spark_session.createDataFrame([], "id bigint not null, p struct<q:struct<r:int>>")
    schema = avro_schema(df.schema)
    assert schema["name"] == "topLevelRecord"
    assert schema["fields"][0] == {"name": "id", "type": "long"}
    outer = schema["fields"][1]["type"][0]
    assert outer["name"] == "p" and outer["namespace"] == "topLevelRecord"
    inner = outer["fields"][0]["type"][0]
    assert inner["name"] == "q" and inner["namespace"] == "topLevelRecord.p"


def test_modes(spark_session: Any, tmp_path: Path) -> None:
    target = tmp_path / "out"
    one = spark_session.createDataFrame([(1, "a")], "id int, s string")
    two = spark_session.createDataFrame([(2, "b"), (3, "c")], "id int, s string")
    write_avro(one, target)
    with pytest.raises(InvalidInput, match="already has files"):
        write_avro(two, target)
    assert sorted(r["id"] for _, r in _read(target)) == [1]
    assert write_avro(two, target, mode="ignore") == 0
    write_avro(two, target, mode="append")
    assert sorted(r["id"] for _, r in _read(target)) == [1, 2, 3]
    write_avro(two, target, mode="overwrite", compression="deflate")
    assert sorted(r["id"] for _, r in _read(target)) == [2, 3]
    assert all(".deflate." in p.name for p in target.rglob("*.avro"))


@pytest.mark.parametrize(
    ("schema", "options", "message"),
    [
        ("id int", {"mode": "upsert"}, "write mode 'upsert' is not one of"),
        ("id int", {"compression": "lzo"}, "Avro compression 'lzo' is not one of"),
        ("id int", {"partition_by": ["nope"]}, "partition column 'nope' is not a column"),
        ("id int", {"partition_by": ["id"]}, "every column is a partition column"),
        ("m map<int,string>", {}, "Avro maps have string keys; column 'm'"),
        ("`bad name` int", {}, "column 'bad name' is not a valid Avro field name"),
        ("i interval day to second", {}, "column 'i' is interval day to second"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    spark_session: Any, tmp_path: Path, schema: str, options: dict[str, Any], message: str
) -> None:
    df = spark_session.createDataFrame([], schema)
    target = tmp_path / "out"
    with pytest.raises(InvalidInput, match=message) as caught:
        write_avro(df, target, **options)
    assert "\n" not in str(caught.value)
    assert not target.exists()


def test_a_failed_task_leaves_the_target_as_it_was(spark_session: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    target = tmp_path / "out"
    write_avro(spark_session.createDataFrame([(1,)], "id int"), target)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    bad = spark_session.range(10).select(
        F.when(F.col("id") < 8, F.col("id")).otherwise(F.raise_error(F.lit("no row 8"))).alias("id")
    )
    with pytest.raises(SparkError, match="writing Avro to .* failed") as caught:
        write_avro(bad, target, mode="overwrite")
    assert "\n" not in str(caught.value)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert [r["id"] for _, r in _read(target)] == [1]
