"""The profile-rules validator (gpc_assure.fhir.profile_rules) and the rules files it reads."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import sys
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpc_assure.checks import resources
from gpc_assure.fhir import conformance, profile_rules
from gpc_assure.fhir import profiles as P
from gpc_assure.paths import PROFILES_DIR, PROJECT_ROOT, SHARED_SPECS_DIR
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

RULES_DIR = PROFILES_DIR / "rules"
BOOKING_ORG = P.SD + "Extension-GPConnect-BookingOrganisation-1"
CANCEL_REASON = P.SD + "Extension-GPConnect-AppointmentCancellationReason-1"
DELIVERY_CHANNEL = P.SD + "Extension-GPConnect-DeliveryChannel-2"
VERIFIED = {"url": P.EXT_NHS_NUMBER_VERIFICATION, "valueCodeableConcept": {"coding": [
    {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1", "code": "01",
     "display": "Number present and verified"}]}}


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": "2",
        "meta": {"versionId": "1", "profile": [P.PATIENT]},
        "extension": [
            {"url": P.EXT_REGISTRATION_DETAILS, "extension": [
                {"url": "registrationPeriod", "valuePeriod": {"start": "2017-09-07T14:17:44+01:00"}},
                {"url": "registrationType", "valueCodeableConcept": {"coding": [
                    {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1", "code": "T",
                     "display": "Temporary"}]}},
                {"url": "preferredBranchSurgery", "valueReference": {"reference": "Location/1"}}]},
            {"url": P.EXT_NHS_COMMUNICATION, "extension": [
                {"url": "language", "valueCodeableConcept": {"coding": [
                    {"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-HumanLanguage-1", "code": "bn",
                     "display": "Bengali"}]}},
                {"url": "interpreterRequired", "valueBoolean": False}]},
        ],
        "identifier": [{"extension": [copy.deepcopy(VERIFIED)], "system": P.NHS_NUMBER_SYSTEM, "value": "9476719931"}],
        "active": True,
        "name": [{"use": "official", "family": "Jackson", "given": ["Jane"], "prefix": ["Miss"]}],
        "telecom": [{"system": "phone", "value": "01454587554", "use": "home"}],
        "gender": "female",
        "birthDate": "1952-05-31",
        "address": [{"use": "home", "type": "physical", "line": ["1 Trevelyan Square"], "city": "Leeds",
                     "postalCode": "LS1 6AE"}],
        "managingOrganization": {"reference": "Organization/1"},
    }


def appointment() -> dict[str, Any]:
    return {
        "resourceType": "Appointment", "id": "9",
        "meta": {"versionId": "1", "profile": [P.APPOINTMENT]},
        "contained": [{"resourceType": "Organization", "id": "1", "meta": {"profile": [P.ORGANIZATION]},
                       "identifier": [{"system": P.ODS_ORG_SYSTEM, "value": "A00001"}],
                       "name": "Booking Org", "telecom": [{"system": "phone", "value": "0300 303 5678"}]}],
        "extension": [{"url": BOOKING_ORG, "valueReference": {"reference": "#1"}},
                      {"url": DELIVERY_CHANNEL, "valueCode": "In-person"}],
        "status": "booked",
        "serviceType": [{"text": "General GP Appointment"}],
        "description": "Free text description.",
        "start": "2030-05-30T10:00:00+01:00", "end": "2030-05-30T10:25:00+01:00",
        "slot": [{"reference": "Slot/1"}],
        "created": "2030-05-25T13:48:41+01:00",
        "participant": [{"actor": {"reference": "Patient/1"}, "status": "accepted"},
                        {"actor": {"reference": "Location/1"}, "status": "accepted"}],
    }


def outcome(system: str = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "meta": {"profile": [P.OPERATION_OUTCOME]},
            "issue": [{"severity": "error", "code": "not-found", "details": {"coding": [
                {"system": system, "code": "PATIENT_NOT_FOUND", "display": "Patient not found"}]}}]}


def problems_of(resource: dict[str, Any], url: str) -> list[str]:
    return profile_rules.problems(resource, url)


# --- conforming resources -------------------------------------------------------------------------

@pytest.mark.parametrize("resource, url", [
    (patient(), P.PATIENT),
    (appointment(), P.APPOINTMENT),
    (outcome(), P.OPERATION_OUTCOME),
    ({"resourceType": "Slot", "extension": [{"url": DELIVERY_CHANNEL, "valueCode": "Telephone"}],
      "serviceType": [{"text": "GP"}], "schedule": {"reference": "Schedule/1"}, "status": "free",
      "start": "2030-01-01T09:00:00+00:00", "end": "2030-01-01T09:10:00+00:00"}, P.SLOT),
    ({"resourceType": "Schedule", "serviceCategory": {"text": "Morning surgery"},
      "actor": [{"reference": "Location/1"}], "planningHorizon": {"start": "2030-01-01T09:00:00+00:00"}}, P.SCHEDULE),
    ({"resourceType": "Bundle", "meta": {"profile": [P.SEARCHSET_BUNDLE]}, "type": "searchset",
      "entry": [{"resource": patient()}]}, P.SEARCHSET_BUNDLE),
], ids=["patient", "appointment", "operation-outcome", "slot", "schedule", "searchset-bundle"])
def test_conforming_resources_have_no_problems(resource, url):
    assert problems_of(resource, url) == []


def test_unknown_extension_urls_are_allowed():
    res = patient()
    res["extension"].append({"url": "https://supplier.example/StructureDefinition/local-flag", "valueBoolean": True})
    res["identifier"][0]["extension"].append({"url": "https://supplier.example/x", "valueString": "y"})
    assert problems_of(res, P.PATIENT) == []


@given(url=st.from_regex(r"https://[a-z]{3,10}\.example/[A-Za-z0-9-]{1,20}", fullmatch=True),
       value=st.one_of(st.booleans(), st.text(max_size=20)))
def test_any_unknown_extension_is_tolerated(url, value):
    res = appointment()
    res["extension"].append({"url": url, "valueBoolean" if isinstance(value, bool) else "valueString": value})
    assert problems_of(res, P.APPOINTMENT) == []


# --- cardinality ------------------------------------------------------------------------------------

def test_min_cardinality():
    res = appointment()
    del res["description"]
    res["slot"] = []
    assert problems_of(res, P.APPOINTMENT) == [
        "Appointment.description: 0 found, profile requires 1..1",
        "Appointment.slot: 0 found, profile requires 1..*",
    ]


def test_max_cardinality_and_forbidden_elements():
    res = appointment()
    res["reason"] = [{"text": "a"}, {"text": "b"}]
    res["supportingInformation"] = [{"reference": "Observation/1"}]
    assert problems_of(res, P.APPOINTMENT) == [
        "Appointment.reason: 2 found, profile allows 0..1",
        "Appointment.supportingInformation: 1 found, profile allows 0..0",
    ]


def test_schedule_service_type_and_slot_service_category_are_forbidden():
    schedule = {"resourceType": "Schedule", "serviceType": [{"text": "x"}], "actor": [{"reference": "Location/1"}]}
    assert problems_of(schedule, P.SCHEDULE) == ["Schedule.serviceType: 1 found, profile allows 0..0"]
    slot = {"resourceType": "Slot", "serviceCategory": {"text": "x"}, "schedule": {"reference": "Schedule/1"},
            "status": "free", "start": "2030-01-01T09:00:00+00:00", "end": "2030-01-01T09:10:00+00:00"}
    assert problems_of(slot, P.SLOT) == ["Slot.serviceCategory: 1 found, profile allows 0..0"]


def test_nested_cardinality_is_reported_with_the_instance_path():
    res = appointment()
    del res["participant"][1]["actor"]
    assert problems_of(res, P.APPOINTMENT) == ["Appointment.participant[1].actor: 0 found, profile requires 1..1"]


def test_slice_cardinality_identifier_by_system_and_name_by_use():
    res = patient()
    res["identifier"].append(copy.deepcopy(res["identifier"][0]))
    res["name"][0]["use"] = "usual"
    found = problems_of(res, P.PATIENT)
    assert f"Patient.identifier:nhsNumber (system={P.NHS_NUMBER_SYSTEM}): 2 found, profile allows 0..1" in found
    assert "Patient.name:official (use=official): 0 found, profile requires 1..1" in found


def test_rules_inside_a_slice_apply_to_its_members_only():
    res = patient()
    res["identifier"][0]["use"] = "official"  # the NHS number slice forbids identifier.use
    res["identifier"].append({"system": "https://local.example/id", "value": "1", "use": "official"})
    assert problems_of(res, P.PATIENT) == ["Patient.identifier[0].use: 1 found, profile allows 0..0"]


def test_closed_slicing_rejects_other_members():
    loc = {"resourceType": "Location", "physicalType": {"coding": [
        {"system": "http://snomed.info/sct", "code": "1", "display": "x"},
        {"system": "http://other.example", "code": "2"}]}}
    assert problems_of(loc, P.LOCATION) == [
        "Location.physicalType.coding[1]: matches no slice of Location.physicalType.coding, and profile "
        "CareConnect-GPC-Location-1 closes that slicing (by system)"]


def test_narrowed_choice_rejects_other_types():
    res = patient()
    res["deceasedBoolean"] = True
    assert problems_of(res, P.PATIENT) == [
        "Patient.deceasedBoolean: profile CareConnect-GPC-Patient-1 allows only deceasedDateTime for deceased[x]"]


# --- fixed values and bindings ------------------------------------------------------------------------

def test_fixed_values():
    res = outcome(system="https://example.org/codes")
    found = problems_of(res, P.OPERATION_OUTCOME)
    assert any(p.startswith("OperationOutcome.issue[0].details.coding[0].system: 'https://example.org/codes', "
                            "profile GPConnect-OperationOutcome-1 fixes "
                            "'https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1'") for p in found), found
    bundle = {"resourceType": "Bundle", "type": "collection"}
    assert problems_of(bundle, P.SEARCHSET_BUNDLE) == [
        "Bundle.type: 'collection', profile GPConnect-Searchset-Bundle-1 fixes 'searchset'"]


def test_reading_oo_system_accepts_the_error_pages_system():
    # OO-SYSTEM: the error page's ValueSet URL is accepted as well as the profile's CodeSystem URL.
    assert problems_of(outcome(system=P.SD.replace("StructureDefinition", "ValueSet") + "Spine-ErrorOrWarningCode-1"),
                       P.OPERATION_OUTCOME) == []


def test_required_binding_on_a_code():
    res = appointment()
    res["status"] = "confirmed"
    res["participant"][0]["status"] = "maybe"
    found = problems_of(res, P.APPOINTMENT)
    assert found[0].startswith("Appointment.participant[0].status: 'maybe' is not in the required value set "
                               "http://hl7.org/fhir/ValueSet/participationstatus")
    assert found[1].startswith("Appointment.status: 'confirmed' is not in the required value set "
                               "http://hl7.org/fhir/ValueSet/appointmentstatus")
    assert len(found) == 2


def test_required_binding_on_gender_from_the_nhs_value_set():
    res = patient()
    res["gender"] = "F"
    assert problems_of(res, P.PATIENT) == [
        "Patient.gender: 'F' is not in the required value set "
        "https://fhir.nhs.uk/STU3/ValueSet/CareConnect-AdministrativeGender-1 (female, male, other, unknown)"]


def test_required_binding_on_a_codeable_concept_inside_an_extension():
    res = patient()
    res["extension"][1]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "klingon"
    found = problems_of(res, P.PATIENT)
    assert len(found) == 1
    assert found[0].startswith("Patient.extension[1].extension[0].valueCodeableConcept: no code from the required "
                               "value set https://fhir.nhs.uk/STU3/ValueSet/CareConnect-HumanLanguage-1")


def test_reading_pat_systems_legacy_verification_status_system():
    res = patient()
    coding = res["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]
    coding["system"] = "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1"
    assert problems_of(res, P.PATIENT) == []
    coding["code"] = "99"
    (found,) = problems_of(res, P.PATIENT)
    assert "reading PAT-SYSTEMS" in found
    assert profile_rules.reading_of(found).startswith("PAT-SYSTEMS: ")


# --- extensions --------------------------------------------------------------------------------------

def test_extension_cardinality():
    res = appointment()
    res["extension"].append({"url": BOOKING_ORG, "valueReference": {"reference": "#1"}})
    assert problems_of(res, P.APPOINTMENT) == [
        f"Appointment.extension:bookingOrganisation ({BOOKING_ORG}): 2 found, profile allows 0..1"]


def test_mandatory_extension_on_a_slice():
    res = patient()
    res["identifier"][0]["extension"] = []
    assert problems_of(res, P.PATIENT) == [
        "Patient.identifier[0].extension:nhsNumberVerificationStatus "
        f"({P.EXT_NHS_NUMBER_VERIFICATION}): 0 found, profile requires 1..1"]


def test_extension_content_follows_its_own_definition():
    res = appointment()
    res["extension"].append({"url": CANCEL_REASON, "valueCode": "no-show"})
    assert problems_of(res, P.APPOINTMENT) == [
        "Appointment.extension[2].valueCode: profile Extension-GPConnect-AppointmentCancellationReason-1 allows only "
        "valueString for value[x]",
        "Appointment.extension[2].valueString: 0 found, profile requires 1..1",
    ]


def test_complex_extension_parts():
    res = patient()
    reg = res["extension"][0]
    reg["extension"].append({"url": "registrationStatus", "valueCodeableConcept": {"text": "active"}})
    reg["extension"].append({"url": "registrationType", "valueCodeableConcept": {"text": "temporary"}})
    reg["valueString"] = "not allowed on a complex extension"
    found = problems_of(res, P.PATIENT)
    assert "Patient.extension[0].valueString: 1 found, profile allows 0..0" in found
    part = "Patient.extension[0].extension"
    assert f"{part}:registrationStatus (registrationStatus): 1 found, profile allows 0..0" in found
    assert f"{part}:registrationType (registrationType): 2 found, profile allows 0..1" in found
    assert any(p.startswith("Patient.extension[0].extension[4].valueCodeableConcept: no code from the required value "
                            "set https://fhir.nhs.uk/STU3/ValueSet/CareConnect-RegistrationType-1 (found text only")
               for p in found), found


def test_extensions_on_primitives():
    res = patient()
    birth_time = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                  "valueDateTime": "1952-05-31T09:00:00+01:00"}
    res["_birthDate"] = {"extension": [birth_time]}
    assert problems_of(res, P.PATIENT) == []
    res["_birthDate"] = {"extension": [birth_time, birth_time]}
    assert problems_of(res, P.PATIENT) == [
        "Patient.birthDate.extension:patient-birthTime (http://hl7.org/fhir/StructureDefinition/patient-birthTime): "
        "2 found, profile allows 0..1"]


# --- the API --------------------------------------------------------------------------------------------

def test_unknown_profile_and_version_suffixes():
    with pytest.raises(profile_rules.UnknownProfile):
        profile_rules.problems({"resourceType": "Patient"}, "https://example.org/StructureDefinition/Other")
    assert profile_rules.problems(patient(), P.PATIENT + "|1.8.0") == []
    assert profile_rules.problems(patient(), P.PATIENT + "/_history/1.8") == []


def test_conforms_picks_the_gp_connect_profile_for_the_type():
    res = appointment()
    res["meta"]["profile"] = []  # the claim does not matter: Appointments are checked as GPConnect-Appointment-1
    res["reason"] = [{"text": "a"}, {"text": "b"}]
    assert profile_rules.conforms(res) == ["Appointment.reason: 2 found, profile allows 0..1"]
    assert profile_rules.conforms({"resourceType": "CapabilityStatement"}) == []


def test_wrong_resource_type_for_the_profile():
    assert profile_rules.problems({"resourceType": "Slot"}, P.SCHEDULE) == [
        "resourceType is 'Slot', profile GPConnect-Schedule-1 is for Schedule"]


def test_every_profile_in_use_has_rules_pinned_to_its_1_2_7_version():
    versions = {profile_rules.profile(url).name: profile_rules.profile(url).version
                for url in profile_rules.GPC_PROFILE_BY_TYPE.values()}
    versions[profile_rules.profile(P.SEARCHSET_BUNDLE).name] = profile_rules.profile(P.SEARCHSET_BUNDLE).version
    assert versions == {
        "CareConnect-GPC-Patient-1": "1.8.0", "CareConnect-GPC-Practitioner-1": "1.2.0",
        "CareConnect-GPC-Organization-1": "1.4.0", "CareConnect-GPC-Location-1": "1.3.0",
        "CareConnect-GPC-PractitionerRole-1": "1.2.0", "GPConnect-Appointment-1": "1.6.0",
        "GPConnect-Schedule-1": "1.6.0", "GPConnect-Slot-1": "1.5.0", "GPConnect-OperationOutcome-1": "1.2.0",
        "GPConnect-Searchset-Bundle-1": "1.3.0",
    }
    assert "Patient.extension:registrationDetails" in profile_rules.must_support(P.PATIENT)


def test_conformance_picks_the_profile_from_meta_and_checks_contained_resources():
    res = appointment()
    res["contained"][0]["name"] = None
    del res["contained"][0]["name"]
    assert conformance.resource_problems(res) == [
        ("profile:CareConnect-GPC-Organization-1", "contained[0]: Organization.name: 0 found, profile requires 1..1")]
    res["meta"]["profile"] = ["https://example.org/not-gp-connect"]
    assert conformance.pick_profile(res) is None
    assert conformance.pick_profile(res, P.APPOINTMENT) == P.APPOINTMENT


def test_conformance_tolerates_rule_modules_not_written_yet(monkeypatch):
    monkeypatch.setitem(conformance.RULES, "Slot", ("gpc_assure.checks.not_written_yet:rule",))
    conformance._load.cache_clear()
    try:
        assert conformance.rule_functions("Slot") == []
        assert "gpc_assure.checks.not_written_yet" in conformance.unavailable()
    finally:
        conformance._load.cache_clear()


def test_validation_is_fast():
    res = patient()
    profile_rules.problems(res, P.PATIENT)  # load and compile once
    start = time.perf_counter()
    for _ in range(500):
        profile_rules.problems(res, P.PATIENT)
    assert time.perf_counter() - start < 2.0


# --- the committed rules files ---------------------------------------------------------------------------

def _generator():
    path = PROJECT_ROOT / "tools" / "build_profile_rules.py"
    spec = importlib.util.spec_from_file_location("build_profile_rules", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


needs_specs = pytest.mark.skipif(not (SHARED_SPECS_DIR / "fhir-stu3" / "StructureDefinitions").is_dir(),
                                 reason=f"the official StructureDefinitions are not at {SHARED_SPECS_DIR}/fhir-stu3")


def test_generator_reads_an_artefact_with_undeclared_windows_1252_bytes(tmp_path):
    # One published ValueSet carries a Windows-1252 copyright sign in a file that declares no encoding.
    path = tmp_path / "ValueSet-x.xml"
    path.write_bytes(b'<ValueSet xmlns="http://hl7.org/fhir"><url value="https://example.org/vs"/>'
                     b'<copyright value="\xa9 NHS"/></ValueSet>')
    root = _generator().read_xml(path)
    assert root.find("{http://hl7.org/fhir}copyright").get("value") == "\u00a9 NHS"


def test_generator_still_refuses_xml_that_is_not_well_formed(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<ValueSet><url></ValueSet>")
    with pytest.raises(Exception, match=r"mismatch|Opening and ending tag"):
        _generator().read_xml(path)


@needs_specs
def test_committed_rules_equal_the_generators_output():
    built = _generator().build(SHARED_SPECS_DIR)
    committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(RULES_DIR.glob("*.json"))}
    assert sorted(committed) == sorted(built), "run tools/build_profile_rules.py"
    stale = [name for name in built if committed[name] != built[name]]
    assert not stale, f"profiles/rules is out of date for {stale}: run tools/build_profile_rules.py"


@needs_specs
def test_no_rules_file_is_a_copy_of_an_official_file():
    official = {hashlib.sha256(p.read_bytes()).hexdigest(): p
                for p in SHARED_SPECS_DIR.rglob("*") if p.is_file()}
    copies = [p.name for p in RULES_DIR.glob("*.json") if hashlib.sha256(p.read_bytes()).hexdigest() in official]
    assert not copies


def test_rules_files_are_our_compact_json():
    for path in RULES_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        assert set(data) == {"built_from", "date", "elements", "kind", "name", "readings", "type", "url", "version"}
        assert "<" not in text, f"{path.name} carries markup"
        assert text == json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", f"{path.name} unsorted"


# --- the exchange check --------------------------------------------------------------------------------

def test_resources_profile_check_reports_each_resource_in_the_body():
    good, bad = patient(), patient()
    bad["gender"] = "F"
    bad["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0].update(
        system="https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1", code="99")
    body = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": good}, {"resource": bad}]}
    ex = Exchange("patient.find", RecordedRequest("GET", "http://x/Patient", []),
                  RecordedResponse(200, [], json.dumps(body).encode()))
    found = resources.profile("Patient", "FND-FP-005")(ex)
    assert [(f.requirement, f.path) for f in found] == [("FND-FP-005", "entry[1].resource")] * 2
    assert found[0].message.startswith("Patient.gender: 'F'")
    assert found[1].reading is not None and found[1].reading.startswith("PAT-SYSTEMS: ")
    with pytest.raises(ValueError):
        resources.profile("Bundle", "FND-REG-013")  # no default profile for a Bundle: name it
    [met] = resources.profile("Bundle", "FND-REG-013", url=P.SEARCHSET_BUNDLE)(ex)
    assert met.met and met.requirement == "FND-REG-013"
