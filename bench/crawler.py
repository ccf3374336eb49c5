"""Crawler benchmark: our crawl vs Spark's own schema inference over the same files.

Generates FILES files (CSV, JSON Lines and Parquet in equal shares, each format one table with
PARTITIONS Hive partitions ``dt=…``, about SIZE_MB in all), then measures in one run:

- ROUNDS full crawls, each by a new crawler in a fresh process (best, median, peak RSS; the
  clock starts once the workspace's metadata store is open, as Spark's starts once the JVM is
  up), and
  ROUNDS more with the compiled typer off (``SPARKGLUE_NATIVE=off``: every sample typed in
  Python and by Arrow's CSV reader),
- ROUNDS times Spark's schema inference over the same folders: CSV ``inferSchema``, JSON
  inference, Parquet ``mergeSchema`` (a local[*] session per round, JVM start excluded),
  alternating with the crawls,
- an incremental recrawl (CRAWL_NEW_FOLDERS_ONLY) after one partition is added;
- classification alone, one file after another in this process (500 files of each format,
  after 50 untimed ones, as a crawl's worker runs), with the compiled typer and without: the
  CPU a file costs, set against Spark's time per file; and what the compiled parsers alone
  take without the typer (Arrow's CSV reader on a CSV sample, orjson on a JSON Lines one).

Usage: .venv/bin/python bench/crawler.py [--files 10000] [--partitions 100] [--size-mb 1000]
                                         [--rounds 3]
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

CRAWL = """
import json, resource, sys, time
from sparkglue import Workspace
ws = Workspace(sys.argv[1])
crawlers = ws.crawlers  # opening the workspace's metadata store is not part of the figure
t0 = time.perf_counter()
run = crawlers.run(sys.argv[2])
seconds = time.perf_counter() - t0
assert run.state == "SUCCEEDED", run.error_message
m = run.metrics
print(json.dumps({"seconds": seconds, "files_read": m["FilesRead"],
                  "tables": m["TablesCreated"], "partitions": m["PartitionsAdded"],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

SPARK = """
import json, sys, time
from pyspark.sql import SparkSession
root = sys.argv[1]
spark = (SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "8").getOrCreate())
spark.range(1).collect()  # JVM and session start are not part of the figure
times = {}
t = time.perf_counter()
spark.read.option("header", "true").option("inferSchema", "true").csv(root + "/csv_t").schema
times["csv"] = time.perf_counter() - t
t = time.perf_counter()
spark.read.json(root + "/json_t").schema
times["json"] = time.perf_counter() - t
t = time.perf_counter()
spark.read.option("mergeSchema", "true").parquet(root + "/parquet_t").schema
times["parquet"] = time.perf_counter() - t
print(json.dumps(times))
"""


def generate(root: Path, files: int, partitions: int, size_mb: int) -> dict[str, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    per_format = files // 3
    per_partition = max(1, per_format // partitions)
    target_bytes = size_mb * 1024 * 1024 // files
    rng = random.Random(7)
    rows = max(10, target_bytes // 60)
    lines = [
        (
            i,
            f"user{rng.randrange(10_000)}",
            round(rng.random() * 1000, 3),
            rng.choice(["true", "false"]),
            f"2026-11-{1 + i % 28:02d}",
        )
        for i in range(rows)
    ]
    csv_text = "id,user,amount,flag,day\n" + "".join(
        f"{a},{b},{c},{d},{e}\n" for a, b, c, d, e in lines
    )
    json_text = "".join(
        json.dumps({"id": a, "user": b, "amount": c, "flag": d == "true", "day": e}) + "\n"
        for a, b, c, d, e in lines
    )
    table = pa.table(
        {
            "id": [r[0] for r in lines],
            "user": [r[1] for r in lines],
            "amount": [r[2] for r in lines],
            "flag": [r[3] == "true" for r in lines],
            "day": [r[4] for r in lines],
        }
    )
    parquet_path = root / "template.parquet"
    pq.write_table(table, parquet_path)
    parquet_bytes = parquet_path.read_bytes()
    counts = {}
    for fmt, content in (
        ("csv", csv_text.encode()),
        ("json", json_text.encode()),
        ("parquet", parquet_bytes),
    ):
        written = 0
        for p in range(partitions):
            folder = root / f"{fmt}_t" / f"dt={p:03d}"
            folder.mkdir(parents=True)
            for f in range(per_partition):
                (folder / f"part-{f:05d}.{fmt if fmt != 'json' else 'json'}").write_bytes(content)
                written += 1
        counts[fmt] = written
    parquet_path.unlink()
    return counts


def classify_cost(lake: Path, compiled: bool, files: int = 500, warm: int = 50) -> dict[str, float]:
    """Milliseconds of CPU to classify one file of each format, one after another, as a
    crawl's worker does: the compiled typer (or not) and Arrow's CSV reader loaded, and what
    the process held before frozen out of the garbage collector's passes."""
    import gc

    import pyarrow.csv  # noqa: F401 (loaded, as a crawl of many files loads it)

    from sparkglue.crawler import native
    from sparkglue.crawler.classifiers import classify
    from sparkglue.crawler.sample import FileSample

    native._loaded, native._tried = (native.load() if compiled else None), True
    cost = {}
    gc.freeze()
    for fmt in ("csv", "json", "parquet"):
        paths = sorted((lake / f"{fmt}_t").rglob("part-*"))[: warm + files]
        samples = [FileSample.of(p, p.name) for p in paths]
        for sample in samples[:warm]:
            classify(sample)
        clock = time.process_time()
        for sample in samples[warm:]:
            verdict, _ = classify(sample)
            assert verdict is not None and verdict.classification == fmt
        cost[fmt] = (time.process_time() - clock) / (len(samples) - warm) * 1000
    gc.unfreeze()
    return cost


def library_cost(lake: Path, files: int = 500) -> dict[str, float]:
    """Milliseconds of CPU per file for the compiled parser alone, on what the classifiers
    give it: Arrow's CSV reader on the first 1,000 data rows (the crawl's options, lower-cased)
    and orjson on the first 1,000 JSON lines, the files read beforehand."""
    import gc

    import orjson
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from sparkglue.crawler.classifiers.csv import _arrow_options_for

    read, parse, convert = _arrow_options_for(",", '"')
    csv_rows = [
        "\n".join(p.read_text().split("\n", 1001)[1:1001]).lower().encode() + b"\n"
        for p in sorted((lake / "csv_t").rglob("part-*"))[:files]
    ]
    json_rows = [
        "[" + ",".join(filter(None, p.read_text().split("\n", 1000)[:1000])) + "]"
        for p in sorted((lake / "json_t").rglob("part-*"))[:files]
    ]
    gc.freeze()
    clock = time.process_time()
    for rows in csv_rows:
        pcsv.read_csv(
            pa.py_buffer(rows), read_options=read, parse_options=parse, convert_options=convert
        )
    arrow = (time.process_time() - clock) / len(csv_rows) * 1000
    clock = time.process_time()
    for text in json_rows:
        orjson.loads(text)
    decode = (time.process_time() - clock) / len(json_rows) * 1000
    gc.unfreeze()
    return {"csv (Arrow's reader)": arrow, "json (orjson)": decode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from sparkglue import Settings, Workspace
    from sparkglue.catalog import DatabaseInput
    from sparkglue.crawler import CrawlerSpec

    work = Path(tempfile.mkdtemp(prefix="sparkglue-crawl-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKGLUE_")}
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}",
            flush=True,
        )
        ws = Workspace.init(settings=Settings.resolve(work / "ws", env={}))
        lake = ws.settings.lake_root / "bench"
        lake.mkdir(parents=True)
        t = time.perf_counter()
        counts = generate(lake, args.files, args.partitions, args.size_mb)
        total = sum(f.stat().st_size for f in lake.rglob("*") if f.is_file())
        print(
            f"generated {sum(counts.values())} files ({counts}), {total / 2**20:.0f} MB, "
            f"{args.partitions} partitions per format, in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        ws.catalog.create_database(DatabaseInput(name="bench"))
        crawlers = [(f"full{r}", "CRAWL_EVERYTHING") for r in range(args.rounds)]
        in_python = [(f"python{r}", "CRAWL_EVERYTHING") for r in range(args.rounds)]
        for name, policy in (*crawlers, *in_python, ("incr", "CRAWL_NEW_FOLDERS_ONLY")):
            ws.crawlers.create_crawler(
                CrawlerSpec.model_validate(
                    {
                        "Name": name,
                        "DatabaseName": "bench",
                        "TablePrefix": f"{name}_",
                        "Targets": {"S3Targets": [{"Path": "bench"}]},
                        "Configuration": {"Grouping": {"TableLevelConfiguration": 1}},
                        "RecrawlPolicy": {"RecrawlBehavior": policy},
                    }
                )
            )

        def in_fresh_process(
            script: str, *args: str, extra: dict[str, str] | None = None
        ) -> dict[str, float]:
            """Run a script in a new Python process; its last line of output is JSON."""
            done = subprocess.run(
                [sys.executable, "-c", script, *args],
                capture_output=True,
                text=True,
                env={**env, **(extra or {})},
                check=False,
            )
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            return dict(json.loads(done.stdout.strip().splitlines()[-1]))

        def crawl(name: str, typer: bool = True) -> dict[str, float]:
            extra = None if typer else {"SPARKGLUE_NATIVE": "off"}
            return in_fresh_process(CRAWL, str(ws.path), name, extra=extra)

        def spark_inference() -> dict[str, float]:
            return in_fresh_process(SPARK, str(lake))

        os.sync()
        fulls: list[dict[str, float]] = []
        pythons: list[dict[str, float]] = []
        sparks: list[dict[str, float]] = []
        for (name, _), (python_name, _) in zip(crawlers, in_python, strict=True):
            fulls.append(crawl(name))
            print(f"full crawl: {fulls[-1]}", flush=True)
            pythons.append(crawl(python_name, typer=False))
            print(f"full crawl, the typer off: {pythons[-1]}", flush=True)
            sparks.append(spark_inference())
            print(f"Spark schema inference: {sparks[-1]}", flush=True)
        crawl("incr")  # the incremental crawler's first run sees everything
        new = lake / "csv_t" / f"dt={args.partitions:03d}"
        new.mkdir()
        shutil.copy(next((lake / "csv_t" / "dt=000").iterdir()), new / "part-00000.csv")
        incremental = crawl("incr")
        print(f"incremental recrawl: {incremental}", flush=True)

        ours = sorted(f["seconds"] for f in fulls)
        off = sorted(f["seconds"] for f in pythons)
        theirs = sorted(sum(t.values()) for t in sparks)
        ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
        full = fulls[0]
        spark = sparks[0]
        print()
        print(f"{args.rounds} rounds; best and median of each side")
        print()
        print("| measure | sparkglue | peer | ratio |")
        print("|---|---|---|---|")
        print(
            f"| schema of {sum(counts.values())} files, {total / 2**20:.0f} MB (s), best | "
            f"{ours[0]:.2f} (crawl: classify, merge, catalog) | {theirs[0]:.2f} "
            f"(Spark inferSchema + JSON inference + Parquet mergeSchema) | "
            f"{theirs[0] / ours[0]:.1f}x faster |"
        )
        print(
            f"| the same, median (s) | {ours_median:.2f} | {theirs_median:.2f} | "
            f"{theirs_median / ours_median:.1f}x faster |"
        )
        print(
            f"| the same, the compiled typer off (s): best, median | {off[0]:.2f}, "
            f"{statistics.median(off):.2f} | {theirs[0]:.2f}, {theirs_median:.2f} | "
            f"{theirs[0] / off[0]:.1f}x, {theirs_median / statistics.median(off):.1f}x faster |"
        )
        print(
            f"| incremental recrawl, one new partition (s) | {incremental['seconds']:.3f} | "
            f"{ours_median:.2f} (full crawl, median) | "
            f"{ours_median / incremental['seconds']:.0f}x faster |"
        )
        print(
            "| crawl peak RSS (MB): main process / largest worker | "
            f"{max(f['rss_mb'] for f in fulls):.0f} / "
            f"{max(f['worker_rss_mb'] for f in fulls):.0f} | — | — |"
        )
        spark_per_file = f"{theirs_median / sum(counts.values()) * 1000:.2f} (Spark, all files)"
        for compiled, label in ((True, "compiled typer"), (False, "typer off")):
            per_file = classify_cost(lake, compiled)
            print(
                f"| classification alone, CPU per file (ms), {label} | "
                + ", ".join(f"{fmt} {ms:.3f}" for fmt, ms in per_file.items())
                + f" | {spark_per_file} | — |"
            )
        floor = library_cost(lake)
        print(
            "| the compiled parsers alone, typer off, CPU per file (ms) | "
            + ", ".join(f"{what} {ms:.2f}" for what, ms in floor.items())
            + " | — | — |"
        )
        print(
            "\nSpark per format, first round (s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in spark.items())
            + f"; crawl read {full['files_read']:.0f} files, made {full['tables']:.0f} tables and "
            f"{full['partitions']:.0f} partitions"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
