"""How the sender under test uses MESH: the document arrives, as the FHIR message itself, with the
version's workflow ID, demographic routing, subject and local ID; and its MESH requests are well formed.

The metadata rules judge a message that reads as FHIR: when nothing arrived, or the body is not a FHIR
message, they are not judged (cause MSG-SD-001 or MSG-SD-002), never met on nothing.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.messaging.practice import arrived, not_a_message, readable
from gpc_assure.outcomes import NotApplicable


@pytest.mark.title("The sender's document reaches the practice's MESH inbox within the bound")
@pytest.mark.requirement("MSG-SD-001")
def test_document_arrives(document, mesh_setup, verify):
    a = document.arrival
    if a is None:
        how = "" if mesh_setup.trigger else " (the target gives no trigger_command: a person must make it send then)"
        if document.trigger is not None:
            how = f"; {document.trigger.describe()}"
        boxes = ", ".join(mesh_setup.suite_mailboxes)
        verify.finding("MSG-SD-001", f"nothing arrived in the suite's mailboxes ({boxes}) in {document.waited_s:.1f} s "
                                     f"after the system under test was asked to send{how}",
                       reading="DOCUMENT-ARRIVES", exchange=document.trigger_exchange)
        return
    why = not_a_message(a)
    if why is not None:
        # Something arrived, but nothing shows it is the document: judged by MSG-SD-002.
        verify.not_judged("MSG-SD-001", f"a message arrived in mailbox {a.mailbox}, but {why}, so it cannot be told "
                                        "to be the document", cause="MSG-SD-002", exchange=a.exchange)
        return
    verify.met("MSG-SD-001", f"a FHIR message Bundle reached mailbox {a.mailbox} "
                             f"{document.waited_s:.1f} s after the sender was asked to send", exchange=a.exchange,
               reading="DOCUMENT-ARRIVES")


@pytest.mark.title("The MESH message body is the ITK3 FHIR message itself")
@pytest.mark.requirement("MSG-SD-002")
def test_body_is_fhir_message(document, verify):
    a = arrived(verify, document)
    verify.rule("MSG-SD-002", "the MESH body is the FHIR message Bundle, in the format its content type names",
                lambda: mesh_rules.body_is_message(a.message.headers, a.message.body), exchange=a.exchange)


@pytest.mark.title("Mex-WorkflowID is the spec version's document workflow")
@pytest.mark.requirement("MSG-SD-003")
def test_workflow_id(document, mesh_setup, verify):
    readable(verify, document)
    verify.rule("MSG-SD-003", f"Mex-WorkflowID is {mesh_setup.document_workflow}",
                lambda: mesh_rules.workflow(document.headers, mesh_setup.spec, mesh_setup.document_workflow),
                exchange=document.arrival.exchange, reading="SD-C01")


@pytest.mark.title("Mex-To is MESH's demographic routing address (GPPROVIDER_...)")
@pytest.mark.requirement("MSG-SD-004")
def test_demographic_routing(document, verify):
    readable(verify, document)
    verify.rule("MSG-SD-004", "Mex-To is a GPPROVIDER_<NHS number>_<DDMMYYYY>_<surname> routing address",
                lambda: mesh_rules.demographic_address(document.headers), exchange=document.arrival.exchange)


@pytest.mark.title("Mex-To names the document's patient")
@pytest.mark.requirement("MSG-SD-005")
def test_address_matches_patient(document, verify):
    message = readable(verify, document)
    verify.rule("MSG-SD-005", "the NHS number, birth date and surname in Mex-To are the Patient's",
                lambda: mesh_rules.address_matches_patient(document.headers, message),
                exchange=document.arrival.exchange)


@pytest.mark.title("Mex-Subject follows the version's template")
@pytest.mark.requirement("MSG-SD-006")
def test_subject(document, mesh_setup, verify):
    message = readable(verify, document)
    verify.rule("MSG-SD-006", f"Mex-Subject follows the {mesh_setup.spec.version} template, naming this patient "
                              "and sender", lambda: mesh_rules.subject(document.headers, message, mesh_setup.spec),
                exchange=document.arrival.exchange, reading="SD-C09")


@pytest.mark.title("Mex-LocalID is the sending organisation's ODS code")
@pytest.mark.requirement("MSG-SD-007")
def test_local_id(document, verify):
    message = readable(verify, document)
    verify.rule("MSG-SD-007", "Mex-LocalID is the sending organisation's ODS code",
                lambda: mesh_rules.local_id(document.headers, message), exchange=document.arrival.exchange)


def _records(mesh_setup):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="the request log exists only with the built-in mesh-sandbox; a real MESH does not "
                                "show the suite what the sender sent it")
    return mesh_setup.sandbox.captured()


@pytest.mark.title("A Mex-From the sender sends is its own mailbox")
@pytest.mark.requirement("MSG-SD-008")
def test_mex_from(document, mesh_setup, verify):
    records = _records(mesh_setup)
    arrived(verify, document)
    verify.rule("MSG-SD-008", "every Mex-From the sender sent names its own mailbox",
                lambda: mesh_rules.mex_from(records, mesh_setup.sut_sender_mailbox), reading="SD-C13")


@pytest.mark.title("The sender's MESH requests carry fresh, well-formed authorisation tokens")
@pytest.mark.requirement("MSG-SD-009-S")
def test_sender_tokens(document, mesh_setup, verify):
    records = _records(mesh_setup)
    arrived(verify, document)
    verify.rule("MSG-SD-009-S", "every request the sender made carries a fresh NHSMESH token for its own mailbox",
                lambda: mesh_rules.tokens(records, mesh_setup.sut_sender_mailbox), reading="MESH-TOKEN")
