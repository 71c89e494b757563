"""The journeys a consumer under test is asked to perform, one per flow, step by step.

Each step is one thing a user of the consumer does ("find this patient and open their record"). The
driver sets it off; the simulator records what arrives. A step names the requests that show it was
done (`expects`), responses the simulator gives on purpose (`plants`) to see how the consumer copes,
and the placeholders its instruction uses. Steps are data: the suites, the reference consumer and a
person following `manual` instructions all read the same table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gpc_assure.fhir import uktime
from gpc_assure.reference.outcomes import outcome

FOUNDATIONS, APPOINTMENTS, PERMISSIONS = "foundations", "appointments", "permissions"
FLOWS = (FOUNDATIONS, APPOINTMENTS, PERMISSIONS)

# Requests the recording layer classifies beyond the GP Connect interactions table.
PFS_GET, PFS_POST, PFS_RECORD = "permissions.get", "permissions.post", "pfs.record"
PFS_OTHER = "permissions.other"  # any other method on the User Permissions API
PATIENT_FACING = (PFS_GET, PFS_POST, PFS_RECORD, PFS_OTHER)  # every Patient Facing request (no SSP, no JWT)
PFS_ERROR_SYSTEM = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"


@dataclass(frozen=True)
class Plant:
    """A response the simulator gives on purpose instead of the provider's answer."""

    interaction: str  # the kind of request it answers (the first `times` of them in the step)
    status: int
    body: dict[str, Any]
    what: str  # shown in the evidence and the attestation items
    content_type: str = "application/fhir+json"
    times: int = 1


@dataclass(frozen=True)
class Step:
    name: str
    scenario: str
    instruction: str  # what a user of the consumer does; {placeholders} filled in for people
    expects: tuple[str, ...]  # requests whose arrival shows the step was done
    patient_role: str | None = None  # a Target test_data role ({nhs_number}, {family}...)
    permissions_role: str | None = None  # a [permissions] role ({nhs_number}, {token})
    params: dict[str, str] = field(default_factory=dict)
    plants: tuple[Plant, ...] = ()
    decorate_find: bool = False  # the find response carries unknown elements and a decoy fullUrl (CON-010)
    amend_elsewhere: bool = False  # before the step the appointment is changed by someone else (stale ETags)
    needs_appointment: bool = False
    registers: bool = False  # the step exists to register; a find that returns the patient makes that moot
    versions: tuple[str, ...] = ()  # User Permissions versions the step applies to (empty: all)


def _gpc_outcome(code: str, issue: str, diagnostics: str) -> dict[str, Any]:
    return outcome(code, issue, diagnostics)


def _pfs_outcome(code: str, display: str, issue: str, diagnostics: str, text: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"coding": [{"system": PFS_ERROR_SYSTEM, "version": "1", "code": code,
                                           "display": display}]}
    if text:
        details["text"] = text
    return {"resourceType": "OperationOutcome",
            "meta": {"lastUpdated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()},
            "issue": [{"severity": "error", "code": issue, "details": details, "diagnostics": diagnostics}]}


SLOT_TAKEN = Plant(
    "appointment.book", 409,
    _gpc_outcome("DUPLICATE_REJECTED", "duplicate", "the slot was booked by someone else a moment ago"),
    "409 DUPLICATE_REJECTED to the first booking: the slot was taken by someone else")
PFS_OUTAGE = Plant(
    PFS_GET, 503, _pfs_outcome("SERVICE_UNAVAILABLE", "Service unavailable", "transient",
                               "the GP system did not answer in time; try again"),
    "503 to the first permissions request: a transient failure the app should retry")
RECORD_NOT_FOUND = Plant(
    PFS_RECORD, 404, _pfs_outcome("PATIENT_NOT_FOUND", "Patient not found", "not-found",
                                  "online access is not enabled for this patient"),
    "404 PATIENT_NOT_FOUND from the documents API: online access is not enabled yet")
REFUSAL_TEXT = ("Your request was not sent: your practice is not taking requests for more access to your "
                "current medical record at the moment.")
REQUEST_REFUSED = Plant(
    PFS_POST, 403, _pfs_outcome("FORBIDDEN_UPDATE", "Update not allowed", "forbidden",
                                "the practice does not accept requests for this permission", REFUSAL_TEXT),
    "403 FORBIDDEN_UPDATE to the permission request, with a reason for the patient")

AMENDED_DESCRIPTION = "Patient asked for a longer appointment"
CANCEL_REASON = "The patient is feeling better"

SCENARIOS: dict[str, tuple[Step, ...]] = {
    FOUNDATIONS: (
        Step("find-patient", FOUNDATIONS,
             "Find the patient with NHS number {nhs_number} at the practice and open their record.",
             expects=("patient.find", "patient.read"), patient_role="registered_verified", decorate_find=True),
        Step("register-patient", FOUNDATIONS,
             "The patient {given} {family} (NHS number {nhs_number}, born {birth_date}, {gender}) is not "
             "registered at the practice: look them up, and register them there as a temporary patient.",
             expects=("patient.find", "patient.register"), patient_role="not_registered_pds_known", registers=True),
    ),
    APPOINTMENTS: (
        Step("search-slots", APPOINTMENTS,
             "Show the free appointments at the practice over the next {days} days.",
             expects=("slot.search",), params={"days": "28"}),
        Step("book-appointment", APPOINTMENTS,
             "Book the first free appointment in the next {days} days for {given} {family} (NHS number "
             "{nhs_number}, born {birth_date}), who is not registered at the practice.",
             expects=("slot.search", "patient.find", "appointment.book"), patient_role="not_registered_pds_known",
             params={"days": "7"}),
        Step("book-double-appointment", APPOINTMENTS,
             "Book a double appointment (two free slots, one after the other, as one appointment) in the next "
             "{days} days for the patient with NHS number {nhs_number}.",
             expects=("slot.search", "patient.find", "appointment.book"), patient_role="registered_verified",
             params={"days": "7"}),
        Step("book-after-conflict", APPOINTMENTS,
             "Book the first free appointment in the next {days} days for the patient with NHS number "
             "{nhs_number}.",
             expects=("slot.search", "patient.find", "appointment.book"), patient_role="registered_verified",
             params={"days": "7"}, plants=(SLOT_TAKEN,)),
        Step("retrieve-appointments", APPOINTMENTS,
             "Show the appointments of the patient with NHS number {nhs_number} from today for the next "
             "{days} days.",
             expects=("appointment.retrieve",), patient_role="registered_verified", params={"days": "14"}),
        Step("amend-appointment", APPOINTMENTS,
             "Change the description of appointment {appointment_id} to '{description}'.",
             expects=("appointment.amend",), params={"description": AMENDED_DESCRIPTION},
             amend_elsewhere=True, needs_appointment=True),
        Step("cancel-appointment", APPOINTMENTS,
             "Cancel appointment {appointment_id}, giving the reason '{reason}'.",
             expects=("appointment.cancel",), params={"reason": CANCEL_REASON}, needs_appointment=True),
    ),
    PERMISSIONS: (
        Step("first-sign-in", PERMISSIONS,
             "The patient with NHS number {nhs_number} signs in to the app for the first time (token {token}) "
             "and opens their documents.",
             expects=(PFS_GET, PFS_RECORD), permissions_role="new_user"),
        Step("documents-not-found", PERMISSIONS,
             "The patient with NHS number {nhs_number} (token {token}) opens their documents.",
             expects=(PFS_RECORD,), permissions_role="online", plants=(RECORD_NOT_FOUND,)),
        Step("sign-in-after-outage", PERMISSIONS,
             "The patient with NHS number {nhs_number} (token {token}) opens the app and sees their permissions.",
             expects=(PFS_GET,), permissions_role="requester", plants=(PFS_OUTAGE,)),
        Step("request-more-access", PERMISSIONS,
             "The patient with NHS number {nhs_number} (token {token}) asks for more access to their "
             "{permission}.",
             expects=(PFS_POST,), permissions_role="requester", params={"permission": "prescriptions"},
             versions=("legacy",)),
        Step("request-above-maximum", PERMISSIONS,
             "The patient with NHS number {nhs_number} (token {token}) asks for {level} access to their "
             "{permission} medical record.",
             expects=(PFS_GET,), permissions_role="requester", params={"permission": "historical", "level": "full"},
             versions=("legacy",)),
        Step("request-refused", PERMISSIONS,
             "The patient with NHS number {nhs_number} (token {token}) asks for more access to their {permission} "
             "medical record.",
             expects=(PFS_POST,), permissions_role="requester", params={"permission": "current"},
             plants=(REQUEST_REFUSED,), versions=("legacy",)),
    ),
}


# The requirement about performing each kind of request: a step whose request never arrives is charged
# (not met) to it, and the tests that needed the request are left not judged with it as the cause.
PERFORMS: dict[str, str] = {
    "metadata.read": "FND-CAP-009",  # the consumer reads the CapabilityStatement
    "patient.find": "FND-FP-001",  # Find a patient is GET /Patient?identifier=...
    "patient.read": "FND-RP-004",  # a patient is read by the id a find returned
    "patient.register": "FND-REG-001",  # Register a patient posts Parameters with registerPatient
    "slot.search": "APT-SLOT-003",  # every search for free slots sends status=free and _include
    "appointment.book": "APT-BOOK-001",  # the consumer POSTs a GPConnect-Appointment-1
    "appointment.retrieve": "APT-RET-001",  # the consumer retrieves with start=ge and start=le
    "appointment.amend": "APT-AMD-001",  # the consumer PUTs the amended appointment
    "appointment.cancel": "APT-CAN-001",  # the consumer PUTs the cancellation
    PFS_GET: "PFS-UPC-001",  # the app reads the patient's permissions (before anything else)
    PFS_RECORD: "PFS-UPC-001",  # the Patient Facing request whose order PFS-UPC-001 is about
    PFS_POST: "PFS-UPC-008",  # the app asks for more access (legacy)
}


def step(scenario: str, name: str) -> Step:
    for s in SCENARIOS[scenario]:
        if s.name == name:
            return s
    raise KeyError(f"no step {name!r} in the {scenario} scenario")


def applies(s: Step, pfs_version: str) -> bool:
    return not s.versions or pfs_version in s.versions


def instruction(s: Step, context: dict[str, str]) -> str:
    """The step's instruction with its placeholders filled in (for a person following `manual`)."""
    try:
        return s.instruction.format(**context)
    except (KeyError, IndexError):
        return s.instruction


def today_plus(days: int) -> dt.date:
    return uktime.today() + dt.timedelta(days=days)
