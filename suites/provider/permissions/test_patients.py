"""User Permissions: which patients get an answer — NHS number checks and the 404 cases, and error bodies."""

from __future__ import annotations

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.outcomes import InsufficientData
from gpc_assure.pfs import levels as lv

# Ten characters that are not a valid NHS number in different ways (the description has no pattern).
INVALID_NUMBERS = {
    "bad check digit": "9000000018",
    "nine digits": "900000001",
    "eleven digits": "90000000170",
    "letters": "ABCDEFGHIJ",
    "spaced": "900 000 0017",
}


@pytest.mark.title("An invalid NHS number ({case}) is refused with 400")
@pytest.mark.requirement("PFS-UP-004")
@pytest.mark.parametrize("case", list(INVALID_NUMBERS))
def test_invalid_nhs_number_refused(pfs, permissions, verify, case):
    ex = pfs.get(permissions.patient("online"), nhs_number=INVALID_NUMBERS[case], label=f"GET with {case}")
    verify(ex, up.status(400, "PFS-UP-004"))


@pytest.mark.title("GET answers an invalid NHS number 400 INVALID_RESOURCE_ID")
@pytest.mark.requirement("PFS-UP-030")
def test_invalid_nhs_number_code_get(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("online"), nhs_number="ABC", label="GET /Patient/ABC")
    verify(ex, up.error(400, "INVALID_RESOURCE_ID", "PFS-UP-030", reading="UP-INVALID-ID-CODE"))


@pytest.mark.title("POST answers an invalid NHS number 400 INVALID_NHS_NUMBER")
@pytest.mark.requirement("PFS-UP-030")
@pytest.mark.pfs_version("legacy")
def test_invalid_nhs_number_code_post(pfs, permissions, verify):
    body = lv.request_body(lv.PRESCRIPTIONS, "manage")
    ex = pfs.post(permissions.patient("requester"), body, nhs_number="ABC", label="POST /Patient/ABC")
    verify(ex, up.error(400, "INVALID_NHS_NUMBER", "PFS-UP-030", reading="UP-INVALID-ID-CODE"))


@pytest.mark.title("A patient whose NHS number is not verified locally gets 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("PFS-UP-031")
def test_unverified_not_found(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("unverified")), up.error(404, "PATIENT_NOT_FOUND", "PFS-UP-031"))


@pytest.mark.title("A patient who is not a regular (GMS) patient here ({role}) gets 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("PFS-UP-032")
@pytest.mark.parametrize("role", ["non_gms", "not_registered"])
def test_not_gms_not_found(pfs, permissions, verify, role):
    verify(pfs.get(permissions.patient(role)), up.error(404, "PATIENT_NOT_FOUND", "PFS-UP-032"))


@pytest.mark.title("A {role} patient gets 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("PFS-UP-033")
@pytest.mark.parametrize("role", ["deceased", "inactive"])
def test_inactive_or_deceased_not_found(pfs, permissions, verify, role):
    verify(pfs.get(permissions.patient(role)), up.error(404, "PATIENT_NOT_FOUND", "PFS-UP-033"))


def _held(pfs, permissions, role: str, target: lv.Target) -> str | None:
    """The level the patient holds of `target`, when their own permissions can be read; else None."""
    try:
        expected = permissions.expected(role).known()
    except InsufficientData:
        return None
    read = pfs.get(permissions.patient(role), label=f"GET permissions ({role})")
    if not all(j.met for j in up.own_permissions(expected, permissions.version)(read)):
        return None
    return lv.level_of(read.json, target)


@pytest.mark.title("Error bodies are valid ErrorResponse OperationOutcomes")
@pytest.mark.requirement("PFS-UP-034")
def test_error_bodies_valid(pfs, permissions, verify):
    online = permissions.patient("online")
    cases = [
        pfs.get(online, nhs_number="ABC", label="GET with an invalid NHS number"),
        pfs.get(online, headers={"Authorization": None}, label="GET without Authorization"),
        pfs.get(permissions.patient("deceased"), label="GET for a deceased patient"),
    ]
    if permissions.version == "legacy":
        # A refused POST too, when the requester's own permissions can be read to pick one (else this case
        # is left out: reading them is other tests' business).
        level = _held(pfs, permissions, "requester", lv.PRESCRIPTIONS)
        if level:
            requester = permissions.patient("requester")
            cases.append(pfs.post(requester, lv.request_body(lv.PRESCRIPTIONS, level),
                                  label="POST asking for the prescriptions level already held"))
    # Only refusals (4xx) are judged; a case not refused is another requirement's finding.
    for ex in cases:
        verify(ex, up.valid_error(permissions.version, "PFS-UP-034"))
