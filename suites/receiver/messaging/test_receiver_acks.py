"""A valid document to the receiver under test: it is collected and acknowledged in MESH, and answered with
one infrastructure and one business response that say the right things, on the right workflow, to the
right mailbox, in the right order, within the run's bound."""

from __future__ import annotations

import pytest

from gpc_assure.checks import itk3 as rules
from gpc_assure.messaging import itk3
from gpc_assure.messaging.cases import Exchanged, baseline, exchange, patient_details


@pytest.fixture(scope="module")
def answered(mesh, mesh_setup, test_data) -> Exchanged:
    patient = patient_details(test_data.patient("registered_verified"))
    return exchange(mesh, mesh_setup, baseline(mesh_setup, patient),
                    label="suite: send a valid document for a registered patient to the receiver")


@pytest.fixture
def seen(answered: Exchanged, cite) -> Exchanged:
    cite(answered.sent.exchange)
    for a in answered.arrivals:
        cite(a.exchange)
    return answered


def _responses(seen: Exchanged) -> list[itk3.Response]:
    if not seen.responses:
        pytest.skip(f"no response arrived in {seen.waited_s:.1f} s (judged by the MSG-SD-093 and MSG-SD-094 tests)")
    return seen.responses


@pytest.mark.title("The receiver collects the document and acknowledges it in MESH")
@pytest.mark.requirement("MSG-SD-013")
def test_document_acknowledged_in_mesh(seen, mesh, verify):
    status, waited, last = mesh.wait_status(seen.sent.message_id)
    verify.that(status == "acknowledged", "MSG-SD-013",
                f"MESH still had the document in status {status!r} {waited:.1f} s after it was sent: the receiver "
                "did not acknowledge it", exchange=last)


@pytest.mark.title("Responses travel on the acknowledgement workflow")
@pytest.mark.requirement("MSG-SD-090")
def test_responses_on_ack_workflow(seen, mesh_setup, verify):
    _responses(seen)
    want = mesh_setup.spec.ack_workflow(mesh_setup.document_workflow)
    for a in seen.arrivals:
        for p in rules.ack_workflow(a.message.headers, want):
            verify.finding("MSG-SD-090", p, reading="SD-C10", exchange=a.exchange)


@pytest.mark.title("Responses go to the mailbox in MessageHeader.source.endpoint")
@pytest.mark.requirement("MSG-SD-091")
def test_responses_addressed_to_source_endpoint(seen, mesh_setup, verify):
    _responses(seen)
    for a in seen.arrivals:
        for p in rules.ack_addressed(a.mailbox, mesh_setup.source_endpoint,
                                     "the document's MessageHeader.source.endpoint"):
            verify.finding("MSG-SD-091", p, exchange=a.exchange)


@pytest.mark.title("At most one infrastructure and one business response, infrastructure first")
@pytest.mark.requirement("MSG-SD-092")
def test_response_count_and_order(seen, verify):
    for p in rules.count_and_order(_responses(seen)):
        verify.finding("MSG-SD-092", p, exchange=seen.sent.exchange)
    for a in seen.not_responses:
        verify.finding("MSG-SD-092", f"a message that is not an ITK3 response arrived in reply "
                                     f"({a.problem or 'no response MessageHeader'})", exchange=a.exchange)


@pytest.mark.title("An infrastructure response 20013 arrives within the bound")
@pytest.mark.requirement("MSG-SD-093")
def test_infrastructure_response(seen, mesh_setup, verify):
    problems = rules.infrastructure_ack(seen.responses, expected=itk3.INF_SUCCESS)
    if problems and seen.timed_out:
        problems = [f"{problems[0]}: nothing more arrived in {mesh_setup.ack_wait_s:g} s"]
    for p in problems:
        verify.finding("MSG-SD-093", p, reading="SD-C04", exchange=seen.sent.exchange)


@pytest.mark.title("A business response 30001 (patient known here) arrives within the bound")
@pytest.mark.requirement("MSG-SD-094")
def test_business_response(seen, mesh_setup, verify):
    problems = rules.business_ack(seen.responses, expected=itk3.BUS_SUCCESS)
    if problems and seen.timed_out:
        problems = [f"{problems[0]}: nothing more arrived in {mesh_setup.ack_wait_s:g} s"]
    for p in problems:
        verify.finding("MSG-SD-094", p, exchange=seen.sent.exchange)


@pytest.mark.title("Response headers: event ITK008M, no acks requested, the original SenderReference")
@pytest.mark.requirement("MSG-SD-096")
def test_response_headers(seen, verify):
    for r in _responses(seen):
        for p in rules.response_header(r, seen.outgoing.sender_reference if seen.outgoing else None):
            verify.finding("MSG-SD-096", p)


@pytest.mark.title("Responses point at the original MessageHeader and carry an ITK3 OperationOutcome")
@pytest.mark.requirement("MSG-SD-097")
def test_response_link(seen, verify):
    assert seen.outgoing is not None
    for r in _responses(seen):
        for p in rules.response_link(r, seen.outgoing.header_id):
            verify.finding("MSG-SD-097", p)


@pytest.mark.title("Response OperationOutcome severity, issue type and ITK code agree")
@pytest.mark.requirement("MSG-SD-098")
def test_response_outcome(seen, verify):
    for r in _responses(seen):
        for p in rules.outcome_mapping(r):
            verify.finding("MSG-SD-098", p, reading="ISSUE-TYPE")


@pytest.mark.title("Responses carry no patient-identifiable information")
@pytest.mark.requirement("MSG-SD-100")
def test_responses_without_patient_data(seen, test_data, verify):
    p = test_data.patient("registered_verified")
    identifiers = [p.nhs_number, *(n for n in [p.family] if n)]
    for r in _responses(seen):
        for problem in rules.no_patient_data(r, identifiers):
            verify.finding("MSG-SD-100", problem, reading="PID-ACTOR")
