"""Rules for the CapabilityStatement (FND-CAP-*): pure functions over the resource.

Each rule takes one CapabilityStatement and returns its problems; every rule judges something on any
CapabilityStatement (an element it needs and does not find is a problem, not nothing to judge). Lift
one to an exchange check with `check(...)`, which judges only a body that is a CapabilityStatement.
"""

from __future__ import annotations

from typing import Any

from gpc_assure.checks.core import Check, compact
from gpc_assure.fhir import profiles

# (resource type, interactions the 1.2.7 example declares for it)
EXPECTED_RESOURCES: dict[str, set[str]] = {
    "Patient": {"read", "search-type"},
    "Organization": {"read", "search-type"},
    "Practitioner": {"read", "search-type"},
    "Location": {"read"},
    "Appointment": {"read", "create", "update", "search-type"},
    "Slot": {"search-type"},
}
FORMATS = ("application/fhir+json", "application/fhir+xml")
# What the 1.2.7 example declares for Search for free slots: the parameters and _include values a consumer
# sends (APT-SLOT-005), so a consumer reading the CapabilityStatement finds the search it must build.
SLOT_SEARCH_PARAMS = ("start", "end", "status", "searchFilter")
SLOT_SEARCH_INCLUDES = ("Slot:schedule", "Schedule:actor:Practitioner", "Schedule:actor:Location",
                        "Location:managingOrganization")


def _shown(value: Any) -> str:
    """A value for a message: 'absent' when there is none, a string in quotes, anything else compactly."""
    if value is None or value == "":
        return "absent"
    return f"'{value}'" if isinstance(value, str) else compact(value)


def version(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement declares GP Connect version 1.2.7."""
    return [] if cs.get("version") == "1.2.7" else [f"version is {_shown(cs.get('version'))}, expected '1.2.7'"]


def fhir_basics(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement declares fhirVersion 3.0.1, acceptUnknown both and kind capability."""
    out = []
    for key, want in (("fhirVersion", "3.0.1"), ("acceptUnknown", "both"), ("kind", "capability")):
        if cs.get(key) != want:
            out.append(f"{key} is {_shown(cs.get(key))}, expected '{want}'")
    return out


def formats(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement's format lists application/fhir+json and application/fhir+xml."""
    declared = cs.get("format") or []
    return [f"format does not list {f}" for f in FORMATS if f not in declared]


def declares_json(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement's format lists application/fhir+json."""
    return [] if FORMATS[0] in (cs.get("format") or []) else ["format does not declare application/fhir+json"]


def software(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement names the provider's real software: name, version and release date."""
    sw = cs.get("software") or {}
    if not isinstance(sw, dict):
        return ["software is not an object with name, version and releaseDate"]
    out = []
    for key in ("name", "version", "releaseDate"):
        value = sw.get(key)
        if not value:
            out.append(f"software.{key} is missing")
        elif str(value).startswith("[") and str(value).endswith("]"):
            out.append(f"software.{key} is the example's placeholder '{value}'")
    return out


def _rest(cs: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in cs.get("rest") or [] if isinstance(r, dict)]


def rest_resources(cs: dict[str, Any]) -> list[str]:
    """rest[0] is a server declaring the Foundations and Appointment resources with their interactions."""
    rest = _rest(cs)
    if not rest or rest[0].get("mode") != "server":
        return [f"rest[0].mode must be 'server' (was {_shown(rest[0].get('mode')) if rest else 'no rest entry'})"]
    found = {r.get("type"): {i.get("code") for i in r.get("interaction") or [] if isinstance(i, dict)}
             for r in rest[0].get("resource") or [] if isinstance(r, dict)}
    out = []
    for rtype, wanted in EXPECTED_RESOURCES.items():
        if rtype not in found:
            out.append(f"rest[0].resource does not declare {rtype}")
        elif missing := wanted - found[rtype]:
            out.append(f"{rtype} does not declare the interaction{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(sorted(missing))}")
    return out


def slot_search(cs: dict[str, Any]) -> list[str]:
    """The Slot resource declares the example's search parameters and searchInclude values (FND-CAP-006)."""
    slots = [r for rest in _rest(cs) for r in rest.get("resource") or []
             if isinstance(r, dict) and r.get("type") == "Slot"]
    if not slots:
        return ["rest.resource does not declare Slot"]
    params = {p.get("name") for p in slots[0].get("searchParam") or [] if isinstance(p, dict)}
    includes = set(slots[0].get("searchInclude") or [])
    return ([f"Slot does not declare the search parameter {p}" for p in SLOT_SEARCH_PARAMS if p not in params]
            + [f"Slot does not declare searchInclude {i}" for i in SLOT_SEARCH_INCLUDES if i not in includes])


def register_operation(cs: dict[str, Any]) -> list[str]:
    """rest.operation declares gpc.registerpatient with the GPConnect-RegisterPatient-Operation-1 definition."""
    for rest in _rest(cs):
        for op in rest.get("operation") or []:
            if isinstance(op, dict) and op.get("name") == "gpc.registerpatient":
                ref = (op.get("definition") or {}).get("reference") or ""
                if ref.split("/_history")[0] == profiles.REGISTER_PATIENT_OPERATION:
                    return []
                return [f"gpc.registerpatient's definition is {_shown(ref)}, expected "
                        f"{profiles.REGISTER_PATIENT_OPERATION}"]
    return ["rest.operation does not declare gpc.registerpatient"]


def profile_list(cs: dict[str, Any]) -> list[str]:
    """The CapabilityStatement's profile lists the GP Connect profiles of the 1.2.7 example."""
    declared = {p.get("reference") for p in cs.get("profile") or [] if isinstance(p, dict)}
    return [f"profile does not list {p}" for p in profiles.CAPABILITY_PROFILES if p not in declared]


def check(rule: Any, requirement: str, reading: str | None = None) -> Check:
    """The rule as an exchange check: judged only on a body that is a CapabilityStatement."""
    from gpc_assure.checks.resources import each

    return each("CapabilityStatement", rule, requirement, reading=reading)
