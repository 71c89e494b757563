"""Every conformance rule for one resource: base STU3 structure, its GP Connect profile, and the
resource-specific GP Connect rules, as (rule id, problem) pairs.

Used where there is no exchange to hang findings on: the published-examples test, and consumer
suites checking what a consumer sent. Provider suites use the exchange checks in
gpc_assure.checks.resources, which run the same rules.

The resource-specific rules are pure functions `(dict) -> list[str]` in gpc_assure.checks.*, named
in `RULES` by resource type. A module that does not exist yet is skipped (see `unavailable()`); a
named function missing from a module that does exist is an error, so the table stays true.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from gpc_assure.checks.core import NotJudged
from gpc_assure.fhir import profile_rules
from gpc_assure.fhir.parse import validate_structure

Rule = Callable[[dict[str, Any]], list[str]]

# resource type -> rules over any instance of it the spec defines ("module:function").
# These hold for every returned resource of the type, whichever interaction returned it; rules for one
# interaction only (e.g. what a Register request may carry) stay with that interaction's tests.
RULES: dict[str, tuple[str, ...]] = {
    "CapabilityStatement": (
        "gpc_assure.checks.capability:version",
        "gpc_assure.checks.capability:fhir_basics",
        "gpc_assure.checks.capability:formats",
        "gpc_assure.checks.capability:software",
        "gpc_assure.checks.capability:rest_resources",
        "gpc_assure.checks.capability:register_operation",
        "gpc_assure.checks.capability:profile_list",
    ),
    "Patient": (  # FND-FP-005..011 (Find, Read and Register return the same Patient)
        "gpc_assure.checks.patient:meta",
        "gpc_assure.checks.patient:profile_constraints",
        "gpc_assure.checks.patient:nhs_number_identifier",
        "gpc_assure.checks.patient:official_name",
        "gpc_assure.checks.patient:demographics",
        "gpc_assure.checks.patient:branch_reference",
        "gpc_assure.checks.patient:managing_organization",
        "gpc_assure.checks.patient:excluded_elements",
    ),
    "Practitioner": (  # FND-FPR-002/003 (also Practitioners included by Search for free slots)
        "gpc_assure.checks.directory:practitioner_sds_user_id",
        "gpc_assure.checks.directory:identifiers_complete",
        "gpc_assure.checks.directory:practitioner_name",
        "gpc_assure.checks.directory:practitioner_communication",
        "gpc_assure.checks.directory:practitioner_excluded_elements",
    ),
    "Organization": (  # FND-FO-002
        "gpc_assure.checks.directory:organisation_ods_code",
        "gpc_assure.checks.directory:organisation_name",
        "gpc_assure.checks.directory:organisation_excluded_elements",
    ),
    "Location": (  # FND-RL-001
        "gpc_assure.checks.directory:location_name",
        "gpc_assure.checks.directory:location_managing_organisation",
        "gpc_assure.checks.directory:location_excluded_elements",
    ),
}

_unavailable: set[str] = set()


@cache
def _load(dotted: str) -> Rule | None:
    module_name, _, func = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but something it imports does not: a real error
        _unavailable.add(module_name)
        return None
    return getattr(module, func)  # AttributeError: the table names a function the module lacks


def rule_functions(resource_type: str) -> list[tuple[str, Rule]]:
    """(rule id, function) for the resource type, skipping modules not written yet."""
    out = []
    for dotted in RULES.get(resource_type, ()):
        fn = _load(dotted)
        if fn is not None:
            module_name, _, func = dotted.partition(":")
            out.append((f"{module_name.rsplit('.', 1)[-1]}.{func}", fn))
    return out


def unavailable() -> list[str]:
    """Rule modules named in RULES that could not be imported because they do not exist yet."""
    for rtype in RULES:
        rule_functions(rtype)
    return sorted(_unavailable)


def pick_profile(resource: dict[str, Any], given: str | None = None) -> str | None:
    """The profile to check against: the given one, else the first meta.profile there are rules for."""
    if given:
        return given
    known = set(profile_rules.known_profiles())
    for url in (resource.get("meta") or {}).get("profile") or []:
        if isinstance(url, str) and profile_rules.canonical(url) in known:
            return url
    return None


def profile_problems(resource: dict[str, Any], profile: str | None = None) -> list[tuple[str, str]]:
    """The profile rules alone, for the resource and any contained resource that names a profile."""
    out: list[tuple[str, str]] = []
    url = pick_profile(resource, profile)
    if url is not None:
        rule_id = f"profile:{profile_rules.profile(url).name}"
        out.extend((rule_id, p) for p in profile_rules.problems(resource, url))
    for n, contained in enumerate(resource.get("contained") or []):
        if isinstance(contained, dict) and (curl := pick_profile(contained)) is not None:
            rule_id = f"profile:{profile_rules.profile(curl).name}"
            out.extend((rule_id, f"contained[{n}]: {p}") for p in profile_rules.problems(contained, curl))
    return out


def resource_problems(resource: Any, profile: str | None = None, *,
                      structure: bool = True, gpc_rules: bool = True) -> list[tuple[str, str]]:
    """(rule id, problem) for one resource: structure, profile, then the GP Connect rules for its type.

    `structure=False` skips the STU3 structural check, for a resource already checked as part of
    the Bundle or Parameters that holds it. `gpc_rules=False` skips the rules in `RULES`, which are
    about resources a provider returns (for what a consumer sends, structure and profile apply).
    """
    if structure:
        found = validate_structure(resource)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return [("structure", p) for p in found]
        out = [("structure", p) for p in found]
    else:
        out = []
    if not isinstance(resource, dict):
        return out
    out.extend(profile_problems(resource, profile))
    if gpc_rules:
        # A rule that starts with the STU3 parse repeats its problems: one defect, reported once.
        seen = {p for rule_id, p in out if rule_id == "structure"} | set(validate_structure(resource))
        for rule_id, fn in rule_functions(resource.get("resourceType", "")):
            try:
                found = fn(resource)
            except NotJudged:  # the rule has nothing to judge on this resource (no preferred branch...)
                continue
            out.extend((rule_id, p) for p in found if p not in seen)
    return out


def each_resource(body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, resource) for the body and the resources it carries (Bundle entries, Parameters)."""
    if not isinstance(body, dict):
        return
    yield "", body
    if body.get("resourceType") == "Bundle":
        for n, entry in enumerate(body.get("entry") or []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield f"entry[{n}].resource", entry["resource"]
    elif body.get("resourceType") == "Parameters":
        for n, param in enumerate(body.get("parameter") or []):
            if isinstance(param, dict) and isinstance(param.get("resource"), dict):
                yield f"parameter[{n}].resource", param["resource"]


def body_problems(body: Any, *, gpc_rules: bool = True) -> list[tuple[str, str]]:
    """resource_problems over a whole body: the body and each resource it carries, with paths."""
    out: list[tuple[str, str]] = []
    for path, res in each_resource(body):
        for rule_id, problem in resource_problems(res, structure=not path, gpc_rules=gpc_rules):
            out.append((rule_id, f"{path}: {problem}" if path else problem))
    return out
