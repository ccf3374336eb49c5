"""``getResolvedOptions``: a Glue script's arguments."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["GlueArgumentError", "getResolvedOptions"]

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
