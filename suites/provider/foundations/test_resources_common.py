"""Rules every returned resource follows: meta, local references, no fullUrl, and the Address,
ContactPoint and contact conventions GP Connect sets for every resource type.

The rules are judged on the resources the request asked for (`probes.answer`); a resource holding
nothing a rule judges (no reference, no address, no contact) leaves that rule not judged on it.
"""

from __future__ import annotations

import pytest

from fixtures import probes
from gpc_assure.checks import datatypes, references, resources

RETURNING = (*probes.SEARCHES, *probes.READS)


def _served(gpc, verify, test_data, interaction: str):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    ex = gpc.call(interaction, **kwargs, label=interaction)
    return probes.answer(verify, ex, interaction, kwargs, what=f"the resources {interaction} returns")


@pytest.mark.title("Every resource {interaction} returns carries its GP Connect meta.profile and a meta.versionId")
@pytest.mark.requirement("GEN-RES-001a")
@pytest.mark.parametrize("interaction", RETURNING)
def test_meta(gpc, verify, test_data, interaction):
    rtype = probes.RESOURCE_OF[interaction]
    verify(_served(gpc, verify, test_data, interaction),
           resources.meta(rtype, probes.PROFILE_OF[rtype], "GEN-RES-001a"))


@pytest.mark.title("{interaction} uses only local relative references")
@pytest.mark.requirement("GEN-RES-002")
@pytest.mark.parametrize("interaction", RETURNING)
def test_relative_references(gpc, verify, test_data, interaction):
    verify(_served(gpc, verify, test_data, interaction), resources.every(references.relative_only, "GEN-RES-002"))


@pytest.mark.title("{interaction} leaves Bundle.entry.fullUrl unpopulated")
@pytest.mark.requirement("GEN-RES-003")
@pytest.mark.parametrize("interaction", probes.SEARCHES)
def test_no_full_url(gpc, verify, test_data, interaction):
    verify(_served(gpc, verify, test_data, interaction), resources.body_rule(references.no_full_url, "GEN-RES-003"))


DATATYPE_RULES = {
    "GEN-RES-006a": datatypes.structured_address,  # line, city, district, postalCode, country; never state
    "GEN-RES-006b": datatypes.address_without_text,
    "GEN-RES-006c": datatypes.patient_address_use,
    "GEN-RES-007a": datatypes.contact_point_system_value,
    "GEN-RES-007b": datatypes.patient_telecom_use,
}


@pytest.mark.title("{interaction}: addresses are structured without text, telecoms have system and value, and a "
                   "patient's carry use")
@pytest.mark.requirement(*DATATYPE_RULES)
@pytest.mark.parametrize("interaction", RETURNING)
def test_address_and_telecom(gpc, verify, test_data, interaction):
    verify(_served(gpc, verify, test_data, interaction),
           *(resources.every(rule, requirement) for requirement, rule in DATATYPE_RULES.items()))


@pytest.mark.title("{interaction}: a patient's contacts give their relationship as text, never coded")
@pytest.mark.requirement("GEN-RES-008")
@pytest.mark.parametrize("interaction", ["patient.find", "patient.read"])
def test_contact_relationship(gpc, verify, test_data, interaction):
    # A patient without a contact (next of kin) leaves the rule not judged (the rule says so).
    verify(_served(gpc, verify, test_data, interaction),
           resources.each("Patient", datatypes.contact_relationship_text, "GEN-RES-008"))
