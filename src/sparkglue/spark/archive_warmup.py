"""The workload whose classes ``sparkglue.spark.archive`` archives: what sparkglue's sessions do
(SQL with casts, every built-in file format, a partitioned write, a join and an aggregation, a
table in the in-memory catalog, a decision tree). Run by spark-submit with a scratch folder."""

import sys
from pathlib import Path

from pyspark.ml import Pipeline
from pyspark.ml.classification import DecisionTreeClassifier
from pyspark.ml.feature import Imputer, StringIndexer, VectorAssembler
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

work = Path(sys.argv[1])
spark = (
    SparkSession.builder.appName("sparkglue-class-archive")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4")
    .config("spark.sql.catalogImplementation", "in-memory")
    .config("spark.sql.warehouse.dir", str(work / "warehouse"))
    .getOrCreate()
)
rows = spark.range(20_000).select(
    F.col("id"),
    (F.col("id") % 7).cast("string").alias("day"),
    F.concat(F.lit("u"), (F.col("id") % 101).cast("string")).alias("user"),
    F.format_number(F.col("id") / 100.0, 2).alias("amount"),
    F.date_format(F.timestamp_seconds(F.col("id") + 1_700_000_000), "yyyy-MM-dd HH:mm:ss").alias(
        "ts"
    ),
    F.when(F.col("id") % 3 == 0, F.lit(None)).otherwise(F.rand(1) * 10).alias("x"),
)
for fmt in ("parquet", "orc", "json", "csv"):
    folder = str(work / fmt)
    rows.write.mode("overwrite").partitionBy("day").format(fmt).option("header", "true").save(
        folder
    )
    back = spark.read.format(fmt).option("header", "true").option("basePath", folder)
    df = back.schema(rows.schema).load(folder) if fmt == "csv" else back.load(folder)
    out = df.where("user <> 'u0'").select(
        F.col("id").alias("event_id"),
        F.col("amount").try_cast("decimal(12,2)").alias("amount"),
        F.col("ts").try_cast("timestamp").alias("ts"),
        F.col("day").try_cast("int").alias("day"),
    )
    out.write.mode("overwrite").partitionBy("day").parquet(str(work / f"{fmt}_out"))
spark.sql(f"CREATE TABLE events USING parquet LOCATION '{work / 'parquet'}'")
spark.sql(
    "SELECT e.day, count(*) AS n, avg(x) AS x FROM events e JOIN (SELECT DISTINCT user FROM "
    "events WHERE id % 2 = 0) u ON e.user = u.user GROUP BY e.day ORDER BY e.day"
).collect()
train = rows.select(
    (F.col("id") % 2).cast("double").alias("label"), F.col("x"), F.col("user")
).withColumn("y", F.col("x") * 2)
model = Pipeline(
    stages=[
        StringIndexer(inputCol="user", outputCol="user_ix", handleInvalid="keep"),
        Imputer(inputCols=["x", "y"], outputCols=["x_f", "y_f"]),
        VectorAssembler(inputCols=["x_f", "y_f", "user_ix"], outputCol="features"),
        DecisionTreeClassifier(maxDepth=4, labelCol="label", maxBins=128),
    ]
).fit(train)
model.transform(train).select("prediction", "probability").limit(10).collect()
spark.stop()
