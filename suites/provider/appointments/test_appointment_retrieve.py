"""Retrieve a patient's appointments (GET /Patient/{id}/Appointment?start=ge..&start=le..).

A retrieve a test reads is a precondition (`booker.retrieved`): 200 with a searchset of the patient's
appointments (APT-RET-006). Appointments the test needs are booked first (charged to APT-BOOK-015).
Every 422 must say in diagnostics what was wrong (APT-RET-003..005 and GEN-ERR-001c).
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import outcome
from gpc_assure.checks.resources import each, meta, profile, searchset
from gpc_assure.checks.slot import entries
from gpc_assure.diary_client import body_of, day, need
from gpc_assure.fhir import booking, profiles, uktime

UNKNOWN_ID = "gpc-assure-unknown-id"


def _by_id(ex):
    return {a.get("id"): a for a in entries(body_of(ex) or {}, "Appointment")}


def _day_of(appt) -> int:
    start = uktime.parse_instant(appt.get("start"))
    return (start.astimezone(uktime.LONDON).date() - uktime.today()).days if start else 0


@pytest.mark.creates_data
@pytest.mark.title("Retrieve returns every appointment in range: cancelled ones, and those other organisations booked")
@pytest.mark.requirement("APT-RET-006", "APT-RET-007", "APT-RET-009", "APT-RET-010", "APT-PRF-003")
def test_retrieve_returns_all(diary, booker, verify):
    mine = booker.booked(diary=diary, description="to be cancelled, then retrieved")
    other = booker.other_org
    theirs = booker.booked([diary.free(filters=[])[-1]], org=other, description="booked by another organisation",
                           what="the booking by another organisation")
    booker.cancelled(mine, what="the cancel of the appointment this test retrieves cancelled")
    last = max(_day_of(mine), _day_of(theirs))
    pid = booker.patient_id()
    ex = booker.retrieve(pid, day(0), day(last))
    verify.must(ex, rules.retrieved(pid, "APT-RET-006"))
    verify(ex, searchset("APT-RET-006", entry_type="Appointment"), meta("Appointment", profiles.APPOINTMENT,
                                                                       "APT-RET-006"),
           each("Appointment", rules.times_local, "APT-RET-009"),
           each("Appointment", rules.types_of_912, "APT-RET-010"),
           meta("Appointment", profiles.APPOINTMENT, "APT-PRF-003"), profile("Appointment", "APT-PRF-003"))
    found = _by_id(ex)
    verify.that(mine["id"] in found, "APT-RET-007", f"the cancelled appointment {mine['id']} is not returned",
                exchange=ex, held=f"the cancelled appointment {mine['id']} is returned")
    if mine["id"] in found:
        status = found[mine["id"]].get("status")
        verify.that(status == "cancelled", "APT-RET-007",
                    f"appointment {mine['id']} is returned as {status or 'without a status'}, not cancelled",
                    exchange=ex, held=f"appointment {mine['id']} is returned as cancelled")
    verify.that(theirs["id"] in found, "APT-RET-007", f"appointment {theirs['id']}, booked by {other.ods_code}, is "
                "not returned", exchange=ex,
                held=f"appointment {theirs['id']}, booked by another organisation ({other.ods_code}), is returned")


@pytest.mark.creates_data
@pytest.mark.title("Retrieve honours both ends of the range")
@pytest.mark.requirement("APT-RET-002")
def test_retrieve_range_bounds(diary, booker, verify):
    later = [s for s in diary.free() if (s.start.astimezone(uktime.LONDON).date() - uktime.today()).days >= 1]
    if not later:
        verify.stop("the target offers no free slot from tomorrow on")
    appt = booker.booked([later[0]])
    n = _day_of(appt)
    pid = booker.patient_id()
    before = booker.retrieved(pid, day(0), day(n - 1), label="retrieve up to the day before",
                              what="the retrieve up to the day before the appointment")
    on = booker.retrieved(pid, day(n), day(n), label="retrieve the appointment's day only",
                          what="the retrieve of the appointment's day")
    # The bounds are judged only once the appointment is shown to be retrievable on its own day.
    if verify.that(appt["id"] in _by_id(on), "APT-RET-002", f"appointment {appt['id']} is not returned for its own "
                   f"day {day(n)}", exchange=on, held=f"appointment {appt['id']} is returned for its own day"):
        verify.that(appt["id"] not in _by_id(before), "APT-RET-002", f"appointment {appt['id']} on {day(n)} is "
                    f"returned for a range ending {day(n - 1)}", exchange=before,
                    held=f"appointment {appt['id']} on {day(n)} is not returned for a range ending {day(n - 1)}")
        beyond = [a for a in entries(body_of(on) or {}, "Appointment") if _day_of(a) != n]
        verify.that(not beyond, "APT-RET-002", f"a one-day range returned appointments on other days: "
                    f"{', '.join(str(a.get('start')) for a in beyond)}", exchange=on,
                    held=f"a one-day range ({day(n)}) returned appointments of that day only")


def _invalid(verify, booker, requirement, params, label):
    ex = booker.retrieve(booker.patient_id(), "", "", params=params, label=label)
    verify(ex, outcome.operation_outcome(422, "INVALID_PARAMETER", requirement, diagnostics_required=True),
           outcome.diagnostics("GEN-ERR-001c", statuses=(422,)))


@pytest.mark.title("A retrieve range with {case} is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-RET-003", "GEN-ERR-001c")
@pytest.mark.parametrize("case", ["a start yesterday", "the whole range last week"])
def test_retrieve_refuses_past(booker, verify, case):
    ge, le = (day(-1), day(7)) if case == "a start yesterday" else (day(-7), day(-1))
    _invalid(verify, booker, "APT-RET-003", [("start", f"ge{ge}"), ("start", f"le{le}")], f"retrieve with {case}")


def _time_cases():
    t = f"{day(1)}T09:00:00+00:00"
    return {"a time on start=ge": [("start", f"ge{t}"), ("start", f"le{day(7)}")],
            "a time on start=le": [("start", f"ge{day(0)}"), ("start", f"le{t}")],
            "only start=ge": [("start", f"ge{day(0)}")],
            "only start=le": [("start", f"le{day(7)}")],
            "no start at all": []}


@pytest.mark.title("A retrieve with {case} is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-RET-004", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_time_cases()))
def test_retrieve_refuses_time_or_single_bound(booker, verify, case):
    _invalid(verify, booker, "APT-RET-004", _time_cases()[case] or [("_sort", "start")], f"retrieve with {case}")


def _range_cases():
    return {"the end before the start": [("start", f"ge{day(5)}"), ("start", f"le{day(2)}")],
            "prefixes gt and lt": [("start", f"gt{day(0)}"), ("start", f"lt{day(7)}")],
            "prefix eq twice": [("start", f"eq{day(0)}"), ("start", f"eq{day(7)}")],
            "a malformed date": [("start", f"ge{day(0)}"), ("start", "le2026-13-45")],
            "a word for a date": [("start", "getomorrow"), ("start", f"le{day(7)}")]}


@pytest.mark.title("A retrieve with {case} is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-RET-005", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_range_cases()))
def test_retrieve_refuses_invalid_range(booker, verify, case):
    _invalid(verify, booker, "APT-RET-005", _range_cases()[case], f"retrieve with {case}")


@pytest.mark.title("A patient with no appointments gets an empty searchset")
@pytest.mark.requirement("APT-RET-006")
def test_retrieve_empty(booker, appointments, verify):
    role = need(appointments.empty_patient_role, "empty_patient_role")
    pid = booker.patient_id(role)
    ex = booker.retrieve(pid, day(0), day(14), label=f"retrieve for the {role} patient")
    verify(ex, rules.retrieved(pid, "APT-RET-006"), searchset("APT-RET-006", max_entries=0))


@pytest.mark.title("Retrieve returns only appointments from today on")
@pytest.mark.requirement("APT-RET-008")
def test_retrieve_only_from_today(booker, verify):
    ex = booker.retrieved(booker.patient_id(), day(0), day(14), what="the retrieve from today")
    returned = entries(ex.json, "Appointment")
    if not returned:
        verify.stop(f"the '{booker.settings.patient_role}' patient has no appointment from {day(0)} to {day(14)}, so "
                    "whether earlier ones are left out cannot be told from an empty answer")
    early = [f"{a.get('id')} ({a.get('start')})" for a in returned if _day_of(a) < 0]
    verify.that(not early, "APT-RET-008", f"appointments before today are returned: {', '.join(early)}",
                exchange=ex, held=f"the {len(returned)} appointment(s) returned all start today or later")


@pytest.mark.title("Retrieve for an unknown patient is 404, and with a write scope 400 BAD_REQUEST")
@pytest.mark.requirement("APT-RET-011")
def test_retrieve_unknown_patient_and_scope(booker, gpc, verify):
    ex = booker.retrieve(UNKNOWN_ID, day(0), day(7), label="retrieve for an unknown patient id")
    verify(ex, outcome.operation_outcome(404, ("PATIENT_NOT_FOUND", "NO_RECORD_FOUND"), "APT-RET-011",
                                         reading="RET-404: PATIENT_NOT_FOUND or NO_RECORD_FOUND"))
    claims = gpc.claims("appointment.retrieve")
    claims["requested_scope"] = "patient/*.write"
    ex = booker.retrieve(booker.patient_id(), day(0), day(7), claims=claims, label="retrieve with a write scope")
    verify(ex, outcome.operation_outcome(400, "BAD_REQUEST", "APT-RET-011"))


@pytest.mark.creates_data
@pytest.mark.title("An appointment on a restricted slot is retrieved and read like any other")
@pytest.mark.requirement("APT-SAM-007")
def test_whole_book_visible(diary, booker, appointments, verify):
    value = need(appointments.restricted_org_type, "restricted_org_type")
    open_ids = {s.id for s in diary.free(filters=[])}
    restricted = [s for s in diary.free(filters=[("searchFilter", f"{booking.ORGANISATION_TYPE_SYSTEM}|{value}")])
                  if s.id not in open_ids]
    if not restricted:
        verify.stop(f"the target offers no free slot restricted to organisation type {value}")
    appt = booker.booked([restricted[0]])
    ex = booker.retrieved(booker.patient_id(), day(0), day(_day_of(appt)),
                          what="the retrieve of the appointment on a restricted slot")
    verify.that(appt["id"] in _by_id(ex), "APT-SAM-007", f"appointment {appt['id']} on a slot restricted to {value} "
                "is not retrieved", exchange=ex, held=f"appointment {appt['id']} on a slot restricted to {value} is "
                "retrieved")
    verify(booker.read(appt["id"]), rules.is_appointment(appt["id"], "APT-SAM-007", what="the read"))
