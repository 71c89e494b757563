"""Get the FHIR CapabilityStatement (GET /metadata)."""

from __future__ import annotations

import pytest

from gpc_assure.checks import capability, http
from gpc_assure.checks.resources import body_rule, resource


@pytest.mark.title("GET /metadata returns a valid STU3 CapabilityStatement")
@pytest.mark.requirement("FND-CAP-001")
def test_metadata_returns_capability_statement(gpc, verify):
    ex = gpc.call("metadata.read")
    verify(ex, http.status(200, "FND-CAP-001"), resource("CapabilityStatement", "FND-CAP-001"))


@pytest.mark.title("CapabilityStatement declares GP Connect version 1.2.7 (#905)")
@pytest.mark.requirement("FND-CAP-002")
def test_metadata_version(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.version, "FND-CAP-002"))


@pytest.mark.title("CapabilityStatement declares FHIR 3.0.1, acceptUnknown both, kind capability")
@pytest.mark.requirement("FND-CAP-003")
def test_metadata_fhir_basics(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.fhir_basics, "FND-CAP-003"))


@pytest.mark.title("CapabilityStatement declares the JSON and XML FHIR formats")
@pytest.mark.requirement("FND-CAP-004")
def test_metadata_formats(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.formats, "FND-CAP-004"))


@pytest.mark.title("CapabilityStatement.format matches the formats the provider actually serves")
@pytest.mark.requirement("GEN-CT-009")
def test_metadata_formats_match_behaviour(gpc, verify):
    ex = verify.answered(gpc.call("metadata.read"))
    verify.must(ex, http.status(200, "GEN-CT-009"))
    declared = set(ex.json.get("format") or [])
    for fmt, media in (("json", http.FHIR_MEDIA["json"]), ("xml", http.FHIR_MEDIA["xml"])):
        probe = gpc.call("metadata.read", headers={"Accept": media}, label=f"metadata as {fmt}")
        ctype = (probe.response.header("Content-Type") or "") if probe.response else ""
        served = probe.status == 200 and ctype.split(";")[0].strip() == media
        verify.that(served == (media in declared), "GEN-CT-009",
                    f"{media} is {'served' if served else 'not served'} but "
                    f"{'declared' if media in declared else 'not declared'} in CapabilityStatement.format",
                    exchange=probe)


@pytest.mark.title("CapabilityStatement names the provider's real software, name, version and release date")
@pytest.mark.requirement("FND-CAP-005")
def test_metadata_software(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.software, "FND-CAP-005"))


@pytest.mark.title("CapabilityStatement declares the Foundations and Appointment resources and interactions")
@pytest.mark.requirement("FND-CAP-006")
def test_metadata_resources(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.rest_resources, "FND-CAP-006"))


@pytest.mark.title("CapabilityStatement declares Slot's search parameters and _include values")
@pytest.mark.requirement("FND-CAP-006")
def test_metadata_slot_search(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.slot_search, "FND-CAP-006"))


@pytest.mark.title("CapabilityStatement declares the gpc.registerpatient operation")
@pytest.mark.requirement("FND-CAP-007")
def test_metadata_register_operation(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.register_operation, "FND-CAP-007"))


@pytest.mark.title("CapabilityStatement lists the 15 GP Connect profiles")
@pytest.mark.requirement("FND-CAP-008")
def test_metadata_profiles(gpc, verify):
    verify(gpc.call("metadata.read"), body_rule(capability.profile_list, "FND-CAP-008"))
