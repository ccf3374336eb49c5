"""Glue's public examples, in the same shape, on generated data of the same shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from awsglue._types import schema_lines
from tests.awsglue.conftest import write_legislators, write_medicare

pytestmark = pytest.mark.spark


def test_medicare_choice_is_shown_and_resolved_four_ways(
    glue_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_medicare(tmp_path / "medicare")
    dyf = glue_context.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(tmp_path / "medicare")]},
        format="csv",
        format_options={"withHeader": True},
    )
    assert dyf.count() == 202
    dyf.printSchema()
    printed = capsys.readouterr().out
    assert "|-- Provider Id: choice\n|    |-- long\n|    |-- string\n" in printed
    assert "|-- Provider Zip Code: long\n" in printed
    assert "|-- Average Covered Charges: string\n" in printed

    cast = dyf.resolveChoice(specs=[("Provider Id", "cast:long")])
    fields = {f.name: f.dataType.simpleString() for f in cast.schema().fields}
    assert fields["Provider Id"] == "bigint"
    assert cast.toDF().where("`Provider Id` IS NULL").count() == 2

    project = dyf.resolveChoice(specs=[("Provider Id", "project:string")]).toDF()
    kept = project.where("`Provider Id` IS NOT NULL").collect()
    assert sorted(r["Provider Id"] for r in kept) == [
        "ten thousand",
        "unknown",
    ]

    cols = dyf.resolveChoice(specs=[("Provider Id", "make_cols")]).toDF()
    assert "Provider Id_long" in cols.columns and "Provider Id_string" in cols.columns
    assert cols.where("`Provider Id_long` IS NOT NULL").count() == 200

    struct = dyf.resolveChoice(specs=[("Provider Id", "make_struct")])
    struct.printSchema()
    assert "|-- Provider Id: struct\n|    |-- long: long\n|    |-- string: string" in (
        capsys.readouterr().out
    )
    everything = dyf.resolveChoice(choice="cast:string").toDF()
    assert dict(everything.dtypes)["Provider Id"] == "string"


def test_data_cleaning_script_with_udf_apply_mapping_and_map(
    glue_context: Any, tmp_path: Path
) -> None:
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import Map

    write_medicare(tmp_path / "medicare")
    medicare_dyf = glue_context.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(tmp_path / "medicare")]},
        format="csv",
        format_options={"withHeader": True},
    )
    medicare_res = medicare_dyf.resolveChoice(specs=[("Provider Id", "cast:long")])
    medicare_df = medicare_res.toDF().where("`Provider Id` is NOT NULL")
    chop_f = udf(lambda x: x[1:], StringType())
    medicare_df = medicare_df.withColumn("ACC", chop_f(medicare_df["Average Covered Charges"]))
    medicare_tmp = DynamicFrame.fromDF(medicare_df, glue_context, "nested")
    medicare_nest = medicare_tmp.apply_mapping(
        [
            ("drg definition", "string", "drg", "string"),
            ("provider id", "long", "provider.id", "long"),
            ("provider name", "string", "provider.name", "string"),
            ("provider zip code", "long", "provider.zip", "long"),
            ("ACC", "string", "charges.covered", "double"),
        ]
    )
    names = [f.name for f in medicare_nest.schema().fields]
    assert names == ["drg", "provider", "charges"]
    first = medicare_nest.toDF().orderBy("provider.id").first()
    assert first is not None
    assert first["provider"]["id"] == 10001 and first["provider"]["zip"] == 36301
    assert first["charges"]["covered"] == pytest.approx(32963.07)
    out = tmp_path / "out" / "medicare_parquet"
    glue_context.write_dynamic_frame.from_options(
        frame=medicare_nest,
        connection_type="s3",
        connection_options={"path": str(out)},
        format="parquet",
    )
    assert glue_context.spark_session.read.parquet(str(out)).count() == 200

    def merge_address(rec: dict[str, Any]) -> dict[str, Any]:
        rec["Address"] = {
            "Street": rec["Provider Street Address"],
            "City": rec["Provider City"],
            "State": rec["Provider State"],
            "Zip": rec["Provider Zip Code"],
        }
        for key in ("Provider Street Address", "Provider City", "Provider State"):
            del rec[key]
        del rec["Provider Zip Code"]
        rec["covered"] = float(rec["Average Covered Charges"][1:])
        if rec["Provider Id"] == "unknown":
            raise ValueError("no provider id")
        return rec

    mapped = Map.apply(frame=medicare_dyf, f=merge_address)
    assert mapped.count() == 201
    assert mapped.errorsCount() == 1 and mapped.stageErrorsCount() == 1
    error = mapped.errorsAsDynamicFrame().toDF().first()
    assert error is not None and "no provider id" in error["error"]
    address = dict((f.name, f) for f in mapped.schema().fields)["Address"]
    assert [f.name for f in address.dataType.fields] == ["City", "State", "Street", "Zip"]
    with pytest.raises(RuntimeError, match="1 error records"):
        mapped.assertErrorThreshold()

    def strict(rec: dict[str, Any]) -> dict[str, Any]:
        rec["id"] = int(rec["Provider Id"])  # fails on both text ids
        return rec

    assert Map.apply(frame=medicare_dyf, f=strict, stageThreshold=2).errorsCount() == 2
    with pytest.raises(RuntimeError, match="2 error records in this transformation exceed"):
        Map.apply(frame=medicare_dyf, f=strict, stageThreshold=1)
    with pytest.raises(RuntimeError, match="2 error records so far exceed totalThreshold 1"):
        mapped.map(strict, totalThreshold=1)  # 1 before + 1 here ("ten thousand")


def test_join_and_relationalize_legislators(glue_context: Any, tmp_path: Path) -> None:
    from awsglue.transforms import Join

    write_legislators(tmp_path / "leg")

    def read(name: str) -> Any:
        return glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [str(tmp_path / "leg" / name)]}, format="json"
        )

    persons, memberships, orgs = read("persons"), read("memberships"), read("organizations")
    assert persons.count() == 10 and memberships.count() == 10 and orgs.count() == 2
    orgs = (
        orgs.drop_fields(["other_names", "identifiers"])
        .rename_field("id", "org_id")
        .rename_field("name", "org_name")
    )
    l_history = Join.apply(
        orgs, Join.apply(persons, memberships, "id", "person_id"), "org_id", "organization_id"
    ).drop_fields(["person_id", "org_id"])
    assert l_history.count() == 10
    history = l_history.toDF()
    assert "person_id" not in history.columns and "org_id" not in history.columns
    senate = history.where("org_name = 'Senate'").count()
    assert senate == 4

    out = tmp_path / "out" / "legislator_history"
    glue_context.write_dynamic_frame.from_options(
        frame=l_history,
        connection_type="s3",
        connection_options={"path": str(out)},
        format="parquet",
    )
    assert glue_context.spark_session.read.parquet(str(out)).count() == 10

    dfc = l_history.relationalize("hist_root", str(tmp_path / "temp"))
    assert sorted(dfc.keys()) == [
        "hist_root",
        "hist_root_contact_details",
        "hist_root_identifiers",
        "hist_root_images",
        "hist_root_links",
        "hist_root_other_names",
    ]
    root = dfc.select("hist_root").toDF()
    contacts = dfc.select("hist_root_contact_details").toDF()
    assert contacts.columns == [
        "id",
        "index",
        "contact_details.val.type",
        "contact_details.val.value",
    ]
    assert contacts.count() == 13  # one twitter handle each, a fax for p3, p6, p9
    joined = root.join(contacts, root["contact_details"] == contacts["id"])
    fax = joined.where("`contact_details.val.type` = 'fax'").select("name").collect()
    assert sorted(r[0] for r in fax) == ["Person 3", "Person 6", "Person 9"]
    assert {r["index"] for r in contacts.collect()} == {0, 1}


def _json_frame(glue_context: Any, tmp_path: Path, text: str) -> Any:
    folder = tmp_path / "json"
    folder.mkdir()
    (folder / "a.json").write_text(text)
    return glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(folder)]}, format="json"
    )


def test_json_field_with_two_types_is_a_choice(
    glue_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dyf = _json_frame(
        glue_context,
        tmp_path,
        '{"sku": "a", "price": 12}\n{"sku": "b", "price": "n/a"}\n{"sku": "c", "price": 7}\n'
        "not json\n",
    )
    dyf.printSchema()
    assert "|-- price: choice\n|    |-- long\n|    |-- string\n" in capsys.readouterr().out
    assert dyf.errorsCount() == 1  # the malformed line
    prices = dyf.resolveChoice(specs=[("price", "project:long")]).toDF()
    assert sorted((r["sku"], r["price"]) for r in prices.collect()) == [
        ("a", 12),
        ("b", None),
        ("c", 7),
    ]


def test_a_choice_inside_a_struct_is_shown_and_resolved(
    glue_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dyf = _json_frame(
        glue_context,
        tmp_path,
        '{"id": 1, "item": {"sku": "a", "price": 12, "meta": {"size": "L"}}}\n'
        '{"id": 2, "item": {"sku": "b", "price": "n/a", "meta": {"size": 42}}}\n'
        '{"id": 3, "item": null}\n'
        '{"id": 4, "item": {"sku": "d", "price": 7.5}}\n',
    )
    dyf.printSchema()
    shown = capsys.readouterr().out
    assert (
        "|-- item: struct\n"
        "|    |-- meta: struct\n"
        "|    |    |-- size: choice\n"
        "|    |    |    |-- long\n"
        "|    |    |    |-- string\n"
        "|    |-- price: choice\n"
        "|    |    |-- double\n"
        "|    |    |-- string\n"
        "|    |-- sku: string\n"
    ) in shown
    dyf.show()
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_id = {r["id"]: r for r in records}
    assert by_id[2]["item"]["price"] == "n/a" and by_id[2]["item"]["meta"]["size"] == 42
    assert by_id[3]["item"] is None

    def rows(frame: Any, *columns: str) -> list[tuple[Any, ...]]:
        df = frame.toDF()
        return sorted(tuple(r) for r in df.select("id", *columns).collect())

    cast = dyf.resolveChoice(specs=[("item.price", "cast:double")]).toDF()
    assert sorted((r.id, r.item and r.item.price) for r in cast.collect()) == [
        (1, 12.0),
        (2, None),
        (3, None),
        (4, 7.5),
    ]
    projected = dyf.resolveChoice(specs=[("item.meta.size", "project:string")])
    sizes = projected.toDF().select("id", "item.meta.size").collect()
    assert sorted((r.id, r.size) for r in sizes) == [(1, "L"), (2, None), (3, None), (4, None)]
    assert "size: string" in "\n".join(schema_lines(projected.schema()))

    columns = dyf.resolveChoice(specs=[("item.price", "make_cols")])
    item_fields = columns.schema()["item"].dataType.names
    assert item_fields == ["meta", "price_double", "price_string", "sku"]
    split = columns.toDF().select("id", "item.price_double", "item.price_string").collect()
    assert sorted(tuple(r) for r in split) == [
        (1, 12.0, None),
        (2, None, "n/a"),
        (3, None, None),
        (4, 7.5, None),
    ]
    # The sibling choice inside item is still a choice after make_cols rebuilt item.
    assert "|    |    |-- size: choice" in "\n".join(schema_lines(columns.schema()))

    struct = dyf.resolveChoice(specs=[("item.price", "make_struct")]).toDF()
    assert struct.schema["item"].dataType["price"].dataType.names == ["double", "string"]

    everything = dyf.resolveChoice(choice="cast:string").toDF()
    assert sorted(
        (r.id, r.item and r.item.price, r.item and r.item.meta and r.item.meta.size)
        for r in everything.collect()
    ) == [(1, "12.0", "L"), (2, "n/a", "42"), (3, None, None), (4, "7.5", None)]

    mapped = dyf.apply_mapping(
        [("id", "long", "id", "long"), ("item.price", "double", "p", "double")]
    )
    assert rows(mapped, "p") == [(1, 12.0), (2, None), (3, None), (4, 7.5)]

    with pytest.raises(ValueError, match="field 'item.nope' is not in the frame"):
        dyf.resolveChoice(specs=[("item.nope", "cast:long")])
