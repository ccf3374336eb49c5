"""ML benchmark: `ml train` vs a naive MLlib script vs scikit-learn, and single-record latency
of the compiled predictor (in-process and over HTTP) vs Spark's ``model.transform``.

In one Spark session (local[*]), on two datasets:

- generated: ROWS rows × 20 numeric features and a binary label (a non-linear rule plus noise),
  Parquet in row groups of 131,072 rows, a catalog table; depth 8;
- penguins: the bundled data with the demo's features (two categorical, missing sex); depth 5.

After one untimed warm-up round of each, each round times (ours and the naive script train on
the same rows, ``rand(42) < 0.8``; scikit-learn on a seeded 80% permutation):

- ours: ``Workspace.ml.train`` up to the fitted model (profile or label count, indexers and
  imputer, the materialised training rows, the tree), and the whole call (plus evaluation, the
  compiled check, saving, pictures and registration);
- naive MLlib: read the Parquet, filter the same rows, ``StringIndexer`` (penguins only),
  ``VectorAssembler``, ``DecisionTreeClassifier.fit``; timed twice: in a plain PySpark session
  of its own process (same master and driver memory, none of sparkglue's settings, one
  untimed round first), as a user runs it, which is the peer; and in sparkglue's session,
  where it shares the JVM options sparkglue sets. The three alternate round by round, so a
  machine whose speed drifts weighs on each side alike;
- scikit-learn: ``DecisionTreeClassifier(max_depth=…)``, ``fit`` on NumPy arrays (loading them
  from Parquet is timed apart).

Then accuracy on the test rows side by side, and latency of one record: the compiled predictor
in-process (``predict_one``), over HTTP (``ml serve``'s server, one keep-alive connection), and
Spark (``createDataFrame`` of one row → ``PipelineModel.transform`` → ``collect``).

Usage: .venv/bin/python bench/ml.py [--rows 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FEATURES = 20
PENGUIN_FEATURES = [
    "island",
    "culmen_length_mm",
    "culmen_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
]


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, FEATURES))
    score = (
        1.5 * x[:, 0]
        - x[:, 1] * x[:, 2]
        + np.sin(3 * x[:, 3])
        + 0.5 * (x[:, 4] > 0.7)
        + rng.normal(scale=0.5, size=rows)
    )
    columns = {f"x{i}": x[:, i] for i in range(FEATURES)}
    columns["label"] = (score > 0.3).astype(np.int32)
    path.mkdir(parents=True)
    pq.write_table(pa.table(columns), path / "part-0.parquet", row_group_size=131_072)


def penguins(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sparkglue.datasets import penguins_raw_text

    def num(text: str) -> float | None:
        return None if text in ("", "NA") else float(text)

    rows = []
    for r in csv.DictReader(penguins_raw_text().splitlines()):
        if num(r["Flipper Length (mm)"]) is None:
            continue
        rows.append(
            {
                "species": r["Species"].split(" ")[0],
                "island": r["Island"],
                "culmen_length_mm": num(r["Culmen Length (mm)"]),
                "culmen_depth_mm": num(r["Culmen Depth (mm)"]),
                "flipper_length_mm": num(r["Flipper Length (mm)"]),
                "body_mass_g": num(r["Body Mass (g)"]),
                "sex": r["Sex"].lower() if r["Sex"] in ("MALE", "FEMALE") else None,
            }
        )
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path / "part-0.parquet")


def register(ws: Any, name: str, path: Path) -> None:
    import pyarrow.parquet as pq

    from sparkglue.catalog import Column, DatabaseInput, TableInput

    types = {"double": "double", "int32": "int", "string": "string", "int64": "bigint"}
    schema = pq.read_schema(path / "part-0.parquet")
    if not any(d.name == "bench" for d in ws.catalog.list_databases()):
        ws.catalog.create_database(DatabaseInput(name="bench"))
    ws.catalog.create_table(
        "bench",
        TableInput(
            name=name,
            columns=[Column(name=f.name, type=types[str(f.type)]) for f in schema],
            location=str(path),
            parameters={"classification": "parquet"},
        ),
    )


def naive(
    spark: Any, path: Path, label: str, features: list[str], categorical: list[str], depth: int
) -> tuple[float, Any, Any]:
    """The script a user writes first: read, split, index, assemble, fit."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import DecisionTreeClassifier
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    clock = time.perf_counter()
    df = spark.read.parquet(str(path)).filter(F.col(label).isNotNull())
    df = df.withColumn("split", F.rand(42))
    train = df.filter("split < 0.8")
    stages: list[Any] = []
    inputs = list(features)
    if categorical:
        stages.append(
            StringIndexer(
                inputCols=categorical,
                outputCols=[f"{c}_idx" for c in categorical],
                handleInvalid="keep",
            )
        )
        inputs = [f"{c}_idx" if c in categorical else c for c in features]
    stages.append(StringIndexer(inputCol=label, outputCol="label_idx"))
    stages.append(VectorAssembler(inputCols=inputs, outputCol="features", handleInvalid="keep"))
    stages.append(DecisionTreeClassifier(labelCol="label_idx", maxDepth=depth, seed=42))
    model = Pipeline(stages=stages).fit(train)
    return time.perf_counter() - clock, model, df.filter("split >= 0.8")


class PlainSession:
    """The naive script in a plain PySpark session of its own process, kept running, so that
    its rounds can alternate with ours (a drifting machine then weighs on both sides alike)."""

    def __init__(
        self, path: Path, label: str, features: list[str], categorical: list[str], depth: int
    ) -> None:
        import subprocess

        job = {
            "path": str(path),
            "label": label,
            "features": features,
            "categorical": categorical,
            "depth": depth,
        }
        # the worker's errors, read back if it fails; closed by close()
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--naive-worker", json.dumps(job)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.round()  # untimed: the session starts and the JVM compiles the hot code

    def round(self) -> float:
        """One timed round of the naive script, in seconds."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            code = self.process.wait()
            self.errors.seek(0)
            raise SystemExit(
                f"the plain PySpark worker stopped (exit {code}):\n{self.errors.read()[-3000:]}"
            )
        return float(answer)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()
        self.errors.close()


def naive_worker(spec: str) -> None:
    """Run by ``PlainSession``: a plain session; one naive round per line read."""
    from pyspark.sql import SparkSession

    job = json.loads(spec)
    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.driver.memory", "6g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    args = (spark, Path(job["path"]), job["label"], job["features"], job["categorical"])
    for _ in sys.stdin:
        print(naive(*args, job["depth"])[0], flush=True)
    spark.stop()


def naive_accuracy(model: Any, test: Any) -> float:
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator

    return float(
        MulticlassClassificationEvaluator(
            labelCol="label_idx", predictionCol="prediction", metricName="accuracy"
        ).evaluate(model.transform(test))
    )


def sklearn_run(predictor: Any, path: Path, label: str, depth: int) -> tuple[float, float, float]:
    """(load seconds, fit seconds, test accuracy), encoding rows as our predictor does."""
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.tree import DecisionTreeClassifier

    clock = time.perf_counter()
    table = pq.read_table(path / "part-0.parquet")
    names = [f.name for f in predictor.features]
    if all(f.kind == "numeric" for f in predictor.features):
        x = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float64)
    else:
        x = predictor.matrix(table.select(names).to_pylist())
    y = np.asarray(table.column(label).to_pylist())
    order = np.random.default_rng(42).permutation(len(y))  # files may be sorted by label
    train, test = order[: int(len(y) * 0.8)], order[int(len(y) * 0.8) :]
    load = time.perf_counter() - clock
    clock = time.perf_counter()
    model = DecisionTreeClassifier(max_depth=depth, random_state=42).fit(x[train], y[train])
    fit = time.perf_counter() - clock
    accuracy = float((model.predict(x[test]) == y[test]).mean())
    return load, fit, accuracy


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def latency(ws: Any, model: Any, record: dict[str, Any], spark_calls: int) -> dict[str, Any]:
    from pyspark.ml import PipelineModel

    from sparkglue.ml.serve import make_server

    predictor = ws.ml.load_predictor(model.ref)
    for _ in range(1000):
        predictor.predict_one(record)
    inproc = []
    for _ in range(20_000):
        clock = time.perf_counter()
        predictor.predict_one(record)
        inproc.append(time.perf_counter() - clock)

    server = make_server(predictor, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port))
    body = json.dumps(record)
    over_http = []
    for i in range(2_200):
        clock = time.perf_counter()
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        if i >= 200:
            over_http.append(time.perf_counter() - clock)
    assert answer["prediction"] == predictor.predict_one(record)["prediction"]
    conn.close()
    server.shutdown()
    server.server_close()

    spark = ws.spark()
    pipeline = PipelineModel.load(str(Path(model.location) / "pipeline"))
    schema = (
        spark.table(model.metadata["training"]["table"])
        .select(*[f.name for f in predictor.features])
        .schema
    )
    row = tuple(record[f.name] for f in predictor.features)
    on_spark = []
    for i in range(spark_calls + 5):
        clock = time.perf_counter()
        pipeline.transform(spark.createDataFrame([row], schema)).select("prediction").collect()
        if i >= 5:
            on_spark.append(time.perf_counter() - clock)
    return {"in-process": inproc, "HTTP": over_http, "Spark transform": on_spark}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spark-calls", type=int, default=50)
    parser.add_argument("--naive-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        naive_worker(args.naive_worker)
        return

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from sparkglue.config import Settings
    from sparkglue.ml import TrainOptions
    from sparkglue.workspace import Workspace

    work = Path(tempfile.mkdtemp(prefix="sparkglue-ml-bench-"))
    try:
        settings = Settings.resolve(
            work / "ws",
            overrides={
                "spark_master": "local[*]",
                "spark_conf": {
                    "spark.driver.memory": "6g",
                    "spark.ui.showConsoleProgress": "false",
                },
            },
            env={},
        )
        ws = Workspace.init(settings=settings)
        spark = ws.spark()
        spark.sparkContext.setLogLevel("ERROR")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, Spark {spark.version}; {args.rounds} rounds"
        )
        generated = settings.lake_root / "bench" / "generated"
        clock = time.perf_counter()
        generate(generated, args.rows)
        print(
            f"generated {args.rows:,} rows × {FEATURES} features in "
            f"{time.perf_counter() - clock:.1f} s"
        )
        register(ws, "generated", generated)
        birds = settings.lake_root / "bench" / "penguins"
        penguins(birds)
        register(ws, "penguins", birds)

        datasets = [
            (
                "generated",
                "bench.generated",
                generated,
                "label",
                [f"x{i}" for i in range(FEATURES)],
                [],
                8,
            ),
            (
                "penguins",
                "bench.penguins",
                birds,
                "species",
                PENGUIN_FEATURES,
                ["island", "sex"],
                5,
            ),
        ]
        models: dict[str, Any] = {}
        for name, table, path, label, features, categorical, depth in datasets:
            ours_fit: list[float] = []
            ours_all: list[float] = []
            naive_times: list[float] = []
            # One untimed round of each first: the JVM compiles the hot code on first use.
            ws.ml.train(
                f"bench_{name}",
                TrainOptions(
                    table=table,
                    label=label,
                    features=features,
                    max_depth=depth,
                    task="classification",
                ),
            )
            naive(spark, path, label, features, categorical, depth)
            plain_session = PlainSession(path, label, features, categorical, depth)
            plain: list[float] = []
            for r in range(args.rounds):
                clock = time.perf_counter()
                model = ws.ml.train(
                    f"bench_{name}",
                    TrainOptions(
                        table=table,
                        label=label,
                        features=features,
                        max_depth=depth,
                        task="classification",
                    ),
                )
                ours_all.append(time.perf_counter() - clock)
                seconds = model.metadata["training"]["seconds"]
                ours_fit.append(
                    sum(seconds[k] for k in ("profile", "prepare", "materialise", "fit"))
                )
                took, naive_model, test = naive(spark, path, label, features, categorical, depth)
                naive_times.append(took)
                plain.append(plain_session.round())
                print(
                    f"  {name} round {r + 1}: ours {ours_fit[-1]:.2f} s to the fitted tree "
                    f"({ours_all[-1]:.2f} s in all); naive MLlib: plain PySpark "
                    f"{plain[-1]:.2f} s, our session {took:.2f} s",
                    flush=True,
                )
            plain_session.close()
            models[name] = model
            predictor = ws.ml.load_predictor(model.ref)
            load, sk_fit, sk_acc = sklearn_run(predictor, path, label, depth)
            naive_acc = naive_accuracy(naive_model, test)
            ours_acc = model.metadata["metrics"]["accuracy"]
            best_ours, best_naive = min(ours_fit), min(plain)
            med_ours, med_naive = statistics.median(ours_fit), statistics.median(plain)
            print(f"\n{name}: {model.metadata['training']['rows']:,} rows, depth {depth}")
            print(f"  {'':34} {'best s':>8} {'median s':>9} {'test accuracy':>14}")
            print(
                f"  {'ours: ml train to fitted tree':34} {best_ours:8.2f} {med_ours:9.2f} "
                f"{ours_acc:14.4f}"
            )
            print(
                f"  {'ours: whole ml train':34} {min(ours_all):8.2f} "
                f"{statistics.median(ours_all):9.2f}"
            )
            print(
                f"  {'naive MLlib script, plain PySpark':34} {best_naive:8.2f} {med_naive:9.2f} "
                f"{naive_acc:14.4f}"
            )
            print(
                f"  {'naive MLlib, our session':34} {min(naive_times):8.2f} "
                f"{statistics.median(naive_times):9.2f}"
            )
            print(
                f"  {'scikit-learn fit (load apart)':34} {sk_fit:8.2f} {'':9} {sk_acc:14.4f}"
                f"   (loading to NumPy {load:.2f} s)"
            )
            print(
                f"  naive (plain PySpark) / ours: {best_naive / best_ours:.2f}x (best), "
                f"{med_naive / med_ours:.2f}x (median); goal ≥ 1.5x"
            )
            print(
                f"  naive (our session) / ours: {min(naive_times) / best_ours:.2f}x (best), "
                f"{statistics.median(naive_times) / med_ours:.2f}x (median)"
            )

        record = {
            "island": "Biscoe",
            "culmen_length_mm": 47.5,
            "culmen_depth_mm": 14.8,
            "flipper_length_mm": 216.0,
            "body_mass_g": 5200.0,
            "sex": "male",
        }
        times = latency(ws, models["penguins"], record, args.spark_calls)
        print("\nsingle-record latency (penguins model)")
        print(f"  {'':18} {'p50 ms':>9} {'p99 ms':>9}")
        p50 = {}
        for what, samples in times.items():
            p50[what], p99 = percentiles(samples)
            print(f"  {what:18} {p50[what] * 1e3:9.4f} {p99 * 1e3:9.4f}")
        print(
            f"  Spark / in-process p50: {p50['Spark transform'] / p50['in-process']:,.0f}x; "
            f"Spark / HTTP p50: {p50['Spark transform'] / p50['HTTP']:,.0f}x; "
            "goals: in-process p50 < 1 ms and ≥ 100x"
        )
        ws.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
