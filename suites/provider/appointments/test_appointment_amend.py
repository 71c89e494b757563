"""Amend an appointment (PUT /Appointment/{id}, rest:update:appointment-1).

The appointment amended is booked first (a precondition charged to APT-BOOK-015). An amend a test reads
must answer with the appointment amended (APT-AMD-007); where accepting the amend is the test's own rule,
a refusal fails that rule. Every 422 must say in diagnostics what was wrong (GEN-ERR-001c).
"""

from __future__ import annotations

import datetime as dt

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import Check, compact
from gpc_assure.checks.resources import each, meta, profile, resource
from gpc_assure.diary_client import organisation_claim, require
from gpc_assure.fhir import booking, profiles, uktime

D08 = "D-08: 409 is required; no Spine code is named, so any is accepted"
LENGTH = "BOOK-LENGTH: stored whole or refused; shortened is a failure"


def diagnostics() -> Check:
    """GEN-ERR-001c: a 422 says in diagnostics what was wrong (judged only on a 422)."""
    return outcome.diagnostics("GEN-ERR-001c", statuses=(422,))


def _amended(appt: dict, description: str = "Amended by the conformance suite",
             comment: str | None = "Amended comment") -> dict:
    body = booking.for_update(appt)
    body["description"] = description
    if comment is None:
        body.pop("comment", None)
    else:
        body["comment"] = comment
    return body


def _answered(verify, ex, appt_id: str, what: str) -> dict:
    """The amend a test reads (a precondition): 200 with the appointment amended, else charged to APT-AMD-007."""
    require(verify, ex, rules.is_appointment(appt_id, "APT-AMD-007", what="the amend"), what=what)
    return ex.json


def _accepted(verify, ex, appt_id: str, requirement: str, refused: str, held: str, what: str,
              reading: str | None = None) -> dict:
    """An amend whose acceptance is the test's own rule: a refusal fails `requirement`, which is met only once
    the answer is shown to be the appointment amended (else charged to APT-AMD-007)."""
    own = Check(requirement, lambda e: [] if 200 <= e.response.status < 300 else
                [f"{refused} (HTTP {e.response.status})"], held, reading=reading)
    if not all(j.met for j in own(ex)):
        verify.must(ex, own)
    appt = _answered(verify, ex, appt_id, what)
    verify(ex, own)
    return appt


@pytest.mark.creates_data
@pytest.mark.title("Amending description and comment answers 200 with a new version and the #912 types")
@pytest.mark.requirement("APT-AMD-007", "APT-PRF-003")
def test_amend_description_and_comment(diary, booker, verify):
    appt = booker.booked(diary=diary)
    old = booking.version_of(appt)
    ex = booker.amend(appt["id"], _amended(appt), old)
    verify.must(ex, rules.is_appointment(appt["id"], "APT-AMD-007", what="the amend"))
    new = booking.version_of(ex.json)
    if old:
        verify.that(bool(new) and new != old, "APT-AMD-007", f"versionId is {compact(new)} after the amend, was {old}",
                    exchange=ex, held="the amend gave the appointment a new versionId")
    verify(ex, meta("Appointment", profiles.APPOINTMENT, "APT-AMD-007"), http.etag_matches_version("APT-AMD-007"),
           each("Appointment", rules.types_of_912, "APT-AMD-007"),
           each("Appointment", rules.text_kept("Amended by the conformance suite", "Amended comment"), "APT-AMD-007"),
           resource("Appointment", "APT-PRF-003"),
           meta("Appointment", profiles.APPOINTMENT, "APT-PRF-003"), profile("Appointment", "APT-PRF-003"))


def _change_cases():
    def shift(key):
        def mutate(b):
            b[key] = uktime.format_local(uktime.parse_instant(b[key]) + dt.timedelta(minutes=10))
        return mutate

    def absolute_patient(b):
        for p in b["participant"]:
            if p["actor"]["reference"].startswith("Patient/"):
                p["actor"]["reference"] = "https://provider.invalid/fhir/" + p["actor"]["reference"]

    return {
        "a new start": shift("start"),
        "a new end": shift("end"),
        "another slot": lambda b: b.update(slot=[{"reference": b["slot"][0]["reference"] + "-other"}]),
        "an absolute patient reference": absolute_patient,
        "a priority": lambda b: b.update(priority=1),
        "a cancellation reason": lambda b: b.setdefault("extension", []).append(
            {"url": booking.CANCELLATION_REASON_EXT, "valueString": "Cancelled through amend"}),
        "status cancelled": lambda b: b.update(status="cancelled"),
    }


@pytest.mark.creates_data
@pytest.mark.title("An amend changing {case} is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-AMD-002", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_change_cases()))
def test_amend_refuses_other_changes(diary, booker, verify, case):
    appt = booker.booked(diary=diary)
    body = _amended(appt)
    _change_cases()[case](body)
    verify(booker.amend(appt["id"], body, booking.version_of(appt), label=f"amend with {case}"),
           outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-AMD-002"), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("An amend whose body is an Organization, not an Appointment, is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-AMD-009", "GEN-ERR-001c")
def test_amend_refuses_other_resource_type(diary, booker, verify):
    appt = booker.booked(diary=diary)
    version = booking.version_of(appt)
    body = booking.booking_organisation(booker.org, contained_id=str(appt["id"]))
    verify(booker.amend(appt["id"], body, version, label="amend with an Organization as the body"),
           outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-AMD-009"), diagnostics())
    now = booker.current(appt["id"], label="read: the refused amend changed nothing",
                         what="the read after the refused amend")
    after = booking.version_of(now)
    if version:
        verify.that(after == version, "APT-AMD-009", f"after the refused amend the versionId is {compact(after)}, "
                    f"was {version}", held="the refused amend left the appointment's version unchanged")


@pytest.mark.title("Amending an appointment that has already started is refused")
@pytest.mark.requirement("APT-AMD-003", "GEN-ERR-001c")
def test_amend_refuses_started_appointment(booker, verify):
    appt = booker.started_today()
    ex = booker.amend(appt["id"], _amended(appt, "Amended after it started"), booking.version_of(appt),
                      label="amend an appointment that has already started")
    verify(ex, rules.refused("APT-AMD-003", reading="D-12: a 4xx with an OperationOutcome"), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("Amending a cancelled appointment is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-AMD-004", "GEN-ERR-001c")
def test_amend_refuses_cancelled(diary, booker, verify):
    appt = booker.booked(diary=diary)
    body = booker.cancelled(appt, what="the cancel of the appointment this test amends")
    ex = booker.amend(appt["id"], _amended(body, "Amended after cancelling"), booking.version_of(body),
                      label="amend the cancelled appointment")
    verify(ex, outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-AMD-004"), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("An amend naming a superseded version in If-Match is refused with 409, changing nothing")
@pytest.mark.requirement("APT-AMD-005")
def test_amend_stale_if_match(diary, booker, verify):
    appt = booker.booked(diary=diary)
    first = booker.amended(appt["id"], _amended(appt, "First amendment"), booking.version_of(appt),
                           label="amend once (the booked version becomes stale)",
                           what="the first amend, which makes the booked version stale")
    stale = booker.amend(appt["id"], _amended(first, "Amendment naming the stale version"),
                         booking.version_of(appt), label="amend naming the superseded version")
    verify(stale, http.status(409, "APT-AMD-005", reading=D08),
           outcome.valid_outcome("APT-AMD-005"))
    now = booker.current(appt["id"], label="read: the stale amend changed nothing",
                         what="the read after the stale amend")
    verify.that(now.get("description") == "First amendment", "APT-AMD-005",
                f"after the refused amend the description is {compact(now.get('description'))}",
                held="the refused amend left the description as the first amend set it")


@pytest.mark.creates_data
@pytest.mark.title("Amended description (100) and comment (500 characters) come back whole; longer: whole or refused")
@pytest.mark.requirement("APT-AMD-006", "GEN-ERR-001c")
def test_amend_text_lengths(diary, booker, verify):
    appt = booker.booked(diary=diary)
    description = ("Running late; please call the mobile number on the record before starting. " * 2)[:100]
    comment = ("Interpreter for Polish needed; hearing loop requested; arrives by taxi. " * 8)[:500]
    ex = booker.amend(appt["id"], _amended(appt, description, comment), booking.version_of(appt))
    amended = _accepted(verify, ex, appt["id"], "APT-AMD-006", "an amend to a 100-character description and a "
                        "500-character comment (within the limits) was refused", "text within the limits is accepted",
                        "the amend whose text this test reads")
    verify(ex, each("Appointment", rules.text_kept(description, comment), "APT-AMD-006"))
    longer = (description + " and more")[:101]
    ex2 = booker.amend(appt["id"], _amended(amended, longer, comment), booking.version_of(amended),
                       label="amend with a 101-character description")
    if ex2.status is not None and ex2.status < 300:
        _answered(verify, ex2, appt["id"], "the amend of an overlong description, accepted")
        verify(ex2, each("Appointment", rules.text_kept(longer, comment), "APT-AMD-006", reading=LENGTH))
    else:
        verify(ex2, rules.refused("APT-AMD-006", reading=LENGTH), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("Another organisation can amend an appointment it did not book")
@pytest.mark.requirement("APT-AMD-008")
def test_amend_by_another_organisation(diary, booker, gpc, verify):
    appt = booker.booked(diary=diary)
    other = booker.other_org
    claims = gpc.claims("appointment.amend")
    claims["requesting_organization"] = organisation_claim(other)
    ex = booker.amend(appt["id"], _amended(appt, f"Amended by {other.name}"), booking.version_of(appt),
                      claims=claims, label=f"amend as {other.ods_code}, which did not book it")
    _accepted(verify, ex, appt["id"], "APT-AMD-008", f"an amend by {other.ods_code}, which did not book the "
              "appointment, was refused", "another organisation may amend an appointment it did not book",
              "the amend by another organisation")


LEFT_OUT = {
    "serviceCategory and serviceType": (booking.PROVIDER_TYPES, ()),
    "the #912 types and the practitionerRole and deliveryChannel extensions": (
        booking.PROVIDER_TYPES, booking.PROVIDER_EXTENSIONS),
}
OMITTED_READING = ("912-OMITTED: leaving out what the provider populates is no change (the spec's amend request "
                   "example leaves it out); the amend must succeed")


@pytest.mark.creates_data
@pytest.mark.title("An amend leaving out {left_out} (as consumers before 1.2.7 do) succeeds, the types still returned")
@pytest.mark.requirement("APT-AMD-002", "APT-AMD-007")
@pytest.mark.parametrize("left_out", list(LEFT_OUT))
def test_amend_without_provider_elements(diary, booker, verify, left_out):
    appt = booker.booked(diary=diary)
    body = booking.without(_amended(appt), *LEFT_OUT[left_out])
    ex = booker.amend(appt["id"], body, booking.version_of(appt), label=f"amend leaving out {left_out}")
    _accepted(verify, ex, appt["id"], "APT-AMD-002", f"an amend leaving out {left_out} was refused as a change",
              f"an amend leaving out {left_out} is not a change and is accepted", f"the amend leaving out {left_out}",
              reading=OMITTED_READING)
    verify(ex, each("Appointment", rules.types_of_912, "APT-AMD-007"),
           each("Appointment", rules.text_kept("Amended by the conformance suite", "Amended comment"), "APT-AMD-007"))
