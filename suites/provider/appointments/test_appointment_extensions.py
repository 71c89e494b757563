"""The Must-Support extensions a booking copies from its slot: deliveryChannel (from the Slot) and
practitionerRole (from the Schedule). Sent on a booking, each comes back wherever the appointment is
returned (APT-BOOK-023, the GEN-RES-005 round trip)."""

from __future__ import annotations

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http
from gpc_assure.checks.resources import each, resource
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import body_of, no_data
from gpc_assure.fhir import booking, uktime

SENT = {
    "deliveryChannel": {"channel": True, "role": False},
    "practitionerRole": {"channel": False, "role": True},
    "deliveryChannel and practitionerRole": {"channel": True, "role": True},
}
REASON = "Cancelled by the conformance suite's extension test"


def _booking_with(diary, booker, extensions: str) -> tuple[dict, list[dict]]:
    """A booking body for the next free slot carrying these extensions as the search gave them."""
    slot = diary.slot()
    sent = booking.slot_extensions(slot, **SENT[extensions])
    if len(sent) != sum(SENT[extensions].values()):
        no_data(f"the free-slot search gave slot {slot.id} no {extensions} to send (APT-SLOT-024 judges that)")
    body = booker.payload([slot])
    body["extension"] += sent
    return body, sent


def _day(appt: dict) -> str:
    start = uktime.parse_instant(appt.get("start"))
    return start.astimezone(uktime.LONDON).date().isoformat() if start else ""


@pytest.mark.creates_data
@pytest.mark.title("A booking sending {extensions} is accepted and returns it on booking, read and retrieve")
@pytest.mark.requirement("APT-BOOK-023")
@pytest.mark.parametrize("extensions", list(SENT))
def test_book_with_must_support_extensions(diary, booker, verify, extensions):
    body, sent = _booking_with(diary, booker, extensions)
    kept = rules.extensions_kept(sent)
    ex = booker.book(body, label=f"book with {extensions}")
    verify.must(ex, http.status(201, "APT-BOOK-023"), resource("Appointment", "APT-BOOK-023"))
    verify(ex, each("Appointment", kept, "APT-BOOK-023"))
    appt = ex.json
    read = booker.read(appt["id"])
    verify.must(read, http.status(200, "APT-BOOK-023"))
    verify(read, each("Appointment", kept, "APT-BOOK-023"))
    on = _day(appt)
    retrieved = booker.retrieve(booker.patient_id(), on, on)
    verify.must(retrieved, http.status(200, "APT-BOOK-023"))
    found = [a for a in entries(body_of(retrieved) or {}, "Appointment") if a.get("id") == appt["id"]]
    verify.that(bool(found), "APT-BOOK-023", f"retrieve on {on} does not return appointment {appt['id']}",
                exchange=retrieved)
    for problem in kept(found[0]) if found else []:
        verify.finding("APT-BOOK-023", f"on retrieve: {problem}", exchange=retrieved)


@pytest.mark.creates_data
@pytest.mark.title("deliveryChannel and practitionerRole sent on booking still come back after an amend and a cancel")
@pytest.mark.requirement("APT-BOOK-023")
def test_must_support_extensions_survive_amend_and_cancel(diary, booker, verify):
    body, sent = _booking_with(diary, booker, "deliveryChannel and practitionerRole")
    kept = rules.extensions_kept(sent)
    booked = booker.book(body, label="book with deliveryChannel and practitionerRole")
    if booked.status != 201 or not isinstance(body_of(booked), dict):
        no_data(f"the booking failed ({booked.describe()}); test_book_with_must_support_extensions reports why")
    appt = booked.json
    edit = booking.for_update(appt)
    edit["description"] = "Amended by the conformance suite's extension test"
    amended = booker.amend(appt["id"], edit, booking.version_of(appt))
    if amended.status != 200 or not isinstance(body_of(amended), dict):
        no_data(f"the amend failed ({amended.describe()}); Amend an appointment's own tests report why")
    verify(amended, each("Appointment", kept, "APT-BOOK-023"))
    cancelled = booker.cancel(amended.json, REASON)
    if cancelled.status != 200 or not isinstance(body_of(cancelled), dict):
        no_data(f"the cancel failed ({cancelled.describe()}); Cancel an appointment's own tests report why")
    verify(cancelled, each("Appointment", kept, "APT-BOOK-023"))
