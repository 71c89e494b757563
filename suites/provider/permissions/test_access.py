"""User Permissions: reading permissions, signing in, and the X-Request-ID / X-Correlation-ID headers.

A 200 counts only once its body is known to hold the patient's own permissions (`read_own`): an
empty 200, an HTML page or one fixed example for everybody meets nothing here.
"""

from __future__ import annotations

import uuid

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.plugins.permissions import failures, read_own

ACCESS_READING = "UP-ACCESS-STATUS: 401, 403 or 404 accepted for a refused user"


@pytest.mark.title("GET /Patient/{id} answers 200 with the patient's permissions")
@pytest.mark.requirement("PFS-UP-001")
def test_get_own_permissions(pfs, permissions, verify):
    ex = read_own(pfs, verify, permissions, "online")
    verify(ex, up.permissions_answer(), up.valid_permissions(permissions.version, "PFS-UP-001"))


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
    ex = read_own(pfs, verify, permissions, "online", headers={"X-Request-ID": str(uuid.uuid4())})
    verify(ex, up.echoed("X-Request-ID", "PFS-UP-011"))


@pytest.mark.title("X-Request-ID is optional: a request without it succeeds")
@pytest.mark.requirement("PFS-UP-011")
def test_request_id_optional(pfs, permissions, verify):
    # The control: the same GET with the header is answered with the patient's permissions (else PFS-UP-001
    # or -036 is charged), so a refusal of the GET without it is this requirement's finding. A 200 counts
    # once it holds the patient's own permissions.
    read_own(pfs, verify, permissions, "online", headers={"X-Request-ID": str(uuid.uuid4())},
             label="GET with X-Request-ID (the control)")
    ex = read_own(pfs, verify, permissions, "online", status_of="PFS-UP-011", headers={"X-Request-ID": None},
                  label="GET without X-Request-ID")
    verify(ex, up.status(200, "PFS-UP-011"))


@pytest.mark.title("X-Correlation-ID is optional, and echoed unchanged when sent")
@pytest.mark.requirement("PFS-UP-012")
def test_correlation_id_echoed(pfs, permissions, verify):
    # The GET with the header is also the control: once it is answered, a refusal of the GET without it is
    # this requirement's finding (a provider failing every GET is charged PFS-UP-001 by the first read).
    sent = read_own(pfs, verify, permissions, "online", headers={"X-Correlation-ID": str(uuid.uuid4())},
                    label="GET with X-Correlation-ID")
    verify(sent, up.echoed("X-Correlation-ID", "PFS-UP-012", reading="UP-CORRELATION-ID"))
    unsent = read_own(pfs, verify, permissions, "online", status_of="PFS-UP-012", headers={"X-Correlation-ID": None},
                      label="GET without X-Correlation-ID")
    verify(unsent, up.status(200, "PFS-UP-012"))


@pytest.mark.title("200 answers are application/json and errors application/fhir+json")
@pytest.mark.requirement("PFS-UP-013")
def test_content_types(pfs, permissions, verify):
    ok = read_own(pfs, verify, permissions, "online")
    verify(ok, up.media_type("application/json", "PFS-UP-013"))
    # Errors provoked two ways; one that is not refused is another requirement's finding (PFS-UP-004, -005)
    # and leaves this half not judged.
    patient = permissions.patient("online")
    for ex in (pfs.get(patient, nhs_number="ABC", label="GET with an invalid NHS number"),
               pfs.get(patient, headers={"Authorization": None}, label="GET without Authorization")):
        verify(ex, up.media_type("application/fhir+json", "PFS-UP-013", up.REFUSAL))


@pytest.mark.title("A GET re-sent with the same X-Request-ID is answered as the first was")
@pytest.mark.requirement("PFS-UP-014")
def test_retried_get_answered_again(pfs, permissions, verify):
    request_id = str(uuid.uuid4())
    # The first answer must hold the patient's own permissions; the retry is then compared with what the
    # patient holds, and with the first answer.
    first = read_own(pfs, verify, permissions, "online", headers={"X-Request-ID": request_id}, label="GET")
    again = pfs.get(permissions.patient("online"), headers={"X-Request-ID": request_id},
                    label="the same GET re-sent (a retry)")
    expected = permissions.expected("online").known()
    # Refused as a duplicate, or not a JSON object: this requirement's finding (a 200 alone is no support).
    if not failures(verify, again, up.permissions_answer("PFS-UP-014")):
        return
    found = verify(again, up.levels_are(expected, permissions.version, "PFS-UP-014",
                                        "the retry is answered with the patient's own permissions",
                                        reading="UP-DEDUP-LAYER", lead="the retry's answer: "))
    if all(j.met for j in found):
        verify.that(up.same_json(first, again), "PFS-UP-014", "the retry's permissions differ from the first answer's",
                    held="the retry was answered with the same permissions as the first request",
                    reading="UP-DEDUP-LAYER", exchange=again)
