"""awsglue benchmark: ApplyMapping + ResolveChoice through a DynamicFrame vs the same with
DataFrame ``select``/``cast``, in one Spark session.

Generates ROWS CSV records (a header; a numeric id column with a few text ids, the medicare
sample's "choice" case; money as "$1.23" text; a zip code; a count), then alternates ROUNDS times:

- DynamicFrame: ``create_dynamic_frame.from_options`` (csv, withHeader) →
  ``resolveChoice(specs=[("provider id", "cast:long")])`` → ``apply_mapping`` (5 fields with
  casts and nesting) → ``write_dynamic_frame.from_options`` (Parquet);
- DataFrame: ``spark.read.csv(header=True)`` → ``select`` with ``try_cast`` and ``struct`` → write
  Parquet;

and prints the best and median wall times and their ratio.

Usage: .venv/bin/python bench/awsglue.py [--rows 3000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures: import the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.context import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from awsglue.context import GlueContext

    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    glue = GlueContext(SparkContext.getOrCreate())
    work = Path(tempfile.mkdtemp(prefix="sparkglue-awsglue-bench-"))
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, Spark {spark.version}",
            flush=True,
        )
        source = work / "medicare"
        t = time.perf_counter()
        (
            spark.range(args.rows)
            .select(
                F.when(F.col("id") % 100_000 == 0, F.lit("unknown"))
                .otherwise((F.col("id") + 10_000).cast("string"))
                .alias("provider id"),
                F.concat(F.lit("HOSPITAL "), F.col("id").cast("string")).alias("provider name"),
                (F.col("id") % 90_000 + 10_000).cast("string").alias("provider zip code"),
                (F.col("id") % 40 + 10).cast("string").alias("total discharges"),
                F.concat(F.lit("$"), F.format_number(F.col("id") % 50_000 / 7.0, 2)).alias(
                    "average covered charges"
                ),
            )
            .write.option("header", "true")
            .csv(str(source))
        )
        size = sum(p.stat().st_size for p in source.glob("*.csv"))
        print(
            f"generated {args.rows:,} CSV rows, {size / 2**20:.0f} MB, in "
            f"{time.perf_counter() - t:.0f} s",
            flush=True,
        )
        mappings = [
            ("provider id", "long", "provider.id", "long"),
            ("provider name", "string", "provider.name", "string"),
            ("provider zip code", "long", "provider.zip", "long"),
            ("total discharges", "long", "discharges", "int"),
            ("average covered charges", "string", "covered", "string"),
        ]

        def dynamic_frame(out: Path) -> float:
            t = time.perf_counter()
            dyf = glue.create_dynamic_frame.from_options(
                "s3", {"paths": [str(source)]}, format="csv", format_options={"withHeader": True}
            )
            resolved = dyf.resolveChoice(specs=[("provider id", "cast:long")])
            mapped = resolved.apply_mapping(mappings)
            glue.write_dynamic_frame.from_options(
                frame=mapped,
                connection_type="s3",
                connection_options={"path": str(out)},
                format="parquet",
            )
            return time.perf_counter() - t

        def data_frame(out: Path) -> float:
            t = time.perf_counter()
            df = spark.read.option("header", "true").csv(str(source))
            mapped = df.select(
                F.struct(
                    F.trim(F.col("`provider id`")).try_cast("bigint").alias("id"),
                    F.col("`provider name`").alias("name"),
                    F.trim(F.col("`provider zip code`")).try_cast("bigint").alias("zip"),
                ).alias("provider"),
                F.trim(F.col("`total discharges`")).try_cast("int").alias("discharges"),
                F.col("`average covered charges`").alias("covered"),
            )
            mapped.write.mode("append").parquet(str(out))
            return time.perf_counter() - t

        ours: list[float] = []
        peer: list[float] = []
        for i in range(args.rounds):
            ours.append(dynamic_frame(work / f"dyf_{i}"))
            peer.append(data_frame(work / f"df_{i}"))
            print(
                f"round {i + 1}: DynamicFrame {ours[-1]:.2f} s, DataFrame {peer[-1]:.2f} s",
                flush=True,
            )
        check_ours = spark.read.parquet(str(work / "dyf_0"))
        check_peer = spark.read.parquet(str(work / "df_0"))
        assert check_ours.count() == check_peer.count() == args.rows
        assert (
            check_ours.where("provider.id IS NULL").count()
            == check_peer.where("provider.id IS NULL").count()
        )
        best, best_peer = min(ours), min(peer)
        med, med_peer = statistics.median(ours), statistics.median(peer)
        print()
        print("| measure | awsglue DynamicFrame | DataFrame select/cast | ratio |")
        print("|---|---|---|---|")
        print(
            f"| {args.rows:,} CSV rows: resolveChoice cast + apply_mapping + Parquet (s, best "
            f"of {args.rounds}) | {best:.2f} | {best_peer:.2f} | {best / best_peer:.2f} |"
        )
        print(
            f"| same, median of {args.rounds} (s) | {med:.2f} | {med_peer:.2f} | "
            f"{med / med_peer:.2f} |"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    main()
