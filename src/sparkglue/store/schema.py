"""Table definitions of the metadata store at the latest schema version.

Migrations (``migrations.py``) build the same shape step by step; a test checks that a migrated
database matches these definitions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

metadata = sa.MetaData()


class CompiledJSON(sa.types.TypeDecorator[Any]):
    """A JSON column's values written by orjson, a compiled encoder, for inserts of many rows
    at once: what is read back is what ``sa.JSON`` would have written, only the spacing
    differs. A value orjson refuses (an integer past 64 bits, a key that is not a string) goes
    to the standard encoder. NaN and infinities, which JSON cannot hold, become null through
    orjson; the standard encoder refuses them. Use it as a bound parameter's type
    (``sa.bindparam(name, type_=CompiledJSON())``): the column stays JSON, and reading it is
    unchanged."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], str | None]:
        def process(value: Any) -> str | None:
            if value is None:
                return None
            try:
                return orjson.dumps(value).decode()
            except TypeError:
                return json.dumps(value, allow_nan=False)

        return process


schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.String(32), nullable=False),
)

databases = sa.Table(
    "catalog_databases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("location_uri", sa.Text, nullable=True),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

tables = sa.Table(
    "catalog_tables",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "database_id",
        sa.Integer,
        sa.ForeignKey("catalog_databases.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("deprecated", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("database_id", "name", name="uq_catalog_tables_database_name"),
)

table_versions = sa.Table(
    "catalog_table_versions",
    metadata,
    sa.Column(
        "table_id",
        sa.Integer,
        sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

partitions = sa.Table(
    "catalog_partitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "table_id",
        sa.Integer,
        sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("values_key", sa.Text, nullable=False),
    sa.Column("partition_values", sa.JSON, nullable=False),
    sa.Column("location", sa.Text, nullable=True),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("table_id", "values_key", name="uq_catalog_partitions_table_values"),
)

classifiers = sa.Table(
    "crawler_classifiers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

crawlers = sa.Table(
    "crawlers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("folders_seen", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    # an incremental crawler's folders: {target: {folder: [mtime_ns, [subfolders]]}}
    sa.Column("folder_listing", sa.JSON, nullable=True),
)

crawl_runs = sa.Table(
    "crawl_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("crawler_name", sa.String(255), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("log_path", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
)

crawl_run_files = sa.Table(
    "crawl_run_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "run_id",
        sa.String(64),
        sa.ForeignKey("crawl_runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("decision", sa.JSON, nullable=False),
)

connections = sa.Table(
    "catalog_connections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("connection_type", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("jdbc_url", sa.Text, nullable=False),
    sa.Column("username", sa.String(255), nullable=True),
    sa.Column("password_ref", sa.Text, nullable=True),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("job_name", sa.String(255), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("first_run_id", sa.String(64), nullable=True, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("timeout_minutes", sa.Float, nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("log_path", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("child_pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("cluster", sa.String(255), nullable=True),
)

job_bookmarks = sa.Table(
    "job_bookmarks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("job_name", "version", name="uq_job_bookmarks_job_version"),
)

ml_models = sa.Table(
    "ml_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("task", sa.String(16), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_ml_models_name_version"),
)

ml_model_aliases = sa.Table(
    "ml_model_aliases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("name", "alias", name="uq_ml_model_aliases_name_alias"),
)

ml_runs = sa.Table(
    "ml_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model_name", sa.String(255), nullable=False, index=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("log_path", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("workflow_name", sa.String(255), nullable=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("schedule_cursor", sa.String(32), nullable=True),
    sa.Column("activated_at", sa.String(32), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

workflow_runs = sa.Table(
    "workflow_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workflow_name", sa.String(255), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("run_properties", sa.JSON, nullable=False),
    sa.Column("previous_run_id", sa.String(64), nullable=True),
    sa.Column("started_by", sa.String(255), nullable=True),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("statistics", sa.JSON, nullable=False),
)

trigger_firings = sa.Table(
    "trigger_firings",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("trigger_name", sa.String(255), nullable=False),
    sa.Column("tick_key", sa.String(255), nullable=False),
    sa.Column("workflow_run_id", sa.String(64), nullable=True, index=True),
    sa.Column("fired_at", sa.String(32), nullable=False),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.UniqueConstraint("trigger_name", "tick_key", name="uq_trigger_firings_tick"),
)

trigger_actions = sa.Table(
    "trigger_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("firing_id", sa.String(64), nullable=True, index=True),
    sa.Column("action_index", sa.Integer, nullable=False),
    sa.Column("workflow_run_id", sa.String(64), nullable=True, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("timeout_minutes", sa.Float, nullable=True),
    sa.Column("inherited", sa.Boolean, nullable=False),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
)

trigger_event_files = sa.Table(
    "trigger_event_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("trigger_name", sa.String(255), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("seen_at", sa.String(32), nullable=False),
    sa.Column("firing_id", sa.String(64), nullable=True),
    sa.UniqueConstraint("trigger_name", "path", name="uq_trigger_event_files_path"),
)

scheduler_leases = sa.Table(
    "scheduler_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("acquired_at", sa.String(32), nullable=False),
)

replication_endpoints = sa.Table(
    "replication_endpoints",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("endpoint_type", sa.String(16), nullable=False),
    sa.Column("engine", sa.String(32), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

replication_tasks = sa.Table(
    "replication_tasks",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("source_endpoint", sa.String(255), nullable=False),
    sa.Column("target_endpoint", sa.String(255), nullable=False),
    sa.Column("migration_type", sa.String(32), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stop_reason", sa.String(64), nullable=True),
    sa.Column("last_failure", sa.Text, nullable=True),
    sa.Column("slot_name", sa.String(63), nullable=False),
    sa.Column("progress", sa.JSON, nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("log_path", sa.Text, nullable=True),
    sa.Column("materialized_database", sa.String(255), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=True),
    sa.Column("stopped_at", sa.String(32), nullable=True),
)

replication_table_stats = sa.Table(
    "replication_table_stats",
    metadata,
    sa.Column("task_name", sa.String(255), primary_key=True),
    sa.Column("table_key", sa.String(520), primary_key=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("inserts", sa.BigInteger, nullable=False),
    sa.Column("updates", sa.BigInteger, nullable=False),
    sa.Column("deletes", sa.BigInteger, nullable=False),
    sa.Column("ddls", sa.BigInteger, nullable=False),
    sa.Column("full_load_rows", sa.BigInteger, nullable=False),
    sa.Column("full_load_error_rows", sa.BigInteger, nullable=False),
    sa.Column("full_load_start", sa.String(32), nullable=True),
    sa.Column("full_load_end", sa.String(32), nullable=True),
    sa.Column("last_update_time", sa.String(32), nullable=True),
)


clusters = sa.Table(
    "clusters",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("state_reason_code", sa.String(32), nullable=True),
    sa.Column("state_reason_message", sa.Text, nullable=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("master_url", sa.Text, nullable=True),
    sa.Column("connect_url", sa.Text, nullable=True),
    sa.Column("web_uis", sa.JSON, nullable=False),
    sa.Column("processes", sa.JSON, nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("log_dir", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("ready_at", sa.String(32), nullable=True),
    sa.Column("ended_at", sa.String(32), nullable=True),
    sa.Column("last_activity_at", sa.String(32), nullable=True),
)

cluster_steps = sa.Table(
    "cluster_steps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("cluster_id", sa.String(64), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("script", sa.Text, nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("action_on_failure", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cancel_option", sa.String(32), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=True),
    sa.Column("finished_at", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("log_path", sa.Text, nullable=True),
    sa.Column("child_pid", sa.Integer, nullable=True),
)
