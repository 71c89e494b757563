"""The negative matrix: copies of a valid document each changed in one way (or sent for a patient the
practice does not hold). Each gets the code the ITK3 code list has for the problem, a negative response
explains itself, and nothing follows a negative response.

A case that gets no answer fails the case's own requirement (the receiver did not answer it with the
code due); the rules about negative responses (MSG-SD-073, MSG-SD-095) are then not judged, naming the
case's requirement as the cause: they are judged only on negative responses that arrived.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import itk3 as rules
from gpc_assure.messaging import itk3
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
    answered = [a for a in got.arrivals if a.response is not None]
    bound = f"{mesh_setup.ack_wait_s:g} s"
    rid = case.requirement
    reading = "ITK-CODE-CHOICE" if rid == "MSG-SD-072" else None
    if case.business is None:
        inf = [a for a in answered if not a.response.business]
        want = " or ".join(case.infrastructure)
        if not inf:
            verify.finding(rid, f"no infrastructure response arrived in {bound}; expected {want}", reading=reading,
                           exchange=got.sent.exchange)
        else:
            first = inf[0].response
            verify.that(first.itk_code in case.infrastructure, rid, f"answered {first.describe()}, expected {want}",
                        held=f"answered {first.describe()}, the code the ITK3 code list has for this problem",
                        reading=reading, exchange=inf[0].exchange)
    else:
        bus = [a for a in answered if a.response.business]
        if not bus:
            verify.finding(rid, f"no business response arrived in {bound}; expected {case.business}",
                           exchange=got.sent.exchange)
        else:
            first = bus[0].response
            verify.that(first.itk_code == case.business, rid,
                        f"the business response is {first.describe()}, expected {case.business}",
                        held=f"the business response is {first.describe()}", exchange=bus[0].exchange)
    if case.name == "unreadable":
        for a in got.arrivals:
            if a.message.message_type != "DATA":
                continue
            verify.rule(rid, "the answer went to the mailbox the unreadable message came from",
                        lambda a=a: rules.ack_addressed(a.mailbox, mesh_setup.primary,
                                                        "the mailbox the unreadable message came from"),
                        exchange=a.exchange)
        for a in answered:
            verify.rule(rid, f"the answer says the original could not be read (response.identifier "
                             f"{itk3.UNREADABLE})", lambda a=a: rules.unreadable_link(a.response),
                        exchange=a.exchange)
    if not answered:
        verify.stop(f"no ITK3 response arrived in {bound}: nothing to judge a negative response on", cause=rid)
    for a in answered:
        verify.rule("MSG-SD-073", "the negative response explains the error in issue.diagnostics",
                    lambda a=a: rules.diagnostics(a.response), exchange=a.exchange)
    responses = [a.response for a in answered]
    verify.rule("MSG-SD-095", "nothing followed the negative response", lambda: rules.negative_is_final(responses),
                exchange=got.sent.exchange)
