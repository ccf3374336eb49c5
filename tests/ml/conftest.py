"""A workspace with the penguins as a Parquet catalog table, missing values kept, and one
classification model trained on it (shared by the module's tests: training takes seconds)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkglue.catalog import Column, DatabaseInput, TableInput
from sparkglue.datasets import penguins_raw_text
from sparkglue.ml import TrainOptions
from sparkglue.workspace import Workspace

DEMO_FEATURES = [
    "island",
    "culmen_length_mm",
    "culmen_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
]


def _number(text: str) -> float | None:
    return None if text in ("", "NA") else float(text)


def penguin_rows() -> list[dict[str, Any]]:
    """The bundled penguins with typed columns; 'NA' stays missing (null)."""
    rows = []
    for r in csv.DictReader(penguins_raw_text().splitlines()):
        flipper = _number(r["Flipper Length (mm)"])
        mass = _number(r["Body Mass (g)"])
        rows.append(
            {
                "species": r["Species"].split(" ")[0],
                "island": r["Island"],
                "culmen_length_mm": _number(r["Culmen Length (mm)"]),
                "culmen_depth_mm": _number(r["Culmen Depth (mm)"]),
                "flipper_length_mm": None if flipper is None else int(flipper),
                "body_mass_g": None if mass is None else int(mass),
                "sex": r["Sex"].lower() if r["Sex"] in ("MALE", "FEMALE") else None,
                "clutch_completion": r["Clutch Completion"] == "Yes",
                "individual_id": r["Individual ID"],
                "year": int(r["Date Egg"][:4]),
            }
        )
    return rows


COLUMNS = [
    ("species", "string", pa.string()),
    ("island", "string", pa.string()),
    ("culmen_length_mm", "double", pa.float64()),
    ("culmen_depth_mm", "double", pa.float64()),
    ("flipper_length_mm", "int", pa.int32()),
    ("body_mass_g", "int", pa.int32()),
    ("sex", "string", pa.string()),
    ("clutch_completion", "boolean", pa.bool_()),
    ("individual_id", "string", pa.string()),
    ("year", "int", pa.int32()),
]


def add_table(
    ws: Workspace,
    name: str,
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str, Any]] = COLUMNS,
) -> str:
    """``rows`` as a Parquet table ``curated.NAME`` of ``columns`` (name, Hive type, Arrow type)."""
    folder = ws.settings.lake_root / "curated" / name
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(n, t) for n, _, t in columns])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-0.parquet")
    if not any(d.name == "curated" for d in ws.catalog.list_databases()):
        ws.catalog.create_database(DatabaseInput(name="curated"))
    ws.catalog.create_table(
        "curated",
        TableInput(
            name=name,
            columns=[Column(name=n, type=t) for n, t, _ in columns],
            location=str(folder),
            parameters={"classification": "parquet"},
        ),
    )
    return f"curated.{name}"


@pytest.fixture(scope="module")
def ml_workspace(
    tmp_path_factory: pytest.TempPathFactory, spark_session: Any
) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("mlws") / "ws")
    assert ws.spark() is spark_session
    add_table(ws, "penguins", penguin_rows())
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def species_model(ml_workspace: Workspace) -> Any:
    return ml_workspace.ml.train(
        "species",
        TrainOptions(table="curated.penguins", label="species", features=DEMO_FEATURES),
    )
