"""Golden cases (tests/cases/*): every classifier, built-in and custom, on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sparkglue.crawler.classifiers import custom_classifier
from sparkglue.crawler.engine import scan
from sparkglue.crawler.globs import ExclusionSet
from sparkglue.crawler.specs import (
    CsvClassifierSpec,
    GrokClassifierSpec,
    JsonClassifierSpec,
    XmlClassifierSpec,
    classifier_definition,
)
from sparkglue.workspace import Workspace

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.json").is_file())


def _expected(case: Path) -> dict[str, Any]:
    return dict(json.loads((case / "expected.json").read_text()))


def _classifier_spec(data: dict[str, Any]) -> Any:
    for model in (GrokClassifierSpec, XmlClassifierSpec, JsonClassifierSpec, CsvClassifierSpec):
        try:
            return model.model_validate(data)
        except ValueError:
            continue
    raise AssertionError(f"no classifier spec fits {data}")


@pytest.fixture(params=["compiled", "python"])
def typer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case typed by the compiled typer, and in Python alone."""
    from sparkglue.crawler import native
    from sparkglue.crawler.classifiers import csv as csv_module
    from sparkglue.crawler.classifiers import json as json_module

    loaded = native.load() if request.param == "compiled" else None
    assert request.param == "python" or loaded is not None
    for module in (csv_module, json_module):
        monkeypatch.setattr(module, "active_typer", lambda: loaded)
    return str(request.param)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path, typer: str) -> None:
    expected = _expected(case)
    custom = []
    if "classifier" in expected:
        spec = _classifier_spec(expected["classifier"])
        kind, definition = classifier_definition(spec)
        custom.append(custom_classifier(spec.Name, kind, definition))
    results, skipped = scan(case / "data", ExclusionSet(), custom)
    assert skipped == []
    (result,) = results
    assert result.classification == expected["classification"], result.decision()["tried"]
    if expected["classification"] == "UNKNOWN":
        assert result.skipped == "no classifier recognised it (UNKNOWN)"
        return
    assert [list(c) for c in result.columns] == expected["columns"]
    assert round(result.records) == expected["records"]
    assert result.compression == expected.get("compression")
    assert result.verdict is not None and result.verdict.schema is not None
    if "serde" in expected:
        assert result.verdict.schema.serde_library == expected["serde"]
    for key, value in expected.get("serde_parameters", {}).items():
        assert result.verdict.schema.serde_parameters[key] == value


def test_custom_classifiers_run_before_built_ins() -> None:
    case = CASES_DIR / "custom_csv"
    spec = _classifier_spec(_expected(case)["classifier"])
    kind, definition = classifier_definition(spec)
    results, _ = scan(
        case / "data", ExclusionSet(), [custom_classifier(spec.Name, kind, definition)]
    )
    assert results[0].verdict is not None and results[0].verdict.classifier == "hashes"
    assert [t.classifier for t in results[0].tried] == ["hashes"]


@pytest.mark.spark
def test_every_crawled_table_is_readable_by_name_with_its_record_count(
    spark_workspace: Workspace,
) -> None:
    ws = spark_workspace
    from sparkglue.catalog import DatabaseInput
    from sparkglue.crawler import CrawlerSpec

    ws.catalog.create_database(DatabaseInput(name="golden"))
    expected_counts: dict[str, int] = {}
    for case in CASES:
        expected = _expected(case)
        if expected["classification"] == "UNKNOWN":
            continue
        target = ws.settings.lake_root / "raw" / "golden" / case.name
        shutil.copytree(case / "data", target)
        classifiers = []
        if "classifier" in expected:
            spec = _classifier_spec(expected["classifier"])
            ws.crawlers.create_classifier(spec)
            classifiers.append(spec.Name)
        ws.crawlers.create_crawler(
            CrawlerSpec.model_validate(
                {
                    "Name": f"c_{case.name}",
                    "DatabaseName": "golden",
                    "Classifiers": classifiers,
                    "Targets": {"S3Targets": [{"Path": f"raw/golden/{case.name}"}]},
                }
            )
        )
        run = ws.crawlers.run(f"c_{case.name}")
        assert run.state == "SUCCEEDED", run.error_message
        assert run.metrics["TablesCreated"] == 1
        expected_counts[case.name] = expected["records"]
    tables = {t.name: t for t in ws.catalog.list_tables("golden")}
    assert set(tables) == set(expected_counts)
    failures = {}
    for name, count in expected_counts.items():
        try:
            got = ws.sql(f"SELECT count(*) AS n FROM golden.{name}").collect()[0].n
        except Exception as exc:
            failures[name] = str(exc).splitlines()[0][:200]
            continue
        if got != count:
            failures[name] = f"count {got}, expected {count}"
    assert failures == {}, "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))


def test_builtin_log_patterns_compile_and_their_hints_pass_every_line_they_match() -> None:
    """A built-in pattern compiles only when used; checked here instead. Its first-line hint
    (the text it cannot match without) must pass every line of the log cases it matches."""
    from sparkglue.crawler.classifiers.grok import (
        BUILTIN_LOG_CLASSIFIERS,
        FIRST_LINE_HINTS,
        compile_grok,
    )

    lines = [
        line
        for case in CASES_DIR.glob("log_*/data/*")
        for line in case.read_text().splitlines()
        if line.strip()
    ]
    matched_somewhere = set()
    for name, pattern in BUILTIN_LOG_CLASSIFIERS:
        grok = compile_grok(pattern)  # checked: valid, and one group per column
        assert grok.columns
        for line in lines:
            if grok.compiled.fullmatch(line):
                matched_somewhere.add(name)
                assert FIRST_LINE_HINTS[pattern].search(line), (name, line)
    assert matched_somewhere == {name for name, _ in BUILTIN_LOG_CLASSIFIERS}
