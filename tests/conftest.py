"""Shared helpers for the project's own tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpc_assure.paths import PROJECT_ROOT, SUITES_DIR


@pytest.fixture(scope="session")
def collected_tests(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every conformance test under suites/ with its metadata, collected (not run) in a subprocess."""
    out = tmp_path_factory.mktemp("collect") / "tests.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITES_DIR), "--collect-only", "-q", "-p", "no:cacheprovider",
         "--gpc-list-tests", str(out)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"collecting the suites failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(Path(out).read_text())
