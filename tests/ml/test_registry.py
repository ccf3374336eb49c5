"""The model registry, batch prediction, run recovery and the ``ml`` commands."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from sparkglue.cli.main import main
from sparkglue.errors import EntityNotFound, InvalidInput
from sparkglue.ml import TrainOptions
from sparkglue.store import schema as s
from sparkglue.store import utc_now
from sparkglue.workspace import Workspace

from .conftest import DEMO_FEATURES, add_table, penguin_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_versions_aliases_compare_and_delete(ml_workspace: Workspace, species_model: Any) -> None:
    ml = ml_workspace.ml
    v2 = ml.train(
        "species",
        TrainOptions(
            table="curated.penguins", label="species", features=DEMO_FEATURES[1:4], max_depth=2
        ),
    )
    assert v2.version == 2 and Path(v2.location).name == "v2"
    assert ml.get_model("species").version == 2  # the latest
    assert ml.get_model("species:1").version == 1
    promoted = ml.promote("species:1", "production")
    assert promoted.aliases == ["production"]
    assert ml.get_model("species@production").version == 1
    ml.promote("species:2", "production")  # moves the alias
    assert ml.get_model("species@production").version == 2
    assert ml.get_model("species:1").aliases == []

    diff = ml.compare("species:1", "species:2")
    depth = next(r for r in diff["params"] if r["name"] == "max_depth")
    assert (depth["a"], depth["b"], depth["delta"], depth["same"]) == (5, 2, -3, False)
    accuracy = next(r for r in diff["metrics"] if r["name"] == "accuracy")
    assert accuracy["a"] == species_model.metadata["metrics"]["accuracy"]
    assert diff["features"]["only_a"] == ["island", "body_mass_g", "sex"]

    with pytest.raises(EntityNotFound, match="model 'species' has no version 9"):
        ml.get_model("species:9")
    with pytest.raises(EntityNotFound, match="no alias 'staging'"):
        ml.get_model("species@staging")
    with pytest.raises(InvalidInput, match="version after ':'"):
        ml.get_model("species:x")

    gone = ml.delete("species:2")
    assert [m.ref for m in gone] == ["species:2"] and not Path(v2.location).exists()
    with pytest.raises(EntityNotFound):
        ml.get_model("species@production")  # the alias went with its version
    assert ml.get_model("species").version == 1
    # The next version never reuses a number whose folder exists.
    assert [m.version for m in ml.list_models("species")] == [1]


def test_batch_prediction_writes_a_catalog_table(
    ml_workspace: Workspace, species_model: Any
) -> None:
    ml = ml_workspace.ml
    run_ = ml.predict("species:1", "curated.penguins", "scores.penguin_species")
    assert run_.state == "SUCCEEDED" and run_.kind == "PREDICT"
    assert run_.metrics["records_written"] == 344 and run_.model_version == 1
    table = ml_workspace.catalog.get_table("scores", "penguin_species")
    types = {c.name: c.type for c in table.columns}
    assert types["prediction"] == "string" and types["probability"] == "double"
    assert types["probabilities"] == "map<string,double>" and types["model_version"] == "int"
    rows = ml_workspace.sql(
        "SELECT count(*) AS n, sum(CASE WHEN prediction = species THEN 1 ELSE 0 END) AS right, "
        "min(probability) AS low FROM scores.penguin_species"
    ).first()
    assert rows is not None and rows["n"] == 344 and rows["right"] / 344 > 0.9
    assert 0.3 < rows["low"] <= 1.0
    files = list(Path(table.location or "").glob("*.parquet"))
    assert files and not list(Path(table.location or "").parent.glob(".*writing"))

    # A second run replaces the output.
    again = ml.predict("species", "curated.penguins", "scores.penguin_species")
    assert again.metrics["records_written"] == 344
    assert ml_workspace.sql("SELECT count(*) AS n FROM scores.penguin_species").first()[0] == 344


def test_prediction_input_errors_name_the_problem(
    ml_workspace: Workspace, species_model: Any
) -> None:
    ml = ml_workspace.ml
    rows = [{k: v for k, v in r.items()} for r in penguin_rows()[:5]]
    add_table(ml_workspace, "few", rows)
    table = ml_workspace.catalog.get_table("curated", "few")
    from sparkglue.catalog import TableInput

    ml_workspace.catalog.update_table(
        "curated",
        TableInput(
            name="few",
            columns=[c for c in table.columns if c.name != "flipper_length_mm"],
            location=table.location,
            parameters=table.parameters,
        ),
    )
    runs_before = len(ml.list_runs())
    with pytest.raises(InvalidInput, match="curated.few has no column 'flipper_length_mm'"):
        ml.predict("species", "curated.few", "scores.few")
    with pytest.raises(InvalidInput, match="is the input table"):
        ml.predict("species", "curated.penguins", "curated.penguins")
    with pytest.raises(EntityNotFound, match="model 'ghost' not found"):
        ml.predict("ghost", "curated.penguins", "scores.ghost")
    assert len(ml.list_runs()) == runs_before
    with pytest.raises(EntityNotFound):
        ml_workspace.catalog.get_table("scores", "few")


def test_a_run_whose_process_died_is_marked_error(ml_workspace: Workspace) -> None:
    with ml_workspace.store.write() as conn:
        conn.execute(
            s.ml_runs.insert().values(
                id="mlr_dead",
                kind="TRAIN",
                model_name="ghost",
                state="RUNNING",
                arguments={},
                started_at=utc_now(),
                metrics={},
                pid=2**22 + os.getpid() % 1000,  # above any pid in use
                host=socket.gethostname(),
            )
        )
    run_ = ml_workspace.ml.get_run("mlr_dead")
    assert run_.state == "ERROR" and "ended without a final state" in (run_.error_message or "")


def test_ml_commands(
    ml_workspace: Workspace, species_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ["-w", str(ml_workspace.path)]
    code, out, _ = run(capsys, *w, "ml", "models", "-o", "json")
    assert code == 0
    listed = json.loads(out)
    assert any(m["models"]["model"] == "species:1" for m in listed)
    code, out, _ = run(capsys, *w, "ml", "show", "species:1")
    assert code == 0 and "accuracy" in out and "Rules:" in out and "tree.svg" in out
    assert "flipper_length_mm <=" in out
    code, out, _ = run(capsys, *w, "ml", "show", "species:1", "-o", "json")
    assert json.loads(out)["metadata"]["format_version"] == 1
    code, _, err = run(capsys, *w, "ml", "show", "nobody")
    assert code == 1
    assert (
        err == "Error: model 'nobody' not found; see `sparkglue ml models` for the trained models\n"
    )
    code, _, err = run(
        capsys,
        *w,
        "ml",
        "train",
        "x",
        "--table",
        "curated.penguins",
        "--label",
        "species",
        "--grid",
        "depth=3",
    )
    assert code == 1 and err.count("\n") == 1 and "--grid parameter 'depth'" in err
    code, out, _ = run(capsys, *w, "ml", "runs", "species", "-o", "json")
    assert code == 0 and json.loads(out)[0]["state"] == "SUCCEEDED"
    run_id = json.loads(out)[-1]["id"]
    code, out, _ = run(capsys, *w, "ml", "logs", run_id)
    assert code == 0 and "Registered species:1" in out
    code, out, _ = run(capsys, *w, "ml", "compare", "species:1", "species:1", "-o", "json")
    assert code == 0 and all(r["same"] for r in json.loads(out)["params"])
