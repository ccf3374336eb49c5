"""Glue's public examples, in the same shape, on generated data of the same shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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


def test_json_field_with_two_types_is_a_choice(
    glue_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    (folder / "a.json").write_text(
        '{"sku": "a", "price": 12}\n{"sku": "b", "price": "n/a"}\n{"sku": "c", "price": 7}\n'
        "not json\n"
    )
    dyf = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(folder)]}, format="json"
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
