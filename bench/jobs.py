"""ETL job benchmark: a generated job vs the same transformation hand-written in PySpark.

Generates ROWS rows of raw events (Parquet, text-typed columns, DAYS Hive partitions ``day=…``),
crawls them into the catalog, then measures in one run, alternating ROUNDS times:

- the generated job (``sparkglue job create --source … --mapping …``) run through the runner:
  from ``start_run`` to SUCCEEDED, including its spark-submit, the catalog registration of the
  target and its partitions, and the run's metrics; once with the archive of Spark's classes
  (``sparkglue.spark.archive``, made before the rounds and timed apart) and once without;
- the same generated script run directly under spark-submit, as the peer is (no archive);
- a hand-written plain PySpark DataFrame script doing the same (read the folder, filter, cast,
  write Parquet partitioned by day) under spark-submit with the same master: process wall time.

And the time from ``job run`` to SUCCEEDED for a trivial job (glueetl and pythonshell), which is
mostly JVM and Spark start.

Usage: .venv/bin/python bench/jobs.py [--rows 10000000] [--days 10] [--rounds 5]
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

GENERATE = """
import sys
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false").getOrCreate()
rows, days, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
countries = F.array(*[F.lit(c) for c in ["DE", "FR", "US", "JP", "BR", "XX", "IN", "NG"]])
(spark.range(rows)
 .select(
     F.col("id"),
     F.concat(F.lit("user"), (F.col("id") * 7919 % 100000).cast("string")).alias("user"),
     F.when(F.col("id") % 97 == 0, F.lit("n/a"))
      .otherwise(F.format_number((F.col("id") * 31 % 100000) / 100.0, 2)).alias("amount"),
     F.date_format(F.timestamp_seconds(F.lit(1790000000) + F.col("id") % 864000),
                   "yyyy-MM-dd HH:mm:ss").alias("ts"),
     F.element_at(countries, (F.col("id") % 8 + 1).cast("int")).alias("country"),
     F.lpad((F.col("id") % days).cast("string"), 2, "0").alias("day"))
 .write.partitionBy("day").parquet(out))
"""

HAND_WRITTEN = """
import sys
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.appName("hand-written").getOrCreate()
source, target = sys.argv[1], sys.argv[2]
df = spark.read.parquet(source)
out = df.where("country <> 'XX'").select(
    F.col("id").alias("event_id"),
    F.col("user").alias("user_name"),
    F.col("amount").try_cast("decimal(12,2)").alias("amount"),
    F.col("ts").try_cast("timestamp").alias("ts"),
    F.col("country").alias("country"),
    F.col("day").try_cast("int").alias("day"),
)
out.write.mode("overwrite").partitionBy("day").parquet(target)
"""

TRIVIAL = """
import sys
from sparkglue.jobs.runtime import JobContext
job = JobContext.from_argv(sys.argv)
job.spark.range(1).count()
job.commit()
"""

SHELL = """
print("hello from a python shell job")
"""

MAPPINGS = [
    "id:bigint->event_id:bigint",
    "user:string->user_name:string",
    "amount:string->amount:decimal(12,2)",
    "ts:string->ts:timestamp",
    "country:string->country:string",
    "day:string->day:int",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from sparkglue import Settings, Workspace
    from sparkglue.catalog import DatabaseInput
    from sparkglue.crawler import CrawlerSpec
    from sparkglue.jobs import JobSpec

    work = Path(tempfile.mkdtemp(prefix="sparkglue-jobs-bench-"))
    # The runner's drivers find the class archive here, made afresh for this run.
    os.environ["SPARKGLUE_CACHE_DIR"] = str(work / "cache")
    os.environ.pop("SPARKGLUE_CLASS_ARCHIVE", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKGLUE_")}
    env["SPARKGLUE_CLASS_ARCHIVE"] = "off"  # the runs under plain spark-submit use none
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    import pyspark

    submit = str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, Spark {pyspark.__version__}",
            flush=True,
        )
        ws = Workspace.init(settings=Settings.resolve(work / "ws", env={}))
        source = ws.settings.lake_root / "raw" / "events"
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", GENERATE, str(args.rows), str(args.days), str(source)],
            env=env,
            check=True,
            capture_output=True,
        )
        size = sum(f.stat().st_size for f in source.rglob("*.parquet"))
        print(
            f"generated {args.rows:,} rows in {args.days} partitions, {size / 2**20:.0f} MB of "
            f"Parquet, in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        ws.catalog.create_database(DatabaseInput(name="raw"))
        ws.crawlers.create_crawler(
            CrawlerSpec.model_validate(
                {
                    "Name": "events",
                    "DatabaseName": "raw",
                    "Targets": {"S3Targets": [{"Path": "raw/events"}]},
                }
            )
        )
        crawl = ws.crawlers.run("events")
        assert crawl.state == "SUCCEEDED", crawl.error_message
        ws.jobs.create_job(
            JobSpec.model_validate(
                {
                    "Name": "clean_events",
                    "Command": {"ScriptLocation": "scripts/clean_events.py"},
                    "Generated": {
                        "Source": "raw.events",
                        "Target": "curated.events",
                        "Mappings": MAPPINGS,
                        "Filter": "country <> 'XX'",
                        "PartitionBy": ["day"],
                        "WriteMode": "overwrite",
                    },
                }
            )
        )
        hand_script = work / "hand_written.py"
        hand_script.write_text(HAND_WRITTEN)
        hand_target = work / "hand_out"

        from sparkglue.spark import archive

        t = time.perf_counter()
        made = archive.build()
        assert made is not None and made.is_file(), "the class archive was not made"
        archive_seconds = time.perf_counter() - t
        print(
            f"archived Spark's classes in {archive_seconds:.0f} s "
            f"({made.stat().st_size / 2**20:.0f} MB)",
            flush=True,
        )

        def run_job(name: str, *, use_archive: bool = True) -> tuple[float, dict[str, object]]:
            os.environ["SPARKGLUE_CLASS_ARCHIVE"] = "on" if use_archive else "off"
            t = time.perf_counter()
            run_id = ws.jobs.start_run(name)
            ws.jobs.launch(run_id)
            run = ws.jobs.wait(run_id, poll=0.1)
            seconds = time.perf_counter() - t
            if run.state != "SUCCEEDED":
                raise SystemExit(f"{name} ended {run.state}: {run.error_message}")
            return seconds, run.metrics

        def run_hand_written() -> float:
            t = time.perf_counter()
            subprocess.run(
                [
                    submit,
                    "--master",
                    ws.settings.spark_master,
                    str(hand_script),
                    str(source),
                    str(hand_target),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - t

        def run_generated_script() -> float:
            """The generated script alone, under spark-submit as the hand-written one."""
            t = time.perf_counter()
            subprocess.run(
                [
                    submit,
                    "--master",
                    ws.settings.spark_master,
                    str(ws.path / "scripts" / "clean_events.py"),
                    "--JOB_NAME",
                    "clean_events",
                ],
                env={**env, "SPARKGLUE_WORKSPACE": str(ws.path)},
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - t

        ours: list[float] = []
        cold: list[float] = []
        script: list[float] = []
        peer: list[float] = []
        metrics: dict[str, object] = {}
        for i in range(args.rounds):
            seconds, metrics = run_job("clean_events")
            ours.append(seconds)
            cold.append(run_job("clean_events", use_archive=False)[0])
            script.append(run_generated_script())
            peer.append(run_hand_written())
            print(
                f"round {i + 1}: generated job through the runner {ours[-1]:.1f} s (without the "
                f"class archive {cold[-1]:.1f} s), generated script under spark-submit "
                f"{script[-1]:.1f} s, hand-written {peer[-1]:.1f} s",
                flush=True,
            )
        written = metrics.get("records_written")
        check = ws.catalog.get_table("curated", "events")
        assert [k.name for k in check.partition_keys] == ["day"], check.partition_keys
        hand_rows = sum(1 for _ in hand_target.rglob("*.parquet"))
        print(f"generated job: {metrics}; hand-written wrote {hand_rows} Parquet files", flush=True)

        (ws.path / "scripts" / "trivial.py").write_text(TRIVIAL)
        (ws.path / "scripts" / "shell.py").write_text(SHELL)
        for name, command in (("trivial", "glueetl"), ("shell", "pythonshell")):
            ws.jobs.create_job(
                JobSpec.model_validate(
                    {
                        "Name": name,
                        "Command": {"Name": command, "ScriptLocation": f"scripts/{name}.py"},
                    }
                )
            )
        trivial = [run_job("trivial")[0] for _ in range(args.rounds)]
        trivial_cold = [run_job("trivial", use_archive=False)[0] for _ in range(args.rounds)]
        shell = [run_job("shell")[0] for _ in range(args.rounds)]

        best_ours, best_script, best_peer = min(ours), min(script), min(peer)
        print()
        print("| measure | sparkglue | peer | ratio (ours / peer) |")
        print("|---|---|---|---|")
        print(
            f"| {args.rows:,} rows: filter, 6 mappings with casts, Parquet by day (s, best of "
            f"{args.rounds}) | {best_ours:.1f} (`job run`: `start_run` to SUCCEEDED, with the "
            f"runner, the run record, catalog registration and metrics) | {best_peer:.1f} "
            f"(hand-written PySpark, spark-submit) | {best_ours / best_peer:.2f} |"
        )
        print(
            f"| same, median of {args.rounds} (s) | {statistics.median(ours):.1f} | "
            f"{statistics.median(peer):.1f} | "
            f"{statistics.median(ours) / statistics.median(peer):.2f} |"
        )
        print(
            f"| same without the class archive (s, best of {args.rounds}) | {min(cold):.1f} | "
            f"{best_peer:.1f} | {min(cold) / best_peer:.2f} |"
        )
        print(
            f"| the generated script alone under spark-submit, no archive (s, best of "
            f"{args.rounds}) | {best_script:.1f} | {best_peer:.1f} | "
            f"{best_script / best_peer:.2f} |"
        )
        print(
            f"| generated script, median of {args.rounds} (s) | "
            f"{statistics.median(script):.1f} | {statistics.median(peer):.1f} | "
            f"{statistics.median(script) / statistics.median(peer):.2f} |"
        )
        # Each round runs them back to back, so a round's ratio is the least disturbed by
        # the machine's drift between rounds.
        paired = [a / b for a, b in zip(ours, peer, strict=True)]
        print(
            f"| `job run` / hand-written, median of the {args.rounds} rounds' ratios | "
            f"{', '.join(f'{r:.2f}' for r in paired)} | — | {statistics.median(paired):.2f} |"
        )
        print(
            f"| trivial glueetl job, job run to SUCCEEDED (s, best of {args.rounds}) | "
            f"{min(trivial):.1f} ({min(trivial_cold):.1f} without the class archive) | — | — |"
        )
        print(f"| making the class archive, once (s) | {archive_seconds:.0f} | — | — |")
        print(
            f"| trivial pythonshell job, job run to SUCCEEDED (s, best of {args.rounds}) | "
            f"{min(shell):.2f} | — | — |"
        )
        print(f"\nrecords written by the generated job: {written}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
