"""The tuned training path grows the tree MLlib's own ``fit`` grows, from the same inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkglue.ml import TrainOptions
from sparkglue.ml import training as training_module
from sparkglue.workspace import Workspace

from .conftest import DEMO_FEATURES, add_table

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REGRESSION = TrainOptions(
    table="curated.penguins",
    label="body_mass_g",
    task="regression",
    features=["species", "island", "flipper_length_mm", "culmen_depth_mm", "sex"],
    max_depth=6,
)
CLASSIFICATION = TrainOptions(table="curated.penguins", label="species", features=DEMO_FEATURES)


def _stages(model: Any) -> list[Any]:
    from pyspark.ml import PipelineModel

    return list(PipelineModel.load(str(Path(model.location) / "pipeline")).stages)


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """What each call of ``training.NAME`` returns, from now on, recorded in the list."""
    results: list[Any] = []
    real = getattr(training_module, name)

    def spy(*args: Any) -> Any:
        results.append(real(*args))
        return results[-1]

    monkeypatch.setattr(training_module, name, spy)
    return results


def _tree_text(tree: Any) -> str:
    return str(tree.toDebugString).split("\n", 1)[1]  # the first line names the uid


@pytest.mark.parametrize("options", [CLASSIFICATION, REGRESSION], ids=["classes", "quantity"])
def test_tree_grown_from_instances_is_the_tree_fit_returns(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, options: TrainOptions
) -> None:
    grown = _spy(monkeypatch, "_grow")
    tuned = ml_workspace.ml.train(f"tuned_{options.label}", options)
    assert len(grown) == 1, "the classic session takes the instances path"

    monkeypatch.setattr(training_module, "_jvm_instances", lambda *args: None)
    plain = ml_workspace.ml.train(f"plain_{options.label}", options)
    assert len(grown) == 1, "without instances, fit is called as usual"

    ours, theirs = _stages(tuned)[-1], _stages(plain)[-1]
    assert _tree_text(ours) == _tree_text(theirs)
    assert ours.numNodes == theirs.numNodes > 3
    assert list(ours.featureImportances.toArray()) == list(theirs.featureImportances.toArray())
    for param in ("maxDepth", "maxBins", "impurity", "seed", "featuresCol", "labelCol"):
        assert ours.getOrDefault(param) == theirs.getOrDefault(param), param
    assert tuned.metadata["metrics"] == plain.metadata["metrics"]


def test_mean_imputer_holds_the_means_of_the_training_rows(ml_workspace: Workspace) -> None:
    from pyspark.ml.feature import Imputer

    model = ml_workspace.ml.train("imputed", CLASSIFICATION)
    casts, imputer = _stages(model)[:2]
    assert type(imputer).__name__ == "ImputerModel"
    source = ml_workspace.spark().table(CLASSIFICATION.table)
    plan_label = source.filter(source[CLASSIFICATION.label].isNotNull())
    train = training_module.split_rows(plan_label, CLASSIFICATION, test=False)
    inputs = imputer.getInputCols()
    expected = (
        Imputer(inputCols=inputs, outputCols=imputer.getOutputCols(), strategy="mean")
        .fit(casts.transform(train))
        .surrogateDF.first()
    )
    learned = imputer.surrogateDF.first()
    assert learned is not None and expected is not None
    for column in inputs:
        assert learned[column] == pytest.approx(expected[column], rel=1e-12), column


def test_timestamp_and_date_features_are_imputed_with_their_training_means(
    ml_workspace: Workspace,
) -> None:
    import datetime as dt

    import pyarrow as pa

    ws = ml_workspace
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        {
            "at": None if i % 7 == 0 else start + dt.timedelta(hours=i, microseconds=i),
            "day": None if i % 5 == 0 else dt.date(2026, 1, 1) + dt.timedelta(days=i % 30),
            "kind": "late" if i % 24 >= 12 else "early",
        }
        for i in range(200)
    ]
    columns = [
        ("at", "timestamp", pa.timestamp("us", tz="UTC")),
        ("day", "date", pa.date32()),
        ("kind", "string", pa.string()),
    ]
    add_table(ws, "events", rows, columns)
    options = TrainOptions(
        table="curated.events", label="kind", features=["at", "day"], max_depth=4
    )
    model = ws.ml.train("events", options)
    imputer = _stages(model)[1]
    learned = imputer.surrogateDF.first()
    assert learned is not None
    source = ws.spark().table("curated.events")
    train = training_module.split_rows(source, options, test=False).toPandas()
    at = [t.timestamp() for t in train["at"].dropna()]
    assert learned[imputer.getInputCols()[0]] == pytest.approx(sum(at) / len(at), rel=1e-12)
    assert model.metadata["metrics"]["accuracy"] > 0.5


GUESSED = TrainOptions(  # a whole-number label with no --task: the profile guesses regression
    table="curated.penguins",
    label="body_mass_g",
    features=["species", "island", "flipper_length_mm", "sex"],
    max_depth=4,
)


@pytest.mark.parametrize("options", [CLASSIFICATION, GUESSED], ids=["classes", "guessed-quantity"])
def test_small_source_profiled_in_driver_gives_the_model_spark_profiling_gives(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, options: TrainOptions
) -> None:
    spark = ml_workspace.spark()
    assert training_module._fits_in_driver(spark.table(options.table)), "penguins are small"
    profiled = _spy(monkeypatch, "_profile_in_driver")
    small = ml_workspace.ml.train(f"driver_{options.label}", options)
    assert len(profiled) == 1 and profiled[0].value_counts, "counted in the driver"

    monkeypatch.setattr(training_module, "_DRIVER_PROFILE_BYTES", -1)
    assert not training_module._fits_in_driver(spark.table(options.table))
    on_spark = ml_workspace.ml.train(f"spark_{options.label}", options)
    assert len(profiled) == 1, "profiled by Spark, indexed by StringIndexer"

    assert (
        small.task
        == on_spark.task
        == ("classification" if options is CLASSIFICATION else "regression")
    )
    _assert_same_model(small, on_spark)


def _assert_same_model(model: Any, expected: Any) -> None:
    """``model`` has ``expected``'s features, classes, rows, stages (imputer means to 1e-12),
    tree size and metrics."""
    assert model.task == expected.task
    assert model.metadata["features"] == expected.metadata["features"]
    assert model.metadata["classes"] == expected.metadata["classes"]
    for count in ("rows", "train_rows"):
        assert model.metadata["training"].get(count) == expected.metadata["training"].get(count)
    ours, theirs = _stages(model), _stages(expected)
    assert [type(s).__name__ for s in ours] == [type(s).__name__ for s in theirs]
    for mine, spark_made in zip(ours, theirs, strict=True):
        if type(mine).__name__ == "StringIndexerModel":  # categories in StringIndexer's order
            assert mine.labelsArray == spark_made.labelsArray
        if type(mine).__name__ == "ImputerModel":
            learned, wanted = mine.surrogateDF.first(), spark_made.surrogateDF.first()
            assert learned is not None and wanted is not None
            for column in mine.getInputCols():
                assert learned[column] == pytest.approx(wanted[column], rel=1e-12), column
    assert ours[-1].numNodes == theirs[-1].numNodes > 3
    assert model.metadata["metrics"] == expected.metadata["metrics"]


def test_driver_orders_values_as_string_indexer_does(ml_workspace: Workspace) -> None:
    from collections import Counter

    from pyspark.ml.feature import StringIndexer

    # ties of frequency in Spark's string order: code points (as UTF-8 bytes compare), where
    # U+FFFF sorts before a character beyond the Basic Multilingual Plane, unlike Java's order
    values = ["b", "a", "c", "c", "a", "b", "\uffff", "\U0001f600", "Z", "é", "e", "c"]
    frame = ml_workspace.spark().createDataFrame([(v,) for v in values], "v string")
    expected = StringIndexer(inputCol="v", outputCol="i").fit(frame).labelsArray[0]
    assert training_module._by_frequency(list(Counter(values).items())) == list(expected)
    assert expected[:1] == ["c"] and expected.index("\uffff") < expected.index("\U0001f600")


def test_imputer_built_from_known_means_is_the_one_fit_gives(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.ml.feature import Imputer

    spark = ml_workspace.spark()
    means = [1.25, -3.5e300, 7.0]
    imputer = Imputer(inputCols=["a", "b", "c"], outputCols=["x", "y", "z"], strategy="mean")
    built = training_module._imputer_holding(imputer, means, spark)
    monkeypatch.setattr(training_module, "is_connect", lambda _spark: True)  # the fit way
    fitted = training_module._imputer_holding(imputer, means, spark)
    assert fitted.surrogateDF.first() == built.surrogateDF.first()
    assert list(built.surrogateDF.first()) == means
    for param in ("inputCols", "outputCols", "strategy", "missingValue"):
        assert str(built.getOrDefault(param)) == str(fitted.getOrDefault(param)), param
    rows = spark.createDataFrame(
        [(None, 2.0, float("nan")), (0.5, None, 3.0)], "a double, b double, c double"
    )
    imputed = [built.transform(rows).select("x", "y", "z").collect()]
    assert imputed == [fitted.transform(rows).select("x", "y", "z").collect()]
    assert imputed[0][0] == (1.25, 2.0, 7.0)


@pytest.mark.parametrize("where", ["driver", "spark"])
def test_data_that_cannot_train_is_one_line_on_either_profile_path(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import pyarrow as pa

    from sparkglue.errors import InvalidInput

    ws = ml_workspace
    if where == "spark":
        monkeypatch.setattr(training_module, "_DRIVER_PROFILE_BYTES", -1)
    columns = [
        ("id", "int", pa.int32()),
        ("kind", "string", pa.string()),
        ("a", "double", pa.float64()),
        ("b", "double", pa.float64()),
    ]
    rows = [{"id": i, "kind": "xy"[i % 2], "a": None, "b": None} for i in range(60)]
    add_table(ws, f"unlabelled_{where}", [{**r, "kind": None} for r in rows], columns)
    add_table(ws, f"gaps_{where}", rows, columns)
    asked = TrainOptions(table=f"curated.gaps_{where}", label="kind", features=["a", "id"])
    # b has values in the test rows only (the same rows, in the same single file)
    test_ids = {
        r["id"]
        for r in training_module.split_rows(ws.spark().table(asked.table), asked, test=True)
        .select("id")
        .collect()
    }
    assert 0 < len(test_ids) < len(rows)
    late = [{**r, "b": 1.0 if r["id"] in test_ids else None} for r in rows]
    add_table(ws, f"late_{where}", late, columns)
    cases = [
        (
            TrainOptions(table=f"curated.unlabelled_{where}", label="kind", features=["id"]),
            "has no rows with a value for the label 'kind'",
        ),
        (asked, "feature 'a' has no values in"),
        (
            TrainOptions(table=f"curated.late_{where}", label="kind", features=["b", "id"]),
            "have no values in the training split",
        ),
    ]
    for options, message in cases:
        with pytest.raises(InvalidInput, match=message) as info:
            ws.ml.train(f"cannot_{where}", options)
        assert "\n" not in str(info.value)
    assert not (ws.settings.lake_root / "models" / f"cannot_{where}").exists()


def _complete_table(ws: Workspace, name: str, *, nan_every: int = 0) -> str:
    """A Parquet table of 400 rows whose features have no null (``x`` a NaN every
    ``nan_every`` rows, which Parquet does not count as missing)."""
    import datetime as dt
    import random

    import pyarrow as pa

    columns = [
        ("x", "double", pa.float64()),
        ("n", "int", pa.int32()),
        ("flag", "boolean", pa.bool_()),
        ("day", "date", pa.date32()),
        ("at", "timestamp", pa.timestamp("us", tz="UTC")),
        ("kind", "string", pa.string()),
        ("amount", "double", pa.float64()),
    ]
    rng = random.Random(11)
    rows = []
    for i in range(400):
        x, n, flag = rng.gauss(0, 1), rng.randrange(50), rng.random() < 0.3
        day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(90))
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(10**6))
        kind = "abc"[(x > 0.3) + (n > 30 and flag)]
        rows.append(
            {
                "x": float("nan") if nan_every and i % nan_every == 0 else x,
                "n": n,
                "flag": flag,
                "day": day,
                "at": at,
                "kind": kind,
                "amount": 3 * x + n / 10 + rng.gauss(0, 0.3),
            }
        )
    return add_table(ws, name, rows, columns)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_complete_parquet_learns_its_means_while_materialising_the_model_profiling_gives(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    ws = ml_workspace
    table = _complete_table(ws, f"complete_{task}")
    label = "kind" if task == "classification" else "amount"
    features = ["x", "n", "flag", "day", "at"]
    options = TrainOptions(table=table, label=label, features=features, task=task, max_depth=5)
    monkeypatch.setattr(training_module, "_DRIVER_PROFILE_BYTES", -1)  # as a large table
    assert training_module._complete_in_files(ws.spark().table(table), features)
    counted, profiled = _spy(monkeypatch, "_profile_labels"), _spy(monkeypatch, "_profile_on_spark")
    quick = ws.ml.train(f"quick_{task}", options)
    assert len(counted) == 1 and not profiled, "no profile pass: the means came with the rows"
    if task == "classification":
        assert (
            sum(n for _, n in counted[0].value_counts[label])
            == quick.metadata["training"]["train_rows"]
        )

    monkeypatch.setattr(training_module, "_complete_in_files", lambda *_: False)
    full = ws.ml.train(f"profiled_{task}", options)
    assert len(counted) == 1 and len(profiled) == 1
    _assert_same_model(quick, full)


def test_nan_the_files_do_not_count_makes_training_profile_first(
    ml_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = ml_workspace
    table = _complete_table(ws, "complete_but_nan", nan_every=9)
    options = TrainOptions(table=table, label="kind", features=["x", "n"], max_depth=5)
    monkeypatch.setattr(training_module, "_DRIVER_PROFILE_BYTES", -1)
    assert training_module._complete_in_files(ws.spark().table(table), ["x", "n"])
    counted, profiled = _spy(monkeypatch, "_profile_labels"), _spy(monkeypatch, "_profile_on_spark")
    model = ws.ml.train("nan_found", options)
    assert len(counted) == 1 and len(profiled) == 1, "tried, then profiled"
    run = ws.ml.get_run(str(model.run_id))
    assert run.log_path is not None
    assert "then training again: a feature has NaN values" in Path(run.log_path).read_text()
    log4j = ws.spark().sparkContext._jvm.org.apache.logging.log4j
    for name in training_module._TASK_FAILURE_LOGGERS:  # quiet only while it was tried
        assert str(log4j.LogManager.getLogger(name).getLevel()) != "OFF", name
    learned = _stages(model)[1].surrogateDF.first()
    train = training_module.split_rows(ws.spark().table(table), options, test=False).toPandas()
    assert train["x"].isna().any()
    assert learned[0] == pytest.approx(train["x"].dropna().mean(), rel=1e-12)

    monkeypatch.setattr(training_module, "_complete_in_files", lambda *_: False)
    _assert_same_model(model, ws.ml.train("nan_profiled", options))


def test_only_parquet_footers_without_nulls_say_complete(
    ml_workspace: Workspace, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ws = ml_workspace
    spark = ws.spark()
    complete = spark.table(_complete_table(ws, "complete_check"))
    assert training_module._complete_in_files(complete, ["x", "n", "at"])
    assert not training_module._complete_in_files(complete, ["x", "not_there"])
    gaps = tmp_path / "gaps"
    gaps.mkdir()
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [1.0, None]}), gaps / "p.parquet")
    assert training_module._complete_in_files(spark.read.parquet(str(gaps)), ["a"])
    assert not training_module._complete_in_files(spark.read.parquet(str(gaps)), ["a", "b"])
    unsummed = tmp_path / "unsummed"
    unsummed.mkdir()
    pq.write_table(pa.table({"a": [1.0, 2.0]}), unsummed / "p.parquet", write_statistics=False)
    assert not training_module._complete_in_files(spark.read.parquet(str(unsummed)), ["a"])
    text = tmp_path / "text.csv"
    text.write_text("a\n1\n2\n")
    assert not training_module._complete_in_files(spark.read.csv(str(text), header=True), ["a"])
    assert not training_module._complete_in_files(spark.range(3).toDF("a"), ["a"])
