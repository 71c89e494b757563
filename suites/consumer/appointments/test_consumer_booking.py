"""Consumer: booking appointments (one slot, two adjacent slots, and after the slot was taken)."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_booking as b
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import APPOINTMENTS


def bookings(consumer):
    consumer.calls(APPOINTMENTS, "book-appointment", "appointment.book")
    return consumer.scenario_calls(APPOINTMENTS, "appointment.book")


def journey(consumer):
    return consumer.journey(APPOINTMENTS).calls()


def findings(verify, problems, *requirements, reading=None):
    for p in problems:
        for rid in requirements:
            verify.finding(rid, p, reading=reading)


@pytest.mark.title("A booking is a GPConnect-Appointment-1 naming its profile")
@pytest.mark.requirement("APT-BOOK-001")
def test_booking_profile(consumer, verify):
    for c in bookings(consumer):
        verify(c, per_call(b.appointment_profile, "APT-BOOK-001"))


@pytest.mark.title("Every resource the consumer sends (book, amend, cancel) names its profile in meta.profile")
@pytest.mark.requirement("CON-020b")
def test_resources_sent_name_profile(consumer, verify):
    bookings(consumer)
    for c in consumer.scenario_calls(APPOINTMENTS, "appointment.book", "appointment.amend", "appointment.cancel"):
        verify(c, per_call(b.sends_profile, "CON-020b"))


@pytest.mark.title("A booking names the patient and the location, each participant with an actor")
@pytest.mark.requirement("APT-BOOK-002")
def test_booking_participants(consumer, verify):
    for c in bookings(consumer):
        verify(c, per_call(b.book_participants, "APT-BOOK-002"))


@pytest.mark.title("A booking is status booked and runs from its first slot's start to its last slot's end")
@pytest.mark.requirement("APT-BOOK-003")
def test_booking_times(consumer, verify):
    bookings(consumer)
    consumer.calls(APPOINTMENTS, "book-double-appointment", "appointment.book")
    findings(verify, b.book_times(journey(consumer)), "APT-BOOK-003")


@pytest.mark.title("A booking carries its slots, created and a description")
@pytest.mark.requirement("APT-BOOK-004")
def test_booking_mandatory(consumer, verify):
    for c in bookings(consumer):
        verify(c, per_call(b.book_mandatory, "APT-BOOK-004"))


@pytest.mark.title("The booking organisation is contained, with ODS code, name, telephone and the type searched with")
@pytest.mark.requirement("APT-BOOK-005")
def test_booking_organisation(consumer, verify):
    bookings(consumer)
    findings(verify, b.book_organisation(journey(consumer)), "APT-BOOK-005")


@pytest.mark.title("A booking names the practitioner and carries no reason or specialty")
@pytest.mark.requirement("APT-BOOK-006")
def test_booking_optional_elements(consumer, verify):
    bookings(consumer)
    findings(verify, b.book_optional(journey(consumer)), "APT-BOOK-006")


@pytest.mark.title("description is at most 100 characters and comment at most 500")
@pytest.mark.requirement("APT-BOOK-008", "CON-016")
def test_booking_text_lengths(consumer, verify):
    for c in bookings(consumer):
        verify(c, per_call(b.text_lengths, "APT-BOOK-008"),
               per_call(b.text_lengths, "CON-016", reading="CON-016-CONTENT: lengths in characters"))


@pytest.mark.title("A patient the practice does not hold is registered before they are booked")
@pytest.mark.requirement("APT-BOOK-021")
def test_register_before_booking(consumer, verify):
    consumer.calls(APPOINTMENTS, "book-appointment", "appointment.book")
    findings(verify, b.registered_before_booking(consumer.step(APPOINTMENTS, "book-appointment").calls),
             "APT-BOOK-021")


@pytest.mark.title("A booking follows a search that offered its slots and a find (or register) of its patient")
@pytest.mark.requirement("CON-006b")
def test_booking_order(consumer, verify):
    bookings(consumer)
    for name in ("book-appointment", "book-double-appointment", "book-after-conflict"):
        record = consumer.journey(APPOINTMENTS).steps[name]
        findings(verify, b.book_after_search_and_find(record.calls), "CON-006b")


@pytest.mark.title("Only slots that have not started are booked")
@pytest.mark.requirement("CON-015")
def test_books_future_slots(consumer, verify):
    bookings(consumer)
    findings(verify, b.future_slots(journey(consumer)), "CON-015")


@pytest.mark.title("Slots booked together are adjacent, on one schedule, with one delivery channel and slot type")
@pytest.mark.requirement("CON-017")
def test_double_appointment_slots(consumer, verify):
    consumer.calls(APPOINTMENTS, "book-double-appointment", "appointment.book")
    findings(verify, b.adjacent_slots(journey(consumer)), "CON-017")


@pytest.mark.title("Resources the consumer sends use relative references only")
@pytest.mark.requirement("GEN-RES-002c")
def test_booking_relative_references(consumer, verify):
    for c in bookings(consumer):
        verify(c, per_call(b.relative_references, "GEN-RES-002c"))


@pytest.mark.title("After a 409 for a taken slot the consumer searches again and books another slot")
@pytest.mark.requirement("CON-027")
def test_booking_after_conflict(consumer, verify):
    calls = consumer.calls(APPOINTMENTS, "book-after-conflict", "appointment.book")
    record = consumer.step(APPOINTMENTS, "book-after-conflict")
    verify.that(any(c.status == 409 for c in calls), "CON-027",
                "the simulator's planted 409 was never received (no booking in the step)")
    findings(verify, b.search_again_after_conflict(record.calls), "CON-027",
             reading="CON-027-INFERRED: search again and book another slot")
