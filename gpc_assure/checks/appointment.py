"""Rules for GPConnect-Appointment-1 as Appointment Management returns it, and for refusals whose code
the specification leaves open.

Resource rules are `(appointment) -> [problems]`, usable on a response body, a Bundle entry or a
published example alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from gpc_assure.checks.http import no_response
from gpc_assure.checks.outcome import outcome_shape, spine_codes
from gpc_assure.fhir import profiles, uktime
from gpc_assure.findings import Check, Finding
from gpc_assure.transport.exchange import BodyNotJson, Exchange

BOOKING_ORG_EXT = profiles.SD + "Extension-GPConnect-BookingOrganisation-1"
CANCELLATION_REASON_EXT = profiles.SD + "Extension-GPConnect-AppointmentCancellationReason-1"

Rule = Callable[[dict[str, Any]], list[str]]


def _what(appt: dict[str, Any]) -> str:
    return f"Appointment {appt.get('id')}"


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
        ods = [i.get("value") for i in org.get("identifier") or [] if i.get("system") == profiles.ODS_ORG_SYSTEM]
        if ods_code not in ods:
            out.append(f"booking organisation ODS code is {ods or 'absent'}, booked as {ods_code!r}")
        if org.get("name") != name:
            out.append(f"booking organisation name is {org.get('name')!r}, booked as {name!r}")
        phones = [t.get("value") for t in org.get("telecom") or [] if isinstance(t, dict)]
        if telephone not in phones:
            out.append(f"booking organisation telecom is {phones or 'absent'}, booked as {telephone!r}")
        return out

    return rule


def _codes(concept: Any) -> set[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return {f"{c.get('system')}|{c.get('code')}" for c in codings or [] if isinstance(c, dict)}


def extensions_kept(sent: list[dict[str, Any]]) -> Rule:
    """APT-BOOK-023: each Must-Support extension the booking sent (deliveryChannel, practitionerRole)
    comes back once, with the value sent (a CodeableConcept keeps every coding sent; display may differ)."""

    def rule(appt: dict[str, Any]) -> list[str]:
        out = []
        for ext in sent:
            url = ext["url"]
            name = url.rsplit("/", 1)[-1]
            found = [e for e in appt.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]
            if len(found) != 1:
                out.append(f"{_what(appt)} has {len(found)} {name} extensions; the booking sent one")
            elif "valueCode" in ext and found[0].get("valueCode") != ext["valueCode"]:
                out.append(f"{_what(appt)} {name} is {found[0].get('valueCode')!r}, booked as {ext['valueCode']!r}")
            elif "valueCodeableConcept" in ext and not (
                    _codes(ext["valueCodeableConcept"]) <= _codes(found[0].get("valueCodeableConcept"))):
                out.append(f"{_what(appt)} {name} codes are {sorted(_codes(found[0].get('valueCodeableConcept')))}, "
                           f"booked as {sorted(_codes(ext['valueCodeableConcept']))}")
        return out

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
            out.append(f"{_what(appt)} status is {appt.get('status')!r}, expected 'cancelled'")
        got = cancellation_reason(appt)
        if not got or not reason.startswith(got):
            out.append(f"{_what(appt)} cancellation reason is {got!r}, sent {reason!r}")
        return out

    return rule


def refused(requirement: str, reading: str | None = None,
            statuses: Collection[int] = range(400, 500)) -> Check:
    """An error the specification requires without naming its code: a 4xx with a GP Connect
    OperationOutcome. The finding reports what came back, so the reviewer sees the code used."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        try:
            body = ex.json
        except BodyNotJson:
            body = None
        is_outcome = isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
        if ex.response.status not in statuses:
            what = f"{ex.response.status}"
            if is_outcome:
                what += f" {'/'.join(map(str, spine_codes(body))) or '(no Spine code)'}"
            elif isinstance(body, dict):
                what += f" with a {body.get('resourceType')}"
            return [Finding(requirement, f"expected a refusal (4xx with an OperationOutcome); got {what}",
                            reading=reading)]
        if not is_outcome:
            return [Finding(requirement, f"HTTP {ex.response.status} without an OperationOutcome", reading=reading)]
        return [Finding(requirement, f.message, reading=reading) for f in outcome_shape(body, requirement)]

    return check


def created_location(base_url: str, requirement: str) -> Check:
    """GEN-HTTP-004 for a booking: Location: [base]/Appointment/[id]/_history/[vid] naming the new appointment."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        loc = ex.response.header("Location")
        if not loc:
            return [Finding(requirement, "201 Created without a Location header")]
        try:
            body = ex.json
        except BodyNotJson:
            body = None
        aid = body.get("id") if isinstance(body, dict) else None
        version = (body.get("meta") or {}).get("versionId") if isinstance(body, dict) else None
        want = f"{base_url}/Appointment/{aid}/_history/{version}" if aid and version else None
        if want and loc != want:
            return [Finding(requirement, f"Location is {loc!r}, expected {want!r}")]
        if not want and "/Appointment/" not in loc:
            return [Finding(requirement, f"Location {loc!r} does not name an Appointment")]
        return []

    return check


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
                           f"{'absent' if got is None else f'as {len(str(got))} characters'}: {str(got)[:60]!r}")
        return out

    return rule


def no_comment(appt: dict[str, Any]) -> list[str]:
    """APT-BOOK-009 (reading BOOK-NO-COMMENT): a booking sent without a comment comes back without one."""
    if "comment" not in appt:
        return []
    return [f"{_what(appt)} was booked without a comment but carries comment {str(appt['comment'])[:60]!r}"]
