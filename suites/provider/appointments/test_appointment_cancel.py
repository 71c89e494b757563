"""Cancel an appointment (PUT /Appointment/{id}, rest:cancel:appointment-1).

The appointment cancelled is booked first (a precondition charged to APT-BOOK-015). A cancel a test
reads must answer with the appointment cancelled (APT-CAN-005); where accepting the cancel is the test's
own rule, a refusal fails that rule. Every 422 must say in diagnostics what was wrong (GEN-ERR-001c).
"""

from __future__ import annotations

import json

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import Check, compact
from gpc_assure.checks.resources import each, meta, profile, resource
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import capability, day
from gpc_assure.fhir import booking, profiles, uktime

REASON = "Patient feels better and no longer needs the appointment"


def diagnostics() -> Check:
    """GEN-ERR-001c: a 422 says in diagnostics what was wrong (judged only on a 422)."""
    return outcome.diagnostics("GEN-ERR-001c", statuses=(422,))


def _unchanged(before: dict, after: dict) -> list[str]:
    """Everything but meta, status and the cancellation reason is as it was."""
    def norm(appt: dict) -> dict:
        out = {k: v for k, v in appt.items() if k not in ("meta", "status", "text")}
        out["extension"] = sorted(json.dumps(e, sort_keys=True) for e in appt.get("extension") or []
                                   if e.get("url") != booking.CANCELLATION_REASON_EXT)
        return out

    a, b = norm(before), norm(after)
    return [f"{k} changed on cancelling: {json.dumps(a.get(k))[:80]} -> {json.dumps(b.get(k))[:80]}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


@pytest.mark.creates_data
@pytest.mark.title("Cancelling answers 200: status cancelled, the reason, a new version, all else unchanged")
@pytest.mark.requirement("APT-CAN-005", "APT-CAN-007", "APT-PRF-003")
def test_cancel_appointment(diary, booker, verify):
    appt = booker.booked(diary=diary)
    ex = booker.cancel(appt, REASON)
    verify.must(ex, rules.is_appointment(appt["id"], "APT-CAN-005", what="the cancel"))
    after = ex.json
    verify(ex, each("Appointment", rules.cancelled_with(REASON), "APT-CAN-005"),
           each("Appointment", rules.types_of_912, "APT-CAN-007"),
           resource("Appointment", "APT-PRF-003"),
           meta("Appointment", profiles.APPOINTMENT, "APT-PRF-003"), profile("Appointment", "APT-PRF-003"))
    old, new = booking.version_of(appt), booking.version_of(after)
    if old:
        verify.that(bool(new) and new != old, "APT-CAN-005", f"versionId is {compact(new)} after cancelling, was "
                    f"{old}", exchange=ex, held="cancelling gave the appointment a new versionId")
    verify.rule("APT-CAN-005", "everything but meta, status and the cancellation reason is as booked",
                lambda: _unchanged(appt, after), exchange=ex)


def _change_cases():
    def absolute_patient(b):
        for p in b["participant"]:
            if p["actor"]["reference"].startswith("Patient/"):
                p["actor"]["reference"] = "https://provider.invalid/fhir/" + p["actor"]["reference"]

    return {
        "the description": lambda b: b.update(description="Changed while cancelling"),
        "the comment": lambda b: b.update(comment="Changed while cancelling"),
        "a participant (absolute reference)": absolute_patient,
        "the slot type text": lambda b: b.update(serviceType=[{"text": "Changed while cancelling"}]),
    }


@pytest.mark.creates_data
@pytest.mark.title("A cancel also changing {case} is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-CAN-002", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_change_cases()))
def test_cancel_refuses_other_changes(diary, booker, verify, case):
    appt = booker.booked(diary=diary)
    body = booking.cancellation(appt, REASON)
    _change_cases()[case](body)
    verify(booker.cancel(appt, body=body, label=f"cancel also changing {case}"),
           outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-CAN-002"), diagnostics())


@pytest.mark.title("Cancelling an appointment that has already started is refused")
@pytest.mark.requirement("APT-CAN-003", "GEN-ERR-001c")
def test_cancel_refuses_started_appointment(booker, verify):
    appt = booker.started_today()
    verify(booker.cancel(appt, label="cancel an appointment that has already started"),
           rules.refused("APT-CAN-003", reading="D-12: a 4xx with an OperationOutcome"), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("A cancel naming a version that is not the current one is refused with 409, leaving it booked")
@pytest.mark.requirement("APT-CAN-004")
def test_cancel_wrong_if_match(diary, booker, verify):
    appt = booker.booked(diary=diary)
    wrong = f"{booking.version_of(appt)}0"
    ex = booker.cancel(appt, version=wrong, label="cancel naming a version that is not the current one")
    verify(ex, http.status(409, "APT-CAN-004", reading="D-08: 409 with any Spine code"),
           outcome.valid_outcome("APT-CAN-004"))
    now = booker.current(appt["id"], label="read: the refused cancel changed nothing",
                         what="the read after the refused cancel")
    verify.that(now.get("status") == "booked", "APT-CAN-004",
                f"after the refused cancel the status is {compact(now.get('status'))}",
                held="the refused cancel left the appointment booked")


@pytest.mark.creates_data
@pytest.mark.title("After a cancel the slot is offered as free again")
@pytest.mark.requirement("APT-CAN-006")
def test_cancel_frees_slot(diary, booker, appointments, verify):
    capability(appointments.releases_cancelled_slots, "offering a cancelled appointment's slots again")
    slot = diary.slot()
    appt = booker.booked([slot])
    booker.cancelled(appt, REASON, what="the cancel whose slot this test looks for")
    n = (slot.start.astimezone(uktime.LONDON).date() - uktime.today()).days
    search = diary.searched(f"ge{day(n)}", f"le{day(n)}", label="search the cancelled slot's day",
                            what="the search of the cancelled slot's day")
    free = {s.get("id") for s in entries(search.json, "Slot") if s.get("status") == "free"}
    verify.that(slot.id in free, "APT-CAN-006", f"slot {slot.id} is not offered as free after its appointment was "
                "cancelled", reading="CAN-SLOT: reflected as free again", exchange=search,
                held=f"slot {slot.id} is offered as free again after its appointment was cancelled")


def _reason_cases():
    url = booking.CANCELLATION_REASON_EXT

    def replace(ext):
        def mutate(b):
            b["extension"] = [e for e in b["extension"] if e.get("url") != url] + [ext]
        return mutate

    return {
        "an empty reason": (replace({"url": url, "valueString": ""}), 422, "INVALID_PARAMETER"),
        "the reason under a wrong extension URL": (
            replace({"url": url.replace("CancellationReason-1", "CancellationReason-9"), "valueString": REASON}),
            422, "INVALID_RESOURCE"),
        "the reason under an empty extension URL": (replace({"url": "", "valueString": REASON}), 422,
                                                    "INVALID_RESOURCE"),
    }


@pytest.mark.creates_data
@pytest.mark.title("A cancel with {case} is refused with 422")
@pytest.mark.requirement("APT-CAN-008", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_reason_cases()))
def test_cancel_reason_errors(diary, booker, verify, case):
    appt = booker.booked(diary=diary)
    mutate, status, code = _reason_cases()[case]
    body = booking.cancellation(appt, REASON)
    mutate(body)
    verify(booker.cancel(appt, body=body, label=f"cancel with {case}"),
           outcome.operation_outcome(status, code, "APT-CAN-008"), diagnostics())


LEFT_OUT = {
    "serviceCategory and serviceType": (booking.PROVIDER_TYPES, ()),
    "the #912 types and the practitionerRole and deliveryChannel extensions": (
        booking.PROVIDER_TYPES, booking.PROVIDER_EXTENSIONS),
}
OMITTED_READING = ("912-OMITTED: leaving out what the provider populates is no change (the spec's cancel request "
                   "example leaves it out); the cancel must succeed")


@pytest.mark.creates_data
@pytest.mark.title("A cancel leaving out {left_out} (as consumers before 1.2.7 do) succeeds, the types still returned")
@pytest.mark.requirement("APT-CAN-002", "APT-CAN-005", "APT-CAN-007")
@pytest.mark.parametrize("left_out", list(LEFT_OUT))
def test_cancel_without_provider_elements(diary, booker, verify, left_out):
    appt = booker.booked(diary=diary)
    body = booking.without(booking.cancellation(appt, REASON), *LEFT_OUT[left_out])
    ex = booker.cancel(appt, body=body, label=f"cancel leaving out {left_out}")
    own = Check("APT-CAN-002", lambda e: [] if 200 <= e.response.status < 300 else
                [f"a cancel leaving out {left_out} was refused as a change (HTTP {e.response.status})"],
                f"a cancel leaving out {left_out} is not a change and is accepted", reading=OMITTED_READING)
    if not all(j.met for j in own(ex)):
        verify.must(ex, own)
    verify.must(ex, rules.is_appointment(appt["id"], "APT-CAN-005", what="the cancel"))
    verify(ex, own, each("Appointment", rules.cancelled_with(REASON), "APT-CAN-005"),
           each("Appointment", rules.types_of_912, "APT-CAN-007"))
