"""How the receiver uses MESH: the legacy workflow, duplicates, and its authorisation tokens."""

from __future__ import annotations

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.messaging.cases import baseline, exchange, patient_details
from gpc_assure.outcomes import NotApplicable


@pytest.mark.title("A v2 receiver still accepts documents on the legacy GPFED_CONSULT_REPORT workflow")
@pytest.mark.requirement("MSG-SD-070")
@pytest.mark.send_document_version("v2")
def test_legacy_workflow_accepted(mesh, mesh_setup, test_data, verify, cite):
    patient = patient_details(test_data.patient("registered_verified"))
    legacy = mesh_setup.spec.legacy_workflow_ids[0]
    got = exchange(mesh, mesh_setup, baseline(mesh_setup, patient), workflow_id=legacy,
                   label=f"suite: send a valid document on the legacy workflow {legacy}")
    cite(got.sent.exchange)
    for a in got.arrivals:
        cite(a.exchange)
    responses = got.responses
    if not responses:
        verify.finding("MSG-SD-070", f"nothing answered the document sent on {legacy} in "
                                     f"{mesh_setup.ack_wait_s:g} s", reading="SD-C01", exchange=got.sent.exchange)
    for r in responses:
        if not r.positive and not r.business:
            verify.finding("MSG-SD-070", f"the document sent on {legacy} was refused: {r.describe()}",
                           reading="SD-C01")


@pytest.mark.title("The same message received twice is answered 20007 and not processed again")
@pytest.mark.requirement("MSG-SD-076")
def test_duplicate_message(mesh, mesh_setup, test_data, verify, cite):
    patient = patient_details(test_data.patient("registered_verified"))
    outgoing = baseline(mesh_setup, patient)
    first = exchange(mesh, mesh_setup, outgoing, label="suite: send a valid document")
    again = exchange(mesh, mesh_setup, outgoing, body=outgoing.body(), label="suite: send the same message again")
    for got in (first, again):
        cite(got.sent.exchange)
        for a in got.arrivals:
            cite(a.exchange)
    inf = [r for r in again.responses if not r.business]
    if not inf:
        verify.finding("MSG-SD-076", f"nothing answered the repeated message in {mesh_setup.ack_wait_s:g} s; "
                                     "expected 20007", exchange=again.sent.exchange)
    elif inf[0].itk_code != "20007":
        verify.finding("MSG-SD-076", f"the repeated message was answered {inf[0].describe()}, expected 20007 "
                                     "(duplicate message)")


@pytest.mark.title("The receiver's MESH requests carry fresh, well-formed authorisation tokens")
@pytest.mark.requirement("MSG-SD-009-R")
def test_receiver_tokens(mesh_setup, verify):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="the request log exists only with the built-in mesh-sandbox; a real MESH checks "
                                "tokens itself")
    records = mesh_setup.sandbox.captured()
    mine = mesh_rules.requests_of(records, mesh_setup.sut_receiver_mailbox)
    if not mine:
        verify.finding("MSG-SD-009-R", f"the sandbox logged no request from mailbox {mesh_setup.sut_receiver_mailbox}")
    for p in mesh_rules.tokens(records, mesh_setup.sut_receiver_mailbox):
        verify.finding("MSG-SD-009-R", p, reading="MESH-TOKEN")
