"""A valid document to the receiver under test: it is collected and acknowledged in MESH, and answered with
one infrastructure and one business response that say the right things, on the right workflow, to the
right mailbox, in the right order, within the run's bound.

A receiver that does not answer is charged on the requirements about answering (MSG-SD-093, MSG-SD-094);
the rules about what a response says are then not judged, naming MSG-SD-093 as the cause.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import itk3 as rules
from gpc_assure.messaging import itk3
from gpc_assure.messaging.cases import Exchanged, answers, baseline, exchange, patient_details, responses_to


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


@pytest.mark.title("The receiver collects the document and acknowledges it in MESH")
@pytest.mark.requirement("MSG-SD-013")
def test_document_acknowledged_in_mesh(seen, mesh, verify):
    status, waited, last = mesh.wait_status(seen.sent.message_id)
    if status is None:
        verify.stop(f"MESH could not say whether the document {seen.sent.message_id} was collected")
    verify.that(status == "acknowledged", "MSG-SD-013",
                f"MESH still had the document in status '{status}' {waited:.1f} s after it was sent: the receiver "
                "did not acknowledge it", held="MESH shows the document collected and acknowledged by the receiver",
                exchange=last)


@pytest.mark.title("Responses travel on the acknowledgement workflow")
@pytest.mark.requirement("MSG-SD-090")
def test_responses_on_ack_workflow(seen, mesh_setup, verify):
    want = mesh_setup.spec.ack_workflow(mesh_setup.document_workflow)
    for a in answers(verify, seen):
        verify.rule("MSG-SD-090", f"the response travels on {want}",
                    lambda a=a: rules.ack_workflow(a.message.headers, want), exchange=a.exchange, reading="SD-C10")


@pytest.mark.title("Responses go to the mailbox in MessageHeader.source.endpoint")
@pytest.mark.requirement("MSG-SD-091")
def test_responses_addressed_to_source_endpoint(seen, mesh_setup, verify):
    for a in answers(verify, seen):
        verify.rule("MSG-SD-091", f"the response went to {mesh_setup.source_endpoint}, the document's "
                                  "MessageHeader.source.endpoint",
                    lambda a=a: rules.ack_addressed(a.mailbox, mesh_setup.source_endpoint,
                                                    "the document's MessageHeader.source.endpoint"),
                    exchange=a.exchange)


@pytest.mark.title("At most one infrastructure and one business response, infrastructure first")
@pytest.mark.requirement("MSG-SD-092")
def test_response_count_and_order(seen, verify):
    for a in seen.not_responses:
        verify.finding("MSG-SD-092", f"a message that is not an ITK3 response arrived in reply "
                                     f"({a.problem or 'no response MessageHeader'})", exchange=a.exchange)
    responses = responses_to(verify, seen)
    verify.rule("MSG-SD-092", "at most one infrastructure and one business response, each with one code, "
                              "infrastructure first", lambda: rules.count_and_order(responses),
                exchange=seen.sent.exchange)


def _in_bound(problems: list[str], seen: Exchanged, bound: float) -> list[str]:
    if problems and seen.timed_out:
        return [f"{problems[0]} within the bound of {bound:g} s", *problems[1:]]
    return problems


@pytest.mark.title("An infrastructure response 20013 arrives within the bound")
@pytest.mark.requirement("MSG-SD-093")
def test_infrastructure_response(seen, mesh_setup, verify):
    verify.rule("MSG-SD-093", "an infrastructure response 20013 (Success) arrived within the bound",
                lambda: _in_bound(rules.infrastructure_ack(seen.responses, expected=itk3.INF_SUCCESS), seen,
                                  mesh_setup.ack_wait_s),
                exchange=seen.sent.exchange, reading="SD-C04")


@pytest.mark.title("A business response 30001 (patient known here) arrives within the bound")
@pytest.mark.requirement("MSG-SD-094")
def test_business_response(seen, mesh_setup, verify):
    verify.rule("MSG-SD-094", "a business response 30001 (patient known here) arrived within the bound",
                lambda: _in_bound(rules.business_ack(seen.responses, expected=itk3.BUS_SUCCESS), seen,
                                  mesh_setup.ack_wait_s),
                exchange=seen.sent.exchange)


@pytest.mark.title("Response headers: event ITK008M, no acks requested, the original SenderReference")
@pytest.mark.requirement("MSG-SD-096")
def test_response_headers(seen, verify):
    assert seen.outgoing is not None
    for a in answers(verify, seen, responses_only=True):
        verify.rule("MSG-SD-096", "the response's MessageHeader: event ITK008M, no acknowledgements requested, the "
                                  "original SenderReference, a sender Organization and a timestamp",
                    lambda a=a: rules.response_header(a.response, seen.outgoing.sender_reference),
                    exchange=a.exchange)


@pytest.mark.title("Responses point at the original MessageHeader and carry an ITK3 OperationOutcome")
@pytest.mark.requirement("MSG-SD-097")
def test_response_link(seen, verify):
    assert seen.outgoing is not None
    for a in answers(verify, seen, responses_only=True):
        verify.rule("MSG-SD-097", "response.identifier is the original MessageHeader.id, its code fits the ITK code "
                                  "and its details are the ITK3 OperationOutcome",
                    lambda a=a: rules.response_link(a.response, seen.outgoing.header_id), exchange=a.exchange)


@pytest.mark.title("Response OperationOutcome severity, issue type and ITK code agree")
@pytest.mark.requirement("MSG-SD-098")
def test_response_outcome(seen, verify):
    for a in answers(verify, seen, responses_only=True):
        verify.rule("MSG-SD-098", "the OperationOutcome's severity and issue type fit its ITK code",
                    lambda a=a: rules.outcome_mapping(a.response), exchange=a.exchange, reading="ISSUE-TYPE")


@pytest.mark.title("Responses carry no patient-identifiable information")
@pytest.mark.requirement("MSG-SD-100")
def test_responses_without_patient_data(seen, test_data, verify):
    p = test_data.patient("registered_verified")
    identifiers = [p.nhs_number, *(n for n in [p.family] if n)]
    for a in answers(verify, seen, responses_only=True):
        verify.rule("MSG-SD-100", "the response holds no Patient and none of the patient's identifiers or names",
                    lambda a=a: rules.no_patient_data(a.response, identifiers), exchange=a.exchange,
                    reading="PID-ACTOR")
