"""The classifier and crawler commands as a user types them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sparkglue.datasets import write_penguins_raw_bucket
from tests.cli.test_cli import run


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "ws")
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "-w", path, "catalog", "create-database", "raw")[0] == 0
    write_penguins_raw_bucket(tmp_path / "ws" / "lake" / "raw" / "penguins")
    return path


def test_crawl_the_penguins_and_explain(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "-w",
        ws,
        "crawler",
        "create",
        "penguins",
        "--database",
        "raw",
        "--path",
        "raw/penguins",
        "--exclude",
        "**.tmp",
    )
    assert code == 0 and "Crawler penguins created" in out
    code, out, err = run(capsys, "-w", ws, "crawler", "run", "penguins", "--wait")
    assert code == 0, err
    assert "SUCCEEDED: 1 tables created" in out and "3 partitions added" in out
    code, out, _ = run(capsys, "-w", ws, "catalog", "show", "raw.penguins", "-o", "json")
    table = json.loads(out)
    assert len(table["columns"]) == 17 and table["partition_keys"][0]["name"] == "year"
    assert table["parameters"]["recordCount"] == "344"
    code, out, _ = run(capsys, "-w", ws, "crawler", "runs", "penguins", "-o", "json")
    (latest,) = json.loads(out)
    assert latest["state"] == "SUCCEEDED" and latest["files_read"] == 3
    code, out, _ = run(capsys, "-w", ws, "crawler", "explain", latest["id"], "-o", "json")
    explained = json.loads(out)
    assert [f["winner"] for f in explained["files"]] == ["csv", "csv", "csv"]
    assert explained["files"][0]["tried"][0]["classifier"] == "avro"
    code, out, _ = run(capsys, "-w", ws, "crawler", "show", "penguins", "-o", "json")
    shown = json.loads(out)
    assert shown["State"] == "READY"
    assert shown["Targets"]["S3Targets"][0]["Exclusions"] == ["**.tmp"]
    code, out, _ = run(capsys, "-w", ws, "crawler", "list", "-o", "json")
    assert json.loads(out)[0]["last_run"] == "SUCCEEDED"


def test_a_background_run_finishes_on_its_own(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "-w", ws, "crawler", "create", "bg", "--database", "raw", "--path", "raw/penguins")
    code, out, _ = run(capsys, "-w", ws, "crawler", "run", "bg")
    assert code == 0 and "started" in out
    deadline = time.monotonic() + 120
    state = "RUNNING"
    while state == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
        _, out, _ = run(capsys, "-w", ws, "crawler", "runs", "bg", "-o", "json")
        state = json.loads(out)[0]["state"]
    assert state == "SUCCEEDED"


def test_classifiers_from_the_command_line(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patterns = tmp_path / "patterns.txt"
    patterns.write_text("LEVEL [A-Z]+\n")
    assert (
        run(
            capsys,
            "-w",
            ws,
            "classifier",
            "create-grok",
            "app",
            "--classification",
            "applog",
            "--pattern",
            "%{LEVEL:level} %{NUMBER:code:int}",
            "--custom-patterns",
            f"@{patterns}",
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "-w",
            ws,
            "classifier",
            "create-csv",
            "hash",
            "--delimiter",
            "#",
            "--contains-header",
            "ABSENT",
            "--header",
            "a,b",
        )[0]
        == 0
    )
    assert (
        run(capsys, "-w", ws, "classifier", "create-json", "items", "--json-path", "$.items[*]")[0]
        == 0
    )
    assert (
        run(
            capsys,
            "-w",
            ws,
            "classifier",
            "create-xml",
            "feed",
            "--classification",
            "feed",
            "--row-tag",
            "entry",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, "-w", ws, "classifier", "list", "-o", "json")
    assert code == 0
    assert [(c["name"], c["kind"]) for c in json.loads(out)] == [
        ("app", "grok"),
        ("feed", "xml"),
        ("hash", "csv"),
        ("items", "json"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("crawler", "run", "nope", "--wait"), "Error: crawler 'nope' not found"),
        (("crawler", "explain", "cr_nope"), "Error: crawl run 'cr_nope' not found"),
        (
            (
                "crawler",
                "create",
                "c",
                "--database",
                "raw",
                "--path",
                "raw",
                "--exclude",
                "{a,{b}}",
            ),
            "Error: crawler: Targets.S3Targets.0.Exclusions: exclusion pattern '{a,{b}}' nests",
        ),
        (
            ("crawler", "create", "c", "--database", "raw"),
            "Error: crawler: required key 'Targets' is missing",
        ),
        (
            ("crawler", "create", "c", "--database", "raw", "--path", "raw", "--classifier", "x"),
            "Error: classifier 'x' not found",
        ),
        (
            ("classifier", "create-grok", "g", "--classification", "g", "--pattern", "%{NOPE:x}"),
            "Error: grok pattern '%{NOPE:x}' uses unknown pattern %{NOPE}",
        ),
        (
            ("classifier", "create-csv", "c", "--delimiter", "ab"),
            "Error: classifier: Delimiter: 'ab' must be a single character",
        ),
    ],
)
def test_crawler_mistakes_are_one_line(
    ws: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, "-w", ws, *args)
    assert code == 1
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_bad_spec_file_names_the_key(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(
        "Name: c\nDatabaseName: raw\nTargets:\n  S3Targets:\n    - Path: raw\n"
        "SchemaChangePolicy:\n  UpdateBehaviour: LOG\n"
    )
    code, _, err = run(capsys, "-w", ws, "crawler", "create", "--spec", str(spec))
    assert code == 1
    assert "unknown key 'SchemaChangePolicy.UpdateBehaviour'" in err
    code, out, _ = run(capsys, "-w", ws, "crawler", "list", "-o", "json")
    assert json.loads(out) == []


def test_missing_or_binary_spec_files_are_one_line(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "-w", ws, "crawler", "create", "--spec", str(tmp_path / "no.yaml"))
    assert (code, err) == (1, f"Error: spec file {tmp_path / 'no.yaml'} does not exist\n")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00junk")
    code, _, err = run(capsys, "-w", ws, "crawler", "create", "--spec", str(binary))
    assert code == 1 and err.startswith(f"Error: spec file {binary} cannot be read")
    assert err.count("\n") == 1
