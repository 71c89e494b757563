"""Consumer: retrieving a patient's appointments, amending and cancelling one."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_booking as b
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import APPOINTMENTS

IF_MATCH = "IF-MATCH-LATEST: read again before changing"


@pytest.mark.title("Retrieve sends start=ge and start=le, dates only, none in the past")
@pytest.mark.requirement("APT-RET-001", "CON-018a")
def test_retrieve_range(consumer, verify):
    for c in consumer.calls(APPOINTMENTS, "retrieve-appointments", "appointment.retrieve"):
        verify(c, per_call(b.retrieve_range, "APT-RET-001"), per_call(b.retrieve_range, "CON-018a"))


@pytest.mark.title("Amend sends the appointment as read, with If-Match naming the current version")
@pytest.mark.requirement("APT-AMD-001", "CON-020a")
def test_amend_if_match(consumer, verify):
    amends = consumer.calls(APPOINTMENTS, "amend-appointment", "appointment.amend")
    for c in amends:
        verify(c, per_call(b.appointment_profile, "APT-AMD-001",
                           name="the amendment is an Appointment naming GPConnect-Appointment-1"))
    calls = consumer.journey(APPOINTMENTS).calls()
    for rid in ("APT-AMD-001", "CON-020a"):
        verify.rule(rid, "every amendment's If-Match names the latest version the consumer had been sent, still "
                    "current", lambda: b.if_match(calls, "appointment.amend"), reading=IF_MATCH)


@pytest.mark.title("An amendment changes only description and comment")
@pytest.mark.requirement("CON-019")
def test_amend_changes_only_text(consumer, verify):
    consumer.calls(APPOINTMENTS, "amend-appointment", "appointment.amend")
    calls = consumer.journey(APPOINTMENTS).calls()
    verify.rule("CON-019", "every amendment changes only description and comment of the appointment as last read",
                lambda: b.amend_changes(calls))


@pytest.mark.title("Cancel sends status cancelled, a cancellation reason, the cancel interaction and If-Match")
@pytest.mark.requirement("APT-CAN-001", "CON-020a")
def test_cancel_request(consumer, verify):
    for c in consumer.calls(APPOINTMENTS, "cancel-appointment", "appointment.cancel"):
        verify(c, per_call(b.cancel_request, "APT-CAN-001"))
    calls = consumer.journey(APPOINTMENTS).calls()
    verify.rule("CON-020a", "every cancellation's If-Match names the latest version the consumer had been sent, "
                "still current", lambda: b.if_match(calls, "appointment.cancel"), reading=IF_MATCH)
