"""``getResolvedOptions``: a Glue script's arguments; a workflow run's run properties."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = [
    "GlueArgumentError",
    "getResolvedOptions",
    "get_workflow_run_properties",
    "put_workflow_run_properties",
]

# Arguments Glue itself passes to every job run; a script may ask for them by name.
RESERVED = (
    "JOB_NAME",
    "JOB_ID",
    "JOB_RUN_ID",
    "SECURITY_CONFIGURATION",
    "job-bookmark-option",
    "TempDir",
    "WORKFLOW_NAME",
    "WORKFLOW_RUN_ID",
)


class GlueArgumentError(Exception):
    """A required job argument is missing or malformed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """The values of ``options`` (names without ``--``) from ``args`` (``sys.argv``).

    Every option asked for is required; names are matched exactly (no abbreviations); other
    arguments are ignored. ``job-bookmark-option`` may be asked for and defaults to
    ``job-bookmark-disable``.

    Raises:
        GlueArgumentError: an option asked for is missing (the message names it).
    """
    parser = _Parser(allow_abbrev=False, add_help=False)
    wanted = list(dict.fromkeys(options))
    for name in wanted:
        if name == "job-bookmark-option":
            parser.add_argument(
                "--job-bookmark-option",
                dest=name,
                choices=["job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"],
                default="job-bookmark-disable",
            )
        else:
            parser.add_argument(f"--{name}", dest=name, required=True)
    for name in RESERVED:
        if name not in wanted:
            parser.add_argument(f"--{name}", dest=f"_reserved_{name}")
    known, _ = parser.parse_known_args(list(args)[1:])
    values = vars(known)
    return {name: values[name] for name in wanted}


def _workflow_run(name: str, run_id: str) -> Any:
    """The scheduler service of the job's workspace, after checking the run is ``name``'s."""
    import os

    from sparkglue.workspace import Workspace

    service = Workspace(os.environ.get("SPARKGLUE_WORKSPACE")).scheduler
    run = service.get_workflow_run(run_id)
    if run.workflow != name:
        raise GlueArgumentError(
            f"workflow run {run_id} belongs to workflow {run.workflow}, not {name}"
        )
    return service


def get_workflow_run_properties(Name: str, RunId: str) -> dict[str, Any]:
    """Glue's GetWorkflowRunProperties for the run a job belongs to: ``{"RunProperties": {…}}``.

    Glue scripts call it on a boto3 Glue client with these keyword names; here it reads the
    run from the job's workspace (``--WORKFLOW_NAME`` and ``--WORKFLOW_RUN_ID`` give both).
    """
    service = _workflow_run(Name, RunId)
    return {"RunProperties": service.get_run_properties(RunId)}


def put_workflow_run_properties(
    Name: str,
    RunId: str,
    RunProperties: dict[str, str],
) -> dict[str, Any]:
    """Glue's PutWorkflowRunProperties: merge ``RunProperties`` into the run's properties."""
    service = _workflow_run(Name, RunId)
    service.put_run_properties(RunId, dict(RunProperties))
    return {}
