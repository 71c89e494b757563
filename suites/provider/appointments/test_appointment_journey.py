"""The whole Appointment Management journey as one consumer session would make it (CON-006):
search for free slots -> find the patient -> book -> retrieve -> read -> amend -> cancel -> retrieve."""

from __future__ import annotations

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http
from gpc_assure.checks.core import compact
from gpc_assure.checks.resources import each, id_matches, resource
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import body_of, day
from gpc_assure.fhir import booking, uktime

REASON = "Journey complete: appointment no longer needed"


def _listed(ex, appointment_id):
    return {a.get("id"): a for a in entries(body_of(ex) or {}, "Appointment")}.get(appointment_id)


@pytest.mark.creates_data
@pytest.mark.title("Search, find, book, retrieve, read, amend and cancel one appointment, in one session")
@pytest.mark.requirement("APT-SLOT-012", "APT-BOOK-015", "APT-RET-007", "APT-READ-001", "APT-AMD-007",
                         "APT-CAN-005")
def test_appointment_journey(diary, booker, verify):
    # 1. search (the consumer's own filters and includes), 2. find the patient
    slot = diary.slot()
    patient = booker.patient_id()
    # 3. book
    body = booker.payload([slot], description="Journey: initial description")
    booked = booker.book(body)
    verify.must(booked, rules.made(body, "APT-BOOK-015"))
    # The consumer edits what it is given and sends it back: it must be a valid STU3 Appointment (APT-PRF-003).
    verify.needs(booked, resource("Appointment", "APT-PRF-003"), what="the appointment the journey sends back")
    appt = booked.json
    n = (slot.start.astimezone(uktime.LONDON).date() - uktime.today()).days
    # 4. retrieve: the new appointment is among the patient's
    listed = booker.retrieved(patient, day(0), day(n), what="the retrieve after booking")
    verify.that(_listed(listed, appt["id"]) is not None, "APT-RET-007",
                f"the appointment just booked ({appt['id']}) is not retrieved", exchange=listed,
                held=f"the appointment just booked ({appt['id']}) is retrieved")
    # 5. read: the current version, with its ETag
    read = booker.read(appt["id"])
    verify.must(read, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"))
    verify(read, id_matches(appt["id"], "APT-READ-001"), http.etag_matches_version("APT-READ-001"))
    current = read.json
    # 6. amend the description and comment, naming the version just read
    edit = booking.for_update(current)
    edit["description"], edit["comment"] = "Journey: amended description", "Journey: amended comment"
    amended = booker.amend(appt["id"], edit, booking.version_of(current))
    verify.must(amended, rules.is_appointment(appt["id"], "APT-AMD-007", what="the amend"))
    verify(amended, each("Appointment", rules.text_kept(edit["description"], edit["comment"]), "APT-AMD-007"))
    verify.that(booking.version_of(amended.json) != booking.version_of(current), "APT-AMD-007",
                "the amend did not give the appointment a new version", exchange=amended,
                held="the amend gave the appointment a new version")
    # 7. cancel the amended version
    cancelled = booker.cancel(amended.json, REASON)
    verify.must(cancelled, rules.is_appointment(appt["id"], "APT-CAN-005", what="the cancel"))
    verify(cancelled, each("Appointment", rules.cancelled_with(REASON), "APT-CAN-005"))
    # 8. retrieve again: still listed, now cancelled, with the amended description
    again = booker.retrieved(patient, day(0), day(n), label="retrieve after cancelling",
                             what="the retrieve after cancelling")
    final = _listed(again, appt["id"])
    status = final.get("status") if final else None
    verify.that(status == "cancelled", "APT-RET-007",
                f"after cancelling, retrieve lists the appointment as {status or 'absent'}", exchange=again,
                held="after cancelling, retrieve lists the appointment as cancelled")
    if final is not None:
        verify.that(final.get("description") == edit["description"], "APT-CAN-005",
                    f"the cancelled appointment's description is {compact(final.get('description'))}",
                    exchange=again, held="the cancelled appointment keeps the amended description")
