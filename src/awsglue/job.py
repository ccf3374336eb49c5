"""``Job``: a Glue job's life cycle (``init``, ``commit``) with bookmarks through sparkglue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from awsglue.context import GlueContext

__all__ = ["Job"]


class Job:
    """``job = Job(glueContext); job.init(args['JOB_NAME'], args); …; job.commit()``.

    With ``--job-bookmark-option job-bookmark-enable`` (``sparkglue job run`` passes the job's
    setting), sources read with a ``transformation_ctx`` return only what is new since the last
    committed run; ``commit()`` hands the new state to the runner, which keeps it only when the
    run succeeds.
    """

    def __init__(self, glue_context: GlueContext) -> None:
        self._context = glue_context
        self._initialized = False
        self._name = ""

    @classmethod
    def continuation_options(cls) -> list[str]:
        return [
            "--continuation-option",
            "continuation-enabled",
            "continuation-readonly",
            "continuation-ignore",
        ]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return [
            "--job-bookmark-option",
            "job-bookmark-enable",
            "job-bookmark-pause",
            "job-bookmark-disable",
        ]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Start the job: its name, arguments and bookmark state."""
        if not job_name:
            raise ValueError("Job.init: job_name is empty; pass args['JOB_NAME']")
        given = {str(k): str(v) for k, v in (args or {}).items() if v is not None}
        given["JOB_NAME"] = job_name
        self._context._args = given
        runtime = self._context._job
        if runtime is None:
            self._context._runtime()
        else:  # a source was read before init: keep its bookmark state
            runtime.args.update(given)
            runtime.name = job_name
        self._name = job_name
        self._initialized = True

    def isInitialized(self) -> bool:
        """Whether ``init`` was called."""
        return self._initialized

    def commit(self) -> None:
        """Record the new bookmark state and the run's metrics for the runner."""
        if not self._initialized:
            raise RuntimeError("Job.commit: call job.init(args['JOB_NAME'], args) first")
        self._context._runtime().commit()
