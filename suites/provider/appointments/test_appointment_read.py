"""Read an appointment (GET /Appointment/{id}).

The appointment a test reads is booked first (a precondition charged to APT-BOOK-015); a read answered
with another appointment is charged to APT-READ-001 and leaves the other rules not judged.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.resources import each, id_matches, meta, profile, resource
from gpc_assure.diary_client import need, require
from gpc_assure.fhir import profiles

UNKNOWN_ID = "gpc-assure-unknown-id"


@pytest.mark.creates_data
@pytest.mark.title("Reading a booked appointment returns it with its ETag, UK local times and #912 types")
@pytest.mark.requirement("APT-READ-001", "APT-READ-004", "APT-PRF-003")
def test_read_appointment(diary, booker, verify):
    appt = booker.booked(diary=diary)
    ex = booker.read(appt["id"])
    verify.must(ex, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"))
    verify(ex, id_matches(appt["id"], "APT-READ-001"),
           meta("Appointment", profiles.APPOINTMENT, "APT-READ-001"), http.etag_matches_version("APT-READ-001"),
           each("Appointment", rules.times_local, "APT-READ-004"),
           each("Appointment", rules.types_of_912, "APT-READ-004"),
           resource("Appointment", "APT-PRF-003"), meta("Appointment", profiles.APPOINTMENT, "APT-PRF-003"),
           profile("Appointment", "APT-PRF-003"))


@pytest.mark.title("Reading an appointment that has already started is refused")
@pytest.mark.requirement("APT-READ-002")
def test_read_past_appointment(booker, appointments, verify):
    past = need(appointments.past_appointment_id, "past_appointment_id")
    verify(booker.read(past, label="read an appointment that has already started"),
           rules.refused("APT-READ-002", reading="D-12: a 4xx with an OperationOutcome; the code is not named"))


@pytest.mark.title("Reading an unknown appointment id is 404 with an OperationOutcome")
@pytest.mark.requirement("APT-READ-003")
def test_read_unknown_appointment(booker, verify):
    verify(booker.read(UNKNOWN_ID, label="read an unknown appointment"),
           outcome.operation_outcome(404, ("NO_RECORD_FOUND", "REFERENCE_NOT_FOUND"), "APT-READ-003",
                                     issue_code="not-found", reading="D-09: NO_RECORD_FOUND or REFERENCE_NOT_FOUND"))


@pytest.mark.creates_data
@pytest.mark.title("Another organisation can read an appointment it did not book")
@pytest.mark.requirement("APT-READ-005")
def test_read_by_another_organisation(diary, booker, verify):
    appt = booker.booked(diary=diary)
    other = booker.other_org
    ex = booker.read(appt["id"], org=other, label=f"read as {other.ods_code}, which did not book it")
    # A refusal fails this requirement; an answer about another appointment is the read's own (APT-READ-001).
    ok = rules.is_appointment(appt["id"], "APT-READ-005", what=f"the read as {other.ods_code}")
    if ex.status == 200:
        require(verify, ex, ok, identity=(rules.is_appointment(appt["id"], "APT-READ-001", what="the read"),),
                what="the read by another organisation")
    else:
        verify(ex, ok)
