"""Finding a Java runtime Spark can use (17 or newer), with a one-line error when there is none."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from sparkglue.errors import JavaNotAvailable

MIN_JAVA = 17
_INSTALL = (
    "install Java 17+ (Debian/Ubuntu: 'sudo apt-get install openjdk-17-jre-headless', macOS: "
    "'brew install openjdk@17') or point JAVA_HOME at one"
)


def find_java() -> Path | None:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return candidate if candidate.is_file() else None
    found = shutil.which("java")
    return Path(found) if found else None


def java_major_version(java: Path) -> int | None:
    """The feature version of a Java runtime (``1.8`` → 8, ``17.0.15`` → 17)."""
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


@functools.cache
def _checked(java: Path | None, java_home: str | None) -> int:
    if java is None:
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        raise JavaNotAvailable(f"Spark needs Java {MIN_JAVA} or newer but {where}; {_INSTALL}")
    version = java_major_version(java)
    if version is None:
        raise JavaNotAvailable(f"Spark needs Java {MIN_JAVA}+ but {java} did not run; {_INSTALL}")
    if version < MIN_JAVA:
        raise JavaNotAvailable(
            f"Spark needs Java {MIN_JAVA} or newer but {java} is Java {version}; {_INSTALL}"
        )
    return version


def require_java() -> int:
    """The Java feature version, or :class:`JavaNotAvailable` with what to do."""
    return _checked(find_java(), os.environ.get("JAVA_HOME"))
