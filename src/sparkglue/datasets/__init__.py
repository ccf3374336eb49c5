"""Datasets shipped with sparkglue.

The Palmer penguins raw data: 344 observations of 17 variables of Adelie, Chinstrap and Gentoo
penguins near Palmer Station, Antarctica (Gorman KB, Williams TD, Fraser WR (2014), PLoS ONE
9(3): e90081; data CC0, Palmer Station LTER).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "PENGUINS_COLUMNS",
    "RawBucket",
    "penguins_curated_job_file",
    "penguins_raw_text",
    "train_decision_tree_script",
    "write_penguins_raw_bucket",
]

PENGUINS_COLUMNS = 17


def penguins_raw_text() -> str:
    """The raw CSV as shipped (header + 344 rows)."""
    return resources.files(__name__).joinpath("penguins_raw.csv").read_text(encoding="utf-8")


def train_decision_tree_script() -> str:
    """The text of the pythonshell job that trains a tree from workflow run properties."""
    return resources.files(__name__).joinpath("train_decision_tree.py").read_text(encoding="utf-8")


def penguins_curated_job_file() -> Path:
    """The demo's job spec: clean the raw penguins into ``curated.penguins``."""
    return Path(str(resources.files(__name__).joinpath("penguins_curated.job.yaml")))


@dataclass(frozen=True)
class RawBucket:
    """What was written: the table folder, and rows and file per year."""

    root: Path
    rows_per_year: dict[str, int]
    files: dict[str, Path]

    @property
    def rows(self) -> int:
        return sum(self.rows_per_year.values())


def write_penguins_raw_bucket(root: Path) -> RawBucket:
    """Lay the raw data out as ``root/year=YYYY/penguins_raw_YYYY.csv`` (by ``Date Egg``).

    Each file keeps the header and the original columns. Files are written to a temporary name
    and renamed, so a reader never sees half a file.
    """
    reader = csv.reader(io.StringIO(penguins_raw_text()))
    header = next(reader)
    date_col = header.index("Date Egg")
    by_year: dict[str, list[list[str]]] = {}
    for row in reader:
        by_year.setdefault(row[date_col][:4], []).append(row)
    files: dict[str, Path] = {}
    for year, rows in sorted(by_year.items()):
        folder = root / f"year={year}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"penguins_raw_{year}.csv"
        tmp = target.with_suffix(".csv.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        tmp.replace(target)
        files[year] = target
    return RawBucket(root, {y: len(r) for y, r in sorted(by_year.items())}, files)
