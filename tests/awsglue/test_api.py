"""The awsglue API surface: arguments, options that are not supported, the catalog, and the
DynamicFrame transforms beyond Glue's examples."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from awsglue._options import UnsupportedOption
from awsglue.utils import GlueArgumentError, getResolvedOptions


def test_get_resolved_options() -> None:
    argv = [
        "job.py",
        "--JOB_NAME",
        "nightly",
        "--day",
        "2026-11-23",
        "--JOB_RUN_ID",
        "r1",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--other",
        "x",
    ]
    assert getResolvedOptions(argv, ["JOB_NAME", "day"]) == {
        "JOB_NAME": "nightly",
        "day": "2026-11-23",
    }
    assert getResolvedOptions(argv, ["job-bookmark-option"]) == {
        "job-bookmark-option": "job-bookmark-enable"
    }
    assert getResolvedOptions(["job.py"], ["job-bookmark-option"]) == {
        "job-bookmark-option": "job-bookmark-disable"
    }
    with pytest.raises(GlueArgumentError, match="--region"):
        getResolvedOptions(argv, ["JOB_NAME", "region"])
    with pytest.raises(GlueArgumentError, match="--da"):
        getResolvedOptions(["job.py", "--day", "x"], ["da"])  # no abbreviations


pytestmark_spark = pytest.mark.spark


@pytest.mark.spark
def test_unsupported_and_unknown_options_are_named(glue_context: Any, tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"a": 1}\n')
    read = glue_context.create_dynamic_frame.from_options
    with pytest.raises(UnsupportedOption, match="option 'boundedSize'"):
        read("s3", {"paths": [str(tmp_path)], "boundedSize": "100"}, format="json")
    with pytest.raises(UnsupportedOption, match="format 'ion'"):
        read("s3", {"paths": [str(tmp_path)]}, format="ion")
    with pytest.raises(UnsupportedOption, match="connection_type 'dynamodb'"):
        read("dynamodb", {"dynamodb.input.tableName": "t"})
    with pytest.raises(ValueError, match="unknown option 'pathz'"):
        read("s3", {"pathz": [str(tmp_path)]}, format="json")
    with pytest.raises(UnsupportedOption, match="option 'withSchema'"):
        read("s3", {"paths": [str(tmp_path)]}, format="json", format_options={"withSchema": "{}"})
    with pytest.raises(UnsupportedOption, match="option 'catalog_id'"):
        glue_context.create_dynamic_frame.from_catalog(
            database="d", table_name="t", catalog_id="123"
        )
    frame = read(
        "s3",
        {"paths": [str(tmp_path)], "groupFiles": "inPartition"},
        format="json",
        format_options={"optimizePerformance": True},
    )
    assert frame.count() == 1  # hints that only tune Glue's engine are accepted
    with pytest.raises(UnsupportedOption, match="option 'version'"):
        glue_context.write_dynamic_frame.from_options(
            frame=frame,
            connection_type="s3",
            connection_options={"path": str(tmp_path / "o")},
            format="avro",
            format_options={"version": "1.7"},
        )
    assert not (tmp_path / "o").exists()


@pytest.mark.spark
def test_avro_written_by_a_sink_reads_back(glue_context: Any, tmp_path: Path) -> None:
    from awsglue.dynamicframe import DynamicFrame

    spark = glue_context.spark_session
    df = spark.createDataFrame(
        [(1, "ann", 2.5, "DE"), (2, "bob", None, "FR"), (3, "cy", 1.0, "DE")],
        "id bigint, name string, score double, country string",
    )
    frame = DynamicFrame.fromDF(df, glue_context, "people")
    for _ in range(2):  # Glue's S3 sink appends
        glue_context.write_dynamic_frame.from_options(
            frame=frame,
            connection_type="s3",
            connection_options={
                "path": str(tmp_path / "out"),
                "partitionKeys": ["country"],
                "compression": "deflate",
            },
            format="avro",
        )
    written = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.avro"))
    assert {str(p.parent) for p in written} == {"country=DE", "country=FR"}
    assert all(".deflate." in p.name for p in written) and len(written) >= 4
    back = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "out")]}, format="avro"
    ).toDF()
    got = sorted((r.id, r.name, r.score, r.country) for r in back.collect())
    assert got == sorted(2 * [(1, "ann", 2.5, "DE"), (2, "bob", None, "FR"), (3, "cy", 1.0, "DE")])


@pytest.mark.spark
def test_frame_transforms(glue_context: Any, tmp_path: Path) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import (
        DropNullFields,
        SelectFromCollection,
        SplitFields,
        SplitRows,
        Unbox,
        UnnestFrame,
    )

    spark = glue_context.spark_session
    df = spark.createDataFrame(
        [(1, "ann", 30, '{"x": 1, "y": "a"}', None), (2, "bob", 12, '{"x": 2, "y": "b"}', None)],
        "id long, name string, age long, payload string, empty string",
    )
    frame = DynamicFrame.fromDF(df, glue_context, "people")
    assert "empty" not in DropNullFields.apply(frame=frame).toDF().columns
    parts = SplitFields.apply(frame=frame, paths=["id", "name"], name1="keys", name2="rest")
    assert SelectFromCollection.apply(dfc=parts, key="keys").toDF().columns == ["id", "name"]
    assert "id" not in parts["rest"].toDF().columns
    rows = SplitRows.apply(
        frame=frame, comparison_dict={"age": {">": 18}}, name1="adults", name2="minors"
    )
    assert [r["name"] for r in rows.select("adults").toDF().collect()] == ["ann"]
    assert [r["name"] for r in rows.select("minors").toDF().collect()] == ["bob"]
    unboxed = Unbox.apply(frame=frame, path="payload", format="json")
    renamed = unboxed.rename_field("payload.x", "payload.z").toDF()
    assert sorted(r["payload"]["z"] for r in renamed.collect()) == [1, 2]
    assert "x" not in renamed.schema["payload"].dataType.names
    flat = UnnestFrame.apply(frame=unboxed).toDF()
    assert {"payload.x", "payload.y"} <= set(flat.columns)
    assert sorted(r["payload.y"] for r in flat.collect()) == ["a", "b"]

    stage = DynamicFrame.fromDF(
        spark.createDataFrame([(2, "bobby", 13), (3, "cy", 40)], "id long, name string, age long"),
        glue_context,
        "stage",
    )
    merged = frame.select_fields(["id", "name", "age"]).mergeDynamicFrame(stage, ["id"]).toDF()
    assert sorted((r["id"], r["name"]) for r in merged.collect()) == [
        (1, "ann"),
        (2, "bobby"),
        (3, "cy"),
    ]
    both = frame.select_fields(["id"]).union(stage.select_fields(["id", "age"])).toDF()
    assert both.count() == 4 and both.columns == ["id", "age"]
    assert frame.repartition(3).getNumPartitions() == 3
    assert frame.coalesce(1).getNumPartitions() == 1
    frame.spigot(str(tmp_path / "sample"), options={"topk": 1})
    sample = [
        json.loads(line)
        for p in (tmp_path / "sample").glob("*.json")
        for line in p.read_text().splitlines()
    ]
    assert len(sample) == 1
    described = SplitRows.describe()["transform"]
    assert described["name"] == "SplitRows"
    assert "stageThreshold" in [a["name"] for a in described["args"]]


@pytest.mark.spark
def test_catalog_reads_writes_predicates_and_purge(
    glue_context: Any, spark_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkglue.catalog import Column, DatabaseInput, PartitionInput, TableInput

    monkeypatch.setenv("SPARKGLUE_WORKSPACE", str(spark_workspace.path))
    lake = spark_workspace.settings.lake_root
    for day in ("01", "02", "03"):
        folder = lake / "sales" / f"day={day}"
        folder.mkdir(parents=True)
        (folder / "part.csv").write_text(f"sku,qty\na,{day}\nb,x{day}\n")
    catalog = spark_workspace.catalog
    catalog.create_database(DatabaseInput(name="shop"))
    catalog.create_table(
        "shop",
        TableInput(
            name="sales",
            columns=[Column(name="sku", type="string"), Column(name="qty", type="bigint")],
            partition_keys=[Column(name="day", type="int")],
            location=str(lake / "sales"),
            parameters={"classification": "csv", "delimiter": ",", "skip.header.line.count": "1"},
        ),
    )
    catalog.create_partitions(
        "shop",
        "sales",
        [
            PartitionInput(values=[d], location=str(lake / "sales" / f"day={d}"))
            for d in ("01", "02", "03")
        ],
    )
    read = glue_context.create_dynamic_frame.from_catalog
    frame = read(database="shop", table_name="sales")
    assert frame.count() == 6
    assert "|-- qty: choice" in "\n".join(
        __import__("awsglue._types", fromlist=["x"]).schema_lines(frame.schema())
    )
    moved = frame.rename_field("day", "meta.day").toDF()  # a typed field into a struct
    assert dict(moved.dtypes)["meta"] == "struct<day:int>"
    assert dict(moved.dtypes)["qty"].startswith("struct<long:bigint,string:string>")
    late = read(database="shop", table_name="sales", push_down_predicate="day >= 2")
    assert sorted({r["day"] for r in late.toDF().collect()}) == [2, 3]
    matched = frame.resolveChoice(choice="match_catalog", database="shop", table_name="sales")
    assert dict(matched.toDF().dtypes)["qty"] == "bigint"
    assert matched.toDF().where("qty IS NULL").count() == 3
    schema = glue_context.get_catalog_schema_as_spark_schema("shop", "sales")
    assert [f.name for f in schema.fields] == ["sku", "qty", "day"]

    spark = glue_context.spark_session
    new_rows = spark.createDataFrame([("c", 9, 4)], "sku string, qty long, day int")
    glue_context.write_data_frame.from_catalog(frame=new_rows, database="shop", table_name="sales")
    assert (lake / "sales" / "day=4").is_dir()
    assert [p.values for p in catalog.get_partitions("shop", "sales")][-1] == ["4"]
    assert read(database="shop", table_name="sales").count() == 7

    old = lake / "sales" / "day=01" / "part.csv"
    past = time.time() - 10 * 24 * 3600
    os.utime(old, (past, past))
    glue_context.purge_table("shop", "sales", options={"retentionPeriod": 24})
    assert not old.exists() and (lake / "sales" / "day=02" / "part.csv").exists()
    with pytest.raises(ValueError, match="push_down_predicate 'nope > 1'"):
        read(database="shop", table_name="sales", push_down_predicate="nope > 1")
