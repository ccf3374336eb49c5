"""The demo pipeline, and the acceptance check on its workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkglue.cli.main import main
from sparkglue.config import Settings
from sparkglue.errors import WorkspaceError
from sparkglue.workspace import Workspace, run_demo
from sparkglue.workspace.demo import DEMO_MARKER

pytestmark = pytest.mark.spark

EXPECTED = {  # Palmer penguins: observations per species and year
    ("Adelie Penguin (Pygoscelis adeliae)", "2007"): 50,
    ("Adelie Penguin (Pygoscelis adeliae)", "2008"): 50,
    ("Adelie Penguin (Pygoscelis adeliae)", "2009"): 52,
    ("Chinstrap penguin (Pygoscelis antarctica)", "2007"): 26,
    ("Chinstrap penguin (Pygoscelis antarctica)", "2008"): 18,
    ("Chinstrap penguin (Pygoscelis antarctica)", "2009"): 24,
    ("Gentoo penguin (Pygoscelis papua)", "2007"): 34,
    ("Gentoo penguin (Pygoscelis papua)", "2008"): 46,
    ("Gentoo penguin (Pygoscelis papua)", "2009"): 44,
}
CURATED = {"Adelie": 151, "Chinstrap": 68, "Gentoo": 123}  # palmerpenguins' counts
CURATED_TYPES = {
    "study_name": "string",
    "sample_number": "int",
    "species": "string",
    "region": "string",
    "island": "string",
    "stage": "string",
    "individual_id": "string",
    "clutch_completion": "boolean",
    "date_egg": "date",
    "culmen_length_mm": "double",
    "culmen_depth_mm": "double",
    "flipper_length_mm": "int",
    "body_mass_g": "int",
    "sex": "string",
    "delta_15_n": "double",
    "delta_13_c": "double",
    "comments": "string",
}


def test_demo_counts_species_per_year_and_cli_sees_344(
    tmp_path: Path, spark_session: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_demo(Settings.resolve(env={}, cwd=tmp_path))
    assert result.workspace == (tmp_path / ".sparkglue").resolve()
    assert result.raw_rows == 344
    got = {(r["species"], r["year"]): r["penguins"] for r in result.species_by_year}
    assert got == EXPECTED
    for year in ("2007", "2008", "2009"):
        files = list(
            (result.workspace / "lake" / "raw" / "penguins" / f"year={year}").glob("*.csv")
        )
        assert len(files) == 1

    capsys.readouterr()
    main(
        ["catalog", "sql", "SELECT count(*) FROM raw.penguins", "-o", "json"]
    )  # exits only on error
    assert capsys.readouterr().out.strip() == '[{"count(1)": 344}]'

    # the pipeline ran as one workflow run through the scheduler: every step once
    assert result.workflow_run is not None
    assert result.workflow_statistics["TotalActions"] == 4
    assert result.workflow_statistics["SucceededActions"] == 4
    assert (result.workspace / "logs" / "workflows" / "penguins_pipeline.svg").exists()

    # the generated cleaning job ran in its own process and wrote curated.penguins
    assert result.job_metrics["records_read"] == 344
    assert result.job_metrics["records_written"] == 342  # two penguins were never measured
    assert result.job_metrics["spark_application_id"]
    assert {r["species"]: r["penguins"] for r in result.curated_summary} == CURATED
    curated = result.workspace / "lake" / "curated" / "penguins"
    assert sorted(p.name for p in curated.glob("year=*")) == ["year=2007", "year=2008", "year=2009"]
    assert list(curated.glob("year=2008/*.parquet"))
    assert not list((result.workspace / "lake" / "curated").glob("penguins/*.csv"))
    ws = Workspace(settings=Settings.resolve(env={}, cwd=tmp_path))
    table = ws.catalog.get_table("curated", "penguins")
    types = {c.name: c.type for c in table.columns}
    assert types == CURATED_TYPES
    assert [(k.name, k.type) for k in table.partition_keys] == [("year", "int")]
    assert sorted(p.values[0] for p in ws.catalog.get_partitions("curated", "penguins")) == [
        "2007",
        "2008",
        "2009",
    ]
    assert table.classification == "parquet"
    assert table.parameters["UPDATED_BY_CRAWLER"] == "curated_penguins"  # crawled after the job
    script = ws.jobs.script_path(ws.jobs.get_job("penguins_curated"))
    assert "job.write_table(" in script.read_text()
    ws.close()
    rows = spark_session.sql(
        "SELECT species, sex, count(*) AS n FROM curated.penguins "
        "WHERE year = 2009 GROUP BY species, sex ORDER BY species, sex"
    ).collect()
    assert {r["species"] for r in rows} == {"Adelie", "Chinstrap", "Gentoo"}
    assert {r["sex"] for r in rows} <= {"female", "male", None}
    assert sum(r["n"] for r in rows) == 119

    # the species tree: accurate, registered, promoted, scored in batch, served compiled
    assert result.model == "penguin_species:1"
    assert result.model_metrics["accuracy"] >= 0.93
    assert result.model_folder is not None
    assert (result.model_folder / "tree.svg").exists()
    assert result.predictions == 342
    assert [a["prediction"] for a in result.single_answers[:3]] == [
        "Gentoo",
        "Adelie",
        "Chinstrap",
    ]
    assert all(0 < a["probability"] <= 1 for a in result.single_answers)

    # the demo recreates its own workspace on a second run
    again = run_demo(Settings.resolve(env={}, cwd=tmp_path))
    assert again.raw_rows == 344 and (again.workspace / DEMO_MARKER).exists()


def test_demo_refuses_a_workspace_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / ".sparkglue").mkdir()
    (tmp_path / ".sparkglue" / "precious.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="was not made by the demo"):
        run_demo(Settings.resolve(env={}, cwd=tmp_path))
    assert (tmp_path / ".sparkglue" / "precious.txt").read_text() == "keep me"
