"""Training, evaluation and the compiled predictor against Spark, on the penguins."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from sparkglue.errors import EntityNotFound, InvalidInput
from sparkglue.ml import ModelFormatError, Predictor, TrainOptions, load_predictor
from sparkglue.ml.training import split_rows
from sparkglue.workspace import Workspace

from .conftest import DEMO_FEATURES

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _test_rows(ws: Workspace, model: Any) -> Any:
    """The model's test split, found again from the source as training split it."""
    from pyspark.sql import functions as F

    meta = model.metadata
    params = meta["params"]
    options = TrainOptions(
        table=meta["training"]["table"],
        label=meta["label"]["name"],
        seed=params["seed"],
        test_fraction=params["test_fraction"],
    )
    source = ws.spark().table(meta["training"]["table"])
    label = F.col(meta["label"]["name"])
    kept = source.filter(label.isNotNull())
    if model.task == "regression":
        kept = source.filter(label.isNotNull() & ~F.isnan(label.cast("double")))
    return split_rows(kept, options, test=True)


def _compare_with_spark(ws: Workspace, model: Any, frame: Any) -> int:
    """Every row of ``frame``: the compiled predictor and Spark's transform agree."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    predictor = Predictor.load(model.location)
    names = [f.name for f in predictor.features]
    pipeline = PipelineModel.load(str(Path(model.location) / "pipeline"))
    extra = [F.col("prediction")]
    if model.task == "classification":
        extra.append(vector_to_array(F.col("probability")).alias("probs"))
    rows = pipeline.transform(frame).select(*names, *extra).collect()
    assert rows
    records = [{n: r[n] for n in names} for r in rows]
    batch = predictor.predict(records)
    for r, record, answer in zip(rows, records, batch, strict=True):
        one = predictor.predict_one(record)
        if model.task == "classification":
            expected = predictor.classes[int(r["prediction"])]
            assert answer["prediction"] == one["prediction"] == expected, record
            probs = list(answer["probabilities"].values())
            assert len(probs) == len(r["probs"])
            assert all(abs(a - b) <= 1e-9 for a, b in zip(probs, r["probs"], strict=True))
            assert one["probabilities"] == answer["probabilities"]
        else:
            assert abs(answer["prediction"] - r["prediction"]) <= 1e-9
            assert one["prediction"] == answer["prediction"]
    return len(rows)


def test_classification_compiled_predictor_agrees_with_spark(
    ml_workspace: Workspace, species_model: Any
) -> None:
    test = _test_rows(ml_workspace, species_model)
    # The test split has missing numbers (imputed) and missing sex (the unseen category).
    missing = test.filter("culmen_length_mm IS NULL OR sex IS NULL").count()
    assert missing > 0
    compared = _compare_with_spark(ml_workspace, species_model, test)
    assert compared == species_model.metadata["training"]["test_rows"]
    assert species_model.metadata["training"]["compiled_check"] == compared

    # Values never seen in training, nulls and NaN take the same path in both.
    spark = ml_workspace.spark()
    odd = spark.createDataFrame(
        [
            ("Atlantis", 45.0, None, 210, None, "unknown"),
            (None, None, 15.0, None, 5000, None),
            ("Dream", float("nan"), 18.0, 190, 3500, "female"),
        ],
        "island string, culmen_length_mm double, culmen_depth_mm double, "
        "flipper_length_mm int, body_mass_g int, sex string",
    )
    assert _compare_with_spark(ml_workspace, species_model, odd) == 3


def test_regression_compiled_predictor_agrees_with_spark(ml_workspace: Workspace) -> None:
    model = ml_workspace.ml.train(
        "mass",
        TrainOptions(
            table="curated.penguins",
            label="body_mass_g",
            task="regression",
            features=[
                "species",
                "island",
                "flipper_length_mm",
                "culmen_depth_mm",
                "sex",
                "clutch_completion",
            ],
            max_depth=6,
        ),
    )
    assert model.task == "regression"
    metrics = model.metadata["metrics"]
    assert metrics["r2"] > 0.7 and 0 < metrics["mae"] < metrics["rmse"] < 500
    compared = _compare_with_spark(ml_workspace, model, _test_rows(ml_workspace, model))
    assert compared == metrics["test_rows"]
    assert {f["kind"] for f in model.metadata["features"]} == {
        "categorical",
        "numeric",
        "boolean",
    }


def test_demo_tree_is_accurate_and_close_to_scikit_learn(
    ml_workspace: Workspace, species_model: Any
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    accuracy = species_model.metadata["metrics"]["accuracy"]
    assert accuracy >= 0.93, accuracy
    # scikit-learn on the same rows, the same encoding (ordinal categories, the same
    # imputation) and the same depth.
    predictor = Predictor.load(species_model.location)
    names = [f.name for f in predictor.features]
    from pyspark.sql import functions as F

    source = ml_workspace.spark().table("curated.penguins").filter(F.col("species").isNotNull())
    options = TrainOptions(table="curated.penguins", label="species", seed=42)
    splits = {}
    for test in (False, True):
        rows = split_rows(source, options, test=test).collect()
        splits[test] = (
            predictor.matrix([{n: r[n] for n in names} for r in rows]),
            [r["species"] for r in rows],
        )
    assert len(splits[False][1]) == species_model.metadata["training"]["train_rows"]
    sk = DecisionTreeClassifier(max_depth=5, random_state=42).fit(*splits[False])
    x_test, y_test = splits[True]
    sk_accuracy = sum(p == y for p, y in zip(sk.predict(x_test), y_test, strict=True)) / len(y_test)
    assert abs(sk_accuracy - accuracy) <= 0.03, (accuracy, sk_accuracy)


def test_metrics_rules_pictures_and_lineage(ml_workspace: Workspace, species_model: Any) -> None:
    meta = species_model.metadata
    m = meta["metrics"]
    cm = m["confusion_matrix"]
    assert cm["labels"] == ["Adelie", "Gentoo", "Chinstrap"]
    assert sum(map(sum, cm["matrix"])) == m["test_rows"] == meta["training"]["test_rows"]
    assert math.isclose(m["accuracy"], sum(cm["matrix"][i][i] for i in range(3)) / m["test_rows"])
    assert set(m["per_class"]) == set(cm["labels"])
    assert 0 < m["weighted_f1"] <= 1
    assert "area_under_roc" not in m  # three classes
    assert meta["training"]["rows"] == 344 and meta["training"]["table_version"] == 1
    assert meta["training"]["train_rows"] + m["test_rows"] == 344
    assert meta["spark_version"].startswith("4.") and meta["sparkglue_version"]
    assert set(meta["feature_importances"]) == set(DEMO_FEATURES)
    assert math.isclose(sum(meta["feature_importances"].values()), 1.0)
    folder = Path(species_model.location)
    assert folder == ml_workspace.settings.lake_root / "models" / "species" / "v1"
    rules = (folder / "rules.txt").read_text()
    assert "flipper_length_mm <= " in rules and "feature " not in rules
    assert "island in {" in rules or "island not in {" in rules
    for picture in ("confusion_matrix.png", "feature_importances.png"):
        assert (folder / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (folder / "tree.svg").read_text()
    on_disk = json.loads((folder / "model.json").read_text())
    assert on_disk["format_version"] == 1 and on_disk["version"] == 1
    runs = ml_workspace.ml.list_runs("species")
    assert [r.state for r in runs] == ["SUCCEEDED"] and runs[0].kind == "TRAIN"
    assert runs[0].model_version == 1 and runs[0].metrics["ExecutionTime"] > 0
    assert "Registered species:1" in Path(runs[0].log_path or "").read_text()


def test_binary_label_gets_area_under_roc(ml_workspace: Workspace) -> None:
    model = ml_workspace.ml.train(
        "sex",
        TrainOptions(
            table="curated.penguins",
            label="sex",
            features=["species", "body_mass_g", "culmen_depth_mm", "culmen_length_mm"],
            max_depth=4,
        ),
    )
    m = model.metadata["metrics"]
    assert 0.5 < m["area_under_roc"] <= 1.0
    from pyspark.ml import PipelineModel
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql import functions as F

    # The same area as MLlib's evaluator on the same rows.
    pipeline = PipelineModel.load(str(Path(model.location) / "pipeline"))
    scored = pipeline.transform(_test_rows(ml_workspace, model))
    positive = model.metadata["classes"][1]
    to_vec = F.udf(lambda p: Vectors.dense([1 - p, p]), VectorUDT())
    data = scored.select(
        (F.col("sex") == positive).cast("double").alias("label"),
        to_vec(vector_to_array("probability")[1]).alias("raw"),
    )
    expected = BinaryClassificationEvaluator(rawPredictionCol="raw").evaluate(data)
    assert m["area_under_roc"] == pytest.approx(expected, abs=1e-9)


def test_cross_validation_searches_the_grid(ml_workspace: Workspace) -> None:
    model = ml_workspace.ml.train(
        "species_cv",
        TrainOptions(
            table="curated.penguins",
            label="species",
            features=DEMO_FEATURES,
            cv_folds=3,
            grid={"max_depth": [1, 4]},
        ),
    )
    tuning = model.metadata["tuning"]
    assert [t["params"]["maxDepth"] for t in tuning] == [1, 4]
    assert tuning[1]["accuracy"] > tuning[0]["accuracy"]
    assert model.metadata["params"]["max_depth"] == 4  # the best one was refitted


def test_features_all_leaves_out_what_a_tree_cannot_use(ml_workspace: Workspace) -> None:
    from sparkglue.console import Console

    warnings: list[str] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return getattr(ml_workspace.console, name)

        def warning(self, text: str) -> None:
            warnings.append(text)

    recorder: Console = Recorder()  # type: ignore[assignment]
    ml_workspace.ml.console = recorder
    try:
        model = ml_workspace.ml.train(
            "species_all", TrainOptions(table="curated.penguins", label="species", max_depth=3)
        )
    finally:
        ml_workspace.ml.console = ml_workspace.console
    names = [f["name"] for f in model.metadata["features"]]
    assert "individual_id" not in names and "year" in names and "clutch_completion" in names
    assert any("individual_id" in w and "categories" in w for w in warnings), warnings
    left_out = {x["column"] for x in model.metadata["left_out"]}
    assert left_out == {"individual_id"}

    # Asked for by name, a high-cardinality string is used, with maxBins raised to fit it.
    asked = ml_workspace.ml.train(
        "species_ids",
        TrainOptions(
            table="curated.penguins",
            label="species",
            features=["individual_id", "flipper_length_mm"],
            max_depth=2,
        ),
    )
    assert asked.metadata["params"]["max_bins"] > 190


def test_bad_training_input_is_one_line_and_writes_nothing(ml_workspace: Workspace) -> None:
    ml = ml_workspace.ml
    before = {m.ref for m in ml.list_models()}
    runs_before = len(ml.list_runs())
    cases = [
        (TrainOptions(table="curated.penguins", label="nope"), "label 'nope' is not a column"),
        (
            TrainOptions(table="curated.penguins", label="species", features=["wings"]),
            "feature 'wings' is not a column",
        ),
        (
            TrainOptions(table="curated.penguins", label="species", features=["species"]),
            "cannot also be a feature",
        ),
        (TrainOptions(table="curated.penguins", label="species", max_depth=31), "--max-depth"),
        (
            TrainOptions(table="curated.penguins", label="species", test_fraction=1.0),
            "--test-fraction",
        ),
        (
            TrainOptions(table="curated.penguins", label="island", task="regression"),
            "regression needs a numeric label",
        ),
        (
            TrainOptions(table="curated.penguins", label="species", impurity="variance"),
            "does not fit classification",
        ),
        (TrainOptions(table="curated.penguins", label="species", cv_folds=3), "needs a --grid"),
    ]
    for options, message in cases:
        with pytest.raises(InvalidInput, match=message) as info:
            ml.train("bad", options)
        assert "\n" not in str(info.value)
    with pytest.raises(EntityNotFound, match="curated.nope"):
        ml.train("bad", TrainOptions(table="curated.nope", label="species"))
    assert {m.ref for m in ml.list_models()} == before
    assert not (ml_workspace.settings.lake_root / "models" / "bad").exists()
    assert len(ml.list_runs()) == runs_before


def test_failed_training_is_recorded_and_leaves_no_folder(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkglue.ml import render

    def broken(*_args: Any, **_kwargs: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(render, "tree_svg", broken)
    with pytest.raises(OSError, match="disk full"):
        ml_workspace.ml.train(
            "broken", TrainOptions(table="curated.penguins", label="species", max_depth=2)
        )
    run = ml_workspace.ml.list_runs("broken")[0]
    assert run.state == "FAILED" and run.error_message == "disk full"
    assert list((ml_workspace.settings.lake_root / "models" / "broken").iterdir()) == []
    with pytest.raises(EntityNotFound):
        ml_workspace.ml.get_model("broken")


def test_load_predictor_checks_the_format_version(
    ml_workspace: Workspace, species_model: Any, tmp_path: Path
) -> None:
    import shutil

    predictor = load_predictor("species", workspace=str(ml_workspace.path))
    assert predictor.version == 1 and predictor.classes == ("Adelie", "Gentoo", "Chinstrap")
    copy = tmp_path / "copy"
    shutil.copytree(species_model.location, copy)
    assert load_predictor(str(copy)).tree == predictor.tree
    meta = json.loads((copy / "model.json").read_text())
    meta["format_version"] = 99
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="format version 99.*reads format version 1"):
        Predictor.load(copy)
    with pytest.raises(ModelFormatError, match="not a sparkglue model folder"):
        Predictor.load(tmp_path)
