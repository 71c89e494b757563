"""What the sender under test does with what comes back: ITK3 responses (positive and negative) and MESH
error reports are collected and acknowledged in MESH."""

from __future__ import annotations

import pytest

from gpc_assure.messaging import itk3
from gpc_assure.messaging.practice import respond
from gpc_assure.outcomes import NotApplicable


def _wait_collected(mesh, sent, verify, requirement: str, what: str) -> None:
    for s in sent:
        status, waited, last = mesh.wait_status(s.message_id, mailbox=s.mailbox)
        verify.that(status == "acknowledged", requirement,
                    f"the sender had not collected {what} {s.message_id} {waited:.1f} s after it was sent "
                    f"(MESH status {status!r})", exchange=last)


@pytest.mark.title("The sender collects and acknowledges positive responses (20013, 30001)")
@pytest.mark.requirement("MSG-SD-101")
def test_sender_collects_positive_responses(document, message, mesh, mesh_setup, verify):
    sent = respond(mesh, mesh_setup, document.arrival, [itk3.INF_SUCCESS, itk3.BUS_SUCCESS])
    _wait_collected(mesh, sent, verify, "MSG-SD-101", "the ITK3 response")


@pytest.mark.title("The sender collects and acknowledges a negative response (20009)")
@pytest.mark.requirement("MSG-SD-101")
def test_sender_collects_negative_response(replacement_document, mesh, mesh_setup, verify, cite):
    why = replacement_document.missing()
    if why:
        pytest.skip(why)
    cite(replacement_document.arrival.exchange)
    sent = respond(mesh, mesh_setup, replacement_document.arrival, ["20009"])
    _wait_collected(mesh, sent, verify, "MSG-SD-101", "the negative ITK3 response")


@pytest.mark.title("The sender collects and acknowledges a MESH error report about its message")
@pytest.mark.requirement("MSG-SD-011")
def test_sender_collects_mesh_report(document, mesh, mesh_setup, verify):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="only the built-in mesh-sandbox can put a MESH error report into the sender's mailbox")
    if document.arrival is None:
        pytest.skip(document.missing())
    admin = mesh_setup.sandbox.admin([mesh.recorder])
    try:
        report_id, ex = admin.inject_report(
            mesh_setup.sut_sender_mailbox, "EPL-153", "gpc-assure test report: the message could not be routed",
            document.arrival.message.workflow_id or mesh_setup.document_workflow,
            linked_message_id=document.arrival.message.message_id, local_id=document.headers.get("mex-localid"))
    finally:
        admin.close()
    if report_id is None:
        pytest.fail(f"the sandbox did not accept the report: {ex.describe()}")
    status, waited, last = mesh.wait_status(report_id, via_admin=True)
    verify.that(status == "acknowledged", "MSG-SD-011",
                f"the sender had not collected the MESH error report {report_id} {waited:.1f} s after it arrived "
                f"(status {status!r})", reading="MESH-REPORT", exchange=last)
