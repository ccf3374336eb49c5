"""``python -m sparkglue.cli.crawl_worker WORKSPACE RUN_ID``: executes a started crawl run in the
background (what ``sparkglue crawler run NAME`` without ``--wait`` starts)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from sparkglue.config import Settings
    from sparkglue.workspace import Workspace

    workspace, run_id = argv
    ws = Workspace(settings=Settings.resolve(workspace))
    ws.crawlers.claim_run(run_id)
    run = ws.crawlers.execute(run_id)
    return 0 if run.state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
