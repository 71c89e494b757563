"""User Permissions: asking for more access (legacy POST), and its absence from the current version.

Every test reads the requester's live permissions first and picks a request that exercises its
rule, so it works on a provider whose pending requests pile up from run to run. Accepted requests
cannot be withdrawn through the API: each is recorded as left behind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.checks.resources import body_rule
from gpc_assure.findings import Finding
from gpc_assure.outcomes import InsufficientData, insufficient_data
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv
from gpc_assure.transport.pfs import PfsPatient


def _permissions(pfs, verify, patient: PfsPatient, requirement: str, label: str = "GET permissions") -> Any:
    """The patient's permissions now (the test stops when they cannot be read)."""
    ex = verify.answered(pfs.get(patient, label=label))
    verify.must(ex, up.status(200, requirement))
    return ex.json


def _pick(choices: list[choose.Choice], what: str) -> choose.Choice:
    if not choices:
        raise insufficient_data(f"the requester's permissions leave no request that is {what}")
    return choices[0]


def _filed(left_behind, choice: choose.Choice) -> None:
    left_behind(f"a pending request for {choose.describe(choice)} (requester patient)")


@pytest.mark.title("The current version has no POST: it is refused and files nothing")
@pytest.mark.requirement("PFS-UP-003")
@pytest.mark.pfs_version("current")
@pytest.mark.creates_data
def test_post_not_in_current_version(pfs, permissions, verify, left_behind):
    # The requester if the target names one (room to ask for more), else the online patient.
    try:
        patient = permissions.patient("requester")
    except InsufficientData:
        patient = permissions.patient("online")
    before = _permissions(pfs, verify, patient, "PFS-UP-003")
    # A request a provider that wrongly kept the POST would accept: one level up on a permission not at the top.
    ups = [(t, lv.levels(t)[lv.rank(t, have) + 1]) for t in lv.TARGETS["current"]
           if (have := lv.level_of(before, t)) is not None and 0 <= lv.rank(t, have) < len(lv.levels(t)) - 1]
    choice = ups[0] if ups else (lv.HISTORICAL_RECORD, "full")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"POST a request for {choose.describe(choice)} to the "
                                                          "current version")
    verify(ex, up.refused("PFS-UP-003", reading="UP-POST-STATUS"))
    if ex.status is not None and ex.status < 300:
        left_behind(f"a pending request for {choose.describe(choice)} ({patient.role} patient), filed by a current-"
                    "version provider that should have refused the POST")
    after = _permissions(pfs, verify, patient, "PFS-UP-003", "GET after the POST")
    if not lv.pending_for(before, *choice):
        verify.that(not lv.pending_for(after, *choice), "PFS-UP-003", "the refused POST shows as a pending request")


@pytest.mark.title("An allowed increase is accepted: 200 with a valid update response")
@pytest.mark.requirement("PFS-UP-002")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_request_accepted(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-002")
    choice = _pick(choose.not_pending(before, choose.increases(before)) or choose.increases(before),
                   "an allowed increase")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    verify(ex, up.status(200, "PFS-UP-002"), up.valid_update_response("legacy", "PFS-UP-002"))


@pytest.mark.title("The answer to an accepted request is about that request")
@pytest.mark.requirement("PFS-UP-041")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_response_matches_request(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-041")
    # Not the historical record at 'detailed': a provider answering that whatever is asked would pass by luck.
    choices = [c for c in choose.increases(before) if c != (lv.HISTORICAL_RECORD, "detailed")]
    choice = _pick(choose.not_pending(before, choices) or choices, "an allowed increase")
    ex = verify.answered(pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}"))
    _filed(left_behind, choice)
    verify.must(ex, up.status(200, "PFS-UP-041"))
    asked = lv.request_body(*choice)
    got = {k: ex.json.get(k) for k in asked} if isinstance(ex.json, dict) else {}
    verify.that(got == asked, "PFS-UP-041", f"asked for {asked}, the answer is about {got}", exchange=ex)


@pytest.mark.title("An accepted request is listed as pending by the next GET")
@pytest.mark.requirement("PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_pending_request_listed(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-048")
    # Preferably one not yet pending; on a provider where every increase is already pending, one of those
    # (it must still be listed after being asked for again).
    choice = _pick(choose.not_pending(before, choose.increases(before)) or choose.increases(before),
                   "an allowed increase")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    verify.must(ex, up.status(200, "PFS-UP-048"))
    after = _permissions(pfs, verify, patient, "PFS-UP-048", "GET after the request")
    listed = lv.pending_for(after, *choice)
    verify.that(bool(listed) and all(e.get("status") == "pending" for e in listed), "PFS-UP-048",
                f"the accepted request for {choose.describe(choice)} is not listed as pending in requests[]")


@pytest.mark.title("A duplicate request is de-duplicated: one pending entry, the original kept")
@pytest.mark.requirement("PFS-UP-046", "PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_duplicate_request_deduplicated(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-046")
    choice = _pick(choose.increases(before), "an allowed increase")
    earlier = lv.pending_for(before, *choice)
    first = verify.answered(pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}"))
    _filed(left_behind, choice)
    second = pfs.post(patient, lv.request_body(*choice), label="the same request again (new X-Request-ID)")
    verify.must(first, up.status(200, "PFS-UP-046"))
    verify(second, up.status(200, "PFS-UP-046", reading="UP-DUPLICATE-ANSWER"))
    after_ex = verify.answered(pfs.get(patient, label="GET after both requests"))
    verify.must(after_ex, up.status(200, "PFS-UP-046"))
    after = after_ex.json
    listed = lv.pending_for(after, *choice)
    # Nothing listed: duplicates cannot be seen at all; stop here so the test does not count as support for -046.
    verify.must(after_ex, lambda ex: [] if listed else [Finding(
        "PFS-UP-048", f"the accepted request for {choose.describe(choice)} is not listed as pending")])
    verify.that(len(listed) == 1, "PFS-UP-046", f"{len(listed)} pending entries for {choose.describe(choice)}, "
                                                "expected one")
    original = (earlier[0] if earlier else first.json).get("createdDateTime")
    verify.that(listed[0].get("createdDateTime") == original, "PFS-UP-046",
                f"the kept entry was created {listed[0].get('createdDateTime')!r}, not at the original "
                f"request's {original!r}")


@pytest.mark.title("A POST re-sent with the same X-Request-ID is answered as the first, and filed once")
@pytest.mark.requirement("PFS-UP-014")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_retried_post_answered_again(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-014")
    choice = _pick(choose.increases(before), "an allowed increase")
    request_id = str(uuid.uuid4())
    first = pfs.post(patient, lv.request_body(*choice), headers={"X-Request-ID": request_id},
                     label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    between = _permissions(pfs, verify, patient, "PFS-UP-014", "GET after the first request")
    again = pfs.post(patient, lv.request_body(*choice), headers={"X-Request-ID": request_id},
                     label="the same request re-sent with the same X-Request-ID (a retry)")
    verify(first, up.status(200, "PFS-UP-014"))
    verify(again, up.status(200, "PFS-UP-014", reading="UP-DEDUP-LAYER"))
    if first.status == again.status == 200:
        verify.that(up.same_json(first, again), "PFS-UP-014", "the retry's answer differs from the first",
                    exchange=again)
        after = _permissions(pfs, verify, patient, "PFS-UP-014", "GET after the retry")
        # Counted against the entries after the first request: earlier duplicates are PFS-UP-046's business.
        verify.that(len(lv.pending_for(after, *choice)) <= len(lv.pending_for(between, *choice)), "PFS-UP-014",
                    "the retry was filed as another pending request")


def _refusal_rechecked(pfs, verify, patient: PfsPatient, choice: choose.Choice, requirement: str,
                       before: Any) -> None:
    """After a refusal, the request is not pending (unless it already was)."""
    after = _permissions(pfs, verify, patient, requirement, "GET after the refused request")
    if not lv.pending_for(before, *choice):
        verify.that(not lv.pending_for(after, *choice), requirement,
                    f"the refused request for {choose.describe(choice)} shows as pending")


@pytest.mark.title("A request for the same or a lower level is refused with 403 FORBIDDEN_UPDATE")
@pytest.mark.requirement("PFS-UP-043")
@pytest.mark.pfs_version("legacy")
@pytest.mark.parametrize("which", ["same", "lower"])
def test_not_an_increase_refused(pfs, permissions, verify, which):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-043")
    choices = choose.same_level(before) if which == "same" else choose.lower_levels(before)
    choice = _pick(choices, f"at a {which} level")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)} ({which} level)")
    verify(ex, up.error(403, "FORBIDDEN_UPDATE", "PFS-UP-043", reading="PFS-UP-051"))
    _refusal_rechecked(pfs, verify, patient, choice, "PFS-UP-043", before)


@pytest.mark.title("A request above accessLevelMax is refused with 403 FORBIDDEN_UPDATE")
@pytest.mark.requirement("PFS-UP-044")
@pytest.mark.pfs_version("legacy")
def test_above_max_refused(pfs, permissions, verify):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-044")
    choice = _pick(choose.above_max(before), "above its accessLevelMax")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)} (above the maximum)")
    verify(ex, up.error(403, "FORBIDDEN_UPDATE", "PFS-UP-044", reading="PFS-UP-051"))
    _refusal_rechecked(pfs, verify, patient, choice, "PFS-UP-044", before)


@pytest.mark.title("A refused request gives the patient a reason in details.text")
@pytest.mark.requirement("PFS-UP-045")
@pytest.mark.pfs_version("legacy")
def test_refusal_has_reason(pfs, permissions, verify):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-045")
    choice = _pick(choose.same_level(before), "at the same level")
    ex = verify.answered(pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}"))
    if ex.status is None or not 400 <= ex.status < 500:
        raise insufficient_data(f"the request was not refused (HTTP {ex.status}; that is PFS-UP-043's finding), so "
                                "there is no refusal to read a reason from")
    verify(ex, body_rule(up.rejection_text, "PFS-UP-045", reading="UP-REJECT-TEXT"))


# Bodies that are not one of the three update shapes. `None` as the expected code means "malformed".
def _bodies(before: Any) -> dict[str, tuple[bytes, set[str], choose.Choice | None]]:
    record_up = next((c for c in choose.increases(before) if c[0] == lv.CURRENT_RECORD), None)
    level = record_up[1] if record_up else "full"
    return {
        "medicalRecordType missing": (json.dumps({"permissionType": "medicalRecord", "accessLevel": level}).encode(),
                                      {"INVALID_UPDATE", "VALIDATION_ERROR"}, record_up),
        "permissionType communications": (json.dumps({"permissionType": "communications", "accessLevel": "view"})
                                          .encode(), {"UNSUPPORTED_VALUE"}, None),
        "prescriptions level full": (json.dumps({"permissionType": "prescriptions", "accessLevel": "full"}).encode(),
                                     {"UNSUPPORTED_VALUE"}, None),
        "medical record level manage": (json.dumps({"permissionType": "medicalRecord", "medicalRecordType": "current",
                                                    "accessLevel": "manage"}).encode(), {"UNSUPPORTED_VALUE"}, None),
        "empty object": (b"{}", {"INVALID_UPDATE", "VALIDATION_ERROR"}, None),
        "extra property": (json.dumps({"permissionType": "prescriptions", "accessLevel": "manage", "reason": "please"})
                           .encode(), {"ADDITIONAL_PROPERTIES"}, None),
        "malformed JSON": (b'{"permissionType": "prescriptions", ', {"INVALID_UPDATE"}, None),
        "a JSON array": (b'[{"permissionType": "prescriptions", "accessLevel": "manage"}]', {"INVALID_UPDATE"}, None),
    }


CASES = ["medicalRecordType missing", "permissionType communications", "prescriptions level full",
         "medical record level manage", "empty object", "extra property", "malformed JSON", "a JSON array"]


@pytest.mark.title("A POST body that is not one of the update shapes ({case}) is refused and files nothing")
@pytest.mark.requirement("PFS-UP-040")
@pytest.mark.pfs_version("legacy")
@pytest.mark.parametrize("case", CASES)
def test_malformed_request_refused(pfs, permissions, verify, case, left_behind):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-040")
    raw, _codes, would_file = _bodies(before)[case]
    ex = pfs.post(patient, raw, label=f"POST with {case}")
    verify(ex, up.refused("PFS-UP-040"))
    if ex.status is not None and ex.status < 300 and would_file:
        left_behind(f"a pending request for {choose.describe(would_file)} (requester patient), filed from a "
                    "malformed request")
    if would_file:
        _refusal_rechecked(pfs, verify, patient, would_file, "PFS-UP-040", before)


@pytest.mark.title("A malformed POST body ({case}) gets the error table's status and code")
@pytest.mark.requirement("PFS-UP-050")
@pytest.mark.pfs_version("legacy")
@pytest.mark.parametrize("case", CASES)
def test_malformed_request_code(pfs, permissions, verify, case):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, patient, "PFS-UP-050")
    raw, codes, _ = _bodies(before)[case]
    ex = pfs.post(patient, raw, label=f"POST with {case}")
    verify(ex, up.error(400, codes, "PFS-UP-050", reading="UP-POST-CODES"))


@pytest.mark.title("A POST for a deceased patient gets 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("PFS-UP-050")
@pytest.mark.pfs_version("legacy")
def test_request_for_deceased_not_found(pfs, permissions, verify):
    ex = pfs.post(permissions.patient("deceased"), lv.request_body(lv.PRESCRIPTIONS, "manage"))
    verify(ex, up.error(404, "PATIENT_NOT_FOUND", "PFS-UP-050"))
