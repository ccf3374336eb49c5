"""The job commands as a user types them (pythonshell scripts: real processes, no JVM)."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import run, spec

SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"
ECHO = "import sys\nprint('ARGS', sys.argv[1:], flush=True)\n"


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "ws")
    assert run(capsys, "init", path)[0] == 0
    scripts = tmp_path / "ws" / "scripts"
    (scripts / "echo_args.py").write_text(ECHO)
    (scripts / "sleeper.py").write_text(SLEEPER)
    return path


def sh(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> tuple[int, str, str]:
    """Run ``sparkglue -w WS COMMAND`` (split as a shell would)."""
    return run(capsys, "-w", ws, *shlex.split(command))


def _runs(capsys: pytest.CaptureFixture[str], ws: str, job: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, "-w", ws, "job", "runs", job, "-o", "json")
    assert code == 0, err
    return list(json.loads(out))


def test_create_run_wait_logs_and_list(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sh(
        capsys,
        ws,
        "job create echo --script scripts/echo_args.py --command pythonshell "
        "--arg --color=blue --arg --size=small",
    )
    assert code == 0 and "Job echo created" in out, err
    code, out, err = run(capsys, "-w", ws, "job", "run", "echo", "--arg", "--size=large", "--wait")
    assert code == 0, err
    assert "SUCCEEDED" in out
    (latest,) = _runs(capsys, ws, "echo")
    assert latest["state"] == "SUCCEEDED" and latest["attempt"] == 0
    code, out, _ = run(capsys, "-w", ws, "job", "logs", str(latest["id"]))
    assert code == 0
    assert "'--color', 'blue'" in out and "'--size', 'large'" in out  # run args beat defaults
    code, out, _ = run(capsys, "-w", ws, "job", "show", "echo", "-o", "json")
    shown = json.loads(out)
    assert shown["Command"] == {
        "Name": "pythonshell",
        "ScriptLocation": "scripts/echo_args.py",
        "PythonVersion": "3",
    }
    assert shown["DefaultArguments"] == {"--color": "blue", "--size": "small"}
    code, out, _ = run(capsys, "-w", ws, "job", "list", "-o", "json")
    (listed,) = json.loads(out)
    assert listed["name"] == "echo" and listed["last_run"] == "SUCCEEDED"
    code, out, _ = run(capsys, "-w", ws, "job", "script", "echo")
    assert out == ECHO


def test_stop_and_max_concurrent_runs(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        sh(capsys, ws, "job create sleepy --script scripts/sleeper.py --command pythonshell")[0]
        == 0
    )
    code, out, err = run(capsys, "-w", ws, "job", "run", "sleepy")
    assert code == 0, err
    (first,) = _runs(capsys, ws, "sleepy")
    code, out, err = run(capsys, "-w", ws, "job", "run", "sleepy")
    assert code == 1
    assert err.startswith("Error: job 'sleepy' already has 1 run(s) in progress and allows 1")
    assert len(err.strip().splitlines()) == 1
    deadline = time.monotonic() + 30
    while _runs(capsys, ws, "sleepy")[0]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    code, out, err = run(capsys, "-w", ws, "job", "stop", str(first["id"]))
    assert code == 0, err
    (stopped,) = _runs(capsys, ws, "sleepy")
    assert stopped["state"] == "STOPPED"
    code, out, _ = run(capsys, "-w", ws, "job", "logs", str(first["id"]))
    assert "sleeping" in out
    code, out, err = run(capsys, "-w", ws, "job", "stop", str(first["id"]))
    assert code == 1 and "is already STOPPED" in err


def test_one_line_errors(ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-w", ws, "catalog", "create-database", "raw")[0] == 0
    table = spec(tmp_path, ("id", "bigint"), ("name", "string"))
    assert run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(table))[0] == 0
    new = "job create x --source raw.birds --target curated.birds --mapping "
    cases = [
        ("job run ghost", "job 'ghost' not found"),
        ("job logs jr_nope", "job run 'jr_nope' not found"),
        (
            new + "'nme:string->name:string'",
            "mapping 'nme:string->name:string': raw.birds has no column 'nme'",
        ),
        (
            new + "'id:bigint->id:int' --partition-by name",
            "partition column 'name' is not a mapped target column",
        ),
        (
            new + "'id:bigint->id:bigint' --format avro2",
            "avro2",
        ),
        ("job create x --script scripts/missing.py", "scripts/missing.py does not exist"),
        (
            "job create x --script scripts/echo_args.py --worker-type G.3X",
            "WorkerType 'G.3X' is not one of",
        ),
        ("job create x --script scripts/echo_args.py --arg color=blue", "must look like --name"),
        (
            "job create x --script scripts/echo_args.py --arg --job-bookmark-option=on",
            "--job-bookmark-option 'on' is not one of",
        ),
        ("job bookmark rewind ghost", "job 'ghost' not found"),
    ]
    for command, message in cases:
        code, out, err = sh(capsys, ws, command)
        assert code != 0, command
        assert err.startswith("Error: ") and message in err, (command, err)
        assert len(err.strip().splitlines()) == 1, err
    code, out, _ = run(capsys, "-w", ws, "job", "list", "-o", "json")
    assert json.loads(out) == []  # nothing half-made
    assert not (Path(ws) / "scripts" / "x.py").exists()


def test_generated_job_script_bookmark_commands_and_delete(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "-w", ws, "catalog", "create-database", "raw")[0] == 0
    table = spec(tmp_path, ("id", "bigint"), ("name", "string"))
    assert run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(table))[0] == 0
    code, out, err = sh(
        capsys,
        ws,
        "job create birds --source raw.birds --target curated.birds "
        "--mapping id:bigint->bird_id:bigint --mapping name:string->name:string "
        "--mapping year:string->year:int --partition-by year "
        "--filter 'name IS NOT NULL' --bookmarks enable",
    )
    assert code == 0, err
    code, out, _ = run(capsys, "-w", ws, "job", "script", "birds")
    assert 'source = source.where("name IS NOT NULL")' in out
    assert 'partition_by=["year"]' in out
    compile(out, "birds.py", "exec")
    code, out, _ = run(capsys, "-w", ws, "job", "show", "birds", "-o", "json")
    shown = json.loads(out)
    assert shown["DefaultArguments"] == {"--job-bookmark-option": "job-bookmark-enable"}
    assert shown["Generated"]["Mappings"][2] == "year:string->year:int"
    code, out, err = sh(
        capsys, ws, "job create birds --source raw.birds --target curated.birds --mapping a:b->c:d"
    )
    assert code == 1 and "already exists" in err
    code, out, _ = run(capsys, "-w", ws, "job", "bookmark", "show", "birds", "-o", "json")
    assert code == 0 and json.loads(out) == []
    code, out, err = run(capsys, "-w", ws, "job", "bookmark", "rewind", "birds")
    assert code == 1 and "has no bookmark to rewind" in err
    code, out, _ = run(capsys, "-w", ws, "job", "bookmark", "reset", "birds")
    assert code == 0 and "reset" in out
    code, out, _ = run(capsys, "-w", ws, "job", "delete", "birds")
    assert code == 0 and "deleted" in out
    code, out, _ = run(capsys, "-w", ws, "job", "list", "-o", "json")
    assert json.loads(out) == []
    assert (Path(ws) / "scripts" / "birds.py").exists()  # the script stays, as documented
