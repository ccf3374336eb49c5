"""Catalog benchmarks, each against its peer in the same run.

1. Session start + one query with 1 vs N catalog tables (cold process each time, alternating).
2. ``get_table`` latency: sparkglue's catalog (SQLite) vs Spark's own Hive metastore (embedded
   Derby, ``enableHiveSupport``) holding the same N tables.

Usage: .venv/bin/python bench/catalog.py [--tables 1000] [--repeats 5] [--lookups 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparkglue import Settings, Workspace
from sparkglue.catalog import Column, DatabaseInput, TableInput

SESSION_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from sparkglue import Workspace
ws = Workspace(sys.argv[1])
n = ws.sql("SELECT count(*) AS n FROM raw.t0").collect()[0].n
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": n}))
"""

HIVE_PROBE = """
import json, random, sys, time
from pyspark.sql import SparkSession
root, tables, lookups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spark = (SparkSession.builder.master("local[2]").appName("hive-metastore-bench")
         .config("spark.sql.warehouse.dir", root + "/warehouse")
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 "jdbc:derby:;databaseName=" + root + "/metastore_db;create=true")
         .config("spark.ui.enabled", "false")
         .enableHiveSupport().getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
spark.sql("CREATE DATABASE IF NOT EXISTS raw")
t0 = time.perf_counter()
for i in range(tables):
    spark.sql(f"CREATE TABLE raw.t{i} (id BIGINT, label STRING) USING parquet "
              f"LOCATION '{root}/lake/t{i}'")
create_s = time.perf_counter() - t0
external = spark._jsparkSession.sessionState().catalog().externalCatalog()
rng = random.Random(7)
names = [f"t{rng.randrange(tables)}" for _ in range(lookups)]
for name in names[:100]:  # warm-up
    external.getTable("raw", name)
api, ext, noop = [], [], []
jvm = spark.sparkContext._jvm
for name in names:
    t = time.perf_counter()
    spark.catalog.getTable("raw." + name)
    api.append(time.perf_counter() - t)
    t = time.perf_counter()
    external.getTable("raw", name)
    ext.append(time.perf_counter() - t)
    t = time.perf_counter()
    jvm.java.lang.System.nanoTime()
    noop.append(time.perf_counter() - t)
print(json.dumps({"create_s": create_s, "api": api, "external": ext, "noop": noop}))
"""


def _make_workspace(root: Path, tables: int) -> Path:
    ws = Workspace.init(settings=Settings.resolve(root, env={}))
    ws.catalog.create_database(DatabaseInput(name="raw"))
    data = ws.settings.lake_root / "raw" / "t0"
    data.mkdir(parents=True)
    (data / "part-0.csv").write_text("id,label\n" + "".join(f"{i},x{i}\n" for i in range(1000)))
    columns = [Column(name="id", type="bigint"), Column(name="label", type="string")]
    ws.catalog.create_table(
        "raw",
        TableInput(
            name="t0",
            columns=columns,
            location="raw/t0",
            parameters={"classification": "csv", "skip.header.line.count": "1"},
        ),
    )
    for i in range(1, tables):
        ws.catalog.create_table(
            "raw",
            TableInput(
                name=f"t{i}",
                columns=columns,
                location=f"raw/t{i}",
                parameters={"classification": "parquet"},
            ),
        )
    ws.close()
    return root


def _run(code: str, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKGLUE_")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"probe failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sparkglue-bench-"))
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {_java()}, PySpark {_pyspark()}"
        )
        print(f"preparing workspaces with 1 and {args.tables} catalog tables …", flush=True)
        one = _make_workspace(work / "one", 1)
        many = _make_workspace(work / "many", args.tables)

        print(
            f"session start + one query, {args.repeats} cold runs each (alternating) …", flush=True
        )
        times: dict[str, list[float]] = {"one": [], "many": []}
        for _ in range(args.repeats):
            for key, ws in (("one", one), ("many", many)):
                result = _run(SESSION_PROBE, str(ws))
                assert result["rows"] == 1000
                times[key].append(float(result["seconds"]))  # type: ignore[arg-type]

        print(f"get_table latency over {args.lookups} random lookups …", flush=True)
        catalog = Workspace(many).catalog
        rng = random.Random(7)
        names = [f"t{rng.randrange(args.tables)}" for _ in range(args.lookups)]
        for name in names[:100]:
            catalog.get_table("raw", name)
        ours = []
        for name in names:
            t = time.perf_counter()
            catalog.get_table("raw", name)
            ours.append(time.perf_counter() - t)

        print(
            f"Spark Hive metastore (embedded Derby): creating {args.tables} tables and "
            "looking them up …",
            flush=True,
        )
        hive = _run(HIVE_PROBE, str(work / "hive"), str(args.tables), str(args.lookups))
        api, ext, noop = (list(hive[k]) for k in ("api", "external", "noop"))  # type: ignore[call-overload]

        one_s, many_s = statistics.median(times["one"]), statistics.median(times["many"])
        print()
        print("| measure | sparkglue | peer | ratio |")
        print("|---|---|---|---|")
        print(
            f"| session start + 1 query, median s (1 table vs {args.tables} tables) | "
            f"{many_s:.2f} ({args.tables} tables) | {one_s:.2f} (1 table) | "
            f"{many_s / one_s:.3f} |"
        )
        print(
            f"| get_table p50 ms: sparkglue vs Hive metastore spark.catalog.getTable | "
            f"{_ms(ours, 0.5):.3f} | {_ms(api, 0.5):.3f} | "
            f"{_ms(api, 0.5) / _ms(ours, 0.5):.1f}x faster |"
        )
        print(
            f"| get_table p50 ms: sparkglue vs Hive externalCatalog.getTable (py4j) | "
            f"{_ms(ours, 0.5):.3f} | {_ms(ext, 0.5):.3f} | "
            f"{_ms(ext, 0.5) / _ms(ours, 0.5):.1f}x faster |"
        )
        print(
            f"| get_table p99 ms: sparkglue vs Hive spark.catalog.getTable | "
            f"{_ms(ours, 0.99):.3f} | {_ms(api, 0.99):.3f} | "
            f"{_ms(api, 0.99) / _ms(ours, 0.99):.1f}x faster |"
        )
        print()
        print(
            f"context: py4j round trip p50 {_ms(noop, 0.5):.3f} ms; creating {args.tables} Hive "
            f"metastore tables took {float(hive['create_s']):.1f} s; session runs (s): "  # type: ignore[arg-type]
            f"1 table {[round(x, 2) for x in times['one']]}, {args.tables} tables "
            f"{[round(x, 2) for x in times['many']]}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _java() -> str:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return (done.stderr.splitlines() or ["java ?"])[0]


def _pyspark() -> str:
    import pyspark

    return str(pyspark.__version__)


if __name__ == "__main__":
    main()
