"""Training options and the feature plan: which columns become which kind of feature.

Everything here is checked before Spark starts, so a mistake in the command line costs nothing.
Kinds come from catalog types: numbers are numeric features (missing values imputed), booleans
are 0/1 numbers, strings are categorical features (indexed; a value never seen in training falls
in an "unseen" category), dates and timestamps become day/second numbers only when asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sparkglue.catalog import Table
from sparkglue.catalog.types import parse_type
from sparkglue.errors import InvalidInput

__all__ = [
    "GRID_PARAMS",
    "FeaturePlan",
    "PlannedFeature",
    "TrainOptions",
    "parse_grid",
    "plan_features",
]

_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
_STRING = ("string", "varchar", "char")
TASKS = ("classification", "regression")
IMPUTE = ("mean", "median", "mode")
IMPURITIES = {"classification": ("gini", "entropy"), "regression": ("variance",)}
GRID_PARAMS: dict[str, type] = {
    "max_depth": int,
    "max_bins": int,
    "min_instances_per_node": int,
    "min_info_gain": float,
    "impurity": str,
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass
class TrainOptions:
    """What ``sparkglue ml train`` takes; defaults are MLlib's, except ``max_depth`` 5."""

    table: str
    label: str
    features: list[str] | None = None  # None: every usable column
    task: str | None = None  # None: from the label's type
    max_depth: int = 5
    max_bins: int = 32
    impurity: str | None = None  # None: gini (classification) or variance (regression)
    min_instances_per_node: int = 1
    min_info_gain: float = 0.0
    seed: int = 42
    test_fraction: float = 0.2
    cv_folds: int | None = None
    grid: dict[str, list[Any]] = field(default_factory=dict)
    impute: str = "mean"
    description: str = ""

    def check(self) -> None:
        """Raise :class:`InvalidInput` naming the first bad option."""
        if "." not in self.table or self.table.count(".") != 1:
            raise InvalidInput(f"--table '{self.table}' must be DATABASE.TABLE")
        if self.task is not None and self.task not in TASKS:
            raise InvalidInput(f"--task '{self.task}' is not one of {', '.join(TASKS)}")
        if not 0 <= self.max_depth <= 30:
            raise InvalidInput(f"--max-depth {self.max_depth} must be between 0 and 30 (MLlib)")
        if self.max_bins < 2:
            raise InvalidInput(f"--max-bins {self.max_bins} must be at least 2")
        if self.min_instances_per_node < 1:
            raise InvalidInput("--min-instances-per-node must be at least 1")
        if self.min_info_gain < 0:
            raise InvalidInput("--min-info-gain must not be negative")
        if not 0 < self.test_fraction < 1:
            raise InvalidInput(
                f"--test-fraction {self.test_fraction} must be between 0 and 1 (exclusive)"
            )
        if self.cv_folds is not None and self.cv_folds < 2:
            raise InvalidInput(f"--cv-folds {self.cv_folds} must be at least 2")
        if self.cv_folds is not None and not self.grid:
            raise InvalidInput("--cv-folds needs a --grid to search, e.g. --grid max_depth=3,5,8")
        if self.impute not in IMPUTE:
            raise InvalidInput(f"--impute '{self.impute}' is not one of {', '.join(IMPUTE)}")
        if self.features is not None and self.label in self.features:
            raise InvalidInput(f"the label '{self.label}' cannot also be a feature")
        if self.features is not None and not self.features:
            raise InvalidInput("--features names no column; give a,b,… or all")

    def check_impurity(self, task: str) -> str:
        """The impurity for ``task`` (MLlib's default when not given)."""
        impurity = self.impurity or IMPURITIES[task][0]
        if impurity not in IMPURITIES[task]:
            raise InvalidInput(
                f"--impurity '{impurity}' does not fit {task}; use {' or '.join(IMPURITIES[task])}"
            )
        for value in self.grid.get("impurity", []):
            if value not in IMPURITIES[task]:
                raise InvalidInput(f"--grid impurity={value} does not fit {task}")
        return impurity

    def params(self) -> dict[str, Any]:
        return {
            "max_depth": self.max_depth,
            "max_bins": self.max_bins,
            "impurity": self.impurity,
            "min_instances_per_node": self.min_instances_per_node,
            "min_info_gain": self.min_info_gain,
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "cv_folds": self.cv_folds,
            "grid": self.grid,
            "impute": self.impute,
        }


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``["max_depth=3,5,8", "impurity=gini,entropy"]`` → typed lists of values."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise InvalidInput(f"--grid '{item}' must be PARAM=V1,V2,… (e.g. max_depth=3,5,8)")
        if name not in GRID_PARAMS:
            raise InvalidInput(f"--grid parameter '{name}' is not one of {', '.join(GRID_PARAMS)}")
        kind = GRID_PARAMS[name]
        parsed: list[Any] = []
        for raw in values.split(","):
            try:
                parsed.append(kind(raw.strip()))
            except ValueError:
                raise InvalidInput(
                    f"--grid {name} value '{raw.strip()}' is not a {kind.__name__}"
                ) from None
        if name in grid:
            raise InvalidInput(f"--grid names '{name}' twice; give all its values in one list")
        grid[name] = parsed
    return grid


@dataclass(frozen=True)
class PlannedFeature:
    name: str
    kind: str  # numeric | boolean | date | timestamp | categorical
    type: str
    asked: bool  # named in --features (then never left out silently)


@dataclass
class FeaturePlan:
    task: str
    label: str
    label_type: str
    features: list[PlannedFeature]
    left_out: list[tuple[str, str]]  # (column, why)


def _kind(type_text: str) -> str | None:
    base = parse_type(type_text).name
    if base in _NUMERIC:
        return "numeric"
    if base == "boolean":
        return "boolean"
    if base in _STRING:
        return "categorical"
    if base == "date":
        return "date"
    if base in ("timestamp", "timestamp_ntz"):
        return "timestamp"
    return None


def plan_features(table: Table, options: TrainOptions) -> FeaturePlan:
    """Choose features from the table's columns (partition keys included) and the task.

    Raises:
        InvalidInput: the label or an asked-for feature is not a column, or has a type a tree
            cannot use.
    """
    columns = {c.name: c.type for c in [*table.columns, *table.partition_keys]}
    if options.label not in columns:
        raise InvalidInput(
            f"label '{options.label}' is not a column of {table.full_name}; its columns are "
            f"{', '.join(columns)}"
        )
    label_type = columns[options.label]
    label_kind = _kind(label_type)
    if label_kind not in ("numeric", "boolean", "categorical"):
        raise InvalidInput(
            f"label '{options.label}' is {label_type}; a tree predicts a number, a string or a "
            "boolean"
        )
    task = options.task or ("regression" if _is_fractional(label_type) else "classification")
    if task == "regression" and label_kind != "numeric":
        raise InvalidInput(
            f"regression needs a numeric label; '{options.label}' is {label_type} "
            "(use --task classification)"
        )
    asked = options.features
    if asked is not None:
        unknown = [c for c in asked if c not in columns]
        if unknown:
            raise InvalidInput(
                f"feature '{unknown[0]}' is not a column of {table.full_name}; its columns are "
                f"{', '.join(columns)}"
            )
        if len(set(asked)) != len(asked):
            raise InvalidInput("--features names a column twice")
    chosen: list[PlannedFeature] = []
    left_out: list[tuple[str, str]] = []
    for name in asked if asked is not None else list(columns):
        if name == options.label:
            continue
        type_text = columns[name]
        kind = _kind(type_text)
        if kind is None:
            if asked is not None:
                raise InvalidInput(
                    f"feature '{name}' is {type_text}; a tree takes numbers, booleans, strings, "
                    "dates and timestamps"
                )
            left_out.append((name, f"{type_text} is not a feature type"))
            continue
        if kind in ("date", "timestamp") and asked is None:
            left_out.append((name, f"{kind}s are left out unless named in --features"))
            continue
        chosen.append(PlannedFeature(name, kind, type_text, asked is not None))
    if not chosen:
        raise InvalidInput(f"{table.full_name} has no column a tree can use besides the label")
    return FeaturePlan(task, options.label, label_type, chosen, left_out)


def _is_fractional(type_text: str) -> bool:
    return parse_type(type_text).name in ("float", "double", "decimal")
