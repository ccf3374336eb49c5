"""Two processes writing one table at once never lose an update (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sparkglue.catalog import Column, DatabaseInput, DataCatalog, TableInput

WRITER = """
import sys
from pathlib import Path
from sparkglue.catalog import DataCatalog
from sparkglue.store import MetadataStore

url, lake, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
catalog = DataCatalog(MetadataStore(url), lake_root=Path(lake))
for i in range(count):
    catalog.alter_table(
        "raw", "t",
        lambda t: t.to_input().model_copy(
            update={"parameters": {**t.parameters, f"{tag}{i}": str(i)}}
        ),
    )
print("done")
"""

UPDATES = 40


def test_concurrent_read_modify_write_loses_nothing(catalog: DataCatalog, lake: Path) -> None:
    catalog.create_database(DatabaseInput(name="raw"))
    catalog.create_table(
        "raw", TableInput(name="t", columns=[Column(name="a", type="int")], location="raw/t")
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, catalog.store.url, str(lake), tag, str(UPDATES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    table = catalog.get_table("raw", "t")
    expected = {f"{tag}{i}" for tag in "ab" for i in range(UPDATES)}
    assert set(table.parameters) == expected
    assert table.version == 1 + 2 * UPDATES
    assert [v.version for v in catalog.list_table_versions("raw", "t")] == list(
        range(1, 2 + 2 * UPDATES)
    )
