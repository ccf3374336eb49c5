"""An Apache-licensed ``awsglue`` on plain PySpark, wired to sparkglue's catalog and runner.

Glue job scripts import ``awsglue.context.GlueContext``, ``awsglue.dynamicframe.DynamicFrame``,
``awsglue.transforms``, ``awsglue.utils.getResolvedOptions`` and ``awsglue.job.Job`` and run
unchanged under ``sparkglue job run`` (or spark-submit, or plain Python). What is supported, and
how it differs from AWS Glue, is listed in docs/awsglue.md.
"""

from __future__ import annotations
