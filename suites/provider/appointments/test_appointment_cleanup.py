"""The proof that the suite cleans up: runs after every other test (see conftest.py).

Read is the authority on an appointment's state: each appointment the suite booked is read, as the
organisation that booked it. A cancel that was accepted but did not take effect is a cancel failure
(APT-CAN-005); a cancel the target refused is too. Retrieve listing a cancelled appointment as booked,
or leaving it out, is Retrieve's failure (APT-RET-007), charged once for all of them. A booking the
target never identified (201 without an id) was charged to APT-BOOK-015 when it was made and is listed
as left behind; no cancel was sent for it, so it says nothing about cancelling.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks.core import NotJudged
from gpc_assure.checks.outcome import body_as_json
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import day
from gpc_assure.fhir import uktime


def _listed(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@pytest.mark.creates_data
@pytest.mark.title("No appointment the suite booked is still booked at the end of the run")
@pytest.mark.requirement("APT-CAN-005", "APT-RET-007")
def test_no_appointment_left_booked(booker, ledger, verify):
    now = uktime.now()
    future = [b for b in ledger.booked if (b.start is None or b.start >= now) and b.id != "?"]
    if not future:
        verify.stop("no test in this run booked an appointment the target identified")
    # Read each appointment as the organisation that booked it: what Read shows is its state.
    state: dict[str, str] = {}
    last_read = None
    for b in future:
        read = booker.read(b.id, org=b.org, label=f"read appointment {b.id} at the end")
        appt = body_as_json(read)
        if read.status == 200 and isinstance(appt, dict) and appt.get("resourceType") == "Appointment" \
                and appt.get("id") == b.id:
            state[b.id] = str(appt.get("status"))
            last_read = read
    if not state:
        verify.stop("no appointment the suite booked could be read at the end of the run (Read an appointment's own "
                    "tests say why), so whether they were cancelled cannot be told")

    accepted = [b for b in future if b.cancelled and b.id in state]
    refused = [b for b in future if not b.cancelled and b.cancel_refused and state.get(b.id) == "booked"]

    def cancels_took_effect() -> list[str]:
        out = []
        still = [b.id for b in accepted if state[b.id] != "cancelled"]
        if still:
            out.append(f"{len(still)} appointment(s) whose cancel was accepted (200 with status cancelled) still read "
                       f"as booked: {_listed(still)}")
        if refused:
            out.append(f"the target refused the clean-up cancel of {len(refused)} appointment(s) the suite booked "
                       f"({_listed([b.id for b in refused])}): {refused[0].left}")
        if not accepted and not refused:
            raise NotJudged("no appointment the suite booked was cancelled and could be read back")
        return out

    verify.rule("APT-CAN-005", f"the {len(accepted)} appointment(s) the suite cancelled read as cancelled at the end "
                "of the run", cancels_took_effect, exchange=last_read)

    # Retrieve lists every appointment of the patient in the range, cancelled ones included, as Read shows it.
    for pid in sorted({b.patient_id for b in future if b.id in state and b.patient_id != "?"}):
        ex = booker.retrieved(pid, day(0), day(21), label=f"retrieve Patient/{pid}'s appointments at the end",
                              what="the retrieve at the end of the run")
        listed = {a.get("id"): a for a in entries(body_as_json(ex), "Appointment")}
        mine = [b for b in future if b.patient_id == pid and b.id in state]
        missing = [b.id for b in mine if b.id not in listed]
        differ = [b.id for b in mine if b.id in listed and listed[b.id].get("status") != state[b.id]]

        def agrees(missing: list[str] = missing, differ: list[str] = differ, n: int = len(mine),
                   listed: dict = listed) -> list[str]:
            out = []
            if differ:
                out.append(f"Retrieve lists {len(differ)} of the {n} appointment(s) with another status than Read "
                           f"shows (e.g. Read shows {differ[0]} {state[differ[0]]}, Retrieve lists it "
                           f"{listed[differ[0]].get('status') or 'without a status'}): {_listed(differ)}")
            if missing:
                out.append(f"Retrieve leaves out {len(missing)} of the {n} appointment(s) Read shows: "
                           f"{_listed(missing)}")
            return out

        verify.rule("APT-RET-007", f"Retrieve lists Patient/{pid}'s {len(mine)} appointment(s) with the status Read "
                    "shows", agrees, exchange=ex)
