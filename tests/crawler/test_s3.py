"""``s3://`` crawler targets against a real S3 API server on a loopback port (moto's server:
the HTTP protocol of S3, spoken by pyarrow's AWS SDK client)."""

from __future__ import annotations

import gzip
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from sparkglue.catalog import DatabaseInput
from sparkglue.config import Settings
from sparkglue.crawler import CrawlerSpec
from sparkglue.errors import InvalidInput
from sparkglue.workspace import Workspace

KEY, SECRET = "sparkglue-test", "sparkglue-test-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = fs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        region="us-east-1",
        scheme="http",
        endpoint_override=f"127.0.0.1:{port}",
        allow_bucket_creation=True,
    )
    s3.create_dir("lake")

    def put(key: str, data: bytes) -> None:
        with s3.open_output_stream(f"lake/{key}", compression=None) as out:
            out.write(data)

    for year in (2024, 2025):
        put(
            f"sales/year={year}/part-0.csv",
            b"id,amount,region\n" + b"".join(b"%d,%d.5,eu\n" % (i, i) for i in range(20)),
        )
    put("sales/_SUCCESS", b"")
    put("sales/tmp/scratch.csv", b"not,a,table\n1,2,3\n")
    lines = "".join(json.dumps({"user": f"u{i}", "clicks": i}) + "\n" for i in range(30))
    put("events/day=1/a.json.gz", gzip.compress(lines.encode()))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}), buffer)
    put("metrics/m.parquet", buffer.getvalue())
    yield endpoint
    server.stop()


@pytest.fixture
def s3_workspace(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    env = {"SPARKGLUE_S3_ENDPOINT_URL": s3_endpoint, "SPARKGLUE_S3_REGION": "us-east-1"}
    ws = Workspace.init(settings=Settings.resolve(tmp_path / "ws", env=env))
    ws.catalog.create_database(DatabaseInput(name="raw"))
    yield ws
    ws.close()


def _crawler(ws: Workspace, name: str, path: str, **target: Any) -> None:
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": name,
                "DatabaseName": "raw",
                "Targets": {"S3Targets": [{"Path": path, **target}]},
            }
        )
    )


def test_an_s3_prefix_is_crawled_into_tables_and_partitions(s3_workspace: Workspace) -> None:
    ws = s3_workspace
    _crawler(ws, "lake", "s3://lake/", Exclusions=["sales/tmp/**"])
    run = ws.crawlers.run("lake")
    assert run.state == "SUCCEEDED", run.error_message
    tables = {t.name: t for t in ws.catalog.list_tables("raw")}
    assert sorted(tables) == ["events", "metrics", "sales"]

    sales = tables["sales"]
    assert sales.location == "s3://lake/sales"
    assert sales.parameters["classification"] == "csv"
    assert [c.name for c in sales.columns] == ["id", "amount", "region"]
    assert [c.type for c in sales.columns] == ["bigint", "double", "string"]
    assert [k.name for k in sales.partition_keys] == ["year"]
    parts = ws.catalog.get_partitions("raw", "sales")
    assert sorted(p.location for p in parts) == [
        "s3://lake/sales/year=2024",
        "s3://lake/sales/year=2025",
    ]
    assert sales.parameters["objectCount"] == "2"  # _SUCCESS and the excluded folder left out

    events = tables["events"]
    assert events.parameters["classification"] == "json"
    assert events.parameters["compressionType"] == "gzip"
    assert {c.name: c.type for c in events.columns} == {"user": "string", "clicks": "bigint"}

    metrics = tables["metrics"]
    assert metrics.parameters["classification"] == "parquet"
    assert metrics.parameters["recordCount"] == "3"

    _, decisions = ws.crawlers.explain(run.id)
    skipped = {d["path"]: d for d in decisions if d.get("skipped")}
    assert any(f.endswith("sales/tmp/") for f in skipped)
    assert any(f.endswith("sales/_SUCCESS") for f in skipped)


def test_a_recrawl_of_an_s3_prefix_finds_new_objects_only(
    s3_workspace: Workspace, s3_endpoint: str
) -> None:
    ws = s3_workspace
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": "sales",
                "DatabaseName": "raw",
                "Targets": {"S3Targets": [{"Path": "s3://lake/sales", "Exclusions": ["tmp/**"]}]},
                "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
            }
        )
    )
    assert ws.crawlers.run("sales").state == "SUCCEEDED"
    s3 = fs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        region="us-east-1",
        scheme="http",
        endpoint_override=s3_endpoint.removeprefix("http://"),
    )
    with s3.open_output_stream("lake/sales/year=2026/part-0.csv") as out:
        out.write(b"id,amount,region\n1,2.5,us\n2,3.5,us\n")
    try:
        run = ws.crawlers.run("sales")
        assert run.state == "SUCCEEDED", run.error_message
        assert run.metrics["FilesRead"] == 1
        assert run.metrics["PartitionsAdded"] == 1
        values = sorted(p.values[0] for p in ws.catalog.get_partitions("raw", "sales"))
        assert values == ["2024", "2025", "2026"]
    finally:
        s3.delete_file("lake/sales/year=2026/part-0.csv")


def test_s3_targets_need_settings(workspace: Workspace) -> None:
    workspace.catalog.create_database(DatabaseInput(name="raw"))
    with pytest.raises(InvalidInput, match=r"no S3 settings; set \[s3\] endpoint_url"):
        _crawler(workspace, "nos3", "s3://lake/sales")
    with pytest.raises(InvalidInput, match="name a bucket"):
        Workspace.init(
            settings=Settings.resolve(
                workspace.path.parent / "other", env={"SPARKGLUE_S3_REGION": "us-east-1"}
            )
        ).crawlers.create_crawler(
            CrawlerSpec.model_validate(
                {
                    "Name": "x",
                    "DatabaseName": "raw",
                    "Targets": {"S3Targets": [{"Path": "s3://"}]},
                }
            )
        )


def test_a_missing_bucket_or_a_dead_endpoint_fails_the_run_with_a_clear_reason(
    s3_workspace: Workspace, tmp_path: Path
) -> None:
    _crawler(s3_workspace, "nobucket", "s3://no-such-bucket/data")
    run = s3_workspace.crawlers.run("nobucket")
    assert run.state == "FAILED"
    assert "s3://no-such-bucket/data is empty (or its bucket does not exist)" in str(
        run.error_message
    )

    env = {"SPARKGLUE_S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"}
    ws = Workspace.init(settings=Settings.resolve(tmp_path / "dead", env=env))
    ws.catalog.create_database(DatabaseInput(name="raw"))
    _crawler(ws, "dead", "s3://lake/sales")
    run = ws.crawlers.run("dead")
    assert run.state == "FAILED"
    assert "s3://lake/sales cannot be listed" in str(run.error_message)
    assert "check [s3] endpoint_url" in str(run.error_message)
    ws.close()
