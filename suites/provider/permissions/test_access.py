"""User Permissions: reading permissions, signing in, and the X-Request-ID / X-Correlation-ID headers."""

from __future__ import annotations

import uuid

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.outcomes import insufficient_data

ACCESS_READING = "UP-ACCESS-STATUS: 401, 403 or 404 accepted for a refused user"


@pytest.mark.title("GET /Patient/{id} answers 200 with the patient's permissions")
@pytest.mark.requirement("PFS-UP-001")
def test_get_own_permissions(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("online"))
    verify(ex, up.status(200, "PFS-UP-001"), up.valid_permissions(permissions.version, "PFS-UP-001"))


@pytest.mark.title("A request without an Authorization bearer token is refused with 401")
@pytest.mark.requirement("PFS-UP-005")
def test_missing_authorization_refused(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("online"), headers={"Authorization": None}, label="GET without Authorization")
    verify(ex, up.status(401, "PFS-UP-005", reading="UP-AUTH-STATUS"))


@pytest.mark.title("A patient signed in to NHS login below P9 is refused")
@pytest.mark.requirement("PFS-UP-006")
def test_low_assurance_refused(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("low_assurance"))
    verify(ex, up.refused("PFS-UP-006", {401, 403, 404}, reading=ACCESS_READING))


@pytest.mark.title("A patient's token does not open another patient's permissions")
@pytest.mark.requirement("PFS-UP-006")
def test_token_bound_to_its_patient(pfs, permissions, verify):
    # Another patient who has online access, so a provider that ignored the token's owner would answer 200.
    other = permissions.patient("requester")
    ex = pfs.get(permissions.patient("online"), nhs_number=other.nhs_number,
                 label="GET another patient's permissions with the online patient's token")
    verify(ex, up.refused("PFS-UP-006", {401, 403, 404}, reading=ACCESS_READING))


@pytest.mark.title("X-Request-ID is echoed unchanged")
@pytest.mark.requirement("PFS-UP-011")
def test_request_id_echoed(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("online"), headers={"X-Request-ID": str(uuid.uuid4())})
    verify(ex, up.status(200, "PFS-UP-011"), up.echoed("X-Request-ID", "PFS-UP-011"))


@pytest.mark.title("X-Request-ID is optional: a request without it succeeds")
@pytest.mark.requirement("PFS-UP-011")
def test_request_id_optional(pfs, permissions, verify):
    ex = pfs.get(permissions.patient("online"), headers={"X-Request-ID": None}, label="GET without X-Request-ID")
    verify(ex, up.status(200, "PFS-UP-011"))


@pytest.mark.title("X-Correlation-ID is optional, and echoed unchanged when sent")
@pytest.mark.requirement("PFS-UP-012")
def test_correlation_id_echoed(pfs, permissions, verify):
    patient = permissions.patient("online")
    sent = pfs.get(patient, headers={"X-Correlation-ID": str(uuid.uuid4())})
    verify(sent, up.status(200, "PFS-UP-012"), up.echoed("X-Correlation-ID", "PFS-UP-012", reading="UP-CORRELATION-ID"))
    unsent = pfs.get(patient, headers={"X-Correlation-ID": None}, label="GET without X-Correlation-ID")
    verify(unsent, up.status(200, "PFS-UP-012"))


@pytest.mark.title("200 answers are application/json and errors application/fhir+json")
@pytest.mark.requirement("PFS-UP-013")
def test_content_types(pfs, permissions, verify):
    patient = permissions.patient("online")
    verify(pfs.get(patient), up.status(200, "PFS-UP-013"), up.media_type("application/json", "PFS-UP-013"))
    # Errors provoked two ways; one that is not refused is another requirement's finding (PFS-UP-004, -005).
    errors = [pfs.get(patient, nhs_number="ABC", label="GET with an invalid NHS number"),
              pfs.get(patient, headers={"Authorization": None}, label="GET without Authorization")]
    judged = [ex for ex in errors if ex.status is not None and 400 <= ex.status < 500]
    if not judged:
        raise insufficient_data("neither an invalid NHS number nor a missing token was refused, so no error's "
                                "Content-Type could be judged")
    for ex in judged:
        verify(ex, up.media_type("application/fhir+json", "PFS-UP-013"))


@pytest.mark.title("A GET re-sent with the same X-Request-ID is answered as the first was")
@pytest.mark.requirement("PFS-UP-014")
def test_retried_get_answered_again(pfs, permissions, verify):
    patient = permissions.patient("online")
    request_id = str(uuid.uuid4())
    first = pfs.get(patient, headers={"X-Request-ID": request_id}, label="GET")
    again = pfs.get(patient, headers={"X-Request-ID": request_id}, label="the same GET re-sent (a retry)")
    verify(first, up.status(200, "PFS-UP-014"))
    verify(again, up.status(200, "PFS-UP-014", reading="UP-DEDUP-LAYER"))
    if first.status == again.status == 200:
        verify.that(up.same_json(first, again), "PFS-UP-014", "the retry's permissions differ from the first answer's",
                    exchange=again)
