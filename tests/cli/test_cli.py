"""The CLI as a user runs it: listings, JSON output, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sparkglue.cli.main import main

SPEC = """\
database: raw
name: birds
classification: csv
location: raw/birds
parameters: {{skip.header.line.count: "1"}}
columns:
{columns}
partition_keys:
  - {{name: year, type: string}}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def spec(tmp_path: Path, *columns: tuple[str, str], name: str = "birds.yaml") -> Path:
    path = tmp_path / name
    lines = "\n".join(f"  - {{name: {n}, type: '{t}'}}" for n, t in columns)
    path.write_text(SPEC.format(columns=lines))
    return path


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "ws")
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "-w", path, "catalog", "create-database", "raw")[0] == 0
    return path


def test_init_creates_the_workspace_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "init", str(tmp_path / "w"))
    assert code == 0 and "Workspace created at" in out
    for part in (
        "sparkglue.toml",
        "metadata.db",
        "lake/raw",
        "lake/curated",
        "lake/models",
        "scripts",
        "logs",
    ):
        assert (tmp_path / "w" / part).exists(), part
    code, out, _ = run(capsys, "init", str(tmp_path / "w"))
    assert code == 0 and "ready" in out


def test_default_workspace_and_missing_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "catalog", "databases")
    assert code == 1
    assert err.startswith("Error: no workspace at ") and "sparkglue init" in err
    assert err.count("\n") == 1
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / ".sparkglue" / "sparkglue.toml").exists()
    code, out, _ = run(capsys, "catalog", "databases", "--output", "json")
    assert code == 0 and json.loads(out) == []


def test_tables_versions_and_diff(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = spec(tmp_path, ("id", "bigint"), ("wing", "int"))
    assert run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(first))[0] == 0
    second = spec(tmp_path, ("id", "bigint"), ("wing", "double"), name="b.yaml")
    third = spec(
        tmp_path, ("id", "bigint"), ("wing", "double"), ("colour", "string"), name="c.yaml"
    )
    for path in (second, third):
        code, out, _ = run(capsys, "-w", ws, "catalog", "update-table", "--spec", str(path))
        assert code == 0 and "updated to version" in out

    code, out, _ = run(capsys, "-w", ws, "catalog", "versions", "raw.birds", "-o", "json")
    versions = json.loads(out)
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["current"] for v in versions] == [False, False, True]

    code, out, _ = run(capsys, "-w", ws, "catalog", "diff", "raw.birds", "1", "3")
    assert code == 0
    assert "+ column colour: string" in out
    assert "~ column wing type: int -> double" in out
    code, out, _ = run(capsys, "-w", ws, "catalog", "diff", "raw.birds", "1", "2", "-o", "json")
    assert json.loads(out)["changes"] == [
        {"kind": "changed", "what": "column wing type", "old": "int", "new": "double"}
    ]

    code, out, _ = run(capsys, "-w", ws, "catalog", "tables", "raw", "--output", "json")
    (table,) = json.loads(out)
    assert table["name"] == "birds" and table["version"] == 3 and table["partition_keys"] == "year"
    code, out, _ = run(capsys, "-w", ws, "catalog", "show", "raw.birds", "-o", "json")
    shown = json.loads(out)
    assert shown["columns"][2] == {"name": "colour", "type": "string", "comment": None}
    code, out, _ = run(
        capsys, "-w", ws, "catalog", "show", "raw.birds", "--version", "1", "-o", "json"
    )
    assert json.loads(out)["columns"][1]["type"] == "int"
    code, out, _ = run(capsys, "-w", ws, "catalog", "show", "raw.birds")
    assert code == 0 and "name: birds" in out

    code, _, err = run(
        capsys, "-w", ws, "catalog", "update-table", "--spec", str(first), "--expected-version", "2"
    )
    assert code == 1
    assert err == "Error: table 'raw.birds' is at version 3, not 2; read it again and retry\n"


def test_partitions_with_filter(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec(tmp_path, ("id", "bigint"))
    path.write_text(
        path.read_text()
        + "partitions:\n"
        + "".join(
            f"  - {{values: ['{y}'], parameters: {{recordCount: '{y[-1]}'}}}}\n"
            for y in ("2007", "2008", "2009")
        )
    )
    assert run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(path))[0] == 0
    code, out, _ = run(
        capsys,
        "-w",
        ws,
        "catalog",
        "partitions",
        "raw.birds",
        "--filter",
        "year >= '2008'",
        "-o",
        "json",
    )
    assert code == 0
    assert [p["partition"] for p in json.loads(out)] == ["year=2008", "year=2009"]
    code, out, err = run(
        capsys, "-w", ws, "catalog", "partitions", "raw.birds", "--filter", "yr = 1"
    )
    assert code == 1
    assert err.strip() == (
        "Error: invalid partition filter 'yr = 1': 'yr' is not a partition key "
        "(partition keys: year) at position 0"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("catalog", "show", "raw.nope"), "Error: table 'raw.nope' not found in the catalog"),
        (("catalog", "tables", "nope"), "Error: database 'nope' not found in the catalog"),
        (("catalog", "show", "nodot"), "Error: table name 'nodot' must be DATABASE.TABLE"),
        (
            ("catalog", "delete-table", "raw.nope"),
            "Error: table 'raw.nope' not found in the catalog",
        ),
        (("catalog", "diff", "raw.nope", "1", "2"), "Error: table 'raw.nope' not found"),
        (
            ("catalog", "create-database", "Bad Name"),
            "Error: database: name: database name 'Bad Name' is not valid",
        ),
        (("catalog", "create-database", "raw"), "Error: database 'raw' already exists"),
        (
            ("--master", "nonsense", "catalog", "databases"),
            "Error: spark master 'nonsense' (from --master) is not valid",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors(
    ws: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "-w", ws, *args)
    assert code == 1 and out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("columns", "extra", "message"),
    [
        ((("id", "bigint"),), "colour: red\n", "unknown key 'colour'"),
        ((("id", "bigint"), ("wing", "flaot")), "", "columns.1.type: invalid type string 'flaot'"),
        (
            (("id", "bigint"),),
            "partitions:\n  - {values: ['1', '2']}\n",
            "one value per partition key",
        ),
    ],
)
def test_bad_specs_write_nothing(
    ws: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    columns: tuple[tuple[str, str], ...],
    extra: str,
    message: str,
) -> None:
    path = spec(tmp_path, *columns)
    path.write_text(path.read_text() + extra)
    code, _, err = run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(path))
    assert code == 1
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    code, out, _ = run(capsys, "-w", ws, "catalog", "tables", "raw", "-o", "json")
    assert json.loads(out) == []


def test_unknown_database_in_spec(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec(tmp_path, ("id", "bigint"))
    path.write_text(path.read_text().replace("database: raw", "database: elsewhere"))
    code, _, err = run(capsys, "-w", ws, "catalog", "create-table", "--spec", str(path))
    assert (code, err.strip()) == (1, "Error: database 'elsewhere' not found in the catalog")


def test_config_shows_sources(
    ws: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKGLUE_SPARK_MASTER", "local[3]")
    code, out, _ = run(capsys, "-w", ws, "--conf", "spark.x=1", "config", "-o", "json")
    assert code == 0
    shown = json.loads(out)
    assert shown["spark.master"] == {"value": "local[3]", "source": "SPARKGLUE_SPARK_MASTER"}
    assert shown["spark.conf"] == {"value": {"spark.x": "1"}, "source": "--conf"}
    assert shown["workspace"]["source"] == "--workspace"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--conf", "foo", "catalog", "databases"),
            "Error: Invalid value for --conf: 'foo' is not KEY=VALUE",
        ),
        (
            ("catalog", "diff", "raw.x", "1", "a"),
            "Error: Invalid value for 'NEW': 'a' is not a valid integer.",
        ),
        (("catalog", "nope"), "Error: No such command 'nope'."),
    ],
)
def test_usage_errors_are_one_line(
    ws: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, "-w", ws, *args)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1 and "--help" in err


def test_init_where_no_folder_can_be(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", "/dev/null/ws")
    assert code == 1
    assert err.startswith("Error: cannot create the workspace at /dev/null/ws")


def test_debug_shows_the_traceback(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-w", ws, "--debug", "catalog", "show", "raw.nope")
    assert (
        code == 1
        and "Traceback" in err
        and err.rstrip().endswith("Error: table 'raw.nope' not found in the catalog")
    )


def _cli(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkglue.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_the_installed_command_exits_1_with_one_line(ws: str) -> None:
    done = _cli(["-w", ws, "catalog", "show", "raw.nope"])
    assert done.returncode == 1
    assert done.stderr == "Error: table 'raw.nope' not found in the catalog\n"
    assert done.stdout == ""


def test_missing_java_is_one_line_for_spark_commands(ws: str, tmp_path: Path) -> None:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # python, but no java
    done = _cli(["-w", ws, "catalog", "sql", "SELECT 1"], env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Spark needs Java 17 or newer but no java on PATH")
    assert done.stderr.count("\n") == 1
    # commands that need no Spark still work without Java
    assert _cli(["-w", ws, "catalog", "databases"], env=env).returncode == 0


def test_help_does_not_import_spark() -> None:
    code = (
        "import sys; from sparkglue.cli.main import cli; "
        "print(any(m.startswith(('pyspark', 'py4j')) for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
