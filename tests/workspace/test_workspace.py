from __future__ import annotations

from pathlib import Path

import pytest

from sparkglue.config import Settings
from sparkglue.errors import WorkspaceError
from sparkglue.store import LATEST_VERSION
from sparkglue.workspace import Workspace


def test_opening_a_missing_workspace_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(
        WorkspaceError, match="no workspace at .*nowhere.*the --workspace flag"
    ) as info:
        Workspace(tmp_path / "nowhere")
    assert "sparkglue init" in str(info.value)


def test_init_twice_keeps_the_settings_file(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    (ws.path / "sparkglue.toml").write_text('[spark]\nmaster = "local[2]"\n')
    again = Workspace.init(tmp_path / "w")
    assert again.settings.spark_master == "local[2]"
    assert again.store.schema_version() == LATEST_VERSION


def test_init_on_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(WorkspaceError, match="it is a file"):
        Workspace.init(tmp_path / "f")


@pytest.mark.postgres
def test_workspace_on_postgres_metadata(tmp_path: Path, postgres_admin_url: str) -> None:
    from tests.conftest import _fresh_postgres_database

    url, drop = _fresh_postgres_database(postgres_admin_url)
    try:
        settings = Settings.resolve(tmp_path / "w", overrides={"metadata_url": url}, env={})
        ws = Workspace.init(settings=settings)
        assert ws.store.dialect == "postgresql"
        assert ws.store.schema_version() == LATEST_VERSION
        assert not (tmp_path / "w" / "metadata.db").exists()
        ws.close()
    finally:
        drop()
