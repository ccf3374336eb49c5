"""Fixtures of the cluster tests: a workspace per module, and teardown of what a test
launched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.cluster.support import clean_env, finish

from sparkglue.workspace import Workspace


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace shared by the tests of one module."""
    with clean_env():
        ws = Workspace.init(tmp_path_factory.mktemp("cluster") / "ws")
        yield ws
        ws.close()


@pytest.fixture
def cleanup(workspace: Workspace) -> Iterator[list[str]]:
    """Cluster ids a test launched in ``workspace``; each is stopped at teardown."""
    ids: list[str] = []
    yield ids
    for cluster_id in ids:
        finish(workspace, cluster_id)
