"""The negative matrix: copies of a valid document each changed in one way (or sent for a patient the
practice does not hold). Each gets the code the ITK3 code list has for the problem, a negative response
explains itself, and nothing follows a negative response."""

from __future__ import annotations

import pytest

from gpc_assure.checks import itk3 as rules
from gpc_assure.messaging.cases import NEGATIVE_CASES, Case, baseline, exchange, oversized_pdf, patient_details
from gpc_assure.outcomes import NotApplicable


def _params():
    for case in NEGATIVE_CASES:
        marks = [pytest.mark.requirement(case.requirement, "MSG-SD-073", "MSG-SD-095")]
        if case.versions:
            marks.append(pytest.mark.send_document_version(*case.versions))
        yield pytest.param(case, case.what, id=case.name, marks=marks)


@pytest.mark.title("Receiver: {what}")
@pytest.mark.parametrize(("case", "what"), list(_params()))
def test_negative_case(case: Case, what, mesh, mesh_setup, test_data, verify, cite):
    pdf = None
    if case.oversized:
        if not mesh_setup.max_attachment_bytes:
            raise NotApplicable(msg="the target declares no attachment size limit ([mesh] max_attachment_bytes)")
        pdf = oversized_pdf(mesh_setup.max_attachment_bytes)
    patient = patient_details(test_data.patient(case.patient_role))
    outgoing = baseline(mesh_setup, patient, pdf=pdf)
    body = case.mutate(outgoing, mesh_setup) if case.mutate else None
    got = exchange(mesh, mesh_setup, outgoing, body=body, label=f"suite: send the '{case.name}' case to the receiver")
    cite(got.sent.exchange)
    for a in got.arrivals:
        cite(a.exchange)
    responses = got.responses
    bound = f"{mesh_setup.ack_wait_s:g} s"
    rid = case.requirement
    if case.business is None:
        inf = [r for r in responses if not r.business]
        want = " or ".join(case.infrastructure)
        if not inf:
            verify.finding(rid, f"no infrastructure response arrived in {bound}; expected {want}",
                           reading="ITK-CODE-CHOICE" if rid == "MSG-SD-072" else None, exchange=got.sent.exchange)
        elif inf[0].itk_code not in case.infrastructure:
            verify.finding(rid, f"answered {inf[0].describe()}, expected {want}",
                           reading="ITK-CODE-CHOICE" if rid == "MSG-SD-072" else None)
    else:
        bus = [r for r in responses if r.business]
        if not bus:
            verify.finding(rid, f"no business response arrived in {bound}; expected {case.business}",
                           exchange=got.sent.exchange)
        elif bus[0].itk_code != case.business:
            verify.finding(rid, f"the business response is {bus[0].describe()}, expected {case.business}")
    if case.name == "unreadable":
        for a in got.arrivals:
            for p in rules.ack_addressed(a.mailbox, mesh_setup.primary, "the mailbox the unreadable message came from"):
                verify.finding(rid, p, exchange=a.exchange)
        for r in responses:
            for p in rules.unreadable_link(r):
                verify.finding(rid, p)
    for r in responses:
        for p in rules.diagnostics(r):
            verify.finding("MSG-SD-073", p)
    for p in rules.negative_is_final(responses):
        verify.finding("MSG-SD-095", p, exchange=got.sent.exchange)
