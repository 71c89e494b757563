"""Book, retrieve, read, amend and cancel appointments on the reference diary (APT-BOOK/RET/READ/AMD/CAN-*).

Appointments are kept as `diary.Appointment` records and rendered to GPConnect-Appointment-1 on the
way out. Amend and cancel compare the consumer's resource with the current rendering: only the
elements the interaction may change can differ (elements the provider itself populates, such as
serviceType, may be left out by the consumer). Every change bumps the versionId, and a stale If-Match
is refused with 409. Book, amend and cancel answer with the appointment unless the consumer sends
Prefer: return=minimal (GEN-HTTP-005a/b).
"""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import functools
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from gpc_assure.fhir import profiles, uktime
from gpc_assure.fhir.parse import model_for, validate_structure
from gpc_assure.reference.diary import Appointment, Diary, Slot, diary_of
from gpc_assure.reference.faults import declare
from gpc_assure.reference.negotiation import response_format
from gpc_assure.reference.outcomes import ProviderError, bad_request, invalid_parameter, invalid_resource, not_found
from gpc_assure.reference.routing import Context, Reply, handles, resource_reply, searchset
from gpc_assure.reference.slots import DELIVERY_CHANNEL_EXT, PRACTITIONER_ROLE_EXT, SDS_JOB_ROLE_SYSTEM

BOOKING_ORG_EXT = profiles.SD + "Extension-GPConnect-BookingOrganisation-1"
CANCELLATION_REASON_EXT = profiles.SD + "Extension-GPConnect-AppointmentCancellationReason-1"
KEPT_ELEMENTS = ("identifier", "priority", "minutesDuration")  # stored as sent and returned
_PROVIDER_OWNED = ("serviceType", "serviceCategory")
_PROVIDER_EXTENSIONS = (PRACTITIONER_ROLE_EXT, DELIVERY_CHANNEL_EXT)
_TIMES = ("start", "end", "created")
_IF_MATCH = re.compile(r'^\s*(?:W/)?"([^"]*)"\s*$')

# -- book ------------------------------------------------------------------------------------------
BOOK_ACCEPTS_REASON = declare(
    "book-accepts-reason", ["APT-BOOK-007"], "appointments",
    "a booking carrying reason or specialty is accepted instead of refused")
TEXT_TRUNCATED = declare(
    "description-silently-truncated", ["APT-BOOK-009", "APT-AMD-006"], "appointments",
    "a description or comment longer than the provider can store is cut short instead of refused")
TEXT_TRUNCATED_BYTES = declare(
    "text-truncated-at-byte-limit", ["APT-BOOK-009", "APT-AMD-006"], "appointments",
    "description and comment are stored cut to their limits in UTF-8 bytes, not characters, so "
    "non-ASCII text within the limits comes back shortened")
BOOKS_NON_ADJACENT = declare(
    "books-non-adjacent-slots", ["APT-BOOK-010"], "appointments",
    "several slots with gaps between them are booked as one appointment")
BOOKS_ACROSS_SCHEDULES = declare(
    "books-slots-across-schedules", ["APT-BOOK-010"], "appointments",
    "adjacent slots from different schedules are booked as one appointment")
BOOKS_MIXED_CHANNELS = declare(
    "books-slots-mixed-delivery-channel", ["APT-BOOK-010"], "appointments",
    "adjacent slots with different delivery channels are booked as one appointment")
BOOKS_MIXED_TYPES = declare(
    "books-slots-mixed-slot-type", ["APT-BOOK-010"], "appointments",
    "adjacent slots with different slot types (serviceType) are booked as one appointment")
REJECTS_MULTI_SLOT = declare(
    "rejects-multi-slot-booking", ["APT-BOOK-010"], "appointments",
    "every booking of more than one slot is refused, even adjacent slots that may be booked together")
BOOKS_PAST_SLOT = declare(
    "books-past-slot", ["APT-BOOK-011"], "appointments",
    "a slot that has already started is booked")
DOUBLE_BOOKING = declare(
    "slot-double-booking-allowed", ["APT-BOOK-012"], "appointments",
    "a slot that is already booked is booked again")
BOOK_IGNORES_TIMES = declare(
    "book-ignores-start-end-mismatch", ["APT-BOOK-013"], "appointments",
    "a booking whose start and end differ from its slots is accepted (the slots' times are used)")
BOOKS_RESTRICTED_SLOT = declare(
    "books-restricted-slot-for-any-org", ["APT-BOOK-013"], "appointments",
    "a slot restricted to another organisation type or ODS code is booked for any organisation")
UNKNOWN_SLOT_NOT_FOUND = declare(
    "book-unknown-slot-not-found", ["APT-BOOK-014", "ERR-011"], "appointments",
    "a booking naming a slot that does not exist is answered 404 NO_RECORD_FOUND, not 422")
BOOK_NO_LOCATION_HEADER = declare(
    "book-no-location-header", ["APT-BOOK-015", "GEN-HTTP-004"], "appointments",
    "201 Created comes without the Location header of the new appointment")
BOOK_NO_LAST_MODIFIED = declare(
    "book-no-last-modified", ["GEN-HTTP-004"], "appointments",
    "201 Created comes with Location and ETag but without Last-Modified")
BOOK_ANSWERS_200 = declare(
    "book-answers-200", ["APT-BOOK-015", "GEN-HTTP-004"], "appointments",
    "a booking is answered 200 OK with the appointment instead of 201 Created (everything else as it should be)")
BOOK_WITHOUT_ID = declare(
    "book-answers-without-id", ["APT-BOOK-015", "GEN-HTTP-004"], "appointments",
    "a booking is answered 201 with the appointment but without its id, and without a Location header, so the "
    "consumer cannot tell which appointment was created")
BOOK_422_NO_DIAGNOSTICS = declare(
    "book-422-without-diagnostics", ["GEN-ERR-001c"], "appointments",
    "every 422 from Book an appointment carries an OperationOutcome without diagnostics")
APPOINTMENT_SLOT_TYPE_MISSING = declare(
    "appointment-slot-type-missing", ["APT-BOOK-016", "APT-RET-010", "APT-READ-004", "APT-AMD-007",
                                      "APT-CAN-007"], "appointments",
    "#912: Appointment.serviceType (slot type) and serviceCategory (schedule type) are not populated")
APPOINTMENT_SPECIALTY = declare(
    "appointment-specialty-populated", ["APT-BOOK-017", "APT-RET-010", "APT-READ-004", "APT-AMD-007",
                                        "APT-CAN-007"], "appointments",
    "appointments are returned with specialty populated (GP Connect leaves reason and specialty out)")
APPOINTMENT_TYPE_POPULATED = declare(
    "appointment-type-populated", ["APT-PRF-003"], "appointments",
    "appointments are returned with appointmentType, which GPConnect-Appointment-1 prohibits (0..0)")
PARTICIPANT_STATUS_MISSING = declare(
    "appointment-participant-status-missing", ["APT-PRF-003"], "appointments",
    "appointments are returned in JSON with participants that have no status (1..1 in STU3), so they are not "
    "valid STU3 Appointments and a consumer cannot send them back")
MISSING_BOOKING_ORG = declare(
    "appointment-missing-booking-org", ["APT-BOOK-018"], "appointments",
    "the booking organisation sent by the consumer is not stored or returned")
BOOK_ACCEPTS_NO_LOCATION = declare(
    "book-accepts-missing-participant", ["APT-BOOK-019"], "appointments",
    "a booking without a Location participant, or with a booking organisation lacking name or "
    "telecom, is accepted")
BOOK_ECHOES_TYPE = declare(
    "book-echoes-consumer-slot-type", ["APT-BOOK-020"], "appointments",
    "serviceType and serviceCategory sent by the consumer are stored instead of the provider's own")
BOOK_IGNORES_PREFER = declare(
    "book-ignores-prefer-minimal", ["APT-BOOK-020", "GEN-HTTP-005b"], "appointments",
    "Prefer: return=minimal is ignored: 201 comes with the whole appointment")
PREFER_REPRESENTATION_EMPTY = declare(
    "prefer-representation-answered-empty", ["GEN-HTTP-005a"], "appointments",
    "book, amend and cancel treat any Prefer header as return=minimal, so Prefer: return=representation gets "
    "an empty body")
UPDATE_IGNORES_PREFER = declare(
    "update-ignores-prefer-minimal", ["GEN-HTTP-005b"], "appointments",
    "amend and cancel ignore Prefer: return=minimal and answer with the whole appointment")
APPOINTMENT_DROPS_CHANNEL = declare(
    "appointment-drops-delivery-channel", ["APT-BOOK-023"], "appointments",
    "appointments are returned without the deliveryChannel extension, even when the booking sent it")
APPOINTMENT_DROPS_ROLE = declare(
    "appointment-drops-practitioner-role", ["APT-BOOK-023"], "appointments",
    "appointments are returned without the practitionerRole extension, even when the booking sent it")
BOOK_REQUIRES_PRACTITIONER = declare(
    "book-requires-practitioner", ["APT-BOOK-024"], "appointments",
    "a booking that leaves out the Practitioner participant of a schedule with a practitioner is refused 422 "
    "INVALID_RESOURCE, as if it were mandatory")
BOOK_ACCEPTS_BLANK_IDENTIFIER = declare(
    "book-accepts-identifier-without-value", ["APT-BOOK-019"], "appointments",
    "a booking whose identifier has a system but no value is accepted (that identifier is not stored)")
BOOK_ADDS_COMMENT = declare(
    "book-adds-default-comment", ["APT-BOOK-009"], "appointments",
    "a booking sent without a comment is stored with a default comment of the provider's own")
WRONG_BODY_TYPE_BAD_REQUEST = declare(
    "appointment-body-type-bad-request", ["APT-BOOK-025", "APT-AMD-009"], "appointments",
    "a book or amend body that is a resource of another STU3 type is answered 400 BAD_REQUEST instead of 422 "
    "INVALID_RESOURCE (a type FHIR does not define still gets 422)")
# -- retrieve --------------------------------------------------------------------------------------
RETRIEVE_IGNORES_LE = declare(
    "retrieve-ignores-le-bound", ["APT-RET-002"], "appointments",
    "start=le is ignored: appointments after the end of the range are returned")
RETRIEVE_ACCEPTS_PAST = declare(
    "retrieve-accepts-past-range", ["APT-RET-003"], "appointments",
    "a retrieve range starting in the past is answered instead of refused")
RETRIEVE_ACCEPTS_TIME = declare(
    "retrieve-accepts-datetime", ["APT-RET-004"], "appointments",
    "start parameters with a time part, or only one start parameter, are accepted")
RETRIEVE_ACCEPTS_REVERSED = declare(
    "retrieve-accepts-reversed-range", ["APT-RET-005"], "appointments",
    "a range whose end is before its start, or with prefixes other than ge/le, is answered (empty)")
WRONG_BUNDLE_TYPE = declare(
    "wrong-bundle-type", ["APT-RET-006"], "appointments",
    "Retrieve a patient's appointments answers a Bundle of type collection instead of searchset")
RETRIEVE_OMITS_CANCELLED = declare(
    "retrieve-omits-cancelled", ["APT-RET-007"], "appointments",
    "cancelled appointments are left out of a patient's appointments")
RETRIEVE_IGNORES_GE = declare(
    "retrieve-ignores-ge-bound", ["APT-RET-008"], "appointments",
    "start=ge is ignored: the patient's past appointments are returned too")
APPOINTMENT_TIMES_UTC = declare(
    "appointment-times-in-utc", ["APT-RET-009", "APT-READ-004"], "appointments",
    "Appointment start, end and created are written in UTC with Z instead of UK local time")
RETRIEVE_UNKNOWN_PATIENT_EMPTY = declare(
    "retrieve-unknown-patient-empty", ["APT-RET-011"], "appointments",
    "retrieving the appointments of an unknown patient id answers 200 with an empty searchset, not 404")
RETRIEVE_CANCELLED_AS_BOOKED = declare(
    "retrieve-shows-cancelled-as-booked", ["APT-RET-007"], "appointments",
    "Retrieve lists cancelled appointments with status booked (Read shows them cancelled)")
RETRIEVE_FILTERS_AVAILABILITY = declare(
    "retrieve-filters-by-availability", ["APT-SAM-007"], "appointments",
    "appointments on slots restricted to particular organisations are left out of retrieve")
# -- read ------------------------------------------------------------------------------------------
READ_NO_ETAG = declare(
    "appointment-read-no-etag", ["APT-READ-001"], "appointments",
    "Read an appointment answers without an ETag header")
READS_PAST = declare(
    "reads-past-appointment", ["APT-READ-002"], "appointments",
    "an appointment that has already started is returned by Read instead of refused")
READ_UNKNOWN_BAD_REQUEST = declare(
    "appointment-read-unknown-not-404", ["APT-READ-003"], "appointments",
    "Read of an unknown appointment id answers 400 BAD_REQUEST instead of 404")
READ_ONLY_BOOKING_ORG = declare(
    "read-restricted-to-booking-org", ["APT-READ-005"], "appointments",
    "only the organisation that booked an appointment may read it (others get 403)")
# -- amend -----------------------------------------------------------------------------------------
AMEND_CHANGES_START = declare(
    "amend-changes-start-time", ["APT-AMD-002"], "appointments",
    "amend accepts (and applies) a new start and end instead of refusing the change")
AMEND_LISTED_FIELDS_ONLY = declare(
    "amend-checks-listed-fields-only", ["APT-AMD-002"], "appointments",
    "amend compares only start, end, slot, participant, status, priority and extensions with the "
    "stored appointment; changes to any other element are accepted silently")
AMENDS_PAST = declare(
    "amends-past-appointment", ["APT-AMD-003"], "appointments",
    "an appointment that has already started is amended")
AMENDS_CANCELLED = declare(
    "amends-cancelled-appointment", ["APT-AMD-004"], "appointments",
    "a cancelled appointment is amended")
AMEND_IGNORES_IF_MATCH = declare(
    "amend-ignores-if-match", ["APT-AMD-005"], "appointments",
    "amend applies the change whatever version If-Match names")
AMEND_KEEPS_VERSION = declare(
    "amend-keeps-version", ["APT-AMD-005", "APT-AMD-007"], "appointments",
    "an amended appointment keeps its old versionId (so a stale If-Match still matches)")
AMEND_ONLY_BOOKING_ORG = declare(
    "amend-restricted-to-booking-org", ["APT-AMD-008"], "appointments",
    "only the organisation that booked an appointment may amend it (others get 403)")
AMEND_422_NO_DIAGNOSTICS = declare(
    "amend-422-without-diagnostics", ["GEN-ERR-001c"], "appointments",
    "every 422 from Amend an appointment carries an OperationOutcome without diagnostics")
UPDATE_REQUIRES_TYPES = declare(
    "update-requires-912-types", ["APT-AMD-002", "APT-CAN-002"], "appointments",
    "an amend or cancel that leaves out serviceCategory and serviceType (as consumers written before #912 do) "
    "is refused as if it had changed them")
# -- cancel ----------------------------------------------------------------------------------------
CANCEL_ACCEPTS_CHANGES = declare(
    "cancel-accepts-other-changes", ["APT-CAN-002"], "appointments",
    "cancel also applies changes to description and comment instead of refusing them")
CANCELS_PAST = declare(
    "cancels-past-appointment", ["APT-CAN-003"], "appointments",
    "an appointment that has already started is cancelled")
CANCEL_IGNORES_IF_MATCH = declare(
    "cancel-ignores-if-match", ["APT-CAN-004"], "appointments",
    "cancel applies whatever version If-Match names")
CANCEL_DROPS_REASON = declare(
    "cancel-reason-not-returned", ["APT-CAN-005"], "appointments",
    "the cancellation reason is not stored, so the cancelled appointment comes back without it")
CANCEL_KEEPS_SLOT = declare(
    "cancel-leaves-slot-busy", ["APT-CAN-006"], "appointments",
    "the slots of a cancelled appointment stay busy and are never offered again")
CANCEL_ACCEPTS_EMPTY_REASON = declare(
    "cancel-accepts-empty-reason", ["APT-CAN-008"], "appointments",
    "a cancellation with an empty reason, or with the reason under a wrong extension URL, is accepted")
CANCEL_422_NO_DIAGNOSTICS = declare(
    "cancel-422-without-diagnostics", ["GEN-ERR-001c"], "appointments",
    "every 422 from Cancel an appointment carries an OperationOutcome without diagnostics")


def without_diagnostics(fault: str) -> Callable[[Callable[[Context], Reply]], Callable[[Context], Reply]]:
    """With `fault` on, the handler's 422 errors carry no diagnostics (GEN-ERR-001c), and nothing else changes."""

    def wrap(handler: Callable[[Context], Reply]) -> Callable[[Context], Reply]:
        @functools.wraps(handler)
        def run(ctx: Context) -> Reply:
            try:
                return handler(ctx)
            except ProviderError as exc:
                if exc.status == 422 and ctx.faults.on(fault):
                    raise ProviderError(exc.status, exc.code, exc.issue_code, "") from None
                raise

        return run

    return wrap


# -- rendering -------------------------------------------------------------------------------------

def _when(text_or_moment: dt.datetime | str, utc: bool) -> str:
    moment = text_or_moment if isinstance(text_or_moment, dt.datetime) else uktime.parse_instant(text_or_moment)
    if moment is None:
        return str(text_or_moment)
    if utc:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return uktime.format_local(moment)


def appointment_resource(ctx: Context, appt: Appointment) -> dict[str, Any]:
    """The appointment as GPConnect-Appointment-1 (APT-BOOK-015..018, APT-READ-001/004)."""
    faults = ctx.faults
    res: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appt.id,
        "meta": {"versionId": ctx.store.version("Appointment", appt.id), "profile": [profiles.APPOINTMENT]},
    }
    extensions: list[dict[str, Any]] = []
    if appt.booking_org and not faults.on(MISSING_BOOKING_ORG):
        res["contained"] = [copy.deepcopy(appt.booking_org)]
        extensions.append({"url": BOOKING_ORG_EXT, "valueReference": {"reference": f"#{appt.booking_org['id']}"}})
    if appt.cancellation_reason is not None:
        extensions.append({"url": CANCELLATION_REASON_EXT, "valueString": appt.cancellation_reason})
    if not faults.on(APPOINTMENT_DROPS_ROLE):
        extensions.append({"url": PRACTITIONER_ROLE_EXT, "valueCodeableConcept": {
            "coding": [{"system": SDS_JOB_ROLE_SYSTEM, "code": appt.role_code, "display": appt.role_display}]}})
    if not faults.on(APPOINTMENT_DROPS_CHANNEL):
        extensions.append({"url": DELIVERY_CHANNEL_EXT, "valueCode": appt.channel})
    res["extension"] = extensions
    for key in ("identifier", "priority"):
        if key in appt.kept:
            res[key] = copy.deepcopy(appt.kept[key])
    res["status"] = appt.status
    if not faults.on(APPOINTMENT_SLOT_TYPE_MISSING):
        if appt.schedule_type:
            res["serviceCategory"] = {"text": appt.schedule_type}
        res["serviceType"] = [{"text": appt.slot_type}]
    if faults.on(APPOINTMENT_SPECIALTY):
        res["specialty"] = [{"text": "General practice"}]
    if faults.on(APPOINTMENT_TYPE_POPULATED):
        res["appointmentType"] = {"text": "Routine"}
    res["description"] = appt.description
    utc = faults.on(APPOINTMENT_TIMES_UTC)
    res["start"] = _when(appt.start, utc)
    res["end"] = _when(appt.end, utc)
    if "minutesDuration" in appt.kept:
        res["minutesDuration"] = appt.kept["minutesDuration"]
    res["slot"] = [{"reference": f"Slot/{sid}"} for sid in appt.slot_ids]
    res["created"] = _when(appt.created, utc)
    if appt.comment is not None:
        res["comment"] = appt.comment
    res["participant"] = copy.deepcopy(appt.participants)
    if faults.on(PARTICIPANT_STATUS_MISSING) and response_format(ctx.query, ctx.headers, faults) == "json":
        for p in res["participant"]:  # in JSON only: the XML writer cannot write what is not valid STU3
            p.pop("status", None)
    return res


def _reply(ctx: Context, appt: Appointment, status: int = 200, etag: bool = True) -> Reply:
    reply = resource_reply(appointment_resource(ctx, appt), status)
    if not etag:
        reply.headers.pop("ETag", None)
    return reply


def _minimal(ctx: Context, ignores_minimal: str) -> bool:
    """GEN-HTTP-005: whether to answer a create or update without a body (Prefer: return=minimal)."""
    prefer = ctx.headers.get("prefer", "").replace(" ", "").lower()
    if "return=minimal" in prefer:
        return not ctx.faults.on(ignores_minimal)
    return bool(prefer) and ctx.faults.on(PREFER_REPRESENTATION_EMPTY)


def _written(ctx: Context, appt: Appointment, ignores_minimal: str, status: int = 200,
             headers: dict[str, str] | None = None) -> Reply:
    """The answer to a book, amend or cancel: the appointment, or only its headers when minimal is preferred."""
    if _minimal(ctx, ignores_minimal):
        version = ctx.store.version("Appointment", appt.id)
        return Reply(status, None, {**(headers or {}), "ETag": f'W/"{version}"'})
    reply = _reply(ctx, appt, status)
    reply.headers.update(headers or {})
    return reply


# -- shared request checks -------------------------------------------------------------------------

def _appointment_body(ctx: Context) -> dict[str, Any]:
    body = ctx.body
    if not isinstance(body, dict) or body.get("resourceType") != "Appointment":
        found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        if isinstance(found, str) and model_for(found) is not None and ctx.faults.on(WRONG_BODY_TYPE_BAD_REQUEST):
            raise bad_request(f"the request body must be an Appointment (was {found})")
        raise invalid_resource(f"the request body must be an Appointment (was {found})")
    return body


def _structure(body: dict[str, Any]) -> None:
    problems = validate_structure(body, "Appointment")
    if problems:
        raise invalid_resource(f"the Appointment is not valid: {problems[0]}")


def _requesting_ods(ctx: Context) -> str | None:
    org = ctx.claims.get("requesting_organization") if isinstance(ctx.claims, dict) else None
    for ident in (org or {}).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == profiles.ODS_ORG_SYSTEM:
            return ident.get("value")
    return None


def _booking_ods(appt: Appointment) -> str | None:
    for ident in appt.booking_org.get("identifier") or []:
        if ident.get("system") == profiles.ODS_ORG_SYSTEM:
            return ident.get("value")
    return None


def _only_booking_org(ctx: Context, appt: Appointment, fault: str) -> None:
    if ctx.faults.on(fault) and _requesting_ods(ctx) != _booking_ods(appt):
        raise ProviderError(403, "NO_ORGANISATIONAL_CONSENT", "forbidden",
                            "only the organisation that booked this appointment may use it")


def _find(ctx: Context, diary: Diary) -> Appointment:
    appt = diary.appointments.get(ctx.path_params["id"])
    if appt is None:
        raise not_found("NO_RECORD_FOUND", f"no appointment with id {ctx.path_params['id']!r}")
    return appt


def _if_match(ctx: Context, appt: Appointment, ignore: bool) -> None:
    """GEN-HTTP-006: a version-aware update names the current version, else 409."""
    header = ctx.headers.get("if-match")
    if header is None or ignore:
        return
    m = _IF_MATCH.match(header)
    current = ctx.store.version("Appointment", appt.id)
    if not m or m.group(1) != current:
        raise ProviderError(409, "FHIR_CONSTRAINT_VIOLATION", "conflict",
                            f"If-Match {header!r} does not name the current version W/\"{current}\"")


def _text_limits(ctx: Context, diary: Diary, description: Any, comment: Any) -> tuple[str, str | None]:
    """APT-BOOK-008/009: stored whole, or refused when longer than the practice can store."""
    book = diary.book
    max_description, max_comment = (book.max_description, book.max_comment) if book else (100, 500)
    out: list[Any] = []
    for name, value, limit in (("description", description, max_description),
                               ("comment", comment, max_comment)):
        if value is None:
            out.append(None)
            continue
        if not isinstance(value, str) or not value.strip():
            raise invalid_resource(f"{name} must be a non-empty string")
        if len(value) > limit:
            if not ctx.faults.on(TEXT_TRUNCATED):
                raise invalid_resource(f"{name} is {len(value)} characters; this practice stores at most {limit}")
            value = value[:limit]
        if ctx.faults.on(TEXT_TRUNCATED_BYTES):
            value = value.encode("utf-8")[:limit].decode("utf-8", "ignore")
        out.append(value)
    if out[0] is None:
        raise invalid_resource("description is required")
    return out[0], out[1]


def _past(appt: Appointment) -> bool:
    return appt.start < uktime.now()


# -- book ------------------------------------------------------------------------------------------

def _refs(body: dict[str, Any], kind: str) -> list[str]:
    out = []
    for p in body.get("participant") or []:
        ref = ((p or {}).get("actor") or {}).get("reference") or ""
        if ref.startswith(f"{kind}/"):
            out.append(ref[len(kind) + 1:])
    return out


def _booking_org(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """The contained Organization the bookingOrganisation extension points at, checked (APT-BOOK-005)."""
    lenient = ctx.faults.on(BOOK_ACCEPTS_NO_LOCATION)
    ext = [e for e in body.get("extension") or [] if isinstance(e, dict) and e.get("url") == BOOKING_ORG_EXT]
    if not ext:
        raise invalid_resource("the bookingOrganisation extension is required")
    ref = ((ext[0].get("valueReference") or {}).get("reference")) or ""
    if not ref.startswith("#"):
        raise invalid_resource(f"bookingOrganisation must reference a contained Organization (was {ref!r})")
    org = next((c for c in body.get("contained") or [] if isinstance(c, dict)
                and c.get("resourceType") == "Organization" and c.get("id") == ref[1:]), None)
    if org is None:
        raise invalid_resource(f"bookingOrganisation {ref} is not contained in the Appointment")
    if not any(i.get("system") == profiles.ODS_ORG_SYSTEM and i.get("value") for i in org.get("identifier") or []):
        raise invalid_resource("the booking organisation has no ODS code identifier")
    if not lenient and (not org.get("name") or not org.get("telecom")):
        raise invalid_resource("the booking organisation must have a name and a telecom")
    return copy.deepcopy(org)


def _org_type(org: dict[str, Any]) -> str | None:
    for t in org.get("type") or []:
        for c in (t or {}).get("coding") or []:
            if c.get("code"):
                return c["code"]
    return None


def _check_slots(ctx: Context, diary: Diary, body: dict[str, Any], org: dict[str, Any]) -> list[Slot]:
    faults = ctx.faults
    ids = []
    for ref in body.get("slot") or []:
        r = (ref or {}).get("reference") or ""
        if not r.startswith("Slot/") or "/" in r[5:] or not r[5:]:
            raise invalid_resource(f"slot reference {r!r} is not a relative reference Slot/[id]")
        ids.append(r[5:])
    if not ids:
        raise invalid_resource("at least one slot is required")
    if len(set(ids)) != len(ids):
        raise invalid_resource("the same slot is named twice")
    missing = [i for i in ids if i not in diary.slots]
    if missing:
        if faults.on(UNKNOWN_SLOT_NOT_FOUND):
            raise not_found("NO_RECORD_FOUND", f"slot {missing[0]} not found")
        raise ProviderError(422, "REFERENCE_NOT_FOUND", "invalid", f"slot {missing[0]} does not exist")
    slots = sorted((diary.slots[i] for i in ids), key=lambda s: s.start)
    if len(slots) > 1 and faults.on(REJECTS_MULTI_SLOT):
        raise invalid_resource("only one slot may be booked")
    for a, b in itertools.pairwise(slots):
        if b.start != a.end and not faults.on(BOOKS_NON_ADJACENT):
            raise invalid_resource(f"slots {a.id} and {b.id} are not adjacent")
        if b.schedule.id != a.schedule.id and not faults.on(BOOKS_ACROSS_SCHEDULES):
            raise invalid_resource(f"slots {a.id} and {b.id} are on different schedules")
        if b.channel != a.channel and not faults.on(BOOKS_MIXED_CHANNELS):
            raise invalid_resource(f"slots {a.id} and {b.id} have different delivery channels")
        if b.slot_type != a.slot_type and not faults.on(BOOKS_MIXED_TYPES):
            raise invalid_resource(f"slots {a.id} and {b.id} have different slot types")
    if slots[0].start < uktime.now() and not faults.on(BOOKS_PAST_SLOT):
        raise invalid_resource(f"slot {slots[0].id} is in the past")
    start, end = uktime.parse_instant(body.get("start")), uktime.parse_instant(body.get("end"))
    if (start != slots[0].start or end != slots[-1].end) and not faults.on(BOOK_IGNORES_TIMES):
        raise invalid_resource("start and end must be the start of the first slot and the end of the last")
    ods = next((i.get("value") for i in org.get("identifier") or [] if i.get("system") == profiles.ODS_ORG_SYSTEM),
               None)
    window = diary.book.booking_window_days if diary.book else 14
    for s in slots:
        if not s.offered_to(_org_type(org), ods) and not faults.on(BOOKS_RESTRICTED_SLOT):
            raise invalid_resource(f"slot {s.id} is not available to the booking organisation {ods}")
        if s.start > uktime.now() + dt.timedelta(days=window):
            raise invalid_resource(f"slot {s.id} is beyond the practice's booking window")
    busy = [s.id for s in slots if not s.free]
    if busy and not faults.on(DOUBLE_BOOKING):
        raise ProviderError(409, "DUPLICATE_REJECTED", "duplicate", f"slot {busy[0]} is no longer free")
    return slots


@handles("appointment.book")
@without_diagnostics(BOOK_422_NO_DIAGNOSTICS)
def book_appointment(ctx: Context) -> Reply:
    faults, store = ctx.faults, ctx.store
    diary = diary_of(store)
    body = _appointment_body(ctx)
    if (body.get("reason") or body.get("specialty")) and not faults.on(BOOK_ACCEPTS_REASON):
        raise invalid_resource("reason and specialty must not be sent when booking")
    _structure(body)
    if body.get("status") != "booked":
        raise invalid_resource(f"status must be 'booked' (was {body.get('status')!r})")
    for key in ("start", "end"):
        if not body.get(key):
            raise invalid_resource(f"{key} is required")
    patients, locations = _refs(body, "Patient"), _refs(body, "Location")
    if len(patients) != 1:
        raise invalid_resource("exactly one Patient participant is required")
    if not locations and not faults.on(BOOK_ACCEPTS_NO_LOCATION):
        raise invalid_resource("a Location participant (where the appointment takes place) is required")
    for ident in body.get("identifier") or []:
        # GPConnect-Appointment-1 makes identifier.system and identifier.value 1..1.
        if not (ident or {}).get("system") or (not (ident or {}).get("value")
                                                and not faults.on(BOOK_ACCEPTS_BLANK_IDENTIFIER)):
            raise invalid_resource("every identifier needs a system and a value")
    for p in body.get("participant") or []:
        ref = ((p or {}).get("actor") or {}).get("reference") or ""
        if not re.fullmatch(r"(Patient|Location|Practitioner)/[A-Za-z0-9\-.]{1,64}", ref):
            raise invalid_resource(f"participant actor {ref!r} is not a relative Patient, Location or "
                                   "Practitioner reference")
    org = _booking_org(ctx, body)
    description, comment = _text_limits(ctx, diary, body.get("description"), body.get("comment"))
    if comment is None and faults.on(BOOK_ADDS_COMMENT):
        comment = "Booked through GP Connect"
    with store.lock:
        if patients[0] not in store.patients:
            raise ProviderError(422, "REFERENCE_NOT_FOUND", "invalid", f"patient {patients[0]} does not exist")
        for lid in locations:
            if lid not in store.locations:
                raise ProviderError(422, "REFERENCE_NOT_FOUND", "invalid", f"location {lid} does not exist")
        for pid in _refs(body, "Practitioner"):
            if pid not in store.practitioners:
                raise ProviderError(422, "REFERENCE_NOT_FOUND", "invalid", f"practitioner {pid} does not exist")
        slots = _check_slots(ctx, diary, body, org)
        schedule = slots[0].schedule
        if schedule.practitioner and not _refs(body, "Practitioner") and faults.on(BOOK_REQUIRES_PRACTITIONER):
            raise invalid_resource(f"the Practitioner participant (Practitioner/{schedule.practitioner}) is required")
        slot_type, schedule_type = slots[0].slot_type, schedule.schedule_type
        if faults.on(BOOK_ECHOES_TYPE):
            slot_type = next((t.get("text") for t in body.get("serviceType") or [] if t.get("text")), slot_type)
            schedule_type = (body.get("serviceCategory") or {}).get("text") or schedule_type
        participants = copy.deepcopy(body.get("participant") or [])
        if schedule.practitioner and not _refs(body, "Practitioner"):
            participants.append({"actor": {"reference": f"Practitioner/{schedule.practitioner}"},
                                 "status": "accepted"})
        kept = {k: copy.deepcopy(body[k]) for k in KEPT_ELEMENTS if k in body}
        if "identifier" in kept:
            # An identifier without a value gets this far only under BOOK_ACCEPTS_BLANK_IDENTIFIER; never store it.
            kept["identifier"] = [i for i in kept["identifier"] if (i or {}).get("value")]
            if not kept["identifier"]:
                del kept["identifier"]
        appt = Appointment(
            id=diary.new_appointment_id(), patient=patients[0], slot_ids=[s.id for s in slots],
            location=locations[0] if locations else schedule.location, practitioner=schedule.practitioner,
            start=slots[0].start, end=slots[-1].end, created=body.get("created") or uktime.format_local(uktime.now()),
            description=description, comment=comment, booking_org=org, slot_type=slot_type,
            schedule_type=schedule_type, channel=slots[0].channel, role_code=schedule.role_code,
            role_display=schedule.role_display, participants=participants, kept=kept)
        for s in slots:
            s.free = False
            store.bump("Slot", s.id)
        diary.appointments[appt.id] = appt
        version = store.bump("Appointment", appt.id)
    headers = {} if faults.on(BOOK_NO_LAST_MODIFIED) else {
        "Last-Modified": email.utils.format_datetime(dt.datetime.now(dt.UTC), usegmt=True)}
    if not faults.on(BOOK_NO_LOCATION_HEADER) and not faults.on(BOOK_WITHOUT_ID):
        headers["Location"] = f"{ctx.service_root}/Appointment/{appt.id}/_history/{version}"
    reply = _written(ctx, appt, BOOK_IGNORES_PREFER, 200 if faults.on(BOOK_ANSWERS_200) else 201, headers)
    if faults.on(BOOK_WITHOUT_ID) and isinstance(reply.resource, dict):
        reply.resource.pop("id", None)
    return reply


# -- retrieve --------------------------------------------------------------------------------------

def _retrieve_range(ctx: Context) -> tuple[dt.date, dt.date | None]:
    faults = ctx.faults
    values = ctx.params("start")
    bounds: dict[str, dt.date] = {}
    for raw in values:
        prefix, value = raw[:2], raw[2:]
        if prefix not in ("ge", "le"):
            if faults.on(RETRIEVE_ACCEPTS_REVERSED):
                continue
            raise invalid_parameter(f"start {raw!r} must have the prefix ge or le")
        if not uktime.DATE.match(value):
            if faults.on(RETRIEVE_ACCEPTS_TIME) and uktime.parse_instant(value) is not None:
                value = value[:10]
            else:
                raise invalid_parameter(f"start {raw!r} must be a date yyyy-mm-dd with no time part")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise invalid_parameter(f"start {raw!r} is not a valid date") from None
        if prefix in bounds:
            raise invalid_parameter(f"start={prefix} is given twice")
        bounds[prefix] = day
    today = uktime.today()
    if "ge" not in bounds or "le" not in bounds:
        if not faults.on(RETRIEVE_ACCEPTS_TIME):
            raise invalid_parameter("two start parameters are required: start=ge{date} and start=le{date}")
        bounds.setdefault("ge", today)
    ge, le = bounds["ge"], bounds.get("le")
    if (ge < today or (le is not None and le < today)) and not faults.on(RETRIEVE_ACCEPTS_PAST):
        raise invalid_parameter(f"the range {ge}..{le} starts in the past; only appointments from today "
                                f"({today}) on can be retrieved")
    if le is not None and le < ge and not faults.on(RETRIEVE_ACCEPTS_REVERSED):
        raise invalid_parameter(f"the end of the range ({le}) is before its start ({ge})")
    return ge, le


@handles("appointment.retrieve")
def retrieve_appointments(ctx: Context) -> Reply:
    faults, store = ctx.faults, ctx.store
    pid = ctx.path_params["id"]
    diary = diary_of(store)
    if pid not in store.patients:
        if faults.on(RETRIEVE_UNKNOWN_PATIENT_EMPTY):
            return Reply(200, searchset([]))
        raise not_found("PATIENT_NOT_FOUND", f"no patient with id {pid!r}")
    ge, le = _retrieve_range(ctx)
    found: list[Appointment] = []
    with store.lock:
        for appt in sorted(diary.appointments.values(), key=lambda a: a.start):
            day = appt.start.astimezone(uktime.LONDON).date()
            if appt.patient != pid:
                continue
            if day < ge and not faults.on(RETRIEVE_IGNORES_GE):
                continue
            if le is not None and day > le and not faults.on(RETRIEVE_IGNORES_LE):
                continue
            if appt.status == "cancelled" and faults.on(RETRIEVE_OMITS_CANCELLED):
                continue
            restricted = any(diary.slots[s].schedule.org_types or diary.slots[s].schedule.ods_codes
                             for s in appt.slot_ids if s in diary.slots)
            if restricted and faults.on(RETRIEVE_FILTERS_AVAILABILITY):
                continue
            found.append(appt)
        listed = [appointment_resource(ctx, a) for a in found]
        if faults.on(RETRIEVE_CANCELLED_AS_BOOKED):
            for res in listed:
                res["status"] = "booked" if res.get("status") == "cancelled" else res.get("status")
        bundle = searchset(listed)
    if faults.on(WRONG_BUNDLE_TYPE):
        bundle["type"] = "collection"
    return Reply(200, bundle)


# -- read ------------------------------------------------------------------------------------------

@handles("appointment.read")
def read_appointment(ctx: Context) -> Reply:
    faults = ctx.faults
    diary = diary_of(ctx.store)
    if ctx.path_params["id"] not in diary.appointments and faults.on(READ_UNKNOWN_BAD_REQUEST):
        raise ProviderError(400, "BAD_REQUEST", "invalid", "unknown appointment")
    with ctx.store.lock:
        appt = _find(ctx, diary)
        _only_booking_org(ctx, appt, READ_ONLY_BOOKING_ORG)
        if _past(appt) and not faults.on(READS_PAST):
            raise invalid_resource(f"appointment {appt.id} is in the past and cannot be read")
        return _reply(ctx, appt, etag=not faults.on(READ_NO_ETAG))


# -- amend and cancel ------------------------------------------------------------------------------

def _comparable(res: dict[str, Any], ignore: set[str], ignore_ext: set[str]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in res.items() if k not in {"meta", "id", "text", *ignore}}
    exts = [e for e in res.get("extension") or [] if not (isinstance(e, dict) and e.get("url") in ignore_ext)]
    out.pop("extension", None)
    if exts:
        out["extension"] = sorted(exts, key=lambda e: json.dumps(e, sort_keys=True))
    for key in _TIMES:
        if key in out:
            moment = uktime.parse_instant(out[key])
            out[key] = moment.timestamp() if moment else out[key]
    if isinstance(out.get("participant"), list):
        out["participant"] = sorted(out["participant"], key=lambda p: json.dumps(p, sort_keys=True))
    return out


def changed_elements(current: dict[str, Any], sent: dict[str, Any], may_change: set[str],
                     may_change_ext: set[str], *, types_may_be_left_out: bool = True) -> list[str]:
    """Top-level elements (and extension URLs) the consumer changed beyond what it may change.

    Elements the provider populates itself (serviceType, serviceCategory, the practitionerRole and
    deliveryChannel extensions) count as unchanged when the consumer leaves them out (APT-AMD-002 and
    APT-CAN-002 readings: the specification's own amend and cancel request examples leave them out).
    """
    owned = _PROVIDER_OWNED if types_may_be_left_out else ()
    ignore = set(may_change) | {k for k in owned if k not in sent}
    sent_urls = {e.get("url") for e in sent.get("extension") or [] if isinstance(e, dict)}
    ignore_ext = set(may_change_ext) | {u for u in _PROVIDER_EXTENSIONS if u not in sent_urls}
    a, b = _comparable(current, ignore, ignore_ext), _comparable(sent, ignore, ignore_ext)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


_AMEND_LISTED = {"start", "end", "slot", "participant", "status", "priority", "extension"}


@handles("appointment.amend")
@without_diagnostics(AMEND_422_NO_DIAGNOSTICS)
def amend_appointment(ctx: Context) -> Reply:
    faults, store = ctx.faults, ctx.store
    diary = diary_of(store)
    with store.lock:
        appt = _find(ctx, diary)
        body = _appointment_body(ctx)
        if body.get("id") not in (None, appt.id):
            raise invalid_resource(f"the Appointment id {body.get('id')!r} differs from the URL's {appt.id!r}")
        _if_match(ctx, appt, faults.on(AMEND_IGNORES_IF_MATCH))
        _only_booking_org(ctx, appt, AMEND_ONLY_BOOKING_ORG)
        if appt.status == "cancelled" and not faults.on(AMENDS_CANCELLED):
            raise invalid_resource(f"appointment {appt.id} is cancelled and cannot be amended")
        if _past(appt) and not faults.on(AMENDS_PAST):
            raise invalid_resource(f"appointment {appt.id} is in the past and cannot be amended")
        _structure(body)
        description, comment = _text_limits(ctx, diary, body.get("description"), body.get("comment"))
        current = appointment_resource(ctx, appt)
        may_change = {"description", "comment"}
        if faults.on(AMEND_CHANGES_START):
            may_change |= {"start", "end"}
        changed = changed_elements(current, body, may_change, set(),
                                   types_may_be_left_out=not faults.on(UPDATE_REQUIRES_TYPES))
        if faults.on(AMEND_LISTED_FIELDS_ONLY):
            changed = [c for c in changed if c in _AMEND_LISTED]
        if changed:
            raise invalid_resource(f"only description and comment may be amended; also changed: {', '.join(changed)}")
        if faults.on(AMEND_CHANGES_START):
            appt.start = uktime.parse_instant(body.get("start")) or appt.start
            appt.end = uktime.parse_instant(body.get("end")) or appt.end
        appt.description, appt.comment = description, comment
        if not faults.on(AMEND_KEEPS_VERSION):
            store.bump("Appointment", appt.id)
        return _written(ctx, appt, UPDATE_IGNORES_PREFER)


def _cancellation_reason(ctx: Context, body: dict[str, Any]) -> str:
    """APT-CAN-001/008: the reason under its own extension URL, not empty."""
    lenient = ctx.faults.on(CANCEL_ACCEPTS_EMPTY_REASON)
    exts = [e for e in body.get("extension") or [] if isinstance(e, dict)]
    reasons = [e for e in exts if e.get("url") == CANCELLATION_REASON_EXT]
    if not reasons:
        stray = [e for e in exts if "valueString" in e and e.get("url") not in (BOOKING_ORG_EXT,)]
        if lenient and stray:
            return str(stray[0].get("valueString") or "")
        raise invalid_resource(f"a cancellation needs the {CANCELLATION_REASON_EXT} extension")
    value = reasons[0].get("valueString")
    if not isinstance(value, str) or not value.strip():
        if lenient:
            return ""
        raise invalid_parameter("the cancellation reason is empty")
    return value


@handles("appointment.cancel")
@without_diagnostics(CANCEL_422_NO_DIAGNOSTICS)
def cancel_appointment(ctx: Context) -> Reply:
    faults, store = ctx.faults, ctx.store
    diary = diary_of(store)
    with store.lock:
        appt = _find(ctx, diary)
        body = _appointment_body(ctx)
        if body.get("id") not in (None, appt.id):
            raise invalid_resource(f"the Appointment id {body.get('id')!r} differs from the URL's {appt.id!r}")
        _if_match(ctx, appt, faults.on(CANCEL_IGNORES_IF_MATCH))
        if appt.status == "cancelled":
            raise invalid_resource(f"appointment {appt.id} is already cancelled")
        if _past(appt) and not faults.on(CANCELS_PAST):
            raise invalid_resource(f"appointment {appt.id} is in the past and cannot be cancelled")
        reason = _cancellation_reason(ctx, body)
        checked = copy.deepcopy(body)
        if faults.on(CANCEL_ACCEPTS_EMPTY_REASON):  # let the stray or empty reason through the checks below
            checked["extension"] = [e for e in checked.get("extension") or []
                                    if not (isinstance(e, dict) and "valueString" in e)]
        _structure(checked)
        if body.get("status") != "cancelled":
            raise invalid_resource(f"status must be 'cancelled' (was {body.get('status')!r})")
        may_change = {"status"}
        if faults.on(CANCEL_ACCEPTS_CHANGES):
            may_change |= {"description", "comment"}
        current = appointment_resource(ctx, appt)
        changed = changed_elements(current, checked, may_change, {CANCELLATION_REASON_EXT},
                                   types_may_be_left_out=not faults.on(UPDATE_REQUIRES_TYPES))
        if changed:
            raise invalid_resource("only status and the cancellation reason may change when cancelling; also "
                                   f"changed: {', '.join(changed)}")
        if faults.on(CANCEL_ACCEPTS_CHANGES):
            appt.description = body.get("description") or appt.description
            appt.comment = body.get("comment", appt.comment)
        appt.status = "cancelled"
        appt.cancellation_reason = None if faults.on(CANCEL_DROPS_REASON) else reason
        if not faults.on(CANCEL_KEEPS_SLOT):
            for sid in appt.slot_ids:
                if sid in diary.slots:
                    diary.slots[sid].free = True
                    store.bump("Slot", sid)
        store.bump("Appointment", appt.id)
        return _written(ctx, appt, UPDATE_IGNORES_PREFER)
