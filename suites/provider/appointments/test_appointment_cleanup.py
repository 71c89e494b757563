"""The proof that the suite cleans up: runs after every other test (see conftest.py)."""

from __future__ import annotations

import pytest

from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import body_of, day, no_data, organisation_claim
from gpc_assure.fhir import uktime


@pytest.mark.creates_data
@pytest.mark.title("No appointment the suite booked is still booked at the end of the run")
@pytest.mark.requirement("APT-CAN-005")
def test_no_appointment_left_booked(booker, ledger, gpc, verify):
    if not ledger.booked:
        no_data("no test in this run booked an appointment")
    now = uktime.now()
    future = [b for b in ledger.booked if b.start is None or b.start >= now]
    by_patient: dict[str, dict[str, dict]] = {}
    for pid in {b.patient_id for b in future if b.patient_id != "?"}:
        ex = booker.retrieve(pid, day(0), day(21), label=f"retrieve Patient/{pid}'s appointments at the end")
        by_patient[pid] = {a.get("id"): a for a in entries(body_of(ex) or {}, "Appointment")}
    for b in future:
        if b.id == "?":
            verify.finding("APT-CAN-005", f"{b.test} booked an appointment the target did not identify, so it "
                                          "could not be cancelled")
            continue
        appt = by_patient.get(b.patient_id, {}).get(b.id)
        if appt is None:  # not listed (or retrieve failed): ask for it directly, as the organisation that booked it
            claims = gpc.claims("appointment.read")
            claims["requesting_organization"] = organisation_claim(b.org)
            read = booker.read(b.id, claims=claims, label=f"read appointment {b.id} at the end")
            appt = body_of(read) if read.status == 200 else None
        status = appt.get("status") if isinstance(appt, dict) else None
        verify.that(status == "cancelled", "APT-CAN-005",
                    f"appointment {b.id} booked by {b.test} is {status or 'of unknown status'} at the end of the run")
