"""Reference handlers: Find a patient (with #921), Read a patient and Register a patient.

Patients are the store's LocalPatient records rendered as CareConnect-GPC-Patient-1. Find returns
only active patients; an active patient whose NHS number was never verified is traced on the
stand-in PDS first (#921) and returned only if PDS verifies them. Register verifies the consumer's
demographics on PDS, then either rejects, reactivates a patient who left as a temporary patient, or
creates a new temporary record; it never makes a regular (GMS) registration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gpc_assure import nhs_number
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import model_for, validate_structure
from gpc_assure.reference import pds
from gpc_assure.reference.data import Address, Language, LocalPatient, PdsRecord, Telecom
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import ProviderError, bad_request, invalid_resource, not_found
from gpc_assure.reference.routing import Context, Reply, handles, resource_reply, searchset
from gpc_assure.reference.store import PdsUnavailable, Store

# -- faults: Find --------------------------------------------------------------------------------
FIND_IGNORES_PDS = declare(
    "find-patient-ignores-pds", ["FND-FP-014", "FND-FP-015", "FND-FP-017"], "foundations",
    "#921 regression: an active patient whose NHS number was never verified is not traced on PDS, so Find "
    "leaves them out (and the consumer's Register then fails with DUPLICATE_REJECTED)")
FIND_NOT_MARKED_VERIFIED = declare(
    "find-921-not-marked-verified", ["FND-FP-017"], "foundations",
    "#921: a patient PDS verifies is returned, but the NHS number is left marked 'not traced'")
FIND_IGNORES_PDS_FLAGS = declare(
    "find-921-ignores-pds-flags", ["FND-FP-016"], "foundations",
    "#921: the PDS trace does not look at the deceased status or the invalid/sensitive/superseded flags")
FIND_RETURNS_INACTIVE = declare(
    "find-returns-inactive", ["FND-FP-004"], "foundations", "Find returns a patient who has left the practice")
FIND_RETURNS_DECEASED = declare(
    "find-returns-deceased", ["FND-FP-004"], "foundations", "Find returns a deceased patient")
FIND_RETURNS_SENSITIVE = declare(
    "find-returns-sensitive", ["GEN-IG-002"], "foundations", "Find returns an S-flagged (sensitive) patient")
FIND_APPLIES_DISSENT = declare(
    "find-applies-dissent", ["FND-FP-018", "GEN-IG-001"], "foundations",
    "Find applies the dissent-to-share flag and leaves out a patient who dissented")
FIND_WRONG_BUNDLE_TYPE = declare(
    "find-wrong-bundle-type", ["FND-FP-002", "FND-FP-003"], "foundations",
    "Find answers with a Bundle of type 'collection' instead of 'searchset'")
FIND_UNKNOWN_NOT_FOUND = declare(
    "find-unknown-patient-not-found", ["FND-FP-003"], "foundations",
    "Find answers 404 PATIENT_NOT_FOUND for an NHS number the practice does not hold, instead of an empty "
    "searchset")
WRONG_CODE_INVALID_NHS = declare(
    "wrong-error-code-invalid-nhs-number", ["FND-FP-012", "FND-REG-025", "ERR-003"], "foundations",
    "an NHS number failing its structural checks is answered INVALID_IDENTIFIER_VALUE, not INVALID_NHS_NUMBER")
FIND_ANY_SYSTEM = declare(
    "find-unknown-identifier-system-accepted", ["FND-FP-012", "ERR-001"], "foundations",
    "Find ignores the identifier system and searches by the value whatever system (or none) was sent")
FIND_IDENTIFIER_OPTIONAL = declare(
    "find-missing-identifier-not-rejected", ["FND-FP-013", "ERR-012"], "foundations",
    "Find without an identifier parameter answers an empty searchset; with two, it uses the first")

# -- faults: rendering (Find, Read and Register all render patients the same way) ----------------
NO_META_PROFILE = declare(
    "patient-missing-meta-profile", ["FND-FP-005", "FND-RP-002", "FND-REG-013", "GEN-RES-001a"], "foundations",
    "Patient resources carry meta.versionId but no meta.profile")
WRONG_IDENTIFIER_SYSTEM = declare(
    "patient-identifier-wrong-system", ["FND-FP-006", "FND-RP-002", "FND-REG-014"], "foundations",
    "the NHS number identifier uses the retired system http://fhir.nhs.net/Id/nhs-number")
NAME_NOT_OFFICIAL = declare(
    "patient-name-not-official", ["FND-FP-007", "FND-RP-002", "FND-REG-014"], "foundations",
    "the patient's name is given with use 'usual' instead of 'official'")
NO_GENDER = declare(
    "patient-missing-gender", ["FND-FP-008", "FND-RP-002", "FND-REG-014"], "foundations",
    "Patient.gender is left out although it is known")
BRANCH_NOT_LOCATION = declare(
    "patient-branch-not-location", ["FND-FP-009", "FND-RP-002", "FND-REG-015"], "foundations",
    "registrationDetails.preferredBranchSurgery references the practice Organization instead of a Location")
WRONG_MANAGING_ORG = declare(
    "patient-managing-org-wrong", ["FND-FP-010", "FND-RP-002", "FND-REG-014"], "foundations",
    "managingOrganization references another organisation, not the practice addressed by the ODS code")
EXCLUDED_ELEMENTS = declare(
    "patient-includes-excluded-elements", ["FND-FP-011", "FND-RP-002", "FND-REG-016"], "foundations",
    "Patient resources carry maritalStatus and the ethnicCategory extension, which GP Connect excludes")

# -- faults: Read --------------------------------------------------------------------------------
READ_WRONG_ID = declare(
    "read-wrong-id", ["FND-RP-001", "GEN-HTTP-003"], "foundations",
    "Read a patient answers with a resource whose id is the NHS number, not the id in the URL")
READ_UNKNOWN_WRONG_CODE = declare(
    "read-unknown-patient-wrong-code", ["FND-RP-003", "ERR-005"], "foundations",
    "an unknown patient id is answered 404 NO_RECORD_FOUND instead of PATIENT_NOT_FOUND")

# -- faults: Register ----------------------------------------------------------------------------
REGISTER_ACCEPTS_DUPLICATE = declare(
    "register-accepts-duplicate", ["FND-REG-008", "ERR-008"], "foundations",
    "Register answers 200 with the existing record for a patient who is already active at the practice")
REGISTER_REGULAR = declare(
    "register-makes-regular-registration", ["FND-REG-009", "FND-REG-011"], "foundations",
    "Register creates or reactivates a regular (GMS, type R) registration instead of a temporary one")
REGISTER_REJECTS_INACTIVE = declare(
    "register-rejects-inactive", ["FND-REG-009"], "foundations",
    "Register answers 409 DUPLICATE_REJECTED for a patient who has left, instead of reactivating them")
REGISTER_ACCEPTS_DECEASED = declare(
    "register-accepts-deceased", ["FND-REG-006", "FND-REG-010", "FND-REG-019", "ERR-004"], "foundations",
    "Register ignores the deceased status (on PDS and locally) and reactivates a deceased patient")
REGISTER_IGNORES_FLAGS = declare(
    "register-ignores-pds-flags", ["FND-REG-006", "FND-REG-020", "FND-REG-021", "ERR-003", "ERR-004"],
    "foundations", "Register ignores the PDS flags invalid, sensitive and superseded")
REGISTER_SUPERSEDED_WRONG_CODE = declare(
    "register-superseded-wrong-code", ["FND-REG-021", "ERR-003"], "foundations",
    "a PDS record flagged superseded or invalid is answered INVALID_PATIENT_DEMOGRAPHICS, not INVALID_NHS_NUMBER")
REGISTER_NOT_ON_PDS_WRONG_CODE = declare(
    "register-not-on-pds-wrong-code", ["FND-REG-018", "ERR-004"], "foundations",
    "an NHS number PDS does not know is answered 404 PATIENT_NOT_FOUND, not 400 INVALID_PATIENT_DEMOGRAPHICS")
REGISTER_PDS_DOWN_WRONG_CODE = declare(
    "register-pds-unavailable-wrong-code", ["FND-REG-022", "ERR-014"], "foundations",
    "when PDS does not answer, Register says 400 INVALID_PATIENT_DEMOGRAPHICS instead of 500 INTERNAL_SERVER_ERROR")
REGISTER_SKIPS_VERIFICATION = declare(
    "register-skips-pds-verification", ["FND-REG-005", "FND-REG-018", "ERR-004"], "foundations",
    "Register only checks the NHS number is on PDS and never compares the consumer's demographics with it")
REGISTER_MISSING_FIELDS_400 = declare(
    "register-missing-fields-bad-request", ["FND-REG-017", "FND-REG-026", "ERR-009"], "foundations",
    "an invalid registerPatient body (missing birth date, name, identifier...) is answered 400 BAD_REQUEST, "
    "as the demonstrator does, instead of 422 INVALID_RESOURCE")
REGISTER_ACCEPTS_DISALLOWED = declare(
    "register-accepts-disallowed-elements", ["FND-REG-024", "ERR-009"], "foundations",
    "Register ignores Patient elements a consumer must not send, extra addresses and extra nhsCommunication")
REGISTER_VAGUE_DIAGNOSTICS = declare(
    "register-diagnostics-vague", ["FND-REG-023"], "foundations",
    "Register's 422 errors say only 'invalid request' and do not name the parameter at fault")
REGISTER_NOT_SEARCHSET = declare(
    "register-response-not-searchset", ["FND-REG-013"], "foundations",
    "Register answers with a 'collection' Bundle without the GPConnect-Searchset-Bundle-1 profile")
REGISTER_DROPS_TELECOM = declare(
    "register-drops-consumer-telecom", ["FND-REG-014"], "foundations",
    "Register keeps only what PDS knows and drops the telecom the consumer sent")
REGISTER_NO_REGISTRATION_TYPE = declare(
    "register-missing-registration-type", ["FND-REG-015"], "foundations",
    "the Patient Register returns has no registrationDetails.registrationType")
REGISTER_NON_PATIENT_PARAMETER_CRASH = declare(
    "register-non-patient-parameter-crash", ["FND-REG-017", "ERR-009"], "foundations",
    "a registerPatient parameter holding another resource type is read as a Patient and fails with "
    "500 INTERNAL_SERVER_ERROR instead of 422 INVALID_RESOURCE")
REGISTER_IGNORES_UNKNOWN_ELEMENTS = declare(
    "register-ignores-unknown-elements", ["FND-REG-017", "ERR-009"], "foundations",
    "Patient elements FHIR does not define are silently dropped instead of the body being refused 422")
REGISTER_REQUIRES_GENDER = declare(
    "register-requires-gender", ["FND-REG-028", "FND-REG-009"], "foundations",
    "a registerPatient Patient without gender is refused 422 INVALID_RESOURCE, although gender is only a SHOULD")
REGISTER_REFUSES_TEMP_ADDRESS = declare(
    "register-refuses-home-and-temp-address", ["FND-REG-028"], "foundations",
    "a temporary address sent beside the home address is refused as a second address (422)")
REGISTER_KEEPS_PDS_ADDRESS = declare(
    "register-keeps-pds-address", ["FND-REG-014"], "foundations",
    "the registered record keeps PDS's address and drops the home address the consumer sent")
REGISTER_DROPS_NHS_COMMUNICATION = declare(
    "register-drops-nhs-communication", ["FND-REG-014"], "foundations",
    "the nhsCommunication extension the consumer sent is not kept on the registered record")
REGISTER_FIRST_GIVEN_ONLY = declare(
    "register-keeps-first-given-name", ["FND-REG-014"], "foundations",
    "the registered record keeps only the first of the given names sent")

_RETIRED_NHS_SYSTEM = "http://fhir.nhs.net/Id/nhs-number"
_HUMAN_LANGUAGE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-HumanLanguage-1"
_VERIFIED = ("01", "Number present and verified")
_NOT_TRACED = ("02", "Number present but not traced")
_REGISTRATION_TYPES = {"R": "Regular", "E": "Emergency", "IN": "Immediately necessary", "T": "Temporary",
                       "P": "Private", "O": "Other", "S": "Synthetic Record"}
_REG_START = "patient_registration_start"  # store.extra key: patient id -> registration period start


# -- errors --------------------------------------------------------------------------------------
def _demographics_error(diag: str) -> ProviderError:
    return ProviderError(400, "INVALID_PATIENT_DEMOGRAPHICS", "business-rule", diag)


def _invalid_nhs_number(value: str, faults: ActiveFaults) -> ProviderError:
    diag = f"{value!r} is not a valid NHS number (10 digits with a modulus 11 check digit)"
    if faults.on(WRONG_CODE_INVALID_NHS):
        return ProviderError(400, "INVALID_IDENTIFIER_VALUE", "value", diag)
    return ProviderError(400, "INVALID_NHS_NUMBER", "value", diag)


def _server_error(diag: str) -> ProviderError:
    return ProviderError(500, "INTERNAL_SERVER_ERROR", "processing", diag)


# -- rendering -----------------------------------------------------------------------------------
def _is_sensitive(store: Store, patient: LocalPatient) -> bool:
    # The practice holds PDS's S-flag locally; reading the stand-in's row is not a PDS trace.
    record = store.pds.get(patient.nhs_number)
    return record is not None and "sensitive" in record.flags


def _address(a: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"use": a.use or "home", "type": "physical"}
    if a.line:
        out["line"] = list(a.line)
    for key, value in (("city", a.city), ("district", a.district), ("postalCode", a.postal_code)):
        if value:
            out[key] = value
    return out


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def render_patient(store: Store, p: LocalPatient, faults: ActiveFaults) -> dict[str, Any]:
    """A LocalPatient as a CareConnect-GPC-Patient-1 resource."""
    practice = store.practice_organisation
    meta: dict[str, Any] = {"versionId": store.version("Patient", p.id)}
    if not faults.on(NO_META_PROFILE):
        meta["profile"] = [profiles.PATIENT]

    details: list[dict[str, Any]] = []
    start = store.extra.get(_REG_START, {}).get(p.id)
    if start:
        details.append({"url": "registrationPeriod", "valuePeriod": {"start": start}})
    details.append({"url": "registrationType", "valueCodeableConcept": _coding(
        profiles.REGISTRATION_TYPE_SYSTEM, p.registration_type, _REGISTRATION_TYPES.get(p.registration_type, "Other"))})
    if p.preferred_branch:
        target = f"Organization/{practice.id}" if faults.on(BRANCH_NOT_LOCATION) else f"Location/{p.preferred_branch}"
        details.append({"url": "preferredBranchSurgery", "valueReference": {"reference": target}})
    extensions: list[dict[str, Any]] = [{"url": profiles.EXT_REGISTRATION_DETAILS, "extension": details}]
    if p.language:
        extensions.append({"url": profiles.EXT_NHS_COMMUNICATION, "extension": [
            {"url": "language", "valueCodeableConcept": _coding(_HUMAN_LANGUAGE_SYSTEM, p.language.code,
                                                               p.language.display)},
            {"url": "interpreterRequired", "valueBoolean": p.language.interpreter_required},
        ]})
    if faults.on(EXCLUDED_ELEMENTS):
        extensions.append({"url": profiles.EXT_ETHNIC_CATEGORY, "valueCodeableConcept": _coding(
            "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-EthnicCategory-1", "A", "British, Mixed British")})

    status = _VERIFIED if p.verified else _NOT_TRACED
    name: dict[str, Any] = {"use": "usual" if faults.on(NAME_NOT_OFFICIAL) else "official", "family": p.family}
    if p.given:
        name["given"] = list(p.given)
    if p.prefix:
        name["prefix"] = list(p.prefix)

    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p.id,
        "meta": meta,
        "extension": extensions,
        "identifier": [{
            "extension": [{"url": profiles.EXT_NHS_NUMBER_VERIFICATION, "valueCodeableConcept": _coding(
                profiles.NHS_NUMBER_VERIFICATION_SYSTEM, *status)}],
            "system": _RETIRED_NHS_SYSTEM if faults.on(WRONG_IDENTIFIER_SYSTEM) else profiles.NHS_NUMBER_SYSTEM,
            "value": p.nhs_number,
        }],
        "active": p.status == "active",
        "name": [name],
    }
    if p.telecom:
        res["telecom"] = [{"system": t.system, "value": t.value, "use": t.use or "home"} for t in p.telecom]
    if p.gender and not faults.on(NO_GENDER):
        res["gender"] = p.gender
    res["birthDate"] = p.birth_date
    if p.status == "deceased":
        res["deceasedBoolean"] = True
    if p.address:
        res["address"] = [_address(p.address)]
    if p.contact:
        # GP Connect gives a contact's relationship as text only (GEN-RES-008).
        res["contact"] = [{"relationship": [{"text": c.relationship}],
                           "name": {"use": "official", "family": c.family, **({"given": list(c.given)} if c.given
                                                                               else {})},
                           **({"telecom": [{"system": t.system, "value": t.value, "use": t.use or "home"}
                                           for t in c.telecom]} if c.telecom else {})}
                          for c in p.contact]
    if faults.on(EXCLUDED_ELEMENTS):
        res["maritalStatus"] = _coding("http://hl7.org/fhir/v3/MaritalStatus", "S", "Never Married")
    other = next((o for o in store.organisations.values() if o.id != practice.id), None)
    org_id = (other.id if other else "unknown") if faults.on(WRONG_MANAGING_ORG) else practice.id
    res["managingOrganization"] = {"reference": f"Organization/{org_id}"}
    return res


# -- Find a patient ------------------------------------------------------------------------------
def _searched_nhs_number(ctx: Context) -> str | None:
    """The NHS number of `identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}` (FND-FP-012/013)."""
    values = ctx.params("identifier")
    lenient = ctx.faults.on(FIND_IDENTIFIER_OPTIONAL)
    if not values:
        if lenient:
            return None
        raise bad_request("the identifier search parameter is required")
    if len(values) > 1 and not lenient:
        raise bad_request(f"identifier may be given only once (found {len(values)})")
    system, sep, value = values[0].partition("|")
    if not ctx.faults.on(FIND_ANY_SYSTEM):
        if not sep or not system:
            raise ProviderError(400, "INVALID_IDENTIFIER_SYSTEM", "value",
                                f"identifier must be {profiles.NHS_NUMBER_SYSTEM}|{{NHS number}}; no system was given")
        if system != profiles.NHS_NUMBER_SYSTEM:
            raise ProviderError(400, "INVALID_IDENTIFIER_SYSTEM", "value",
                                f"identifier system {system!r} is not supported; use {profiles.NHS_NUMBER_SYSTEM}")
    elif not sep:
        value = system
    if not nhs_number.is_valid(value):
        raise _invalid_nhs_number(value, ctx.faults)
    return value


def _demographics(p: LocalPatient) -> pds.Demographics:
    return pds.Demographics(p.family, tuple(p.given), p.birth_date)


def _trace_unverified(ctx: Context, p: LocalPatient) -> bool:
    """#921 (FND-FP-014..017): trace an unverified NHS number on PDS; True when PDS verifies it."""
    if ctx.faults.on(FIND_IGNORES_PDS):
        return False
    try:
        record = ctx.store.pds_lookup(p.nhs_number)
    except PdsUnavailable as exc:
        raise _server_error(f"the NHS number needs a PDS trace and PDS did not answer: {exc}") from None
    if record is None:
        return False
    if pds.record_problem(record) and not ctx.faults.on(FIND_IGNORES_PDS_FLAGS):
        return False
    if not pds.demographics_match(record, _demographics(p), ctx.faults):
        return False
    if not ctx.faults.on(FIND_NOT_MARKED_VERIFIED):
        with ctx.store.lock:
            p.verified = True
            ctx.store.bump("Patient", p.id)
    return True


def _findable(ctx: Context, p: LocalPatient) -> bool:
    """Whether Find returns this local record (FND-FP-004, FND-FP-018, GEN-IG-001/002, #921)."""
    if p.status == "inactive":
        return ctx.faults.on(FIND_RETURNS_INACTIVE)
    if p.status == "deceased":
        return ctx.faults.on(FIND_RETURNS_DECEASED)
    if _is_sensitive(ctx.store, p) and not ctx.faults.on(FIND_RETURNS_SENSITIVE):
        return False  # D-10: "patient not found" for a search is the empty searchset
    if p.dissent and ctx.faults.on(FIND_APPLIES_DISSENT):
        return False
    return p.verified or _trace_unverified(ctx, p)


def _find_bundle(ctx: Context, patients: list[dict[str, Any]]) -> Reply:
    bundle = searchset(patients)
    if ctx.faults.on(FIND_WRONG_BUNDLE_TYPE):
        bundle["type"] = "collection"
    return Reply(200, bundle)


@handles("patient.find")
def find_patient(ctx: Context) -> Reply:
    nhs = _searched_nhs_number(ctx)
    patient = ctx.store.patient_by_nhs(nhs) if nhs else None
    if patient is None:
        if nhs and ctx.faults.on(FIND_UNKNOWN_NOT_FOUND):
            raise not_found("PATIENT_NOT_FOUND", f"no patient with NHS number {nhs}")
        return _find_bundle(ctx, [])
    found = [render_patient(ctx.store, patient, ctx.faults)] if _findable(ctx, patient) else []
    return _find_bundle(ctx, found)


# -- Read a patient ------------------------------------------------------------------------------
@handles("patient.read")
def read_patient(ctx: Context) -> Reply:
    pid = ctx.path_params.get("id", "")
    patient = ctx.store.patients.get(pid)
    if patient is None or _is_sensitive(ctx.store, patient):
        code = "NO_RECORD_FOUND" if ctx.faults.on(READ_UNKNOWN_WRONG_CODE) else "PATIENT_NOT_FOUND"
        raise not_found(code, f"no patient with id {pid!r}")
    res = render_patient(ctx.store, patient, ctx.faults)
    if ctx.faults.on(READ_WRONG_ID):
        res["id"] = patient.nhs_number
    return resource_reply(res)


# -- Register a patient: the request -------------------------------------------------------------
# What a consumer may send in the registerPatient Patient (FND-REG-002..004); anything else is refused.
_ALLOWED_ELEMENTS = {"resourceType", "id", "meta", "text", "language", "identifier", "name", "telecom", "gender",
                     "birthDate", "address", "extension"}
_ADDRESS_USES = {"home", "temp"}
_PHONE_USES = {"home", "work", "mobile", "temp"}


@dataclass
class Registration:
    """The consumer's registerPatient Patient, validated."""

    nhs_number: str
    family: str
    given: list[str]
    prefix: list[str]
    birth_date: str
    gender: str | None
    telecom: list[Telecom] = field(default_factory=list)
    address: Address | None = None
    language: Language | None = None

    @property
    def demographics(self) -> pds.Demographics:
        return pds.Demographics(self.family, tuple(self.given), self.birth_date)


class _Rules:
    """Raises the right error for a bad body; the faults change the code or the words only."""

    def __init__(self, faults: ActiveFaults):
        self.faults = faults

    def invalid(self, diag: str) -> ProviderError:
        """FND-REG-017/023: 422 INVALID_RESOURCE naming the parameter at fault."""
        if self.faults.on(REGISTER_VAGUE_DIAGNOSTICS):
            diag = "invalid request"
        if self.faults.on(REGISTER_MISSING_FIELDS_400):
            return bad_request(diag)
        return invalid_resource(diag)

    def disallowed(self, diag: str) -> ProviderError | None:
        """FND-REG-024: elements a consumer must not send (None when the fault lets them through)."""
        if self.faults.on(REGISTER_ACCEPTS_DISALLOWED):
            return None
        return invalid_resource("invalid request" if self.faults.on(REGISTER_VAGUE_DIAGNOSTICS) else diag)


def _reject(err: ProviderError | None) -> None:
    if err is not None:
        raise err


def parse_registration(body: Any, faults: ActiveFaults) -> Registration:
    """Validate a $gpc.registerpatient Parameters body (FND-REG-017, 023, 024, 025, 026)."""
    rules = _Rules(faults)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise rules.invalid("the request body must be a Parameters resource with a registerPatient parameter")
    if faults.on(REGISTER_IGNORES_UNKNOWN_ELEMENTS):
        body = _without_undefined_elements(body)
    problems = validate_structure(body, "Parameters")
    if problems:
        raise rules.invalid(f"the Parameters resource is not valid: {problems[0]}")
    params = [p for p in body.get("parameter") or [] if p.get("name") == "registerPatient"]
    if len(params) != 1:
        raise rules.invalid(f"exactly one registerPatient parameter is required (found {len(params)})")
    patient = params[0].get("resource")
    if isinstance(patient, dict) and patient.get("resourceType") != "Patient" \
            and faults.on(REGISTER_NON_PATIENT_PARAMETER_CRASH):
        raise _server_error(f"cannot read a Patient from a {patient.get('resourceType')} resource")
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise rules.invalid("the registerPatient parameter must carry a Patient resource")

    for key in patient:
        if key not in _ALLOWED_ELEMENTS:
            _reject(rules.disallowed(f"registerPatient Patient.{key} must not be sent"))

    nhs_ids = [i for i in patient.get("identifier") or [] if i.get("system") == profiles.NHS_NUMBER_SYSTEM]
    if len(nhs_ids) != 1:
        raise rules.invalid(f"registerPatient Patient.identifier must hold one NHS number with system "
                            f"{profiles.NHS_NUMBER_SYSTEM} (found {len(nhs_ids)})")
    value = str(nhs_ids[0].get("value") or "")
    if not nhs_number.is_valid(value):
        raise _invalid_nhs_number(value, faults)

    official = [n for n in patient.get("name") or [] if n.get("use") == "official"]
    if len(official) != 1:
        raise rules.invalid(f"registerPatient Patient.name must hold exactly one official name (found {len(official)})")
    name = official[0]
    if not name.get("family"):
        raise rules.invalid("registerPatient Patient.name.family is required")
    if not name.get("given"):
        raise rules.invalid("registerPatient Patient.name.given is required")
    if not patient.get("birthDate"):
        raise rules.invalid("registerPatient Patient.birthDate is required")
    if not patient.get("gender") and faults.on(REGISTER_REQUIRES_GENDER):
        raise rules.invalid("registerPatient Patient.gender is required")

    telecom = _telecom(patient.get("telecom") or [], rules)
    address = _address_of(patient.get("address") or [], rules, faults)
    language = _language(patient.get("extension") or [], rules)
    if faults.on(REGISTER_DROPS_NHS_COMMUNICATION):
        language = None
    given = list(name.get("given") or [])
    return Registration(
        nhs_number=value, family=name["family"], given=given[:1] if faults.on(REGISTER_FIRST_GIVEN_ONLY) else given,
        prefix=list(name.get("prefix") or []), birth_date=patient["birthDate"], gender=patient.get("gender"),
        telecom=telecom, address=address, language=language)


def _without_undefined_elements(body: dict[str, Any]) -> dict[str, Any]:
    """Fault REGISTER_IGNORES_UNKNOWN_ELEMENTS: a copy of the body without Patient elements FHIR does not define."""
    defined = {f.alias or name for name, f in model_for("Patient").model_fields.items()} | {"resourceType"}
    parameters = []
    for param in body.get("parameter") or []:
        res = param.get("resource") if isinstance(param, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Patient":
            param = {**param, "resource": {k: v for k, v in res.items() if k in defined}}
        parameters.append(param)
    return {**body, "parameter": parameters}


def _telecom(items: list[dict[str, Any]], rules: _Rules) -> list[Telecom]:
    seen: set[tuple[str, str]] = set()
    out: list[Telecom] = []
    for t in items:
        system, use = t.get("system"), t.get("use")
        if not system or not t.get("value") or not use:
            raise rules.invalid("registerPatient Patient.telecom entries need system, value and use")
        if system == "phone" and use not in _PHONE_USES:
            raise rules.invalid(f"registerPatient Patient.telecom phone use {use!r} is not allowed")
        key = (system, "any" if system == "email" else use)
        if key in seen:
            raise rules.invalid(f"registerPatient Patient.telecom has more than one {system} with use {use!r}")
        seen.add(key)
        out.append(Telecom(system=system, value=t["value"], use=use))
    return out


def _address_of(items: list[dict[str, Any]], rules: _Rules, faults: ActiveFaults) -> Address | None:
    by_use: dict[str, dict[str, Any]] = {}
    for a in items:
        use = a.get("use")
        if faults.on(REGISTER_REFUSES_TEMP_ADDRESS) and by_use:
            raise invalid_resource("registerPatient Patient.address: only one address may be sent")
        if use not in _ADDRESS_USES or use in by_use:
            what = f"use {use!r} is not allowed" if use not in _ADDRESS_USES else f"more than one {use} address"
            _reject(rules.disallowed(f"registerPatient Patient.address: {what}"))
            continue
        by_use[use] = a
    chosen = by_use.get("home") or by_use.get("temp")
    if chosen is None:
        return None
    return Address(use=chosen.get("use"), line=list(chosen.get("line") or []), city=chosen.get("city"),
                   district=chosen.get("district"), postal_code=chosen.get("postalCode"))


def _language(extensions: list[dict[str, Any]], rules: _Rules) -> Language | None:
    comms = [e for e in extensions if e.get("url") == profiles.EXT_NHS_COMMUNICATION]
    for e in extensions:
        if e.get("url") != profiles.EXT_NHS_COMMUNICATION:
            _reject(rules.disallowed(f"registerPatient Patient.extension {e.get('url')!r} must not be sent"))
    if len(comms) > 1:
        _reject(rules.disallowed("registerPatient Patient.extension: at most one nhsCommunication"))
    if not comms:
        return None
    parts = {x.get("url"): x for x in comms[0].get("extension") or []}
    coding = ((parts.get("language") or {}).get("valueCodeableConcept") or {}).get("coding") or [{}]
    if not coding[0].get("code"):
        raise rules.invalid("registerPatient Patient nhsCommunication.language is required")
    return Language(code=coding[0]["code"], display=coding[0].get("display") or coding[0]["code"],
                    interpreter_required=bool((parts.get("interpreterRequired") or {}).get("valueBoolean")))


# -- Register a patient: the decision ------------------------------------------------------------
def _pds_record(ctx: Context, nhs: str) -> PdsRecord:
    """FND-REG-005/018/022: the PDS Retrieval Query."""
    try:
        record = ctx.store.pds_lookup(nhs)
    except PdsUnavailable as exc:
        if ctx.faults.on(REGISTER_PDS_DOWN_WRONG_CODE):
            raise _demographics_error(f"NHS number {nhs} could not be verified on PDS") from None
        raise _server_error(f"PDS is unavailable, so the patient cannot be verified: {exc}") from None
    if record is None:
        if ctx.faults.on(REGISTER_NOT_ON_PDS_WRONG_CODE):
            raise not_found("PATIENT_NOT_FOUND", f"NHS number {nhs} is not on PDS")
        raise _demographics_error(f"NHS number {nhs} is not on PDS")
    return record


def _check_pds_record(ctx: Context, record: PdsRecord) -> None:
    """FND-REG-006/019/020/021: deceased, sensitive, invalid and superseded records halt the registration."""
    if record.deceased and not ctx.faults.on(REGISTER_ACCEPTS_DECEASED):
        raise _demographics_error("the patient is recorded as deceased on PDS")
    if ctx.faults.on(REGISTER_IGNORES_FLAGS):
        return
    bad_number = [f for f in record.flags if f in ("invalid", "superseded")]
    if bad_number:
        diag = f"the NHS number is flagged {' and '.join(bad_number)} on PDS"
        if ctx.faults.on(REGISTER_SUPERSEDED_WRONG_CODE):
            raise _demographics_error(diag)
        raise _invalid_nhs_number_flagged(diag)
    if "sensitive" in record.flags:
        raise _demographics_error("the patient is sensitive (S-flagged) on PDS")


def _invalid_nhs_number_flagged(diag: str) -> ProviderError:
    return ProviderError(400, "INVALID_NHS_NUMBER", "value", diag)


def _apply(p: LocalPatient, reg: Registration, record: PdsRecord, faults: ActiveFaults) -> None:
    """FND-REG-012: the record is built from the consumer's data, supplemented from PDS."""
    p.family, p.given, p.prefix, p.birth_date = reg.family, list(reg.given), list(reg.prefix), reg.birth_date
    p.gender = reg.gender or record.gender or p.gender
    if not faults.on(REGISTER_DROPS_TELECOM):
        p.telecom = list(reg.telecom)
    if faults.on(REGISTER_KEEPS_PDS_ADDRESS):
        p.address = record.address or p.address
    else:
        p.address = reg.address or record.address or p.address
    p.language = reg.language or p.language
    p.registration_type = "R" if faults.on(REGISTER_REGULAR) else "T"
    p.status = "active"
    p.verified = True


def _register(ctx: Context, reg: Registration) -> LocalPatient:
    store, faults = ctx.store, ctx.faults
    record = _pds_record(ctx, reg.nhs_number)
    _check_pds_record(ctx, record)
    if not faults.on(REGISTER_SKIPS_VERIFICATION) and not pds.demographics_match(record, reg.demographics, faults):
        raise _demographics_error("the demographics sent do not match PDS for this NHS number")
    local = store.patient_by_nhs(reg.nhs_number)
    if local is not None:
        # FND-REG-007: a local record whose number was never verified is verified first.
        if not local.verified:
            if not pds.demographics_match(record, _demographics(local), faults):
                raise _demographics_error("the practice's record for this NHS number does not verify on PDS")
            local.verified = True
            store.bump("Patient", local.id)
        if local.status == "deceased" and not faults.on(REGISTER_ACCEPTS_DECEASED):
            raise _demographics_error("the patient is recorded as deceased at the practice")
        if local.status == "active":
            if faults.on(REGISTER_ACCEPTS_DUPLICATE):
                return local
            raise ProviderError(409, "DUPLICATE_REJECTED", "duplicate",
                                "the patient is already registered at this practice")
        if faults.on(REGISTER_REJECTS_INACTIVE):
            raise ProviderError(409, "DUPLICATE_REJECTED", "duplicate", "the patient is already known here")
        patient = local  # FND-REG-009: reactivate as a temporary patient with the new demographics
    else:
        patient = LocalPatient(id=store.new_id(), nhs_number=reg.nhs_number, status="active", verified=True,
                               registration_type="T", family=reg.family, birth_date=reg.birth_date)
        store.patients[patient.id] = patient
    _apply(patient, reg, record, faults)
    store.extra.setdefault(_REG_START, {})[patient.id] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    store.bump("Patient", patient.id)
    return patient


@handles("patient.register")
def register_patient(ctx: Context) -> Reply:
    reg = parse_registration(ctx.body, ctx.faults)
    with ctx.store.lock:
        patient = _register(ctx, reg)
        resource = render_patient(ctx.store, patient, ctx.faults)
    if ctx.faults.on(REGISTER_NO_REGISTRATION_TYPE):
        for ext in resource["extension"]:
            if ext["url"] == profiles.EXT_REGISTRATION_DETAILS:
                ext["extension"] = [e for e in ext["extension"] if e["url"] != "registrationType"]
    if ctx.faults.on(REGISTER_NOT_SEARCHSET):
        return Reply(200, {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]})
    return Reply(200, searchset([resource], profile=profiles.SEARCHSET_BUNDLE))
