"""The trigger and workflow commands as a user types them (pythonshell scripts: real processes)."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import run

SVG = "{http://www.w3.org/2000/svg}"
ECHO = "import sys\nprint('ARGS', sys.argv[1:], flush=True)\n"


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "ws")
    assert run(capsys, "init", path)[0] == 0
    for name in ("extract", "load"):
        (tmp_path / "ws" / "scripts" / f"{name}.py").write_text(ECHO)
        code, _, err = sh(
            capsys, path, f"job create {name} --script scripts/{name}.py --command pythonshell"
        )
        assert code == 0, err
    return path


def sh(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> tuple[int, str, str]:
    """Run ``sparkglue -w WS COMMAND`` (split as a shell would)."""
    return run(capsys, "-w", ws, *shlex.split(command))


def ok(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> str:
    code, out, err = sh(capsys, ws, command)
    assert code == 0, (command, out, err)
    return out


def as_json(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> Any:
    return json.loads(ok(capsys, ws, command + " -o json"))


def test_a_workflow_built_run_and_shown(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = ok(capsys, ws, "workflow create nightly --property env=dev --max-concurrent-runs 2")
    assert "Workflow nightly created" in out
    out = ok(
        capsys, ws, "workflow add-node nightly --trigger go --type ON_DEMAND --start job:extract"
    )
    assert "Trigger go (ON_DEMAND) created, CREATED, in workflow nightly" in out
    out = ok(
        capsys,
        ws,
        "workflow add-node nightly --trigger extracted --type CONDITIONAL "
        "--watch job:extract=succeeded --start job:load --arg --target=curated --timeout 3",
    )
    assert "Trigger extracted (CONDITIONAL) created" in out

    out = ok(capsys, ws, "workflow run nightly --wait --property day=mon")
    assert "[TRIGGER] go (ON_DEMAND) · FIRED" in out
    assert "[JOB] extract · SUCCEEDED" in out and "[JOB] load · SUCCEEDED" in out
    assert "COMPLETED: 2 actions, 2 succeeded, 0 failed" in out

    (latest,) = as_json(capsys, ws, "workflow runs nightly")["runs"]
    assert latest["state"] == "COMPLETED" and latest["started_by"] == "go"
    assert latest["statistics"]["SucceededActions"] == 2
    assert latest["run_properties"] == {"env": "dev", "day": "mon"}
    out = ok(capsys, ws, "workflow runs nightly")
    # The table wraps long ids in a narrow terminal.
    assert "Runs of nightly" in out and latest["id"][-6:] in out and "COMPLETED" in out

    (load,) = as_json(capsys, ws, "job runs load")
    log = ok(capsys, ws, f"job logs {load['id']}")
    assert "'--target', 'curated'" in log and "'--WORKFLOW_NAME', 'nightly'" in log
    assert f"'--WORKFLOW_RUN_ID', '{latest['id']}'" in log

    picture = Path(ws).parent / "nightly.svg"
    out = ok(capsys, ws, f"workflow show nightly --svg {picture}")
    assert f"nightly · run {latest['id']} · COMPLETED" in out and f"Picture: {picture}" in out
    root = ET.parse(picture).getroot()
    assert root.tag == f"{SVG}svg"
    drawn = {g.get("data-id"): g.get("data-state") for g in root.iter(f"{SVG}g")}
    assert {
        k: drawn[k] for k in ("trigger:go", "job:extract", "trigger:extracted", "job:load")
    } == {
        "trigger:go": "FIRED",
        "job:extract": "SUCCEEDED",
        "trigger:extracted": "FIRED",
        "job:load": "SUCCEEDED",
    }
    shown = as_json(capsys, ws, "workflow show nightly")
    assert shown["run"]["id"] == latest["id"] and shown["workflow"]["MaxConcurrentRuns"] == 2
    assert ET.parse(shown["svg"]).getroot().tag == f"{SVG}svg"
    assert Path(shown["svg"]) == Path(ws) / "logs" / "workflows" / "nightly.svg"
    assert {(e["source"], e["target"], e["label"]) for e in shown["edges"]} == {
        ("trigger:go", "job:extract", ""),
        ("job:extract", "trigger:extracted", "SUCCEEDED"),
        ("trigger:extracted", "job:load", ""),
    }

    props = as_json(capsys, ws, f"workflow run-properties {latest['id']} --set stage=done")
    assert props == {"env": "dev", "day": "mon", "stage": "done"}
    assert as_json(capsys, ws, f"workflow run-properties {latest['id']}") == props

    (listed,) = as_json(capsys, ws, "workflow list")
    assert listed == {
        "name": "nightly",
        "triggers": 2,
        "last_run": "COMPLETED",
        "last_run_at": latest["started_at"],
    }
    rows = as_json(capsys, ws, "trigger list --workflow nightly")
    assert [(r["name"], r["type"], r["when"]) for r in rows] == [
        ("go", "ON_DEMAND", ""),
        ("extracted", "CONDITIONAL", "extract=SUCCEEDED"),
    ]

    assert "Workflow nightly deleted" in ok(capsys, ws, "workflow delete nightly")
    assert as_json(capsys, ws, "workflow list") == [] and as_json(capsys, ws, "trigger list") == []


def test_a_failed_action_makes_wait_exit_1(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ws" / "scripts" / "load.py").write_text("raise SystemExit('ValueError: no')\n")
    ok(capsys, ws, "workflow create w")
    ok(capsys, ws, "workflow add-node w --trigger go --type ON_DEMAND --start job:load")
    code, out, err = sh(capsys, ws, "workflow run w --wait")
    assert code == 1
    assert "[JOB] load · FAILED" in out
    assert "COMPLETED: 1 actions, 0 succeeded, 1 failed" in out + err


def test_triggers_from_the_command_line(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = ok(
        capsys,
        ws,
        "trigger create nightly --type SCHEDULED --schedule 'cron(30 2 * * ? *)' "
        "--start job:extract --description 'every night'",
    )
    assert "Trigger nightly (SCHEDULED) created, CREATED" in out
    assert "Next fire time: " in out and "02:30:00 UTC" in out
    assert "sparkglue trigger activate nightly" in out

    shown = as_json(capsys, ws, "trigger show nightly")
    assert shown["state"] == "CREATED" and shown["definition"]["Description"] == "every night"
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in shown["next_fire_times"]]
    assert len(times) == 5
    assert all((t.hour, t.minute, t.second) == (2, 30, 0) for t in times)
    assert [b - a for a, b in pairwise(times)] == [timedelta(days=1)] * 4
    assert "next_fire_times:" in ok(capsys, ws, "trigger show nightly")

    assert "Trigger nightly ACTIVATED" in ok(capsys, ws, "trigger activate nightly")
    assert as_json(capsys, ws, "trigger show nightly")["state"] == "ACTIVATED"
    assert "Trigger nightly DEACTIVATED" in ok(capsys, ws, "trigger deactivate nightly")
    assert "Trigger nightly ACTIVATED" in ok(capsys, ws, "trigger start nightly")
    assert "Trigger nightly DEACTIVATED" in ok(capsys, ws, "trigger stop nightly")

    ok(capsys, ws, "trigger create now --type ON_DEMAND --start job:load")
    out = ok(capsys, ws, "trigger start now")
    assert "Trigger now fired (" in out and "sparkglue scheduler" in out
    ok(
        capsys,
        ws,
        "trigger create arrivals --type EVENT --event-path raw/in --batch-size 3 "
        "--batch-window 60 --start-on-creation --start job:load",
    )
    event = as_json(capsys, ws, "trigger show arrivals")
    assert event["state"] == "ACTIVATED" and event["next_fire_times"] == []
    assert event["definition"]["EventBatchingCondition"] == {"BatchSize": 3, "BatchWindow": 60}
    rows = as_json(capsys, ws, "trigger list")
    assert [(r["name"], r["state"], r["when"]) for r in rows] == [
        ("nightly", "DEACTIVATED", "cron(30 2 * * ? *)"),
        ("now", "CREATED", ""),
        ("arrivals", "ACTIVATED", "raw/in"),
    ]

    assert "Trigger nightly deleted" in ok(capsys, ws, "trigger delete nightly")
    code, _, err = sh(capsys, ws, "trigger show nightly")
    assert code == 1 and err.startswith("Error: trigger 'nightly' not found")


ERRORS = [
    # (command, exit code, message): 2 is a usage error, 1 any other mistake
    ("workflow show ghost", 1, "workflow 'ghost' not found; see `sparkglue workflow list`"),
    ("workflow run ghost", 1, "workflow 'ghost' not found"),
    (
        "workflow add-node ghost --trigger t --type ON_DEMAND --start job:extract",
        1,
        "workflow 'ghost' not found",
    ),
    ("workflow run bare", 1, "workflow 'bare' has no ON_DEMAND trigger to start it"),
    (
        "workflow add-node w --trigger t --type CONDITIONAL --watch job:extract --start job:load",
        2,
        "Invalid value for --watch: 'job:extract' needs =STATE",
    ),
    (
        "workflow add-node w --trigger t --type CONDITIONAL --watch job:extract=DONE "
        "--start job:load",
        2,
        "'job:extract=DONE' needs =STATE",
    ),
    (
        "workflow add-node w --trigger t --type CONDITIONAL --watch table:x=FAILED "
        "--start job:load",
        2,
        "Invalid value for --watch: 'table:x' is not job:NAME or crawler:NAME",
    ),
    (
        "workflow add-node w --trigger t --type ON_DEMAND --start extract",
        2,
        "Invalid value for --start: 'extract' is not job:NAME or crawler:NAME",
    ),
    (
        "workflow add-node w --trigger t --type CONDITIONAL --watch job:load=FAILED "
        "--start job:extract",
        1,
        "trigger 't' watches job 'load', which no trigger of workflow 'w' starts",
    ),
    (
        "workflow add-node w --trigger second --type SCHEDULED --schedule 'rate(1 hour)' "
        "--start job:load",
        1,
        "workflow 'w' already starts with trigger 'go'",
    ),
    (
        "trigger create t --type SCHEDULED --schedule 'cron(61 * * * ? *)' --start job:load",
        1,
        "minutes value 61 is out of range; use 0-59",
    ),
    (
        "trigger create t --type SCHEDULED --schedule 'cron(0 10 * * MON *)' --start job:load",
        1,
        "day-of-month and day-of-week cannot both be set",
    ),
    ("trigger create t --type SCHEDULED --start job:load", 1, "a SCHEDULED trigger needs Schedule"),
    (
        "trigger create t --type ON_DEMAND --start job:ghost",
        1,
        "trigger 't' names job 'ghost', which does not exist",
    ),
    (
        "trigger create t --type EVENT --event-path ../../etc --start job:load",
        1,
        "EventPath ../../etc is outside the lake",
    ),
    ("trigger create t --type ON_DEMAND --start job:load --logical ANY", 2, "--logical goes with"),
    ("trigger create go --type ON_DEMAND --start job:load", 1, "trigger 'go' already exists"),
    ("trigger show ghost", 1, "trigger 'ghost' not found; see `sparkglue trigger list`"),
    ("trigger activate ghost", 1, "trigger 'ghost' not found"),
    ("trigger delete ghost", 1, "trigger 'ghost' not found"),
    ("trigger activate go", 1, "trigger 'go' is ON_DEMAND: it is never activated"),
    ("workflow create w", 1, "workflow 'w' already exists"),
    ("workflow create 'bad name'", 1, "workflow name 'bad name' must be 1-255 letters"),
    ("workflow create x --max-concurrent-runs 0", 1, "MaxConcurrentRuns"),
    ("workflow resume w wr_nope --node job:extract", 1, "workflow run 'wr_nope' not found"),
    ("workflow stop w wr_nope", 1, "workflow run 'wr_nope' not found"),
    ("workflow run-properties wr_nope", 1, "workflow run 'wr_nope' not found"),
    ("workflow run-properties wr_nope --set novalue", 2, "'novalue' is not KEY=VALUE"),
    ("workflow runs ghost", 1, "workflow 'ghost' not found"),
    ("scheduler --poll 0", 2, "Invalid value for --poll: must be a positive number of seconds"),
]


def test_mistakes_are_one_line_errors(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, ws, "workflow create w")
    ok(capsys, ws, "workflow create bare")
    ok(capsys, ws, "workflow add-node w --trigger go --type ON_DEMAND --start job:extract")
    for command, exit_code, message in ERRORS:
        code, _, err = sh(capsys, ws, command)
        assert code == exit_code, (command, code, err)
        assert err.startswith("Error: ") and message in err, (command, err)
        assert err.count("\n") == 1, err
    assert [r["name"] for r in as_json(capsys, ws, "trigger list")] == ["go"]  # nothing half-made
    assert [w["name"] for w in as_json(capsys, ws, "workflow list")] == ["bare", "w"]


def test_resume_and_stop_from_the_command_line(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "ready"
    gate = f"import os\nif not os.path.exists({str(flag)!r}):\n    raise SystemExit('no')\n"
    (tmp_path / "ws" / "scripts" / "load.py").write_text(gate)
    ok(capsys, ws, "workflow create w")
    ok(capsys, ws, "workflow add-node w --trigger go --type ON_DEMAND --start job:extract")
    ok(
        capsys,
        ws,
        "workflow add-node w --trigger then --type CONDITIONAL --watch job:extract=SUCCEEDED "
        "--start job:load",
    )
    assert sh(capsys, ws, "workflow run w --wait")[0] == 1
    (failed,) = as_json(capsys, ws, "workflow runs w")["runs"]
    assert failed["statistics"]["FailedActions"] == 1

    flag.touch()
    out = ok(capsys, ws, f"workflow resume w {failed['id']} --node JOB:load --wait")
    assert f"resumes {failed['id']} from JOB:load" in out
    assert "[JOB] load · SUCCEEDED" in out and "COMPLETED: 1 actions, 1 succeeded" in out
    resumed, _ = as_json(capsys, ws, "workflow runs w")["runs"]
    assert resumed["previous_run_id"] == failed["id"] and resumed["state"] == "COMPLETED"
    assert len(as_json(capsys, ws, "job runs extract")) == 1

    ok(capsys, ws, "workflow create other")
    code, _, err = sh(capsys, ws, f"workflow resume other {failed['id']} --node job:load")
    assert code == 2 and f"run {failed['id']} belongs to workflow w" in err

    # Nothing schedules it here, so it is still RUNNING with nothing started.
    out = ok(capsys, ws, "workflow run w")
    assert "No scheduler is running" in out
    pending = as_json(capsys, ws, "workflow runs w")["runs"][0]
    assert pending["state"] == "RUNNING"
    out = ok(capsys, ws, f"workflow stop w {pending['id']}")
    assert f"Workflow run {pending['id']} of w STOPPED" in out
    code, _, err = sh(capsys, ws, f"workflow stop w {pending['id']}")
    assert code == 1 and err == f"Error: workflow run {pending['id']} is already STOPPED\n"
