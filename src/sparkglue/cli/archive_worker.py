"""``python -m sparkglue.cli.archive_worker``: archives Spark's classes now, for faster driver
starts (``sparkglue.spark.archive``; the first driver without an archive starts this itself)."""

from __future__ import annotations


def main() -> int:
    from sparkglue.spark.archive import main as archive

    return archive()


if __name__ == "__main__":
    raise SystemExit(main())
