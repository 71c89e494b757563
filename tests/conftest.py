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


# Evidence packs from real runs, shared by the report, manifest, diff and browser tests
# (selection and fault in report_samples.py).


@pytest.fixture(scope="session")
def clean_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evidence pack of a fault-free run against the reference system (read-only: copy to change)."""
    from report_samples import PACK_SELECTION, run_gpc

    out = tmp_path_factory.mktemp("packs") / "clean"
    proc = run_gpc("run", *PACK_SELECTION, "--output", out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def fault_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evidence pack of a run against the reference system with PACK_FAULT (read-only)."""
    from report_samples import PACK_FAULT, PACK_SELECTION, run_gpc

    out = tmp_path_factory.mktemp("packs") / "fault"
    proc = run_gpc("run", *PACK_SELECTION, "--fault", PACK_FAULT, "--output", out)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def declared_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fault-free run with the example declarations file and the reference's [system] section (read-only)."""
    from report_samples import PACK_SELECTION, run_gpc

    from gpc_assure.paths import FIXTURES_DIR

    out = tmp_path_factory.mktemp("packs") / "declared"
    proc = run_gpc("run", *PACK_SELECTION, "--declarations", FIXTURES_DIR / "declarations" / "reference.toml",
                   "--output", out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out
