"""The Spark configuration each master kind gets (no JVM started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkglue.config import Settings
from sparkglue.spark import session_conf


def _conf(tmp_path: Path, master: str, **conf: str) -> dict[str, str]:
    settings = Settings.resolve(
        tmp_path, overrides={"spark_master": master, "spark_conf": conf}, env={}
    )
    return session_conf(settings)


def test_local_defaults(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "local[*]")
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path.resolve() / "warehouse")
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert int(conf["spark.sql.shuffle.partitions"]) >= 4
    assert "log4j.configurationFile" in conf["spark.driver.extraJavaOptions"]
    assert "-XX:-DontCompileHugeMethods" in conf["spark.driver.extraJavaOptions"].split()
    assert "spark.executor.extraJavaOptions" not in conf  # local executors are the driver


@pytest.mark.parametrize("master", ["spark://h:7077", "yarn", "k8s://https://api:6443"])
def test_cluster_masters_keep_spark_defaults_for_parallelism(tmp_path: Path, master: str) -> None:
    conf = _conf(tmp_path, master)
    assert conf["spark.master"] == master
    assert "spark.sql.shuffle.partitions" not in conf
    assert "spark.executor.extraJavaOptions" not in conf  # the cluster's own, untouched


def test_spark_connect_sets_no_jvm_options(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "sc://localhost:15002")
    assert "spark.master" not in conf
    assert "spark.driver.extraJavaOptions" not in conf
    assert "spark.executor.extraJavaOptions" not in conf
    assert "spark.sql.catalogImplementation" not in conf
    assert "spark.ui.showConsoleProgress" not in conf  # the server's, not settable by a client


def test_user_conf_wins_and_java_options_are_appended(tmp_path: Path) -> None:
    conf = _conf(
        tmp_path,
        "local[2]",
        **{
            "spark.sql.shuffle.partitions": "64",
            "spark.driver.extraJavaOptions": "-Dx=y",
        },
    )
    assert conf["spark.sql.shuffle.partitions"] == "64"
    assert conf["spark.driver.extraJavaOptions"].endswith(" -Dx=y")
    cluster = _conf(tmp_path, "spark://h:7077", **{"spark.executor.extraJavaOptions": "-Dz=1"})
    assert cluster["spark.executor.extraJavaOptions"] == "-Dz=1"


def test_jdbc_driver_jars_of_the_os_packages_join_the_users_jars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkglue.spark import session as session_module

    shelf = tmp_path / "java"
    shelf.mkdir()
    (shelf / "postgresql-42.5.5.jar").write_bytes(b"PK")
    (shelf / "postgresql.jar").symlink_to(shelf / "postgresql-42.5.5.jar")
    (shelf / "unrelated.jar").write_bytes(b"PK")
    assert session_module.jdbc_driver_jars((str(shelf),)) == [str(shelf / "postgresql-42.5.5.jar")]
    assert session_module.jdbc_driver_jars((str(tmp_path / "none"),)) == []
    monkeypatch.setattr(
        session_module,
        "jdbc_driver_jars",
        lambda dirs=(str(shelf),): [str(shelf / "postgresql-42.5.5.jar")],
    )
    conf = _conf(tmp_path, "local[2]", **{"spark.jars": "/opt/extra.jar"})
    assert conf["spark.jars"] == f"{shelf / 'postgresql-42.5.5.jar'},/opt/extra.jar"
    assert "spark.jars" not in _conf(tmp_path, "sc://localhost:15002")


def test_connect_calls_run_without_the_cycle_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from sparkglue.spark import session as session_module

    session: Any = object()
    monkeypatch.setattr(session_module, "is_connect", lambda spark: spark is session)
    assert gc.isenabled()
    with session_module.calls_without_collector(session):
        assert not gc.isenabled()  # no finalizer can run inside a call to the server
    assert gc.isenabled()
    with pytest.raises(RuntimeError), session_module.calls_without_collector(session):
        raise RuntimeError("a failed call")
    assert gc.isenabled()
    with session_module.calls_without_collector(object()):
        assert gc.isenabled()  # a classic session: nothing changes
