"""``python -m sparkglue.cli.replication_worker WORKSPACE TASK``: the process of a running
replication task (what ``sparkglue replication task start|resume`` starts in the background)."""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> int:
    # Only what a task needs (not the whole workspace, which also loads the crawler and the
    # demo): a task starts, and resumes after a crash, sooner.
    from sparkglue.catalog import DataCatalog
    from sparkglue.config import Settings
    from sparkglue.replication.service import STOP_SIGNAL, ReplicationService
    from sparkglue.store import MetadataStore

    workspace, task = argv
    # A polite kill stops the task at the end of its batch, as `task stop` does.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: STOP_SIGNAL.set())
    settings = Settings.resolve(workspace)
    store = MetadataStore(settings.metadata_url)
    catalog = DataCatalog(store, lake_root=settings.lake_root, allowed_roots=settings.allowed_roots)
    status = ReplicationService(store, catalog, settings).run_task(task, sys.stdout)
    return 0 if status == "Stopped" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
