"""``python -m sparkglue.cli.job_worker WORKSPACE RUN_ID``: the supervisor of a job run (what
``sparkglue job run NAME`` starts in the background)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from sparkglue.config import Settings
    from sparkglue.workspace import Workspace

    workspace, run_id = argv
    ws = Workspace(settings=Settings.resolve(workspace))
    run = ws.jobs.supervise(run_id)
    return 0 if run.state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
