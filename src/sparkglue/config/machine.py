"""What belongs to the machine rather than to a workspace: the user's cache folder.

Spark's class archive and the crawler's compiled typer are built once per machine and shared
by every workspace: ``$SPARKGLUE_CACHE_DIR``, else ``$XDG_CACHE_HOME/sparkglue``, else
``~/.cache/sparkglue``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir", "keep_newest", "switched_off"]

CACHE_ENV = "SPARKGLUE_CACHE_DIR"
_OFF = {"0", "off", "false", "no"}


def cache_dir() -> Path:
    """The folder of what sparkglue builds once per machine."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sparkglue"


def switched_off(variable: str) -> bool:
    """Whether a machine switch (an environment variable) says off: 0, off, false or no."""
    return os.environ.get(variable, "").strip().lower() in _OFF


def keep_newest(folder: Path, pattern: str, keep: int) -> None:
    """Remove all but the ``keep`` newest files of ``folder`` that match ``pattern``: other
    installations (another virtualenv, another JDK, another compiler) keep theirs, up to a
    few. A process that loaded a removed file keeps its copy mapped."""
    built = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    for old in built[: max(0, len(built) - keep)]:
        old.unlink(missing_ok=True)
