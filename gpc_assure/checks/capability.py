"""Rules for the CapabilityStatement (FND-CAP-*): pure functions over the resource."""

from __future__ import annotations

from typing import Any

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


def version(cs: dict[str, Any]) -> list[str]:
    return [] if cs.get("version") == "1.2.7" else [f"version is {cs.get('version')!r}, expected '1.2.7'"]


def fhir_basics(cs: dict[str, Any]) -> list[str]:
    out = []
    for key, want in (("fhirVersion", "3.0.1"), ("acceptUnknown", "both"), ("kind", "capability")):
        if cs.get(key) != want:
            out.append(f"{key} is {cs.get(key)!r}, expected {want!r}")
    return out


def formats(cs: dict[str, Any]) -> list[str]:
    declared = cs.get("format") or []
    return [f"format does not list {f}" for f in FORMATS if f not in declared]


def declares_json(cs: dict[str, Any]) -> list[str]:
    return [] if FORMATS[0] in (cs.get("format") or []) else ["format does not declare application/fhir+json"]


def software(cs: dict[str, Any]) -> list[str]:
    sw = cs.get("software") or {}
    out = []
    for key in ("name", "version", "releaseDate"):
        value = sw.get(key)
        if not value:
            out.append(f"software.{key} is missing")
        elif str(value).startswith("[") and str(value).endswith("]"):
            out.append(f"software.{key} is the example's placeholder {value!r}")
    return out


def rest_resources(cs: dict[str, Any]) -> list[str]:
    rest = cs.get("rest") or []
    if not rest or rest[0].get("mode") != "server":
        return ["rest[0].mode must be 'server'"]
    found = {r.get("type"): {i.get("code") for i in r.get("interaction") or []} for r in rest[0].get("resource") or []}
    out = []
    for rtype, wanted in EXPECTED_RESOURCES.items():
        if rtype not in found:
            out.append(f"rest[0].resource does not declare {rtype}")
        elif missing := wanted - found[rtype]:
            out.append(f"{rtype} does not declare interaction(s) {sorted(missing)}")
    return out


def slot_search(cs: dict[str, Any]) -> list[str]:
    """FND-CAP-006: the Slot resource declares the example's search parameters and searchInclude values."""
    slots = [r for rest in cs.get("rest") or [] if isinstance(rest, dict)
             for r in rest.get("resource") or [] if isinstance(r, dict) and r.get("type") == "Slot"]
    if not slots:
        return ["rest.resource does not declare Slot"]
    params = {p.get("name") for p in slots[0].get("searchParam") or [] if isinstance(p, dict)}
    includes = set(slots[0].get("searchInclude") or [])
    return ([f"Slot does not declare the search parameter {p}" for p in SLOT_SEARCH_PARAMS if p not in params]
            + [f"Slot does not declare searchInclude {i}" for i in SLOT_SEARCH_INCLUDES if i not in includes])


def register_operation(cs: dict[str, Any]) -> list[str]:
    for rest in cs.get("rest") or []:
        for op in rest.get("operation") or []:
            if op.get("name") == "gpc.registerpatient":
                ref = (op.get("definition") or {}).get("reference", "")
                if ref.split("/_history")[0] == profiles.REGISTER_PATIENT_OPERATION:
                    return []
                return [f"gpc.registerpatient definition is {ref!r}"]
    return ["rest.operation does not declare gpc.registerpatient"]


def profile_list(cs: dict[str, Any]) -> list[str]:
    declared = {p.get("reference") for p in cs.get("profile") or [] if isinstance(p, dict)}
    return [f"profile does not list {p}" for p in profiles.CAPABILITY_PROFILES if p not in declared]
