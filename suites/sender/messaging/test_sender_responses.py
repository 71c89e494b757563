"""What the sender under test does with what comes back: ITK3 responses (positive and negative) and MESH
error reports are collected and acknowledged in MESH."""

from __future__ import annotations

import pytest

from gpc_assure.messaging import itk3
from gpc_assure.messaging.practice import arrived, readable, respond
from gpc_assure.outcomes import NotApplicable


def _judge_collected(mesh, sent, verify, requirement: str, what: str, reading: str | None = None,
                     via_admin: bool = False) -> None:
    """For each message the suite put into the sender's inbox: MESH shows it acknowledged within the bound."""
    for message_id, mailbox in sent:
        status, waited, last = mesh.wait_status(message_id, mailbox=mailbox, via_admin=via_admin)
        if status is None:
            verify.not_judged(requirement, f"MESH could not say whether {what} {message_id} was collected",
                              exchange=last)
            continue
        verify.that(status == "acknowledged", requirement,
                    f"the sender had not collected {what} {message_id} {waited:.1f} s after it was sent (MESH "
                    f"status '{status}')", held=f"the sender collected and acknowledged {what} in MESH",
                    reading=reading, exchange=last)


@pytest.mark.title("The sender collects and acknowledges positive responses (20013, 30001)")
@pytest.mark.requirement("MSG-SD-101")
def test_sender_collects_positive_responses(document, mesh, mesh_setup, verify):
    readable(verify, document)
    sent = respond(mesh, mesh_setup, document.arrival, [itk3.INF_SUCCESS, itk3.BUS_SUCCESS])
    _judge_collected(mesh, [(s.message_id, s.mailbox) for s in sent], verify, "MSG-SD-101", "the ITK3 response")


@pytest.mark.title("The sender collects and acknowledges a negative response (20009)")
@pytest.mark.requirement("MSG-SD-101")
def test_sender_collects_negative_response(replacement, mesh, mesh_setup, verify):
    readable(verify, replacement)
    sent = respond(mesh, mesh_setup, replacement.arrival, ["20009"])
    _judge_collected(mesh, [(s.message_id, s.mailbox) for s in sent], verify, "MSG-SD-101",
                     "the negative ITK3 response")


@pytest.mark.title("The sender collects and acknowledges a MESH error report about its message")
@pytest.mark.requirement("MSG-SD-011")
def test_sender_collects_mesh_report(document, mesh, mesh_setup, verify):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="only the built-in mesh-sandbox can put a MESH error report into the sender's mailbox")
    a = arrived(verify, document)
    admin = mesh_setup.sandbox.admin([mesh.recorder])
    try:
        report_id, ex = admin.inject_report(
            mesh_setup.sut_sender_mailbox, "EPL-153", "gpc-assure test report: the message could not be routed",
            a.message.workflow_id or mesh_setup.document_workflow,
            linked_message_id=a.message.message_id, local_id=document.headers.get("mex-localid"))
    finally:
        admin.close()
    if report_id is None:
        verify.stop(f"the sandbox did not accept the MESH error report the suite injects: {ex.describe()}")
    _judge_collected(mesh, [(report_id, None)], verify, "MSG-SD-011", "the MESH error report", reading="MESH-REPORT",
                     via_admin=True)
