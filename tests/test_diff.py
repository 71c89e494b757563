"""`gpc-assure diff OLD NEW`: requirements and tests whose verdict changed, per-run values normalised."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import report_samples as sample
from report_samples import PACK_FAULT_BREAKS, PACK_SELECTION, run_gpc

from gpc_assure.report import diff


def test_normalise_removes_per_run_values():
    a = ("at 2026-01-01T10:00:00+00:00 trace 0b7a8a4e-1111-2222-3333-444455556666 GET http://127.0.0.1:41077/x "
         "[exchanges/00003-metadata-read.json] took 12 ms run 20261122T054712Z-56a6a3 [NHS-1a2b3c4d]")
    b = ("at 2026-11-22T05:47:12Z trace 99999999-aaaa-bbbb-cccc-ddddeeeeffff GET http://127.0.0.1:5000/x "
         "[exchanges/00017-metadata-read.json] took 0.4 s run 20270101T000000Z-000000 [NHS-ffffffff]")
    assert diff.normalise(a) == diff.normalise(b)
    assert diff.normalise("expected 1.2.7") != diff.normalise("expected 1.2.6")


def test_same_run_compares_equal_even_when_per_run_values_differ():
    old = sample.results()
    new = copy.deepcopy(old)
    new["run"]["id"] = "20270101T000000Z-000000"
    new["tests"][1]["findings"][0]["message"] += " at 2027-01-01T00:00:00Z"
    old["tests"][1]["findings"][0]["message"] += " at 2026-01-01T00:00:00Z"
    assert diff.compare(old, new).same


def test_changed_verdicts_and_reports_are_listed():
    old = sample.results()
    new = copy.deepcopy(old)
    new["requirements"][0]["verdict"] = "not-met"  # SMP-001
    new["tests"][0]["outcome"] = "failed"
    new["tests"][1]["findings"][0]["message"] = "a different problem"  # same outcome, new report
    del new["tests"][4]
    d = diff.compare(old, new)
    assert [(c.id, c.old, c.new) for c in d.requirements] == [("SMP-001", "met", "not-met")]
    changes = {c.id: c for c in d.tests}
    assert changes[sample.T_PASS].new == "failed"
    assert changes[sample.T_FAIL].old == changes[sample.T_FAIL].new == "failed"
    assert "different problem" in changes[sample.T_FAIL].detail
    assert changes[sample.T_DATA].new is None


def test_diff_between_a_clean_and_a_fault_run_names_exactly_the_broken_requirements(clean_pack: Path,
                                                                                    fault_pack: Path):
    proc = run_gpc("diff", clean_pack, fault_pack, "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert {c["id"] for c in data["requirements"]} == PACK_FAULT_BREAKS
    assert all(c["old"] == "met" and c["new"] == "not-met" for c in data["requirements"])
    results = json.loads((fault_pack / "results.json").read_text())
    assert {c["id"] for c in data["tests"]} == {t["id"] for t in results["tests"] if t["outcome"] == "failed"}
    text = run_gpc("diff", clean_pack, fault_pack)
    assert "FND-CAP-002: met -> not-met" in text.stdout


def test_two_clean_runs_compare_equal(clean_pack: Path, tmp_path: Path):
    again = tmp_path / "again"
    selection = [a for a in PACK_SELECTION if a != "7"]
    selection[selection.index("--seed") + 1:selection.index("--seed") + 1] = ["8"]  # another seed
    assert run_gpc("run", *selection, "--output", again).returncode == 0
    proc = run_gpc("diff", clean_pack, again / "results.json")
    assert proc.returncode == 0 and "no requirement or test verdict changed" in proc.stdout, proc.stdout
