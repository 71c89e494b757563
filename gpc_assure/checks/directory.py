"""Rules for the directory resources Foundations returns: Practitioner, Organization and Location.

Each rule is a pure function over one resource dict that returns problems (empty when fine), so
the same rules judge a provider's answers (lifted with `resources.each`) and the published
examples. Rules other than `structure` tolerate shapes that only the structure rule should report
(an object where STU3 wants a list), so one defect gives one finding, not several.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from gpc_assure.checks.core import FHIR_JSON, Check, NotJudged, compact, holding, status_in
from gpc_assure.checks.resources import Rule, iter_resources
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.transport.exchange import Exchange

NHS_COMMUNICATION = profiles.SD + "Extension-CareConnect-GPC-NHSCommunication-1"

PRACTITIONER_EXCLUDED = ("telecom", "address", "birthDate", "photo", "qualification")
ORGANISATION_EXCLUDED = ("contact", "endpoint")
LOCATION_EXCLUDED = ("endpoint",)

# A reference to an Organization: type, slash, a FHIR logical id (whether the reference is relative,
# as it must be, is the common rule GEN-RES-002's to judge).
_ORG_REFERENCE = re.compile(r"(?:^|/)Organization/([A-Za-z0-9\-.]{1,64})$")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def identifiers(resource: dict[str, Any], system: str) -> list[dict[str, Any]]:
    """The resource's identifiers with this system."""
    return [i for i in _as_list(resource.get("identifier")) if isinstance(i, dict) and i.get("system") == system]


def identifier_values(resource: dict[str, Any], system: str) -> list[str]:
    return [str(i["value"]) for i in identifiers(resource, system) if i.get("value")]


def _present(resource: dict[str, Any], element: str) -> bool:
    return resource.get(element) not in (None, [], {}, "")


def _excluded(resource: dict[str, Any], elements: Iterable[str]) -> list[str]:
    kind = resource.get("resourceType", "resource")
    return [f"{kind} populates {e}, which must not be populated" for e in elements if _present(resource, e)]


# -- any of the three ----------------------------------------------------------------------------

def structure(resource_type: str) -> Rule:
    """The resource is valid STU3 of this type (types and base cardinalities)."""

    def rule(resource: dict[str, Any]) -> list[str]:
        return validate_structure(resource, resource_type)[:5]

    return rule


def meta(profile: str) -> Rule:
    """meta.profile holds this profile and meta.versionId is set (for resources a provider returns)."""

    def rule(resource: dict[str, Any]) -> list[str]:
        m = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        out = []
        if profile not in _as_list(m.get("profile")):
            out.append(f"meta.profile must include {profile} (was {compact(m.get('profile'))})")
        if not m.get("versionId"):
            out.append("meta.versionId is missing")
        return out

    return rule


# -- Practitioner ----------------------------------------------------------------------------------

def practitioner_sds_user_id(resource: dict[str, Any]) -> list[str]:
    """FND-FPR-002b: exactly one SDS user id identifier, with a value."""
    found = identifiers(resource, profiles.SDS_USER_SYSTEM)
    if not found:
        return [f"no identifier with system {profiles.SDS_USER_SYSTEM}"]
    if len(found) > 1:
        return [f"{len(found)} identifiers with system {profiles.SDS_USER_SYSTEM}; the profile allows one"]
    if not found[0].get("value"):
        return ["the SDS user id identifier has no value"]
    return []


def practitioner_role_profile_ids(expected: Iterable[str], sds_user_id: str | None = None) -> Rule:
    """FND-FPR-002c: every role profile id the practitioner holds appears as an identifier.

    With `sds_user_id`, only the Practitioner carrying that SDS user id is judged (a search may
    wrongly return others; FND-FPR-001b reports that).
    """
    wanted = list(expected)

    def rule(resource: dict[str, Any]) -> list[str]:
        if not wanted:
            raise NotJudged("the target names no SDS role profile id for this practitioner")
        if sds_user_id is not None and sds_user_id not in identifier_values(resource, profiles.SDS_USER_SYSTEM):
            raise NotJudged(f"this Practitioner does not carry the SDS user id {sds_user_id} asked for")
        have = set(identifier_values(resource, profiles.SDS_ROLE_PROFILE_SYSTEM))
        missing = [r for r in wanted if r not in have]
        if missing:
            return [f"SDS role profile id(s) {', '.join(missing)} not given as identifiers with system "
                    f"{profiles.SDS_ROLE_PROFILE_SYSTEM} (found: {', '.join(sorted(have)) or 'none'})"]
        return []

    return rule


def identifiers_complete(resource: dict[str, Any]) -> list[str]:
    """FND-FPR-002d: each identifier has both a system and a non-empty value."""
    out = []
    for n, ident in enumerate(_as_list(resource.get("identifier"))):
        if not isinstance(ident, dict):
            continue  # the structure rule reports it
        if not ident.get("system"):
            out.append(f"identifier[{n}] has no system")
        if not str(ident.get("value") or "").strip():
            out.append(f"identifier[{n}] ({ident.get('system') or 'no system'}) has no value")
    return out


def practitioner_name(resource: dict[str, Any]) -> list[str]:
    """FND-FPR-002e: exactly one name, with a family name."""
    names = [n for n in _as_list(resource.get("name")) if isinstance(n, dict)]
    if not names:
        return ["Practitioner has no name"]
    if len(names) > 1:
        return [f"Practitioner has {len(names)} names; the profile allows exactly one"]
    family = names[0].get("family")
    if not (family.strip() if isinstance(family, str) else family):
        return ["Practitioner name has no family name"]
    return []


def practitioner_communication(resource: dict[str, Any]) -> list[str]:
    """FND-FPR-002f: languages only through nhsCommunication (each with a language), never communication."""
    out = []
    if _present(resource, "communication"):
        out.append("Practitioner populates communication (0..0 in CareConnect-GPC-Practitioner-1); languages "
                   "belong in the nhsCommunication extension")
    for ext in _as_list(resource.get("extension")):
        if isinstance(ext, dict) and ext.get("url") == NHS_COMMUNICATION:
            parts = [e for e in _as_list(ext.get("extension")) if isinstance(e, dict)]
            if not any(p.get("url") == "language" and p.get("valueCodeableConcept") for p in parts):
                out.append("an nhsCommunication extension has no language")
    return out


def practitioner_excluded_elements(resource: dict[str, Any]) -> list[str]:
    """FND-FPR-003: telecom, address, birthDate, photo and qualification are never populated."""
    return _excluded(resource, PRACTITIONER_EXCLUDED)


# -- Organization ----------------------------------------------------------------------------------

def organisation_ods_code(resource: dict[str, Any]) -> list[str]:
    """FND-FO-002b: exactly one ODS organisation code identifier, with a value."""
    found = identifiers(resource, profiles.ODS_ORG_SYSTEM)
    if not found:
        return [f"no identifier with system {profiles.ODS_ORG_SYSTEM}"]
    if len(found) > 1:
        return [f"{len(found)} identifiers with system {profiles.ODS_ORG_SYSTEM}; at most one is allowed"]
    if not found[0].get("value"):
        return ["the ODS code identifier has no value"]
    return []


def organisation_name(resource: dict[str, Any]) -> list[str]:
    """FND-FO-002c: a non-empty name."""
    name = resource.get("name")
    return [] if isinstance(name, str) and name.strip() else ["Organization has no name"]


def organisation_excluded_elements(resource: dict[str, Any]) -> list[str]:
    """FND-FO-002d: contact and endpoint are never populated."""
    return _excluded(resource, ORGANISATION_EXCLUDED)


# -- Location --------------------------------------------------------------------------------------

def location_name(resource: dict[str, Any]) -> list[str]:
    """FND-RL-001c: a non-empty name."""
    name = resource.get("name")
    return [] if isinstance(name, str) and name.strip() else ["Location has no name"]


def managing_organisation_id(resource: dict[str, Any]) -> str | None:
    """The logical id in managingOrganization.reference, when it refers to an Organization."""
    ref = resource.get("managingOrganization")
    text = ref.get("reference") if isinstance(ref, dict) else None
    m = _ORG_REFERENCE.search(text) if isinstance(text, str) else None
    return m.group(1) if m else None


def location_managing_organisation(resource: dict[str, Any]) -> list[str]:
    """FND-RL-001d: managingOrganization refers to an Organization (Organization/<id>)."""
    ref = resource.get("managingOrganization")
    if not isinstance(ref, dict) or not ref.get("reference"):
        return ["Location has no managingOrganization reference"]
    if managing_organisation_id(resource) is None:
        return [f"managingOrganization.reference {compact(ref.get('reference'))} does not refer to an "
                "Organization (Organization/<id>)"]
    return []


def location_excluded_elements(resource: dict[str, Any]) -> list[str]:
    """FND-RL-001f: endpoint is never populated."""
    return _excluded(resource, LOCATION_EXCLUDED)


# -- searches and reads ------------------------------------------------------------------------------

def search_filtered(resource_type: str, system: str, value: str) -> Callable[[Any], list[str]]:
    """A body rule: the search found something, and nothing it found has a different identifier in `system`.

    Entries with no identifier in the system at all are left to the identifier rule, so a missing
    identifier is one finding, not two; when no entry carries one, nothing shows the search filtered.
    """

    def rule(body: Any) -> list[str]:
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
            raise NotJudged("the body is not a searchset Bundle, so there are no search results to judge")
        return _filtered(resource_type, system, value, body)

    return rule


def _filtered(resource_type: str, system: str, value: str, body: Any) -> list[str]:
    """search_filtered's rule over whatever holds the resources (a searchset, or wrongly the resource itself)."""
    found = list(iter_resources(body, resource_type))
    if not found:
        return [f"no {resource_type} found for {system}|{value}, which the target's test data says it holds"]
    out, carrying = [], 0
    for path, res in found:
        values = identifier_values(res, system)
        carrying += bool(values)
        if values and value not in values:
            where = f" at {path}" if path else ""
            out.append(f"{resource_type} {res.get('id') or '(no id)'}{where} has {system}|{', '.join(values)}, "
                       f"not the {value} searched for")
    if not carrying:
        raise NotJudged(f"no {resource_type} found carries an identifier with system {system}, so nothing "
                        "shows which one was found")
    return out


def ids_in(body: Any, resource_type: str) -> list[str]:
    """Logical ids of the resources of this type in a body (the body itself, or a Bundle's entries)."""
    return [str(res.get("id")) for _, res in iter_resources(body, resource_type) if res.get("id")]


OK_200 = status_in(200)


def read_answer(resource_type: str, requirement: str) -> Check:
    """A read's answer: HTTP 200 whose body is the resource itself (not a Bundle or an OperationOutcome)."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        kind = body_kind(ex)
        if ex.response.status != 200 or kind != _a(resource_type):
            return [f"HTTP {ex.response.status} with {kind}, expected 200 with the {resource_type} itself"]
        return []

    return Check(requirement, rule, f"answered 200 with the {resource_type} itself")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].upper() in 'AEIOU' else 'a'} {noun}"


def body_kind(ex: Exchange) -> str:
    """What the body is, in words: "a Practitioner", "an OperationOutcome", "no body", "a body that is not FHIR"."""
    if ex.response is None or not ex.response.body:
        return "no body"
    if FHIR_JSON(ex) is not None:
        return "a body that is not FHIR JSON"
    return _a(ex.json["resourceType"])


def read_id(expected_id: str, resource_type: str, requirement: str = "GEN-HTTP-003") -> Check:
    """The resource a read returned is the one asked for: its logical id is the id in the URL.

    Judged on the resource of the type the body is or holds (whether it should be the body itself is the
    read's own requirement), so a read answering with another resource is told from one answering badly.
    """

    def rule(ex: Exchange) -> list[str]:
        return [f"the {resource_type} returned has id {compact(res.get('id'))}, not {expected_id}, the id asked for"
                for _, res in iter_resources(ex.json, resource_type) if res.get("id") != expected_id]

    return Check(requirement, rule, f"the {resource_type} returned is the one asked for (id {expected_id})",
                 needs=(OK_200, holding(resource_type)))


def holds(ex: Exchange, resource_type: str) -> bool:
    """Whether the answer is, or holds, a resource of this type (so the identity of what came back can be judged)."""
    return ex.response is not None and holding(resource_type)(ex) is None


def found_by(resource_type: str, system: str, value: str, requirement: str) -> Check:
    """A search found the resource asked for: at least one result, and none carrying another identifier in `system`
    (a result without one is taken as the one asked for: its missing identifier is another rule's finding).

    Identity for the content tests, which then judge what was found: a provider answering every search
    with one fixed resource fails here, against the search's own filtering requirement.
    """

    def rule(ex: Exchange) -> list[str]:
        try:
            return _filtered(resource_type, system, value, ex.json)
        except NotJudged:  # none carries the identifier: nothing shows it is another (the identifier rule's finding)
            return []

    return Check(requirement, rule,
                 f"the search found the {resource_type} with {system}|{value} and no other",
                 needs=(OK_200, FHIR_JSON))


# Data-independent rules by resource type, with the requirement each judges: what the example
# conformance test runs over the published examples. `meta` (the common row GEN-RES-001a) applies to
# resources a provider returns: contained ones, such as an Appointment's bookingOrganisation, carry
# no versionId, and the rules of Find/Read do not bind a consumer's contained Organization.
EXAMPLE_RULES: dict[str, list[tuple[str, Rule]]] = {
    "Practitioner": [
        ("FND-FPR-002a", structure("Practitioner")),
        ("GEN-RES-001a", meta(profiles.PRACTITIONER)),
        ("FND-FPR-002b", practitioner_sds_user_id),
        ("FND-FPR-002d", identifiers_complete),
        ("FND-FPR-002e", practitioner_name),
        ("FND-FPR-002f", practitioner_communication),
        ("FND-FPR-003", practitioner_excluded_elements),
    ],
    "Organization": [
        ("FND-FO-002a", structure("Organization")),
        ("GEN-RES-001a", meta(profiles.ORGANIZATION)),
        ("FND-FO-002b", organisation_ods_code),
        ("FND-FO-002c", organisation_name),
        ("FND-FO-002d", organisation_excluded_elements),
    ],
    "Location": [
        ("FND-RL-001b", structure("Location")),
        ("GEN-RES-001a", meta(profiles.LOCATION)),
        ("FND-RL-001c", location_name),
        ("FND-RL-001d", location_managing_organisation),
        ("FND-RL-001f", location_excluded_elements),
    ],
}
