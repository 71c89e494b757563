"""How the sender under test uses MESH: the document arrives, as the FHIR message itself, with the
version's workflow ID, demographic routing, subject and local ID; and its MESH requests are well formed."""

from __future__ import annotations

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.outcomes import NotApplicable


def _arrival(document):
    if document.arrival is None:
        pytest.skip(document.missing())
    return document.arrival


def _judge(verify, requirement, problems, exchange=None, reading=None):
    for p in problems:
        verify.finding(requirement, p, reading=reading, exchange=exchange)


@pytest.mark.title("The sender's document reaches the practice's MESH inbox within the bound")
@pytest.mark.requirement("MSG-SD-001")
def test_document_arrives(document, mesh_setup, verify):
    how = "" if mesh_setup.trigger else " (the target gives no trigger_command: a person must make it send then)"
    verify.that(document.arrival is not None, "MSG-SD-001",
                f"nothing arrived in the suite's mailboxes ({', '.join(mesh_setup.suite_mailboxes)}) in "
                f"{document.waited_s:.1f} s after the system under test was asked to send{how}")


@pytest.mark.title("The MESH message body is the ITK3 FHIR message itself")
@pytest.mark.requirement("MSG-SD-002")
def test_body_is_fhir_message(document, verify):
    a = _arrival(document)
    _judge(verify, "MSG-SD-002", mesh_rules.body_is_message(a.message.headers, a.message.body), a.exchange)


@pytest.mark.title("Mex-WorkflowID is the spec version's document workflow")
@pytest.mark.requirement("MSG-SD-003")
def test_workflow_id(document, mesh_setup, verify):
    a = _arrival(document)
    _judge(verify, "MSG-SD-003", mesh_rules.workflow(a.message.headers, mesh_setup.spec, mesh_setup.document_workflow),
           a.exchange, "SD-C01")


@pytest.mark.title("Mex-To is MESH's demographic routing address (GPPROVIDER_...)")
@pytest.mark.requirement("MSG-SD-004")
def test_demographic_routing(document, verify):
    a = _arrival(document)
    _judge(verify, "MSG-SD-004", mesh_rules.demographic_address(a.message.headers), a.exchange)


@pytest.mark.title("Mex-To names the document's patient")
@pytest.mark.requirement("MSG-SD-005")
def test_address_matches_patient(document, message, verify):
    _judge(verify, "MSG-SD-005", mesh_rules.address_matches_patient(document.headers, message),
           document.arrival.exchange)


@pytest.mark.title("Mex-Subject follows the version's template")
@pytest.mark.requirement("MSG-SD-006")
def test_subject(document, message, mesh_setup, verify):
    _judge(verify, "MSG-SD-006", mesh_rules.subject(document.headers, message, mesh_setup.spec),
           document.arrival.exchange, "SD-C09")


@pytest.mark.title("Mex-LocalID is the sending organisation's ODS code")
@pytest.mark.requirement("MSG-SD-007")
def test_local_id(document, message, verify):
    _judge(verify, "MSG-SD-007", mesh_rules.local_id(document.headers, message), document.arrival.exchange)


def _records(mesh_setup):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="the request log exists only with the built-in mesh-sandbox; a real MESH does not "
                                "show the suite what the sender sent it")
    return mesh_setup.sandbox.captured()


@pytest.mark.title("A Mex-From the sender sends is its own mailbox")
@pytest.mark.requirement("MSG-SD-008")
def test_mex_from(document, mesh_setup, verify):
    _arrival(document)
    _judge(verify, "MSG-SD-008", mesh_rules.mex_from(_records(mesh_setup), mesh_setup.sut_sender_mailbox),
           reading="SD-C13")


@pytest.mark.title("The sender's MESH requests carry fresh, well-formed authorisation tokens")
@pytest.mark.requirement("MSG-SD-009-S")
def test_sender_tokens(document, mesh_setup, verify):
    records = _records(mesh_setup)
    if not mesh_rules.requests_of(records, mesh_setup.sut_sender_mailbox):
        pytest.skip(f"the sandbox logged no request from mailbox {mesh_setup.sut_sender_mailbox}")
    _judge(verify, "MSG-SD-009-S", mesh_rules.tokens(records, mesh_setup.sut_sender_mailbox), reading="MESH-TOKEN")
