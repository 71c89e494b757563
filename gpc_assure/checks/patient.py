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
from gpc_assure.checks.core import FHIR_JSON, Check, NotJudged, compact, condition, holding, status_in
from gpc_assure.checks.outcome import OUTCOME, body_as_json, spine_codes
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.transport.exchange import Exchange

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
        out.append(f"meta.profile must include {profiles.PATIENT} (was {compact(m.get('profile'))})")
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
                           f"CareConnect-NHSNumberVerificationStatus-1: {compact(_codings(ext))}")
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
                out.append("registrationType is not coded from CareConnect-RegistrationType-1: "
                           f"{compact(_codings(ext))}")
    return out


def nhs_number_identifier(p: dict[str, Any]) -> list[str]:
    """FND-FP-006: an identifier with system https://fhir.nhs.uk/Id/nhs-number holding a valid NHS number."""
    ids = nhs_identifiers(p)
    if not ids:
        systems = [str(i.get("system")) for i in p.get("identifier") or [] if isinstance(i, dict)]
        return [f"no identifier with system {profiles.NHS_NUMBER_SYSTEM} (systems: {', '.join(systems) or 'none'})"]
    return [f"NHS number {compact(i.get('value'))} is not a valid NHS number" for i in ids
            if not nhs_number.is_valid(str(i.get("value") or ""))]


def carries_nhs_number(expected: str) -> Rule:
    """FND-FP-006: the NHS number identifier is the one searched for or registered."""
    def rule(p: dict[str, Any]) -> list[str]:
        got = [str(i.get("value")) for i in nhs_identifiers(p)]
        if not got:
            raise NotJudged("the Patient has no NHS number identifier to compare with the one asked for")
        if expected not in got:
            return [f"the NHS number identifier holds {', '.join(got)}, expected {expected}"]
        return []

    return rule


def official_name(p: dict[str, Any]) -> list[str]:
    """FND-FP-007: exactly one name with use 'official', with a family name."""
    names = official_names(p)
    if len(names) != 1:
        uses = [str(n.get("use") or "none") for n in p.get("name") or [] if isinstance(n, dict)]
        return [f"expected exactly one name with use 'official', found {len(names)} (name uses: "
                f"{', '.join(uses) or 'no names'})"]
    return [] if names[0].get("family") else ["the official name has no family name"]


def named(family: str | None, given: Iterable[str] = ()) -> Rule:
    """FND-FP-007: the official name matches what the target says PDS holds (case-insensitively)."""
    given = list(given)

    def rule(p: dict[str, Any]) -> list[str]:
        if not family and not given:
            raise NotJudged("the target's test data gives no name for this patient to compare with")
        names = official_names(p)
        if len(names) != 1:
            raise NotJudged(f"the Patient has {len(names)} official names, so there is no one name to compare "
                            "(the official-name rule reports this)")
        name, out = names[0], []
        if family and str(name.get("family", "")).casefold() != family.casefold():
            out.append(f"the official family name is {compact(name.get('family'))}, expected {family}")
        got_given = [str(g).casefold() for g in name.get("given") or []]
        if given and (not got_given or got_given[0] != given[0].casefold()):
            shown = ", ".join(map(str, name.get("given") or [])) or "none"
            out.append(f"the official given names are {shown}, expected {given[0]} first")
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
        pairs = [(key, want, p.get(key)) for key, want in (("birthDate", birth_date), ("gender", gender))
                 if want and p.get(key)]
        if not pairs:
            raise NotJudged("neither birthDate nor gender is both given by the target's test data and returned, "
                            "so there is nothing to compare")
        return [f"{key} is {compact(got)}, expected {want}" for key, want, got in pairs if got != want]

    return rule


def branch_reference(p: dict[str, Any]) -> list[str]:
    """FND-FP-009: registrationDetails.preferredBranchSurgery, when given, references a Location."""
    branches = preferred_branches(p)
    if not branches:
        raise NotJudged("the Patient names no preferred branch surgery")
    return [f"preferredBranchSurgery references {ref}, expected Location/{{id}}"
            for ref in branches if not _LOCATION_REF.match(ref)]


def managing_organization(p: dict[str, Any]) -> list[str]:
    """FND-FP-010: managingOrganization is a local reference to an Organization."""
    ref = (p.get("managingOrganization") or {}).get("reference")
    if not ref:
        return ["managingOrganization is not populated"]
    return [] if _ORGANIZATION_REF.match(str(ref)) else [f"managingOrganization {ref} is not Organization/{{id}}"]


def managed_by(organisation_id: str) -> Rule:
    """FND-FP-010: managingOrganization is the practice the request addressed (its logical id)."""
    def rule(p: dict[str, Any]) -> list[str]:
        ref = str((p.get("managingOrganization") or {}).get("reference") or "")
        m = _ORGANIZATION_REF.match(ref)
        if not m:
            raise NotJudged("managingOrganization is not an Organization reference to compare (the "
                            "managingOrganization rule reports this)")
        if m.group(1) != organisation_id:
            return [f"managingOrganization is {ref}, expected Organization/{organisation_id} (the practice "
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
    if code == VERIFIED:
        return []
    return [f"the NHS number verification status is {code or 'not given'}, expected 01 (verified)"]


def registration_type_present(p: dict[str, Any]) -> list[str]:
    """FND-REG-015: registrationDetails carries a registrationType."""
    return [] if registration_type(p) else ["registrationDetails.registrationType is missing"]


def registration_type_is(code: str) -> Rule:
    """FND-REG-009/011: the registration is of this type (T for anything Register makes)."""
    def rule(p: dict[str, Any]) -> list[str]:
        got = registration_type(p)
        if got is None:
            raise NotJudged("the Patient gives no registrationType to compare (FND-REG-015 judges that)")
        if got != code:
            return [f"registrationType is {got}, expected {code}"]
        return []

    return rule


def active(p: dict[str, Any]) -> list[str]:
    """The Patient is active (active true, or left out, which means true)."""
    return [] if p.get("active", True) is True else [f"active is {compact(p.get('active'))}, expected true"]


def telecom_includes(sent: Iterable[dict[str, Any]]) -> Rule:
    """FND-REG-014: each telecom the consumer sent is in the registered record."""
    sent = list(sent)

    def rule(p: dict[str, Any]) -> list[str]:
        if not sent:
            raise NotJudged("the consumer sent no telecom to look for")
        have = {(t.get("system"), t.get("value")) for t in p.get("telecom") or [] if isinstance(t, dict)}
        return [f"the {t['system']} {t['value']} sent by the consumer is not in the record"
                for t in sent if (t["system"], t["value"]) not in have]

    return rule


def given_names_include(sent: Iterable[str]) -> Rule:
    """FND-REG-014: every given name the consumer sent is in the official name (case-insensitively)."""
    sent = list(sent)

    def rule(p: dict[str, Any]) -> list[str]:
        names = official_names(p)
        if not sent:
            raise NotJudged("the consumer sent no given name to look for")
        if len(names) != 1:
            raise NotJudged(f"the Patient has {len(names)} official names, so there is no one name to look in "
                            "(the official-name rule reports this)")
        have = {str(g).casefold() for g in names[0].get("given") or []}
        missing = [g for g in sent if g.casefold() not in have]
        shown = ", ".join(map(str, names[0].get("given") or [])) or "none"
        return [f"the given name(s) {', '.join(missing)} sent by the consumer are not in the official name "
                f"(given: {shown})"] if missing else []

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
        what = ", ".join([*map(str, sent.get("line") or []), str(sent.get("postalCode") or "")]).strip(", ")
        return [f"the {sent.get('use') or 'sent'} address ({what}) sent by the consumer is not in the record"]

    return rule


def communicates_in(language_code: str) -> Rule:
    """FND-REG-014: the nhsCommunication the consumer sent (its language) is in the registered record."""
    def rule(p: dict[str, Any]) -> list[str]:
        codes = {c.get("code") for ext in extensions(p, profiles.EXT_NHS_COMMUNICATION)
                 for lang in _sub(ext, "language") for c in _codings(lang)}
        if language_code in codes:
            return []
        return [f"the nhsCommunication sent (language {language_code}) is not in the record"]

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
OK_200 = status_in(200)


def returns_patients(requirement: str, count: int, reading: str | None = None) -> Check:
    """An HTTP 200 whose FHIR body holds exactly `count` Patient resources.

    Whether the body is the right kind of Bundle is FND-FP-002's (tests need it first); this judges
    only how many patients came back, so a wrong status or a body that is not FHIR leaves it unjudged.
    """
    want = f"{count} Patient{'s' if count != 1 else ''}"

    def rule(ex: Exchange) -> list[str]:
        found = len(patients_in(ex.json))
        if found != count:
            return [f"{found} Patient{'s' if found != 1 else ''} returned, expected {count}"]
        return []

    return Check(requirement, rule, f"{want} returned", needs=(OK_200, FHIR_JSON), reading=reading)


def _identifier_values(p: dict[str, Any]) -> list[str]:
    return [re.sub(r"\s", "", str(i.get("value") or "")) for i in p.get("identifier") or [] if isinstance(i, dict)]


def is_patient(p: dict[str, Any], nhs: str) -> bool:
    """Whether this Patient is the one with this NHS number (by any identifier's value: whether the system
    is right is FND-FP-006's own rule, so a wrong system does not hide the patient from the other rules)."""
    return nhs in _identifier_values(p)


def about_patient(nhs: str, requirement: str) -> Check:
    """Every Patient in the body is the patient asked for: one of its identifiers holds this NHS number.

    A response about another patient (a provider answering every request with one fixed patient) is
    judged here, against the requirement about returning that patient; the other rules of a test are
    then not judged at all.
    """

    def rule(ex: Exchange) -> list[str]:
        out = []
        for p in patients_in(ex.json):
            if not is_patient(p, nhs):
                got = ", ".join(v for v in _identifier_values(p) if v) or "no identifier"
                out.append(f"the Patient returned (id {p.get('id') or 'not given'}, identifiers: {got}) is not "
                           f"the patient asked for, NHS number {nhs}")
        return out

    return Check(requirement, rule, f"the Patient returned is the one with NHS number {nhs}",
                 needs=(holding("Patient"),))


def _diagnostics_text(ex: Exchange) -> str:
    body = body_as_json(ex)
    issues = body.get("issue") if isinstance(body, dict) else None
    return " ".join(str(i.get("diagnostics") or "") for i in issues or [] if isinstance(i, dict)).strip()


# Spine codes for a request refused for what it carries (not for what PDS or the practice's records say).
REQUEST_CODES = frozenset({"INVALID_RESOURCE", "BAD_REQUEST", "INVALID_PARAMETER", "INVALID_IDENTIFIER_SYSTEM",
                           "INVALID_IDENTIFIER_VALUE", "INVALID_NHS_NUMBER"})


def _refused_for_request(ex: Exchange) -> bool:
    body = body_as_json(ex)
    return (ex.response is not None and 400 <= ex.response.status < 500 and isinstance(body, dict)
            and bool(REQUEST_CODES & set(spine_codes(body))))


REQUEST_REFUSED = condition("a 4xx refusal of the request itself (a Spine code such as INVALID_RESOURCE)",
                            _refused_for_request,
                            "the answer is not a refusal of the request for what it carries, so no bad parameter "
                            "was reported")


def diagnostics_mention(words: Iterable[str], requirement: str) -> Check:
    """FND-REG-023: a refusal's OperationOutcome diagnostics name the element at fault (any of `words`)."""
    shown = list(words)
    wanted = " or ".join(shown)
    words = [w.casefold() for w in shown]

    def rule(ex: Exchange) -> list[str]:
        text = _diagnostics_text(ex)
        if not text:
            return [f"the refusal's OperationOutcome has no diagnostics naming the element at fault ({wanted})"]
        if not any(w in text.casefold() for w in words):
            return [f"the diagnostics \"{text[:200]}\" do not name the element at fault ({wanted})"]
        return []

    return Check(requirement, rule, f"the diagnostics name the element at fault ({wanted})",
                 needs=(OUTCOME, REQUEST_REFUSED))
