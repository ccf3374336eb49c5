from __future__ import annotations

import csv
from pathlib import Path

from sparkglue.datasets import PENGUINS_COLUMNS, penguins_raw_text, write_penguins_raw_bucket


def test_raw_data_is_344_rows_of_17_columns() -> None:
    rows = list(csv.reader(penguins_raw_text().splitlines()))
    assert len(rows) == 345
    assert {len(r) for r in rows} == {PENGUINS_COLUMNS}
    assert rows[0][9] == "Culmen Length (mm)"


def test_bucket_is_partitioned_by_egg_year(tmp_path: Path) -> None:
    bucket = write_penguins_raw_bucket(tmp_path / "penguins")
    assert bucket.rows_per_year == {"2007": 110, "2008": 114, "2009": 120}
    for year, path in bucket.files.items():
        assert path.parent.name == f"year={year}"
        rows = list(csv.reader(path.read_text().splitlines()))
        assert rows[0][0] == "studyName"
        assert all(r[8].startswith(year) for r in rows[1:])
    assert not list(tmp_path.rglob("*.tmp"))


def test_the_bundled_example_table_spec_is_valid() -> None:
    from importlib import resources

    from sparkglue.catalog import load_table_spec

    path = resources.files("sparkglue.datasets").joinpath("penguins_raw.table.yaml")
    spec = load_table_spec(str(path))
    assert (spec.database, spec.name, spec.classification) == ("raw", "penguins", "csv")
    assert len(spec.columns) == PENGUINS_COLUMNS
    assert [k.name for k in spec.partition_keys] == ["year"]
