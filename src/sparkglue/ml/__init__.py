"""Decision trees with Spark MLlib: training, evaluation, a model registry, batch prediction and
a compiled predictor that serves without a JVM.

Importing this package does not import PySpark; only training and batch prediction do.
"""

from __future__ import annotations

from typing import Any

from sparkglue.ml.predictor import (
    FORMAT_VERSION,
    CompiledTree,
    Feature,
    InvalidRecord,
    ModelFormatError,
    Predictor,
)
from sparkglue.ml.service import MLRun, MLService, ModelVersion, parse_model_ref
from sparkglue.ml.specs import TrainOptions, parse_grid

__all__ = [
    "FORMAT_VERSION",
    "CompiledTree",
    "Feature",
    "InvalidRecord",
    "MLRun",
    "MLService",
    "ModelFormatError",
    "ModelVersion",
    "Predictor",
    "TrainOptions",
    "load_predictor",
    "parse_grid",
    "parse_model_ref",
]


def load_predictor(name: str, workspace: str | None = None) -> Predictor:
    """The compiled predictor of model ``name`` (``NAME``, ``NAME:3`` or ``NAME@alias``) in the
    workspace (default: ``SPARKGLUE_WORKSPACE`` or ``./.sparkglue``), or of a model folder."""
    from pathlib import Path

    if Path(name).is_dir():
        return Predictor.load(name)
    from sparkglue.config import Settings
    from sparkglue.errors import WorkspaceError
    from sparkglue.store import MetadataStore

    settings = Settings.resolve(workspace)
    if not settings.settings_file.exists():
        raise WorkspaceError(
            f"no workspace at {settings.workspace}; pass workspace= or a model folder"
        )
    store = MetadataStore(settings.metadata_url)
    try:
        from sparkglue.catalog import DataCatalog

        catalog = DataCatalog(store, lake_root=settings.lake_root)
        service = MLService(store, catalog, settings, _no_spark)
        return service.load_predictor(name)
    finally:
        store.dispose()


def _no_spark() -> Any:
    raise RuntimeError("loading a predictor never needs Spark")
