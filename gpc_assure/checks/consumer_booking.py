"""What a consumer sends for Appointment Management: slot searches, bookings, retrieves, amends and cancels.

Per-request rules take one recorded request; journey rules take a step's requests in arrival order and
judge them against what the simulator had served the consumer before (the slots a search returned, the
appointment versions a read returned). They reuse the engine's readers of searchsets and appointments
(gpc_assure.fhir.booking, gpc_assure.checks.appointment, gpc_assure.checks.references). A rule that
finds nothing of the kind it judges (no booking, no booking of several slots, a booking whose slots no
search had offered) raises `NotJudged`: it is never met on nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from typing import Any

from gpc_assure.checks import appointment as appt_rules
from gpc_assure.checks.consumer_foundations import (
    a_resource,
    found_nothing,
    patients_in,
    query,
    request_json,
    response_json,
)
from gpc_assure.checks.core import NotJudged, each_of
from gpc_assure.checks.references import references, relative_only
from gpc_assure.fhir import booking, profiles, uktime
from gpc_assure.transport.exchange import Exchange

MAX_RANGE_DAYS = 14
MAX_DESCRIPTION, MAX_COMMENT = 100, 500
ORG_INCLUDE = "Location:managingOrganization"
_IF_MATCH = re.compile(r'^\s*W/"([^"]+)"\s*$')


def _values(ex: Exchange, name: str) -> list[str]:
    return [v for k, v in query(ex) if k == name]


def _when(ex: Exchange) -> dt.datetime:
    arrived = getattr(ex, "received_at", 0.0) or 0.0
    return dt.datetime.fromtimestamp(arrived, dt.UTC) if arrived else uktime.now()


# -- searching for free slots -------------------------------------------------------------------------------

def search_prefixes(ex: Exchange) -> list[str]:
    """APT-SLOT-001: start exactly once with ge, end exactly once with le."""
    out = []
    for name, prefix in (("start", "ge"), ("end", "le")):
        values = _values(ex, name)
        if len(values) != 1:
            out.append(f"{name} is sent {len(values)} times (exactly once is expected)")
        elif not values[0].startswith(prefix):
            out.append(f"{name}={values[0]!r} does not have the prefix {prefix}")
    return out


def _date_problem(value: str, name: str) -> str | None:
    if uktime.DATE.match(value):
        try:
            dt.date.fromisoformat(value)
            return None
        except ValueError:
            return f"{name} {value!r} is not a real date"
    return uktime.local_problem(value, name) and (
        f"{name} {value!r} is neither yyyy-mm-dd nor yyyy-mm-ddThh:mm:ss+hh:mm in UK local time (+00:00 or +01:00)")


def search_dates(ex: Exchange) -> list[str]:
    """APT-SLOT-002: each date is yyyy-mm-dd or a UK local date-time with its offset; no partial dates."""
    out, seen = [], 0
    for name in ("start", "end"):
        for v in _values(ex, name):
            seen += 1
            value = v[2:] if len(v) > 2 and v[:2].isalpha() else v
            if (p := _date_problem(value, name)) is not None:
                out.append(p)
    if not seen:
        raise NotJudged("the search sends neither start nor end (APT-SLOT-001 judges that)")
    return out


def search_mandatory(ex: Exchange) -> list[str]:
    """APT-SLOT-003: status=free and _include=Slot:schedule."""
    out = []
    status = _values(ex, "status")
    if status != ["free"]:
        out.append(f"status is {status or 'absent'} (status=free is required)")
    if "Slot:schedule" not in _values(ex, "_include"):
        out.append("_include=Slot:schedule is absent")
    return out


def _day(value: str) -> dt.date | None:
    value = value[2:] if len(value) > 2 and value[:2].isalpha() else value
    try:
        if uktime.DATE.match(value):
            return dt.date.fromisoformat(value)
        moment = uktime.parse_instant(value) or dt.datetime.fromisoformat(value)
        return moment.date()
    except ValueError:
        return None


def search_range(ex: Exchange) -> list[str]:
    """APT-SLOT-004: one search spans at most two weeks."""
    starts, ends = _values(ex, "start"), _values(ex, "end")
    if not starts or not ends:
        raise NotJudged("the search does not send both start and end, so its span is unknown")
    first, last = _day(starts[0]), _day(ends[0])
    if first is None or last is None:
        raise NotJudged(f"start {starts[0]!r} or end {ends[0]!r} is not a date, so the span is unknown "
                        "(APT-SLOT-002 judges the dates)")
    if (last - first).days > MAX_RANGE_DAYS:
        return [f"the search spans {(last - first).days} days ({starts[0]} to {ends[0]}); at most {MAX_RANGE_DAYS} "
                "per search, longer periods in several searches"]
    return []


def search_filter(ods_code: str, org_type: str | None) -> Any:
    """CON-011: searchFilter names the booking organisation's ODS code and, when it has one, its type."""

    def rule(ex: Exchange) -> list[str]:
        """the search sends searchFilter with the booking organisation's ODS code and type"""
        filters = _values(ex, "searchFilter")
        out = []
        want = [f"{profiles.ODS_ORG_SYSTEM}|{ods_code}"]
        if org_type:
            want.append(f"{booking.ORGANISATION_TYPE_SYSTEM}|{org_type}")
        for w in want:
            if w not in filters:
                out.append(f"searchFilter={w} is not sent (sent: {filters or 'none'})")
        return out

    return rule


def organisation_include(ex: Exchange) -> list[str]:
    """CON-012: _include:recurse=Location:managingOrganization, as a consumer displaying the practice needs."""
    return [] if ORG_INCLUDE in _values(ex, "_include:recurse") else [
        f"_include:recurse={ORG_INCLUDE} is not sent"]


# -- what the consumer had been shown -------------------------------------------------------------------------

def slots_served(calls: Sequence[Exchange]) -> dict[str, booking.FreeSlot]:
    """Every free slot the searches among `calls` returned, by id."""
    out: dict[str, booking.FreeSlot] = {}
    for ex in calls:
        if ex.interaction == "slot.search" and ex.status == 200:
            for s in booking.free_slots(response_json(ex)):
                out.setdefault(s.id, s)
    return out


def booked_slot_ids(body: Any) -> list[str]:
    refs = [(s or {}).get("reference") or "" for s in (body or {}).get("slot") or [] if isinstance(s, dict)]
    return [r.split("/", 1)[1] for r in refs if r.startswith("Slot/")]


def _bookings(calls: Sequence[Exchange]) -> list[tuple[int, Exchange, dict[str, Any]]]:
    return [(n, ex, body) for n, ex in enumerate(calls)
            if ex.interaction == "appointment.book" and isinstance(body := request_json(ex), dict)]


NO_BOOKING = "no booking with a JSON body arrived"


def _each_booking(calls: Sequence[Exchange], rule: Any, nothing: str = NO_BOOKING) -> list[Any]:
    """Apply `rule(n, ex, body)` to every booking among `calls`; met only if it judged at least one."""
    return each_of(_bookings(calls), lambda b: rule(*b), nothing)


def _body(ex: Exchange, what: str = "the request") -> dict[str, Any]:
    body = request_json(ex)
    if not isinstance(body, dict):
        raise NotJudged(f"{what} body is not a JSON object")
    return body


def _participants(body: dict[str, Any], kind: str) -> list[str]:
    """The ids of the participants of a kind (an absolute reference counts by its tail: GEN-RES-002c judges it)."""
    refs = [((p or {}).get("actor") or {}).get("reference") or "" for p in body.get("participant") or []
            if isinstance(p, dict)]
    return [m.group(2) for r in refs if (m := re.search(rf"(^|/){kind}/([^/]+)$", r))]


# -- booking --------------------------------------------------------------------------------------------------

def appointment_profile(ex: Exchange) -> list[str]:
    """APT-BOOK-001 / APT-AMD-001: the request sends an Appointment naming GPConnect-Appointment-1 in meta.profile."""
    body = request_json(ex)
    if not isinstance(body, dict) or body.get("resourceType") != "Appointment":
        return [f"the request body is {a_resource(body) if isinstance(body, dict) else 'not a JSON object'}, "
                "not an Appointment resource"]
    if profiles.APPOINTMENT not in ((body.get("meta") or {}).get("profile") or []):
        return [f"the Appointment's meta.profile does not name {profiles.APPOINTMENT}"]
    return []


def book_participants(ex: Exchange) -> list[str]:
    """APT-BOOK-002: a Patient and a Location participant, every participant with an actor."""
    body = _body(ex, "the booking")
    out = []
    parts = [p for p in body.get("participant") or [] if isinstance(p, dict)]
    if any(not ((p.get("actor") or {}).get("reference")) for p in parts):
        out.append("a participant has no actor reference")
    refs = [((p.get("actor") or {}).get("reference") or "") for p in parts]
    for kind in ("Patient", "Location"):
        if not any(re.search(rf"(^|/){kind}/[^/]+$", r) for r in refs):
            out.append(f"no {kind} participant")
    return out


def book_times(calls: Sequence[Exchange]) -> list[str]:
    """APT-BOOK-003: status booked; start and end are the first slot's start and the last slot's end."""

    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        out = []
        if body.get("status") != "booked":
            out.append(f"the booking's status is {_shown(body.get('status'))} (booked)")
        start, end = uktime.parse_instant(body.get("start")), uktime.parse_instant(body.get("end"))
        if start is None or end is None:
            return [*out, "the booking needs start and end as date-times with an offset"]
        served = slots_served(calls[:n])
        slots = [served[i] for i in booked_slot_ids(body) if i in served]
        if not slots:
            if out:
                return out
            raise NotJudged("the booking names no slot a search had offered, so its times cannot be compared")
        first, last = min(s.start for s in slots), max(s.end for s in slots)
        if start != first or end != last:
            out.append(f"the booking runs {body.get('start')} to {body.get('end')}, but its slots run "
                       f"{uktime.format_local(first)} to {uktime.format_local(last)}")
        return out

    return _each_booking(calls, one)


def _shown(value: Any) -> str:
    """A value for a message: quoted when given, 'absent' when not."""
    return "absent" if value in (None, "") else repr(value) if isinstance(value, str) else str(value)


def book_mandatory(ex: Exchange) -> list[str]:
    """APT-BOOK-004: slot (one or more), created and description."""
    body = _body(ex, "the booking")
    out = []
    if not booked_slot_ids(body):
        out.append("no slot reference")
    if uktime.parse_instant(body.get("created")) is None:
        out.append(f"created is {_shown(body.get('created'))} (the date and time the booking was made)")
    if not str(body.get("description") or "").strip():
        out.append("no description")
    return out


def book_organisation(calls: Sequence[Exchange]) -> list[str]:
    """APT-BOOK-005: the bookingOrganisation extension names a contained Organization with ODS code, name and
    telephone, whose type is the organisation type the consumer's search sent (or absent if none)."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        out: list[str] = []
        org = appt_rules.booking_organisation(body)
        if org is None:
            return ["no bookingOrganisation extension referencing a contained Organization"]
        if not any(i.get("system") == profiles.ODS_ORG_SYSTEM and i.get("value")
                   for i in org.get("identifier") or [] if isinstance(i, dict)):
            out.append("the booking organisation has no ODS code")
        if not org.get("name"):
            out.append("the booking organisation has no name")
        if not any(isinstance(t, dict) and t.get("value") for t in org.get("telecom") or []):
            out.append("the booking organisation has no telecom")
        searches = [c for c in calls[:n] if c.interaction == "slot.search"]
        sent = [v.split("|", 1)[1] for c in searches[-1:] for v in _values(c, "searchFilter")
                if v.startswith(booking.ORGANISATION_TYPE_SYSTEM + "|")]
        types = [c.get("code") for t in org.get("type") or [] if isinstance(t, dict)
                 for c in t.get("coding") or [] if isinstance(c, dict)]
        if searches and sent and types != sent[:1]:
            out.append(f"the booking organisation's type is {', '.join(map(str, types)) or 'absent'}, the search "
                       f"sent {sent[0]!r}")
        if searches and not sent and types:
            out.append(f"the booking organisation has type {', '.join(map(str, types))} though the search sent no "
                       "organisation type")
        return out

    return _each_booking(calls, one)


def book_no_reason(calls: Sequence[Exchange]) -> list[str]:
    """APT-BOOK-006: a booking carries no reason or specialty."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        return [f"the booking carries {k}" for k in ("reason", "specialty") if body.get(k)]

    return _each_booking(calls, one)


def book_practitioner(calls: Sequence[Exchange]) -> list[str]:
    """APT-BOOK-006b: a Practitioner participant when the booked slot's schedule names the practitioner."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        served = slots_served(calls[:n])
        slots = [served[i] for i in booked_slot_ids(body) if i in served]
        if not any(s.practitioner_id for s in slots):
            raise NotJudged("no booked slot's schedule names a practitioner")
        if not _participants(body, "Practitioner"):
            return ["no Practitioner participant, though the slot's schedule names the practitioner"]
        return []

    return _each_booking(calls, one)


def text_lengths(ex: Exchange) -> list[str]:
    """APT-BOOK-008 / CON-016: description at most 100 characters, comment at most 500."""
    body = _body(ex, "the booking")
    out, judged = [], 0
    for key, limit in (("description", MAX_DESCRIPTION), ("comment", MAX_COMMENT)):
        value = body.get(key)
        if isinstance(value, str):
            judged += 1
            if len(value) > limit:
                out.append(f"{key} has {len(value)} characters (at most {limit})")
    if not judged:
        raise NotJudged("the request carries neither description nor comment")
    return out


def _known_patients(calls: Sequence[Exchange]) -> set[str]:
    ids: set[str] = set()
    for ex in calls:
        if ex.interaction == "patient.find":
            ids |= {str(p.get("id")) for p, _ in patients_in(response_json(ex)) if p.get("id")}
        elif ex.interaction == "patient.register" and ex.status == 200:
            ids |= {str(p.get("id")) for p, _ in patients_in(response_json(ex)) if p.get("id")}
    return ids


def book_after_search_and_find(calls: Sequence[Exchange]) -> list[str]:
    """CON-006b: a booking follows a slot search that offered its slots, and names a patient a find (or a
    register after an empty find) returned."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        out = []
        before = calls[:n]
        served = slots_served(before)
        slot_ids = booked_slot_ids(body)
        patients = _participants(body, "Patient")
        if not slot_ids and not patients:
            raise NotJudged("the booking names neither a slot nor a patient")
        unseen = [i for i in slot_ids if i not in served]
        if unseen:
            out.append(f"slot(s) {', '.join(unseen)} were booked without a search that offered them")
        known = _known_patients(before)
        for pid in patients:
            if pid not in known:
                out.append(f"the booking names Patient/{pid}, which no earlier find or register returned")
        return out

    return _each_booking(calls, one)


def registered_before_booking(calls: Sequence[Exchange]) -> list[str]:
    """APT-BOOK-021: when the find showed the practice does not hold the patient, they are registered first."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        before = calls[:n]
        if not any(found_nothing(c) for c in before):
            raise NotJudged("no find before the booking came back empty, so there was no one to register")
        patients = _participants(body, "Patient")
        if not patients:
            raise NotJudged("the booking names no patient (APT-BOOK-002 judges its participants)")
        registered = {str(p.get("id")) for c in before if c.interaction == "patient.register" and c.status == 200
                      for p, _ in patients_in(response_json(c)) if p.get("id")}
        found = {str(p.get("id")) for c in before if c.interaction == "patient.find"
                 for p, _ in patients_in(response_json(c)) if p.get("id")}
        return [f"the find returned no patient, but Patient/{pid} was booked without registering them"
                for pid in patients if pid not in registered and pid not in found]

    return _each_booking(calls, one)


def future_slots(calls: Sequence[Exchange]) -> list[str]:
    """CON-015: only slots that have not started are booked."""
    def one(n: int, ex: Exchange, body: dict[str, Any]) -> list[str]:
        served = slots_served(calls[:n])
        when = _when(ex)
        booked = [served[i] for i in booked_slot_ids(body) if i in served]
        if booked:
            return [f"slot {s.id} started at {uktime.format_local(s.start)}, before the booking was made"
                    for s in booked if s.start <= when]
        start = uktime.parse_instant(body.get("start"))
        if start is None:
            raise NotJudged("the booking names no slot a search had offered and has no start date-time")
        return [f"the booking starts at {body.get('start')}, in the past"] if start <= when else []

    return _each_booking(calls, one)


def adjacent_slots(calls: Sequence[Exchange]) -> list[str]:
    """CON-017: several slots are booked together only when adjacent, on one schedule, with one delivery
    channel and one slot type."""
    def one(n: int, _ex: Exchange, body: dict[str, Any]) -> list[str]:
        ids = booked_slot_ids(body)
        if len(ids) < 2:
            raise NotJudged("no booking of several slots arrived")
        served = slots_served(calls[:n])
        slots = sorted((served[i] for i in ids if i in served), key=lambda s: s.start)
        if len(slots) < 2:
            raise NotJudged("the booking of several slots names slots no search had offered, so they cannot be "
                            "compared")
        out = []
        for a, b in itertools.pairwise(slots):
            if b.start != a.end:
                out.append(f"slots {a.id} and {b.id} are not adjacent ({uktime.format_local(a.end)} to "
                           f"{uktime.format_local(b.start)})")
        for what, get in (("schedule", lambda s: s.schedule_id), ("delivery channel", lambda s: s.channel),
                          ("slot type", lambda s: s.slot_type)):
            values = {get(s) for s in slots}
            if len(values) > 1:
                out.append(f"the slots booked together differ in {what}: {', '.join(sorted(map(str, values)))}")
        return out

    return _each_booking(calls, one)


def relative_references(ex: Exchange) -> list[str]:
    """GEN-RES-002c: the resources a consumer sends use local relative references only."""
    body = _body(ex)
    if not references(body):
        raise NotJudged("the resource sent holds no reference")
    return relative_only(body)


def search_again_after_conflict(calls: Sequence[Exchange]) -> list[str]:
    """CON-027: after a booking is refused because a slot was taken (409), the consumer searches again before
    booking, and does not send the taken slot again."""
    out = []
    bookings: list[Any] = list(_bookings(calls))
    refused = 0
    for (n, ex, body), nxt in zip(bookings, [*bookings[1:], None], strict=True):
        if ex.status != 409:
            continue
        refused += 1
        if nxt is None:
            out.append("after 409 the consumer did not book another slot")
            continue
        m, _, next_body = nxt
        taken = set(booked_slot_ids(body))
        if taken & set(booked_slot_ids(next_body)):
            out.append(f"after 409 the consumer booked slot(s) {', '.join(sorted(taken))} again")
        if not any(c.interaction == "slot.search" for c in calls[n + 1:m]):
            out.append("after 409 the consumer booked again without searching for free slots again")
    if not refused:
        raise NotJudged("no booking was refused with 409")
    return out


# -- retrieve, amend, cancel -----------------------------------------------------------------------------------

def retrieve_range(ex: Exchange) -> list[str]:
    """APT-RET-001 / CON-018a: start=ge<date> and start=le<date>, dates only, none in the past."""
    values = _values(ex, "start")
    prefixes = sorted(v[:2] for v in values)
    out = []
    if prefixes != ["ge", "le"]:
        sent = ", ".join(f"start={v}" for v in values) or "no start"
        out.append(f"the retrieve sends {sent} (one start=ge and one start=le)")
    today = _when(ex).astimezone(uktime.LONDON).date()
    for v in values:
        day = v[2:]
        if not uktime.DATE.match(day):
            out.append(f"start={v!r} is not a date (yyyy-mm-dd, no time)")
        elif dt.date.fromisoformat(day) < today:
            out.append(f"start={v!r} is in the past (today is {today.isoformat()})")
    return out


def _appointment_id(ex: Exchange) -> str:
    return ex.request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]


def _served_versions(calls: Sequence[Exchange], aid: str) -> list[tuple[str, dict[str, Any]]]:
    """(versionId, representation) of the appointment in every response the consumer received, in order."""
    out = []
    for ex in calls:
        body = response_json(ex)
        if ex.status not in (200, 201) or not isinstance(body, dict):
            continue
        found = [body] if body.get("resourceType") == "Appointment" else [
            e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)]
        for res in found:
            if isinstance(res, dict) and res.get("resourceType") == "Appointment" and str(res.get("id")) == aid:
                version = booking.version_of(res, ex.response.header("ETag") if ex.response else None)
                out.append((version or "", res))
    return out


def if_match(calls: Sequence[Exchange], interaction: str) -> list[str]:
    """APT-AMD-001 / APT-CAN-001 / CON-020a: If-Match W/"<version>" names the latest version the consumer read,
    and that version was still current (the provider did not answer 409)."""
    out, seen = [], 0
    for n, ex in enumerate(calls):
        if ex.interaction != interaction:
            continue
        seen += 1
        header = ex.request.header("If-Match")
        if not header:
            out.append(f"the {interaction.split('.')[1]} of appointment {_appointment_id(ex)} has no If-Match")
            continue
        m = _IF_MATCH.match(header)
        if not m:
            out.append(f"If-Match {header!r} is not W/\"<versionId>\"")
            continue
        served = _served_versions(calls[:n], _appointment_id(ex))
        if served and m.group(1) != served[-1][0]:
            out.append(f"If-Match names version {m.group(1)!r}, but the latest the consumer had received is "
                       f"{served[-1][0]!r}")
        if ex.status == 409:
            out.append(f"If-Match named version {m.group(1)!r}, which was no longer current (the provider answered "
                       "409): read the appointment again before changing it")
    if not seen:
        raise NotJudged(f"no {interaction.split('.')[1]} request arrived")
    return out


def sends_profile(ex: Exchange) -> list[str]:
    """CON-020b: every resource the consumer sends names its GP Connect profile in meta.profile."""
    if not ex.request.body:
        raise NotJudged("the request has no body")
    body = request_json(ex)
    if not isinstance(body, dict):
        return ["the body sent is not a JSON object, so it names no profile"]
    if not (body.get("meta") or {}).get("profile"):
        kind = body.get("resourceType")
        return [f"the {kind if isinstance(kind, str) and kind else 'resource'} sent has no meta.profile"]
    return []


def amend_changes(calls: Sequence[Exchange]) -> list[str]:
    """CON-019: an amendment changes only description and comment of the appointment as last read."""
    from gpc_assure.reference.appointments import changed_elements

    def one(item: tuple[int, Exchange]) -> list[str]:
        n, ex = item
        body = request_json(ex)
        if not isinstance(body, dict):
            raise NotJudged("the amendment's body is not a JSON object")
        served = _served_versions(calls[:n], _appointment_id(ex))
        if not served:
            raise NotJudged(f"the consumer had not been sent appointment {_appointment_id(ex)} before amending it")
        changed = changed_elements(served[-1][1], body, {"description", "comment"}, set())
        return [f"the amendment also changes {', '.join(changed)} (only description and comment may change)"] \
            if changed else []

    amends = [(n, ex) for n, ex in enumerate(calls) if ex.interaction == "appointment.amend"]
    return each_of(amends, one, "no amendment arrived")


def cancel_request(ex: Exchange) -> list[str]:
    """APT-CAN-001: status cancelled, the cancellation reason extension with a reason, the cancel interaction."""
    body = request_json(ex)
    if not isinstance(body, dict):
        return ["the cancellation body is not JSON"]
    out = []
    if body.get("status") != "cancelled":
        out.append(f"status is {_shown(body.get('status'))} (cancelled)")
    reason = appt_rules.cancellation_reason(body)
    if not (isinstance(reason, str) and reason.strip()):
        out.append(f"no {appt_rules.CANCELLATION_REASON_EXT} extension with a reason")
    sent = (ex.request.header("Ssp-InteractionID") or "").strip()
    if not sent.endswith("rest:cancel:appointment-1"):
        out.append(f"Ssp-InteractionID is {_shown(sent)}, not the cancel interaction")
    if not ex.request.header("If-Match"):
        out.append("no If-Match")
    return out
