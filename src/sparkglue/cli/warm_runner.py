"""``python -m sparkglue.cli.warm_runner SOCKET``: a cluster's warm Python for job runs over
Spark Connect (what ``sparkglue cluster create --connect`` starts; see sparkglue.jobs.warm)."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from sparkglue.jobs.warm import serve

    (socket_path,) = argv
    serve(Path(socket_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
