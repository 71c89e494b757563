"""Consumer: booking appointments (one slot, two adjacent slots, and after the slot was taken)."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_booking as b
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import APPOINTMENTS

BOOKING_STEPS = ("book-appointment", "book-double-appointment", "book-after-conflict")


def bookings(consumer):
    """Every booking of the journey; the step that asks for one booking must have made it."""
    consumer.calls(APPOINTMENTS, "book-appointment", "appointment.book")
    return consumer.scenario_calls(APPOINTMENTS, "appointment.book")


def journey(consumer):
    return consumer.journey(APPOINTMENTS).calls()


def _judge(consumer, verify, check):
    for c in bookings(consumer):
        verify(c, check)


@pytest.mark.title("A booking is a GPConnect-Appointment-1 naming its profile")
@pytest.mark.requirement("APT-BOOK-001")
def test_booking_profile(consumer, verify):
    _judge(consumer, verify, per_call(b.appointment_profile, "APT-BOOK-001",
                                      name="the booking is an Appointment naming GPConnect-Appointment-1"))


@pytest.mark.title("Every resource the consumer sends (book, amend, cancel) names its profile in meta.profile")
@pytest.mark.requirement("CON-020b")
def test_resources_sent_name_profile(consumer, verify):
    bookings(consumer)
    check = per_call(b.sends_profile, "CON-020b")
    for c in consumer.scenario_calls(APPOINTMENTS, "appointment.book", "appointment.amend", "appointment.cancel"):
        verify(c, check)


@pytest.mark.title("A booking names the patient and the location, each participant with an actor")
@pytest.mark.requirement("APT-BOOK-002")
def test_booking_participants(consumer, verify):
    _judge(consumer, verify, per_call(b.book_participants, "APT-BOOK-002"))


@pytest.mark.title("A booking is status booked and runs from its first slot's start to its last slot's end")
@pytest.mark.requirement("APT-BOOK-003")
def test_booking_times(consumer, verify):
    bookings(consumer)
    calls = journey(consumer)
    verify.rule("APT-BOOK-003", "every booking is status booked and runs from its first slot's start to its last "
                "slot's end", lambda: b.book_times(calls))
    consumer.calls(APPOINTMENTS, "book-double-appointment", "appointment.book")


@pytest.mark.title("A booking carries its slots, created and a description")
@pytest.mark.requirement("APT-BOOK-004")
def test_booking_mandatory(consumer, verify):
    _judge(consumer, verify, per_call(b.book_mandatory, "APT-BOOK-004"))


@pytest.mark.title("The booking organisation is contained, with ODS code, name, telephone and the type searched with")
@pytest.mark.requirement("APT-BOOK-005")
def test_booking_organisation(consumer, verify):
    bookings(consumer)
    calls = journey(consumer)
    verify.rule("APT-BOOK-005", "every booking's organisation is contained, with ODS code, name, telephone and "
                "the type the search sent", lambda: b.book_organisation(calls))


@pytest.mark.title("A booking carries no reason or specialty")
@pytest.mark.requirement("APT-BOOK-006")
def test_booking_without_reason_or_specialty(consumer, verify):
    bookings(consumer)
    calls = journey(consumer)
    verify.rule("APT-BOOK-006", "no booking carries reason or specialty", lambda: b.book_no_reason(calls))


@pytest.mark.title("A booking names the practitioner its slot's schedule names")
@pytest.mark.requirement("APT-BOOK-006b")
def test_booking_names_the_practitioner(consumer, verify):
    bookings(consumer)
    calls = journey(consumer)
    verify.rule("APT-BOOK-006b", "each booking names the practitioner its slot's schedule names",
                lambda: b.book_practitioner(calls))


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
    calls = consumer.step(APPOINTMENTS, "book-appointment").calls
    verify.rule("APT-BOOK-021", "a patient the find did not return was registered before the booking",
                lambda: b.registered_before_booking(calls))


@pytest.mark.title("A booking follows a search that offered its slots and a find (or register) of its patient")
@pytest.mark.requirement("CON-006b")
def test_booking_order(consumer, verify):
    bookings(consumer)
    for name in BOOKING_STEPS:
        calls = consumer.journey(APPOINTMENTS).steps[name].calls
        verify.rule("CON-006b", f"each booking of step '{name}' followed a search that offered its slots and a "
                    "find (or register) that returned its patient",
                    lambda calls=calls: b.book_after_search_and_find(calls))


@pytest.mark.title("Only slots that have not started are booked")
@pytest.mark.requirement("CON-015")
def test_books_future_slots(consumer, verify):
    bookings(consumer)
    calls = journey(consumer)
    verify.rule("CON-015", "every slot booked had not started when it was booked", lambda: b.future_slots(calls))


@pytest.mark.title("Slots booked together are adjacent, on one schedule, with one delivery channel and slot type")
@pytest.mark.requirement("CON-017")
def test_double_appointment_slots(consumer, verify):
    consumer.calls(APPOINTMENTS, "book-double-appointment", "appointment.book")
    calls = journey(consumer)
    verify.rule("CON-017", "slots booked together are adjacent, on one schedule, with one delivery channel and "
                "slot type", lambda: b.adjacent_slots(calls))


@pytest.mark.title("Resources the consumer sends use relative references only")
@pytest.mark.requirement("GEN-RES-002c")
def test_booking_relative_references(consumer, verify):
    _judge(consumer, verify, per_call(b.relative_references, "GEN-RES-002c"))


@pytest.mark.title("After a 409 for a taken slot the consumer searches again and books another slot")
@pytest.mark.requirement("CON-027")
def test_booking_after_conflict(consumer, verify):
    consumer.calls(APPOINTMENTS, "book-after-conflict", "appointment.book")
    calls = consumer.step(APPOINTMENTS, "book-after-conflict").calls
    verify.rule("CON-027", "after the simulator's 409 the consumer searched again and booked another slot",
                lambda: b.search_again_after_conflict(calls), reading="CON-027-INFERRED: search again and book "
                "another slot")
