"""``python -m sparkglue.cli.cluster_worker WORKSPACE CLUSTER_ID``: the supervisor of a cluster
(what ``sparkglue cluster create`` starts in the background, and ``cluster add-step`` for an
attached cluster)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from sparkglue.cluster.service import ClusterService
    from sparkglue.cluster.supervisor import ClusterSupervisor
    from sparkglue.config import Settings
    from sparkglue.store import MetadataStore

    workspace, cluster_id = argv
    settings = Settings.resolve(workspace)
    service = ClusterService(MetadataStore(settings.metadata_url), settings)
    final = ClusterSupervisor(service, cluster_id, sys.stdout).run()
    return 0 if final in ("TERMINATED", "WAITING", "RUNNING") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
