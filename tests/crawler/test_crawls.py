"""Crawls as Glue users rely on them: grouping, partitions, schema changes, recrawls, failures."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkglue.catalog import DatabaseInput
from sparkglue.crawler import CrawlerSpec
from sparkglue.crawler.classifiers import builtin_classifiers
from sparkglue.crawler.classifiers.csv import CsvClassifier
from sparkglue.crawler.engine import FileResult, plan_tables, scan
from sparkglue.crawler.globs import ExclusionSet
from sparkglue.crawler.sample import FileSample
from sparkglue.crawler.service import CrawlerRunning
from sparkglue.errors import EntityNotFound, InvalidInput
from sparkglue.workspace import Workspace


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def crawler(ws: Workspace, name: str, path: str, **extra: Any) -> None:
    if "raw" not in {d.name for d in ws.catalog.list_databases()}:
        ws.catalog.create_database(DatabaseInput(name="raw"))
    targets = {"S3Targets": [{"Path": path, **extra.pop("target", {})}]}
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {"Name": name, "DatabaseName": "raw", "Targets": targets, **extra}
        )
    )


# ---- CSV header rules -------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> FileResult:
    write(tmp_path / "f.csv", text)
    (result,), _ = scan(tmp_path, ExclusionSet(), [])
    return result


def test_all_string_file_has_no_header(tmp_path: Path) -> None:
    result = _csv(tmp_path, "name,city\nada,london\nbob,paris\n")
    assert [c for c, _ in result.columns] == ["col0", "col1"]


def test_numeric_data_under_a_string_header_has_a_header(tmp_path: Path) -> None:
    result = _csv(tmp_path, "name,age\nada,36\nbob,41\n")
    assert result.columns == [("name", "string"), ("age", "bigint")]


def test_a_single_column_file_is_not_csv(tmp_path: Path) -> None:
    result = _csv(tmp_path, "age\n36\n41\n")
    assert result.classification == "UNKNOWN"
    assert "2+ consistent columns" in result.decision()["tried"][-1]["reason"]


def test_a_header_with_a_numeric_cell_is_data(tmp_path: Path) -> None:
    result = _csv(tmp_path, "a,2019\nb,2020\nc,2021\n")
    assert [c for c, _ in result.columns] == ["col0", "col1"]


# ---- bad files never fail a crawl -------------------------------------------------------------


def test_bad_files_are_recorded_and_the_crawl_succeeds(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "mixed"
    write(data / "good" / "a.csv", "id,v\n1,x\n2,y\n")
    write(data / "empty" / "zero.csv", b"")
    write(data / "trunc" / "t.parquet", b"PAR1" + os.urandom(64))
    write(data / "noise" / "r.bin", os.urandom(2048))
    write(data / "latin" / "l.csv", "id,name\n1,caf\xe9\n".encode("latin-1") + b"\xff\xfe\n")
    write(
        data / "ragged" / "g.csv",
        "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11\n12,13,14\n15,16,17\n"
        "18,19,20\n21,22,23\n24,25,26\n27,28,29\n30,31,32\n",
    )
    write(data / "gz" / "bad.csv.gz", gzip.compress(b"id,v\n1,x\n" * 1000)[:60])
    crawler(workspace, "mixed", "raw/mixed")
    run = workspace.crawlers.run("mixed")
    assert run.state == "SUCCEEDED", run.error_message
    _, files = workspace.crawlers.explain(run.id)
    by_name = {Path(f["path"]).name: f for f in files}
    assert by_name["zero.csv"]["skipped"] == "empty file"
    assert by_name["t.parquet"]["classification"] == "UNKNOWN"
    assert "PAR1 magic missing at the end" in by_name["t.parquet"]["tried"][2]["reason"]
    assert by_name["r.bin"]["classification"] == "UNKNOWN"
    assert by_name["l.csv"]["classification"] == "UNKNOWN"
    assert any("not UTF-8" in t["reason"] for t in by_name["l.csv"]["tried"])
    assert by_name["g.csv"]["classification"] == "csv"
    assert "ragged row" in by_name["g.csv"]["tried"][-1]["reason"]
    assert by_name["bad.csv.gz"]["classification"] == "UNKNOWN"
    assert "cannot decompress (gzip)" in by_name["bad.csv.gz"]["tried"][-1]["reason"]
    assert run.metrics["FilesSkipped"] == 5


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096), st.sampled_from(["", ".gz", ".csv", ".parquet", ".snappy"]))
def test_random_bytes_never_escape_a_classifier(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = write(tmp_path / f"blob{suffix}", data)
    for classifier in builtin_classifiers():
        verdict = classifier.classify(FileSample.of(path, path.name))
        assert 0.0 <= verdict.certainty <= 1.0


_CELL = st.builds(
    lambda text, quoted: f'"{text}"' if quoted else text,
    st.text(
        alphabet="0123456789+-.eExXtrufalsTRUFALSnNiIy \t\u0662\u00bd\x0b\x0c\xa0\u3000",
        max_size=6,
    ),
    st.booleans(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_CELL, _CELL), min_size=2, max_size=12))
def test_csv_types_are_the_same_through_arrow_and_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str, str]]
) -> None:
    """Arrow types most samples; the Python rules type the rest: the two must agree."""
    import pyarrow.csv  # noqa: F401 (loaded, Arrow's reader is used)

    from sparkglue.crawler.classifiers import csv as csv_module

    path = write(tmp_path / "t.csv", "name,other,k\n" + "".join(f"{a},{b},x\n" for a, b in rows))
    classifier = csv_module.CsvClassifier()
    monkeypatch.setattr(csv_module, "active_typer", lambda: None)  # Arrow's reader, not C's
    through_arrow = classifier.classify(FileSample.of(path, path.name))
    with monkeypatch.context() as patched:
        patched.setattr(csv_module, "_arrow_types", lambda *args: None)
        in_python = classifier.classify(FileSample.of(path, path.name))
    assert through_arrow.certainty == in_python.certainty
    if through_arrow.schema is not None:
        assert in_python.schema is not None
        assert through_arrow.schema.columns == in_python.schema.columns


def test_other_blanks_are_the_blanks_strip_trims_besides_space_tab_newline() -> None:
    from sparkglue.crawler.classifiers import csv as csv_module

    assert (
        "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\n\r")
        == csv_module.OTHER_BLANKS
    )


@pytest.mark.parametrize(
    "value",
    ['" true"', '"5 "', '" "', "1\x0b", "1\xa0", "\u30001", "\t7"],
    ids=["quoted-bool", "quoted-number", "quoted-blank", "vtab", "nbsp", "ideographic", "tab"],
)
def test_csv_blanks_give_the_same_types_through_arrow_and_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    import pyarrow.csv  # noqa: F401

    from sparkglue.crawler.classifiers import csv as csv_module

    path = write(tmp_path / "b.csv", f"a,b,n\nx,{value},1\ny,2,2\nz,{value},3\n")
    monkeypatch.setattr(csv_module, "active_typer", lambda: None)
    through_arrow = CsvClassifier().classify(FileSample.of(path, path.name))
    monkeypatch.setattr(csv_module, "_arrow_types", lambda *args: None)
    in_python = CsvClassifier().classify(FileSample.of(path, path.name))
    assert through_arrow.schema is not None and in_python.schema is not None
    assert through_arrow.schema.columns == in_python.schema.columns


def test_a_small_file_is_read_once_for_every_classifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sparkglue.crawler.classifiers import classify

    pq.write_table(pa.table({"n": [1, 2]}), tmp_path / "t.parquet")
    write(tmp_path / "t.csv", "a,b\n1,x\n2,y\n")

    def no_second_open(self: FileSample) -> Any:
        raise AssertionError(f"{self.relative} opened again")

    monkeypatch.setattr(FileSample, "open_raw", no_second_open)
    for name, expected in (("t.parquet", "parquet"), ("t.csv", "csv")):
        verdict, _ = classify(FileSample.of(tmp_path / name, name))
        assert verdict is not None and verdict.classification == expected


def test_arrow_types_csv_samples_once_loaded_and_python_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.csv  # noqa: F401

    from sparkglue.crawler.classifiers import csv as csv_module

    calls: list[Any] = []
    monkeypatch.setattr(csv_module, "active_typer", lambda: None)
    real = csv_module._arrow_types
    monkeypatch.setattr(csv_module, "_arrow_types", lambda *a: calls.append(real(*a)) or calls[-1])
    path = write(tmp_path / "p.csv", "a,b,c\n1,x,true\n2,y,false\n+3,z,TRUE\n")
    verdict = CsvClassifier().classify(FileSample.of(path, path.name))
    assert calls == [None]  # "+3": typed in Python, as a whole number
    assert verdict.schema is not None
    assert verdict.schema.columns == [("a", "bigint"), ("b", "string"), ("c", "boolean")]
    path.write_text("a,b,c\n1,x,true\n2,y,false\n3.5,z,TRUE\n")
    CsvClassifier().classify(FileSample.of(path, path.name))
    assert calls[-1] == ["double", "string", "boolean"]
    monkeypatch.setattr(csv_module, "_arrow_loaded", lambda: False)
    CsvClassifier().classify(FileSample.of(path, path.name))
    assert len(calls) == 2  # not loaded: Python types the rows


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1", "bigint"),
        ("0x1F", "string"),
        ("NaN", "string"),
        ("-Infinity", "string"),
        ("tRuE", "boolean"),
        ("\u0661\u0662", "string"),  # digits of another script are text, as in Spark
        ("1e5", "double"),
        ("9223372036854775808", "double"),
    ],
)
def test_csv_number_and_boolean_rules(tmp_path: Path, value: str, expected: str) -> None:
    path = write(tmp_path / "v.csv", f"label,value,n\na,{value},1\nb,{value},2\n")
    verdict = CsvClassifier().classify(FileSample.of(path, path.name))
    assert verdict.schema is not None
    assert dict(verdict.schema.columns)["value"] == expected


# ---- grouping and partitions -----------------------------------------------------------------


def _plan(tmp_path: Path, **kwargs: Any) -> tuple[list[Any], list[str]]:
    results, _ = scan(tmp_path, ExclusionSet(), [])
    return plan_tables(tmp_path, results, **kwargs)


def test_hive_and_unnamed_folders_become_partition_keys(tmp_path: Path) -> None:
    for year in ("2023", "2024"):
        for region in ("eu", "us"):
            write(tmp_path / f"year={year}" / region / "part.json", '{"id": 1, "v": "a"}\n')
    (plan,), _ = _plan(tmp_path)
    assert plan.partition_keys == ["year", "partition_1"]
    assert [p.values for p in plan.partitions] == [
        ["2023", "eu"],
        ["2023", "us"],
        ["2024", "eu"],
        ["2024", "us"],
    ]


def test_incompatible_folders_become_separate_tables(tmp_path: Path) -> None:
    write(tmp_path / "orders" / "o.csv", "id,amount\n1,2.5\n")
    write(tmp_path / "orders" / "o2.csv", "id,amount\n2,3.5\n")
    write(tmp_path / "users" / "u.json", '{"name": "ada"}\n')
    plans, decisions = _plan(tmp_path)
    assert sorted(p.name for p in plans) == ["orders", "users"]
    assert any("split (different formats" in d for d in decisions)


def test_dissimilar_schemas_split_and_combine_keeps_them_together(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.json", '{"p": 1, "q": 2, "r": 3}\n')
    write(tmp_path / "b" / "y.json", '{"s": 1, "t": 2, "u": 3}\n')
    plans, decisions = _plan(tmp_path)
    assert sorted(p.name for p in plans) == ["a", "b"]
    assert any("similar (below 70%)" in d for d in decisions)
    (combined,), _ = _plan(tmp_path, combine_compatible=True)
    assert [c for c, _ in combined.columns] == ["p", "q", "r", "s", "t", "u"]
    assert combined.partition_keys == ["partition_0"]


def test_table_level_fixes_where_tables_start(tmp_path: Path) -> None:
    for name in ("sales", "returns"):
        for year in ("2023", "2024"):
            write(tmp_path / name / f"year={year}" / "p.csv", "id,v\n1,2\n")
    (one,), _ = _plan(tmp_path)
    assert one.partition_keys == ["partition_0", "year"]
    plans, _ = _plan(tmp_path, table_level=1)
    assert sorted((p.name, tuple(p.partition_keys)) for p in plans) == [
        ("returns", ("year",)),
        ("sales", ("year",)),
    ]


def test_schemas_merge_and_say_so(tmp_path: Path) -> None:
    write(tmp_path / "d=1" / "a.json", '{"n": 1, "m": 1, "k": "x"}\n')
    write(tmp_path / "d=2" / "b.json", '{"n": 1.5, "m": "one", "k": "y"}\n')
    (plan,), _ = _plan(tmp_path)
    assert dict(plan.columns) == {"n": "double", "m": "string", "k": "string"}
    assert any("widened double" in n for n in plan.notes)
    assert any("conflicting types, using string" in n for n in plan.notes)


# ---- catalog changes -------------------------------------------------------------------------


def test_crawl_sets_glue_table_parameters(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "events"
    write(data / "day=1" / "a.json.gz", gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    write(data / "day=1" / "_SUCCESS", b"")
    write(data / "day=1" / "skip.tmp", b"junk")
    crawler(workspace, "events", "raw/events", target={"Exclusions": ["**.tmp"]})
    run = workspace.crawlers.run("events")
    table = workspace.catalog.get_table("raw", "events")
    params = table.parameters
    assert params["classification"] == "json"
    assert params["compressionType"] == "gzip"
    assert params["recordCount"] == "2" and params["objectCount"] == "1"
    assert params["UPDATED_BY_CRAWLER"] == "events"
    assert json.loads(params["exclusions"]) == ["**.tmp"]
    assert table.compressed
    (partition,) = workspace.catalog.get_partitions("raw", "events")
    assert partition.values == ["1"] and partition.parameters["recordCount"] == "2"
    _, files = workspace.crawlers.explain(run.id)
    reasons = {Path(f["path"]).name: f["skipped"] for f in files}
    assert reasons["skip.tmp"] == "excluded"
    assert reasons["_SUCCESS"].startswith("hidden file")


def test_recrawl_new_folders_only_reads_just_the_new_folder(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "logs"
    for day in ("1", "2", "3"):
        write(data / f"day={day}" / "a.csv", "id,v\n1,2\n3,4\n")
    crawler(
        workspace, "logs", "raw/logs", RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    )
    first = workspace.crawlers.run("logs")
    assert first.metrics["FilesRead"] == 3 and first.metrics["TablesCreated"] == 1
    write(data / "day=4" / "a.csv", "id,v\n5,6\n")
    second = workspace.crawlers.run("logs")
    assert second.state == "SUCCEEDED"
    assert second.metrics["FilesRead"] == 1
    assert second.metrics["PartitionsAdded"] == 1
    _, files = workspace.crawlers.explain(second.id)
    assert [Path(f["path"]).parent.name for f in files] == ["day=4"]
    parts = workspace.catalog.get_partitions("raw", "logs")
    assert [p.values for p in parts] == [["1"], ["2"], ["3"], ["4"]]
    assert parts[-1].parameters["recordCount"] == "1"


def test_listing_only_new_folders_still_finds_them_under_old_ones(tmp_path: Path) -> None:
    from sparkglue.crawler.engine import list_files

    for path in ("a.csv", "old/b.csv", "old/new/c.csv", "old/_hidden.csv", "new/d.csv"):
        write(tmp_path / path, "x,y\n1,2\n")
    skipped: list[tuple[str, str]] = []
    listed = list(
        list_files(
            tmp_path,
            ExclusionSet(),
            lambda relative, why: skipped.append((relative, why)),
            folders=lambda folder: folder in ("old/new", "new"),
        )
    )
    assert [relative for relative, _ in listed] == ["new/d.csv", "old/new/c.csv"]
    assert skipped == []  # what old folders hold is not this crawl's business
    everything = [relative for relative, _ in list_files(tmp_path, ExclusionSet())]
    assert everything == ["a.csv", "new/d.csv", "old/b.csv", "old/new/c.csv"]


def _age(root: Path, seconds: float = 60.0) -> None:
    """Set every folder's modification time back, as if it had not changed for a while."""
    then = root.stat().st_mtime - seconds
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(folder, (then, then))


def test_an_unchanged_old_folder_is_not_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkglue.crawler import engine
    from sparkglue.crawler.engine import FolderMemo, list_files

    for path in ("t/p=1/a.csv", "t/p=2/a.csv", "t/p=2/deep/b.csv", "t/_tmp/c.csv"):
        write(tmp_path / path, "x,y\n1,2\n")
    _age(tmp_path)
    listed: list[str] = []
    scandir = os.scandir

    def spy(folder: str) -> Any:
        listed.append(os.path.relpath(folder, tmp_path))
        return scandir(folder)

    monkeypatch.setattr(engine.os, "scandir", spy)
    everything = ExclusionSet()
    first = FolderMemo()
    files = [r for r, _ in list_files(tmp_path, everything, None, lambda f: True, memo=first)]
    assert files == ["t/p=1/a.csv", "t/p=2/a.csv", "t/p=2/deep/b.csv"]
    assert first.now["t"][1] == ["_tmp", "p=1", "p=2"]
    assert first.now["t/p=2"][1] == ["deep"] and first.now["t/p=1"][1] == []

    # Nothing changed: no folder is listed; one new folder: only it and its parent are.
    old = {"", "t", "t/_tmp", "t/p=1", "t/p=2", "t/p=2/deep"}
    listed.clear()
    second = FolderMemo(before=first.now)
    skipped: list[tuple[str, str]] = []

    def is_new(folder: str) -> bool:
        return folder not in old

    def note(relative: str, why: str) -> None:
        skipped.append((relative, why))

    assert list(list_files(tmp_path, everything, note, is_new, memo=second)) == []
    assert listed == []
    assert skipped == [("t/_tmp", "hidden file (name starts with . or _)")]  # as when listed
    assert second.now == first.now
    write(tmp_path / "t/p=2/deep/new=1/d.csv", "x,y\n3,4\n")
    listed.clear()
    third = FolderMemo(before=second.now)
    found = [r for r, _ in list_files(tmp_path, everything, None, is_new, memo=third)]
    assert found == ["t/p=2/deep/new=1/d.csv"]
    assert listed == ["t/p=2/deep", "t/p=2/deep/new=1"]
    # A folder changed just now is not remembered: a change within the same tick of the
    # file system's clock could leave its time as it is.
    assert "t/p=2/deep" not in third.now and third.now["t/p=2"] == first.now["t/p=2"]


def test_recrawls_find_new_folders_under_remembered_ones(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "events"
    for day in ("1", "2"):
        write(data / f"day={day}" / "a.csv", "id,v\n1,2\n3,4\n")
    _age(data)
    crawler(
        workspace, "ev", "raw/events", RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    )
    assert workspace.crawlers.run("ev").metrics["TablesCreated"] == 1
    remembered = workspace.crawlers.get_crawler("ev").folder_listing
    assert set(remembered[str(data)]) == {"", "day=1", "day=2"}
    for round_, day in enumerate(("3", "4"), start=1):
        write(data / f"day={day}" / "a.csv", "id,v\n5,6\n")
        run = workspace.crawlers.run("ev")
        assert (run.state, run.metrics["FilesRead"], run.metrics["PartitionsAdded"]) == (
            "SUCCEEDED",
            1,
            1,
        ), round_
    parts = workspace.catalog.get_partitions("raw", "events")
    assert [p.values for p in parts] == [["1"], ["2"], ["3"], ["4"]]


def test_deprecate_in_database_keeps_a_vanished_table(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "lake"
    write(data / "keep" / "k.csv", "id,v\n1,2\n")
    write(data / "gone" / "g.json", '{"z": 1}\n')
    crawler(
        workspace, "lake", "raw/lake", Configuration={"Grouping": {"TableLevelConfiguration": 1}}
    )
    assert workspace.crawlers.run("lake").metrics["TablesCreated"] == 2
    (data / "gone" / "g.json").unlink()
    run = workspace.crawlers.run("lake")
    assert run.metrics["TablesDeleted"] == 1
    gone = workspace.catalog.get_table("raw", "gone")
    assert gone.deprecated
    assert int(gone.parameters["DEPRECATED_BY_CRAWLER"]) > 1_700_000_000_000
    assert not workspace.catalog.get_table("raw", "keep").deprecated


def test_delete_from_database_removes_vanished_tables_and_partitions(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "t"
    write(data / "p=1" / "a.csv", "id,v\n1,2\n")
    write(data / "p=2" / "a.csv", "id,v\n1,2\n")
    crawler(workspace, "t", "raw/t", SchemaChangePolicy={"DeleteBehavior": "DELETE_FROM_DATABASE"})
    workspace.crawlers.run("t")
    (data / "p=2" / "a.csv").unlink()
    run = workspace.crawlers.run("t")
    assert run.metrics["PartitionsRemoved"] == 1
    assert [p.values for p in workspace.catalog.get_partitions("raw", "t")] == [["1"]]


def test_schema_changes_update_or_log(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "s"
    write(data / "a.csv", "id,v\n1,2\n")
    crawler(workspace, "s", "raw/s", SchemaChangePolicy={"UpdateBehavior": "LOG"})
    workspace.crawlers.run("s")
    write(data / "a.csv", "id,v,extra\n1,2,x\n")
    run = workspace.crawlers.run("s")
    assert run.metrics["TablesUpdated"] == 0
    assert any("not applied (UpdateBehavior LOG)" in d for d in run.metrics["Decisions"])
    assert workspace.catalog.get_table("raw", "s").version == 1
    spec = workspace.crawlers.get_crawler("s").spec.model_dump(mode="json")
    spec["SchemaChangePolicy"]["UpdateBehavior"] = "UPDATE_IN_DATABASE"
    workspace.crawlers.update_crawler(CrawlerSpec.model_validate(spec))
    assert workspace.crawlers.run("s").metrics["TablesUpdated"] == 1
    table = workspace.catalog.get_table("raw", "s")
    assert table.version == 2 and [c.name for c in table.columns] == ["id", "v", "extra"]


# ---- runs --------------------------------------------------------------------------------------


def test_a_run_whose_process_died_is_failed_on_next_read(workspace: Workspace) -> None:
    write(workspace.settings.lake_root / "raw" / "x" / "a.csv", "id,v\n1,2\n")
    crawler(workspace, "x", "raw/x")
    run_id = workspace.crawlers.start_run("x")
    with pytest.raises(CrawlerRunning, match="already RUNNING"):
        workspace.crawlers.start_run("x")
    from sparkglue.store import schema as s

    with workspace.store.write() as conn:  # as if a worker process had started it and died
        conn.execute(s.crawl_runs.update().values(pid=2**22 + 12345))
    run = workspace.crawlers.get_run(run_id)
    assert run.state == "FAILED" and "ended without finishing" in (run.error_message or "")
    assert workspace.crawlers.get_crawler("x").state == "READY"


def test_a_stopped_crawl_ends_cancelled_and_changes_nothing(workspace: Workspace) -> None:
    write(workspace.settings.lake_root / "raw" / "st" / "a.csv", "id,v\n1,2\n")
    crawler(workspace, "st", "raw/st")
    with pytest.raises(InvalidInput, match="is READY, not running; nothing to stop"):
        workspace.crawlers.stop_crawler("st")
    run_id = workspace.crawlers.start_run("st")
    assert workspace.crawlers.stop_crawler("st") == run_id
    assert workspace.crawlers.get_crawler("st").state == "STOPPING"
    run = workspace.crawlers.execute(run_id)
    assert run.state == "CANCELLED" and "stopped on request" in (run.error_message or "")
    assert workspace.catalog.list_tables("raw") == []
    assert workspace.crawlers.get_crawler("st").state == "READY"
    assert workspace.crawlers.run("st").state == "SUCCEEDED"


def test_specs_are_checked_when_the_crawler_is_created(workspace: Workspace) -> None:
    workspace.catalog.create_database(DatabaseInput(name="raw"))
    base = {"Name": "c", "DatabaseName": "raw", "Targets": {"S3Targets": [{"Path": "raw"}]}}
    with pytest.raises(ValueError, match="Extra inputs"):
        CrawlerSpec.model_validate({**base, "Tagets": {}})
    with pytest.raises(ValueError, match="nests"):
        CrawlerSpec.model_validate(
            {**base, "Targets": {"S3Targets": [{"Path": "raw", "Exclusions": ["{a,{b}}"]}]}}
        )
    with pytest.raises(EntityNotFound, match="classifier 'nope' not found"):
        workspace.crawlers.create_crawler(
            CrawlerSpec.model_validate({**base, "Classifiers": ["nope"]})
        )
    with pytest.raises(InvalidInput, match="outside the lake"):
        workspace.crawlers.create_crawler(
            CrawlerSpec.model_validate({**base, "Targets": {"S3Targets": [{"Path": "/etc"}]}})
        )
    incremental = CrawlerSpec.model_validate(
        {**base, "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}}
    )
    assert incremental.SchemaChangePolicy.UpdateBehavior == "LOG"
    assert incremental.SchemaChangePolicy.DeleteBehavior == "LOG"


# ---- regressions: odd trees, names and counts ------------------------------------------------


def test_odd_entries_are_recorded_not_fatal(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "odd"
    write(data / "ok" / "a.csv", "id,v\n1,2\n")
    (data / "real").mkdir()
    (data / "real" / "loop").symlink_to(data / "real" / "loop")  # a link to itself
    (data / "gone").symlink_to(data / "nowhere")
    Path(os.fsdecode(os.fsencode(str(data)) + b"/caf\xe9.csv")).write_bytes(b"id,v\n1,2\n")
    crawler(workspace, "odd", "raw/odd")
    run = workspace.crawlers.run("odd")
    assert run.state == "SUCCEEDED", run.error_message
    _, files = workspace.crawlers.explain(run.id)
    reasons = {f["path"].rsplit("/", 1)[-1]: f["skipped"] for f in files}
    assert reasons["caf\ufffd.csv"] == "the name is not valid UTF-8; rename it"
    assert reasons["loop"].startswith("unreadable entry") or "link" in reasons["loop"]
    assert "not followed" in reasons["gone"]


def test_a_failed_crawl_keeps_its_decisions(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "f"
    write(data / "a.csv", "id,v\n1,2\n")
    crawler(workspace, "f", "raw/f")
    workspace.catalog.delete_database("raw")  # the crawl fails: its database is gone
    run = workspace.crawlers.run("f")
    assert run.state == "FAILED" and "database 'raw' not found" in (run.error_message or "")
    assert workspace.crawlers.get_crawler("f").state == "READY"


def test_names_are_unique_across_targets_and_columns_are_made_safe(workspace: Workspace) -> None:
    lake = workspace.settings.lake_root / "raw"
    write(lake / "a" / "data" / "x.csv", "id,v\n1,2\n")
    write(lake / "b" / "data" / "y.json", '{"": 1, "x`y": 2, "x_y": 3}\n')
    workspace.catalog.create_database(DatabaseInput(name="raw"))
    workspace.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {
                "Name": "two",
                "DatabaseName": "raw",
                "Targets": {"S3Targets": [{"Path": "raw/a/data"}, {"Path": "raw/b/data"}]},
            }
        )
    )
    run = workspace.crawlers.run("two")
    assert run.state == "SUCCEEDED", run.error_message
    tables = workspace.catalog.list_tables("raw")
    assert len(tables) == 2 and all(t.name.startswith("data_") for t in tables)
    json_table = next(t for t in tables if t.classification == "json")
    assert [c.name for c in json_table.columns] == ["col0", "x_y", "x_y_2"]


def test_incremental_recrawl_adds_a_sibling_table_not_a_root_table(workspace: Workspace) -> None:
    data = workspace.settings.lake_root / "raw" / "inc"
    write(data / "orders" / "o.csv", "id,amount\n1,2.5\n")
    write(data / "users" / "u.json", '{"name": "ada"}\n')
    crawler(
        workspace, "inc", "raw/inc", RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    )
    workspace.crawlers.run("inc")
    write(data / "events" / "e.json", '{"kind": "click", "at": 1}\n')
    run = workspace.crawlers.run("inc")
    assert run.metrics["TablesCreated"] == 1
    assert sorted(t.name for t in workspace.catalog.list_tables("raw")) == [
        "events",
        "orders",
        "users",
    ]


def test_table_level_with_files_at_mixed_depths(tmp_path: Path) -> None:
    write(tmp_path / "a" / "b" / "c" / "x.csv", "id,v\n1,2\n")
    write(tmp_path / "a" / "d" / "y.csv", "id,v\n1,2\n")
    plans, decisions = _plan(tmp_path, table_level=1)
    assert len(plans) == 2
    assert any("files at different depths" in d for d in decisions)
    for plan in plans:
        assert all(Path(p.location).is_dir() for p in plan.partitions)


def test_unnamed_levels_keep_their_folder_names_as_values(tmp_path: Path) -> None:
    write(tmp_path / "region=eu" / "a.csv", "id,v\n1,2\n")
    write(tmp_path / "country=eu" / "b.csv", "id,v\n3,4\n")
    (plan,), _ = _plan(tmp_path)
    assert plan.partition_keys == ["partition_0"]
    assert sorted(p.values[0] for p in plan.partitions) == ["country=eu", "region=eu"]


def test_column_order_does_not_split_a_table(tmp_path: Path) -> None:
    for i, order in enumerate(("a,b,c", "b,c,a", "c,a,b", "a,c,b", "b,a,c", "c,b,a")):
        write(tmp_path / f"p={i}" / "f.csv", f"{order}\n1,2,3\n")
    plans, _ = _plan(tmp_path)
    assert len(plans) == 1


def test_sample_size_takes_the_first_non_empty_files(tmp_path: Path) -> None:
    write(tmp_path / "part-00000.csv", b"")  # an empty first file does not use up the sample
    write(tmp_path / "part-00001.csv", "id,v\n1,2\n")
    write(tmp_path / "part-00002.csv", "id,v\n3,4\n")
    results, _ = scan(tmp_path, ExclusionSet(), [], sample_size=1)
    sampled = {r.relative: r.sampled for r in results}
    assert sampled == {"part-00000.csv": True, "part-00001.csv": True, "part-00002.csv": False}
    assert [r.classification for r in results] == ["UNKNOWN", "csv", "csv"]


def test_record_counts(tmp_path: Path) -> None:
    write(tmp_path / "array" / "a.json", json.dumps([{"i": i} for i in range(5000)]))
    write(
        tmp_path / "quoted" / "q.csv",
        "id,note\n" + "".join(f'{i},"line one\nline two"\n' for i in range(100)),
    )
    write(tmp_path / "bom" / "b.csv", "\ufeffid,v\n1,x\n2,y\n")
    write(tmp_path / "cut" / "c.json", "".join(f'{{"i": {i}}}\n' for i in range(50)) + '{"i": 5')
    results, _ = scan(tmp_path, ExclusionSet(), [])
    by_folder = {r.folder: r for r in results}
    assert round(by_folder["array"].records) == 5000
    assert round(by_folder["quoted"].records) == 100
    assert by_folder["bom"].columns[0] == ("id", "bigint")
    assert by_folder["cut"].classification == "json"


def test_json_lines_types_on_every_path(tmp_path: Path) -> None:
    # Same keys everywhere (the transposed path), keys that come and go (the general path),
    # values the compiled parser refuses (NaN, integers past 64 bits), and blank lines.
    write(tmp_path / "same" / "a.json", "".join(f'{{"i": {i}, "s": "x"}}\n' for i in range(50)))
    write(
        tmp_path / "mixed" / "a.json",
        '{"i": 1}\n{"s": "x", "i": 2.5}\n{"i": null, "t": true}\n',
    )
    write(tmp_path / "nan" / "a.json", '{"i": 1, "f": NaN}\n{"i": 2, "f": 1.5}\n')
    write(tmp_path / "big" / "a.json", '{"i": 1}\n{"i": 99999999999999999999999}\n')
    write(tmp_path / "blank" / "a.json", '{"i": 1}\n\n  \n{"i": 2}\n\n{"i": 3}\n\n')
    results, _ = scan(tmp_path, ExclusionSet(), [])
    by_folder = {r.folder: r for r in results}
    assert by_folder["same"].columns == [("i", "bigint"), ("s", "string")]
    assert round(by_folder["same"].records) == 50
    assert by_folder["mixed"].columns == [("i", "double"), ("s", "string"), ("t", "boolean")]
    assert by_folder["nan"].columns == [("i", "bigint"), ("f", "double")]
    assert by_folder["big"].columns == [("i", "double")]
    assert by_folder["blank"].columns == [("i", "bigint")]
    assert round(by_folder["blank"].records) == 3


_JSON_LINE = st.sampled_from(
    [
        '{"i": 1}',
        '{"i": 2.5, "s": "x"}',
        "",
        " ",
        "\t",
        "\r",
        '{"i": 1}\r',
        '{"i": NaN}',
        "[1,",
        "2]",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_JSON_LINE, min_size=1, max_size=12), st.booleans(), st.booleans())
def test_json_lines_read_the_same_the_quick_way_and_the_long_way(
    monkeypatch: pytest.MonkeyPatch, lines: list[str], complete: bool, ending: bool
) -> None:
    """Lines decoded in one go when none is blank, line by line otherwise: the same records,
    and the same count of lines that are not blank."""
    from sparkglue.crawler.classifiers import json as json_module

    text = "\n".join(lines) + ("\n" if ending else "")

    def records(quick: bool) -> Any:
        with monkeypatch.context() as patched:
            if not quick:
                patched.setattr(json_module, "_json_lines", lambda *a: None)
            try:
                return json_module.JsonClassifier._lines_or_document(text, complete)
            except (json.JSONDecodeError, ValueError) as exc:
                return type(exc)

    assert repr(records(True)) == repr(records(False))  # repr: NaN equals itself there
    whole = text.rstrip()
    blank = len(json_module._BLANK_LINE.findall(whole))
    assert json_module._count_lines(whole) == (whole.count("\n") + 1 - blank if whole else 0)


def test_json_lines_ending_with_a_line_break_take_the_quick_way() -> None:
    from sparkglue.crawler.classifiers import json as json_module

    lines = '{"a": 1}\n{"a": 2}\r\n'
    assert json_module._json_lines(lines, True) == [{"a": 1}, {"a": 2}]
    assert json_module._json_lines(lines + '{"a": 3', False) == [{"a": 1}, {"a": 2}]
    assert json_module._json_lines(lines + "\n", True) is None  # a blank line: the long way


def test_json_lines_past_the_first_thousand_are_not_typed(tmp_path: Path) -> None:
    rows = [f'{{"i": {i}}}' for i in range(1000)] + ['{"i": "text"}', "", '{"j": 1}']
    write(tmp_path / "t" / "a.json", "\n".join(rows) + "\n")
    (result,), _ = scan(tmp_path, ExclusionSet(), [])
    assert result.columns == [("i", "bigint")]
    assert round(result.records) == 1002  # every line that is not blank counts
    # The thousandth record comes after a blank line: it is still one of the records typed.
    rows = [f'{{"i": {i}}}' for i in range(999)] + ["", '{"i": "text"}']
    write(tmp_path / "t" / "a.json", "\n".join(rows) + "\n")
    (result,), _ = scan(tmp_path, ExclusionSet(), [])
    assert result.columns == [("i", "string")]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (["TRUE", "false", "tRuE"], "boolean"),
        (["1E5", "2.5e-3", ""], "double"),
        (["12", "", "-7"], "bigint"),
        (["TRUE", "1"], "string"),
        (["Ab", "cD"], "string"),
        (["", ""], None),
    ],
)
def test_arrow_types_the_rows_lower_cased(column: list[str], expected: str | None) -> None:
    import pyarrow.csv  # noqa: F401

    from sparkglue.crawler.classifiers import csv as csv_module

    text = "a,b\n" + "".join(f"{v},x\n" for v in column)
    assert csv_module._arrow_types(text, ",", '"', 2) == [expected, "string"]


def test_arrow_types_the_first_thousand_rows_only() -> None:
    import pyarrow.csv  # noqa: F401

    from sparkglue.crawler.classifiers import csv as csv_module

    rows = [f"{i},x" for i in range(1000)]
    assert csv_module._arrow_types("\n".join(["a,b", *rows, "text,x"]), ",", '"', 2) == [
        "bigint",
        "string",
    ]
    rows[-1] = "text,x"
    assert csv_module._arrow_types("\n".join(["a,b", *rows]), ",", '"', 2) == [
        "string",
        "string",
    ]
    # Hexadecimal past the typed rows still sends the rows to Python, which gives the same.
    assert csv_module._arrow_types("\n".join(["a,b", "1,x", "0x1F,y"]), ",", '"', 2) is None


def test_a_crawl_pauses_the_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from sparkglue.crawler import engine, service

    ws = Workspace.init(tmp_path / "ws")
    write(ws.settings.lake_root / "t" / "a.csv", "a,b\n1,x\n2,y\n")
    ws.catalog.create_database(DatabaseInput(name="db"))
    ws.crawlers.create_crawler(
        CrawlerSpec.model_validate(
            {"Name": "c", "DatabaseName": "db", "Targets": {"S3Targets": [{"Path": "t"}]}}
        )
    )
    seen: list[bool] = []
    real_scan = service.scan
    monkeypatch.setattr(
        service, "scan", lambda *a, **k: seen.append(gc.isenabled()) or real_scan(*a, **k)
    )
    assert gc.isenabled()
    assert ws.crawlers.run("c").state == "SUCCEEDED"
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # a collector turned off by the caller stays off
        assert ws.crawlers.run("c").state == "SUCCEEDED"
        assert not gc.isenabled()
    finally:
        gc.enable()
    with engine.collections_paused():
        engine._pool_worker_init(())  # a forked worker collects its own garbage
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_many_files_are_classified_alike_by_worker_processes_and_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from sparkglue.crawler import engine

    for i in range(150):
        write(tmp_path / "c" / f"d={i % 5}" / f"{i}.csv", f"a,b,c\n{i},x{i},{i / 2}\n1,y,TRUE\n")
        write(
            tmp_path / "j" / f"d={i % 5}" / f"{i}.json", f'{{"a": {i}, "b": [1]}}\n{{"a": null}}\n'
        )
    write(tmp_path / "c" / "d=0" / "empty.csv", "")
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    assert engine._PARALLEL_FROM <= 301

    def decisions() -> list[tuple[str, Any]]:
        with engine.collections_paused():
            results, _ = scan(tmp_path, ExclusionSet(), [])
        return [(r.relative, r.decision()) for r in results]

    in_workers = decisions()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    monkeypatch.setattr(engine, "_PARALLEL_FROM", 10**9)
    assert decisions() == in_workers
    by_path = dict(in_workers)
    assert by_path["c/d=1/1.csv"]["schema"] == [["a", "bigint"], ["b", "string"], ["c", "string"]]
    assert by_path["j/d=1/1.json"]["schema"] == [["a", "bigint"], ["b", "array<bigint>"]]
    assert by_path["c/d=0/empty.csv"]["skipped"] == "empty file"


def test_a_json_document_larger_than_the_sample_is_recognised(tmp_path: Path) -> None:
    from sparkglue.crawler.classifiers.json import JsonClassifier

    items = [{"id": i, "name": f"n{i}", "tags": ["a", "b"]} for i in range(40_000)]
    doc = json.dumps({"meta": {"source": "x", "version": 2}, "items": items}, indent=1)
    assert len(doc) > 2 * 1024 * 1024
    write(tmp_path / "docs" / "big.json", doc)
    (result,), _ = scan(tmp_path, ExclusionSet(), [])
    assert result.classification == "json"
    assert result.columns == [
        ("meta", "struct<source:string,version:bigint>"),
        ("items", "array<struct<id:bigint,name:string,tags:array<string>>>"),
    ]
    custom = JsonClassifier("items", "$.items[*]")
    (result,), _ = scan(tmp_path, ExclusionSet(), [custom])
    assert result.verdict is not None and result.verdict.classifier == "items"
    assert result.columns == [("id", "bigint"), ("name", "string"), ("tags", "array<string>")]
