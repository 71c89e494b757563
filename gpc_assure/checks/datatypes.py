"""Rules for the datatypes GP Connect constrains across resources: Address, ContactPoint, contact.

Each public rule takes one resource and returns problems, so it lifts to any resource type with
`resources.every(...)`. Patient addresses and telecoms, and those of a patient's contacts, carry
extra obligations (use) that other resources do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def structured_address(resource: dict[str, Any]) -> list[str]:
    """Addresses are given in line, city, district, postalCode and country; the county goes in
    district, never state (GEN-RES-006a)."""
    out = []
    for path, a, _ in addresses(resource):
        if a.get("state"):
            out.append(f"{path}.state is populated ({a['state']!r}); the county belongs in district")
        if not any(a.get(p) for p in ADDRESS_PARTS):
            out.append(f"{path} has none of {', '.join(ADDRESS_PARTS)}")
    return out


def address_without_text(resource: dict[str, Any]) -> list[str]:
    """Address.text is not populated (GEN-RES-006b, SHOULD NOT)."""
    return [f"{path}.text is populated ({a['text']!r})" for path, a, _ in addresses(resource) if a.get("text")]


def patient_address_use(resource: dict[str, Any]) -> list[str]:
    """A patient's and a contact's addresses carry use (GEN-RES-006c)."""
    return [f"{path} has no use" for path, a, patient in addresses(resource) if patient and not a.get("use")]


def contact_point_system_value(resource: dict[str, Any]) -> list[str]:
    """Every ContactPoint has both system and value (GEN-RES-007a)."""
    return [f"{path} has no {field}" for path, t, _ in contact_points(resource)
            for field in ("system", "value") if not t.get(field)]


def patient_telecom_use(resource: dict[str, Any]) -> list[str]:
    """A patient's and a contact's telecoms carry use (GEN-RES-007b)."""
    return [f"{path} has no use" for path, t, patient in contact_points(resource) if patient and not t.get("use")]


def patient_contacts(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource.get("resourceType") != "Patient":
        return []
    return [c for c in _as_list(resource.get("contact")) if isinstance(c, dict)]


def contact_relationship_text(resource: dict[str, Any]) -> list[str]:
    """Each Patient.contact.relationship is given as text only, never coded (GEN-RES-008)."""
    out = []
    for c, contact in enumerate(patient_contacts(resource)):
        rels = [r for r in _as_list(contact.get("relationship")) if isinstance(r, dict)]
        if not rels:
            out.append(f"contact[{c}] has no relationship")
        for r, rel in enumerate(rels):
            if not rel.get("text"):
                out.append(f"contact[{c}].relationship[{r}] has no text")
            if rel.get("coding"):
                out.append(f"contact[{c}].relationship[{r}] is coded; it must be given as text only")
    return out
