"""How resources go on the wire, whatever handler built them: the common resource rules' faults.

The handlers build conformant resources; each fault here changes one representation rule on the
way out (ETag form, read id, references, fullUrl, Address, ContactPoint, contact relationship), so
the common checks can be shown to fail without touching any handler.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.routing import Reply
from gpc_assure.transport.interactions import Interaction

ETAG_NOT_WEAK = declare(
    "etag-not-weak", ["GEN-HTTP-002"], "foundations",
    'ETag is sent as "<versionId>" without the W/ weak prefix')
READ_OTHER_ID = declare(
    "location-read-returns-other-id", ["GEN-HTTP-003"], "foundations",
    "Read a location returns the Location with a logical id different from the one in the URL")
VERSION_ID_MISSING = declare(
    "location-without-version-id", ["GEN-RES-001a"], "foundations",
    "Location resources are returned without meta.versionId")
ABSOLUTE_REFERENCES = declare(
    "absolute-references", ["GEN-RES-002"], "foundations",
    "Location.managingOrganization is an absolute URL instead of a relative Organization/{id} reference")
FULL_URL = declare(
    "bundle-fullurl-populated", ["GEN-RES-003"], "foundations",
    "searchset entries carry Bundle.entry.fullUrl")
ADDRESS_STATE = declare(
    "address-county-in-state", ["GEN-RES-006a"], "foundations",
    "Organization addresses put the county in Address.state instead of Address.district")
ADDRESS_TEXT = declare(
    "address-text-populated", ["GEN-RES-006b"], "foundations",
    "Organization addresses also carry a free-text Address.text")
PATIENT_ADDRESS_NO_USE = declare(
    "patient-address-without-use", ["GEN-RES-006c"], "foundations",
    "Patient addresses are returned without Address.use")
TELECOM_NO_SYSTEM = declare(
    "organization-telecom-without-system", ["GEN-RES-007a"], "foundations",
    "Organization telecoms are returned without ContactPoint.system")
PATIENT_TELECOM_NO_USE = declare(
    "patient-telecom-without-use", ["GEN-RES-007b"], "foundations",
    "Patient telecoms are returned without ContactPoint.use")
CONTACT_CODED = declare(
    "patient-contact-relationship-coded", ["GEN-RES-008"], "foundations",
    "Patients are returned with a next-of-kin contact whose relationship is coded rather than given as text")


def resources(body: Any) -> Iterator[dict[str, Any]]:
    """The body itself, or each resource in a Bundle."""
    if not isinstance(body, dict):
        return
    if body.get("resourceType") == "Bundle":
        for entry in body.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    else:
        yield body


def _addresses(res: dict[str, Any]) -> list[dict[str, Any]]:
    a = res.get("address")
    if isinstance(a, dict):
        return [a]
    return [x for x in a or [] if isinstance(x, dict)]


def apply(reply: Reply, interaction: Interaction, faults: ActiveFaults, service_root: str) -> Reply:
    """The reply with any active representation fault applied (unchanged when none is on)."""
    if not faults.names or reply.resource is None or reply.status >= 400:
        return reply
    body = copy.deepcopy(reply.resource)
    headers = dict(reply.headers)
    if faults.on(ETAG_NOT_WEAK) and headers.get("ETag", "").startswith("W/"):
        headers["ETag"] = headers["ETag"][2:]
    if faults.on(READ_OTHER_ID) and interaction.name == "location.read" and body.get("id"):
        body["id"] = f"{body['id']}0"
    if faults.on(FULL_URL) and body.get("resourceType") == "Bundle":
        for entry in body.get("entry") or []:
            res = entry.get("resource") or {}
            entry["fullUrl"] = f"{service_root}/{res.get('resourceType')}/{res.get('id')}"
    for res in resources(body):
        rtype = res.get("resourceType")
        if rtype == "Location":
            if faults.on(VERSION_ID_MISSING):
                (res.get("meta") or {}).pop("versionId", None)
            ref = (res.get("managingOrganization") or {}).get("reference")
            if faults.on(ABSOLUTE_REFERENCES) and ref:
                res["managingOrganization"]["reference"] = f"{service_root}/{ref}"
        if rtype == "Organization":
            for addr in _addresses(res):
                if faults.on(ADDRESS_STATE) and addr.get("district"):
                    addr["state"] = addr.pop("district")
                if faults.on(ADDRESS_TEXT):
                    addr["text"] = ", ".join([*addr.get("line", []), addr.get("city", ""), addr.get("postalCode", "")])
            if faults.on(TELECOM_NO_SYSTEM):
                for t in res.get("telecom") or []:
                    t.pop("system", None)
        if rtype == "Patient":
            if faults.on(PATIENT_ADDRESS_NO_USE):
                for addr in _addresses(res):
                    addr.pop("use", None)
            if faults.on(PATIENT_TELECOM_NO_USE):
                for t in res.get("telecom") or []:
                    t.pop("use", None)
            if faults.on(CONTACT_CODED):
                for contact in res.get("contact") or []:
                    contact["relationship"] = [{"coding": [{"system": "http://hl7.org/fhir/v2/0131", "code": "N",
                                                            "display": "Next-of-Kin"}]}]
    return Reply(reply.status, body, headers)
