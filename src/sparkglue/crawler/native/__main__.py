"""Build the crawler's typer ahead of the first crawl: ``python -m sparkglue.crawler.native``."""

from __future__ import annotations

import sys

from sparkglue.crawler.native import build


def main() -> int:
    try:
        path = build()
    except RuntimeError as exc:
        print(f"crawler typer: not built ({exc}); crawls type samples in Python", file=sys.stderr)
        return 0
    print(f"crawler typer: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
