"""Training and batch prediction through a workspace on a Spark Connect server give what the
local session gives: the same metrics, tree and predictions, and a registered version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sparkglue.workspace import Workspace
from tests.ml.conftest import DEMO_FEATURES, add_table, penguin_rows

pytestmark = pytest.mark.spark

# A client that hangs (seen twice in many runs, with no server activity) prints every thread's
# stack and exits before the test's own timeout, so the failure shows where it waited.
_TRAIN_AND_PREDICT = """
import faulthandler, json, sys
faulthandler.dump_traceback_later(240, exit=True)
from sparkglue.ml import TrainOptions
from sparkglue.spark import is_connect
from sparkglue.workspace import Workspace

ws = Workspace(sys.argv[1])
options = TrainOptions(table="curated.penguins", label="species", features=json.loads(sys.argv[2]))
model = ws.ml.train("species", options)
run = ws.ml.predict(model.ref, "curated.penguins", "scored.penguins")
print(json.dumps({"connect": is_connect(ws.spark()), "model": model.ref, "run": run.state}))
"""


def test_train_and_predict_over_spark_connect_match_the_local_session(
    ml_workspace: Workspace, species_model: Any, connect_url: str, tmp_path: Path
) -> None:
    ws = Workspace.init(tmp_path / "remote")
    add_table(ws, "penguins", penguin_rows())
    env = {**os.environ, "SPARKGLUE_WORKSPACE": str(ws.path), "SPARKGLUE_SPARK_MASTER": connect_url}
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN_AND_PREDICT, str(ws.path), json.dumps(DEMO_FEATURES)],
        env=env,
        cwd=ws.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"connect": True, "model": "species:1", "run": "SUCCEEDED"}

    remote, local = ws.ml.get_model("species:1"), species_model
    for key in ("metrics", "params", "features", "classes", "feature_importances", "tree"):
        assert remote.metadata[key] == local.metadata[key], key
    training = remote.metadata["training"]
    assert training["compiled_check"] == remote.metadata["metrics"]["test_rows"] > 0
    assert training["rows"] == local.metadata["training"]["rows"]
    folder = Path(remote.location)
    rules = (folder / "rules.txt").read_text(encoding="utf-8")
    assert rules == (Path(local.location) / "rules.txt").read_text(encoding="utf-8")
    for name in ("pipeline", "tree.svg", "confusion_matrix.png", "feature_importances.png"):
        assert (folder / name).exists(), name

    run = ws.ml.list_runs("species")[0]
    assert (run.kind, run.state, run.model_version) == ("PREDICT", "SUCCEEDED", 1)
    assert run.metrics["records_written"] == len(penguin_rows())
    scored = ws.catalog.get_table("scored", "penguins")
    rows = pq.read_table(scored.location).to_pylist()
    answers = ml_workspace.ml.load_predictor(local.ref).predict(
        [{f: r[f] for f in DEMO_FEATURES} for r in rows]
    )
    assert len(rows) == len(penguin_rows())
    for row, answer in zip(rows, answers, strict=True):
        assert row["prediction"] == answer["prediction"], row
        assert row["probability"] == pytest.approx(max(answer["probabilities"].values()))
        assert row["model_version"] == 1
