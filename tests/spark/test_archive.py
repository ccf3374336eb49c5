"""The archive of Spark's classes: made by a real driver, mapped by the next one, ignored when
it does not fit, and never used or made when turned off."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sparkglue.config import Settings
from sparkglue.errors import SparkError
from sparkglue.spark import archive, session_conf

DRIVER = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
print("rows", spark.range(3).count())
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(archive.CACHE_ENV, str(folder))
    monkeypatch.setenv(archive.SWITCH_ENV, "on")
    return folder


def _driver(tmp_path: Path, java_options: list[str]) -> subprocess.CompletedProcess[str]:
    """A new driver JVM (spark-submit, as the job runner starts one) with these options."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    submit = archive._spark_home() / "bin" / "spark-submit"
    return subprocess.run(
        [str(submit), "--driver-java-options", " ".join(java_options), str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.spark
@pytest.mark.slow
def test_a_made_archive_is_mapped_by_the_next_driver(cache: Path, tmp_path: Path) -> None:
    assert archive.java_options() == []  # nothing made yet
    path = archive.build()
    assert path is not None and path.is_file() and path.parent == cache
    assert path == archive.archive_path()
    assert not list(cache.glob("*.partial")), "a partial archive was left behind"
    assert archive.build() == path  # made once

    options = archive.java_options()
    assert options[0] == f"-XX:SharedArchiveFile={path}"
    settings = Settings.resolve(tmp_path / "ws", env={})
    assert options[0] in session_conf(settings)["spark.driver.extraJavaOptions"].split()

    loaded = tmp_path / "classes.log"
    done = _driver(tmp_path, [*options, f"-Xlog:class+load=info:file={loaded}"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows 3" in done.stdout
    lines = [x for x in loaded.read_text().splitlines() if " org.apache.spark.SparkContext " in x]
    assert lines and "shared objects file (top)" in lines[0], lines


@pytest.mark.spark
def test_an_archive_that_does_not_fit_is_ignored_silently(cache: Path, tmp_path: Path) -> None:
    path = archive.archive_path()
    assert path is not None
    cache.mkdir()
    path.write_bytes(b"not an archive of this Java" * 100)
    options = archive.java_options()
    assert options and options[0].endswith(str(path))
    done = _driver(tmp_path, options)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows 3" in done.stdout
    said = (done.stdout + done.stderr).lower()
    assert "cds" not in said and "shared archive" not in said and "sharing" not in said, said


def test_off_neither_uses_nor_makes_one(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = archive.archive_path()
    assert path is not None
    cache.mkdir()
    path.write_bytes(b"x")
    assert archive.java_options()  # on: the archive is used
    for value in ("off", "0", "false", "NO"):
        monkeypatch.setenv(archive.SWITCH_ENV, value)
        assert not archive.enabled()
        assert archive.java_options() == []
        assert archive.build_later() is False
        settings = Settings.resolve(tmp_path / "ws", env={})
        assert "SharedArchiveFile" not in session_conf(settings)["spark.driver.extraJavaOptions"]


def test_a_cache_folder_with_a_space_is_not_passed_to_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(archive.SWITCH_ENV, "on")
    monkeypatch.setenv(archive.CACHE_ENV, str(tmp_path / "my cache"))
    path = archive.archive_path()
    assert path is not None
    path.parent.mkdir()
    path.write_bytes(b"x")
    assert archive.java_options() == []


def test_made_in_the_background_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def popen(command: list[str], **kwargs: Any) -> None:
        assert kwargs["start_new_session"] is True  # outlives the driver that started it
        started.append(command)

    monkeypatch.setattr(archive.subprocess, "Popen", popen)
    assert archive.build_later() is True
    assert started == [[sys.executable, "-m", "sparkglue.cli.archive_worker", "--when-idle"]]
    assert "archiving Spark's classes" in (cache / "spark-classes.log").read_text()

    with (cache / "spark-classes.lock").open("w") as lock:  # a build under way
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert archive.build_later() is False
        assert archive.build() is None
    assert len(started) == 1

    path = archive.archive_path()
    assert path is not None
    path.write_bytes(b"x")  # made: nothing more to do
    assert archive.build_later() is False
    assert len(started) == 1


def test_the_key_follows_the_java_runtime(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = archive.archive_path()
    other = tmp_path / "jdk"
    (other / "bin").mkdir(parents=True)
    (other / "bin" / "java").write_text("#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("JAVA_HOME", str(other))
    theirs = archive.archive_path()
    assert mine is not None and theirs is not None and theirs != mine
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    assert archive.archive_path() is None
    assert archive.java_options() == []
    with pytest.raises(SparkError, match="no Java runtime"):
        archive.build()


def test_a_failed_build_is_one_line_and_leaves_nothing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "jdk"
    (broken / "bin").mkdir(parents=True)
    java = broken / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'Error: this runtime cannot start' >&2\nexit 1\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(broken))
    with pytest.raises(SparkError) as caught:
        archive.build()
    message = str(caught.value)
    assert message.startswith("archiving Spark's classes failed: ")
    assert "\n" not in message
    assert not list(cache.glob("*.jsa")) and not list(cache.glob("*.partial"))


def test_a_driver_without_one_has_it_made_when_it_exits(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkglue.spark import session

    hooked: list[Any] = []
    monkeypatch.setattr(session.atexit, "register", hooked.append)
    monkeypatch.setattr(session, "_ARCHIVE_HOOKED", False)
    session._archive_classes_at_exit()
    session._archive_classes_at_exit()  # once per process
    assert hooked == [archive.build_later]

    monkeypatch.setattr(session, "_ARCHIVE_HOOKED", False)
    path = archive.archive_path()
    assert path is not None
    cache.mkdir()
    path.write_bytes(b"x")
    session._archive_classes_at_exit()  # made already
    assert hooked == [archive.build_later]


def test_a_background_build_waits_for_an_idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = iter([4.0, 3.0, 0.2])
    slept: list[float] = []
    monkeypatch.setattr(archive.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(archive.os, "getloadavg", lambda: (next(loads), 0.0, 0.0))
    monkeypatch.setattr(archive.time, "sleep", slept.append)
    archive._wait_until_idle(600.0)
    assert len(slept) == 2  # busy, busy, idle

    clock = iter([0.0, 1.0, 2.0, 700.0])
    monkeypatch.setattr(archive.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(archive.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    slept.clear()
    archive._wait_until_idle(600.0)  # never idle: gives up at the limit
    assert len(slept) == 2


def test_three_installations_keep_their_archives(tmp_path: Path) -> None:
    import os as os_module

    for i in range(5):
        made = tmp_path / f"spark-classes-{i}.jsa"
        made.write_bytes(b"x")
        os_module.utime(made, (1_000 + i, 1_000 + i))
    (tmp_path / "spark-classes.log").write_text("kept")
    archive._prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "spark-classes-2.jsa",
        "spark-classes-3.jsa",
        "spark-classes-4.jsa",
        "spark-classes.log",
    ]
