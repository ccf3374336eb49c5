from __future__ import annotations

from pathlib import Path

import pytest

from sparkglue.catalog import load_table_spec, parse_table_spec
from sparkglue.errors import InvalidInput

GOOD = """
database: raw
name: events
classification: json
columns:
  - {name: id, type: bigint}
  - {name: tags, type: array<string>}
partition_keys:
  - {name: day, type: string}
partitions:
  - {values: ["2026-11-01"]}
"""


def test_good_spec(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(GOOD)
    spec = load_table_spec(path)
    assert spec.database == "raw"
    table = spec.table_input()
    assert table.classification == "json"
    assert table.serde_library == "org.openx.data.jsonserde.JsonSerDe"
    assert [p.values for p in spec.partitions] == [["2026-11-01"]]


def test_json_spec_is_read_too() -> None:
    spec = parse_table_spec(
        '{"database": "raw", "name": "t", "columns": [{"name": "a", "type": "int"}]}'
    )
    assert spec.name == "t"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("partition_keys:", "partition_kyes:"), "unknown key 'partition_kyes'"),
        (
            GOOD.replace("type: bigint", "type: bigint, nullable: true"),
            "unknown key 'columns.0.nullable'",
        ),
        (
            GOOD.replace("array<string>", "array<strin>"),
            "columns.1.type: invalid type string 'array<strin>'",
        ),
        (GOOD.replace("database: raw\n", ""), "required key 'database' is missing"),
        ("name: [unclosed", "not valid YAML/JSON at line 1"),
        ("- a\n- b\n", "must hold a mapping"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_table_spec(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_table_spec(tmp_path / "nope.yaml")
