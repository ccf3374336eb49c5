"""The Java check: no java, an old java, a good java."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sparkglue.errors import JavaNotAvailable
from sparkglue.spark import java


def _fake_java(home: Path, version: str) -> Path:
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "java"
    exe.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    java._checked.cache_clear()


def test_missing_java_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotAvailable, match="no java on PATH; install Java 17") as info:
        java.require_java()
    assert "apt-get install openjdk-17-jre-headless" in str(info.value)


def test_java_home_without_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotAvailable, match=f"JAVA_HOME={tmp_path} has no bin/java"):
        java.require_java()


@pytest.mark.parametrize(("version", "major"), [("1.8.0_292", 8), ("11.0.2", 11)])
def test_old_java_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str, major: int
) -> None:
    _fake_java(tmp_path, version)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotAvailable, match=f"is Java {major}; install Java 17"):
        java.require_java()


def test_the_machines_java_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", os.environ["PATH"])
    assert java.require_java() >= 17
