"""The evidence pack's outputs: report.html, scal.xlsx, junit.xml, allure-results/, requirements.csv."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import report_samples as sample
from markupsafe import escape
from openpyxl import load_workbook
from report_samples import PACK_FAULT_BREAKS, run_gpc

from gpc_assure.report import html, manifest, pack

PACK_FILES = {"report.html", "scal.xlsx", "junit.xml", "requirements.csv", "results.json", "manifest.json"}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    data = sample.write_pack(tmp_path)
    assert pack.build(tmp_path, data, built_by="test") == []
    return tmp_path


def test_report_html_is_self_contained_and_shows_every_part(built: Path):
    page = (built / "report.html").read_text("utf-8")
    # Opens from disk with no network: nothing is fetched, and the page forbids fetching.
    for pattern in ("src=\"http", "href=\"http", "@import", "<link ", "url(http"):
        assert pattern not in page
    assert "default-src 'none'" in page
    for text in ("Sample GP system", "gpconnect 1.2.7", "gpc-assure 0.1.0", "2026-01-01T00:00:00+00:00",
                 ">42<", "Technical conformance: failed", "GPCM-SD-028", str(escape(sample.FAIL_MESSAGE)),
                 "a person confirms the clinical safety case", str(escape("no patient with role 'deceased'")),
                 "Not tested or not judged, and why", "Attested by a person", 'id="f-flow"',
                 'id="f-verdict"', 'id="f-level"', "@media print", "How to read this report"):
        assert text in page, text
    # The failed test's exchange: request and response headers, a pretty-printed body, a link to the file.
    assert "ssp-traceid" in page and "content-type" in page
    assert str(escape('"version": "1.2.6"')) in page
    assert 'href="exchanges/00002-metadata-read.json"' in page
    # The matrix links each requirement to its tests, and each test has that anchor.
    anchor = html.slug(sample.T_FAIL)
    assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    assert 'data-verdict="not-met" data-level="SHALL"' in page


def test_report_html_escapes_what_a_target_sent(tmp_path: Path):
    data = sample.results()
    data["tests"][1]["message"] = "<script>alert(1)</script>"
    sample.write_pack(tmp_path, data)
    html.write(tmp_path, data)
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_scal_workbook_has_scal_columns_one_row_per_requirement_and_the_side_sheets(built: Path):
    wb = load_workbook(built / "scal.xlsx", read_only=True)
    assert wb.sheetnames[:3] == ["SCAL", "Attested", "Not tested"]
    rows = list(wb["SCAL"].iter_rows(values_only=True))
    head = list(rows[0])
    # NHS's SCAL columns first, in NHS's order; ours after (the verdict is "Status"; tests/test_scal.py has more).
    assert head[:8] == ["Identifier", "Use case", "Type", "Link", "Description", "Item", "Test cases",
                        "Evidence required"]
    for col in ("gpc-assure ID", "Status", "Tests", "Evidence files", "Other references"):
        assert col in head[8:]
    body = {r[head.index("gpc-assure ID")]: dict(zip(head, r, strict=True)) for r in rows[1:]}
    assert set(body) == {r["id"] for r in sample.results()["requirements"]}
    assert body["SMP-002"]["Identifier"] == "GPCM-SD-028"
    assert body["SMP-002"]["Status"] == "not-met"
    assert body["SMP-002"]["Evidence files"] == "exchanges/00002-metadata-read.json"
    assert body["SMP-002"]["Type"] == "Mandatory (SHALL)"
    attested = list(wb["Attested"].iter_rows(values_only=True))
    assert attested[0][4:7] == ("Attested by", "Attested at", "What was seen")
    assert [r[1] for r in attested[1:]] == ["SMP-004"]
    not_tested = {r[1]: r for r in list(wb["Not tested"].iter_rows(values_only=True))[1:]}
    assert set(not_tested) == {"SMP-003", "SMP-005", "SMP-006"}
    assert "deceased" in not_tested["SMP-006"][-1]


def test_junit_has_one_testcase_per_test_with_requirement_properties(built: Path):
    root = ET.parse(built / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(sample.results()["tests"])
    by_name = {c.get("name"): c for c in cases}
    failed = by_name["test_fails"]
    props = [(p.get("name"), p.get("value")) for p in failed.findall("properties/property")]
    assert ("requirement", "SMP-002") in props and ("requirement_ref", "SMP-002=GPCM-SD-028") in props
    assert ("evidence", "exchanges/00002-metadata-read.json") in props
    assert sample.FAIL_MESSAGE in failed.find("failure").get("message") + failed.find("failure").text
    assert by_name["test_errors"].find("error") is not None
    assert by_name["test_not_applicable[xml]"].find("skipped").get("type") == "not-applicable"
    assert by_name["test_passes"].find("failure") is None
    assert root.get("tests") == "5" and root.get("failures") == "1" and root.get("errors") == "1"


def test_requirements_csv_is_the_coverage_matrix(built: Path):
    with (built / "requirements.csv").open(encoding="utf-8") as f:
        rows = {r["requirement"]: r for r in csv.DictReader(f)}
    assert set(rows) == {r["id"] for r in sample.results()["requirements"]}
    assert rows["SMP-002"]["scal_refs"] == "GPCM-SD-028"
    assert rows["SMP-002"]["verdict"] == "not-met"
    assert rows["SMP-002"]["test_outcomes"] == "failed=1"
    assert rows["SMP-004"]["verdict"] == "attested"


def test_allure_results_written_from_results_carry_labels_links_and_exchanges(built: Path):
    results = [json.loads(p.read_text()) for p in (built / "allure-results").glob("*-result.json")]
    assert len(results) == 5
    failed = next(r for r in results if r["fullName"].endswith("#test_fails"))
    labels = {(lb["name"], lb["value"]) for lb in failed["labels"]}
    assert {("epic", "foundations"), ("story", "metadata.read"), ("requirement", "SMP-002")} <= labels
    assert failed["links"][0]["name"] == "SMP-002 (GPCM-SD-028)"
    assert failed["status"] == "failed" and sample.FAIL_MESSAGE in failed["statusDetails"]["message"]
    attached = built / "allure-results" / failed["attachments"][0]["source"]
    assert json.loads(attached.read_text())["response"]["body"]["json"]["version"] == "1.2.6"


def test_an_output_that_cannot_be_built_does_not_stop_the_others(tmp_path: Path, monkeypatch):
    data = sample.write_pack(tmp_path)

    def broken(*_a, **_k):
        raise RuntimeError("template exploded")

    monkeypatch.setitem(pack.OUTPUTS, "report.html", broken)
    problems = pack.build(tmp_path, data)
    assert problems == ["report.html: RuntimeError: template exploded"]
    assert (tmp_path / "scal.xlsx").is_file() and (tmp_path / "manifest.json").is_file()


# --- a real run ------------------------------------------------------------------------------------

def test_run_pack_holds_every_output_and_verifies(clean_pack: Path):
    names = {p.name for p in clean_pack.iterdir()}
    assert PACK_FILES | {"allure-results", "exchanges"} <= names
    results = json.loads((clean_pack / "results.json").read_text())
    assert manifest.verify(clean_pack).ok
    # allure-pytest's live results carry our labels and each exchange attached.
    allure = [json.loads(p.read_text()) for p in (clean_pack / "allure-results").glob("*-result.json")]
    assert len(allure) == len(results["tests"])
    first = allure[0]
    names = {lb["name"] for lb in first["labels"]}
    assert {"epic", "feature", "story", "requirement", "gpc_test"} <= names
    assert first["attachments"] and first["links"][0]["url"].startswith("../report.html#req-")
    # junit.xml: one testcase per test, with its requirement IDs as properties.
    cases = ET.parse(clean_pack / "junit.xml").getroot().findall(".//testcase")
    assert len(cases) == len(results["tests"])
    for case in cases:
        assert case.find("properties/property[@name='requirement']") is not None


def test_fault_run_report_names_the_failed_requirement(fault_pack: Path):
    page = (fault_pack / "report.html").read_text("utf-8")
    results = json.loads((fault_pack / "results.json").read_text())
    not_met = {r["id"] for r in results["requirements"] if r["verdict"] == "not-met"}
    assert not_met == PACK_FAULT_BREAKS
    failed = next(t for t in results["tests"] if t["outcome"] == "failed")
    assert str(escape(failed["findings"][0]["message"].split(" — ")[0])) in page
    assert "Technical conformance: failed" in page


def test_report_command_rebuilds_every_output_from_results(clean_pack: Path, tmp_path: Path):
    copy = tmp_path / "pack"
    shutil.copytree(clean_pack, copy)
    for name in ("report.html", "scal.xlsx", "junit.xml", "requirements.csv", "manifest.json"):
        (copy / name).unlink()
    shutil.rmtree(copy / "allure-results")
    proc = run_gpc("report", copy)
    assert proc.returncode == 0, proc.stderr
    assert PACK_FILES <= {p.name for p in copy.iterdir()}
    assert any((copy / "allure-results").glob("*-result.json"))
    assert run_gpc("verify", copy).returncode == 0
    assert json.loads((copy / "manifest.json").read_text())["built_by"] == "gpc-assure report"


def test_report_command_on_a_folder_without_results_is_a_one_line_usage_error(tmp_path: Path):
    proc = run_gpc("report", tmp_path)
    assert proc.returncode == 2 and "results.json" in proc.stderr and "Traceback" not in proc.stderr
