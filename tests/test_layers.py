"""The import layers of ARCHITECTURE.md, checked with import-linter's contracts in pyproject."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 5 kept, 0 broken." in done.stdout


def test_a_sideways_import_would_be_caught(tmp_path: Path) -> None:
    config = (ROOT / "pyproject.toml").read_text()
    # Reuse the real contracts on a copy of the package with one violation planted in it.
    pkg = tmp_path / "src"
    pkg.mkdir()
    subprocess.run(["cp", "-r", str(ROOT / "src" / "sparkglue"), str(pkg)], check=True)
    (pkg / "sparkglue" / "store" / "bad.py").write_text(
        "from sparkglue.workspace import Workspace\n"
    )
    (tmp_path / "pyproject.toml").write_text(config)
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(pkg), "PATH": str(lint.parent)},
    )
    assert done.returncode == 1
    assert "sparkglue.store.bad -> sparkglue.workspace" in done.stdout
