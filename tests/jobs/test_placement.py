"""Which job scripts run over Spark Connect on a cluster (no JVM of their own) and which are
spark-submitted to its master."""

from __future__ import annotations

import pytest

from sparkglue.jobs.generate import generate_script
from sparkglue.jobs.mapping import check_mappings
from sparkglue.jobs.service import uses_own_api
from sparkglue.jobs.specs import GeneratedSpec

OWN = (
    "import sys\nfrom sparkglue.jobs.runtime import JobContext\n"
    "job = JobContext.from_argv(sys.argv)\n"
)


def test_generated_scripts_use_only_sparkglues_api() -> None:
    spec = GeneratedSpec(
        Source="raw.events", Target="curated.events", Format="parquet", Mappings=["a:string->a:int"]
    )
    mappings = check_mappings(spec.Mappings, {"a": "string"}, spec.Source)
    assert uses_own_api(generate_script("clean", spec, mappings))


@pytest.mark.parametrize(
    ("script", "own"),
    [
        (OWN + "job.spark.range(3).count()\n# a SparkContext is not needed here\n", True),
        ("import sparkglue.jobs.runtime\n", True),
        (OWN + "print(job.spark.sparkContext.master)\n", False),
        (OWN + "job.spark.range(3).rdd.count()\n", False),
        (OWN + "from pyspark import SparkContext\n", False),
        (OWN + "from awsglue.context import GlueContext\n", False),
        (OWN + "import py4j\n", False),
        ("from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate()\n", False),
        (OWN + "def broken(:\n", False),
    ],
)
def test_scripts_that_need_a_driver_jvm_are_told_apart(script: str, own: bool) -> None:
    assert uses_own_api(script) is own
