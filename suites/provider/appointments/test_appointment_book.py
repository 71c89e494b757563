"""Book an appointment (POST /Appointment): what is accepted, what is refused, and what comes back.

Every test that books goes through `booker`, which cancels what it booked when the test ends. A booking
a test needs in order to judge something else (the text it stores, the slots it names) is a
precondition charged to APT-BOOK-015 (answered 201 with the appointment booked): a failed booking leaves
the test's own requirements not judged. Every 422 must say in diagnostics what was wrong (GEN-ERR-001c).
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import Check
from gpc_assure.checks.resources import each, meta, profile, resource
from gpc_assure.diary_client import capability, day, need, require
from gpc_assure.fhir import booking, profiles, uktime

D07 = "D-07: REFERENCE_NOT_FOUND (error page) or INVALID_RESOURCE (official suite) accepted"
CONSUMER_ID_SYSTEM = "https://consumer.gpc-assure.invalid/Id/booking-reference"  # a consumer's own identifiers
MULTI = "BOOK-MULTI: a refusal is a 4xx with an OperationOutcome; the code is not named"
LENGTH = "BOOK-LENGTH: stored whole or refused; shortened is a failure"


def diagnostics() -> Check:
    """GEN-ERR-001c: a 422 says in diagnostics what was wrong (judged only on a 422)."""
    return outcome.diagnostics("GEN-ERR-001c", statuses=(422,))


def _made(verify, ex, body, what: str) -> dict:
    """The booking a test reads (a precondition): 201 with the appointment booked, else charged to APT-BOOK-015."""
    require(verify, ex, rules.made(body, "APT-BOOK-015"), what=what)
    return ex.json


def _accepted(verify, ex, body, requirement: str, refused: str, held: str, what: str,
              reading: str | None = None) -> dict:
    """A booking whose acceptance is the test's own rule: a refusal fails `requirement`; an acceptance that is
    not 201 with the appointment booked is Book's own failure (APT-BOOK-015), and `requirement` is met only
    once the booking is shown to be the one made."""
    own = Check(requirement, lambda e: [] if 200 <= e.response.status < 300 else
                [f"{refused} (HTTP {e.response.status})"], held, reading=reading)
    if not all(j.met for j in own(ex)):
        verify.must(ex, own)
    appt = _made(verify, ex, body, what)
    verify(ex, own)
    return appt


@pytest.mark.creates_data
@pytest.mark.title("Booking one free slot answers 201 with Location, ETag, Last-Modified and the appointment")
@pytest.mark.requirement("APT-BOOK-015", "APT-BOOK-016", "APT-BOOK-017", "APT-PRF-003", "GEN-HTTP-004")
def test_book_one_slot(diary, booker, target, verify):
    slot = diary.slot()
    body = booker.payload([slot])
    ex = booker.book(body)
    verify.must(ex, rules.made(body, "APT-BOOK-015"))
    base = target.provider.base_url
    verify(ex, meta("Appointment", profiles.APPOINTMENT, "APT-BOOK-015"),
           http.etag_matches_version("APT-BOOK-015"), rules.created_location(base, "APT-BOOK-015"),
           rules.created_headers(base, "GEN-HTTP-004"),
           each("Appointment", rules.types_from(slot.slot_type, slot.schedule_type), "APT-BOOK-016"),
           each("Appointment", rules.slot_and_schedule_type, "APT-BOOK-016"),
           each("Appointment", rules.no_reason_or_specialty, "APT-BOOK-017"),
           resource("Appointment", "APT-PRF-003"), meta("Appointment", profiles.APPOINTMENT, "APT-PRF-003"),
           profile("Appointment", "APT-PRF-003"))


@pytest.mark.creates_data
@pytest.mark.title("The booking organisation is stored and returned, when booked and when read later")
@pytest.mark.requirement("APT-BOOK-018")
def test_book_keeps_booking_organisation(diary, booker, verify):
    org = booker.org
    slot = diary.slot()
    body = booker.payload([slot])
    ex = booker.book(body)
    appt = _made(verify, ex, body, "the booking whose organisation this test reads")
    rule = rules.booking_org_is(org.ods_code, org.name, org.telephone)
    verify(ex, each("Appointment", rule, "APT-BOOK-018"))
    read = booker.read(appt["id"])
    require(verify, read, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"),
            what="the read of the appointment just booked")
    verify(read, each("Appointment", rule, "APT-BOOK-018"))


@pytest.mark.creates_data
@pytest.mark.title("Two adjacent slots of one schedule, channel and slot type are booked as one appointment")
@pytest.mark.requirement("APT-BOOK-010")
def test_book_adjacent_slots(diary, booker, appointments, verify):
    capability(appointments.multi_slot_booking, "booking several slots as one appointment (multi_slot_booking)")
    pair = booking.adjacent_pair(diary.free(enough=2))
    if pair is None:
        verify.stop("the target offers no two adjacent free slots of one schedule, delivery channel and slot type")
    body = booker.payload(list(pair))
    ex = booker.book(body, label="book two adjacent slots as one appointment")
    appt = _accepted(verify, ex, body, "APT-BOOK-010", "booking two adjacent slots of one schedule, channel and "
                     "slot type was refused; they may be booked as one appointment",
                     "two adjacent slots of one schedule, channel and slot type are accepted as one booking",
                     "the booking of two adjacent slots", reading=MULTI)
    refs = sorted(str(s.get("reference")) for s in appt.get("slot") or [] if isinstance(s, dict))
    want = sorted(f"Slot/{s.id}" for s in pair)
    verify.that(refs == want, "APT-BOOK-010", f"the appointment names slots {', '.join(refs) or 'none'}, booked "
                f"{', '.join(want)}", exchange=ex, held="the appointment names both slots booked")
    same = (uktime.parse_instant(appt.get("start")) == pair[0].start
            and uktime.parse_instant(appt.get("end")) == pair[1].end)
    verify.that(same, "APT-BOOK-010", f"the appointment runs {appt.get('start')} to {appt.get('end')}, not from "
                "the first slot's start to the last slot's end", exchange=ex,
                held="the appointment runs from the first slot's start to the last slot's end")


def _refused_pair(slots, case):
    if case == "a gap between them":
        return booking.gapped_pair(slots)
    want = {"different schedules": dict(same_schedule=False, same_channel=True, same_type=True),
            "different delivery channels": dict(same_schedule=True, same_channel=False, same_type=True),
            "different slot types": dict(same_schedule=True, same_channel=True, same_type=False)}[case]
    # Prefer slots that break only this rule; otherwise any adjacent pair breaking it.
    return booking.adjacent_pair(slots, **want) or booking.adjacent_pair(
        slots, **{k: (v if v is False else None) for k, v in want.items()})


@pytest.mark.creates_data
@pytest.mark.title("Several slots with {case} are refused as one appointment")
@pytest.mark.requirement("APT-BOOK-010", "GEN-ERR-001c")
@pytest.mark.parametrize("case", ["a gap between them", "different schedules", "different delivery channels",
                                  "different slot types"])
def test_book_refuses_unbookable_slot_sets(diary, booker, verify, case):
    pair = _refused_pair(diary.free(enough=2), case)
    if pair is None:
        verify.stop(f"the target offers no two free slots with {case} in the next 14 days")
    verify(booker.book(booker.payload(list(pair))), rules.refused("APT-BOOK-010", reading=MULTI), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("A slot that has already started is not booked")
@pytest.mark.requirement("APT-BOOK-011", "GEN-ERR-001c")
def test_book_refuses_past_slot(diary, booker, verify):
    ex = diary.searched(f"ge{day(-6)}", f"le{day(0)}", label="search for slots that have already started",
                        recurse=("Schedule:actor:Location", "Schedule:actor:Practitioner"),
                        what="the search for a slot that has already started")
    now = uktime.now()
    past = [s for s in booking.free_slots(ex.json) if s.start < now and s.bookable]
    if not past:
        verify.stop("the target shows no free slot in the last week that has already started")
    verify(booker.book(booker.payload([past[-1]])),
           rules.refused("APT-BOOK-011", reading="D-12: a 4xx with an OperationOutcome; the code is not named"),
           diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("Booking a slot that was just booked is refused with 409 DUPLICATE_REJECTED")
@pytest.mark.requirement("APT-BOOK-012")
def test_book_refuses_taken_slot(diary, booker, verify):
    slot = diary.slot()
    booker.booked([slot], what="the first booking of the slot")
    again = booker.book(booker.payload([slot], description="second booking of the same slot"),
                        label="book the same slot again")
    verify(again, outcome.operation_outcome(409, "DUPLICATE_REJECTED", "APT-BOOK-012", issue_code="duplicate"))


@pytest.mark.creates_data
@pytest.mark.title("A booking whose start and end differ from its slot is refused")
@pytest.mark.requirement("APT-BOOK-013", "GEN-ERR-001c")
def test_book_refuses_wrong_times(diary, booker, verify):
    slot = diary.slot()
    body = booker.payload([slot])
    body["start"] = uktime.format_local(slot.start + dt.timedelta(minutes=5))
    body["end"] = uktime.format_local(slot.end + dt.timedelta(minutes=5))
    verify(booker.book(body), rules.refused("APT-BOOK-013", reading="BOOK-RULES: a 4xx with an OperationOutcome"),
           diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("A slot restricted by {restriction} is not booked for an organisation it is not offered to")
@pytest.mark.requirement("APT-BOOK-013", "GEN-ERR-001c")
@pytest.mark.parametrize("restriction", ["organisation type", "ODS code"])
def test_book_refuses_restricted_slot(diary, booker, appointments, verify, restriction):
    other = booker.other_org
    if restriction == "organisation type":
        value = need(appointments.restricted_org_type, "restricted_org_type")
        flt = [("searchFilter", f"{booking.ORGANISATION_TYPE_SYSTEM}|{value}")]
        if other.type == value:
            verify.stop("the target file's other_organisation has the restricted organisation type itself")
    else:
        value = need(appointments.restricted_ods_code, "restricted_ods_code")
        flt = [("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{value}")]
        if other.ods_code == value:
            verify.stop("the target file's other_organisation has the restricted ODS code itself")
    unrestricted = {s.id for s in diary.free(filters=[])}
    restricted = [s for s in diary.free(filters=flt) if s.id not in unrestricted]
    if not restricted:
        verify.stop(f"the target offers no free slot restricted to {restriction} {value} in the next 14 days")
    body = booker.payload([restricted[0]], org=other)
    verify(booker.book(body, org=other, label=f"book a slot restricted to {value} as {other.ods_code}"),
           rules.refused("APT-BOOK-013", reading="BOOK-RULES: restrictions are availability rules; a 4xx is required"),
           diagnostics())


def _with_reference(body: dict, kind: str) -> dict:
    body = copy.deepcopy(body)
    unknown = "gpc-assure-unknown-id"
    if kind == "Slot":
        body["slot"] = [{"reference": f"Slot/{unknown}"}]
    elif kind == "Practitioner":
        body["participant"] = [p for p in body["participant"] if not p["actor"]["reference"].startswith(kind)]
        body["participant"].append({"actor": {"reference": f"Practitioner/{unknown}"}, "status": "accepted"})
    else:
        for p in body["participant"]:
            if p["actor"]["reference"].startswith(f"{kind}/"):
                p["actor"]["reference"] = f"{kind}/{unknown}"
    return body


@pytest.mark.creates_data
@pytest.mark.title("A booking naming a {kind} that does not exist is refused with 422 REFERENCE_NOT_FOUND")
@pytest.mark.requirement("APT-BOOK-014", "ERR-011", "GEN-ERR-001c")
@pytest.mark.parametrize("kind", ["Slot", "Patient", "Location", "Practitioner"])
def test_book_refuses_unknown_references(diary, booker, verify, kind):
    body = _with_reference(booker.payload([diary.slot()]), kind)
    ex = booker.book(body, label=f"book with an unknown {kind}")
    verify(ex, outcome.operation_outcome(422, ("REFERENCE_NOT_FOUND", "INVALID_RESOURCE"), "APT-BOOK-014",
                                         reading=D07),
           outcome.operation_outcome(422, ("REFERENCE_NOT_FOUND", "INVALID_RESOURCE"), "ERR-011", reading=D07),
           diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("A booking carrying {element} is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-BOOK-007", "GEN-ERR-001c")
@pytest.mark.parametrize("element", ["reason", "specialty"])
def test_book_refuses_reason_and_specialty(diary, booker, verify, element):
    body = booker.payload([diary.slot()])
    body[element] = [{"coding": [{"system": "http://snomed.info/sct", "code": "394814009",
                                  "display": "General practice (specialty) (qualifier value)"}]}] \
        if element == "specialty" else [{"coding": [{"system": "http://snomed.info/sct", "code": "25064002",
                                                     "display": "Headache (finding)"}]}]
    verify(booker.book(body), outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-BOOK-007"), diagnostics())


def _invalid_bookings():
    def drop(key):
        return lambda b: b.pop(key)

    def drop_participant(kind):
        return lambda b: b.update(participant=[p for p in b["participant"]
                                               if not p["actor"]["reference"].startswith(kind)])

    def org(change):
        def mutate(b):
            change(b["contained"][0])
        return mutate

    return {
        "no start": drop("start"),
        "no end": drop("end"),
        "no status": drop("status"),
        "no slot": drop("slot"),
        "no description": drop("description"),
        "no Patient participant": drop_participant("Patient/"),
        "no Location participant": drop_participant("Location/"),
        "a participant without status": lambda b: b["participant"][0].pop("status"),
        "an identifier without a value": lambda b: b.update(identifier=[{"system": CONSUMER_ID_SYSTEM}]),
        "an unknown element": lambda b: b.update(typeCode="booked-by-test"),
        "a booking organisation without name": org(lambda o: o.pop("name")),
        "a booking organisation without telecom": org(lambda o: o.pop("telecom")),
        "an absolute booking organisation reference": lambda b: b["extension"][0]["valueReference"].update(
            reference="https://directory.invalid/Organization/1"),
    }


@pytest.mark.creates_data
@pytest.mark.title("A booking with {case} is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-BOOK-019", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_invalid_bookings()))
def test_book_refuses_invalid_booking(diary, booker, verify, case):
    body = booker.payload([diary.slot()])
    _invalid_bookings()[case](body)
    verify(booker.book(body, label=f"book with {case}"), outcome.operation_outcome(422, "INVALID_RESOURCE",
                                                                                  "APT-BOOK-019"), diagnostics())


@pytest.mark.creates_data
@pytest.mark.title("A booking without a Practitioner participant is accepted with 201 and the appointment")
@pytest.mark.requirement("APT-BOOK-024")
def test_book_without_practitioner(diary, booker, verify):
    slots = diary.free()
    slot = next((s for s in slots if s.practitioner_id), slots[0])  # one whose booking would name a practitioner
    body = booker.payload([slot])
    body["participant"] = [p for p in body["participant"] if not p["actor"]["reference"].startswith("Practitioner/")]
    ex = booker.book(body, label="book without a Practitioner participant")
    _accepted(verify, ex, body, "APT-BOOK-024", "a booking without a Practitioner participant was refused",
              "a booking without a Practitioner participant is accepted", "the booking without a practitioner",
              reading="BOOK-NO-PRACTITIONER: the Practitioner participant is a SHOULD for the consumer, so it is "
                      "optional")


@pytest.mark.creates_data
@pytest.mark.title("A booking whose body is an Organization, not an Appointment, is refused with 422 INVALID_RESOURCE")
@pytest.mark.requirement("APT-BOOK-025", "GEN-ERR-001c")
def test_book_refuses_other_resource_type(booker, verify):
    body = booking.booking_organisation(booker.org)
    verify(booker.book(body, label="book with an Organization as the body"),
           outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-BOOK-025"), diagnostics())


def _minimal_made():
    """Prefer: return=minimal: 201 Created naming the new appointment in Location (there is no body to read)."""
    def rule(ex):
        if ex.response.status != 201:
            return [f"the booking was answered HTTP {ex.response.status}, not 201 Created"]
        if not ex.response.header("Location"):
            return ["the booking was answered 201 without a Location naming the appointment created"]
        return []

    return Check("APT-BOOK-015", rule, "the booking was answered 201 naming the appointment created in Location")


@pytest.mark.creates_data
@pytest.mark.title("Prefer: return=minimal is answered 201 with an empty body")
@pytest.mark.requirement("APT-BOOK-020")
def test_book_prefer_minimal(diary, booker, verify):
    body = booker.payload([diary.slot()])
    ex = booker.book(body, headers={"Prefer": "return=minimal"})
    require(verify, ex, _minimal_made(), what="the booking asked to return nothing")
    raw = ex.response.body.strip() if ex.response else b""
    verify.that(not raw, "APT-BOOK-020", f"return=minimal was answered with a {len(raw)}-byte body", exchange=ex,
                held="Prefer: return=minimal was answered 201 with an empty body")


@pytest.mark.creates_data
@pytest.mark.title("serviceType and serviceCategory sent by the consumer are ignored: the provider's own come back")
@pytest.mark.requirement("APT-BOOK-020")
def test_book_ignores_consumer_types(diary, booker, verify):
    slot = diary.slot()
    body = booker.payload([slot])
    body["serviceType"] = [{"text": "Type made up by the consumer"}]
    body["serviceCategory"] = {"text": "Category made up by the consumer"}
    ex = booker.book(body)
    _made(verify, ex, body, "the booking sending its own types")
    verify(ex, each("Appointment", rules.types_from(slot.slot_type, slot.schedule_type), "APT-BOOK-020"))


@pytest.mark.creates_data
@pytest.mark.title("A 100-character description and a 500-character comment are stored and returned whole")
@pytest.mark.requirement("APT-BOOK-009")
def test_book_keeps_text_whole(diary, booker, verify):
    description = ("Sore throat for three days; requests a call back before the appointment. " * 2)[:100]
    comment = ("Patient prefers the morning; uses a wheelchair; needs step-free access to the room. " * 7)[:500]
    body = booker.payload([diary.slot()], description=description, comment=comment)
    ex = booker.book(body)
    appt = _accepted(verify, ex, body, "APT-BOOK-009", "a booking with a 100-character description and a "
                     "500-character comment (within the limits) was refused", "text within the limits is accepted",
                     "the booking whose text this test reads")
    rule = rules.text_kept(description, comment)
    verify(ex, each("Appointment", rule, "APT-BOOK-009"))
    read = booker.read(appt["id"])
    require(verify, read, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"),
            what="the read of the appointment just booked")
    verify(read, each("Appointment", rule, "APT-BOOK-009"))


@pytest.mark.creates_data
@pytest.mark.title("A booking sent without a comment comes back without one, when booked and when read")
@pytest.mark.requirement("APT-BOOK-009")
def test_book_without_comment(diary, booker, verify):
    body = booker.payload([diary.slot()], comment=None)
    ex = booker.book(body, label="book without a comment")
    appt = _made(verify, ex, body, "the booking sent without a comment")
    reading = "BOOK-NO-COMMENT: no comment sent, none returned"
    verify(ex, each("Appointment", rules.no_comment, "APT-BOOK-009", reading=reading))
    read = booker.read(appt["id"])
    require(verify, read, rules.is_appointment(appt["id"], "APT-READ-001", what="the read"),
            what="the read of the appointment just booked")
    verify(read, each("Appointment", rules.no_comment, "APT-BOOK-009", reading=reading))


@pytest.mark.creates_data
@pytest.mark.title("A {field} longer than the consumer limit is stored whole or refused, never shortened")
@pytest.mark.requirement("APT-BOOK-009", "GEN-ERR-001c")
@pytest.mark.parametrize("field", ["description", "comment"])
def test_book_overlong_text(diary, booker, verify, field):
    long_text = ("Overlong free text sent to see whether the provider shortens it silently. " * 8)
    long_text = long_text[:101] if field == "description" else (long_text * 2)[:501]
    body = booker.payload([diary.slot()], **{field: long_text})
    ex = booker.book(body)
    if ex.status is None or ex.status >= 300:
        verify(ex, rules.refused("APT-BOOK-009", reading=LENGTH), diagnostics())
        return
    appt = _made(verify, ex, body, f"the booking of an overlong {field}, accepted")
    verify(ex, each("Appointment", rules.text_kept(appt.get("description") if field == "comment" else long_text,
                                                   long_text if field == "comment" else appt.get("comment")),
                    "APT-BOOK-009", reading=LENGTH))
