"""ETL jobs: specs, generated scripts, the runner (a process per run), run records, bookmarks."""

from __future__ import annotations

from sparkglue.jobs.service import ConcurrentRunsExceeded, JobRun, JobService
from sparkglue.jobs.specs import GeneratedSpec, JobSpec

__all__ = ["ConcurrentRunsExceeded", "GeneratedSpec", "JobRun", "JobService", "JobSpec"]
