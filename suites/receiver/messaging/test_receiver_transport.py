"""How the receiver uses MESH: the legacy workflow, duplicates, and its authorisation tokens."""

from __future__ import annotations

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.messaging import itk3
from gpc_assure.messaging.cases import ANSWERED, baseline, exchange, patient_details
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
    answered = [a for a in got.arrivals if a.response is not None]
    if not answered:
        verify.finding("MSG-SD-070", f"nothing answered the document sent on {legacy} in "
                                     f"{mesh_setup.ack_wait_s:g} s", reading="SD-C01", exchange=got.sent.exchange)
        return
    refused = [a for a in answered if not a.response.positive and not a.response.business]
    for a in refused:
        verify.finding("MSG-SD-070", f"the document sent on {legacy} was refused: {a.response.describe()}",
                       reading="SD-C01", exchange=a.exchange)
    accepted = next((a for a in answered if a.response.itk_code == itk3.INF_SUCCESS), None)
    if not refused and accepted is not None:
        verify.met("MSG-SD-070", f"the document sent on {legacy} was accepted ({accepted.response.describe()})",
                   exchange=accepted.exchange, reading="SD-C01")
    elif not refused:
        codes = ", ".join(a.response.describe() for a in answered)
        verify.not_judged("MSG-SD-070", f"the answers to the document sent on {legacy} ({codes}) include no "
                                        "infrastructure response saying whether it was accepted", cause=ANSWERED,
                          exchange=got.sent.exchange)


@pytest.mark.title("The same message received twice is answered 20007 and not processed again")
@pytest.mark.requirement("MSG-SD-076")
def test_duplicate_message(mesh, mesh_setup, test_data, verify, cite):
    patient = patient_details(test_data.patient("registered_verified"))
    outgoing = baseline(mesh_setup, patient)
    first = exchange(mesh, mesh_setup, outgoing, label="suite: send a valid document")
    for a in first.arrivals:
        cite(a.exchange)
    cite(first.sent.exchange)
    accepted = [r for r in first.responses if r.itk_code == itk3.INF_SUCCESS]
    if not accepted:
        # Only a message accepted once can be received again; not accepting a valid one is MSG-SD-093's finding.
        got = ", ".join(r.describe() for r in first.responses) or "nothing"
        verify.stop(f"the first copy of the message was not accepted with 20013 (it got {got}), so a second copy "
                    "is not a repeat of an accepted message", cause=ANSWERED)
    again = exchange(mesh, mesh_setup, outgoing, body=outgoing.body(), label="suite: send the same message again")
    cite(again.sent.exchange)
    for a in again.arrivals:
        cite(a.exchange)
    inf = [a for a in again.arrivals if a.response is not None and not a.response.business]
    if not inf:
        verify.finding("MSG-SD-076", f"nothing answered the repeated message in {mesh_setup.ack_wait_s:g} s; "
                                     "expected 20007", exchange=again.sent.exchange)
        return
    verify.that(inf[0].response.itk_code == "20007", "MSG-SD-076",
                f"the repeated message was answered {inf[0].response.describe()}, expected 20007 (duplicate message)",
                held="the repeated message was answered 20007 (duplicate message)", exchange=inf[0].exchange)


@pytest.mark.title("The receiver's MESH requests carry fresh, well-formed authorisation tokens")
@pytest.mark.requirement("MSG-SD-009-R")
def test_receiver_tokens(mesh_setup, verify):
    if mesh_setup.sandbox is None:
        raise NotApplicable(msg="the request log exists only with the built-in mesh-sandbox; a real MESH checks "
                                "tokens itself")
    records = mesh_setup.sandbox.captured()
    verify.rule("MSG-SD-009-R", "every request the receiver made carries a fresh NHSMESH token for its own mailbox",
                lambda: mesh_rules.tokens(records, mesh_setup.sut_receiver_mailbox), reading="MESH-TOKEN")
