"""The warm runner: a preloaded Python that forks a child per run, each like ``python SCRIPT``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkglue.jobs.warm import WarmChild

SCRIPT = """
import json, os, sys
import pyspark.sql.connect.session  # preloaded: no import cost here
print("hello from the run")
json.dump({
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "env": os.environ.get("RUN_VALUE"),
    "leaked": os.environ.get("ONLY_IN_RUNNER"),
    "path0": sys.path[0],
    "pgid": os.getpgid(0),
    "pid": os.getpid(),
    "main": __name__,
}, open(sys.argv[1], "w"))
sys.exit(int(sys.argv[2]))
"""


Runner = tuple[Path, "subprocess.Popen[bytes]"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    folder = tmp_path_factory.mktemp("runner")
    sock = folder / "runner.sock"
    env = {**os.environ, "ONLY_IN_RUNNER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkglue.cli.warm_runner", str(sock)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "the runner did not start"
        time.sleep(0.1)
    yield sock, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def run_env(**extra: str) -> dict[str, str]:
    """A run's environment: what Python reads at start-up is the runner's (as for a run of the
    same workspace), the rest its own."""
    same = {k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "SPARK_CONNECT_"))}
    return {**same, "RUN_VALUE": "given", "PATH": os.environ.get("PATH", ""), **extra}


def _script(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "scripts" / "run.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(script, encoding="utf-8")
    return path


def _start(sock: Path, tmp_path: Path, script: str, *args: str) -> tuple[WarmChild, Path]:
    path = _script(tmp_path, script)
    log = tmp_path / "run.log"
    command = [sys.executable, str(path), *args]
    return WarmChild.start(sock, command, env=run_env(), cwd=tmp_path, log=log), log


def test_a_child_runs_like_python_script_with_the_runs_environment(
    runner: Runner, tmp_path: Path
) -> None:
    sock, proc = runner
    out = tmp_path / "seen.json"
    child, log = _start(sock, tmp_path, SCRIPT, str(out), "3")
    assert child.wait(60) == 3
    seen = json.loads(out.read_text())
    assert seen["argv"] == [str(tmp_path / "scripts" / "run.py"), str(out), "3"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"] == "given"
    assert seen["leaked"] is None  # the runner's own environment does not leak into runs
    assert seen["path0"] == str(tmp_path / "scripts")
    assert seen["pid"] == child.pid != proc.pid
    assert seen["pgid"] == child.pid  # its own process group, for stopping the whole tree
    assert seen["main"] == "__main__"
    assert "hello from the run" in log.read_text()


def test_an_exception_is_a_failure_with_its_traceback_in_the_log(
    runner: Runner, tmp_path: Path
) -> None:
    child, log = _start(runner[0], tmp_path, "raise ValueError('bad column')\n")
    assert child.wait(60) == 1
    text = log.read_text()
    assert "Traceback" in text and "ValueError: bad column" in text


def test_a_child_stopped_by_its_process_group_reports_the_signal(
    runner: Runner, tmp_path: Path
) -> None:
    child, _ = _start(runner[0], tmp_path, "import time\ntime.sleep(60)\n")
    assert child.poll() is None
    os.killpg(child.pid, signal.SIGTERM)
    assert child.wait(30) == -signal.SIGTERM


def test_children_run_side_by_side(runner: Runner, tmp_path: Path) -> None:
    # Each child marks its start and waits for the other two: run one after another, the
    # first would give up (exit 9) instead of ending with its own code.
    marks = tmp_path / "marks"
    marks.mkdir()
    script = (
        "import sys, time\nfrom pathlib import Path\n"
        "marks = Path(sys.argv[2])\n(marks / sys.argv[1]).touch()\n"
        "deadline = time.monotonic() + 30\n"
        "while len(list(marks.iterdir())) < 3:\n"
        "    if time.monotonic() > deadline:\n        sys.exit(9)\n"
        "    time.sleep(0.05)\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    children = []
    for code in (4, 5, 6):
        folder = tmp_path / str(code)
        folder.mkdir()
        children.append(_start(runner[0], folder, script, str(code), str(marks))[0])
    assert [c.wait(60) for c in children] == [4, 5, 6]


def test_the_socket_is_the_owners_alone(runner: Runner) -> None:
    assert runner[0].stat().st_mode & 0o777 == 0o600


def test_a_run_that_python_would_start_differently_is_refused(
    runner: Runner, tmp_path: Path
) -> None:
    path = _script(tmp_path, "open('ran', 'w')\n")
    log = tmp_path / "run.log"
    other = run_env(PYTHONPATH="/elsewhere")
    with pytest.raises(OSError, match="PYTHONPATH differs"):
        WarmChild.start(runner[0], [sys.executable, str(path)], env=other, cwd=tmp_path, log=log)
    with pytest.raises(OSError, match="the run's Python is"):
        WarmChild.start(runner[0], ["/bin/sh", str(path)], env=run_env(), cwd=tmp_path, log=log)


def test_a_child_the_client_did_not_take_never_runs_the_script(
    runner: Runner, tmp_path: Path
) -> None:
    # The client asks, learns the pid, and goes away without "go" (it timed out and starts the
    # run itself): the child must leave without running anything, so the run runs once.
    import json as json_
    import socket

    from sparkglue.store import process_alive

    marker = tmp_path / "ran"
    path = _script(tmp_path, f"open({str(marker)!r}, 'w')\n")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(runner[0]))
    request = {
        "python": sys.executable,
        "argv": [str(path)],
        "env": run_env(),
        "cwd": str(tmp_path),
        "log": str(tmp_path / "run.log"),
    }
    conn.sendall(json_.dumps(request).encode() + b"\n")
    pid = json_.loads(conn.recv(4096))["pid"]
    conn.close()
    deadline = time.monotonic() + 30
    while process_alive(pid):
        assert time.monotonic() < deadline, "the untaken child did not leave"
        time.sleep(0.05)
    assert not marker.exists()


def test_a_keyboard_interrupt_ends_the_run_as_python_does(runner: Runner, tmp_path: Path) -> None:
    child, log = _start(runner[0], tmp_path, "raise KeyboardInterrupt\n")
    assert child.wait(60) == -signal.SIGINT
    assert "KeyboardInterrupt" in log.read_text()


def test_the_run_waits_for_its_threads_before_it_ends(runner: Runner, tmp_path: Path) -> None:
    done = tmp_path / "thread-done"
    script = (
        "import threading, time\n"
        "def late():\n    time.sleep(0.5)\n"
        f"    open({str(done)!r}, 'w').write('yes')\n"
        "threading.Thread(target=late).start()\n"
    )
    child, _ = _start(runner[0], tmp_path, script)
    assert child.wait(60) == 0
    assert done.read_text() == "yes"


def test_when_the_runner_dies_its_run_goes_on_and_its_end_is_still_seen(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    proc = subprocess.Popen([sys.executable, "-m", "sparkglue.cli.warm_runner", str(sock)])
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        child, _ = _start(sock, tmp_path, "import time\ntime.sleep(120)\n")
    finally:
        proc.kill()
        proc.wait(30)
    assert child.poll() is None  # the run outlives its runner
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait(30) == 1  # its code went with the runner; that it ended did not


def test_no_runner_or_a_file_that_is_not_one_is_an_os_error(tmp_path: Path) -> None:
    command = [sys.executable, "x.py"]
    with pytest.raises(OSError):
        WarmChild.start(tmp_path / "none.sock", command, env={}, cwd=tmp_path, log=tmp_path / "l")
    plain = tmp_path / "plain.sock"
    plain.write_text("")
    with pytest.raises(OSError, match="not a runner socket"):
        WarmChild.start(plain, command, env={}, cwd=tmp_path, log=tmp_path / "l")


def test_a_missing_script_is_refused_without_a_child(runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(OSError, match="no script"):
        WarmChild.start(
            runner[0],
            [sys.executable, str(tmp_path / "gone.py")],
            env=run_env(),
            cwd=tmp_path,
            log=tmp_path / "l",
        )


def test_the_runner_removes_its_socket_when_stopped(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    proc = subprocess.Popen([sys.executable, "-m", "sparkglue.cli.warm_runner", str(sock)])
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.terminate()
    assert proc.wait(30) == 0
    assert not sock.exists()
