"""Fitting a decision-tree pipeline on Spark, and evaluating it, tuned to the data.

The pipeline is MLlib's own: a ``SQLTransformer`` that casts numeric features to double, an
``Imputer``, a ``StringIndexer`` for categorical features (an unseen value gets its own index),
a ``VectorAssembler`` and a ``DecisionTreeClassifier``/``DecisionTreeRegressor``; the label is
indexed outside the saved pipeline, so scoring a table needs no label column.

Tuning, so users need not: one profiling pass picks the features and, for mean imputation,
learns the means of the training rows (a small source is profiled in this process from one
Arrow batch, which also counts the classes and categories the indexers need); the training
rows are materialised once, in as many partitions as the data deserves, up to the cores; the
label carries its class count so MLlib does not scan for it; node ids are cached and
checkpointed for deep trees. The train/test split is a seeded random number per row, so the
test rows can be found again from the source.

Materialised how: on a classic session, as MLlib's own training instances (``Instance``
objects, the very records ``DecisionTreeClassifier.fit`` makes from a DataFrame) kept in the
JVM's memory, and the tree is grown from them by the same ``RandomForest.run`` call that
``fit`` makes, with the same strategy and seed, so the model is the one ``fit`` returns. The
tree reads its input three times before it bins it (count, split candidates, binning); from
instances in memory each read skips the conversion of every row from Spark's row format, which
is most of the cost. These are internal entry points of MLlib (public in its bytecode, not in
its API): where they are missing (Spark Connect, another Spark), the rows are kept as Spark's
own binary rows instead (``localCheckpoint``) and ``fit`` is called as usual.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkglue.errors import InvalidInput
from sparkglue.ml.specs import FeaturePlan, PlannedFeature, TrainOptions
from sparkglue.spark import is_connect

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["Fitted", "evaluate", "fit_pipeline", "labelled", "quote", "split_rows"]

LABEL = "__label"
FEATURES = "__features"
SPLIT = "__split"
_ROWS_PER_PARTITION = 50_000
_HIGH_CARDINALITY = "more distinct values than --max-bins allows"

Log = Callable[[str], None]


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def num_column(i: int) -> str:
    return f"__num_{i}"


def imputed_column(i: int) -> str:
    return f"__imp_{i}"


def index_column(i: int) -> str:
    return f"__idx_{i}"


def labelled(source: DataFrame, plan: FeaturePlan) -> DataFrame:
    """The rows of ``source`` that have a label (a number, for regression)."""
    from pyspark.sql import functions as F

    label = F.col(quote(plan.label))
    if plan.task == "regression":
        return source.filter(label.isNotNull() & ~F.isnan(label.cast("double")))
    return source.filter(label.isNotNull())


def _marked(source: DataFrame, options: TrainOptions) -> tuple[DataFrame, Column]:
    """``source`` with the seeded random number that splits it, and the condition that is
    true for its training rows."""
    from pyspark.sql import functions as F

    marked = source.withColumn(SPLIT, F.rand(options.seed))
    return marked, F.col(SPLIT) < 1.0 - options.test_fraction


def split_rows(source: DataFrame, options: TrainOptions, *, test: bool) -> DataFrame:
    """The training (or test) rows of ``source``, as ``fit_pipeline`` splits them."""
    marked, in_training = _marked(source, options)
    return marked.filter(~in_training if test else in_training).drop(SPLIT)


@dataclass
class Fitted:
    """A fitted pipeline and what was learned on the way."""

    pipeline: PipelineModel
    plan: FeaturePlan
    features: list[dict[str, Any]]  # model.json's feature entries, in tree order
    classes: list[Any]
    params: dict[str, Any]
    rows: int
    train_rows: int
    importances: list[tuple[str, float]]
    tuning: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _label_value(text: str | None, label_type: str) -> Any:
    if text is None:
        return None
    base = label_type.split("(")[0]
    if base in ("tinyint", "smallint", "int", "bigint"):
        return int(float(text))
    if base in ("float", "double", "decimal"):
        return float(text)
    if base == "boolean":
        return text.lower() == "true"
    return text


def _cast(feature: PlannedFeature, i: int) -> str:
    return f"{_as_double(feature)} AS {num_column(i)}"


def _as_double(feature: PlannedFeature) -> str:
    """The SQL expression that makes ``feature`` a double for the tree."""
    col = quote(feature.name)
    if feature.kind == "date":
        expr = f"CAST(unix_date({col}) AS DOUBLE)"
    elif feature.kind == "timestamp":
        expr = f"unix_micros(CAST({col} AS TIMESTAMP)) / 1000000.0"
    elif feature.kind == "boolean":
        expr = f"CAST(CAST({col} AS INT) AS DOUBLE)"
    else:
        expr = f"CAST({col} AS DOUBLE)"
    return expr


def fit_pipeline(
    source: DataFrame, plan: FeaturePlan, options: TrainOptions, log: Log, *, quick: bool = True
) -> Fitted:
    """Profile ``source``, settle the features, fit the pipeline on the training split.

    Where ``quick`` and the source is a large Parquet table whose files say its features have
    no missing values (and they are all numeric, imputed with the mean, with no ``--grid``),
    the profile is only the label's count, and the imputer's means are learned while the
    training rows are materialised: one pass over the source fewer. Should a value turn out
    missing after all (a NaN, which Parquet does not count), it starts again with the full
    profile."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import (
        Imputer,
        SQLTransformer,
        StringIndexer,
        StringIndexerModel,
        VectorAssembler,
    )
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    spark = source.sparkSession
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    label = plan.label
    base = labelled(source, plan)
    marked, in_training = _marked(base, options)  # as split_rows splits

    # Whole-number labels with no --task: classes or a quantity? (Counting distinct values
    # is dear on many rows, so only where the answer is needed.)
    guess_task = (
        options.task is None
        and plan.task == "classification"
        and plan.label_type in ("tinyint", "smallint", "int", "bigint")
    )
    small = _fits_in_driver(marked)
    quick = (
        quick
        and not small
        and not guess_task
        and not options.grid
        and options.impute == "mean"
        and not is_connect(spark)
        and all(f.kind != "categorical" for f in plan.features)
        and _complete_in_files(source, [f.name for f in plan.features])
    )
    if small:
        profile = _profile_in_driver(marked, in_training, plan, options, guess_task)
    elif quick:
        profile = _profile_labels(marked, in_training, plan)
    else:
        profile = _profile_on_spark(marked, in_training, plan, options, guess_task)
    rows = profile.rows
    if rows == 0:
        raise InvalidInput(f"{options.table} has no rows with a value for the label '{label}'")
    seconds["profile"] = time.perf_counter() - clock
    log(f"Profiled {options.table}: {rows} rows with a label")

    task = plan.task
    if guess_task and (profile.labels or 0) > 32:
        task = "regression"
        log(f"Label '{label}' has ~{profile.labels} distinct whole numbers: regression")
    plan.task = task
    impurity = options.check_impurity(task)

    max_bins = options.max_bins
    kept: list[PlannedFeature] = []
    for f in plan.features:
        if f.kind == "categorical":
            distinct = profile.distinct[f.name]
            if distinct + 1 > options.max_bins:
                if not f.asked:
                    plan.left_out.append((f.name, f"~{distinct} categories, {_HIGH_CARDINALITY}"))
                    continue
                max_bins = max(max_bins, int(distinct * 1.05) + 2)
        elif profile.present[f.name] == 0:
            if f.asked:
                raise InvalidInput(f"feature '{f.name}' has no values in {options.table}")
            plan.left_out.append((f.name, "no values"))
            continue
        kept.append(f)
    if not kept:
        raise InvalidInput(
            f"no usable feature is left in {options.table}: "
            + "; ".join(f"{c}: {why}" for c, why in plan.left_out)
        )
    plan.features = kept
    if max_bins != options.max_bins:
        log(f"maxBins raised to {max_bins} for the categorical features asked for")

    # Stages, fitted on the training split only.
    clock = time.perf_counter()
    train = split_rows(base, options, test=False)
    numeric = [(i, f) for i, f in enumerate(kept) if f.kind != "categorical"]
    categorical = [(i, f) for i, f in enumerate(kept) if f.kind == "categorical"]
    stages: list[Transformer] = []
    casts = ", ".join(_cast(f, i) for i, f in numeric)
    sql = SQLTransformer(statement=f"SELECT *{', ' if casts else ''}{casts} FROM __THIS__")
    stages.append(sql)
    indexed_label = train
    string_columns = [f.name for _, f in categorical]
    label_labels: list[str] = []
    if task == "classification" or string_columns:
        inputs = string_columns + ([label] if task == "classification" else [])
        outputs = [index_column(i) for i, _ in categorical] + (
            [LABEL] if task == "classification" else []
        )
        counted = profile.value_counts
        if all(c in counted for c in inputs):  # ordered as StringIndexer orders them
            arrays = [_by_frequency(counted[c]) for c in inputs]
        else:
            fitted_indexer = StringIndexer(inputCols=inputs, outputCols=outputs).fit(
                train.select(*(F.col(quote(c)).cast("string").alias(c) for c in inputs))
            )
            arrays = [list(a) for a in fitted_indexer.labelsArray]
        if task == "classification":
            label_labels = arrays.pop()
            label_model = StringIndexerModel.from_arrays_of_labels(
                [label_labels], inputCols=[label], outputCols=[LABEL], handleInvalid="error"
            )
            indexed_label = label_model.transform(
                train.withColumn(label, F.col(quote(label)).cast("string"))
            )
        if string_columns:
            stages.append(
                StringIndexerModel.from_arrays_of_labels(
                    arrays,
                    inputCols=string_columns,
                    outputCols=[index_column(i) for i, _ in categorical],
                    handleInvalid="keep",
                )
            )
    if task == "regression":
        indexed_label = train.withColumn(LABEL, F.col(quote(label)).cast("double"))
    if numeric:
        imputer = Imputer(
            inputCols=[num_column(i) for i, _ in numeric],
            outputCols=[imputed_column(i) for i, _ in numeric],
            strategy=options.impute,
        )
        if quick:
            pass  # the means are learned as the training rows are materialised, below
        elif options.impute == "mean":
            known = {n: m for n, m in profile.means.items() if m is not None}
            empty = [f.name for _, f in numeric if f.name not in known]
            if empty:
                raise InvalidInput(
                    f"feature(s) {', '.join(empty)} have no values in the training split of "
                    f"{options.table}; leave them out of --features or lower --test-fraction"
                )
            # The means are known from the profile: the imputer holds them, without another
            # pass over the training rows.
            means = [known[f.name] for _, f in numeric]
            stages.insert(1, _imputer_holding(imputer, means, spark))
        else:
            stages.insert(1, imputer.fit(sql.transform(train)))
    assembled = [
        index_column(i) if f.kind == "categorical" else imputed_column(i)
        for i, f in enumerate(kept)
    ]
    stages.append(VectorAssembler(inputCols=assembled, outputCol=FEATURES))
    features_model = PipelineModel(stages=stages)
    seconds["prepare"] = time.perf_counter() - clock
    log(
        f"Features: {len(kept)} ({len(numeric)} numeric, {len(categorical)} categorical)"
        + (
            "; left out: " + "; ".join(f"{c} ({why})" for c, why in plan.left_out)
            if plan.left_out
            else ""
        )
    )

    # The training rows, materialised once in as many partitions as they deserve.
    clock = time.perf_counter()
    estimator = _estimator(task, impurity, max_bins, options, spark=spark)
    if quick:
        # No value is missing, so the imputer would change none: it is left out here, and the
        # vector is made straight from the doubles (no categorical feature needs the
        # assembler's attributes). A value missing after all reaches MLlib as NaN.
        missing = F.lit(float("nan"))
        prepared = sql.transform(indexed_label).select(
            array_to_vector(
                F.array(*(F.coalesce(F.col(num_column(i)), missing) for i, _ in numeric))
            ).alias(FEATURES),
            LABEL,
        )
    else:
        prepared = features_model.transform(indexed_label).select(FEATURES, LABEL)
    wanted = max(1, math.ceil(rows / _ROWS_PER_PARTITION))
    if is_connect(spark):  # no RDDs to ask: always repartition, as the server has cores
        partitions = 1 if wanted == 1 else min(_server_cores(spark), wanted)
        prepared = prepared.repartition(partitions)
    else:
        partitions = min(max(1, spark.sparkContext.defaultParallelism), wanted)
        if prepared.rdd.getNumPartitions() != partitions:
            prepared = prepared.repartition(partitions)
    classes = len(label_labels) if task == "classification" else None
    instances = None if options.grid else _jvm_instances(estimator, prepared, classes)
    if quick and instances is None:  # MLlib's entry points are not there: the usual way
        return fit_pipeline(source, plan, options, log, quick=False)
    tuning: list[dict[str, Any]] = []
    not_quick: str | None = None  # why the means could not come with the training rows
    try:  # the instances are released whatever happens, a failed count included
        if instances is None:
            prepared = prepared.localCheckpoint(eager=True)
            train_rows = prepared.count()
        elif quick:
            train_rows, means = _count_and_means(instances, classes, spark)
            if train_rows:  # the imputer set up above (mean), now holding the means
                stages.insert(1, _imputer_holding(imputer, means, spark))
        else:
            train_rows = int(instances.count())
        if train_rows == 0:
            raise InvalidInput(
                f"the training split of {options.table} is empty ({rows} rows, test fraction "
                f"{options.test_fraction}); lower --test-fraction"
            )
        seconds["materialise"] = time.perf_counter() - clock
        log(f"Training rows materialised: {train_rows} in {partitions} partition(s)")

        clock = time.perf_counter()
        if not options.grid:
            log(f"Fitting a depth-{options.max_depth} {task} tree ({impurity}, maxBins {max_bins})")
        grown = None if instances is None else _grow(estimator, prepared, instances, classes)
        if grown is not None:
            tree = grown
        elif not options.grid:
            tree = estimator.fit(prepared)
        else:
            tree, tuning = _search(estimator, prepared, task, options, max_bins, log)
    except _NotQuick as why:
        not_quick = str(why)
    finally:
        if instances is not None:
            instances.unpersist(False)
    if not_quick is not None:  # the training rows are released: now the whole profile, then train
        log(f"Profiling {options.table}, then training again: {not_quick}")
        return fit_pipeline(source, plan, options, log, quick=False)
    seconds["fit"] = time.perf_counter() - clock
    pipeline = PipelineModel(stages=[*stages, tree])
    names = [f.name for f in kept]
    importances = sorted(
        zip(names, (float(v) for v in tree.featureImportances.toArray()), strict=True),
        key=lambda kv: -kv[1],
    )
    features = [
        {
            "name": f.name,
            "kind": f.kind,
            "type": f.type,
            "column": num_column(i) if f.kind != "categorical" else f.name,
            "assembled": assembled[i],
        }
        for i, f in enumerate(kept)
    ]
    params = {
        "max_depth": int(tree.getOrDefault(tree.maxDepth)),
        "max_bins": int(tree.getOrDefault(tree.maxBins)),
        "impurity": str(tree.getOrDefault(tree.impurity)),
        "min_instances_per_node": int(tree.getOrDefault(tree.minInstancesPerNode)),
        "min_info_gain": float(tree.getOrDefault(tree.minInfoGain)),
        "seed": options.seed,
        "test_fraction": options.test_fraction,
        "impute": options.impute,
        "cv_folds": options.cv_folds,
        "grid": options.grid,
    }
    return Fitted(
        pipeline=pipeline,
        plan=plan,
        features=features,
        classes=[_label_value(v, plan.label_type) for v in label_labels],
        params=params,
        rows=rows,
        train_rows=train_rows,
        importances=importances,
        tuning=tuning,
        seconds=seconds,
    )


class _NotQuick(Exception):
    """The training rows cannot give the means after all: a feature the Parquet files said
    was complete has a NaN, or this Spark has not MLlib's summarizer of instances."""


_NAN_IN_PARQUET = "a feature has NaN values, which Parquet files do not count as missing"


@dataclass
class _Profile:
    """What one pass over the labelled rows learned."""

    rows: int
    present: dict[str, int]  # numeric, date, timestamp, boolean feature -> rows with a value
    means: dict[str, float | None]  # the same features -> mean of the training rows (mean impute)
    distinct: dict[str, int]  # categorical feature -> distinct values
    labels: int | None = None  # distinct labels, where the task must be guessed
    # column -> (value as text, training rows) pairs, where they were counted on the way:
    # StringIndexer's own count, so its pass is saved
    value_counts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


# A source Spark estimates at no more than this is profiled in this process from one collected
# batch: on small data each Spark job's fixed cost (planning, scheduling, a shuffle) is most
# of the time, and the profile and the indexers' counts would be several jobs.
_DRIVER_PROFILE_BYTES = 4 << 20

# More files than this and the footers are not read to learn that no value is missing.
_FOOTERS_READ_AT_MOST = 2000


def _fits_in_driver(frame: DataFrame) -> bool:
    """Whether ``frame`` is small enough, by Spark's own size estimate (no job runs), to be
    profiled in this process; never on Spark Connect, which has no such estimate to ask."""
    if is_connect(frame.sparkSession):
        return False
    from py4j.protocol import Py4JError

    try:
        size = frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()
        return int(str(size)) <= _DRIVER_PROFILE_BYTES  # a number, or Scala's BigInt
    except Py4JError:
        return False


def _complete_in_files(frame: DataFrame, columns: list[str]) -> bool:
    """Whether ``frame`` reads local Parquet files whose footers all say that ``columns``
    (top-level columns of theirs) hold no null; read in this process, no job runs. Any doubt
    (another format, a column not in the files, no statistics, too many files) is a no."""
    import pyarrow.parquet as pq
    from pyspark.errors import PySparkException

    try:
        files = frame.inputFiles()
    except PySparkException:
        return False
    if not files or len(files) > _FOOTERS_READ_AT_MOST:
        return False
    wanted = set(columns)
    for uri in files:
        if not uri.startswith("file:"):
            return False
        try:
            footer = pq.read_metadata(Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path)))
        except (OSError, ValueError):  # not Parquet (Arrow's errors are both)
            return False
        positions = {footer.schema.column(j).path: j for j in range(footer.num_columns)}
        if not wanted <= positions.keys():
            return False
        for g in range(footer.num_row_groups):
            group = footer.row_group(g)
            for name in wanted:
                stats = group.column(positions[name]).statistics
                if stats is None or not stats.has_null_count or stats.null_count != 0:
                    return False
    return True


def _profile_labels(marked: DataFrame, in_training: Column, plan: FeaturePlan) -> _Profile:
    """The profile of rows whose features have no missing value: the labelled rows, counted
    by class for a classification (the training rows' counts, in place of a StringIndexer
    pass); the means are learned later, from the materialised training rows."""
    from pyspark.sql import functions as F

    counts: dict[str, list[tuple[str, int]]] = {}
    if plan.task == "classification":
        found = (
            marked.groupBy(
                F.col(quote(plan.label)).cast("string").alias("y"), in_training.alias("t")
            )
            .count()
            .collect()
        )
        rows = sum(int(r["count"]) for r in found)
        counts[plan.label] = [(r["y"], int(r["count"])) for r in found if r["t"]]
    else:
        rows = marked.count()
    present = {f.name: rows for f in plan.features}
    return _Profile(rows=rows, present=present, means={}, distinct={}, value_counts=counts)


def _count_and_means(
    instances: Any, classes: int | None, spark: SparkSession
) -> tuple[int, list[float]]:
    """The number of training ``instances`` and the mean of each feature, in the pass that
    materialises them (MLlib's summarizer of instances); ``_NotQuick`` where a feature
    has a missing value (MLlib refuses NaN in instances) or the summarizer is not there."""
    from py4j.protocol import Py4JError, Py4JJavaError
    from pyspark.errors import PySparkException

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    try:
        summarizer = getattr(jvm.org.apache.spark.ml.stat, "Summarizer$").__getattr__("MODULE$")
        wanted = jvm.java.util.ArrayList()
        for metric in ("mean", "count"):
            wanted.add(metric)
        metrics = jvm.scala.jdk.javaapi.CollectionConverters.asScala(wanted).toList()
        with _quiet_failed_tasks(spark):
            pair = (
                summarizer.getClassificationSummarizers(instances, 2, metrics)
                if classes is not None
                else summarizer.getRegressionSummarizers(instances, 2, metrics)
            )
    except (Py4JJavaError, PySparkException) as error:  # MLlib: "... MUST NOT be NaN ..."
        if "NaN" in str(error):
            raise _NotQuick(_NAN_IN_PARQUET) from error
        raise
    except Py4JError as error:  # an entry point that is not there (another Spark)
        raise _NotQuick("this Spark has not MLlib's summarizer of training instances") from error
    features = pair._1()
    count = int(features.count())
    means = list(features.mean().toArray()) if count else []
    if any(math.isnan(m) for m in means):  # a missing value MLlib let through
        raise _NotQuick(_NAN_IN_PARQUET)
    return count, means


# The driver's loggers that report a failed task, with its trace, as it fails.
_TASK_FAILURE_LOGGERS = (
    "org.apache.spark.executor.Executor",
    "org.apache.spark.scheduler.TaskSetManager",
    "org.apache.spark.storage.BlockManager",
)


@contextmanager
def _quiet_failed_tasks(spark: SparkSession) -> Iterator[None]:
    """Spark's own report of a failed task kept off the console while this runs: where the
    failure is expected, and answered (the error still reaches the caller)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    log4j = jvm.org.apache.logging.log4j
    configurator = log4j.core.config.Configurator
    before = {name: log4j.LogManager.getLogger(name).getLevel() for name in _TASK_FAILURE_LOGGERS}
    for name in _TASK_FAILURE_LOGGERS:
        configurator.setLevel(name, log4j.Level.OFF)
    try:
        yield
    finally:
        for name, level in before.items():
            configurator.setLevel(name, level)


def _by_frequency(counts: list[tuple[str, int]]) -> list[str]:
    """Values in StringIndexer's ``frequencyDesc`` order: most frequent first, ties in Spark's
    string order (code points, as UTF-8 bytes compare)."""
    ordered = sorted(counts, key=lambda vc: (-vc[1], vc[0]))
    return [value for value, _ in ordered]


def _profile_on_spark(
    marked: DataFrame,
    in_training: Column,
    plan: FeaturePlan,
    options: TrainOptions,
    guess_task: bool,
) -> _Profile:
    """The profile in one Spark job: rows, values present, distinct categories, and the means
    of the training rows. (Grouping it by class, to count the classes on the way, costs more
    than the StringIndexer pass it would save.)"""
    from pyspark.sql import functions as F

    aggs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    categorical = [f for f in plan.features if f.kind == "categorical"]
    for f in plan.features:
        c = F.col(quote(f.name))
        if f.kind == "categorical":
            aggs.append(F.approx_count_distinct(c).alias(f"d:{f.name}"))
            continue
        present = (
            c.isNotNull() & ~F.isnan(c.cast("double")) if f.kind == "numeric" else c.isNotNull()
        )
        aggs.append(F.count(F.when(present, 1)).alias(f"n:{f.name}"))
        if options.impute == "mean":
            value = F.expr(_as_double(f)).cast("double")  # as Imputer casts its input
            aggs.append(F.avg(F.when(in_training & ~F.isnan(value), value)).alias(f"m:{f.name}"))
    if guess_task:
        aggs.append(F.approx_count_distinct(F.col(quote(plan.label))).alias("__labels"))
    found = marked.agg(*aggs).first()
    assert found is not None
    profile = _Profile(
        rows=int(found["__rows"]),
        present={},
        means={},
        distinct={f.name: int(found[f"d:{f.name}"]) for f in categorical},
        labels=int(found["__labels"]) if guess_task else None,
    )
    for f in plan.features:
        if f.kind == "categorical":
            continue
        profile.present[f.name] = int(found[f"n:{f.name}"])
        if options.impute == "mean":
            mean = found[f"m:{f.name}"]
            profile.means[f.name] = None if mean is None else float(mean)
    return profile


def _profile_in_driver(
    marked: DataFrame,
    in_training: Column,
    plan: FeaturePlan,
    options: TrainOptions,
    guess_task: bool,
) -> _Profile:
    """The profile of a small source from one collected Arrow batch of the columns it needs
    (the split mark computed by Spark, as ``split_rows`` computes it): the same figures as
    ``_profile_on_spark`` (exact where that one estimates distinct values), and the training
    rows' counts of every class and category, so that no StringIndexer pass is needed."""
    import numpy as np
    import pyarrow.compute as pc
    from pyspark.sql import functions as F

    columns = [in_training.alias("t"), F.col(quote(plan.label)).cast("string").alias("y")]
    for i, f in enumerate(plan.features):
        c = (
            F.col(quote(f.name)).cast("string")
            if f.kind == "categorical"
            else F.expr(_as_double(f)).cast("double")  # as Imputer casts its input
        )
        columns.append(c.alias(f"f{i}"))
    table = marked.select(*columns).toArrow()
    training = table.column("t").fill_null(False)
    in_train = training.to_numpy(zero_copy_only=False).astype(bool)

    def counted(values: Any) -> list[tuple[str, int]]:
        found = pc.value_counts(values.filter(training).drop_null())
        return list(
            zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True)
        )

    profile = _Profile(rows=table.num_rows, present={}, means={}, distinct={})
    classes = table.column("y")
    if guess_task:
        profile.labels = int(pc.count_distinct(classes, mode="only_valid").as_py())
    if plan.task == "classification":
        profile.value_counts[plan.label] = counted(classes)
    for i, f in enumerate(plan.features):
        column = table.column(f"f{i}")
        if f.kind == "categorical":
            profile.distinct[f.name] = int(pc.count_distinct(column, mode="only_valid").as_py())
            profile.value_counts[f.name] = counted(column)
            continue
        values = column.to_numpy(zero_copy_only=False)  # doubles; null is NaN
        given = ~np.isnan(values)
        profile.present[f.name] = int(given.sum())
        if options.impute == "mean":
            used = values[given & in_train]
            profile.means[f.name] = float(used.sum()) / len(used) if len(used) else None
    return profile


def _imputer_holding(imputer: Any, means: list[float], spark: SparkSession) -> Any:
    """The model ``imputer.fit`` gives on rows whose means are ``means`` (one per input column):
    built with those surrogates where Spark's ``ImputerModel`` takes them (Spark 4, classic
    session; no job runs), else fitted on one row of them (a small job)."""
    from pyspark.ml.feature import ImputerModel
    from pyspark.sql import functions as F

    columns = imputer.getInputCols()
    if not is_connect(spark):
        from py4j.protocol import Py4JError

        try:
            gateway, jvm = spark.sparkContext._gateway, spark.sparkContext._jvm
            assert gateway is not None and jvm is not None
            names = gateway.new_array(jvm.java.lang.String, len(columns))
            values = gateway.new_array(jvm.double, len(columns))
            for i, (column, mean) in enumerate(zip(columns, means, strict=True)):
                names[i], values[i] = column, mean
            java = jvm.org.apache.spark.ml.feature.ImputerModel(imputer.uid, names, values)
        except Py4JError:
            java = None
        if java is not None:
            model = ImputerModel(java)
            imputer._copyValues(model)
            model._transfer_params_to_java()
            return model
    # One row selected from a range: a DataFrame of Python rows costs a slower job.
    row = spark.range(1).select(
        *(F.lit(mean).cast("double").alias(c) for c, mean in zip(columns, means, strict=True))
    )
    return imputer.fit(row)


def _server_cores(spark: SparkSession) -> int:
    """The partitions Spark splits a range into by default (its cores, on a local master),
    found with a tiny job, as a Spark Connect client cannot ask the server's SparkContext."""
    from pyspark.sql import functions as F

    row = spark.range(0, 1 << 16).agg(F.max(F.spark_partition_id()).alias("p")).first()
    return 1 if row is None or row["p"] is None else int(row["p"]) + 1


def _can_checkpoint(spark: SparkSession) -> bool:
    """Whether Spark has a checkpoint folder (for a Spark Connect server: in its settings)."""
    if is_connect(spark):
        return bool(spark.conf.get("spark.checkpoint.dir", None))
    return spark.sparkContext.getCheckpointDir() is not None


def _estimator(
    task: str, impurity: str, max_bins: int, options: TrainOptions, *, spark: SparkSession
) -> Any:
    """MLlib's tree estimator with the options and our tuning."""
    from pyspark.ml.classification import DecisionTreeClassifier
    from pyspark.ml.regression import DecisionTreeRegressor

    deepest = max([options.max_depth, *options.grid.get("max_depth", [])])
    deep = deepest >= 10 and _can_checkpoint(spark)
    common: dict[str, Any] = {
        "featuresCol": FEATURES,
        "labelCol": LABEL,
        "maxDepth": options.max_depth,
        "maxBins": max_bins,
        "impurity": impurity,
        "minInstancesPerNode": options.min_instances_per_node,
        "minInfoGain": options.min_info_gain,
        "seed": options.seed,
        "maxMemoryInMB": 512,
        "cacheNodeIds": deep,
        "checkpointInterval": 10,
    }
    return (
        DecisionTreeClassifier(**common)
        if task == "classification"
        else DecisionTreeRegressor(**common)
    )


def _jvm_instances(estimator: Any, prepared: DataFrame, classes: int | None) -> Any:
    """``prepared`` as MLlib's training instances, made as ``fit`` makes them and kept in the
    JVM's memory (spilling to disk), counted by the caller; None where MLlib's entry points
    are not reachable (a Spark Connect session, another Spark), which then keeps rows."""
    spark = prepared.sparkSession
    if is_connect(spark):
        return None
    from py4j.protocol import Py4JError, Py4JJavaError

    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        utils = getattr(jvm.org.apache.spark.ml.util, "DatasetUtils$").__getattr__("MODULE$")
        estimator._transfer_params_to_java()
        count = jvm.scala.Some(classes) if classes is not None else jvm.scala.Option.apply(None)
        instances = utils.extractInstances(estimator._java_obj, prepared._jdf, count)
        instances.setName("training instances")
        return instances.persist(jvm.org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK())
    except Py4JJavaError:
        raise  # Spark's own error about the data: as fit would raise it
    except Py4JError:
        return None


def _grow(estimator: Any, prepared: DataFrame, instances: Any, classes: int | None) -> Any:
    """The tree ``estimator.fit(prepared)`` would return, grown from ``instances`` by the call
    ``fit`` makes (``RandomForest.run``, one tree, all features, the estimator's seed); None
    when one of those entry points is not there (the caller then calls ``fit``)."""
    from py4j.protocol import Py4JError, Py4JJavaError
    from pyspark.ml.classification import DecisionTreeClassificationModel
    from pyspark.ml.regression import DecisionTreeRegressionModel

    jvm = prepared.sparkSession.sparkContext._jvm
    assert jvm is not None
    java = estimator._java_obj
    try:
        categorical = jvm.org.apache.spark.ml.util.MetadataUtils.getCategoricalFeatures(
            prepared._jdf.schema().apply(FEATURES)
        )
        strategy = (
            java.getOldStrategy(categorical, classes)
            if classes is not None
            else java.getOldStrategy(categorical)
        )
        trees = jvm.org.apache.spark.ml.tree.impl.RandomForest.run(
            instances,
            strategy,
            1,
            "all",
            int(estimator.getOrDefault(estimator.seed)),
            jvm.scala.Option.apply(None),
            True,
            jvm.scala.Some(java.uid()),
        )
    except Py4JJavaError:
        raise  # Spark's own error about the data: as fit would raise it
    except Py4JError:
        return None
    model: Any = (
        DecisionTreeClassificationModel(trees[0])
        if classes is not None
        else DecisionTreeRegressionModel(trees[0])
    )
    estimator._copyValues(model)
    model._transfer_params_to_java()
    return model


def _search(
    estimator: Any,
    prepared: DataFrame,
    task: str,
    options: TrainOptions,
    max_bins: int,
    log: Log,
) -> tuple[Any, list[dict[str, Any]]]:
    """The best tree of the ``--grid`` search, and each parameter set's score."""
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator, RegressionEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

    classify = task == "classification"
    builder = ParamGridBuilder()
    names = {
        "max_depth": estimator.maxDepth,
        "max_bins": estimator.maxBins,
        "min_instances_per_node": estimator.minInstancesPerNode,
        "min_info_gain": estimator.minInfoGain,
        "impurity": estimator.impurity,
    }
    for name, values in options.grid.items():
        if name == "max_bins" and any(v < max_bins for v in values):
            raise InvalidInput(
                f"--grid max_bins values must be at least {max_bins} for these categorical features"
            )
        builder = builder.addGrid(names[name], values)
    grid = builder.build()
    evaluator: Any = (
        MulticlassClassificationEvaluator(
            labelCol=LABEL, predictionCol="prediction", metricName="accuracy"
        )
        if classify
        else RegressionEvaluator(labelCol=LABEL, predictionCol="prediction", metricName="rmse")
    )
    if options.cv_folds:
        log(f"Searching {len(grid)} parameter sets with {options.cv_folds}-fold cross-validation")
        search: Any = CrossValidator(
            estimator=estimator,
            estimatorParamMaps=grid,
            evaluator=evaluator,
            numFolds=options.cv_folds,
            seed=options.seed,
        )
    else:
        log(f"Searching {len(grid)} parameter sets on a train/validation split (0.8/0.2)")
        search = TrainValidationSplit(
            estimator=estimator,
            estimatorParamMaps=grid,
            evaluator=evaluator,
            trainRatio=0.8,
            seed=options.seed,
        )
    model = search.fit(prepared)
    scores = model.avgMetrics if options.cv_folds else model.validationMetrics
    metric = "accuracy" if classify else "rmse"
    tuning = [
        {"params": {p.name: v for p, v in params.items()}, metric: float(score)}
        for params, score in zip(grid, scores, strict=True)
    ]
    return model.bestModel, tuning


# ---- evaluation --------------------------------------------------------------------------------


def evaluate(
    pipeline: PipelineModel,
    test: DataFrame,
    plan: FeaturePlan,
    classes: list[Any],
) -> dict[str, Any]:
    """Metrics of ``pipeline`` on the ``test`` rows, in one pass over them."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    label = plan.label
    scored = pipeline.transform(test)
    if plan.task == "regression":
        y = F.col(quote(label)).cast("double")
        err = y - F.col("prediction")
        row = scored.agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(err * err).alias("sse"),
            F.sum(F.abs(err)).alias("sae"),
            F.sum(y).alias("sy"),
            F.sum(y * y).alias("syy"),
        ).first()
        assert row is not None
        n = int(row["n"])
        if n == 0:
            return {"test_rows": 0}
        mean = row["sy"] / n
        sst = row["syy"] - n * mean * mean
        return {
            "test_rows": n,
            "rmse": math.sqrt(row["sse"] / n),
            "mae": row["sae"] / n,
            "r2": 1.0 - row["sse"] / sst if sst > 0 else float("nan"),
        }
    names = [str(c) for c in classes]
    index = {name: i for i, name in enumerate(names)}
    actual = F.col(quote(label)).cast("string")
    grouped = scored.groupBy(
        actual.alias("actual"),
        F.col("prediction").cast("int").alias("predicted"),
        (vector_to_array(F.col("probability"))[1] if len(names) == 2 else F.lit(0.0)).alias("p1"),
    ).count()
    counts = [(r["actual"], r["predicted"], r["p1"], r["count"]) for r in grouped.collect()]
    unseen = sorted({a for a, _, _, _ in counts if a not in index})
    labels = names + [f"{u} (not in training)" for u in unseen]
    for u in unseen:
        index[u] = len(index)
    size = len(labels)
    matrix = [[0] * size for _ in range(size)]
    for a, p, _, n in counts:
        matrix[index[a]][p] += n
    return classification_metrics(matrix, labels) | (
        {"area_under_roc": _auc([(index[a], p1, n) for a, _, p1, n in counts])}
        if len(names) == 2
        else {}
    )


def classification_metrics(matrix: list[list[int]], labels: list[str]) -> dict[str, Any]:
    """Accuracy, weighted precision/recall/F1 and per-class metrics from a confusion matrix
    (rows: actual, columns: predicted), as MLlib's MulticlassMetrics defines them."""
    total = sum(map(sum, matrix))
    per_class = {}
    weighted = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    for i, name in enumerate(labels):
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        tp = matrix[i][i]
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
        if total:
            for key, value in (("precision", precision), ("recall", recall), ("f1", f1)):
                weighted[key] += value * support / total
    return {
        "test_rows": total,
        "accuracy": sum(matrix[i][i] for i in range(len(labels))) / total if total else 0.0,
        "weighted_precision": weighted["precision"],
        "weighted_recall": weighted["recall"],
        "weighted_f1": weighted["f1"],
        "per_class": per_class,
        "confusion_matrix": {"labels": labels, "matrix": matrix},
    }


def _auc(points: list[tuple[int, float, int]]) -> float | None:
    """Area under ROC from (actual index, score of class 1, count), ties as one step."""
    by_score: dict[float, list[int]] = {}
    for actual, score, n in points:
        pos_neg = by_score.setdefault(score, [0, 0])
        pos_neg[0 if actual == 1 else 1] += n
    positives = sum(v[0] for v in by_score.values())
    negatives = sum(v[1] for v in by_score.values())
    if positives == 0 or negatives == 0:
        return None
    area = tp = 0.0
    for score in sorted(by_score, reverse=True):
        dp, dn = by_score[score]
        area += dn * (tp + dp / 2)
        tp += dp
    return area / (positives * negatives)
