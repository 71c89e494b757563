"""Get the FHIR CapabilityStatement (GET /metadata).

What a CapabilityStatement declares is judged only on a CapabilityStatement: an answer of another kind is
charged to FND-CAP-001 (GET /metadata answers 200 with a CapabilityStatement) and the rows about its
content are left not judged.
"""

from __future__ import annotations

import pytest

from fixtures import probes
from gpc_assure.checks import capability, http
from gpc_assure.checks.resources import resource


def _statement(gpc, verify):
    """GET /metadata, needed to answer a CapabilityStatement (FND-CAP-001)."""
    return probes.answer(verify, gpc.call("metadata.read"), "metadata.read", {},
                         what="the CapabilityStatement whose declarations are judged")


@pytest.mark.title("GET /metadata returns a valid STU3 CapabilityStatement")
@pytest.mark.requirement("FND-CAP-001")
def test_metadata_returns_capability_statement(gpc, verify):
    ex = verify.answered(gpc.call("metadata.read"))
    verify(ex, probes.kind_check("metadata.read"), resource("CapabilityStatement", "FND-CAP-001"))


@pytest.mark.title("CapabilityStatement declares GP Connect version 1.2.7 (#905)")
@pytest.mark.requirement("FND-CAP-002")
def test_metadata_version(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.version, "FND-CAP-002"))


@pytest.mark.title("CapabilityStatement declares FHIR 3.0.1, acceptUnknown both, kind capability")
@pytest.mark.requirement("FND-CAP-003")
def test_metadata_fhir_basics(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.fhir_basics, "FND-CAP-003"))


@pytest.mark.title("CapabilityStatement declares the JSON and XML FHIR formats")
@pytest.mark.requirement("FND-CAP-004")
def test_metadata_formats(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.formats, "FND-CAP-004"))


@pytest.mark.title("CapabilityStatement.format matches the formats the provider actually serves")
@pytest.mark.requirement("GEN-CT-009")
def test_metadata_formats_match_behaviour(gpc, verify):
    ex = _statement(gpc, verify)
    body = probes.body_of(ex)
    assert body is not None  # the precondition holds
    declared = {f for f in body.get("format") or [] if isinstance(f, str)}
    for fmt, media in (("json", http.FHIR_MEDIA["json"]), ("xml", http.FHIR_MEDIA["xml"])):
        probe = verify.answered(gpc.call("metadata.read", headers={"Accept": media}, label=f"metadata as {fmt}"))
        got = probes.body_of(probe)
        ctype = (probe.response.header("Content-Type") or "").split(";")[0].strip().lower() if probe.response else ""
        served = (probe.status == 200 and http.body_format(probe) == fmt and ctype == media
                  and got is not None and got["resourceType"] == "CapabilityStatement")
        said = "declared" if media in declared else "not declared"
        verify.that(served == (media in declared), "GEN-CT-009",
                    f"a CapabilityStatement in {fmt.upper()} is {'served' if served else 'not served'} when asked "
                    f"for by Accept: {media}, but {media} is {said} in CapabilityStatement.format",
                    held=f"{media} is {said} in CapabilityStatement.format and "
                         f"{'served' if served else 'not served'} when asked for",
                    exchange=probe)


@pytest.mark.title("CapabilityStatement names the provider's real software, name, version and release date")
@pytest.mark.requirement("FND-CAP-005")
def test_metadata_software(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.software, "FND-CAP-005"))


@pytest.mark.title("CapabilityStatement declares the Foundations and Appointment resources and interactions")
@pytest.mark.requirement("FND-CAP-006")
def test_metadata_resources(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.rest_resources, "FND-CAP-006"))


@pytest.mark.title("CapabilityStatement declares Slot's search parameters and _include values")
@pytest.mark.requirement("FND-CAP-006")
def test_metadata_slot_search(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.slot_search, "FND-CAP-006"))


@pytest.mark.title("CapabilityStatement declares the gpc.registerpatient operation")
@pytest.mark.requirement("FND-CAP-007")
def test_metadata_register_operation(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.register_operation, "FND-CAP-007"))


@pytest.mark.title("CapabilityStatement lists the 15 GP Connect profiles")
@pytest.mark.requirement("FND-CAP-008")
def test_metadata_profiles(gpc, verify):
    verify(_statement(gpc, verify), capability.check(capability.profile_list, "FND-CAP-008"))
