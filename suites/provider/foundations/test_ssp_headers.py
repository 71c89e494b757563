"""Spine Secure Proxy headers: the provider refuses requests whose Ssp-* headers are missing or wrong.

Each test takes a request that would succeed and breaks one header. A refusal is 400 with the
Spine code BAD_REQUEST (ERR-012) in a well-formed OperationOutcome that says what was wrong.
"""

from __future__ import annotations

import pytest

from fixtures import probes
from gpc_assure.transport.interactions import PREFIX

SSP_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")
# What a refused request is answered with, judged against the error-code and error-shape rows.
REFUSAL_ROWS = ("ERR-012", "GEN-ERR-001a", "GEN-ERR-001b")


def refused(requirement: str, reading: str | None = None) -> tuple:
    """400 (the test's row), BAD_REQUEST (ERR-012) and the refusal's shape, judged on the 400 only."""
    return probes.refused(requirement, reading=reading)


@pytest.mark.title("{interaction} without the {header} header is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-006", *REFUSAL_ROWS)
@pytest.mark.parametrize("header", SSP_HEADERS)
@pytest.mark.parametrize("interaction", probes.FOUNDATIONS)
def test_missing_ssp_header(gpc, verify, test_data, interaction, header):
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction, verify), headers={header: None})
    ex = gpc.call(interaction, **kwargs, label=f"{interaction} without {header}")
    verify(verify.answered(ex), *refused("GEN-HDR-006"))


@pytest.mark.title("A request whose {header} header is blank is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-006", *REFUSAL_ROWS)
@pytest.mark.parametrize("header", SSP_HEADERS)
def test_blank_ssp_header(gpc, verify, header):
    # An empty value: HTTP/1.1 clients may not send one made of whitespace, which servers strip anyway.
    ex = gpc.call("metadata.read", headers={header: ""}, label=f"metadata with a blank {header}")
    verify(verify.answered(ex), *refused("GEN-HDR-006"))


def _other_asids(own: str, consumer: str) -> dict[str, str]:
    return {
        "another provider's ASID": "918999199999" if own != "918999199999" else "918999198888",
        "the consumer's own ASID": consumer,
        "the provider's ASID with a digit added": own + "0",
        "the provider's ASID less its last digit": own[:-1],
    }


@pytest.mark.title("A request addressed to {case} (Ssp-To) is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-007", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(_other_asids("1", "2")))
def test_request_for_another_asid(gpc, verify, target, case):
    asid = _other_asids(target.provider.asid, target.consumer.asid)[case]
    if asid == target.provider.asid:  # a consumer configured with the provider's ASID: nothing to probe
        pytest.skip("the consumer and provider ASIDs are the same in the target file")
    ex = verify.answered(gpc.call("metadata.read", headers={"Ssp-To": asid}, label=f"metadata for Ssp-To {asid}"))
    verify(ex, *refused("GEN-HDR-007", reading="SSP-TO: the spec names no code; we require 400 BAD_REQUEST as "
                                               "the demonstrator answers and the official SSP test expects"))


# For each interaction, the ID of another interaction on a different endpoint but the same verb.
WRONG_INTERACTION = {
    "metadata.read": "rest:read:patient-1",
    "patient.find": "rest:search:practitioner-1",
    "patient.read": "rest:read:practitioner-1",
    "patient.register": "rest:create:appointment-1",
    "practitioner.find": "rest:search:organization-1",
    "practitioner.read": "rest:read:organization-1",
    "organization.find": "rest:search:patient-1",
    "organization.read": "rest:read:location-1",
    "location.read": "rest:read:organization-1",
}


@pytest.mark.title("{interaction} with another interaction's Ssp-InteractionID is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-008", *REFUSAL_ROWS)
@pytest.mark.parametrize("interaction", probes.FOUNDATIONS)
def test_interaction_id_mismatch(gpc, verify, test_data, interaction):
    wrong = PREFIX + WRONG_INTERACTION[interaction]
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction, verify),
                           headers={"Ssp-InteractionID": wrong})
    ex = gpc.call(interaction, **kwargs, label=f"{interaction} sent as {wrong}")
    verify(verify.answered(ex), *refused("GEN-HDR-008"))


@pytest.mark.title("GET /metadata with an unknown interaction ID ({value}) is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-008", *REFUSAL_ROWS)
@pytest.mark.parametrize("value", [PREFIX + "rest:read:metadata", PREFIX + "rest:read:metadata-2",
                                   "rest:read:metadata-1"])
def test_unknown_interaction_id(gpc, verify, value):
    ex = gpc.call("metadata.read", headers={"Ssp-InteractionID": value}, label=f"metadata sent as {value}")
    verify(verify.answered(ex), *refused("GEN-HDR-008"))
