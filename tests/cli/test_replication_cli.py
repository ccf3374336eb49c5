"""``sparkglue replication …`` as a user types it: endpoints, tasks, materialize and validate
against the test PostgreSQL server, and the one-line errors of each mistake."""

from __future__ import annotations

import json
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkglue.workspace import Workspace
from tests.cli.test_cli import run
from tests.replication.conftest import ALL_PUBLIC, SourceDb, caught_up, create_shop, fresh_source

pytestmark = pytest.mark.postgres


@pytest.fixture
def source_db(postgres_admin_url: str) -> Iterator[SourceDb]:
    yield from fresh_source(postgres_admin_url)


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "ws")
    assert run(capsys, "init", path)[0] == 0
    return path


def free_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sh(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> tuple[int, str, str]:
    """Run ``sparkglue -w WS replication COMMAND`` (split as a shell would)."""
    return run(capsys, "-w", ws, "replication", *shlex.split(command))


def ok(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> str:
    code, out, err = sh(capsys, ws, command)
    assert code == 0, (command, out, err)
    return out


def as_json(capsys: pytest.CaptureFixture[str], ws: str, command: str) -> Any:
    return json.loads(ok(capsys, ws, command + " -o json"))


def fails(capsys: pytest.CaptureFixture[str], ws: str, command: str, message: str) -> str:
    """The command exits 1 with one line ``Error: …`` matching ``message`` (after at most a
    progress line such as ``Materializing t …``); returns stdout."""
    code, out, err = sh(capsys, ws, command)
    assert code == 1, (command, out, err)
    *before, last = err.splitlines() or [""]
    assert last.startswith("Error: ") and err.endswith("\n"), err
    assert all(line.endswith(" …") for line in before), err
    assert re.search(message, last), err
    return out


def endpoint_names(capsys: pytest.CaptureFixture[str], ws: str) -> list[str]:
    return [e["name"] for e in as_json(capsys, ws, "endpoint list")]


def task_names(capsys: pytest.CaptureFixture[str], ws: str) -> list[str]:
    return [t["name"] for t in as_json(capsys, ws, "task list")]


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# ---- the whole flow ---------------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_endpoints_task_load_capture_materialize_validate_resume_and_delete_from_the_cli(
    ws: str,
    source_db: SourceDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_shop(source_db, orders=500)
    # The test server trusts its clients: any password is accepted, but it is read from the
    # variable when a connection opens (here and in the task's process).
    monkeypatch.setenv("SHOP_PG_PASSWORD", "not-needed")

    # Endpoints.
    out = ok(
        capsys,
        ws,
        f"endpoint create pg --type source --url {source_db.url} --password-env SHOP_PG_PASSWORD",
    )
    assert "Endpoint pg (source) created" in out
    out = ok(
        capsys,
        ws,
        "endpoint create lake --type target --path raw/dms --data-format parquet "
        "--cdc-max-batch-interval 0.1",
    )
    assert "Endpoint lake (target) created" in out
    listed = {e["name"]: e for e in as_json(capsys, ws, "endpoint list")}
    assert listed["pg"]["type"] == "source" and listed["pg"]["engine"] == "postgres"
    assert listed["pg"]["where"] == source_db.url
    assert listed["lake"]["type"] == "target" and listed["lake"]["where"] == "raw/dms (parquet)"
    out = ok(capsys, ws, "endpoint list")
    assert "pg" in out and "lake" in out and "source" in out and "target" in out
    out = ok(capsys, ws, "endpoint test pg")
    assert "Endpoint pg: ready" in out and "2 tables" in out
    assert "public.customers (4 columns, key id)" in out
    assert "public.orders (5 columns, key id)" in out

    # A task, its full load, and a change captured. Slots are per server: a name of its own.
    t = f"shop-{source_db.name[3:11]}"
    slot = "sparkglue_" + t.replace("-", "_")  # then a random part of its own
    mappings = write_json(tmp_path / "mappings.json", ALL_PUBLIC)
    out = ok(
        capsys,
        ws,
        f"task create {t} --source pg --target lake --migration-type full-load-and-cdc "
        f"--table-mappings {mappings}",
    )
    assert f"Task {t} Ready (full-load-and-cdc)" in out
    out = ok(capsys, ws, f"task start {t} --wait")
    assert f"Task {t} started" in out
    assert "public.customers: 200 rows loaded" in out
    assert "public.orders: 500 rows loaded" in out
    assert f"Task {t}: full load done; capturing changes" in out

    source_db.execute("INSERT INTO orders VALUES (100001, 1, 9.99, 'new', now())")
    source_db.execute("DELETE FROM orders WHERE id = 1")
    source_db.execute("UPDATE customers SET name = 'renamed' WHERE id = 3")
    workspace = Workspace(ws)
    try:
        caught_up(workspace, t, source_db)

        status = as_json(capsys, ws, f"task status {t}")
        assert status["Status"] == "Running" and status["MigrationType"] == "full-load-and-cdc"
        assert status["SlotName"].startswith(slot + "_")
        slot = status["SlotName"]
        tables = {x["table"]: x for x in status["Tables"]}
        assert tables["public.customers"]["full_load_rows"] == 200
        assert tables["public.orders"]["full_load_rows"] == 500
        assert all(x["state"] == "Table completed" for x in tables.values())
        assert tables["public.orders"]["changes"] == 2
        stats = {x["TableName"]: x for x in as_json(capsys, ws, f"task stats {t}")}
        assert (stats["orders"]["Inserts"], stats["orders"]["Deletes"]) == (1, 1)
        assert stats["orders"]["FullLoadRows"] == 500
        assert stats["customers"]["Updates"] >= 1  # ours and caught_up's marker
        assert stats["customers"]["Inserts"] == 0
        (listed_task,) = as_json(capsys, ws, "task list")
        assert (listed_task["name"], listed_task["status"]) == (t, "Running")

        assert f"Task {t} Stopped" in ok(capsys, ws, f"task stop {t}")
        assert as_json(capsys, ws, f"task status {t}")["StopReason"] == "STOPPED_BY_USER"

        # Materialize and validate: equal, then a source change shows as mismatched keys.
        out = ok(capsys, ws, f"materialize {t} --database cli_shop")
        assert re.search(
            rf"Job {t}-materialize run \S+ SUCCEEDED: tables in database cli_shop", out
        )
        out = ok(capsys, ws, f"validate {t}")
        assert f"Validation of {t}: every table matches its source" in out
        source_db.execute("UPDATE orders SET note = 'changed' WHERE id = 2")
        source_db.execute("DELETE FROM customers WHERE id = 5")
        out = fails(
            capsys,
            ws,
            f"validate {t}",
            rf"^Error: validation of {t}: 2 mismatched key\(s\) in 2 table\(s\)$",
        )
        assert "public.orders: different key [2]" in out
        assert "public.customers: extra key [5]" in out

        # Resume from Stopped: the changes made meanwhile are captured.
        out = ok(capsys, ws, f"task resume {t} --wait")
        assert f"Task {t} started" in out
        caught_up(workspace, t, source_db)
        stats = {x["TableName"]: x for x in as_json(capsys, ws, f"task stats {t}")}
        assert stats["orders"]["Updates"] == 1 and stats["customers"]["Deletes"] == 1
        assert f"Task {t} Stopped" in ok(capsys, ws, f"task stop {t}")
    finally:
        workspace.close()

    # Delete: the slot is dropped, and the endpoints are free to go.
    slots = "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"
    assert source_db.rows(slots) == [(slot,)]
    out = ok(capsys, ws, f"task delete {t}")
    assert f"Task {t} deleted; its replication slot dropped" in out
    assert task_names(capsys, ws) == []
    assert source_db.rows(slots) == []
    assert "Endpoint pg deleted" in ok(capsys, ws, "endpoint delete pg")
    assert endpoint_names(capsys, ws) == ["lake"]


# ---- one-line errors --------------------------------------------------------------------------


@pytest.fixture
def ready(ws: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A workspace with a source ``pg`` (on a port that refuses connections), a target ``lake``,
    and a Ready task ``t`` between them."""
    ok(
        capsys,
        ws,
        f"endpoint create pg --type source --url postgresql://u@127.0.0.1:{free_port()}/shop",
    )
    ok(capsys, ws, "endpoint create lake --type target --path raw/dms")
    ok(
        capsys,
        ws,
        f"task create t --source pg --target lake --table-mappings '{json.dumps(ALL_PUBLIC)}'",
    )
    return ws


@pytest.mark.parametrize(
    ("command", "message"),
    [
        pytest.param(
            "endpoint create e --type source --url postgresql://u:secret@h/db",
            r"endpoint e: Url: the URL holds a password, .*give --password-env VAR or "
            r"--password-file FILE$",
            id="password-in-url",
        ),
        pytest.param(
            "endpoint create e --type source --url mysql://u@h/db",
            r"'mysql://u@h/db' is not a PostgreSQL URL; use postgresql://USER@HOST:PORT/DATABASE$",
            id="not-postgresql",
        ),
        pytest.param(
            "endpoint create e --type source --url postgresql://u@h",
            r"lacks a host or a database; use postgresql://USER@HOST:PORT/DATABASE$",
            id="no-database",
        ),
        pytest.param(
            "endpoint create e --type target --path /etc",
            r"endpoint e: Path '/etc' is outside the lake .*; move the data under the lake or "
            r"add its folder to allowed_roots in sparkglue.toml$",
            id="target-outside-lake",
        ),
        pytest.param(
            "endpoint create e --type target --path raw/e --cdc-path ../up",
            r"CdcPath '../up' must be a relative folder inside the target",
            id="cdc-path-escapes",
        ),
        pytest.param(
            "endpoint create bad_name --type target --path raw/e",
            r"endpoint 'bad_name' is not a valid identifier; start with a letter",
            id="bad-identifier",
        ),
        pytest.param(
            "endpoint create lake --type target --path raw/other",
            r"endpoint 'lake' already exists$",
            id="duplicate",
        ),
    ],
)
def test_a_bad_endpoint_is_one_line_and_not_created(
    ready: str, capsys: pytest.CaptureFixture[str], command: str, message: str
) -> None:
    before = as_json(capsys, ready, "endpoint list")
    fails(capsys, ready, command, message)
    assert as_json(capsys, ready, "endpoint list") == before
    assert sorted(e["name"] for e in before) == ["lake", "pg"]


RULE = {
    "rule-type": "selection",
    "rule-id": "1",
    "rule-name": "all",
    "object-locator": {"schema-name": "public", "table-name": "%"},
    "rule-action": "include",
}
ALL = shlex.quote(json.dumps(ALL_PUBLIC))


@pytest.mark.parametrize(
    ("command", "message"),
    [
        pytest.param(
            "task create u --source pg --target lake --table-mappings '{\"rules\": ['",
            r"^Error: table mappings is not valid JSON or YAML: ",
            id="unparsable-mappings",
        ),
        pytest.param(
            "task create u --source pg --target lake --table-mappings "
            + shlex.quote(json.dumps({"rules": [{**RULE, "rule-action": "frobnicate"}]})),
            r"rule 1 \('all'\): unknown rule-action 'frobnicate'; use one of include, exclude, "
            r"explicit$",
            id="unknown-rule-action",
        ),
        pytest.param(
            "task create u --source pg --target lake --table-mappings missing.json",
            r"table mappings file missing.json cannot be read \(No such file or directory\)$",
            id="missing-mappings-file",
        ),
        pytest.param(
            "task create u --source pg --target lake",
            r"give the table mappings with --table-mappings FILE\|JSON$",
            id="no-mappings",
        ),
        pytest.param(
            f"task create u --source nope --target lake --table-mappings {ALL}",
            r"endpoint 'nope' not found; see `sparkglue replication endpoint list`$",
            id="unknown-endpoint",
        ),
        pytest.param(
            f"task create u --source lake --target lake --table-mappings {ALL}",
            r"endpoint 'lake' is not a source endpoint",
            id="source-is-a-target",
        ),
        pytest.param(
            f"task create u --source pg --target pg --table-mappings {ALL}",
            r"endpoint 'pg' is not a target endpoint",
            id="target-is-a-source",
        ),
        pytest.param(
            f"task create t --source pg --target lake --table-mappings {ALL}",
            r"replication task 't' already exists$",
            id="duplicate",
        ),
    ],
)
def test_a_bad_task_is_one_line_and_not_created(
    ready: str, capsys: pytest.CaptureFixture[str], command: str, message: str
) -> None:
    fails(capsys, ready, command, message)
    (task,) = as_json(capsys, ready, "task list")
    assert (task["name"], task["status"]) == ("t", "Ready")


def test_an_unknown_key_in_a_task_spec_file_is_named(
    ready: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_json(
        tmp_path / "task.json",
        {
            "SourceEndpoint": "pg",
            "TargetEndpoint": "lake",
            "MigrationTyp": "cdc",
            "TableMappings": ALL_PUBLIC,
        },
    )
    fails(
        capsys,
        ready,
        f"task create u --spec {spec}",
        r"replication task: unknown key 'MigrationTyp'",
    )
    assert task_names(capsys, ready) == ["t"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        pytest.param(
            "task start nope",
            r"replication task 'nope' not found; see `sparkglue replication task list`$",
            id="start-unknown",
        ),
        pytest.param(
            "task status nope",
            r"replication task 'nope' not found; see `sparkglue replication task list`$",
            id="status-unknown",
        ),
        pytest.param(
            "task resume t",
            r"replication task 't' is Ready; only a Stopped or Failed task resumes \(start it "
            r"with `sparkglue replication task start t`\)$",
            id="resume-ready",
        ),
        pytest.param(
            "task stop t",
            r"replication task 't' is Ready, not running$",
            id="stop-ready",
        ),
        pytest.param(
            "materialize t",
            r"replication task 't' has committed nothing yet; start it and let it load first$",
            id="materialize-before-load",
        ),
        pytest.param(
            "validate t",
            r"replication task 't' has no materialized tables; run `sparkglue replication "
            r"materialize t` first$",
            id="validate-before-materialize",
        ),
        pytest.param(
            "endpoint delete pg",
            r"endpoint 'pg' is used by task 't'; delete the task first$",
            id="delete-used-endpoint",
        ),
        pytest.param(
            "endpoint delete nope",
            r"endpoint 'nope' not found; see `sparkglue replication endpoint list`$",
            id="delete-unknown-endpoint",
        ),
        pytest.param(
            "endpoint test pg",
            r"endpoint pg: cannot connect to postgresql://u@127.0.0.1:\d+/shop: .*; check the "
            r"server, the URL and the password reference$",
            id="test-refused-connection",
        ),
    ],
)
def test_a_task_or_endpoint_in_the_wrong_state_is_one_line_and_changes_nothing(
    ready: str, capsys: pytest.CaptureFixture[str], command: str, message: str
) -> None:
    fails(capsys, ready, command, message)
    (task,) = as_json(capsys, ready, "task list")
    assert (task["name"], task["status"]) == ("t", "Ready")
    assert endpoint_names(capsys, ready) == ["lake", "pg"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        pytest.param(
            "--password-env SG_TEST_UNSET_PASSWORD",
            r"endpoint pw: environment variable SG_TEST_UNSET_PASSWORD \(its password\) is not "
            r"set; set it and run again$",
            id="unset-variable",
        ),
        pytest.param(
            "--password-file no-such-file",
            r"endpoint pw: cannot read password file no-such-file \(No such file or directory\); "
            r"fix the file or the endpoint's PasswordFile$",
            id="missing-file",
        ),
    ],
)
def test_a_password_that_cannot_be_read_is_named_by_endpoint_test(
    ws: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
    message: str,
) -> None:
    monkeypatch.delenv("SG_TEST_UNSET_PASSWORD", raising=False)
    ok(capsys, ws, f"endpoint create pw --type source --url postgresql://u@h/db {reference}")
    fails(capsys, ws, "endpoint test pw", message)


def test_starting_a_task_twice_says_to_resume_or_reload(
    ready: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "Task t started" in ok(capsys, ready, "task start t")
    fails(
        capsys,
        ready,
        "task start t",
        r"replication task 't' is \w+, not Ready; use `sparkglue replication task resume t` to "
        r"continue it or `task start t --reload` to load it again$",
    )
    # The task's process cannot reach its source and fails, saying why.
    workspace = Workspace(ready)
    try:
        record = workspace.replication.wait("t", timeout=60)
    finally:
        workspace.close()
    assert record["Status"] == "Failed"
    status = as_json(capsys, ready, "task status t")
    assert status["Status"] == "Failed"
    assert "endpoint pg: cannot connect to" in status["LastFailureMessage"]
    fails(capsys, ready, "task start t", r"is Failed, not Ready; use `sparkglue replication")


# ---- spec files, and a stop right after a start ------------------------------------------------


def test_an_endpoint_from_a_spec_file_is_created(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_json(
        tmp_path / "lake.json",
        {"EndpointType": "target", "Path": "raw/dms", "DataFormat": "parquet"},
    )
    assert "Endpoint lake (target) created" in ok(capsys, ws, f"endpoint create lake --spec {spec}")
    (listed,) = as_json(capsys, ws, "endpoint list")
    assert listed["where"] == "raw/dms (parquet)"


def test_an_unknown_key_in_an_endpoint_spec_file_is_named_and_nothing_is_created(
    ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_json(
        tmp_path / "lake.json",
        {"EndpointType": "target", "Path": "raw/dms", "DataFormt": "parquet"},
    )
    fails(
        capsys, ws, f"endpoint create lake --spec {spec}", r"endpoint lake: unknown key 'DataFormt'"
    )
    assert endpoint_names(capsys, ws) == []


def test_stopping_a_task_just_started_leaves_it_stopped(
    ws: str, source_db: SourceDb, capsys: pytest.CaptureFixture[str]
) -> None:
    create_shop(source_db, orders=10)
    ok(capsys, ws, f"endpoint create pg --type source --url {source_db.url}")
    ok(capsys, ws, "endpoint create lake --type target --path raw/dms")
    ok(capsys, ws, f"task create t --source pg --target lake --table-mappings {ALL}")
    ok(capsys, ws, "task start t")
    out = ok(capsys, ws, "task stop t")
    assert "Task t Stopped" in out
