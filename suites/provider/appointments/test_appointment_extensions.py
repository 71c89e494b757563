"""The Must-Support extensions a booking copies from its slot: deliveryChannel (from the Slot) and
practitionerRole (from the Schedule). Sent on a booking, each comes back wherever the appointment is
returned (APT-BOOK-023, the GEN-RES-005 round trip).

A refused booking fails APT-BOOK-023 (it must be accepted); a booking, read, retrieve, amend or cancel
that does not answer with the appointment is charged to that interaction's own requirement."""

from __future__ import annotations

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks.core import Check
from gpc_assure.checks.resources import each, resource
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import body_of, require
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
        booker.verify.stop(f"the free-slot search gave slot {slot.id} no {extensions} to send (APT-SLOT-024 judges "
                           "that)")
    body = booker.payload([slot])
    body["extension"] += sent
    return body, sent


def _found(ex, appointment_id: str) -> dict | None:
    return next((a for a in entries(body_of(ex) or {}, "Appointment") if a.get("id") == appointment_id), None)


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
    own = Check("APT-BOOK-023", lambda e: [] if 200 <= e.response.status < 300 else
                [f"a booking sending {extensions} with the values its slot gave was refused "
                 f"(HTTP {e.response.status})"],
                f"a booking sending {extensions} is accepted")
    if not all(j.met for j in own(ex)):
        verify.must(ex, own)
    require(verify, ex, rules.made(body, "APT-BOOK-015"), what=f"the booking with {extensions}")
    verify(ex, own, each("Appointment", kept, "APT-BOOK-023"))
    appt = ex.json
    read = booker.read(appt["id"])
    require(verify, read, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"),
            what="the read of the appointment just booked")
    verify(read, each("Appointment", kept, "APT-BOOK-023"))
    on = _day(appt)
    retrieved = booker.retrieved(booker.patient_id(), on, on, what="the retrieve of the appointment's day")
    listed = Check("APT-RET-007", lambda e: [] if _found(e, appt["id"]) else
                   [f"retrieve on {on} does not return appointment {appt['id']}, booked that day"],
                   f"retrieve on {on} returns appointment {appt['id']}")
    verify.needs(retrieved, listed, what="the retrieved appointment whose extensions this test looks for")
    found = [_found(retrieved, appt["id"])]
    verify.rule("APT-BOOK-023", "on retrieve, each Must-Support extension the booking sent comes back with the value "
                "sent", lambda: kept(found[0]), exchange=retrieved)


@pytest.mark.creates_data
@pytest.mark.title("deliveryChannel and practitionerRole sent on booking still come back after an amend and a cancel")
@pytest.mark.requirement("APT-BOOK-023")
def test_must_support_extensions_survive_amend_and_cancel(diary, booker, verify):
    body, sent = _booking_with(diary, booker, "deliveryChannel and practitionerRole")
    kept = rules.extensions_kept(sent)
    booked = booker.book(body, label="book with deliveryChannel and practitionerRole")
    require(verify, booked, rules.made(body, "APT-BOOK-015"), resource("Appointment", "APT-PRF-003"),
            what="the booking with both extensions, sent back to amend and cancel it")
    appt = booked.json
    edit = booking.for_update(appt)
    edit["description"] = "Amended by the conformance suite's extension test"
    amended = booker.amend(appt["id"], edit, booking.version_of(appt))
    require(verify, amended, rules.is_appointment(appt["id"], "APT-AMD-007", what="the amend"),
            what="the amend of the appointment booked with both extensions")
    verify(amended, each("Appointment", kept, "APT-BOOK-023"))
    cancelled = booker.cancel(amended.json, REASON)
    require(verify, cancelled, rules.is_appointment(appt["id"], "APT-CAN-005", what="the cancel"),
            what="the cancel of the appointment booked with both extensions")
    verify(cancelled, each("Appointment", kept, "APT-BOOK-023"))
