"""Runs are repeatable against a real environment: two consecutive runs against one reference system,
not restarted in between (as a supplier's test environment is not reset), give the same verdicts.

The first run books, cancels and registers; the second must neither fail on what the first left
(a registered patient, a taken slot) nor meet less: each test confirms its test-data role still
holds and says "reset the test data for role X" when it does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpc_assure.paths import PROJECT_ROOT
from gpc_assure.reference.server import ReferenceServer

FLOWS = ("foundations", "appointments", "permissions")


def _run(target: Path, out: Path) -> dict:
    args = [sys.executable, "-m", "gpc_assure.cli", "run", "--target", str(target), "--role", "provider",
            "--output", str(out), "--quiet", "--seed", "3"]
    for f in FLOWS:
        args += ["--flow", f]
    proc = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert (out / "results.json").exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text("utf-8"))
    data["_exit"] = proc.returncode
    return data


@pytest.mark.slow
def test_two_runs_against_one_reference_give_the_same_verdicts(tmp_path):
    server = ReferenceServer().start()
    try:
        target = tmp_path / "target.toml"
        server.write_target(target)
        first = _run(target, tmp_path / "first")
        second = _run(target, tmp_path / "second")
    finally:
        server.stop()
    v1 = {r["id"]: r["verdict"] for r in first["requirements"]}
    v2 = {r["id"]: r["verdict"] for r in second["requirements"]}
    changed = {rid: (v1.get(rid), v2.get(rid)) for rid in v1.keys() | v2.keys() if v1.get(rid) != v2.get(rid)}
    assert not changed, f"verdicts changed between two runs (first, second): {changed}"
    assert first["_exit"] == 0 and second["_exit"] == 0
    assert not first["summary"]["failed"] and not second["summary"]["failed"]
