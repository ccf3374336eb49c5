"""A generated job script run as plain Python (no spark-submit, no JVM of its own) against a
Spark Connect server: the target lands in the catalog, bookmarks make the rerun incremental,
and the server's shared tables follow the catalog's changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sparkglue.jobs.runtime import BOOKMARK_IN_ENV, RESULT_ENV
from sparkglue.workspace import Workspace
from tests.jobs.test_generated import _crawl, _job, _raw_events

pytestmark = pytest.mark.spark

_QUERY = """
import json, sys
from sparkglue.spark import is_connect
from sparkglue.workspace import Workspace

ws = Workspace(sys.argv[1])
spark = ws.spark()
days = ws.sql("SELECT day, count(*) AS n FROM curated.events GROUP BY day ORDER BY day")
print(json.dumps({
    "connect": is_connect(spark),
    "days": [[r.day, r.n] for r in days.collect()],
    "raw_rows": spark.table("raw.events").count(),
}))
"""


def _env(ws: Workspace, connect_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SPARKGLUE_WORKSPACE": str(ws.path),
        "SPARKGLUE_SPARK_MASTER": connect_url,
        **extra,
    }


def _run_job(ws: Workspace, connect_url: str, bookmark: dict[str, Any], n: int) -> Any:
    """Run the job's script as ``python clean.py --JOB_NAME clean …``, as the runner would hand
    it the committed bookmark; the result it commits (bookmark and metrics)."""
    bookmark_in = ws.path / f"bookmark-{n}.json"
    bookmark_in.write_text(json.dumps(bookmark), encoding="utf-8")
    result = ws.path / f"result-{n}.json"
    env = _env(ws, connect_url, **{BOOKMARK_IN_ENV: str(bookmark_in), RESULT_ENV: str(result)})
    script = ws.path / "scripts" / "clean.py"
    argv = ["--JOB_NAME", "clean", "--JOB_RUN_ID", f"jr_{n}"]
    argv += ["--job-bookmark-option", "job-bookmark-enable"]
    done = subprocess.run(
        [sys.executable, str(script), *argv],
        env=env,
        cwd=ws.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(result.read_text(encoding="utf-8"))


def _query(ws: Workspace, connect_url: str) -> Any:
    """What another client of the server sees of the tables, by name."""
    done = subprocess.run(
        [sys.executable, "-c", _QUERY, str(ws.path)],
        env=_env(ws, connect_url),
        cwd=ws.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _files(bookmark: dict[str, Any]) -> list[str]:
    return sorted(Path(p).parent.name for p in bookmark["source"]["files"])


def test_a_generated_job_runs_over_spark_connect_with_bookmarks(
    workspace: Workspace, connect_url: str
) -> None:
    _raw_events(workspace, {"1": ["1,ann,2.5,x", "2,bob,3.5,y"], "2": ["3,cy,1.25,z"]})
    _crawl(workspace)
    _job(workspace, "clean", Filter="amount > 0", Dedupe=True)

    first = _run_job(workspace, connect_url, {}, 1)
    metrics = first["metrics"]
    assert (metrics["records_read"], metrics["records_written"]) == (3, 3)  # observed
    assert metrics["bytes_written"] > 0
    assert str(metrics["spark_application_id"]).startswith("app-")  # the cluster's server
    assert _files(first["bookmark"]) == ["day=1", "day=2"]
    table = workspace.catalog.get_table("curated", "events")
    assert [(c.name, c.type) for c in table.columns] == [
        ("event_id", "bigint"),
        ("user_name", "string"),
        ("amount", "decimal(10,2)"),
    ]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "int")]
    seen = _query(workspace, connect_url)
    assert seen == {"connect": True, "days": [[1, 2], [2, 1]], "raw_rows": 3}

    # New files, one in a new partition: the rerun reads only them; the tables registered on
    # the server by the query above are replaced by their new definitions.
    _raw_events(workspace, {"2": ["4,dee,9.0,w"], "3": ["5,eve,1.0,v", "6,fay,2.0,u"]})
    _crawl(workspace)
    second = _run_job(workspace, connect_url, first["bookmark"], 2)
    assert (second["metrics"]["records_read"], second["metrics"]["records_written"]) == (3, 3)
    assert _files(second["bookmark"]) == ["day=1", "day=2", "day=2", "day=3"]
    partitions = workspace.catalog.get_partitions("curated", "events")
    assert sorted(p.values[0] for p in partitions) == ["1", "2", "3"]
    seen = _query(workspace, connect_url)
    assert seen == {"connect": True, "days": [[1, 2], [2, 2], [3, 2]], "raw_rows": 6}
