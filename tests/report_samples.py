"""A small hand-made evidence pack (results.json and exchange files) for the report tests.

It has one of each verdict and outcome, so every branch of every output is exercised without a run.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpc_assure.paths import PROJECT_ROOT

# Real runs for the pack tests: the metadata tests keep them fast; the fault breaks exactly FND-CAP-002.
PACK_SELECTION = ("--flow", "foundations", "-k", "metadata", "--seed", "7", "--quiet")
PACK_FAULT = "capability-wrong-version"
PACK_FAULT_BREAKS = {"FND-CAP-002"}


def run_gpc(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`gpc-assure ARGS` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "gpc_assure.cli", *map(str, args)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)

T_PASS = "suites/provider/foundations/test_sample.py::test_passes"
T_FAIL = "suites/provider/foundations/test_sample.py::test_fails"
T_ERROR = "suites/provider/foundations/test_sample.py::test_errors"
T_NA = "suites/provider/appointments/test_sample.py::test_not_applicable[xml]"
T_DATA = "suites/provider/appointments/test_sample.py::test_insufficient_data"
FAIL_MESSAGE = "version is '1.2.6', expected '1.2.7'"
DECLARATION = "DEC-PFS-001"
DECLARATION_SOURCE = ("NHS Roadmap RM213 'GP Connect (Patient Facing) APIs Change 2 - User Permissions API' v1.0.1, "
                      "supplier categories")


def _req(rid: str, verdict: str, tests: list[str], level: str = "SHALL", flow: str = "foundations",
         reason: str | None = None, refs: list[str] | None = None) -> dict[str, Any]:
    return {"id": rid, "level": level, "flow": flow, "actor": "provider", "statement": f"Statement of {rid}.",
            "refs": refs or [], "source": f"{flow}_use_case_sample_page.md", "verdict": verdict, "tests": tests,
            "reason": reason}


def _test(tid: str, outcome: str, reqs: list[str], exchanges: list[str], message: str = "",
          findings: list[dict[str, Any]] | None = None, failed: list[str] | None = None) -> dict[str, Any]:
    flow = tid.split("/")[2]
    judgements = [{"requirement": f["requirement"], "verdict": "not-met", "message": f["message"], "check":
                   "CapabilityStatement.version is 1.2.7", "exchanges": exchanges, "count": 1} for f in findings or []]
    if outcome == "passed":
        judgements = [{"requirement": r, "verdict": "met", "message": "CapabilityStatement.version is 1.2.7",
                       "check": "CapabilityStatement.version is 1.2.7", "exchanges": exchanges, "count": 1}
                      for r in reqs]
    return {"id": tid, "title": f"Title of {tid.split('::')[1]}", "flow": flow, "role": "provider",
            "requirements": reqs, "outcome": outcome, "message": message, "duration_s": 0.0123,
            "exchanges": exchanges, "judgements": judgements, "findings": findings or [],
            "failed_requirements": failed or []}


def results() -> dict[str, Any]:
    finding = {"requirement": "SMP-002", "message": FAIL_MESSAGE + " — GET /metadata -> HTTP 200",
               "reading": None, "path": "CapabilityStatement.version"}
    data = {
        "run": {"id": "20260101T000000Z-abcdef", "started": "2026-01-01T00:00:00+00:00",
                "finished": "2026-01-01T00:00:05+00:00", "tool_version": "0.1.0",
                "target": {"target": {"name": "Sample GP system"},
                           "provider": {"base_url": "http://127.0.0.1:1/A1/STU3/1/gpconnect"}},
                "target_file": "/somewhere/target.toml", "spec_versions": {"gpconnect": "1.2.7"}, "seed": 42,
                "fault": None, "flows": None, "roles": None, "error": None, "left_behind": [],
                "evidence_write_failures": 0},
        "requirements": [
            {**_req("SMP-001", "met", [T_PASS], refs=["GPC-SFS-1.3"]),
             "evidence": [{"test": T_PASS, "title": "Title of test_passes", "check": "CapabilityStatement.version is "
                           "1.2.7", "seen": "CapabilityStatement.version is 1.2.7",
                           "exchanges": ["exchanges/00001-metadata-read.json"], "count": 1}]},
            _req("SMP-002", "not-met", [T_FAIL], reason=f"failed in 1 test(s): {T_FAIL}", refs=["GPCM-SD-028"]),
            _req("SMP-003", "not-tested", [T_ERROR], level="SHOULD", reason="{'error': 1}: RuntimeError: boom"),
            {**_req("SMP-004", "attested", [], reason="a person confirms the clinical safety case", level="SHOULD"),
             "verification": "attested",
             "attestation": {"status": "attested", "by": "A. Tester, test lead", "at": "2025-12-01",
                             "seen": "the safety case CSCR-1 v2 covers GP Connect"}},
            _req("SMP-005", "not-applicable", [T_NA], flow="appointments", level="MAY",
                 reason="the target does not offer XML"),
            _req("SMP-006", "insufficient-data", [T_DATA], flow="appointments",
                 reason="no patient with role 'deceased'"),
        ],
        "tests": [
            _test(T_PASS, "passed", ["SMP-001"], ["exchanges/00001-metadata-read.json"]),
            _test(T_FAIL, "failed", ["SMP-002"], ["exchanges/00002-metadata-read.json"],
                  message="finding:\n - SMP-002: " + FAIL_MESSAGE, findings=[finding], failed=["SMP-002"]),
            _test(T_ERROR, "error", ["SMP-003"], [], message="RuntimeError: boom"),
            _test(T_NA, "not-applicable", ["SMP-005"], [], message="the target does not offer XML"),
            _test(T_DATA, "insufficient-data", ["SMP-006"], [], message="no patient with role 'deceased'"),
        ],
    }
    data["summary"] = {"tests": 5, "passed": 1, "failed": 1, "error": 1, "skipped": 0, "not_applicable": 1,
                       "insufficient_data": 1, "attested": 1,
                       "requirements": {"attested": 1, "insufficient-data": 1, "met": 1, "not-applicable": 1,
                                        "not-met": 1, "not-tested": 1},
                       "mandatory_not_met": ["SMP-002"]}
    # The run's identity (who, what, where) and one answered supplier declaration.
    data["run"].update({
        "system": {"supplier": "Example Health Ltd", "product": "Example GP", "version": "4.2",
                   "build": "4.2.0+771", "environment": "development", "operator": "A. Tester"},
        "tool": {"version": "0.1.0", "commit": "0123456789abcdef0123456789abcdef01234567"},
        "transport": {"scheme": "http", "tls": False,
                      "note": "plain HTTP: no TLS, so the TLS and mutual-authentication requirements were not "
                              "exercised"},
        "test_data": {"registered": "9000000009"},
        "declarations": {"file": "declarations/declarations.toml", "answered": 1, "attested": 0,
                         "declarant": {"name": "Dr A. Example", "role": "Clinical Safety Officer",
                                       "organisation": "Example Health Ltd", "date": "2025-12-01"}},
    })
    data["requirements"].append({
        "id": DECLARATION, "level": "SHALL", "flow": "declarations", "actor": "provider",
        "statement": "The provider declares its RM213 supplier category.", "refs": ["RM213", "E00166"],
        "source": DECLARATION_SOURCE, "verdict": "attested", "tests": [],
        "reason": "a commercial fact the supplier declares", "verification": "attested", "kind": "declaration",
        "attestation": {"status": "declared", "by": "Dr A. Example, Clinical Safety Officer, Example Health Ltd",
                        "at": "2025-12-01", "seen": "answer: yes; category: incumbent-provider",
                        "evidence": "Framework contract schedule 2 v1.0"}})
    data["summary"]["requirements"]["attested"] += 1
    data["summary"]["readiness"] = {"not_met": ["SMP-002"], "awaiting_attestation": [],
                                    "shall_not_tested": ["SMP-006"], "declarations_outstanding": [],
                                    "accepted_deviations": [], "ready": False}
    return data


def exchange(n: int, version: str) -> dict[str, Any]:
    return {
        "test": T_PASS if n == 1 else T_FAIL, "label": "", "interaction": "metadata.read", "elapsed_s": 0.004,
        "request": {"method": "GET", "url": "http://127.0.0.1:1/A1/STU3/1/gpconnect/metadata",
                    "headers": [["ssp-traceid", "0b7a8a4e-1111-2222-3333-444455556666"],
                                ["authorization", "Bearer [REDACTED]"]], "body": {"size": 0}},
        "response": {"status": 200, "http_version": "HTTP/1.1",
                     "headers": [["content-type", "application/fhir+json;charset=utf-8"]],
                     "body": {"size": 60, "json": {"resourceType": "CapabilityStatement", "version": version}},
                     "truncated": False},
        "error": None, "notes": [],
    }


def write_pack(pack: Path, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write results.json and the exchange files into `pack`; returns the results written."""
    data = copy.deepcopy(data or results())
    (pack / "exchanges").mkdir(parents=True, exist_ok=True)
    (pack / "exchanges/00001-metadata-read.json").write_text(json.dumps(exchange(1, "1.2.7"), indent=1), "utf-8")
    (pack / "exchanges/00002-metadata-read.json").write_text(json.dumps(exchange(2, "1.2.6"), indent=1), "utf-8")
    (pack / "results.json").write_text(json.dumps(data, indent=1), "utf-8")
    return data
