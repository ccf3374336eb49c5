"""Building a SparkSession for any master: ``local[*]``, ``spark://``, ``yarn``, ``k8s://``, ``sc://``.

Defaults suit an embedded session (in-memory Spark catalog, UTC, a warehouse folder in the
workspace, quiet logs); everything in ``Settings.spark_conf`` goes on top.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sparkglue.config import Settings
from sparkglue.errors import SparkError
from sparkglue.spark import archive
from sparkglue.spark.java import require_java

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "build_session",
    "calls_without_collector",
    "check_prerequisites",
    "is_connect",
    "session_conf",
]


# JDBC drivers as the OS packages install them (Debian/Ubuntu: libpostgresql-jdbc-java,
# libmariadb-java, libxerial-sqlite-jdbc-java); Spark ships none.
JDBC_DRIVER_DIRS = ("/usr/share/java",)
JDBC_DRIVER_JARS = ("postgresql.jar", "mariadb-java-client.jar", "sqlite-jdbc.jar")


def jdbc_driver_jars(dirs: tuple[str, ...] = JDBC_DRIVER_DIRS) -> list[str]:
    """The JDBC driver jars installed by the OS packages, to put on Spark's class path."""
    found = []
    for name in JDBC_DRIVER_JARS:
        for folder in dirs:
            path = Path(folder) / name
            if path.is_file():
                found.append(str(path.resolve()))
                break
    return found


# Spark generates one Java method per query stage; with many columns (a tree's twenty features,
# each cast, imputed and assembled) it passes the 8,000 bytes of bytecode above which the JVM
# never compiles a method, and the whole stage then runs interpreted, 2-3x slower. Compiling
# such methods too is the JVM's own switch for it. Drivers only: a cluster's executors keep
# the Java options its administrators gave them.
JIT_OPTIONS = ("-XX:-DontCompileHugeMethods",)


def session_conf(settings: Settings) -> dict[str, str]:
    """The Spark configuration a session gets for these settings (defaults < settings)."""
    master = settings.spark_master
    conf: dict[str, str] = {
        "spark.app.name": settings.spark_app_name,
        "spark.sql.session.timeZone": "UTC",
    }
    if not master.startswith("sc://"):  # a Connect server's JVM and UI are its own
        log_config = resources.files("sparkglue.spark").joinpath("log4j2.properties")
        java_options = [
            *archive.java_options(),
            f"-Dlog4j.configurationFile=file:{log_config}",
            *JIT_OPTIONS,
        ]
        conf.update(
            {
                "spark.master": master,
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.catalogImplementation": "in-memory",
                "spark.sql.warehouse.dir": str(settings.workspace / "warehouse"),
                "spark.driver.extraJavaOptions": " ".join(java_options),
            }
        )
    if master.startswith("local"):
        # Small data on few cores: 200 shuffle partitions cost more than they save.
        conf["spark.sql.shuffle.partitions"] = str(max(4, 2 * (os.cpu_count() or 2)))
        conf["spark.ui.enabled"] = "false"
    drivers = [] if master.startswith("sc://") else jdbc_driver_jars()  # a server has its own
    if drivers:
        conf["spark.jars"] = ",".join(drivers)
    for key, value in settings.spark_conf.items():
        if key in ("spark.driver.extraJavaOptions", "spark.jars") and key in conf:
            separator = " " if key == "spark.driver.extraJavaOptions" else ","
            conf[key] = f"{conf[key]}{separator}{value}"
        else:
            conf[key] = value
    return conf


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect session: a client of a remote Spark, with no JVM
    (``sparkContext``, RDDs, ``_jvm``) in this process."""
    connect = sys.modules.get("pyspark.sql.connect.session")
    return connect is not None and isinstance(spark, connect.SparkSession)


@contextmanager
def calls_without_collector(spark: SparkSession) -> Iterator[None]:
    """Keep Python's cycle collector off while ``spark`` works, if it is a Spark Connect session,
    and collect afterwards, between calls to the server.

    PySpark's ML objects on Spark Connect delete their copy on the server from ``__del__``, with
    a call to the server. When the cycle collector runs such a finalizer in the middle of
    another call (gRPC allocates as it sends), the second call waits for the first forever.
    (PySpark 4.1 has no guard of its own; one that skips those deletions while the collector
    is off would leave the objects freed here on the server until the session ends.)"""
    if not is_connect(spark) or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def check_prerequisites(settings: Settings) -> None:
    """Fail fast, before anything starts: Java for a JVM, the client packages for ``sc://``."""
    master = settings.spark_master
    if master.startswith("sc://"):
        try:
            from pyspark.sql.connect.utils import check_dependencies

            check_dependencies("pyspark.sql.connect.session")
        except ImportError as exc:
            raise SparkError(
                f"Spark Connect ({master}) needs more packages ({exc}); install them with "
                "pip install 'pyspark[connect]>=4.1,<4.2'"
            ) from None
    elif not os.environ.get("PYSPARK_GATEWAY_PORT"):  # under spark-submit the JVM is running
        require_java()


def build_session(settings: Settings) -> SparkSession:
    """Start (or reuse) the SparkSession for the configured master.

    Raises:
        JavaNotAvailable: a JVM is needed (any master but ``sc://``) and none is usable.
        SparkError: Spark did not start; the message says why.
    """
    master = settings.spark_master
    conf = session_conf(settings)
    check_prerequisites(settings)
    if master.startswith("local"):
        # An embedded session talks only to itself: bind to loopback instead of guessing an
        # interface (and warning about the guess).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers (UDFs, sparkglue's own file source) run in this interpreter's env.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    if master.startswith("sc://"):
        builder = builder.remote(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = cast("SparkSession", builder.getOrCreate())
    except Exception as exc:  # Spark reports start-up failures with many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkError(f"Spark did not start with master '{master}': {first}") from exc
    _quiet_python_loggers()
    if not master.startswith("sc://"):
        _archive_classes_at_exit()
    return session


def _archive_classes_at_exit() -> None:
    """The first driver without an archive of Spark's classes has one made once it has
    exited, so that later drivers start faster (``sparkglue.spark.archive``)."""
    global _ARCHIVE_HOOKED
    if _ARCHIVE_HOOKED or not archive.enabled():
        return
    path = archive.archive_path()
    if path is not None and not path.is_file():
        atexit.register(archive.build_later)
        _ARCHIVE_HOOKED = True


_ARCHIVE_HOOKED = False


def _quiet_python_loggers() -> None:
    # PySpark logs every AnalysisException with a stack trace before raising it; sparkglue
    # resolves missing catalog tables by catching exactly those, and reports the rest itself.
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
