"""Rules for the datatypes GP Connect constrains across resources: Address, ContactPoint, contact.

Each public rule takes one resource and returns problems, so it lifts to any resource type with
`resources.every(...)`. Patient addresses and telecoms, and those of a patient's contacts, carry
extra obligations (use) that other resources do not. A resource holding none of what a rule judges
(no address, no telecom, no contact) raises NotJudged: a rule is never met on nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gpc_assure.checks.core import NotJudged

ADDRESS_PARTS = ("line", "city", "district", "postalCode", "country")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def addresses(resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(path, address, is a patient's or contact's address) for every Address in the resource."""
    patient = resource.get("resourceType") == "Patient"
    for n, a in enumerate(_as_list(resource.get("address"))):
        if isinstance(a, dict):
            yield (f"address[{n}]" if isinstance(resource.get("address"), list) else "address"), a, patient
    for c, contact in enumerate(_as_list(resource.get("contact")) if patient else []):
        if isinstance(contact, dict) and isinstance(contact.get("address"), dict):
            yield f"contact[{c}].address", contact["address"], True


def contact_points(resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(path, ContactPoint, is a patient's or contact's telecom) for every telecom in the resource."""
    patient = resource.get("resourceType") == "Patient"
    for n, t in enumerate(_as_list(resource.get("telecom"))):
        if isinstance(t, dict):
            yield f"telecom[{n}]", t, patient
    for c, contact in enumerate(_as_list(resource.get("contact"))):
        if not isinstance(contact, dict):
            continue
        for n, t in enumerate(_as_list(contact.get("telecom"))):
            if isinstance(t, dict):
                yield f"contact[{c}].telecom[{n}]", t, patient


def _kind(resource: dict[str, Any]) -> str:
    rtype = resource.get("resourceType")
    return f"the {rtype}" if isinstance(rtype, str) and rtype else "the resource"


def _addresses(resource: dict[str, Any], patient_only: bool = False) -> list[tuple[str, dict[str, Any], bool]]:
    found = [a for a in addresses(resource) if a[2] or not patient_only]
    if patient_only and resource.get("resourceType") != "Patient":
        raise NotJudged(f"{_kind(resource)} is not a Patient: only a patient's and its contacts' addresses "
                        "must carry use")
    if not found:
        raise NotJudged(f"{_kind(resource)} has no address to judge")
    return found


def _contact_points(resource: dict[str, Any], patient_only: bool = False) -> list[tuple[str, dict[str, Any], bool]]:
    found = [t for t in contact_points(resource) if t[2] or not patient_only]
    if patient_only and resource.get("resourceType") != "Patient":
        raise NotJudged(f"{_kind(resource)} is not a Patient: only a patient's and its contacts' telecoms "
                        "must carry use")
    if not found:
        raise NotJudged(f"{_kind(resource)} has no telecom to judge")
    return found


def structured_address(resource: dict[str, Any]) -> list[str]:
    """Addresses are given in line, city, district, postalCode and country; the county goes in
    district, never state (GEN-RES-006a)."""
    out = []
    for path, a, _ in _addresses(resource):
        if a.get("state"):
            out.append(f"{path}.state is populated ('{a['state']}'); the county belongs in district")
        if not any(a.get(p) for p in ADDRESS_PARTS):
            out.append(f"{path} has none of {', '.join(ADDRESS_PARTS)}")
    return out


def address_without_text(resource: dict[str, Any]) -> list[str]:
    """Address.text is not populated (GEN-RES-006b, SHOULD NOT)."""
    return [f"{path}.text is populated ('{a['text']}')" for path, a, _ in _addresses(resource) if a.get("text")]


def patient_address_use(resource: dict[str, Any]) -> list[str]:
    """A patient's and a contact's addresses carry use (GEN-RES-006c)."""
    return [f"{path} has no use" for path, a, _ in _addresses(resource, patient_only=True) if not a.get("use")]


def contact_point_system_value(resource: dict[str, Any]) -> list[str]:
    """Every ContactPoint has both system and value (GEN-RES-007a)."""
    return [f"{path} has no {field}" for path, t, _ in _contact_points(resource)
            for field in ("system", "value") if not t.get(field)]


def patient_telecom_use(resource: dict[str, Any]) -> list[str]:
    """A patient's and a contact's telecoms carry use (GEN-RES-007b)."""
    return [f"{path} has no use" for path, t, _ in _contact_points(resource, patient_only=True) if not t.get("use")]


def patient_contacts(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource.get("resourceType") != "Patient":
        return []
    return [c for c in _as_list(resource.get("contact")) if isinstance(c, dict)]


def contact_relationship_text(resource: dict[str, Any]) -> list[str]:
    """Each Patient.contact.relationship is given as text only, never coded (GEN-RES-008)."""
    contacts = patient_contacts(resource)
    if not contacts:
        raise NotJudged(f"{_kind(resource)} has no contact (next of kin) whose relationship could be judged"
                        if resource.get("resourceType") == "Patient" else
                        f"{_kind(resource)} is not a Patient: only a patient's contacts carry a relationship")
    out = []
    for c, contact in enumerate(contacts):
        rels = [r for r in _as_list(contact.get("relationship")) if isinstance(r, dict)]
        if not rels:
            out.append(f"contact[{c}] has no relationship")
        for r, rel in enumerate(rels):
            if not rel.get("text"):
                out.append(f"contact[{c}].relationship[{r}] has no text")
            if rel.get("coding"):
                out.append(f"contact[{c}].relationship[{r}] is coded; it must be given as text only")
    return out
