"""Find a patient (GET /Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS number}), with #921.

Every answer is first checked to be a searchset (FND-FP-002) about the patient asked for (FND-FP-006):
a provider answering every search with one fixed patient fails there, and the test's own rules are not
judged. Tests that expect a patient to be left out first find the registered patient (a control), so an
empty answer is evidence only from a provider that finds the patients it holds.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpc_assure import strategies
from gpc_assure.checks import http, outcome, resources
from gpc_assure.checks import patient as rules
from gpc_assure.checks.core import either
from gpc_assure.fhir import profiles
from gpc_assure.outcomes import InsufficientData
from gpc_assure.target import PatientData
from gpc_assure.transport.exchange import Exchange

D03 = "D-03: the error page's 400 INVALID_IDENTIFIER_SYSTEM or the official suite's 422 INVALID_PARAMETER"
NOT_FOUND_D10 = "D-10: an empty searchset (as for any unmatched NHS number) or 404 PATIENT_NOT_FOUND"


def find(gpc, nhs: str, label: str = "") -> Exchange:
    return gpc.call("patient.find", params=[rules.identifier_param(nhs)], label=label or f"find patient {nhs}")


def find_role(gpc, test_data, role: str) -> tuple[PatientData, Exchange]:
    p = test_data.patient(role)
    return p, find(gpc, p.nhs_number, label=f"find patient ({role})")


def searched(verify, ex: Exchange, nhs: str, what: str) -> list[dict[str, Any]]:
    """Precondition: Find answered a searchset (FND-FP-002) and every Patient in it is the one asked for
    (FND-FP-006). The Patients found."""
    verify.needs(ex, http.status(200, "FND-FP-002"), resources.searchset("FND-FP-002", entry_type="Patient"),
                 what=what)
    found = rules.patients_in(ex.json)
    if found:
        verify.needs(ex, rules.about_patient(nhs, "FND-FP-006"), what=what)
    return found


def found_one(verify, ex: Exchange, nhs: str, what: str, requirement: str = "FND-FP-002") -> Exchange:
    """Precondition: Find returned exactly the patient asked for (`requirement` is charged when it did not)."""
    searched(verify, ex, nhs, what)
    verify.needs(ex, rules.returns_patients(requirement, 1), what=what)
    return ex


def control(gpc, verify, test_data) -> None:
    """Find returns the registered patient: a provider that finds nobody proves nothing by leaving a patient out."""
    p = test_data.patient("registered_verified")
    found_one(verify, find(gpc, p.nhs_number, label="find the registered patient (control)"), p.nhs_number,
              "the control: Find must return the registered patient")


def role_holds(role: str, patient: dict[str, Any]) -> None:
    """A patient a test expects Find to leave out came back active on a temporary registration: an earlier
    run's Register (which reactivates a patient who left) changed the test data, which is not the provider's
    fault."""
    if patient.get("active", True) is True and rules.registration_type(patient) == rules.TEMPORARY:
        raise InsufficientData(msg=f"the '{role}' patient is back on the practice list as an active temporary "
                                   f"patient (registered by an earlier run?): reset the test data for role {role}")


def outcome_for(status: int, code: str, requirements: tuple[str, ...], issue_code: str | None = None,
                reading: str | None = None) -> list:
    return [outcome.operation_outcome(status, code, r, issue_code=issue_code, reading=reading) for r in requirements]


def identifier_system_error(requirements: tuple[str, ...]) -> list:
    """D-03: either documented answer to a missing, blank or unknown identifier system."""
    return [either(
        outcome.operation_outcome(400, "INVALID_IDENTIFIER_SYSTEM", r, issue_code="value", reading=D03),
        outcome.operation_outcome(422, "INVALID_PARAMETER", r, issue_code="invalid", reading=D03))
        for r in requirements]


def registered(gpc, verify, test_data) -> tuple[PatientData, Exchange]:
    """The registered patient, found: a searchset holding exactly that patient (else FND-FP-002/006 is charged)."""
    p, ex = find_role(gpc, test_data, "registered_verified")
    return p, found_one(verify, ex, p.nhs_number, "Find the registered patient")


# -- the registered patient: status, bundle and population ------------------------------------------
@pytest.mark.title("Find a registered patient answers 200 with a searchset holding that one Patient")
@pytest.mark.requirement("FND-FP-002")
def test_find_registered_patient(gpc, verify, test_data):
    p, ex = find_role(gpc, test_data, "registered_verified")
    if ex.status == 200 and rules.patients_in(outcome.body_as_json(ex)):
        verify.needs(ex, rules.about_patient(p.nhs_number, "FND-FP-006"), what="Find the registered patient")
    verify(ex, http.status(200, "FND-FP-002"),
           resources.searchset("FND-FP-002", entry_type="Patient", min_entries=1, max_entries=1))


@pytest.mark.title("Found Patient is valid CareConnect-GPC-Patient-1 with meta.profile and meta.versionId")
@pytest.mark.requirement("FND-FP-005")
def test_find_patient_conforms_to_profile(gpc, verify, test_data):
    _, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.meta, "FND-FP-005"),
           resources.each("Patient", rules.profile_constraints, "FND-FP-005", reading=rules.SYSTEMS_READING))


@pytest.mark.title("Found Patient carries the searched NHS number with the nhs-number system")
@pytest.mark.requirement("FND-FP-006")
def test_find_patient_nhs_number(gpc, verify, test_data):
    p, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.nhs_number_identifier, "FND-FP-006"),
           resources.each("Patient", rules.carries_nhs_number(p.nhs_number), "FND-FP-006"))


@pytest.mark.title("Found Patient has exactly one official name, matching the name on PDS")
@pytest.mark.requirement("FND-FP-007")
def test_find_patient_official_name(gpc, verify, test_data):
    p, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.official_name, "FND-FP-007"),
           resources.each("Patient", rules.named(p.family, p.given), "FND-FP-007"))


@pytest.mark.title("Found Patient has birth date and gender, and uses on its addresses and telecoms")
@pytest.mark.requirement("FND-FP-008")
def test_find_patient_demographics(gpc, verify, test_data):
    p, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.demographics, "FND-FP-008"),
           resources.each("Patient", rules.born(p.birth_date, p.gender), "FND-FP-008"))


@pytest.mark.title("Found Patient's preferred branch surgery references a Location")
@pytest.mark.requirement("FND-FP-009")
def test_find_patient_preferred_branch(gpc, verify, test_data):
    _, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.branch_reference, "FND-FP-009"))


@pytest.mark.title("Found Patient's managingOrganization is the practice addressed by the ODS code")
@pytest.mark.requirement("FND-FP-010")
def test_find_patient_managing_organization(gpc, verify, test_data):
    _, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.managing_organization, "FND-FP-010"))
    org_id = test_data.data.organisation_id
    if org_id:
        verify(ex, resources.each("Patient", rules.managed_by(org_id), "FND-FP-010"))


@pytest.mark.title("Found Patient leaves out the elements GP Connect excludes (ethnicity, religion, marital status...)")
@pytest.mark.requirement("FND-FP-011")
def test_find_patient_excluded_elements(gpc, verify, test_data):
    _, ex = registered(gpc, verify, test_data)
    verify(ex, resources.each("Patient", rules.excluded_elements, "FND-FP-011"))


# -- who is (not) returned ------------------------------------------------------------------------
@pytest.mark.title("Find for an NHS number the practice does not hold answers 200 with an empty searchset")
@pytest.mark.requirement("FND-FP-003")
def test_find_unknown_patient_empty_bundle(gpc, verify, test_data):
    control(gpc, verify, test_data)
    p, ex = find_role(gpc, test_data, "unknown")
    if ex.status == 200 and rules.patients_in(outcome.body_as_json(ex)):
        verify.needs(ex, rules.about_patient(p.nhs_number, "FND-FP-006"), what="Find an unknown NHS number")
    verify(ex, http.status(200, "FND-FP-003"), resources.searchset("FND-FP-003", max_entries=0))


def left_out(gpc, verify, test_data, role: str) -> Exchange:
    """Find for a patient it must not return: after the control, the answer is a searchset about that patient,
    and the role still holds. The exchange, for the test's own judgement of how many came back."""
    control(gpc, verify, test_data)
    p, ex = find_role(gpc, test_data, role)
    for patient in searched(verify, ex, p.nhs_number, f"Find the {role} patient"):
        role_holds(role, patient)
    return ex


@pytest.mark.title("Find does not return a {role} patient")
@pytest.mark.requirement("FND-FP-004")
@pytest.mark.parametrize("role", ["inactive", "deceased"])
def test_find_only_active_patients(gpc, verify, test_data, role):
    ex = left_out(gpc, verify, test_data, role)
    verify(ex, rules.returns_patients("FND-FP-004", 0))


@pytest.mark.title("Find returns a patient who dissented from record sharing (dissent is not applied)")
@pytest.mark.requirement("FND-FP-018", "GEN-IG-001")
def test_find_dissent_patient_returned(gpc, verify, test_data):
    p, ex = find_role(gpc, test_data, "dissent")
    searched(verify, ex, p.nhs_number, "Find the patient who dissented")
    verify(ex, rules.returns_patients("FND-FP-018", 1), rules.returns_patients("GEN-IG-001", 1))


@pytest.mark.title("Find does not return a sensitive (S-flagged) patient")
@pytest.mark.requirement("GEN-IG-002")
def test_find_sensitive_patient_not_returned(gpc, verify, test_data):
    control(gpc, verify, test_data)
    p, ex = find_role(gpc, test_data, "sensitive")
    if ex.status == 200 and rules.patients_in(outcome.body_as_json(ex)):
        verify.needs(ex, rules.about_patient(p.nhs_number, "FND-FP-006"), what="Find the sensitive patient")
    verify(ex, either(rules.returns_patients("GEN-IG-002", 0, reading=NOT_FOUND_D10),
                      outcome.operation_outcome(404, "PATIENT_NOT_FOUND", "GEN-IG-002", reading=NOT_FOUND_D10)))


# -- #921: active patients whose NHS number was never verified ------------------------------------
@pytest.mark.title("#921: Find traces an unverified NHS number on PDS, returns the patient and marks it verified")
@pytest.mark.requirement("FND-FP-014", "FND-FP-017")
def test_find_921_unverified_traceable_patient_returned(gpc, verify, test_data):
    p, ex = find_role(gpc, test_data, "unverified_pds_traceable")
    searched(verify, ex, p.nhs_number, "Find the #921 patient PDS verifies")
    verify.must(ex, rules.returns_patients("FND-FP-014", 1))
    verify(ex, resources.each("Patient", rules.nhs_number_verified, "FND-FP-017"))


@pytest.mark.title("#921: Find verifies on the partial rule (2 of 3 birth-date parts, family prefix, initial)")
@pytest.mark.requirement("FND-FP-015")
def test_find_921_partial_match_verifies(gpc, verify, test_data):
    p, ex = find_role(gpc, test_data, "unverified_pds_partial")
    searched(verify, ex, p.nhs_number, "Find the #921 patient PDS verifies on the partial rule")
    verify(ex, rules.returns_patients("FND-FP-015", 1))


@pytest.mark.title("#921: Find does not return an unverified patient whose PDS demographics do not match")
@pytest.mark.requirement("FND-FP-015")
def test_find_921_mismatch_not_returned(gpc, verify, test_data):
    ex = left_out(gpc, verify, test_data, "unverified_pds_mismatch")
    verify(ex, rules.returns_patients("FND-FP-015", 0))


@pytest.mark.title("#921: Find does not return an unverified patient whose PDS record is flagged or deceased")
@pytest.mark.requirement("FND-FP-016")
def test_find_921_flagged_not_returned(gpc, verify, test_data):
    ex = left_out(gpc, verify, test_data, "unverified_pds_flagged")
    verify(ex, rules.returns_patients("FND-FP-016", 0))


@pytest.mark.title("#921: a patient verified by an earlier trace is found again, still verified")
@pytest.mark.requirement("FND-FP-017")
def test_find_921_verification_kept(gpc, verify, test_data):
    p = test_data.patient("unverified_pds_traceable")
    find(gpc, p.nhs_number, label="first find (may trace on PDS)")
    ex = find(gpc, p.nhs_number, label="second find")
    searched(verify, ex, p.nhs_number, "Find the #921 patient again")
    verify.must(ex, rules.returns_patients("FND-FP-017", 1))
    verify(ex, resources.each("Patient", rules.nhs_number_verified, "FND-FP-017"))


# -- identifier errors ------------------------------------------------------------------------------
@pytest.mark.title("Find with an NHS number failing its structural checks answers 400 INVALID_NHS_NUMBER")
@pytest.mark.requirement("FND-FP-012", "ERR-003")
def test_find_invalid_nhs_number(gpc, verify):
    strategies.explore(
        verify, strategies.invalid_nhs_numbers(),
        lambda value: find(gpc, value, label=f"find with invalid NHS number {value!r}"),
        lambda _: outcome_for(400, "INVALID_NHS_NUMBER", ("FND-FP-012", "ERR-003"), issue_code="value"),
        describe="NHS number")


@pytest.mark.title("Find with an identifier system other than the NHS number's is refused (D-03)")
@pytest.mark.requirement("FND-FP-012", "ERR-001")
def test_find_unknown_identifier_system(gpc, verify, test_data):
    nhs = test_data.patient("registered_verified").nhs_number
    strategies.explore(
        verify, strategies.unknown_identifier_systems(),
        lambda system: gpc.call("patient.find", params=[rules.identifier_param(nhs, system)],
                                label=f"find with identifier system {system!r}"),
        lambda _: identifier_system_error(("FND-FP-012", "ERR-001")),
        describe="identifier system")


@pytest.mark.title("Find with an identifier that has no system is refused (D-03)")
@pytest.mark.requirement("FND-FP-012", "ERR-001")
def test_find_identifier_without_system(gpc, verify):
    strategies.explore(
        verify, strategies.systemless_identifiers(),
        lambda token: gpc.call("patient.find", params=[("identifier", token)], label=f"find identifier={token!r}"),
        lambda _: identifier_system_error(("FND-FP-012", "ERR-001")),
        describe="identifier")


@pytest.mark.title("Find with an empty NHS number is refused (INVALID_NHS_NUMBER, or the suite's INVALID_PARAMETER)")
@pytest.mark.requirement("FND-FP-012")
def test_find_empty_nhs_number(gpc, verify):
    ex = gpc.call("patient.find", params=[("identifier", f"{profiles.NHS_NUMBER_SYSTEM}|")], label="empty value")
    verify(ex, either(
        outcome.operation_outcome(400, "INVALID_NHS_NUMBER", "FND-FP-012", reading=D03),
        outcome.operation_outcome(422, "INVALID_PARAMETER", "FND-FP-012", reading=D03)))


@pytest.mark.title("Find {case} answers 400 BAD_REQUEST")
@pytest.mark.requirement("FND-FP-013", "ERR-012")
@pytest.mark.parametrize("case", ["without an identifier", "with 'Identifier' (wrong case) only",
                                  "with two identifier parameters"])
def test_find_identifier_parameter_errors(gpc, verify, test_data, case):
    nhs = test_data.patient("registered_verified").nhs_number
    param = rules.identifier_param(nhs)
    params = {
        "without an identifier": [],
        "with 'Identifier' (wrong case) only": [("Identifier", param[1])],
        "with two identifier parameters": [param, param],
    }[case]
    ex = gpc.call("patient.find", params=params, label=f"find {case}")
    verify(ex, *outcome_for(400, "BAD_REQUEST", ("FND-FP-013", "ERR-012"), issue_code="invalid"))

