"""The User Permissions pieces on their own: schema routing, tokens, the target section, the reference's versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpc_assure import redaction
from gpc_assure.checks import permissions as up
from gpc_assure.errors import ConfigError
from gpc_assure.paths import SHARED_SPECS_DIR
from gpc_assure.pfs import choose, openapi
from gpc_assure.pfs import levels as lv
from gpc_assure.pfs.section import PermissionsSection
from gpc_assure.reference.permissions import LEGACY_FAULTS, choose_version
from gpc_assure.reference.server import ReferenceServer
from gpc_assure.target import parse_target
from gpc_assure.transport.pfs import PfsClient, PfsPatient, TokenError, TokenSource

GOOD = {
    "current": {"medicalRecord": {"effectiveDate": "2022-11-01", "current": {"accessLevel": "full"},
                                  "historical": {"accessLevel": "summary"}},
                "prescriptions": {"accessLevel": "manage"}},
    "legacy": {"medicalRecord": {"effectiveDate": "2022-11-01",
                                 "current": {"accessLevel": "full", "accessLevelMax": "full"},
                                 "historical": {"accessLevel": "summary", "accessLevelMax": "detailed"}},
               "appointments": {"accessLevel": "view", "accessLevelMax": "manage"},
               "prescriptions": {"accessLevel": "view", "accessLevelMax": "manage"}},
}


def _routed(body, version="legacy") -> set[str]:
    return {f.requirement for f in up.schema_findings(body, version, "permissions")}


@pytest.mark.parametrize("version", ["current", "legacy"])
def test_valid_bodies_have_no_findings(version):
    assert up.schema_findings(GOOD[version], version, "permissions") == []


@pytest.mark.parametrize(("change", "requirement"), [
    (lambda b: b.pop("prescriptions"), "PFS-UP-021"),
    (lambda b: b.pop("appointments"), "PFS-UP-021"),
    (lambda b: b["medicalRecord"].update(effectiveDate="01/11/2022"), "PFS-UP-022"),
    (lambda b: b["medicalRecord"]["current"].pop("accessLevel"), "PFS-UP-022"),
    (lambda b: b["medicalRecord"]["historical"].update(accessLevel="partial"), "PFS-UP-025"),
    (lambda b: b["prescriptions"].update(accessLevel="order"), "PFS-UP-026"),
    (lambda b: b["appointments"].update(accessLevel="book"), "PFS-UP-027"),
    (lambda b: b["prescriptions"].pop("accessLevelMax"), "PFS-UP-028"),
    (lambda b: b["medicalRecord"]["current"].pop("accessLevelMax"), "PFS-UP-028"),
    (lambda b: b.update(requests=[{"permissionType": "prescriptions", "accessLevel": "manage", "status": "pending",
                                   "createdDateTime": "yesterday", "message": "m"}]), "PFS-UP-029"),
])
def test_schema_problems_go_to_the_requirement_they_break(change, requirement):
    body = json.loads(json.dumps(GOOD["legacy"]))
    change(body)
    assert _routed(body) == {requirement}


def test_a_body_that_is_not_an_object_is_pfs_up_001():
    assert _routed([GOOD["current"]], "current") == {"PFS-UP-001"}


def test_date_time_formats_are_really_checked():
    """jsonschema ignores formats unless a format checker (and its extras) is on: this proves it is."""
    pending = {"permissionType": "prescriptions", "accessLevel": "manage", "status": "pending", "message": "m"}
    good = {**GOOD["legacy"], "requests": [{**pending, "createdDateTime": "2024-01-01T10:00:00+00:00"}]}
    bad = {**GOOD["legacy"], "requests": [{**pending, "createdDateTime": "2024-01-01 10:00"}]}
    assert _routed(good) == set()
    assert _routed(bad) == {"PFS-UP-029"}


@pytest.mark.parametrize("version", ["current", "legacy"])
def test_nhs_examples_are_valid_against_our_description(version):
    """NHS's own examples of a 200 GET body pass our description (and error examples our ErrorResponse)."""
    src = SHARED_SPECS_DIR / "user-permissions" / version / "specification" / "gp-connect-user-permissions.yaml"
    if not src.is_file():
        pytest.skip(f"NHS's description is not available at {src}")
    doc = openapi.resolve_local(openapi.bundle(src))
    examples = doc["components"]["examples"]
    get_examples = [v["value"] for k, v in examples.items() if k.startswith("GetResponse")]
    assert get_examples
    for body in get_examples:
        assert up.schema_findings(body, version, "permissions") == [], body
    for key in ("InvalidRequestError", "RejectedRequestError"):
        assert up.schema_findings(examples[key]["value"], version, "error") == []
    if version == "legacy":
        assert up.schema_findings(examples["PostResponsePendingHistoricalDetailed"]["value"], "legacy", "update") == []


def test_rules_over_bodies():
    assert up.effective_date_not_future({"medicalRecord": {"effectiveDate": "2999-01-01"}})
    assert not up.effective_date_not_future(GOOD["current"])
    body = json.loads(json.dumps(GOOD["legacy"]))
    body["prescriptions"]["accessLevelMax"] = "none"
    assert up.max_not_below_level(body) == [
        "prescriptions: accessLevelMax 'none' is below the accessLevel 'view' held"]
    assert up.rejection_text({"issue": [{"details": {"text": " "}}]})
    assert not up.rejection_text({"issue": [{"details": {"text": "Not above your current level."}}]})


def test_choosing_requests_from_a_live_state():
    body = GOOD["legacy"]
    assert (lv.HISTORICAL_RECORD, "detailed") in choose.increases(body)
    assert (lv.HISTORICAL_RECORD, "documents") in choose.above_max(body)
    assert (lv.PRESCRIPTIONS, "none") in choose.lower_levels(body)
    assert (lv.CURRENT_RECORD, "full") in choose.same_level(body)
    pending = {**body, "requests": [{"permissionType": "appointments", "accessLevel": "manage"}]}
    assert (lv.APPOINTMENTS, "manage") not in choose.not_pending(pending, choose.increases(pending))


def _section(**extra) -> PermissionsSection:
    base = {"base_url": "https://pfs.example/gp-connect/patient-facing/user-permissions/",
            "patients": {"online": {"nhs_number": "9000000017"}}}
    return PermissionsSection.model_validate({**base, **extra})


def test_target_section_is_validated_with_one_line_errors():
    assert _section().base_url.endswith("/user-permissions")
    target = {"provider": {"base_url": "http://x", "asid": "1", "ods_code": "A"},
              "consumer": {"asid": "2", "ods_code": "B", "organisation_name": "o", "endpoint": "http://c",
                           "practitioner": {"family": "F"}}}
    with pytest.raises(ConfigError, match="unknown permissions patient role 'someone'"):
        parse_target({**target, "permissions": {"base_url": "http://x", "patients": {"someone": {"nhs_number": "1"}}}})
    with pytest.raises(ConfigError, match=r"permissions\.version"):
        parse_target({**target, "permissions": {"base_url": "http://x", "version": "v2"}})


def test_token_command_output_is_a_secret(tmp_path: Path):
    script = tmp_path / "token.py"
    script.write_text("import sys\nprint('Bearer tok-' + sys.argv[1] + '-s3cr3tvalue')\n", "utf-8")
    source = TokenSource(_section(token_command=f"{sys.executable} {script} {{nhs_number}}"))
    token = source.token("online")
    assert token == "tok-9000000017-s3cr3tvalue"
    assert redaction.REDACTED in redaction.redact_text(f"the body echoed {token}")


def test_a_failing_token_command_never_shows_its_output(tmp_path: Path):
    script = tmp_path / "token.py"
    script.write_text("print('half-a-secret-token-value')\nraise SystemExit(3)\n", "utf-8")
    source = TokenSource(_section(token_command=f"{sys.executable} {script}"))
    with pytest.raises(TokenError) as info:
        source.token("online")
    assert "exited with 3" in str(info.value) and "half-a-secret" not in str(info.value)


def test_evidence_and_results_never_hold_a_token():
    with ReferenceServer(pfs_version="current") as server:
        target = server.target()
        token = target.permissions.patients["online"].token
        seen = []
        client = PfsClient(target, observers=[seen.append])
        client.get(PfsPatient("online", target.permissions.patients["online"].nhs_number))
        client.close()
    from gpc_assure.evidence import exchange_record

    assert token not in json.dumps(exchange_record(seen[0]))
    assert token not in json.dumps(target.redacted())


def test_version_choice():
    legacy_fault = sorted(LEGACY_FAULTS)[0]
    assert choose_version([]) in lv.VERSIONS
    assert choose_version([legacy_fault]) == "legacy"
    assert choose_version([], "legacy") == "legacy"
    with pytest.raises(ConfigError, match="only the legacy version"):
        choose_version([legacy_fault], "current")
    with pytest.raises(ConfigError, match="unknown User Permissions version"):
        choose_version([], "v9")


@pytest.mark.slow
def test_legacy_reference_passes_the_suite(tmp_path: Path):
    """The mutation self-test's fault-free run covers the current version; this covers legacy."""
    out = tmp_path / "pack"
    proc = subprocess.run([sys.executable, "-m", "gpc_assure.cli", "run", "--flow", "permissions", "--pfs-version",
                           "legacy", "--output", str(out), "--quiet", "--seed", "1"],
                          capture_output=True, text=True, timeout=600)
    results = json.loads((out / "results.json").read_text("utf-8"))
    bad = [f"{t['id']}: {t['outcome']}: {t['message'][:300]}" for t in results["tests"]
           if t["outcome"] in ("failed", "error")]
    assert proc.returncode == 0 and not bad, "\n".join(bad) or proc.stderr[-2000:]
    assert results["run"]["spec_versions"]["user-permissions"].startswith("legacy")
    verdicts = {r["id"]: r["verdict"] for r in results["requirements"] if r["flow"] == "permissions"}
    assert verdicts["PFS-UP-048"] == "met" and verdicts["PFS-UP-020"] == "not-applicable"
