"""The compiled predictor: a trained pipeline as plain Python and NumPy, with no JVM.

A model folder holds the Spark ``PipelineModel`` (``pipeline/``) and ``model.json``. Compiling
reads what Spark saved for each stage (the imputer's surrogates, the string indexers' labels, the
tree's nodes, all Parquet) and rebuilds the same arithmetic: cast, impute, index, walk the tree.
One record takes a few microseconds in pure Python; a batch walks the tree with NumPy.

Answers agree with Spark's ``PipelineModel.transform``: the same class (the first of equal
counts wins, as in Spark) and probabilities equal to the leaf's class counts over their sum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sparkglue.errors import InvalidInput, SparkGlueError

__all__ = [
    "FORMAT_VERSION",
    "CompiledTree",
    "Feature",
    "InvalidRecord",
    "ModelFormatError",
    "Predictor",
    "read_model_json",
]

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
PIPELINE_DIR = "pipeline"
_EPOCH = date(1970, 1, 1)


class ModelFormatError(SparkGlueError):
    """A model folder is missing, damaged, or of a format version this release cannot read."""

    code = "model_format"


class InvalidRecord(InvalidInput):
    """A record sent for prediction is malformed (a missing feature, a value of the wrong kind)."""

    code = "invalid_record"
    http_status = 422


@dataclass(frozen=True)
class Feature:
    """One input column of a model, in the order the tree numbers its features."""

    name: str
    kind: str  # numeric | boolean | date | timestamp | categorical
    type: str  # the catalog type it was trained from
    fill: float | None = None  # numeric kinds: the imputer's surrogate for a missing value
    categories: tuple[str, ...] = ()  # categorical: index order; anything else is "unseen"

    @property
    def unseen_index(self) -> int:
        return len(self.categories)


@dataclass(frozen=True)
class CompiledTree:
    """A decision tree as parallel arrays indexed by node (node 0 is the root).

    ``feature[n] == -1`` marks a leaf. A continuous split sends a value ``<= threshold[n]``
    left; a categorical split sends a category index in ``left_categories[n]`` left.
    ``stats[n]`` are Spark's impurity statistics: class counts for classification,
    (count, sum, sum of squares) for regression.
    """

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    categorical: tuple[bool, ...]
    left_categories: tuple[frozenset[int], ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    prediction: tuple[float, ...]
    impurity: tuple[float, ...]
    gain: tuple[float, ...]
    count: tuple[int, ...]
    stats: tuple[tuple[float, ...], ...]

    @property
    def node_count(self) -> int:
        return len(self.feature)

    def is_leaf(self, node: int) -> bool:
        return self.feature[node] < 0

    @property
    def depth(self) -> int:
        deepest = 0
        stack = [(0, 0)]
        while stack:
            node, d = stack.pop()
            deepest = max(deepest, d)
            if not self.is_leaf(node):
                stack.extend(((self.left[node], d + 1), (self.right[node], d + 1)))
        return deepest

    def leaf_of(self, row: Sequence[float]) -> int:
        node = 0
        feature, left, right = self.feature, self.left, self.right
        while feature[node] >= 0:
            value = row[feature[node]]
            if self.categorical[node]:
                node = left[node] if int(value) in self.left_categories[node] else right[node]
            else:
                node = left[node] if value <= self.threshold[node] else right[node]
        return node

    def leaves_of(self, matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The leaf of every row of ``matrix`` (rows × features), all rows a level at a time."""
        nodes = np.zeros(matrix.shape[0], dtype=np.int64)
        feature = np.asarray(self.feature, dtype=np.int64)
        threshold = np.asarray(self.threshold, dtype=np.float64)
        categorical = np.asarray(self.categorical, dtype=bool)
        left = np.asarray(self.left, dtype=np.int64)
        right = np.asarray(self.right, dtype=np.int64)
        width = 1 + max((max(c) for c in self.left_categories if c), default=0)
        # Category indexes beyond every left set all go right: clip them to one past the last.
        width += 1
        table = np.zeros((self.node_count, width), dtype=bool)
        for n, cats in enumerate(self.left_categories):
            for c in cats:
                table[n, c] = True
        rows = np.arange(matrix.shape[0])
        while True:
            active = feature[nodes] >= 0
            if not active.any():
                return nodes
            at = nodes[active]
            values = matrix[rows[active], feature[at]]
            go_left = np.where(
                categorical[at],
                table[at, np.clip(np.nan_to_num(values), 0, width - 1).astype(np.int64)],
                values <= threshold[at],
            )
            nodes[active] = np.where(go_left, left[at], right[at])


@dataclass
class Predictor:
    """A model compiled for serving: ``predict_one(record)`` and ``predict(records)``.

    Records are mappings from feature names to values. Every feature must be present; ``None``
    (or NaN) means missing: numeric features take the training surrogate, categorical ones the
    unseen category, exactly as the Spark pipeline does. Other keys are ignored.
    """

    name: str
    version: int
    task: str
    label: str
    label_type: str
    classes: tuple[Any, ...]
    features: tuple[Feature, ...]
    tree: CompiledTree
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        """Compile the model saved in ``folder`` (``lake/models/NAME/vN``)."""
        folder = Path(folder)
        meta = read_model_json(folder)
        pipeline = folder / PIPELINE_DIR
        stages = _stages(pipeline)
        surrogates: dict[str, float] = {}
        labels: dict[str, tuple[str, ...]] = {}
        tree_dir: Path | None = None
        assembled: list[str] = []
        for stage_dir, params, klass in stages:
            short = klass.rsplit(".", 1)[-1]
            if short == "ImputerModel":
                row = _parquet_rows(stage_dir / "data")[0]
                surrogates.update({k: float(v) for k, v in row.items()})
            elif short == "StringIndexerModel":
                arrays = _parquet_rows(stage_dir / "data")[0]["labelsArray"]
                for column, values in zip(params["inputCols"], arrays, strict=True):
                    labels[column] = tuple(values)
            elif short == "VectorAssembler":
                assembled = list(params["inputCols"])
            elif short in ("DecisionTreeClassificationModel", "DecisionTreeRegressionModel"):
                tree_dir = stage_dir
            elif short != "SQLTransformer":
                raise ModelFormatError(
                    f"model folder {folder}: pipeline stage {short} cannot be compiled; "
                    "retrain it with this release of sparkglue"
                )
        if tree_dir is None:
            raise ModelFormatError(f"model folder {folder}: the pipeline has no decision tree")
        features = []
        for i, spec in enumerate(meta["features"]):
            kind = spec["kind"]
            if kind == "categorical":
                if spec["name"] not in labels:
                    raise ModelFormatError(f"model folder {folder}: no indexer for {spec['name']}")
                features.append(
                    Feature(spec["name"], kind, spec["type"], None, labels[spec["name"]])
                )
            else:
                fill = surrogates.get(spec["column"])
                features.append(Feature(spec["name"], kind, spec["type"], fill))
            if i >= len(assembled) or assembled[i] != spec["assembled"]:
                raise ModelFormatError(
                    f"model folder {folder}: feature {spec['name']} is not assembled in the order "
                    "model.json gives"
                )
        return cls(
            name=meta["name"],
            version=int(meta["version"]),
            task=meta["task"],
            label=meta["label"]["name"],
            label_type=meta["label"]["type"],
            classes=tuple(meta.get("classes", ())),
            features=tuple(features),
            tree=_read_tree(tree_dir),
            metadata=meta,
        )

    # ---- one record ---------------------------------------------------------------------------

    def vector(self, record: Mapping[str, Any], where: str = "record") -> list[float]:
        """The feature vector the tree sees for ``record``."""
        if not isinstance(record, Mapping):
            raise InvalidRecord(
                f"{where}: expected an object of feature values, got {type(record).__name__}"
            )
        return [_encode(f, record, where) for f in self.features]

    def predict_one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """``{"prediction": …}`` plus ``"probabilities"`` by class for classification."""
        leaf = self.tree.leaf_of(self.vector(record))
        return self._answer(leaf)

    def _answer(self, leaf: int) -> dict[str, Any]:
        if self.task == "regression":
            return {"prediction": self.tree.prediction[leaf]}
        stats = self.tree.stats[leaf]
        total = sum(stats)
        probabilities = [s / total for s in stats]
        best = max(range(len(stats)), key=lambda i: (stats[i], -i))
        return {
            "prediction": self.classes[best],
            "probability": probabilities[best],
            "probabilities": {str(c): p for c, p in zip(self.classes, probabilities, strict=True)},
        }

    # ---- many records -------------------------------------------------------------------------

    def matrix(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray[Any, Any]:
        """The rows × features matrix the tree sees for ``records``."""
        out = np.empty((len(records), len(self.features)), dtype=np.float64)
        for i, record in enumerate(records):
            out[i] = self.vector(record, where=f"record {i}")
        return out

    def predict(
        self, records: Sequence[Mapping[str, Any]] | Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Answers for a batch of records, in order (the tree walked once with NumPy)."""
        records = list(records)
        if not records:
            return []
        leaves = self.tree.leaves_of(self.matrix(records))
        return [self._answer(int(leaf)) for leaf in leaves]

    def class_probabilities(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray[Any, Any]:
        """Rows × classes probabilities (classification only)."""
        stats = np.asarray(self.tree.stats, dtype=np.float64)
        leaves = self.tree.leaves_of(self.matrix(records))
        chosen: np.ndarray[Any, Any] = stats[leaves]
        out: np.ndarray[Any, Any] = chosen / chosen.sum(axis=1, keepdims=True)
        return out

    def describe(self) -> dict[str, Any]:
        """What a client needs to know: name, version, task, label, and the features."""
        return {
            "model": self.name,
            "version": self.version,
            "task": self.task,
            "label": self.label,
            "classes": [str(c) for c in self.classes],
            "features": [
                {"name": f.name, "kind": f.kind, "type": f.type}
                | ({"categories": list(f.categories)} if f.kind == "categorical" else {})
                for f in self.features
            ],
        }


# ---- encoding one value as Spark's pipeline does -----------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _encode(feature: Feature, record: Mapping[str, Any], where: str) -> float:
    if feature.name not in record:
        raise InvalidRecord(
            f"{where}: missing feature '{feature.name}' (send null for a missing value)"
        )
    value = record[feature.name]
    if feature.kind == "categorical":
        if _missing(value):
            return float(feature.unseen_index)
        if not isinstance(value, str):
            raise InvalidRecord(
                f"{where}: feature '{feature.name}' takes a string, got {json.dumps(value)}"
            )
        try:
            return float(feature.categories.index(value))
        except ValueError:
            return float(feature.unseen_index)
    if _missing(value):
        return _fill(feature)
    number = _number(feature, value, where)
    return _fill(feature) if math.isnan(number) else number


def _fill(feature: Feature) -> float:
    return float("nan") if feature.fill is None else feature.fill


def _number(feature: Feature, value: Any, where: str) -> float:
    kind = feature.kind
    bad = f"{where}: feature '{feature.name}' "
    if kind == "boolean":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        raise InvalidRecord(bad + f"takes true or false, got {json.dumps(value, default=str)}")
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return float((value - _EPOCH).days)
        if isinstance(value, str):
            try:
                return float((date.fromisoformat(value) - _EPOCH).days)
            except ValueError:
                pass
        raise InvalidRecord(
            bad + f"takes a date like 2024-05-31, got {json.dumps(value, default=str)}"
        )
    if kind == "timestamp":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
            return (delta.days * 86_400 + delta.seconds) + delta.microseconds / 1e6
        raise InvalidRecord(
            bad + "takes an ISO timestamp (UTC unless it has an offset) or epoch seconds, "
            f"got {json.dumps(value, default=str)}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(bad + f"takes a number, got {json.dumps(value, default=str)}")
    if feature.type in _INTEGRAL and isinstance(value, float) and not value.is_integer():
        # Spark casts the column's own type: an int column cannot hold 3.5.
        raise InvalidRecord(bad + f"is a whole number ({feature.type}), got {value}")
    return float(value)


_INTEGRAL = ("tinyint", "smallint", "int", "bigint")


# ---- reading what Spark saved ------------------------------------------------------------------


def read_model_json(folder: Path) -> dict[str, Any]:
    """The metadata of a model folder, checked for a format version this release reads."""
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelFormatError(
            f"{folder} is not a sparkglue model folder (no {MODEL_FILE}); "
            "give a folder written by `sparkglue ml train`"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"{path} is unreadable ({exc}); retrain the model") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"model folder {folder} has format version {version!r}; this release of sparkglue "
            f"reads format version {FORMAT_VERSION} only: retrain the model with it"
        )
    return dict(meta)


def _stages(pipeline: Path) -> list[tuple[Path, dict[str, Any], str]]:
    root = pipeline / "stages"
    if not root.is_dir():
        raise ModelFormatError(f"model folder {pipeline.parent} has no Spark pipeline; retrain it")
    out = []
    for stage_dir in sorted(root.iterdir(), key=lambda p: int(p.name.split("_", 1)[0])):
        meta = _stage_metadata(stage_dir)
        out.append((stage_dir, meta.get("paramMap", {}), meta["class"]))
    return out


def _stage_metadata(stage_dir: Path) -> dict[str, Any]:
    for part in sorted((stage_dir / "metadata").glob("part-*")):
        text = part.read_text(encoding="utf-8").strip()
        if text:
            return dict(json.loads(text.splitlines()[0]))
    raise ModelFormatError(f"{stage_dir} has no metadata; retrain the model")


def _parquet_rows(folder: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for part in sorted(folder.glob("part-*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    if not rows:
        raise ModelFormatError(f"{folder} holds no data; retrain the model")
    return rows


def _read_tree(stage_dir: Path) -> CompiledTree:
    nodes = sorted(_parquet_rows(stage_dir / "data"), key=lambda r: r["id"])
    if [n["id"] for n in nodes] != list(range(len(nodes))):
        raise ModelFormatError(f"{stage_dir}: tree node ids are not 0..n-1; retrain the model")
    feature, threshold, categorical, left_cats = [], [], [], []
    for n in nodes:
        split = n["split"]
        leaf = n["leftChild"] < 0
        feature.append(-1 if leaf else int(split["featureIndex"]))
        is_cat = not leaf and int(split["numCategories"]) >= 0
        categorical.append(is_cat)
        values = split["leftCategoriesOrThreshold"] or []
        threshold.append(float(values[0]) if (not leaf and not is_cat) else math.nan)
        left_cats.append(frozenset(int(v) for v in values) if is_cat else frozenset())
    return CompiledTree(
        feature=tuple(feature),
        threshold=tuple(threshold),
        categorical=tuple(categorical),
        left_categories=tuple(left_cats),
        left=tuple(int(n["leftChild"]) for n in nodes),
        right=tuple(int(n["rightChild"]) for n in nodes),
        prediction=tuple(float(n["prediction"]) for n in nodes),
        impurity=tuple(float(n["impurity"]) for n in nodes),
        gain=tuple(float(n["gain"]) for n in nodes),
        count=tuple(int(n.get("rawCount", 0)) for n in nodes),
        stats=tuple(tuple(float(s) for s in n["impurityStats"]) for n in nodes),
    )
