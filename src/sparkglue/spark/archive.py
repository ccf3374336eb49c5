"""Spark's classes archived for a faster driver start (the JDK's class-data sharing, AppCDS).

A Spark driver loads, verifies and links some 8,000 classes before it runs anything. With an
archive of them, a new JVM maps them from one file instead: a local session or a job run's
driver starts 2–4 s sooner (``bench/jobs.py`` measures it). The archive belongs to one Java
runtime and one Spark, and its file name carries a key of both; a JVM that finds it does not
match (an upgraded JDK, say) ignores it and loads classes as usual.

It is made once, in the background and at low priority, by the first process that starts a
Spark driver without one (``build_later``), once the machine is idle (or after 10 minutes), from
a small workload that touches what sparkglue's sessions use (SQL, the file formats, a
partitioned write, a shuffle, a decision tree); or at once with
``python -m sparkglue.cli.archive_worker``. It is shared by every workspace of the user:
``$SPARKGLUE_CACHE_DIR``, else ``$XDG_CACHE_HOME/sparkglue``, else ``~/.cache/sparkglue``; the
three newest are kept, one per installation (another virtualenv, another JDK).
``SPARKGLUE_CLASS_ARCHIVE=off`` neither uses nor makes one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparkglue.config.machine import CACHE_ENV, cache_dir, keep_newest, switched_off
from sparkglue.errors import SparkError
from sparkglue.spark.java import find_java

__all__ = [
    "CACHE_ENV",
    "archive_path",
    "build",
    "build_later",
    "cache_dir",
    "enabled",
    "java_options",
]

SWITCH_ENV = "SPARKGLUE_CLASS_ARCHIVE"
# A missing, foreign or stale archive must never say so on the driver's console.
_QUIET = ("-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off")
_WARMUP = Path(__file__).with_name("archive_warmup.py")
_BUILD_TIMEOUT = 600.0
_IDLE_WAIT = 600.0  # a background build waits this long at most for an idle machine
_KEEP = 3  # archives kept: one per Java and Spark installation in use


def enabled() -> bool:
    """Whether archives are used and made (``SPARKGLUE_CLASS_ARCHIVE`` is not ``off``)."""
    return not switched_off(SWITCH_ENV)


def _stamp(path: Path) -> list[object]:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_mtime_ns]


def _spark_home() -> Path:
    """Spark's folder as PySpark finds it (the same under spark-submit, whose driver imports
    PySpark from a zip file)."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()).resolve()  # type: ignore[no-untyped-call]


def archive_path() -> Path | None:
    """Where the archive for this Java and this Spark is (or would be); None when there is no
    Java to key it by."""
    java = find_java()
    if java is None:
        return None
    import pyspark

    jars = _spark_home() / "jars"
    key = json.dumps([_stamp(java.resolve()), pyspark.__version__, _stamp(jars)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"spark-classes-{digest}.jsa"


def java_options() -> list[str]:
    """The driver JVM options that map the archive: none when it is off or not made yet."""
    if not enabled():
        return []
    path = archive_path()
    # Spark splits Java options at spaces: a path holding one cannot be passed safely.
    if path is None or not path.is_file() or any(c.isspace() for c in str(path)):
        return []
    return [f"-XX:SharedArchiveFile={path}", *_QUIET]


def build(*, timeout: float = _BUILD_TIMEOUT, wait_idle: float = 0.0) -> Path | None:
    """Make the archive now, unless it exists or another process is making it (then None);
    with ``wait_idle``, first wait up to that many seconds for the machine to be idle.

    Raises:
        SparkError: no Java, or the workload's driver failed (its last output line says why).
    """
    path = archive_path()
    if path is None:
        raise SparkError("no Java runtime to archive classes for; install Java 17+")
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / "spark-classes.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if path.is_file():
            return path
        _wait_until_idle(wait_idle)
        for stale in path.parent.glob("spark-classes-*.partial"):  # a build that was killed
            stale.unlink(missing_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        submit = _spark_home() / "bin" / "spark-submit"
        options = [f"-XX:ArchiveClassesAtExit={partial}", *_QUIET[1:]]
        command = [str(submit), "--master", "local[2]", "--driver-java-options", " ".join(options)]
        # Its own driver, even when called from a driver (whose gateway the environment names).
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
        env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
        env[SWITCH_ENV] = "off"
        with tempfile.TemporaryDirectory(prefix="sparkglue-archive-") as work:
            try:
                done = subprocess.run(
                    [*command, str(_WARMUP), work],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                partial.unlink(missing_ok=True)
                raise SparkError(
                    f"archiving Spark's classes took longer than {timeout:.0f} s; try again"
                ) from None
        if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
            lines = [x for x in (done.stderr + done.stdout).splitlines() if x.strip()]
            raise SparkError(
                f"archiving Spark's classes failed: {lines[-1] if lines else done.returncode}"
            )
        partial.replace(path)
        _prune(path.parent)
        return path


def _prune(folder: Path, keep: int = _KEEP) -> None:
    keep_newest(folder, "spark-classes-*.jsa", keep)


def _wait_until_idle(limit: float, poll: float = 5.0) -> None:
    """Wait, up to ``limit`` seconds, until the load is under half the cores: an archive made
    in the background should not slow down what the user runs next."""
    deadline = time.monotonic() + limit
    cores = os.cpu_count() or 1
    while time.monotonic() < deadline:
        try:
            if os.getloadavg()[0] < cores / 2:
                return
        except OSError:  # no load average on this system
            return
        time.sleep(poll)


def build_later() -> bool:
    """Start making the archive in a detached, low-priority process if it is on, missing and
    not being made; whether one was started."""
    if not enabled():
        return False
    path = archive_path()
    if path is None or path.is_file():
        return False
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "spark-classes.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free now: nobody is making it
    except OSError:  # a read-only cache or a build under way: run without
        return False
    from sparkglue.store.records import spawn_worker

    log = folder / "spark-classes.log"
    with log.open("a") as out:
        out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} archiving Spark's classes\n")
    spawn_worker("sparkglue.cli.archive_worker", "--when-idle", log=log)
    print(
        f"sparkglue: archiving Spark's classes in the background, for faster starts from now on "
        f"(log: {log})",
        file=sys.stderr,
        flush=True,
    )
    return True


def main(argv: list[str]) -> int:
    """Make the archive at low priority, saying where it is (the worker's entry); with
    ``--when-idle``, once the machine is idle (waiting 10 minutes at most)."""
    os.nice(10)
    try:
        path = build(wait_idle=_IDLE_WAIT if "--when-idle" in argv else 0.0)
    except SparkError as exc:
        print(f"sparkglue: {exc}", file=sys.stderr)
        return 1
    print(f"Spark's classes: {path or 'being archived by another process'}")
    return 0
