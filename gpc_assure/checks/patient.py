"""Rules for CareConnect-GPC-Patient-1 as Find, Read and Register return it (FND-FP-005..011, FND-REG-013..016).

Rules are pure functions `(patient: dict) -> list[str]` (problems; empty when fine), or factories
that build one from what a test knows (the searched NHS number, the target's test data). They run
unchanged over the published examples and, later, over what a consumer sends. The request helpers
at the end build what a conformant consumer sends for Find and Register.

Where the published examples and the terminology disagree, the rules accept both (reading
PAT-SYSTEMS): the examples code NHS-number verification status and registration type with
`https://fhir.nhs.uk/CareConnect-...` systems, while the CodeSystems and ValueSets have canonical URLs
`https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-...`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from gpc_assure import nhs_number
from gpc_assure.checks.core import either as core_either
from gpc_assure.checks.outcome import spine_codes
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.findings import Check, Finding
from gpc_assure.transport.exchange import BodyNotJson, Exchange

Rule = Callable[[dict[str, Any]], list[str]]

VERIFICATION_SYSTEMS = frozenset({profiles.NHS_NUMBER_VERIFICATION_SYSTEM,
                                  "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"})
REGISTRATION_TYPE_SYSTEMS = frozenset({profiles.REGISTRATION_TYPE_SYSTEM,
                                       "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1"})
VERIFICATION_CODES = frozenset({"01", "02", "03", "04", "05", "06", "07", "08"})
VERIFIED = "01"  # "Number present and verified"
REGISTRATION_TYPE_CODES = frozenset({"R", "E", "IN", "T", "P", "O", "S"})
TEMPORARY = "T"
REGULAR = "R"
SYSTEMS_READING = ("PAT-SYSTEMS: the examples and the CodeSystems give different system URLs for "
                             "verification status and registration type; either is accepted")

_LOCAL_REF = r"[A-Za-z0-9\-\.]{1,64}"
_LOCATION_REF = re.compile(rf"^Location/{_LOCAL_REF}$")
_ORGANIZATION_REF = re.compile(rf"^Organization/({_LOCAL_REF})$")


# -- reading a Patient ---------------------------------------------------------------------------
def patients_in(body: Any) -> list[dict[str, Any]]:
    """The Patient resources of a Bundle (or the body itself if it is a Patient)."""
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == "Patient":
        return [body]
    return [e["resource"] for e in body.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Patient"]


def extensions(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def _sub(ext: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in ext.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def nhs_identifiers(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in p.get("identifier") or []
            if isinstance(i, dict) and i.get("system") == profiles.NHS_NUMBER_SYSTEM]


def nhs_number_of(p: dict[str, Any]) -> str | None:
    ids = nhs_identifiers(p)
    return str(ids[0].get("value")) if ids else None


def _codings(ext: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (ext.get("valueCodeableConcept") or {}).get("coding") or [] if isinstance(c, dict)]


def verification_status(p: dict[str, Any]) -> str | None:
    """The NHS-number verification status code of the NHS number identifier, if any.

    Any identifier carrying the verification extension counts, so a wrong identifier system is
    reported once (by FND-FP-006), not again as an unverified number.
    """
    idents = [i for i in p.get("identifier") or [] if isinstance(i, dict)]
    for ident in sorted(idents, key=lambda i: i.get("system") != profiles.NHS_NUMBER_SYSTEM):
        for ext in extensions(ident, profiles.EXT_NHS_NUMBER_VERIFICATION):
            for c in _codings(ext):
                if c.get("system") in VERIFICATION_SYSTEMS:
                    return c.get("code")
    return None


def registration_type(p: dict[str, Any]) -> str | None:
    for details in extensions(p, profiles.EXT_REGISTRATION_DETAILS):
        for ext in _sub(details, "registrationType"):
            for c in _codings(ext):
                if c.get("system") in REGISTRATION_TYPE_SYSTEMS:
                    return c.get("code")
    return None


def preferred_branches(p: dict[str, Any]) -> list[str]:
    """References given as registrationDetails.preferredBranchSurgery."""
    return [str((e.get("valueReference") or {}).get("reference"))
            for details in extensions(p, profiles.EXT_REGISTRATION_DETAILS)
            for e in _sub(details, "preferredBranchSurgery")]


def official_names(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in p.get("name") or [] if isinstance(n, dict) and n.get("use") == "official"]


# -- rules ---------------------------------------------------------------------------------------
def meta(p: dict[str, Any]) -> list[str]:
    """FND-FP-005: meta.profile names CareConnect-GPC-Patient-1 and meta.versionId is set."""
    m = p.get("meta") or {}
    out = []
    if profiles.PATIENT not in (m.get("profile") or []):
        out.append(f"meta.profile must include {profiles.PATIENT} (was {m.get('profile')})")
    if not m.get("versionId"):
        out.append("meta.versionId is missing")
    return out


def profile_constraints(p: dict[str, Any]) -> list[str]:
    """FND-FP-005: valid STU3 and within CareConnect-GPC-Patient-1's constraints.

    The identifier slice, the official name, the exclusions and the references have rules of their
    own (FND-FP-006/007/009/010/011); this rule covers the rest of the profile.
    """
    problems = validate_structure(p, "Patient")
    if problems:
        return problems[:5]
    out: list[str] = []
    for n, ident in enumerate(nhs_identifiers(p)):
        for banned in ("use", "type", "period", "assigner"):
            if banned in ident:
                out.append(f"identifier[{n}] (NHS number) must not carry {banned}")
        status = extensions(ident, profiles.EXT_NHS_NUMBER_VERIFICATION)
        if len(status) != 1:
            out.append(f"identifier[{n}] (NHS number) needs exactly one NHSNumberVerificationStatus extension "
                       f"(found {len(status)})")
        for ext in status:
            codes = [c for c in _codings(ext) if c.get("system") in VERIFICATION_SYSTEMS]
            if not codes or codes[0].get("code") not in VERIFICATION_CODES:
                out.append(f"identifier[{n}] verification status is not coded from "
                           f"CareConnect-NHSNumberVerificationStatus-1: {_codings(ext)}")
    for n, t in enumerate(p.get("telecom") or []):
        if not t.get("system") or not t.get("value"):
            out.append(f"telecom[{n}] needs system and value")
    for n, a in enumerate(p.get("address") or []):
        if "state" in a:
            out.append(f"address[{n}].state must not be populated")
    for banned in ("photo", "animal", "communication"):
        if p.get(banned):
            out.append(f"{banned} must not be populated")
    if len(p.get("generalPractitioner") or []) > 1:
        out.append("generalPractitioner may hold at most one reference")
    if len(extensions(p, profiles.EXT_REGISTRATION_DETAILS)) > 1:
        out.append("at most one registrationDetails extension")
    for details in extensions(p, profiles.EXT_REGISTRATION_DETAILS):
        for ext in _sub(details, "registrationType"):
            codes = [c for c in _codings(ext) if c.get("system") in REGISTRATION_TYPE_SYSTEMS]
            if not codes or codes[0].get("code") not in REGISTRATION_TYPE_CODES:
                out.append(f"registrationType is not coded from CareConnect-RegistrationType-1: {_codings(ext)}")
    return out


def nhs_number_identifier(p: dict[str, Any]) -> list[str]:
    """FND-FP-006: an identifier with system https://fhir.nhs.uk/Id/nhs-number holding a valid NHS number."""
    ids = nhs_identifiers(p)
    if not ids:
        systems = [i.get("system") for i in p.get("identifier") or [] if isinstance(i, dict)]
        return [f"no identifier with system {profiles.NHS_NUMBER_SYSTEM} (systems: {systems})"]
    return [f"NHS number {i.get('value')!r} is not a valid NHS number" for i in ids
            if not nhs_number.is_valid(str(i.get("value") or ""))]


def carries_nhs_number(expected: str) -> Rule:
    """FND-FP-006: the NHS number identifier is the one searched for or registered."""
    def rule(p: dict[str, Any]) -> list[str]:
        got = [str(i.get("value")) for i in nhs_identifiers(p)]
        if got and expected not in got:
            return [f"NHS number identifier is {got}, expected {expected}"]
        return []

    return rule


def official_name(p: dict[str, Any]) -> list[str]:
    """FND-FP-007: exactly one name with use 'official', with a family name."""
    names = official_names(p)
    if len(names) != 1:
        uses = [n.get("use") for n in p.get("name") or [] if isinstance(n, dict)]
        return [f"expected exactly one name with use 'official', found {len(names)} (name uses: {uses})"]
    return [] if names[0].get("family") else ["the official name has no family name"]


def named(family: str | None, given: Iterable[str] = ()) -> Rule:
    """FND-FP-007: the official name matches what the target says PDS holds (case-insensitively)."""
    given = list(given)

    def rule(p: dict[str, Any]) -> list[str]:
        names = official_names(p)
        if len(names) != 1:
            return []  # official_name reports this
        name, out = names[0], []
        if family and str(name.get("family", "")).casefold() != family.casefold():
            out.append(f"official family name is {name.get('family')!r}, expected {family!r}")
        got_given = [str(g).casefold() for g in name.get("given") or []]
        if given and (not got_given or got_given[0] != given[0].casefold()):
            out.append(f"official given names are {name.get('given')}, expected {given[0]!r} first")
        return out

    return rule


def demographics(p: dict[str, Any]) -> list[str]:
    """FND-FP-008: birthDate and gender set; an nhsCommunication names its language.

    The form of addresses, telecoms and contacts (use, relationship as text) is every resource's
    rule (GEN-RES-006..008, gpc_assure.checks.datatypes), so it is not repeated here.
    """
    out = [f"{key} is not populated" for key in ("birthDate", "gender") if not p.get(key)]
    for ext in extensions(p, profiles.EXT_NHS_COMMUNICATION):
        if not _sub(ext, "language"):
            out.append("nhsCommunication has no language")
    return out


def born(birth_date: str | None, gender: str | None = None) -> Rule:
    """FND-FP-008: birthDate and gender are the ones the target's test data gives."""
    def rule(p: dict[str, Any]) -> list[str]:
        out = []
        if birth_date and p.get("birthDate") and p["birthDate"] != birth_date:
            out.append(f"birthDate is {p['birthDate']!r}, expected {birth_date!r}")
        if gender and p.get("gender") and p["gender"] != gender:
            out.append(f"gender is {p['gender']!r}, expected {gender!r}")
        return out

    return rule


def branch_reference(p: dict[str, Any]) -> list[str]:
    """FND-FP-009: registrationDetails.preferredBranchSurgery, when given, references a Location."""
    return [f"preferredBranchSurgery references {ref!r}, expected Location/{{id}}"
            for ref in preferred_branches(p) if not _LOCATION_REF.match(ref)]


def managing_organization(p: dict[str, Any]) -> list[str]:
    """FND-FP-010: managingOrganization is a local reference to an Organization."""
    ref = (p.get("managingOrganization") or {}).get("reference")
    if not ref:
        return ["managingOrganization is not populated"]
    return [] if _ORGANIZATION_REF.match(str(ref)) else [f"managingOrganization {ref!r} is not Organization/{{id}}"]


def managed_by(organisation_id: str) -> Rule:
    """FND-FP-010: managingOrganization is the practice the request addressed (its logical id)."""
    def rule(p: dict[str, Any]) -> list[str]:
        ref = str((p.get("managingOrganization") or {}).get("reference") or "")
        m = _ORGANIZATION_REF.match(ref)
        if m and m.group(1) != organisation_id:
            return [f"managingOrganization is {ref!r}, expected Organization/{organisation_id} (the practice "
                    "addressed by the ODS code)"]
        return []

    return rule


def excluded_elements(p: dict[str, Any]) -> list[str]:
    """FND-FP-011: none of the elements GP Connect leaves out of Patient is populated."""
    out = [f"{key} must not be populated" for key in profiles.PATIENT_EXCLUDED_ELEMENTS if key in p]
    for url, name in profiles.PATIENT_EXCLUDED_EXTENSIONS.items():
        if extensions(p, url):
            out.append(f"the {name} extension must not be populated")
    return out


def nhs_number_verified(p: dict[str, Any]) -> list[str]:
    """FND-FP-017: the NHS number is marked verified (status 01)."""
    code = verification_status(p)
    return [] if code == VERIFIED else [f"NHS number verification status is {code!r}, expected '01' (verified)"]


def registration_type_present(p: dict[str, Any]) -> list[str]:
    """FND-REG-015: registrationDetails carries a registrationType."""
    return [] if registration_type(p) else ["registrationDetails.registrationType is missing"]


def registration_type_is(code: str) -> Rule:
    """FND-REG-009/011: the registration is of this type (T for anything Register makes)."""
    def rule(p: dict[str, Any]) -> list[str]:
        got = registration_type(p)
        if got is not None and got != code:
            return [f"registrationType is {got!r}, expected {code!r}"]
        return []

    return rule


def active(p: dict[str, Any]) -> list[str]:
    return [] if p.get("active", True) is True else [f"active is {p.get('active')!r}"]


def telecom_includes(sent: Iterable[dict[str, Any]]) -> Rule:
    """FND-REG-014: each telecom the consumer sent is in the registered record."""
    sent = list(sent)

    def rule(p: dict[str, Any]) -> list[str]:
        have = {(t.get("system"), t.get("value")) for t in p.get("telecom") or [] if isinstance(t, dict)}
        return [f"telecom {t['system']} {t['value']!r} sent by the consumer is not in the record"
                for t in sent if (t["system"], t["value"]) not in have]

    return rule


def given_names_include(sent: Iterable[str]) -> Rule:
    """FND-REG-014: every given name the consumer sent is in the official name (case-insensitively)."""
    sent = list(sent)

    def rule(p: dict[str, Any]) -> list[str]:
        names = official_names(p)
        if len(names) != 1:
            return []  # official_name reports this
        have = {str(g).casefold() for g in names[0].get("given") or []}
        missing = [g for g in sent if g.casefold() not in have]
        return [f"given name(s) {missing} sent by the consumer are not in the official name "
                f"{names[0].get('given')}"] if missing else []

    return rule


def address_includes(sent: dict[str, Any]) -> Rule:
    """FND-REG-014: the address the consumer sent (its lines and postcode) is in the registered record."""
    def key(a: dict[str, Any]) -> tuple:
        return (tuple(str(x).casefold() for x in a.get("line") or []),
                str(a.get("postalCode") or "").replace(" ", "").casefold())

    def rule(p: dict[str, Any]) -> list[str]:
        have = {key(a) for a in p.get("address") or [] if isinstance(a, dict)}
        if key(sent) in have:
            return []
        return [f"the {sent.get('use')} address {sent.get('line')} {sent.get('postalCode')!r} sent by the consumer "
                "is not in the record"]

    return rule


def communicates_in(language_code: str) -> Rule:
    """FND-REG-014: the nhsCommunication the consumer sent (its language) is in the registered record."""
    def rule(p: dict[str, Any]) -> list[str]:
        codes = {c.get("code") for ext in extensions(p, profiles.EXT_NHS_COMMUNICATION)
                 for lang in _sub(ext, "language") for c in _codings(lang)}
        if language_code in codes:
            return []
        return [f"the nhsCommunication sent (language {language_code!r}) is not in the record"]

    return rule


# Everything Find and Read demand of any Patient they return (FND-FP-005..011), by requirement.
POPULATION_RULES: dict[str, list[Rule]] = {
    "FND-FP-005": [meta, profile_constraints],
    "FND-FP-006": [nhs_number_identifier],
    "FND-FP-007": [official_name],
    "FND-FP-008": [demographics],
    "FND-FP-009": [branch_reference],
    "FND-FP-010": [managing_organization],
    "FND-FP-011": [excluded_elements],
}


# -- what a consumer sends ---------------------------------------------------------------------------
def identifier_param(nhs: str, system: str = profiles.NHS_NUMBER_SYSTEM) -> tuple[str, str]:
    """The Find-a-patient search parameter for an NHS number (the client percent-encodes the '|')."""
    return ("identifier", f"{system}|{nhs}")


def register_patient(nhs: str, family: str, given: Iterable[str], birth_date: str, gender: str | None = None,
                     telecom: Iterable[dict[str, Any]] = (), address: dict[str, Any] | None = None) -> dict[str, Any]:
    """The registerPatient Patient a conformant consumer sends (FND-REG-002/003)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [profiles.PATIENT]},
        "identifier": [{
            "extension": [{"url": profiles.EXT_NHS_NUMBER_VERIFICATION, "valueCodeableConcept": {"coding": [{
                "system": profiles.NHS_NUMBER_VERIFICATION_SYSTEM, "code": VERIFIED,
                "display": "Number present and verified"}]}}],
            "system": profiles.NHS_NUMBER_SYSTEM,
            "value": nhs,
        }],
        "name": [{"use": "official", "family": family, "given": list(given)}],
        "birthDate": birth_date,
    }
    if gender:
        patient["gender"] = gender
    if telecom:
        patient["telecom"] = [dict(t) for t in telecom]
    if address:
        patient["address"] = [address]
    return patient


def register_parameters(patient: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    """The $gpc.registerpatient Parameters body (FND-REG-001); extra patients make duplicate parameters."""
    return {"resourceType": "Parameters",
            "parameter": [{"name": "registerPatient", "resource": p} for p in (patient, *more)]}


# -- exchange checks Find, Read and Register tests share ---------------------------------------------
def returns_patients(requirement: str, count: int, reading: str | None = None) -> Check:
    """HTTP 200 with exactly `count` Patient resources (whatever else is wrong with the Bundle)."""

    def check(ex: Exchange) -> list[Finding]:
        if ex.response is None:
            return [Finding(requirement, f"no response to judge: {ex.error}", reading)]
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [Finding(requirement, f"HTTP {ex.status}: {exc}", reading)]
        if ex.status != 200:
            codes = "/".join(spine_codes(body)) if isinstance(body, dict) else ""
            return [Finding(requirement, f"HTTP {ex.status} {codes}, expected 200 with {count} Patient(s)", reading)]
        found = len(patients_in(body))
        if found != count:
            return [Finding(requirement, f"{found} Patient(s) returned, expected {count}", reading)]
        return []

    return check


either = core_either  # one combinator, in gpc_assure.checks.core


def diagnostics_mention(words: Iterable[str], requirement: str) -> Check:
    """FND-REG-023: the OperationOutcome's diagnostics name the element at fault (any of `words`)."""
    words = [w.casefold() for w in words]

    def check(ex: Exchange) -> list[Finding]:
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [Finding(requirement, str(exc))]
        text = " ".join(str(i.get("diagnostics") or "") for i in (body.get("issue") or [])
                        if isinstance(i, dict)) if isinstance(body, dict) else ""
        if not any(w in text.casefold() for w in words):
            return [Finding(requirement, f"diagnostics {text[:200]!r} do not name the element at fault "
                                         f"({' or '.join(words)})")]
        return []

    return check
