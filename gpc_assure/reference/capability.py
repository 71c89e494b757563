"""GET /metadata: the reference provider's CapabilityStatement (FND-CAP-001..008)."""

from __future__ import annotations

import copy
from typing import Any

from gpc_assure import __version__
from gpc_assure.fhir import profiles
from gpc_assure.reference.faults import declare
from gpc_assure.reference.routing import Context, Reply, handles

CAP_WRONG_VERSION = declare("capability-wrong-version", ["FND-CAP-002"], "foundations",
                            "CapabilityStatement.version says 1.2.6 instead of the implemented 1.2.7")
CAP_NO_XML = declare("capability-missing-xml-format", ["FND-CAP-004", "GEN-CT-009"], "foundations",
                     "CapabilityStatement.format lists only application/fhir+json")
CAP_PLACEHOLDER_SOFTWARE = declare("capability-placeholder-software", ["FND-CAP-005"], "foundations",
                                   "software.name is left as the example's placeholder text")
CAP_MISSING_REGISTER_OP = declare("capability-missing-register-operation", ["FND-CAP-007"], "foundations",
                                  "rest.operation does not declare gpc.registerpatient")
CAP_MISSING_PROFILE = declare("capability-missing-profile", ["FND-CAP-008"], "foundations",
                              "the profile list omits GPConnect-Slot-1")
CAP_WRONG_FHIR_VERSION = declare("capability-wrong-fhir-version", ["FND-CAP-003"], "foundations",
                                 "fhirVersion is 4.0.1 and acceptUnknown is missing")
CAP_INVALID_STU3 = declare("capability-invalid-stu3", ["FND-CAP-001", "GEN-CT-009"], "foundations",
                           "CapabilityStatement.date is free text, so the resource is not valid STU3 "
                           "(and cannot be rendered as the XML it declares)")
CAP_MISSING_RESOURCE = declare("capability-missing-resource", ["FND-CAP-006"], "foundations",
                               "rest.resource omits Location and Patient's search-type interaction")
CAP_SLOT_INCLUDE_MISSING = declare("capability-slot-include-missing", ["FND-CAP-006"], "foundations",
                                   "Slot's searchInclude omits Location:managingOrganization")

_RESOURCES: list[dict[str, Any]] = [
    {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
     "searchParam": [{"name": "identifier", "type": "token"}]},
    {"type": "Organization", "interaction": [{"code": "read"}, {"code": "search-type"}],
     "searchParam": [{"name": "identifier", "type": "token"}]},
    {"type": "Practitioner", "interaction": [{"code": "read"}, {"code": "search-type"}],
     "searchParam": [{"name": "identifier", "type": "token"}]},
    {"type": "Location", "interaction": [{"code": "read"}]},
    {"type": "Appointment", "interaction": [{"code": "read"}, {"code": "create"}, {"code": "update"},
                                            {"code": "search-type"}], "updateCreate": False},
    {"type": "Slot", "interaction": [{"code": "search-type"}],
     "searchInclude": ["Schedule:actor:Location", "Schedule:actor:Practitioner", "Slot:schedule",
                       "Location:managingOrganization"],
     "searchParam": [{"name": "start", "type": "date"}, {"name": "end", "type": "date"},
                     {"name": "status", "type": "token"}, {"name": "searchFilter", "type": "token"}]},
]


def capability_statement(faults: Any) -> dict[str, Any]:
    resources = copy.deepcopy(_RESOURCES)
    if faults.on(CAP_MISSING_RESOURCE):
        resources = [r for r in resources if r["type"] != "Location"]
        resources[0]["interaction"] = [{"code": "read"}]
    if faults.on(CAP_SLOT_INCLUDE_MISSING):
        slot = next(r for r in resources if r["type"] == "Slot")
        slot["searchInclude"] = [i for i in slot["searchInclude"] if i != "Location:managingOrganization"]
    operations = [
        {"name": "gpc.registerpatient", "definition": {"reference": profiles.REGISTER_PATIENT_OPERATION}},
    ]
    if faults.on(CAP_MISSING_REGISTER_OP):
        operations = []
    profile_list = [p for p in profiles.CAPABILITY_PROFILES
                    if not (faults.on(CAP_MISSING_PROFILE) and p == profiles.SLOT)]
    cs: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "version": "1.2.6" if faults.on(CAP_WRONG_VERSION) else "1.2.7",
        "name": "GP Connect",
        "status": "active",
        "date": "last Tuesday" if faults.on(CAP_INVALID_STU3) else "2020-05-05",
        "publisher": "gpc-assure",
        "description": "gpc-assure reference GP system implementing the GP Connect API version 1.2.7",
        "kind": "capability",
        "software": {
            "name": "[Provider Software Name]" if faults.on(CAP_PLACEHOLDER_SOFTWARE) else "gpc-assure reference",
            "version": __version__,
            "releaseDate": "2026-11-22",
        },
        "fhirVersion": "4.0.1" if faults.on(CAP_WRONG_FHIR_VERSION) else "3.0.1",
        "acceptUnknown": "both",
        "format": ["application/fhir+json"] if faults.on(CAP_NO_XML) else
        ["application/fhir+json", "application/fhir+xml"],
        "profile": [{"reference": p} for p in profile_list],
        "rest": [{
            "mode": "server",
            "security": {"cors": True},
            "resource": resources,
            "operation": operations,
        }],
    }
    if faults.on(CAP_WRONG_FHIR_VERSION):
        del cs["acceptUnknown"]
    if not operations:
        del cs["rest"][0]["operation"]
    return cs


@handles("metadata.read")
def read_metadata(ctx: Context) -> Reply:
    return Reply(200, capability_statement(ctx.faults))
