"""What every run record shares: readable, sortable ids, whether its process still lives, and
the line of its log that says why it failed."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from sparkglue.store.engine import MetadataStore

__all__ = ["failure_line", "new_record_id", "orphaned", "process_alive", "spawn_worker"]


def new_record_id(prefix: str) -> str:
    """``cr_20261123T101500_ab12cd`` style: a prefix, the UTC second, six random hex digits."""
    return f"{prefix}_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}_{secrets.token_hex(3)}"


def process_alive(pid: int) -> bool:
    """Whether a process of this host with ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child that its parent has not reaped yet is a zombie: it no longer runs.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def orphaned(
    store: MetadataStore, table: sa.Table, state: sa.Column[Any], states: Iterable[str]
) -> list[sa.Row[Any]]:
    """The records of ``table`` on this host, in one of ``states``, whose process (``pid``) is
    gone: runs, tasks or clusters whose supervisor died without a final state."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(table).where(
                state.in_(list(states)),
                table.c.host == socket.gethostname(),
                table.c.pid.is_not(None),
            )
        ).all()
    return [r for r in rows if not process_alive(r.pid)]


def spawn_worker(module: str, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m MODULE ARGS…`` (a run's, task's or cluster's supervisor) in a session
    of its own, so that it outlives the command that started it; its output is appended to
    ``log``, or discarded."""
    with (log or Path(os.devnull)).open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def failure_line(log: Path) -> str:
    """The line of a process's log that says why it failed: the last exception line, else the
    last line."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "the process failed (no log)"
    for line in reversed(lines):
        text = line.strip()
        ordinary = text.startswith(("at ", "File ", "WARN", "INFO"))
        if ":" in text and not ordinary and ("Error" in text or "Exception" in text):
            return text[:500]
    return next((t.strip()[:500] for t in reversed(lines) if t.strip()), "the process failed")
