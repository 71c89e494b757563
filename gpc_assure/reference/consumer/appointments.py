"""The reference consumer's Appointment Management steps, as an urgent-care booking system does them.

Free slots are searched two weeks at a time with the mandatory parameters, a searchFilter naming
the booking organisation, and the recursive includes the display needs. A booking follows a search
and a find (registering the patient first when the practice does not hold them); several slots are
booked together only when adjacent with the same schedule, delivery channel and slot type. Amend and
cancel read the appointment first and name the version read in If-Match.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gpc_assure.fhir import booking, profiles, uktime
from gpc_assure.reference.consumer import foundations
from gpc_assure.reference.consumer.client import Session, json_of
from gpc_assure.reference.faults import declare
from gpc_assure.target import BookingOrganisation


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "appointments", description, role="consumer")


WINDOW_OVER_14_DAYS = _fault("search-window-over-14-days", ["APT-SLOT-004"],
                             "a period longer than two weeks is searched in one request")
WRONG_PREFIXES = _fault("search-wrong-date-prefixes", ["APT-SLOT-001"], "slot searches send start=gt... and end=lt...")
NO_OFFSET = _fault("search-datetime-without-offset", ["APT-SLOT-002"],
                   "slot searches send date-times without a UTC offset (yyyy-mm-ddThh:mm:ss)")
NO_STATUS = _fault("search-without-status", ["APT-SLOT-003"], "slot searches leave out status=free")
NO_FILTER = _fault("search-without-search-filter", ["CON-011"],
                   "slot searches send no searchFilter (neither the ODS code nor the organisation type)")
NO_ORG_INCLUDE = _fault("search-without-organisation-include", ["CON-012"],
                        "slot searches leave out _include:recurse=Location:managingOrganization")
NO_PROFILE = _fault("books-without-profile", ["APT-BOOK-001", "CON-020b"], "bookings carry no meta.profile")
NO_LOCATION = _fault("books-without-location-participant", ["APT-BOOK-002"],
                     "bookings name the patient and practitioner but no Location participant")
WRONG_END = _fault("books-wrong-end-time", ["APT-BOOK-003"],
                   "a booking of several slots ends when the first slot ends")
NO_CREATED = _fault("books-without-created", ["APT-BOOK-004"], "bookings carry no created date-time")
WRONG_ORG_TYPE = _fault("booking-organisation-wrong-type", ["APT-BOOK-005"],
                        "the booking organisation's type differs from the organisation type sent in searchFilter")
WITH_REASON = _fault("books-with-reason", ["APT-BOOK-006"], "bookings carry a reason")
NO_PRACTITIONER = _fault("books-without-practitioner", ["APT-BOOK-006b"],
                         "bookings leave out the Practitioner participant the slot's schedule names")
LONG_DESCRIPTION = _fault("description-over-100-characters", ["APT-BOOK-008", "CON-016"],
                          "bookings carry a 120-character description")
BOOKS_UNREGISTERED = _fault("books-without-registering", ["APT-BOOK-021", "CON-006b"],
                            "a patient the practice does not hold is booked without being registered "
                            "(as Patient/<NHS number>)")
BOOKS_PAST = _fault("consumer-books-past-slot", ["CON-015"],
                    "the first free slot is taken from a search starting days ago, so a past slot is booked")
NON_ADJACENT = _fault("consumer-books-non-adjacent-slots", ["CON-017"],
                      "a double appointment is booked from two slots with a gap between them")
ABSOLUTE_REFERENCES = _fault("books-with-absolute-references", ["GEN-RES-002c"],
                             "booking participants are absolute URLs instead of relative references")
REBOOKS_TAKEN = _fault("rebooks-taken-slot", ["CON-027"],
                       "after 409 DUPLICATE_REJECTED the same booking is sent again, without searching again")
RETRIEVE_FROM_PAST = _fault("retrieve-from-past-date", ["APT-RET-001", "CON-018a"],
                            "appointments are retrieved from yesterday (start=ge<yesterday>)")
AMENDS_WITHOUT_IF_MATCH = _fault("amends-without-if-match", ["APT-AMD-001", "CON-020a"],
                                 "amendments are sent without If-Match")
AMENDS_STALE = _fault("amends-with-stale-etag", ["APT-AMD-001", "CON-020a"],
                      "the amendment is built from the appointment as retrieved earlier, naming that old version, "
                      "instead of reading it again")
AMEND_CHANGES_MORE = _fault("amend-changes-other-elements", ["CON-019"],
                            "an amendment also sets priority, besides description and comment")
CANCELS_WITHOUT_REASON = _fault("cancels-without-reason", ["APT-CAN-001"],
                                "cancellations carry no cancellation reason extension")

ORGANISATION_TYPE_SYSTEM = booking.ORGANISATION_TYPE_SYSTEM
DESCRIPTION = "Booked by the gpc-assure reference consumer"
RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location", "Location:managingOrganization")
MAX_DAYS = 14


def organisation(ctx: dict[str, str]) -> BookingOrganisation:
    return BookingOrganisation(ods_code=ctx["org_ods_code"], name=ctx["org_name"],
                               telephone=ctx["org_telephone"] or "0000000000",
                               type=ctx["org_type"] or None)  # type: ignore[arg-type]


def _bound(day: dt.date, prefix: str, s: Session) -> str:
    if s.faults.on(NO_OFFSET):
        return f"{prefix}{day.isoformat()}T{'00:00:00' if prefix == 'ge' else '23:59:59'}"
    return f"{prefix}{day.isoformat()}"


def search(s: Session, ctx: dict[str, str], first: dt.date, days: int) -> list[booking.FreeSlot]:
    """The free slots from `first` for `days` days, two weeks per request (APT-SLOT-004)."""
    f = s.faults
    last = first + dt.timedelta(days=days)
    chunk = days if f.on(WINDOW_OVER_14_DAYS) else MAX_DAYS
    found: dict[str, booking.FreeSlot] = {}
    start = first
    while True:
        end = min(start + dt.timedelta(days=chunk), last)
        ge, le = ("gt", "lt") if f.on(WRONG_PREFIXES) else ("ge", "le")
        params = [("start", _bound(start, ge, s)), ("end", _bound(end, le, s))]
        if not f.on(NO_STATUS):
            params.append(("status", "free"))
        params.append(("_include", "Slot:schedule"))
        params += [("_include:recurse", r) for r in RECURSE
                   if not (r == "Location:managingOrganization" and f.on(NO_ORG_INCLUDE))]
        if not f.on(NO_FILTER):
            params.append(("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ctx['org_ods_code']}"))
            if ctx.get("org_type"):
                params.append(("searchFilter", f"{ORGANISATION_TYPE_SYSTEM}|{ctx['org_type']}"))
        response = s.call(ctx, "slot.search", params=params)
        if response is not None and response.status_code == 200:
            for slot in booking.free_slots(json_of(response)):
                found.setdefault(slot.id, slot)
        start = end
        if start >= last:
            break
    return sorted(found.values(), key=lambda x: (x.start, x.schedule_id or "", x.id))


def appointment(s: Session, ctx: dict[str, str], slots: list[booking.FreeSlot], patient: str) -> dict[str, Any]:
    """The booking request for these slots, with the faults that change it."""
    f = s.faults
    org = organisation(ctx)
    if f.on(NO_FILTER):  # no organisation type was searched with, so the booking organisation names none
        org = org.model_copy(update={"type": None})
    if f.on(WRONG_ORG_TYPE):
        other = "gp-practice" if org.type != "gp-practice" else "urgent-care"
        org = org.model_copy(update={"type": other})
    description = ("Booked by the gpc-assure reference consumer on behalf of NHS 111 after a telephone "
                   "assessment of the caller") if f.on(LONG_DESCRIPTION) else DESCRIPTION
    body = booking.appointment(slots, patient, org, description)
    if f.on(NO_PROFILE):
        body.pop("meta", None)
    if f.on(NO_LOCATION):
        body["participant"] = [p for p in body["participant"]
                               if not p["actor"]["reference"].startswith("Location/")]
    if f.on(WRONG_END) and len(slots) > 1:
        body["end"] = uktime.format_local(min(slots, key=lambda x: x.start).end)
    if f.on(NO_CREATED):
        body.pop("created", None)
    if f.on(WITH_REASON):
        body["reason"] = [{"text": "Sore throat"}]
    if f.on(NO_PRACTITIONER):
        body["participant"] = [p for p in body["participant"]
                               if not p["actor"]["reference"].startswith("Practitioner/")]
    if f.on(ABSOLUTE_REFERENCES):
        for p in body["participant"]:
            p["actor"]["reference"] = f"{ctx['base_url']}/{p['actor']['reference']}"
    return body


def _first_bookable(slots: list[booking.FreeSlot], exclude: set[str] = frozenset()) -> booking.FreeSlot | None:  # type: ignore[assignment]
    now = uktime.now()
    return next((x for x in slots if x.bookable and x.start > now and x.id not in exclude), None)


def book(s: Session, ctx: dict[str, str], slots: list[booking.FreeSlot], patient: str) -> int | None:
    response = s.call(ctx, "appointment.book", body=appointment(s, ctx, slots, patient))
    body = json_of(response)
    if response is not None and response.status_code == 201 and isinstance(body, dict) and body.get("id"):
        s.seen[body["id"]] = (booking.version_of(body, response.headers.get("etag")) or "", body)
    return response.status_code if response is not None else None


def _patient_for_booking(s: Session, ctx: dict[str, str]) -> str | None:
    if s.faults.on(BOOKS_UNREGISTERED):
        ok, entries = foundations.find(s, ctx)
        if ok and not entries:
            return ctx["nhs_number"]
        return foundations.patient_id(s, ctx, entries[0]) if entries else None
    return foundations.find_or_register(s, ctx)


def _days(ctx: dict[str, str], default: int) -> int:
    try:
        return max(1, int(ctx.get("days") or default))
    except ValueError:
        return default


def search_slots(s: Session, ctx: dict[str, str]) -> None:
    foundations.read_capability(s, ctx)
    slots = search(s, ctx, uktime.today(), _days(ctx, 28))
    s.note(f"{len(slots)} free slots shown")


def book_appointment(s: Session, ctx: dict[str, str]) -> None:
    foundations.read_capability(s, ctx)
    if s.faults.on(BOOKS_PAST):
        slots = search(s, ctx, uktime.today() - dt.timedelta(days=6), 13)
        chosen = next((x for x in slots if x.bookable), None)
    else:
        chosen = _first_bookable(search(s, ctx, uktime.today(), _days(ctx, 7)))
    if chosen is None:
        s.note("no free slot to book")
        return
    patient = _patient_for_booking(s, ctx)
    if patient:
        book(s, ctx, [chosen], patient)


def book_double_appointment(s: Session, ctx: dict[str, str]) -> None:
    foundations.read_capability(s, ctx)
    slots = [x for x in search(s, ctx, uktime.today(), _days(ctx, 7)) if x.start > uktime.now()]
    pair = booking.gapped_pair(slots) if s.faults.on(NON_ADJACENT) else booking.adjacent_pair(slots)
    if pair is None:
        s.note("no two slots may be booked together")
        return
    patient = _patient_for_booking(s, ctx)
    if patient:
        book(s, ctx, list(pair), patient)


def book_after_conflict(s: Session, ctx: dict[str, str]) -> None:
    """Book; when the slot was taken meanwhile (409), search again and book another (CON-027)."""
    foundations.read_capability(s, ctx)
    days = _days(ctx, 7)
    chosen = _first_bookable(search(s, ctx, uktime.today(), days))
    patient = _patient_for_booking(s, ctx)
    if chosen is None or not patient:
        return
    taken: set[str] = set()
    for _ in range(3):
        status = book(s, ctx, [chosen], patient)
        if status != 409:
            return
        taken.add(chosen.id)
        if s.faults.on(REBOOKS_TAKEN):
            continue  # sends the same booking again
        chosen = _first_bookable(search(s, ctx, uktime.today(), days), taken)
        if chosen is None:
            return


def retrieve_appointments(s: Session, ctx: dict[str, str]) -> None:
    foundations.read_capability(s, ctx)
    ok, entries = foundations.find(s, ctx)
    if not ok or not entries:
        return
    pid = foundations.patient_id(s, ctx, entries[0])
    first = uktime.today() - dt.timedelta(days=1) if s.faults.on(RETRIEVE_FROM_PAST) else uktime.today()
    last = uktime.today() + dt.timedelta(days=_days(ctx, 14))
    response = s.call(ctx, "appointment.retrieve", path_params={"id": pid or ""},
                      params=[("start", f"ge{first.isoformat()}"), ("start", f"le{last.isoformat()}")])
    body = json_of(response)
    for entry in (body.get("entry") or []) if isinstance(body, dict) else []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Appointment" and res.get("id"):
            s.seen[res["id"]] = (booking.version_of(res) or "", res)


def _read(s: Session, ctx: dict[str, str], aid: str) -> tuple[str, dict[str, Any]] | None:
    response = s.call(ctx, "appointment.read", path_params={"id": aid})
    body = json_of(response)
    if response is None or response.status_code != 200 or not isinstance(body, dict):
        return None
    version = booking.version_of(body, response.headers.get("etag")) or ""
    s.seen[aid] = (version, body)
    return version, body


def amend_appointment(s: Session, ctx: dict[str, str]) -> None:
    aid = ctx.get("appointment_id")
    if not aid:
        return
    current = s.seen.get(aid) if s.faults.on(AMENDS_STALE) else None
    current = current or _read(s, ctx, aid)
    if current is None:
        return
    version, resource = current
    body = booking.for_update(resource)
    body["description"] = ctx.get("description") or DESCRIPTION
    if s.faults.on(AMEND_CHANGES_MORE):
        body["priority"] = 1
    extra = {} if s.faults.on(AMENDS_WITHOUT_IF_MATCH) else booking.if_match(version)
    s.call(ctx, "appointment.amend", path_params={"id": aid}, body=body, extra=extra)


def cancel_appointment(s: Session, ctx: dict[str, str]) -> None:
    aid = ctx.get("appointment_id")
    if not aid:
        return
    current = _read(s, ctx, aid)
    if current is None:
        return
    version, resource = current
    reason = ctx.get("reason") or "Cancelled by the patient"
    if s.faults.on(CANCELS_WITHOUT_REASON):
        body = booking.for_update(resource)
        body["status"] = "cancelled"
    else:
        body = booking.cancellation(resource, reason)
    s.call(ctx, "appointment.cancel", path_params={"id": aid}, body=body, extra=booking.if_match(version))


STEPS = {
    "search-slots": search_slots,
    "book-appointment": book_appointment,
    "book-double-appointment": book_double_appointment,
    "book-after-conflict": book_after_conflict,
    "retrieve-appointments": retrieve_appointments,
    "amend-appointment": amend_appointment,
    "cancel-appointment": cancel_appointment,
}
