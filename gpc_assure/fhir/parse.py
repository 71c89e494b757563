"""Structural STU3 validation with fhir.resources, turning every parse failure into readable text.

fhir.resources checks structure (types, cardinality of base elements, unknown elements). It does
not check profiles, bindings or invariants; those are our rules in `gpc_assure.fhir.profiles`.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

from pydantic import ValidationError

# STU3 resource types this suite reads or writes, and the fhir.resources module for each.
_MODULES = {
    "Appointment": "appointment",
    "Bundle": "bundle",
    "CapabilityStatement": "capabilitystatement",
    "Device": "device",
    "Location": "location",
    "MessageHeader": "messageheader",
    "Composition": "composition",
    "Binary": "binary",
    "OperationOutcome": "operationoutcome",
    "Organization": "organization",
    "Parameters": "parameters",
    "Patient": "patient",
    "Practitioner": "practitioner",
    "PractitionerRole": "practitionerrole",
    "Schedule": "schedule",
    "Slot": "slot",
}


@cache
def model_for(resource_type: str) -> Any:
    name = _MODULES.get(resource_type)
    if name is None:
        # Fall back to whatever fhir.resources has; unknown types fail below with a clear message.
        name = resource_type.lower()
    try:
        module = importlib.import_module(f"fhir.resources.STU3.{name}")
    except ModuleNotFoundError:
        return None
    return getattr(module, resource_type, None)


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate_structure(resource: Any, expected_type: str | None = None) -> list[str]:
    """Problems that make this JSON value not a valid STU3 resource (empty list when valid)."""
    if not isinstance(resource, dict):
        return [f"expected a JSON object, found {type(resource).__name__}"]
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return ["resourceType is missing"]
    if expected_type and rtype != expected_type:
        return [f"resourceType is '{rtype}', expected '{expected_type}'"]
    model = model_for(rtype)
    if model is None:
        return [f"'{rtype}' is not an STU3 resource type"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown element"
            problems.append(f"{_loc(err['loc']) or rtype}: {msg}")
        if len(exc.errors()) > 10:
            problems.append(f"... and {len(exc.errors()) - 10} more")
        return problems
    except KeyError as exc:
        # fhir.resources raises KeyError for a resource type it does not know inside a Bundle.
        found = re.sub(r"^STU3\.|Type$", "", str(exc.args[0]) if exc.args else "?")
        return [f"a contained or entry resource has a type that is not STU3: {found}"]
    except (TypeError, ValueError) as exc:
        return [f"{rtype}: {exc}"]
    return []
