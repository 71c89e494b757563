"""Accepted deviations: visible, do not fail the gate until they expire, and expired ones fail loudly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import report_samples as sample
from report_samples import PACK_FAULT, PACK_FAULT_BREAKS, PACK_SELECTION, run_gpc

from gpc_assure.errors import ConfigError
from gpc_assure.report import deviations, junit
from gpc_assure.report.results import exit_code
from gpc_assure.requirements import load_catalogue

TODAY = dt.date(2026, 6, 1)


def _dev(req: str | None = None, test: str | None = None, expires: dt.date = dt.date(2026, 12, 31)):
    return deviations.Deviation(requirement=req, test=test, justification="fixed in release 4.2 (ABC-123)",
                                expires=expires, accepted_by="J. Smith")


def _without_errors() -> dict:
    """The sample run less its error test, so the exit code depends on verdicts alone."""
    data = sample.results()
    data["tests"] = [t for t in data["tests"] if t["outcome"] != "error"]
    data["summary"]["error"] = 0
    return data


def test_a_live_requirement_deviation_accepts_the_failure_and_passes_the_gate():
    data = _without_errors()
    assert exit_code(data) == 1
    deviations.apply(data, [_dev("SMP-002")], today=TODAY, source="deviations.toml")
    req = next(r for r in data["requirements"] if r["id"] == "SMP-002")
    assert req["verdict"] == deviations.ACCEPTED
    assert "fixed in release 4.2" in req["reason"] and "2026-12-31" in req["reason"]
    assert data["summary"]["requirements"].get("not-met") is None
    assert data["summary"]["accepted_deviations"] == 1 and data["summary"]["mandatory_not_met"] == []
    test = next(t for t in data["tests"] if t["id"] == sample.T_FAIL)
    assert test["outcome"] == "failed" and test["deviation"]["status"] == "active"  # still visible
    assert data["deviations"]["entries"][0]["matched"] == ["SMP-002"]
    assert exit_code(data) == 0
    # CI sees it as not passed but not failed, with the justification.
    case = next(c for c in junit.build(data).getroot().iter("testcase") if c.get("name") == "test_fails")
    assert case.find("failure") is None
    skipped = case.find("skipped")
    assert skipped.get("type") == "accepted-deviation" and "fixed in release 4.2" in skipped.get("message")


def test_a_test_deviation_covers_that_test_only_and_params_are_optional():
    data = sample.results()
    deviations.apply(data, [_dev(test=sample.T_FAIL)], today=TODAY)
    assert next(r for r in data["requirements"] if r["id"] == "SMP-002")["verdict"] == deviations.ACCEPTED
    assert deviations._test_matches("a.py::t", "a.py::t[x-1]") and not deviations._test_matches("a.py::t", "a.py::u")


def test_an_expired_deviation_covers_nothing_and_fails_the_gate_even_unmatched():
    data = sample.results()
    deviations.apply(data, [_dev("SMP-002", expires=dt.date(2026, 5, 31))], today=TODAY)
    req = next(r for r in data["requirements"] if r["id"] == "SMP-002")
    assert req["verdict"] == "not-met" and "EXPIRED on 2026-05-31" in req["reason"]
    assert data["deviations"]["expired"] == ["SMP-002"] and exit_code(data) == 1
    case = next(c for c in junit.build(data).getroot().iter("testcase") if c.get("name") == "test_fails")
    assert "EXPIRED" in case.find("failure").get("message")

    clean = _without_errors()
    for r in clean["requirements"]:
        r["verdict"] = "met" if r["verdict"] == "not-met" else r["verdict"]
    for t in clean["tests"]:
        t["failed_requirements"] = []
    deviations.apply(clean, [_dev("SMP-001", expires=dt.date(2026, 1, 1))], today=TODAY)
    assert clean["summary"]["requirements"].get("not-met") is None and exit_code(clean) == 1


def test_a_deviation_is_valid_through_its_expiry_day_and_unused_ones_are_listed():
    data = sample.results()
    deviations.apply(data, [_dev("SMP-002", expires=TODAY), _dev("SMP-001")], today=TODAY)
    assert data["deviations"]["expired"] == [] and data["deviations"]["unused"] == ["SMP-001"]


@pytest.mark.parametrize("text, message", [
    ('[[deviation]]\nrequirement = "FND-CAP-002"\nexpires = 2027-01-01\n', "justification is required"),
    ('[[deviation]]\nrequirement = "FND-CAP-002"\njustification = "x"\n', "expiry date"),
    ('[[deviation]]\nrequirement = "NOPE-1"\njustification = "x"\nexpires = 2027-01-01\n', "not in the catalogue"),
    ('[[deviation]]\njustification = "x"\nexpires = 2027-01-01\n', "exactly one of"),
    ('[[deviation]]\nrequirement = "FND-CAP-002"\njustification = "x"\nexpires = "soon"\n', "expires must be a date"),
    ('[[deviation]]\nrequirement = "FND-CAP-002"\njustification = "x"\nexpires = 2027-01-01\nwho = 1\n',
     "unknown field"),
    ("not toml [", "invalid TOML"),
])
def test_bad_deviation_files_are_one_line_configuration_errors(tmp_path: Path, text: str, message: str):
    path = tmp_path / "deviations.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        deviations.load(path, load_catalogue())


def _deviation_file(tmp_path: Path, expires: str) -> Path:
    path = tmp_path / "deviations.toml"
    path.write_text("".join(f'[[deviation]]\nrequirement = "{rid}"\njustification = "Version string fixed in 4.2"\n'
                            f"expires = {expires}\naccepted_by = \"Supplier CSO\"\n" for rid in PACK_FAULT_BREAKS))
    return path


def test_run_with_a_live_deviation_passes_the_gate_and_reports_it(tmp_path: Path):
    out = tmp_path / "pack"
    far = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    proc = run_gpc("run", *PACK_SELECTION, "--fault", PACK_FAULT, "--output", out,
                   "--deviations", _deviation_file(tmp_path, far))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert {r["id"] for r in results["requirements"] if r["verdict"] == "accepted-deviation"} == PACK_FAULT_BREAKS
    page = (out / "report.html").read_text()
    assert "Accepted deviations" in page and "Version string fixed in 4.2" in page
    case = next(c for c in ET.parse(out / "junit.xml").getroot().iter("testcase") if c.find("skipped") is not None)
    assert case.find("skipped").get("type") == "accepted-deviation"
    allure = [json.loads(p.read_text()) for p in (out / "allure-results").glob("*-result.json")]
    marked = [r for r in allure if {"name": "tag", "value": "accepted-deviation"} in r["labels"]]
    assert len(marked) == 1 and marked[0]["statusDetails"]["known"] is True


def test_run_with_an_expired_deviation_fails_loudly(tmp_path: Path):
    out = tmp_path / "pack"
    proc = run_gpc("run", *PACK_SELECTION, "--fault", PACK_FAULT, "--output", out,
                   "--deviations", _deviation_file(tmp_path, "2020-01-01"))
    assert proc.returncode == 1
    assert "EXPIRED accepted deviation" in proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert {r["id"] for r in results["requirements"] if r["verdict"] == "not-met"} == PACK_FAULT_BREAKS


def test_run_with_a_bad_deviation_file_exits_2_before_running(tmp_path: Path):
    bad = tmp_path / "deviations.toml"
    bad.write_text('[[deviation]]\nrequirement = "NOPE-1"\njustification = "x"\nexpires = 2027-01-01\n')
    proc = run_gpc("run", *PACK_SELECTION, "--output", tmp_path / "pack", "--deviations", bad)
    assert proc.returncode == 2 and "NOPE-1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "pack" / "results.json").exists()
