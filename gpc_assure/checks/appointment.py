"""Rules for GPConnect-Appointment-1 as Appointment Management returns it, the identity of each answer
(the appointment booked, read, amended or cancelled is the one asked about), and refusals whose code the
specification leaves open.

Resource rules are `(appointment) -> [problems]`, usable on a response body, a Bundle entry or a
published example alike; a rule with nothing to judge raises `NotJudged`. Exchange checks are `Check`s.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Collection
from typing import Any

from gpc_assure.checks.core import SUCCESS, Check, Finding, Guard, NotJudged, compact, status_in
from gpc_assure.checks.outcome import body_as_json, outcome_shape, spine_codes
from gpc_assure.checks.slot import entries
from gpc_assure.fhir import profiles, uktime
from gpc_assure.transport.exchange import Exchange

BOOKING_ORG_EXT = profiles.SD + "Extension-GPConnect-BookingOrganisation-1"
CANCELLATION_REASON_EXT = profiles.SD + "Extension-GPConnect-AppointmentCancellationReason-1"

Rule = Callable[[dict[str, Any]], list[str]]


def _what(appt: dict[str, Any]) -> str:
    return f"Appointment {appt.get('id') or '(without an id)'}"


def _quoted(value: Any, limit: int = 60) -> str:
    return "nothing" if value is None else f"'{compact(value, limit)}'"


def times_local(appt: dict[str, Any]) -> list[str]:
    """APT-RET-009 / APT-READ-004: start, end and created in UK local time with an offset."""
    out = [p for key in ("start", "end") if (p := uktime.local_problem(appt.get(key), f"{_what(appt)} {key}"))]
    created = appt.get("created")
    if created is not None and (p := uktime.local_problem(created, f"{_what(appt)} created")):
        out.append(p)
    return out


def slot_and_schedule_type(appt: dict[str, Any]) -> list[str]:
    """#912: serviceType.text is the slot type; serviceCategory, where given, carries the schedule type."""
    out = []
    texts = [t.get("text") for t in appt.get("serviceType") or [] if isinstance(t, dict)]
    if not any(isinstance(t, str) and t.strip() for t in texts):
        out.append(f"{_what(appt)} has no serviceType.text (the slot type, #912)")
    category = appt.get("serviceCategory")
    if category is not None and not (isinstance(category, dict) and str(category.get("text") or "").strip()):
        out.append(f"{_what(appt)} serviceCategory has no text (the schedule type, #912)")
    return out


def no_reason_or_specialty(appt: dict[str, Any]) -> list[str]:
    """APT-BOOK-017 and friends: the provider leaves reason and specialty out."""
    return [f"{_what(appt)} populates {key}" for key in ("reason", "specialty") if appt.get(key)]


def types_of_912(appt: dict[str, Any]) -> list[str]:
    """The #912 requirement rows on appointments: the two type labels, and no reason or specialty."""
    return slot_and_schedule_type(appt) + no_reason_or_specialty(appt)


def types_from(slot_type: str | None, schedule_type: str | None) -> Rule:
    """APT-BOOK-016 / APT-BOOK-020: the appointment's #912 labels are those of its slot and schedule."""
    def rule(appt: dict[str, Any]) -> list[str]:
        if not slot_type and not schedule_type:
            raise NotJudged("the free-slot search gave the booked slot no slot type or schedule type to compare with")
        out = []
        got = [t.get("text") for t in appt.get("serviceType") or [] if isinstance(t, dict)]
        if slot_type and slot_type not in got:
            shown = ", ".join(f"'{t}'" for t in got if t) or "absent"
            out.append(f"serviceType.text is {shown}; the slot's type is '{slot_type}'")
        category = appt.get("serviceCategory")
        text = category.get("text") if isinstance(category, dict) else None
        if schedule_type and text != schedule_type:
            out.append(f"serviceCategory.text is {_quoted(text)}; the schedule's type is '{schedule_type}'")
        return out

    rule.__doc__ = "the appointment's slot type and schedule type are those of the slot booked and its schedule"
    return rule


def booking_organisation(appt: dict[str, Any]) -> dict[str, Any] | None:
    """The contained Organization the bookingOrganisation extension points at, if any."""
    ext = [e for e in appt.get("extension") or [] if isinstance(e, dict) and e.get("url") == BOOKING_ORG_EXT]
    if not ext:
        return None
    ref = ((ext[0].get("valueReference") or {}).get("reference")) or ""
    if not ref.startswith("#"):
        return None
    return next((c for c in appt.get("contained") or [] if isinstance(c, dict) and c.get("id") == ref[1:]), None)


def booking_org_is(ods_code: str, name: str, telephone: str) -> Rule:
    """APT-BOOK-018: the booking organisation sent is stored and returned."""

    def rule(appt: dict[str, Any]) -> list[str]:
        org = booking_organisation(appt)
        if org is None:
            return [f"{_what(appt)} does not return the booking organisation (bookingOrganisation extension "
                    "referencing a contained Organization)"]
        out = []
        ods = [i.get("value") for i in org.get("identifier") or [] if isinstance(i, dict)
               and i.get("system") == profiles.ODS_ORG_SYSTEM]
        if ods_code not in ods:
            out.append(f"booking organisation ODS code is {', '.join(map(str, ods)) or 'absent'}, booked as "
                       f"{ods_code}")
        if org.get("name") != name:
            out.append(f"booking organisation name is {_quoted(org.get('name'))}, booked as '{name}'")
        phones = [t.get("value") for t in org.get("telecom") or [] if isinstance(t, dict)]
        if telephone not in phones:
            out.append(f"booking organisation telecom is {', '.join(map(str, phones)) or 'absent'}, booked as "
                       f"{telephone}")
        return out

    rule.__doc__ = "the booking organisation sent (ODS code, name, telephone) is returned"
    return rule


def _codes(concept: Any) -> set[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return {f"{c.get('system')}|{c.get('code')}" for c in codings or [] if isinstance(c, dict)}


def extensions_kept(sent: list[dict[str, Any]]) -> Rule:
    """APT-BOOK-023: each Must-Support extension the booking sent (deliveryChannel, practitionerRole)
    comes back once, with the value sent (a CodeableConcept keeps every coding sent; display may differ)."""
    def rule(appt: dict[str, Any]) -> list[str]:
        if not sent:
            raise NotJudged("the booking sent no Must-Support extension to look for")
        out = []
        for ext in sent:
            url = ext["url"]
            name = url.rsplit("/", 1)[-1]
            found = [e for e in appt.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]
            if len(found) != 1:
                out.append(f"{_what(appt)} has {len(found)} {name} extensions; the booking sent one")
            elif "valueCode" in ext and found[0].get("valueCode") != ext["valueCode"]:
                out.append(f"{_what(appt)} {name} is {_quoted(found[0].get('valueCode'))}, booked as "
                           f"'{ext['valueCode']}'")
            elif "valueCodeableConcept" in ext and not (
                    _codes(ext["valueCodeableConcept"]) <= _codes(found[0].get("valueCodeableConcept"))):
                got = ", ".join(sorted(_codes(found[0].get("valueCodeableConcept")))) or "no coding"
                out.append(f"{_what(appt)} {name} codes are {got}, booked as "
                           f"{', '.join(sorted(_codes(ext['valueCodeableConcept'])))}")
        return out

    rule.__doc__ = "each Must-Support extension the booking sent comes back once, with the value sent"
    return rule


def cancellation_reason(appt: dict[str, Any]) -> str | None:
    for e in appt.get("extension") or []:
        if isinstance(e, dict) and e.get("url") == CANCELLATION_REASON_EXT:
            return e.get("valueString")
    return None


def cancelled_with(reason: str) -> Rule:
    """APT-CAN-005: status cancelled and the cancellation reason as supplied (a provider may shorten it)."""

    def rule(appt: dict[str, Any]) -> list[str]:
        out = []
        if appt.get("status") != "cancelled":
            out.append(f"{_what(appt)} status is {_quoted(appt.get('status'))}, expected 'cancelled'")
        got = cancellation_reason(appt)
        if not got or not reason.startswith(got):
            out.append(f"{_what(appt)} cancellation reason is {_quoted(got)}, sent '{reason}'")
        return out

    rule.__doc__ = "status is cancelled and the cancellation reason is the one sent"
    return rule


def text_kept(description: str, comment: str | None) -> Rule:
    """APT-BOOK-009 / APT-AMD-006: description and comment come back whole (they may be joined into one)."""

    def rule(appt: dict[str, Any]) -> list[str]:
        got_d, got_c = appt.get("description"), appt.get("comment")
        if got_d == description and got_c == comment:
            return []
        joined = "\n".join(str(v) for v in (got_d, got_c) if v)
        out = []
        for name, sent in (("description", description), ("comment", comment)):
            if sent and sent not in joined:
                got = got_d if name == "description" else got_c
                out.append(f"{name} was sent with {len(sent)} characters and came back "
                           f"{'absent' if got is None else f'as {len(str(got))} characters'}"
                           + ("" if got is None else f": {_quoted(got)}"))
        return out

    rule.__doc__ = "description and comment come back whole, as sent"
    return rule


def no_comment(appt: dict[str, Any]) -> list[str]:
    """APT-BOOK-009 (reading BOOK-NO-COMMENT): a booking sent without a comment comes back without one."""
    if "comment" not in appt:
        return []
    return [f"{_what(appt)} was booked without a comment but carries comment {_quoted(appt['comment'])}"]


# -- refusals ----------------------------------------------------------------------------------------

def refused(requirement: str, reading: str | None = None,
            statuses: Collection[int] = range(400, 500)) -> Check:
    """An error the specification requires without naming its code: a 4xx with a GP Connect
    OperationOutcome. The finding reports what came back, so the reviewer sees the code used."""

    def rule(ex: Exchange) -> list[Finding]:
        assert ex.response is not None
        body = body_as_json(ex)
        is_outcome = isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
        if ex.response.status not in statuses:
            what = f"HTTP {ex.response.status}"
            if is_outcome:
                what += f" {'/'.join(map(str, spine_codes(body))) or '(no Spine code)'}"
            elif isinstance(body, dict) and body.get("resourceType"):
                what += f" with a {body.get('resourceType')}"
            return [Finding("", f"expected a refusal (a 4xx with an OperationOutcome); got {what}")]
        if not is_outcome:
            return [Finding("", f"HTTP {ex.response.status} without an OperationOutcome")]
        return [Finding("", f.message, path=f.path) for f in outcome_shape(body, "")]

    return Check(requirement, rule, "refused with a 4xx and a GP Connect OperationOutcome", reading=reading)


# -- identity: the answer is about the appointment asked about ---------------------------------------

def _appointment_body(ex: Exchange) -> tuple[dict[str, Any] | None, str]:
    """The Appointment in the body (JSON or XML), or None and what the body is instead."""
    body = body_as_json(ex)
    if isinstance(body, dict) and body.get("resourceType") == "Appointment":
        return body, ""
    if isinstance(body, dict) and body.get("resourceType"):
        return None, f"a {body['resourceType']}"
    return None, "no FHIR resource" if ex.response and ex.response.body else "an empty body"


def _participants(appt: dict[str, Any], kind: str) -> list[str]:
    out = []
    for p in appt.get("participant") or []:
        ref = ((p or {}).get("actor") or {}).get("reference") if isinstance(p, dict) else None
        if isinstance(ref, str) and ref.startswith(f"{kind}/"):
            out.append(ref[len(kind) + 1:])
    return out


def _slot_refs(appt: dict[str, Any]) -> list[str]:
    return sorted(str((s or {}).get("reference")) for s in appt.get("slot") or [] if isinstance(s, dict))


def _booking_problems(appt: dict[str, Any], want_patient: list[str], want_slots: list[str]) -> list[str]:
    out = []
    if not isinstance(appt.get("id"), str) or not appt["id"].strip():
        out.append("the booking was answered with an Appointment without an id: the target did not say which "
                   "appointment it created")
    if want_patient and _participants(appt, "Patient") != want_patient:
        got = ", ".join(_participants(appt, "Patient")) or "none"
        out.append(f"the Appointment returned is for Patient {got}, booked for Patient {want_patient[0]}")
    if want_slots and _slot_refs(appt) != want_slots:
        out.append(f"the Appointment returned names slots {', '.join(_slot_refs(appt)) or 'none'}, booked "
                   f"{', '.join(want_slots)}")
    return out


def _holds_appointment(ex: Exchange) -> str | None:
    appt, instead = _appointment_body(ex)
    return None if appt is not None else f"the body holds no Appointment: it is {instead} ({ex.describe()})"


APPOINTMENT = Guard("an Appointment (JSON or XML)", _holds_appointment)


def returned(requirement: str) -> Check:
    """The answer carries the Appointment itself (JSON or XML); whether it is valid STU3 is APT-PRF-003's."""

    def rule(ex: Exchange) -> list[str]:
        appt, instead = _appointment_body(ex)
        return [] if appt is not None else [f"the answer carries {instead}, not the Appointment"]

    return Check(requirement, rule, "the answer carries the whole Appointment")


def made(sent: dict[str, Any], requirement: str = "APT-BOOK-015") -> Check:
    """The booking was made: 201 with an Appointment that has an id and is the one booked (its patient and
    slots are those sent)."""
    want_patient, want_slots = _participants(sent, "Patient"), _slot_refs(sent)

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        if ex.response.status != 201:
            return [f"the booking was answered HTTP {ex.response.status}, not 201 Created with the appointment"]
        appt, instead = _appointment_body(ex)
        if appt is None:
            return [f"the booking was answered 201 with {instead}, not the Appointment booked"]
        return _booking_problems(appt, want_patient, want_slots)

    return Check(requirement, rule, "the booking was answered 201 with the appointment booked (its id, patient and "
                                    "slots)")


def about_booking(sent: dict[str, Any], requirement: str = "APT-BOOK-015") -> Check:
    """Identity of a booking's answer: the Appointment returned (when there is one) is the one booked."""
    want_patient, want_slots = _participants(sent, "Patient"), _slot_refs(sent)

    def rule(ex: Exchange) -> list[str]:
        appt, _ = _appointment_body(ex)
        assert appt is not None
        return _booking_problems(appt, want_patient, want_slots)

    return Check(requirement, rule, "the Appointment returned is the one booked (its id, patient and slots)",
                 needs=(SUCCESS, APPOINTMENT))


def is_appointment(appointment_id: str, requirement: str, status: int = 200, what: str = "the request") -> Check:
    """`what` was answered `status` with the Appointment whose id is the one asked about."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        if ex.response.status != status:
            return [f"{what} was answered HTTP {ex.response.status}, not {status} with the appointment"]
        appt, instead = _appointment_body(ex)
        if appt is None:
            return [f"{what} was answered HTTP {status} with {instead}, not Appointment {appointment_id}"]
        if appt.get("id") != appointment_id:
            return [f"{what} about Appointment {appointment_id} was answered with Appointment "
                    f"{compact(appt.get('id'))}"]
        return []

    return Check(requirement, rule, f"{what} was answered {status} with Appointment {appointment_id}")


def about(appointment_id: str, requirement: str) -> Check:
    """Identity of an answer about one appointment: the Appointment returned (when there is one) is that one."""

    def rule(ex: Exchange) -> list[str]:
        appt, _ = _appointment_body(ex)
        assert appt is not None
        if appt.get("id") != appointment_id:
            return [f"the answer about Appointment {appointment_id} holds Appointment {compact(appt.get('id'))}"]
        return []

    return Check(requirement, rule, f"the Appointment returned is Appointment {appointment_id}",
                 needs=(SUCCESS, APPOINTMENT))


def _others(body: Any, patient_id: str) -> list[str]:
    others = [a for a in entries(body, "Appointment") if _participants(a, "Patient") != [patient_id]]
    if not others:
        return []
    return [f"retrieve for Patient {patient_id} returned {len(others)} appointment(s) of another patient "
            f"(Appointment {compact(others[0].get('id'))} is for "
            f"{', '.join(_participants(others[0], 'Patient')) or 'no patient'})"]


def retrieved(patient_id: str, requirement: str = "APT-RET-006") -> Check:
    """Retrieve was answered 200 with a searchset whose appointments are all the patient's."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        if ex.response.status != 200:
            return [f"retrieve was answered HTTP {ex.response.status}, not 200 with a searchset"]
        body = body_as_json(ex)
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
            what = (f"a Bundle of type {body.get('type') or 'none'}" if isinstance(body, dict)
                    and body.get("resourceType") == "Bundle" else "no searchset Bundle")
            return [f"retrieve was answered HTTP 200 with {what}"]
        return _others(body, patient_id)

    return Check(requirement, rule, f"retrieve was answered 200 with a searchset of Patient {patient_id}'s "
                                    "appointments")


def _bundle(ex: Exchange) -> str | None:
    body = body_as_json(ex)
    return None if isinstance(body, dict) and body.get("resourceType") == "Bundle" else \
        f"the body is not a FHIR Bundle ({ex.describe()})"


def about_patient(patient_id: str, requirement: str = "APT-RET-006") -> Check:
    """Identity of a retrieve's answer: every appointment in the Bundle is the patient's."""
    return Check(requirement, lambda ex: _others(body_as_json(ex), patient_id),
                 f"every appointment returned is Patient {patient_id}'s",
                 needs=(SUCCESS, Guard("a FHIR Bundle", _bundle)))


# -- a create's headers -------------------------------------------------------------------------------

def service_roots(base_url: str) -> list[str]:
    """The base URL, and the provider's own URL when it is reached through the Spine Secure Proxy
    (https://proxy/.../https://provider/...): a Location may name either."""
    roots = [base_url.rstrip("/")]
    m = re.search(r"https?://", base_url[1:])
    if m:
        roots.append(base_url[m.start() + 1:].rstrip("/"))
    return roots


_LOCATION = re.compile(r"/Appointment/([^/]+)/_history/([^/]+)/?$")


def _location_problem(ex: Exchange, base_url: str) -> str | None:
    assert ex.response is not None
    loc = ex.response.header("Location")
    if not loc:
        return "201 Created without a Location header"
    roots = service_roots(base_url)
    m = _LOCATION.search(loc)
    if not m or not any(loc.startswith(r + "/Appointment/") for r in roots):
        return f"Location '{loc}' is not [base]/Appointment/[id]/_history/[vid] (base {' or '.join(roots)})"
    appt, _ = _appointment_body(ex)
    if appt is not None:
        aid, version = appt.get("id"), (appt.get("meta") or {}).get("versionId")
        if aid and m.group(1) != aid:
            return f"Location '{loc}' names Appointment {m.group(1)}, but the appointment created is {aid}"
        if version and m.group(2) != str(version):
            return f"Location '{loc}' names version {m.group(2)}, but the appointment's versionId is {version}"
    return None


def created_location(base_url: str, requirement: str) -> Check:
    """A booking's Location: [base]/Appointment/[id]/_history/[vid] naming the new appointment."""

    def rule(ex: Exchange) -> list[str]:
        problem = _location_problem(ex, base_url)
        return [problem] if problem else []

    return Check(requirement, rule, "Location names the new appointment as [base]/Appointment/[id]/_history/[vid]",
                 needs=(status_in(201),))


def created_headers(base_url: str, requirement: str = "GEN-HTTP-004") -> Check:
    """GEN-HTTP-004: a 201 Created carries Location ([base]/[type]/[id]/_history/[vid]), ETag and Last-Modified."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        out = []
        if problem := _location_problem(ex, base_url):
            out.append(problem)
        etag = ex.response.header("ETag")
        if not etag:
            out.append("201 Created without an ETag header")
        elif not re.fullmatch(r'W/"[^"]+"', etag.strip()):
            out.append(f"ETag '{etag}' is not of the form W/\"<versionId>\"")
        modified = ex.response.header("Last-Modified")
        if not modified:
            out.append("201 Created without a Last-Modified header")
        else:
            try:
                email.utils.parsedate_to_datetime(modified)
            except (TypeError, ValueError):
                out.append(f"Last-Modified '{modified}' is not an HTTP date")
        return out

    return Check(requirement, rule, "201 Created carries Location, ETag and Last-Modified", needs=(status_in(201),))
