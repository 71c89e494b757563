"""The User Permissions pieces on their own: schema routing, tokens, the target section, the reference's versions."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gpc_assure import redaction
from gpc_assure.checks import permissions as up
from gpc_assure.checks.core import NotJudged
from gpc_assure.errors import ConfigError
from gpc_assure.paths import SHARED_SPECS_DIR
from gpc_assure.pfs import choose, openapi
from gpc_assure.pfs import levels as lv
from gpc_assure.pfs.section import PermissionsSection
from gpc_assure.reference.permissions import LEGACY_FAULTS, choose_version
from gpc_assure.reference.server import ReferenceServer
from gpc_assure.target import parse_target
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse
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
        "prescriptions: accessLevelMax none is below the accessLevel view held"]
    assert up.rejection_text({"issue": [{"details": {"text": " "}}]})
    assert not up.rejection_text({"issue": [{"details": {"text": "Not above your current level."}}]})


@pytest.mark.parametrize(("rule", "body"), [
    (up.effective_date_not_future, {"medicalRecord": {"current": {"accessLevel": "full"}}}),
    (up.effective_date_not_future, {"medicalRecord": {"effectiveDate": "01/11/2022"}}),
    (up.effective_date_not_future, {"medicalRecord": {"effectiveDate": "20221101"}}),
    (up.max_not_below_level, GOOD["current"]),
    (up.rejection_text, {"resourceType": "Patient"}),
])
def test_rules_with_nothing_to_judge_say_so(rule, body):
    """A rule that finds nothing it judges is not judged, never silently met."""
    with pytest.raises(NotJudged):
        rule(body)


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(("now", "effective", "future"), [
    # GMT, midday: the UK date and the UTC date agree; tomorrow is in the future.
    (dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC), "2025-01-15", False),
    (dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC), "2025-01-16", True),
    # BST, 23:30 in the UK (22:30 UTC): still the same date in both; a date one day ahead is in the future.
    # The old reading (UTC date + one day of grace) let this through at every hour like this one.
    (dt.datetime(2025, 7, 1, 22, 30, tzinfo=dt.UTC), "2025-07-01", False),
    (dt.datetime(2025, 7, 1, 22, 30, tzinfo=dt.UTC), "2025-07-02", True),
    # BST, 00:30 in the UK on 2 July (23:30 UTC on 1 July): the one hour where the UK date is ahead of the
    # UTC date. The UK date is today; the day after it is still in the future.
    (dt.datetime(2025, 7, 1, 23, 30, tzinfo=dt.UTC), "2025-07-02", False),
    (dt.datetime(2025, 7, 1, 23, 30, tzinfo=dt.UTC), "2025-07-03", True),
    # The same instant given in UK local time reads the same.
    (dt.datetime(2025, 7, 2, 0, 30, tzinfo=LONDON), "2025-07-02", False),
])
def test_effective_date_is_judged_against_the_uk_date(now, effective, future):
    """PFS-UP-023 (reading UP-TODAY): not later than today's date in UK local time, with no day of grace."""
    problems = up.effective_date_not_future({"medicalRecord": {"effectiveDate": effective}}, now=now)
    assert bool(problems) is future, problems
    if future:
        assert "later than today's date in the UK" in problems[0]


def test_the_tomorrow_fault_is_caught_at_any_hour():
    """The reference's effective-date-tomorrow fault (the UK date + 1) breaks the rule whatever the hour."""
    day = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    for minutes in range(0, 48 * 60, 30):
        now = day + dt.timedelta(minutes=minutes)
        tomorrow = (now.astimezone(LONDON).date() + dt.timedelta(days=1)).isoformat()
        assert up.effective_date_not_future({"medicalRecord": {"effectiveDate": tomorrow}}, now=now), now


def _exchange(status: int, body, headers=(), request_headers=(), method="GET"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange("permissions.get", RecordedRequest(method, "http://x/Patient/9000000017", list(request_headers)),
                    RecordedResponse(status, [("Content-Type", "application/json"), *headers], raw))


EXPECTED = {"current": "full", "historical": "summary", "prescriptions": "manage"}


def test_checks_meet_only_what_they_judged():
    good = _exchange(200, {**GOOD["current"]})
    verdicts = lambda check, ex: {j.verdict.value for j in check(ex)}  # noqa: E731
    assert verdicts(up.valid_permissions("current", "PFS-UP-020"), good) == {"met"}
    # No requests[] to validate, an empty 200, an HTML page: not judged, never met.
    assert verdicts(up.valid_permissions("current", "PFS-UP-029"), good) == {"not-judged"}
    assert verdicts(up.valid_permissions("current", "PFS-UP-020"), _exchange(200, b"")) == {"not-judged"}
    assert verdicts(up.permissions_answer(), _exchange(200, b"")) == {"not-met"}
    assert verdicts(up.permissions_answer(), _exchange(200, b"<html></html>")) == {"not-met"}
    assert verdicts(up.permissions_answer(), _exchange(200, [GOOD["current"]])) == {"not-met"}
    # Echoes are judged only when the header was sent.
    assert verdicts(up.echoed("X-Request-ID", "PFS-UP-011"), good) == {"not-judged"}
    # Error-body rules need a refusal.
    assert verdicts(up.valid_error("current"), good) == {"not-judged"}
    assert verdicts(up.reason_given(), _exchange(500, b"")) == {"not-judged"}


def test_identity_tells_the_patients_own_permissions_from_someone_elses():
    own = up.own_permissions(EXPECTED, "current")
    mine = _exchange(200, {**GOOD["current"]})
    assert [j.verdict.value for j in own(mine)] == ["met"]
    other = json.loads(json.dumps(GOOD["current"]))
    other["medicalRecord"]["historical"]["accessLevel"] = "detailed"
    found = own(_exchange(200, other))
    assert [j.verdict.value for j in found] == ["not-met"] and found[0].requirement == "PFS-UP-036"
    assert "not the patient's permissions" in found[0].message
    # A body with no levels at all says nothing about whose it is.
    assert [j.verdict.value for j in own(_exchange(200, {"method": "GET"}))] == ["not-judged"]
    # A level outside the enumeration is PFS-UP-025's finding, not a different patient.
    odd = json.loads(json.dumps(GOOD["current"]))
    odd["medicalRecord"]["historical"]["accessLevel"] = "partial"
    assert [j.verdict.value for j in own(_exchange(200, odd))] == ["met"]


def test_an_echo_is_not_an_answer_about_a_request():
    asked = {"permissionType": "prescriptions", "accessLevel": "manage"}
    check = up.answer_about_request(asked)
    assert [j.verdict.value for j in check(_exchange(200, asked, method="POST"))] == ["not-judged"]
    answer = {**asked, "status": "pending", "createdDateTime": "2024-01-01T10:00:00+00:00", "message": "m"}
    assert [j.verdict.value for j in check(_exchange(200, answer, method="POST"))] == ["met"]
    wrong = {**answer, "accessLevel": "view"}
    found = check(_exchange(200, wrong, method="POST"))
    assert found[0].not_met and found[0].message == ("asked for prescriptions at manage, the answer is about "
                                                     "prescriptions at view")


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
