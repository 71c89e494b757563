"""User Permissions: asking for more access (legacy POST), and its absence from the current version.

Every test reads the requester's live permissions first (`read_own`: the requester's own, or the test
stops with PFS-UP-001/-036 charged) and picks a request that exercises its rule, so it works on a
provider whose pending requests pile up from run to run. A request the test relies on being accepted
is a precondition charged to PFS-UP-002. Accepted requests cannot be withdrawn through the API: each is
recorded as left behind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.checks.core import body_json
from gpc_assure.outcomes import InsufficientData, insufficient_data
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv
from gpc_assure.plugins.permissions import failures, read_own, require

ROLE = "requester"


def _permissions(pfs, verify, permissions, label: str = "GET permissions", role: str = ROLE) -> Any:
    """The patient's own permissions now (the test stops when they cannot be read)."""
    return read_own(pfs, verify, permissions, role, label=label).json


def _pick(choices: list[choose.Choice], what: str) -> choose.Choice:
    if not choices:
        raise insufficient_data(f"the requester's permissions leave no request that is {what}")
    return choices[0]


def _filed(left_behind, choice: choose.Choice) -> None:
    left_behind(f"a pending request for {choose.describe(choice)} (requester patient)")


def _accepted(verify, ex, what: str) -> None:
    """A precondition: the allowed increase the test relies on was accepted (its refusal is PFS-UP-002's)."""
    require(verify, ex, up.status(200, up.POST_OK), what=what)


@pytest.mark.title("The current version has no POST: it is refused and files nothing")
@pytest.mark.requirement("PFS-UP-003")
@pytest.mark.pfs_version("current")
@pytest.mark.creates_data
def test_post_not_in_current_version(pfs, permissions, verify, left_behind):
    # The requester if the target names one (room to ask for more), else the online patient.
    try:
        permissions.patient("requester")
        role = "requester"
    except InsufficientData:
        role = "online"
    patient = permissions.patient(role)
    before = _permissions(pfs, verify, permissions, role=role)
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
    after = read_own(pfs, verify, permissions, role, label="GET after the POST")
    verify(after, up.not_filed(choice, before, "PFS-UP-003"))


@pytest.mark.title("An allowed increase is accepted: 200 with a valid update response")
@pytest.mark.requirement("PFS-UP-002")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_request_accepted(pfs, permissions, verify, left_behind):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choice = _pick(choose.not_pending(before, choose.increases(before)) or choose.increases(before),
                   "an allowed increase")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    # The status alone is no support: the body must be a valid update response.
    if failures(verify, ex, up.status(200, "PFS-UP-002")):
        verify(ex, up.valid_update_response("legacy", "PFS-UP-002"))


@pytest.mark.title("The answer to an accepted request is about that request")
@pytest.mark.requirement("PFS-UP-041")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_response_matches_request(pfs, permissions, verify, left_behind):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    # Not the historical record at 'detailed': a provider answering that whatever is asked would pass by luck.
    choices = [c for c in choose.increases(before) if c != (lv.HISTORICAL_RECORD, "detailed")]
    choice = _pick(choose.not_pending(before, choices) or choices, "an allowed increase")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    _accepted(verify, ex, f"requesting {choose.describe(choice)}")
    verify(ex, up.answer_about_request(lv.request_body(*choice)))


@pytest.mark.title("An accepted request is listed as pending by the next GET")
@pytest.mark.requirement("PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_pending_request_listed(pfs, permissions, verify, left_behind):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    # Preferably one not yet pending; on a provider where every increase is already pending, one of those
    # (it must still be listed after being asked for again).
    choice = _pick(choose.not_pending(before, choose.increases(before)) or choose.increases(before),
                   "an allowed increase")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    _accepted(verify, ex, f"requesting {choose.describe(choice)}")
    after = read_own(pfs, verify, permissions, ROLE, label="GET after the request")
    verify(after, up.pending_listed(choice))


@pytest.mark.title("A duplicate request is de-duplicated: one pending entry, the original kept")
@pytest.mark.requirement("PFS-UP-046", "PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_duplicate_request_deduplicated(pfs, permissions, verify, left_behind):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choice = _pick(choose.increases(before), "an allowed increase")
    earlier = lv.pending_for(before, *choice)
    first = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    _accepted(verify, first, f"requesting {choose.describe(choice)}")
    second = pfs.post(patient, lv.request_body(*choice), label="the same request again (new X-Request-ID)")
    # A refused duplicate is this requirement's finding (reading UP-DUPLICATE-ANSWER); a 200 is no support alone.
    failures(verify, second, up.status(200, "PFS-UP-046", reading="UP-DUPLICATE-ANSWER"))
    after_ex = read_own(pfs, verify, permissions, ROLE, label="GET after both requests")
    # Not listed at all: duplicates cannot be seen, so PFS-UP-046 is left not judged (PFS-UP-048 fails).
    require(verify, after_ex, up.pending_listed(choice), what="the request must be listed to see duplicates")
    verify(after_ex, up.pending_listed(choice))
    listed = lv.pending_for(after_ex.json, *choice)
    what = choose.describe(choice)
    verify.that(len(listed) == 1, "PFS-UP-046", f"{len(listed)} pending entries for {what}, expected one",
                held=f"one pending entry for {what} after asking twice", exchange=after_ex)
    # The kept entry must be the original: the one already pending before, else the first request's.
    answer = body_json(first)
    original = (earlier[0] if earlier else answer if isinstance(answer, dict) else {}).get("createdDateTime")
    kept = listed[0].get("createdDateTime")
    if isinstance(original, str) and original and isinstance(kept, str) and kept:
        verify.that(kept == original, "PFS-UP-046", f"the kept entry was created {kept}, not at the original "
                                                    f"request's {original}",
                    held="the kept entry has the original request's createdDateTime", exchange=after_ex)
    else:
        verify.not_judged("PFS-UP-046", "the original request or the kept entry has no createdDateTime to compare "
                                        "(that is PFS-UP-002/-029's finding)", exchange=after_ex)


@pytest.mark.title("A POST re-sent with the same X-Request-ID is answered as the first, and filed once")
@pytest.mark.requirement("PFS-UP-014")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_retried_post_answered_again(pfs, permissions, verify, left_behind):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choice = _pick(choose.increases(before), "an allowed increase")
    asked = lv.request_body(*choice)
    request_id = str(uuid.uuid4())
    first = pfs.post(patient, asked, headers={"X-Request-ID": request_id}, label=f"request {choose.describe(choice)}")
    _filed(left_behind, choice)
    # The first answer is compared with what was asked (the expected answer), then the retry with both.
    _accepted(verify, first, f"requesting {choose.describe(choice)}")
    require(verify, first, up.answer_about_request(asked), what="the first answer")
    between = read_own(pfs, verify, permissions, ROLE, label="GET after the first request").json
    again = pfs.post(patient, asked, headers={"X-Request-ID": request_id},
                     label="the same request re-sent with the same X-Request-ID (a retry)")
    if not failures(verify, again, up.status(200, "PFS-UP-014", reading="UP-DEDUP-LAYER")):
        return
    found = verify(again, up.answer_about_request(asked, "PFS-UP-014"))
    if not all(j.met for j in found):
        return
    verify.that(up.same_json(first, again), "PFS-UP-014", "the retry's answer differs from the first",
                held="the retry was answered as the first request was", reading="UP-DEDUP-LAYER", exchange=again)
    after = read_own(pfs, verify, permissions, ROLE, label="GET after the retry").json
    # Counted against the entries after the first request: earlier duplicates are PFS-UP-046's business.
    verify.that(len(lv.pending_for(after, *choice)) <= len(lv.pending_for(between, *choice)), "PFS-UP-014",
                "the retry was filed as another pending request",
                held="the retry was not filed as another pending request", reading="UP-DEDUP-LAYER")


def _refusal_rechecked(pfs, verify, permissions, choice: choose.Choice, requirement: str, before: Any) -> None:
    """After a refusal, the request is not pending (judged when it was not pending before)."""
    after = read_own(pfs, verify, permissions, ROLE, label="GET after the refused request")
    verify(after, up.not_filed(choice, before, requirement))


@pytest.mark.title("A request for the same or a lower level is refused with 403 FORBIDDEN_UPDATE")
@pytest.mark.requirement("PFS-UP-043")
@pytest.mark.pfs_version("legacy")
@pytest.mark.parametrize("which", ["same", "lower"])
def test_not_an_increase_refused(pfs, permissions, verify, which):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choices = choose.same_level(before) if which == "same" else choose.lower_levels(before)
    choice = _pick(choices, f"at a {which} level")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)} ({which} level)")
    verify(ex, up.error(403, "FORBIDDEN_UPDATE", "PFS-UP-043", reading="PFS-UP-051"))
    _refusal_rechecked(pfs, verify, permissions, choice, "PFS-UP-043", before)


@pytest.mark.title("A request above accessLevelMax is refused with 403 FORBIDDEN_UPDATE")
@pytest.mark.requirement("PFS-UP-044")
@pytest.mark.pfs_version("legacy")
def test_above_max_refused(pfs, permissions, verify):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choice = _pick(choose.above_max(before), "above its accessLevelMax")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)} (above the maximum)")
    verify(ex, up.error(403, "FORBIDDEN_UPDATE", "PFS-UP-044", reading="PFS-UP-051"))
    _refusal_rechecked(pfs, verify, permissions, choice, "PFS-UP-044", before)


@pytest.mark.title("A refused request gives the patient a reason in details.text")
@pytest.mark.requirement("PFS-UP-045")
@pytest.mark.pfs_version("legacy")
def test_refusal_has_reason(pfs, permissions, verify):
    patient = permissions.patient(ROLE)
    before = _permissions(pfs, verify, permissions)
    choice = _pick(choose.same_level(before), "at the same level")
    ex = pfs.post(patient, lv.request_body(*choice), label=f"request {choose.describe(choice)}")
    # A request at the level already held must be refused (PFS-UP-043) before there is a reason to read.
    require(verify, ex, up.refused("PFS-UP-043"), what="a request at the same level")
    verify(ex, up.reason_given("PFS-UP-045", reading="UP-REJECT-TEXT"))


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
    before = _permissions(pfs, verify, permissions)
    raw, _codes, would_file = _bodies(before)[case]
    ex = pfs.post(patient, raw, label=f"POST with {case}")
    verify(ex, up.refused("PFS-UP-040"))
    if ex.status is not None and ex.status < 300 and would_file:
        left_behind(f"a pending request for {choose.describe(would_file)} (requester patient), filed from a "
                    "malformed request")
    if would_file:
        _refusal_rechecked(pfs, verify, permissions, would_file, "PFS-UP-040", before)


@pytest.mark.title("A malformed POST body ({case}) gets the error table's status and code")
@pytest.mark.requirement("PFS-UP-050")
@pytest.mark.pfs_version("legacy")
@pytest.mark.parametrize("case", CASES)
def test_malformed_request_code(pfs, permissions, verify, case):
    patient = permissions.patient("requester")
    before = _permissions(pfs, verify, permissions)
    raw, codes, _ = _bodies(before)[case]
    ex = pfs.post(patient, raw, label=f"POST with {case}")
    verify(ex, up.error(400, codes, "PFS-UP-050", reading="UP-POST-CODES"))


@pytest.mark.title("A POST for a deceased patient gets 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("PFS-UP-050")
@pytest.mark.pfs_version("legacy")
def test_request_for_deceased_not_found(pfs, permissions, verify):
    ex = pfs.post(permissions.patient("deceased"), lv.request_body(lv.PRESCRIPTIONS, "manage"))
    verify(ex, up.error(404, "PATIENT_NOT_FOUND", "PFS-UP-050"))
