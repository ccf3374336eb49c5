"""The demo pipeline, and the acceptance check on its workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkglue.cli.main import main
from sparkglue.config import Settings
from sparkglue.errors import WorkspaceError
from sparkglue.workspace import run_demo
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

    # the demo recreates its own workspace on a second run
    again = run_demo(Settings.resolve(env={}, cwd=tmp_path))
    assert again.raw_rows == 344 and (again.workspace / DEMO_MARKER).exists()


def test_demo_refuses_a_workspace_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / ".sparkglue").mkdir()
    (tmp_path / ".sparkglue" / "precious.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="was not made by the demo"):
        run_demo(Settings.resolve(env={}, cwd=tmp_path))
    assert (tmp_path / ".sparkglue" / "precious.txt").read_text() == "keep me"
