"""Versioned schema migrations, applied in order under a lock when a store is opened.

Each migration is a function of Alembic's ``Operations`` (portable DDL, SQLite batch mode for
ALTERs). The applied versions are rows of ``schema_migrations``. Never edit a released
migration: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # alembic is imported only when a migration runs
    from alembic.operations import Operations


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Operations], None]


def _v1_catalog(op: Operations) -> None:
    op.create_table(
        "catalog_databases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("location_uri", sa.Text, nullable=True),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "catalog_tables",
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
    op.create_table(
        "catalog_table_versions",
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
    op.create_table(
        "catalog_partitions",
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
    op.create_table(
        "catalog_connections",
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


def _v2_crawlers(op: Operations) -> None:
    op.create_table(
        "crawler_classifiers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "crawlers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("folders_seen", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("crawler_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("log_path", sa.Text, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
    )
    op.create_index("ix_crawl_runs_crawler_name", "crawl_runs", ["crawler_name"])
    op.create_table(
        "crawl_run_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.String(64),
            sa.ForeignKey("crawl_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
    )
    op.create_index("ix_crawl_run_files_run_id", "crawl_run_files", ["run_id"])


def _v3_jobs(op: Operations) -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("first_run_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
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
    )
    op.create_index("ix_job_runs_job_name", "job_runs", ["job_name"])
    op.create_table(
        "job_bookmarks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("job_name", "version", name="uq_job_bookmarks_job_version"),
    )


def _v4_ml(op: Operations) -> None:
    op.create_table(
        "ml_models",
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
    op.create_table(
        "ml_model_aliases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("name", "alias", name="uq_ml_model_aliases_name_alias"),
    )
    op.create_table(
        "ml_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
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
    op.create_index("ix_ml_runs_model_name", "ml_runs", ["model_name"])


def _v5_scheduler(op: Operations) -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "triggers",
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
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workflow_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_properties", sa.JSON, nullable=False),
        sa.Column("previous_run_id", sa.String(64), nullable=True),
        sa.Column("started_by", sa.String(255), nullable=True),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("statistics", sa.JSON, nullable=False),
    )
    op.create_index("ix_workflow_runs_workflow_name", "workflow_runs", ["workflow_name"])
    op.create_table(
        "trigger_firings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("trigger_name", sa.String(255), nullable=False),
        sa.Column("tick_key", sa.String(255), nullable=False),
        sa.Column("workflow_run_id", sa.String(64), nullable=True),
        sa.Column("fired_at", sa.String(32), nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.UniqueConstraint("trigger_name", "tick_key", name="uq_trigger_firings_tick"),
    )
    op.create_table(
        "trigger_actions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("firing_id", sa.String(64), nullable=True),
        sa.Column("action_index", sa.Integer, nullable=False),
        sa.Column("workflow_run_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("arguments", sa.JSON, nullable=False),
        sa.Column("timeout_minutes", sa.Float, nullable=True),
        sa.Column("inherited", sa.Boolean, nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_trigger_actions_workflow_run_id", "trigger_actions", ["workflow_run_id"])
    op.create_index("ix_trigger_actions_firing_id", "trigger_actions", ["firing_id"])
    op.create_table(
        "trigger_event_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trigger_name", sa.String(255), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("seen_at", sa.String(32), nullable=False),
        sa.Column("firing_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("trigger_name", "path", name="uq_trigger_event_files_path"),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("acquired_at", sa.String(32), nullable=False),
    )


def _v6_scheduler_indexes(op: Operations) -> None:
    # What the scheduler looks up on every pass, so that a pass stays short as history grows.
    op.create_index("ix_trigger_actions_state", "trigger_actions", ["state"])
    op.create_index("ix_trigger_firings_workflow_run_id", "trigger_firings", ["workflow_run_id"])
    op.create_index("ix_workflow_runs_state", "workflow_runs", ["state"])
    op.create_index("ix_job_runs_first_run_id", "job_runs", ["first_run_id"])
    op.create_index("ix_job_runs_state", "job_runs", ["state"])


def _v7_replication(op: Operations) -> None:
    op.create_table(
        "replication_endpoints",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("endpoint_type", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "replication_tasks",
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
    op.create_table(
        "replication_table_stats",
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


def _v8_clusters(op: Operations) -> None:
    op.create_table(
        "clusters",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
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
    op.create_index("ix_clusters_name", "clusters", ["name"])
    op.create_table(
        "cluster_steps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(64), nullable=False),
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
    op.create_index("ix_cluster_steps_cluster_id", "cluster_steps", ["cluster_id"])
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("cluster", sa.String(255), nullable=True))


def _v9_crawler_folder_listing(op: Operations) -> None:
    with op.batch_alter_table("crawlers") as batch:
        batch.add_column(sa.Column("folder_listing", sa.JSON, nullable=True))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "catalog: databases, tables, table versions, partitions, connections", _v1_catalog
    ),
    Migration(
        2, "crawlers: classifiers, crawlers, crawl runs and their per-file decisions", _v2_crawlers
    ),
    Migration(3, "jobs: job definitions, runs and attempts, bookmark versions", _v3_jobs),
    Migration(4, "ml: registered models, their aliases, training and prediction runs", _v4_ml),
    Migration(
        5,
        "scheduler: workflows, triggers, firings and their planned runs, event files, the lease",
        _v5_scheduler,
    ),
    Migration(6, "scheduler: indexes for the daemon's lookups", _v6_scheduler_indexes),
    Migration(7, "replication: endpoints, tasks and their per-table statistics", _v7_replication),
    Migration(
        8, "clusters: EMR-style clusters and their steps; the cluster of a job run", _v8_clusters
    ),
    Migration(
        9,
        "crawlers: the folders an incremental crawler looked through, with their times",
        _v9_crawler_folder_listing,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
