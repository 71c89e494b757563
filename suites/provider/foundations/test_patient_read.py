"""Read a patient (GET /Patient/{id}), with the logical id a consumer gets from Find a patient."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from gpc_assure import strategies
from gpc_assure.checks import http, outcome, resources
from gpc_assure.checks import patient as rules
from gpc_assure.target import PatientData
from gpc_assure.transport.exchange import Exchange


def logical_id(gpc, verify, test_data, role: str, returned: str = "FND-FP-002") -> tuple[PatientData, str]:
    """The patient's logical id, found the way a consumer finds it (FND-RP-004).

    Precondition: Find answers a searchset (FND-FP-002) holding exactly this patient (`returned` is charged
    when it is missing: FND-FP-002 for a registered patient, GEN-IG-001 for one who dissented) and no other
    (FND-FP-006).
    """
    p = test_data.patient(role)
    ex = gpc.call("patient.find", params=[rules.identifier_param(p.nhs_number)], label=f"find patient ({role})")
    what = f"Find the {role} patient, to read"
    verify.needs(ex, http.status(200, "FND-FP-002"), resources.searchset("FND-FP-002", entry_type="Patient"),
                 what=what)
    if rules.patients_in(ex.json):
        verify.needs(ex, rules.about_patient(p.nhs_number, "FND-FP-006"), what=what)
    verify.needs(ex, rules.returns_patients(returned, 1), what=what)
    pid = rules.patients_in(ex.json)[0].get("id")
    if not pid:
        verify.stop(f"Find returned the {role} patient without a logical id, so there is nothing to read")
    return p, str(pid)


def read(gpc, pid: str, label: str = "") -> Exchange:
    return gpc.call("patient.read", path_params={"id": quote(pid, safe="")}, label=label or f"read patient {pid!r}")


def read_back(verify, ex: Exchange, p: PatientData, pid: str, what: str) -> Exchange:
    """Precondition: Read answered 200 with a Patient, the one asked for (FND-RP-001)."""
    return verify.needs(ex, http.status(200, "FND-RP-001"), resources.resource("Patient", "FND-RP-001"),
                        resources.id_matches(pid, "FND-RP-001"), rules.about_patient(p.nhs_number, "FND-RP-001"),
                        what=what)


@pytest.mark.title("Read a patient answers 200 with that Patient, its id the one requested")
@pytest.mark.requirement("FND-RP-001")
def test_read_patient(gpc, verify, test_data):
    # The ETag is judged for every read under GEN-HTTP-002.
    p, pid = logical_id(gpc, verify, test_data, "registered_verified")
    ex = read(gpc, pid)
    verify(ex, http.status(200, "FND-RP-001"), resources.resource("Patient", "FND-RP-001"),
           resources.id_matches(pid, "FND-RP-001"), rules.about_patient(p.nhs_number, "FND-RP-001"))


@pytest.mark.title("Read Patient follows Find's population and exclusion rules")
@pytest.mark.requirement("FND-RP-002")
def test_read_patient_population(gpc, verify, test_data):
    p, pid = logical_id(gpc, verify, test_data, "registered_verified")
    ex = read_back(verify, read(gpc, pid), p, pid, "Read the registered patient")
    found = [resources.each("Patient", rule, "FND-RP-002") for group in rules.POPULATION_RULES.values()
             for rule in group]
    found += [resources.each("Patient", rule, "FND-RP-002") for rule in (
        rules.carries_nhs_number(p.nhs_number), rules.named(p.family, p.given), rules.born(p.birth_date, p.gender))]
    if test_data.data.organisation_id:
        found.append(resources.each("Patient", rules.managed_by(test_data.data.organisation_id), "FND-RP-002"))
    verify(ex, *found)


@pytest.mark.title("Read a patient who dissented from record sharing answers 200 (dissent is not applied)")
@pytest.mark.requirement("GEN-IG-001")
def test_read_dissent_patient(gpc, verify, test_data):
    p, pid = logical_id(gpc, verify, test_data, "dissent", returned="GEN-IG-001")
    ex = read(gpc, pid)
    if ex.status == 200 and rules.patients_in(outcome.body_as_json(ex)):
        verify.needs(ex, resources.id_matches(pid, "FND-RP-001"), rules.about_patient(p.nhs_number, "FND-RP-001"),
                     what="Read the patient who dissented")
    verify(ex, http.status(200, "GEN-IG-001"), rules.returns_patients("GEN-IG-001", 1))


@pytest.mark.title("Read with a patient id the provider does not hold answers 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("FND-RP-003", "ERR-005")
def test_read_unknown_patient(gpc, verify):
    strategies.explore(
        verify, strategies.unknown_logical_ids(), lambda pid: read(gpc, pid),
        lambda _: [outcome.operation_outcome(404, "PATIENT_NOT_FOUND", r, issue_code="not-found")
                   for r in ("FND-RP-003", "ERR-005")],
        describe="id")


@pytest.mark.title("Read with a malformed patient id answers 404 PATIENT_NOT_FOUND")
@pytest.mark.requirement("FND-RP-003")
def test_read_malformed_patient_id(gpc, verify):
    strategies.explore(
        verify, strategies.malformed_logical_ids(), lambda pid: read(gpc, pid),
        lambda _: [outcome.operation_outcome(404, "PATIENT_NOT_FOUND", "FND-RP-003", issue_code="not-found")],
        describe="id")
