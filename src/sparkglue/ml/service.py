"""Models: training and prediction runs, the registry in the store and the folders in the lake.

A model version lives in ``lake/models/NAME/vN/``: ``pipeline/`` (the Spark ``PipelineModel``),
``model.json`` (format version, features, classes, params, metrics, lineage), ``rules.txt``,
``tree.svg`` and, for classification, ``confusion_matrix.png``; ``feature_importances.png``.
The store lists the versions and aliases. A version is written to a hidden folder first and
renamed into place when complete, so a failed training leaves nothing behind.

Training and batch prediction are runs (``mlr_…``): RUNNING → SUCCEEDED | FAILED, with a log
file; a run whose process died is marked ERROR by the next process that reads runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sparkglue.catalog import Column, DatabaseInput, DataCatalog, TableInput
from sparkglue.config import Settings
from sparkglue.console import Console, NullConsole
from sparkglue.errors import (
    AlreadyExists,
    EntityNotFound,
    InvalidInput,
    SparkError,
    SparkGlueError,
)
from sparkglue.ml.predictor import (
    FORMAT_VERSION,
    MODEL_FILE,
    PIPELINE_DIR,
    Predictor,
    read_model_json,
)
from sparkglue.ml.specs import TrainOptions, plan_features
from sparkglue.spark import calls_without_collector, is_connect
from sparkglue.store import MetadataStore, new_record_id, process_alive, utc_now
from sparkglue.store import schema as s

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["MLRun", "MLService", "ModelVersion", "parse_model_ref"]

MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,127}")
ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_CHECK_ROWS = 1000


@dataclass
class ModelVersion:
    name: str
    version: int
    task: str
    location: str
    metadata: dict[str, Any]
    aliases: list[str]
    run_id: str | None
    created_at: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MLRun:
    id: str
    kind: str  # TRAIN | PREDICT
    model: str
    model_version: int | None
    state: str
    arguments: dict[str, Any]
    started_at: str
    finished_at: str | None
    error_message: str | None
    metrics: dict[str, Any]
    log_path: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_model_ref(ref: str) -> tuple[str, int | str | None]:
    """``NAME`` (latest), ``NAME:3`` (version) or ``NAME@production`` (alias)."""
    name, version, alias = ref, None, None
    if "@" in ref:
        name, alias = ref.split("@", 1)
    elif ":" in ref:
        name, raw = ref.split(":", 1)
        if not raw.isdigit() or int(raw) < 1:
            raise InvalidInput(f"model '{ref}': the version after ':' must be 1, 2, …")
        version = int(raw)
    if not MODEL_NAME.fullmatch(name):
        raise InvalidInput(
            f"model name '{name}' is invalid: use letters, digits, '_' and '-', starting with a "
            "letter"
        )
    if alias is not None and not ALIAS.fullmatch(alias):
        raise InvalidInput(f"alias '{alias}' is invalid: use letters, digits, '_' and '-'")
    return name, version if alias is None else alias


def _run(row: Any) -> MLRun:
    return MLRun(
        id=row.id,
        kind=row.kind,
        model=row.model_name,
        model_version=row.model_version,
        state=row.state,
        arguments=dict(row.arguments or {}),
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_message=row.error_message,
        metrics=dict(row.metrics or {}),
        log_path=row.log_path,
    )


class MLService:
    """Training, the model registry, batch prediction and compiled predictors.

    Args:
        store: the metadata store.
        catalog: the Data Catalog (training tables, prediction outputs).
        settings: workspace settings (the lake, the logs folder).
        spark: returns the Spark session with the catalog attached (called only when needed).
        console: where progress goes.
    """

    def __init__(
        self,
        store: MetadataStore,
        catalog: DataCatalog,
        settings: Settings,
        spark: Callable[[], SparkSession],
        console: Console | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self._spark = spark
        self.console: Console = console or NullConsole()
        self.models_root = settings.lake_root / "models"
        self.logs_dir = settings.workspace / "logs"

    # ---- runs ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _recorded(
        self, kind: str, model: str, arguments: dict[str, Any]
    ) -> Iterator[tuple[str, Callable[[str], None], dict[str, Any]]]:
        """A run record around the work: yields (run id, log, metrics to fill)."""
        run_id = new_record_id("mlr")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{run_id}.log"
        started = time.perf_counter()
        with self.store.write() as conn:
            conn.execute(
                s.ml_runs.insert().values(
                    id=run_id,
                    kind=kind,
                    model_name=model,
                    model_version=None,
                    state="RUNNING",
                    arguments=arguments,
                    started_at=utc_now(),
                    metrics={},
                    log_path=str(log_path),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            )
        metrics: dict[str, Any] = {}
        with log_path.open("a", encoding="utf-8") as log_file:

            def log(text: str, *, quiet: bool = False) -> None:
                log_file.write(f"{utc_now()} {text}\n")
                log_file.flush()
                if not quiet:
                    self.console.step(text)

            log(f"{kind} run {run_id} of model {model} started")
            try:
                yield run_id, log, metrics
            except BaseException as exc:
                message = exc.message if isinstance(exc, SparkGlueError) else _first_line(exc)
                log(f"FAILED: {message}", quiet=True)
                metrics["ExecutionTime"] = round(time.perf_counter() - started, 3)
                self._finish(run_id, "FAILED", message, metrics)
                if type(exc).__module__.startswith(("pyspark", "py4j")):
                    raise SparkError(
                        f"Spark failed in {kind.lower()} run {run_id}: {message} (log: {log_path})"
                    ) from None
                raise
            metrics["ExecutionTime"] = round(time.perf_counter() - started, 3)
            log(f"SUCCEEDED in {metrics['ExecutionTime']} s")
            self._finish(run_id, "SUCCEEDED", None, metrics)

    def _finish(self, run_id: str, state: str, error: str | None, metrics: dict[str, Any]) -> None:
        version = metrics.get("model_version")
        with self.store.write() as conn:
            conn.execute(
                s.ml_runs.update()
                .where(s.ml_runs.c.id == run_id)
                .values(
                    state=state,
                    finished_at=utc_now(),
                    error_message=error,
                    metrics=json.loads(json.dumps(_finite(metrics), default=str)),
                    **({"model_version": version} if version else {}),
                )
            )

    def recover(self) -> int:
        """Mark ERROR the running runs of this host whose process is gone."""
        host = socket.gethostname()
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(s.ml_runs.c.id, s.ml_runs.c.pid).where(
                    s.ml_runs.c.state == "RUNNING", s.ml_runs.c.host == host
                )
            ).all()
        dead = [r.id for r in rows if r.pid is not None and not process_alive(r.pid)]
        for run_id in dead:
            self._finish(run_id, "ERROR", "the run's process ended without a final state", {})
        return len(dead)

    def get_run(self, run_id: str) -> MLRun:
        self.recover()
        with self.store.read() as conn:
            row = conn.execute(sa.select(s.ml_runs).where(s.ml_runs.c.id == run_id)).first()
        if row is None:
            raise EntityNotFound(f"ml run '{run_id}' not found; see `sparkglue ml runs`")
        return _run(row)

    def list_runs(self, model: str | None = None) -> list[MLRun]:
        self.recover()
        query = sa.select(s.ml_runs).order_by(s.ml_runs.c.started_at.desc(), s.ml_runs.c.id.desc())
        if model is not None:
            query = query.where(s.ml_runs.c.model_name == model)
        with self.store.read() as conn:
            return [_run(r) for r in conn.execute(query).all()]

    # ---- training ------------------------------------------------------------------------------

    def train(self, name: str, options: TrainOptions) -> ModelVersion:
        """Train, evaluate and register a new version of model ``name`` (a recorded run).

        Raises:
            InvalidInput: a bad option, label or feature (before Spark starts).
            EntityNotFound: the table is not in the catalog.
        """
        parse_model_ref(name)
        if ":" in name or "@" in name:
            raise InvalidInput(f"train takes a model name, not a version: '{name}'")
        options.check()
        database, table_name = options.table.split(".", 1)
        table = self.catalog.get_table(database, table_name)
        plan = plan_features(table, options)
        options.check_impurity(plan.task)
        with (
            self._recorded(
                "TRAIN",
                name,
                {"table": options.table, "label": options.label}
                | {k: v for k, v in options.params().items() if v not in (None, {})},
            ) as (run_id, log, metrics),
            calls_without_collector(self._spark()),
        ):
            return self._train(name, options, table, plan, run_id, log, metrics)

    def _train(
        self,
        name: str,
        options: TrainOptions,
        table: Any,
        plan: Any,
        run_id: str,
        log: Callable[[str], None],
        metrics: dict[str, Any],
    ) -> ModelVersion:
        from sparkglue.ml import render
        from sparkglue.ml.training import evaluate, fit_pipeline, labelled, quote, split_rows

        spark = self._spark()
        if not is_connect(spark):  # a Connect client has no SparkContext to label jobs in
            spark.sparkContext.setJobDescription(f"sparkglue ml train {name}")
        source = spark.table(f"{quote(table.database)}.{quote(table.name)}")
        fitted = fit_pipeline(source, plan, options, log)
        for column, why in plan.left_out:
            self.console.warning(f"column '{column}' left out: {why}")
        clock = time.perf_counter()
        test = split_rows(labelled(source, plan), options, test=True)
        scores = evaluate(fitted.pipeline, test, plan, fitted.classes)
        fitted.seconds["evaluate"] = time.perf_counter() - clock
        log(_metrics_line(plan.task, scores))

        self.models_root.mkdir(parents=True, exist_ok=True)
        staging = self.models_root / name / f".{run_id}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:
            clock = time.perf_counter()
            fitted.pipeline.write().overwrite().save(str(staging / PIPELINE_DIR))
            fitted.seconds["save"] = time.perf_counter() - clock
            meta: dict[str, Any] = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "version": 0,  # set when registered
                "task": plan.task,
                "description": options.description,
                "label": {"name": plan.label, "type": plan.label_type},
                "classes": fitted.classes,
                "features": fitted.features,
                "left_out": [{"column": c, "why": why} for c, why in plan.left_out],
                "params": fitted.params,
                "tuning": fitted.tuning,
                "metrics": scores,
                "feature_importances": dict(fitted.importances),
                "training": {
                    "table": table.full_name,
                    "table_version": table.version,
                    "rows": fitted.rows,
                    "train_rows": fitted.train_rows,
                    "test_rows": scores.get("test_rows", 0),
                    "split": f"rand({options.seed}) < {1 - options.test_fraction} is training",
                    "seconds": {k: round(v, 3) for k, v in fitted.seconds.items()},
                },
                "spark_version": spark.version,
                "sparkglue_version": _sparkglue_version(),
                "created_at": utc_now(),
                "run_id": run_id,
            }
            _write_json(staging / MODEL_FILE, meta)
            predictor = Predictor.load(staging)
            checked = self._check_compiled(predictor, fitted.pipeline, test, plan.task)
            meta["training"]["compiled_check"] = checked
            log(f"Compiled predictor agrees with Spark on {checked} test rows")
            tree = predictor.tree
            rules = render.rules_text(
                tree, predictor.features, task=plan.task, classes=list(predictor.classes)
            )
            (staging / "rules.txt").write_text(rules + "\n", encoding="utf-8")
            (staging / "tree.svg").write_text(
                render.tree_svg(
                    tree,
                    predictor.features,
                    task=plan.task,
                    classes=list(predictor.classes),
                    title=f"{name}: {plan.label} from {table.full_name}",
                ),
                encoding="utf-8",
            )
            if plan.task == "classification":
                cm = scores["confusion_matrix"]
                render.confusion_matrix_png(
                    cm["matrix"],
                    cm["labels"],
                    staging / "confusion_matrix.png",
                    title=f"{name}: test rows, accuracy {scores['accuracy']:.3f}",
                )
            render.importances_png(
                fitted.importances,
                staging / "feature_importances.png",
                title=f"{name}: feature importances",
            )
            meta["tree"] = {"depth": tree.depth, "nodes": tree.node_count}
            version = self._register(name, staging, meta, run_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        metrics.update(
            model_version=version.version,
            rows=fitted.rows,
            train_rows=fitted.train_rows,
            **{k: v for k, v in scores.items() if isinstance(v, int | float)},
        )
        log(
            f"Registered {version.ref} at {version.location}: depth {tree.depth}, "
            f"{tree.node_count} nodes"
        )
        return version

    def _check_compiled(
        self, predictor: Predictor, pipeline: Any, test: DataFrame, task: str
    ) -> int:
        """Compare the compiled predictor with Spark on up to 1,000 test rows."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        names = [f.name for f in predictor.features]
        scored = pipeline.transform(test.limit(_CHECK_ROWS))
        extra = [F.col("prediction").alias("__p")]
        if task == "classification":
            extra.append(vector_to_array(F.col("probability")).alias("__probs"))
        rows = scored.select(*(F.col(f"`{n}`") for n in names), *extra).collect()
        records = [{n: r[n] for n in names} for r in rows]
        answers = predictor.predict(records)
        for r, answer in zip(rows, answers, strict=True):
            if task == "classification":
                expected = predictor.classes[int(r["__p"])]
                probs = list(answer["probabilities"].values())
                close = all(abs(a - b) <= 1e-9 for a, b in zip(probs, r["__probs"], strict=True))
                if answer["prediction"] != expected or not close:
                    raise SparkGlueError(
                        f"the compiled predictor disagrees with Spark on "
                        f"{ {n: r[n] for n in names} }: {answer['prediction']} vs {expected}; "
                        "please report it"
                    )
            elif abs(answer["prediction"] - r["__p"]) > 1e-9 * max(1.0, abs(r["__p"])):
                raise SparkGlueError(
                    f"the compiled predictor disagrees with Spark: {answer['prediction']} vs "
                    f"{r['__p']}; please report it"
                )
        return len(rows)

    def _register(
        self, name: str, staging: Path, meta: dict[str, Any], run_id: str
    ) -> ModelVersion:
        with self.store.write() as conn:
            latest = conn.execute(
                sa.select(sa.func.max(s.ml_models.c.version)).where(s.ml_models.c.name == name)
            ).scalar()
            version = int(latest or 0) + 1
            while (self.models_root / name / f"v{version}").exists():
                version += 1  # a folder left by a deleted store: never overwrite it
            target = self.models_root / name / f"v{version}"
            meta["version"] = version
            _write_json(staging / MODEL_FILE, meta)
            staging.rename(target)
            try:
                conn.execute(
                    s.ml_models.insert().values(
                        name=name,
                        version=version,
                        task=meta["task"],
                        location=str(target),
                        metadata=json.loads(json.dumps(_finite(meta), default=str)),
                        run_id=run_id,
                        created_at=meta["created_at"],
                    )
                )
            except BaseException:
                target.rename(staging)
                raise
        return self.get_model(f"{name}:{version}")

    # ---- the registry --------------------------------------------------------------------------

    def _aliases(self, conn: Any, name: str | None = None) -> dict[tuple[str, int], list[str]]:
        query = sa.select(s.ml_model_aliases)
        if name is not None:
            query = query.where(s.ml_model_aliases.c.name == name)
        out: dict[tuple[str, int], list[str]] = {}
        for row in conn.execute(query.order_by(s.ml_model_aliases.c.alias)).all():
            out.setdefault((row.name, row.version), []).append(row.alias)
        return out

    def _version(self, row: Any, aliases: dict[tuple[str, int], list[str]]) -> ModelVersion:
        return ModelVersion(
            name=row.name,
            version=row.version,
            task=row.task,
            location=row.location,
            metadata=dict(row.metadata),
            aliases=aliases.get((row.name, row.version), []),
            run_id=row.run_id,
            created_at=row.created_at,
        )

    def list_models(self, name: str | None = None) -> list[ModelVersion]:
        """Every registered version (of ``name``), newest first within a name."""
        query = sa.select(s.ml_models).order_by(s.ml_models.c.name, s.ml_models.c.version.desc())
        if name is not None:
            query = query.where(s.ml_models.c.name == name)
        with self.store.read() as conn:
            aliases = self._aliases(conn, name)
            return [self._version(r, aliases) for r in conn.execute(query).all()]

    def get_model(self, ref: str) -> ModelVersion:
        """``NAME`` (latest), ``NAME:3`` or ``NAME@alias``.

        Raises:
            EntityNotFound: no such model, version or alias.
        """
        name, which = parse_model_ref(ref)
        with self.store.read() as conn:
            if isinstance(which, str):
                version = conn.execute(
                    sa.select(s.ml_model_aliases.c.version).where(
                        s.ml_model_aliases.c.name == name, s.ml_model_aliases.c.alias == which
                    )
                ).scalar()
                if version is None:
                    raise EntityNotFound(
                        f"model '{name}' has no alias '{which}'; see `sparkglue ml show {name}`"
                    )
            else:
                version = which
            query = sa.select(s.ml_models).where(s.ml_models.c.name == name)
            query = (
                query.where(s.ml_models.c.version == version)
                if version is not None
                else query.order_by(s.ml_models.c.version.desc()).limit(1)
            )
            row = conn.execute(query).first()
            if row is None:
                if (
                    version is not None
                    and conn.execute(
                        sa.select(s.ml_models.c.id).where(s.ml_models.c.name == name).limit(1)
                    ).first()
                ):
                    raise EntityNotFound(
                        f"model '{name}' has no version {version}; see `sparkglue ml show {name}`"
                    )
                raise EntityNotFound(
                    f"model '{name}' not found; see `sparkglue ml models` for the trained models"
                )
            return self._version(row, self._aliases(conn, name))

    def compare(self, a: str, b: str) -> dict[str, Any]:
        """Params, metrics and features of two versions side by side, with differences."""
        left, right = self.get_model(a), self.get_model(b)
        out: dict[str, Any] = {"models": [left.ref, right.ref]}
        for section in ("params", "metrics"):
            l_values = {
                k: v for k, v in left.metadata.get(section, {}).items() if not isinstance(v, dict)
            }
            r_values = {
                k: v for k, v in right.metadata.get(section, {}).items() if not isinstance(v, dict)
            }
            rows = []
            for key in sorted(set(l_values) | set(r_values)):
                lv, rv = l_values.get(key), r_values.get(key)
                delta = (
                    rv - lv if isinstance(lv, int | float) and isinstance(rv, int | float) else None
                )
                rows.append({"name": key, "a": lv, "b": rv, "delta": delta, "same": lv == rv})
            out[section] = rows
        lf = [f["name"] for f in left.metadata.get("features", [])]
        rf = [f["name"] for f in right.metadata.get("features", [])]
        out["features"] = {
            "only_a": [f for f in lf if f not in rf],
            "only_b": [f for f in rf if f not in lf],
            "both": [f for f in lf if f in rf],
        }
        out["training"] = {
            "a": left.metadata.get("training", {}).get("table"),
            "b": right.metadata.get("training", {}).get("table"),
        }
        return out

    def promote(self, ref: str, alias: str) -> ModelVersion:
        """Point ``alias`` (e.g. ``production``) of the model at this version."""
        if not ALIAS.fullmatch(alias) or alias.isdigit():
            raise InvalidInput(f"alias '{alias}' is invalid: use letters, digits, '_' and '-'")
        model = self.get_model(ref)
        with self.store.write() as conn:
            conn.execute(
                s.ml_model_aliases.delete().where(
                    s.ml_model_aliases.c.name == model.name, s.ml_model_aliases.c.alias == alias
                )
            )
            conn.execute(
                s.ml_model_aliases.insert().values(
                    name=model.name, alias=alias, version=model.version, updated_at=utc_now()
                )
            )
        return self.get_model(model.ref)

    def delete(self, ref: str) -> list[ModelVersion]:
        """Delete one version (``NAME:3``) or, given a bare name, every version of the model,
        with their folders and aliases."""
        name, which = parse_model_ref(ref)
        doomed = [self.get_model(ref)] if which is not None else self.list_models(name)
        if not doomed:
            raise EntityNotFound(f"model '{name}' not found; see `sparkglue ml models`")
        with self.store.write() as conn:
            for m in doomed:
                conn.execute(
                    s.ml_models.delete().where(
                        s.ml_models.c.name == m.name, s.ml_models.c.version == m.version
                    )
                )
                conn.execute(
                    s.ml_model_aliases.delete().where(
                        s.ml_model_aliases.c.name == m.name,
                        s.ml_model_aliases.c.version == m.version,
                    )
                )
        for m in doomed:
            shutil.rmtree(m.location, ignore_errors=True)
        folder = self.models_root / name
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
        return doomed

    def load_predictor(self, ref: str) -> Predictor:
        """The compiled predictor of a version (no JVM)."""
        model = self.get_model(ref)
        return Predictor.load(model.location)

    # ---- batch prediction ----------------------------------------------------------------------

    def predict(self, ref: str, table: str, output: str, *, mode: str = "overwrite") -> MLRun:
        """Score every row of ``table`` and write ``output`` (Parquet, registered in the catalog).

        Raises:
            InvalidInput: the input lacks a feature column, or ``output`` is the input.
        """
        model = self.get_model(ref)
        for value, flag in ((table, "--table"), (output, "--output")):
            if value.count(".") != 1:
                raise InvalidInput(f"{flag} '{value}' must be DATABASE.TABLE")
        if table == output:
            raise InvalidInput(f"--output {output} is the input table; choose another name")
        if mode not in ("overwrite", "error"):
            raise InvalidInput(f"mode '{mode}' is not overwrite or error")
        database, name = table.split(".", 1)
        source_table = self.catalog.get_table(database, name)
        columns = {c.name for c in [*source_table.columns, *source_table.partition_keys]}
        meta = read_model_json(Path(model.location))
        missing = [f["name"] for f in meta["features"] if f["name"] not in columns]
        if missing:
            raise InvalidInput(
                f"{table} has no column '{missing[0]}', a feature of model {model.ref}; "
                f"the model needs {', '.join(f['name'] for f in meta['features'])}"
            )
        out_db, out_name = output.split(".", 1)
        try:
            existing = self.catalog.get_table(out_db, out_name)
        except EntityNotFound:
            existing = None
        if existing is not None and mode == "error":
            raise AlreadyExists(f"table {output} exists; drop it or use overwrite")
        location = (
            existing.location
            if existing is not None and existing.location
            else str(self.settings.lake_root / out_db / out_name)
        )
        arguments = {"model": model.ref, "table": table, "output": output}
        with self._recorded("PREDICT", model.name, arguments) as (_run_id, log, metrics):
            metrics["model_version"] = model.version
            with calls_without_collector(self._spark()):
                rows = self._predict(model, meta, source_table, out_db, out_name, location, log)
            metrics.update(records_read=rows, records_written=rows, output=output)
        return self.get_run(_run_id)

    def _predict(
        self,
        model: ModelVersion,
        meta: dict[str, Any],
        source_table: Any,
        out_db: str,
        out_name: str,
        location: str,
        log: Callable[[str], None],
    ) -> int:
        from pyspark.ml import PipelineModel
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        from sparkglue.ml.training import quote

        spark = self._spark()
        if not is_connect(spark):
            spark.sparkContext.setJobDescription(f"sparkglue ml predict {model.ref}")
        pipeline = PipelineModel.load(str(Path(model.location) / PIPELINE_DIR))
        source = spark.table(f"{quote(source_table.database)}.{quote(source_table.name)}")
        clash = [
            c
            for c in ("prediction", "probability", "probabilities", "model_version")
            if c in source.columns
        ]
        if clash:
            raise InvalidInput(
                f"{source_table.full_name} already has a column '{clash[0]}'; "
                "predictions would overwrite it: select the input into another table first"
            )
        scored = pipeline.transform(source)
        outputs = [F.col(quote(c)) for c in source.columns]
        if meta["task"] == "classification":
            classes = meta["classes"]
            label_type = _spark_type(meta["label"]["type"], T)
            lookup = F.array(*(F.lit(c) for c in classes)).cast(T.ArrayType(label_type))
            probs = vector_to_array(F.col("probability"))
            outputs += [
                F.element_at(lookup, F.col("prediction").cast("int") + 1).alias("prediction"),
                F.array_max(probs).alias("probability"),
                F.map_from_arrays(F.array(*(F.lit(str(c)) for c in classes)), probs).alias(
                    "probabilities"
                ),
            ]
        else:
            outputs.append(F.col("prediction"))
        outputs.append(F.lit(model.version).alias("model_version"))
        result = scored.select(*outputs)
        log(f"Scoring {source_table.full_name} with {model.ref} into {out_db}.{out_name}")
        staging = Path(location).parent / f".{Path(location).name}.writing"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            result.write.mode("overwrite").parquet(str(staging))
            if Path(location).exists():
                shutil.rmtree(location)
            staging.rename(location)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        types = {f.name: f.dataType.simpleString() for f in result.schema.fields}
        table_input = TableInput(
            name=out_name,
            description=f"Predictions of model {model.ref} for {source_table.full_name}",
            columns=[Column(name=c, type=types[c]) for c in result.columns],
            location=location,
            parameters={"classification": "parquet", "sparkglue.model": model.ref},
        )
        try:
            self.catalog.get_database(out_db)
        except EntityNotFound:
            self.catalog.create_database(DatabaseInput(name=out_db))
        try:
            self.catalog.get_table(out_db, out_name)
            self.catalog.update_table(out_db, table_input)
        except EntityNotFound:
            self.catalog.create_table(out_db, table_input)
        with contextlib.suppress(Exception):
            spark.sql(f"REFRESH TABLE {quote(out_db)}.{quote(out_name)}")
        rows = spark.read.parquet(location).count()
        log(f"Wrote {rows} predictions to {out_db}.{out_name} ({location})")
        return rows


def _spark_type(type_text: str, T: Any) -> Any:
    return T._parse_datatype_string(type_text)


def _metrics_line(task: str, m: dict[str, Any]) -> str:
    if task == "regression":
        return (
            f"Test rows {m.get('test_rows')}: RMSE {m.get('rmse', float('nan')):.4g}, "
            f"MAE {m.get('mae', float('nan')):.4g}, R² {m.get('r2', float('nan')):.4f}"
        )
    auc = f", AUC {m['area_under_roc']:.4f}" if m.get("area_under_roc") is not None else ""
    return (
        f"Test rows {m['test_rows']}: accuracy {m['accuracy']:.4f}, weighted F1 "
        f"{m['weighted_f1']:.4f}{auc}"
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN: undefined metrics (R² of a constant label) become null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    text = json.dumps(_finite(data), indent=2, default=str, allow_nan=False)
    tmp.write_text(text + "\n", "utf-8")
    tmp.replace(path)


def _sparkglue_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparkglue")
    except PackageNotFoundError:
        return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
