"""``python -m sparkglue.cli.archive_worker [--when-idle]``: archives Spark's classes for faster
driver starts (``sparkglue.spark.archive``; the first driver without an archive starts this
itself, with ``--when-idle``)."""

from __future__ import annotations

import sys


def main() -> int:
    from sparkglue.spark.archive import main as archive

    return archive(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
