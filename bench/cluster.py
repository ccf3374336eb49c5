"""Cluster benchmark: warm Spark Connect runs vs cold spark-submit, and a shuffle-heavy job on
``local[2]`` vs a 2-worker local cluster.

Measures in one run:

- the time from ``sparkglue job run NAME --wait`` to the job's first result (the script notes
  the moment its first query returns) and to SUCCEEDED, for a trivial job written against
  sparkglue's ``JobContext``: run the ordinary way (a cold ``spark-submit`` on ``local[*]``)
  and with ``--cluster`` on a cluster started with ``--connect`` (no JVM started per run);
- the throughput of a shuffle-heavy PySpark script (a group-by over many keys and a self join)
  run with ``spark-submit --master local[2]`` vs as a step (``cluster add-step --wait``) on a
  cluster of two 1-core workers. This machine's cores are shared by both, so the cluster's
  extra processes only cost; the figure says what that cost is.

Usage: .venv/bin/python bench/cluster.py [--rounds 3] [--rows 4000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL = """
import os
import sys
import time

from sparkglue.jobs.runtime import JobContext

job = JobContext.from_argv(sys.argv)
total = job.spark.range(1000).selectExpr("sum(id) AS total").collect()[0]["total"]
with open(os.environ["BENCH_FIRST_RESULT"], "a") as out:
    out.write(f"{time.time()}\\n")
print("total", total)
job.commit()
"""

SHUFFLE = """
import sys
import time

from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.appName("shuffle-bench").getOrCreate()
rows = int(sys.argv[1])
started = time.perf_counter()
df = spark.range(rows).select(
    (F.col("id") * 7919 % 200003).alias("key"), (F.col("id") % 1000).alias("value")
)
agg = df.groupBy("key").agg(F.sum("value").alias("total"), F.count("*").alias("n"))
joined = df.join(agg, "key").groupBy((F.col("key") % 97).alias("bucket")).agg(F.sum("total"))
result = joined.collect()
print("BUCKETS", len(result), "SECONDS", time.perf_counter() - started)
"""


def sh(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4_000_000)
    opts = parser.parse_args()
    sparkglue = str(Path(sys.executable).parent / "sparkglue")
    spark_submit = str(Path(__import__("pyspark").__file__).parent / "bin" / "spark-submit")
    work = Path(tempfile.mkdtemp(prefix="sparkglue-cluster-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKGLUE_")}
    env["SPARKGLUE_WORKSPACE"] = str(work / "ws")
    marks = work / "first-result.txt"
    env["BENCH_FIRST_RESULT"] = str(marks)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; rounds {opts.rounds}",
        flush=True,
    )
    try:
        sh([sparkglue, "init"], env, work)
        script = work / "ws" / "scripts" / "trivial.py"
        script.write_text(TRIVIAL, encoding="utf-8")
        sh([sparkglue, "job", "create", "trivial", "--script", "scripts/trivial.py"], env, work)

        def timed_run(extra: list[str]) -> tuple[float, float]:
            marks.unlink(missing_ok=True)
            started = time.time()
            total = sh([sparkglue, "job", "run", "trivial", "--wait", *extra], env, work)
            first = float(marks.read_text().split()[0]) - started
            return first, total

        started = time.perf_counter()
        sh(
            [
                sparkglue,
                "cluster",
                "create",
                "warm",
                "--workers",
                "2",
                "--worker-cores",
                "1",
                "--connect",
            ],
            env,
            work,
        )
        connect_start = time.perf_counter() - started
        cold: list[tuple[float, float]] = []
        warm: list[tuple[float, float]] = []
        for _ in range(opts.rounds):
            cold.append(timed_run([]))
            warm.append(timed_run(["--cluster", "warm"]))
            print(f"cold {cold[-1]}, warm {warm[-1]}", flush=True)
        sh([sparkglue, "cluster", "terminate", "warm"], env, work)

        shuffle = work / "shuffle.py"
        shuffle.write_text(SHUFFLE, encoding="utf-8")
        started = time.perf_counter()
        sh(
            [
                sparkglue,
                "cluster",
                "create",
                "pair",
                "--workers",
                "2",
                "--worker-cores",
                "1",
                "--worker-memory",
                "2g",
            ],
            env,
            work,
        )
        plain_start = time.perf_counter() - started
        local: list[float] = []
        cluster: list[float] = []
        for _ in range(opts.rounds):
            local.append(
                sh(
                    [spark_submit, "--master", "local[2]", str(shuffle), str(opts.rows)],
                    env,
                    work,
                )
            )
            cluster.append(
                sh(
                    [
                        sparkglue,
                        "cluster",
                        "add-step",
                        "pair",
                        "--script",
                        str(shuffle),
                        "--args",
                        str(opts.rows),
                        "--wait",
                    ],
                    env,
                    work,
                )
            )
            print(f"shuffle local[2] {local[-1]:.1f} s, cluster {cluster[-1]:.1f} s", flush=True)
        sh([sparkglue, "cluster", "terminate", "pair"], env, work)
    finally:
        subprocess.run(
            [sparkglue, "cluster", "list"], env=env, cwd=work, capture_output=True, check=False
        )
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    cold_first, warm_first = med(c[0] for c in cold), med(w[0] for w in warm)
    cold_total, warm_total = med(c[1] for c in cold), med(w[1] for w in warm)
    local_rate, cluster_rate = opts.rows / med(local), opts.rows / med(cluster)
    print()
    print("| measure | sparkglue | peer | ratio |")
    print("|---|---|---|---|")
    print(
        f"| `job run` to first result, trivial job (s) | {warm_first:.2f} (warm Connect "
        f"cluster) | {cold_first:.2f} (cold spark-submit) | {cold_first / warm_first:.1f}x |"
    )
    print(
        f"| `job run --wait` to SUCCEEDED (s) | {warm_total:.2f} | {cold_total:.2f} | "
        f"{cold_total / warm_total:.1f}x |"
    )
    print(
        f"| shuffle-heavy job, rows/s ({opts.rows:,} rows) | {cluster_rate:,.0f} (2 workers, "
        f"as a step) | {local_rate:,.0f} (local[2] spark-submit) | "
        f"{cluster_rate / local_rate:.2f} |"
    )
    print(
        f"\ncluster start: {connect_start:.1f} s with Spark Connect (warmed up), "
        f"{plain_start:.1f} s without"
    )


if __name__ == "__main__":
    main()
