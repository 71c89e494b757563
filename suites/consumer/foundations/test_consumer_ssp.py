"""Consumer: the Spine Secure Proxy headers on every GP Connect request the consumer sent.

Every request to the GP Connect simulator is judged, whatever scenario (Foundations, Appointment
Management) or step it came in, and also one that arrived outside every step; a request that
matches no GP Connect interaction is judged too (no Ssp-InteractionID can name it).
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_headers as h
from gpc_assure.consumer.scenarios import FOUNDATIONS


@pytest.mark.title("Every request carries its own Ssp-TraceID, a UUID")
@pytest.mark.requirement("GEN-HDR-001")
def test_trace_id_per_request(consumer, verify):
    calls = consumer.gp_connect_calls()
    for c in calls:
        verify(c, h.per_call(h.trace_id, "GEN-HDR-001"))
    verify.rule("GEN-HDR-001", "no two requests carry the same Ssp-TraceID", lambda: h.repeated_trace_ids(calls))


@pytest.mark.title("Ssp-From is the consumer's own ASID")
@pytest.mark.requirement("GEN-HDR-002")
def test_ssp_from(consumer, verify):
    check = h.per_call(h.ssp_from(consumer.identity.asid), "GEN-HDR-002")
    for c in consumer.gp_connect_calls():
        verify(c, check)


@pytest.mark.title("Ssp-To is the provider's ASID")
@pytest.mark.requirement("GEN-HDR-003")
def test_ssp_to(consumer, verify):
    calls = consumer.gp_connect_calls()
    check = h.per_call(h.ssp_to(consumer.journey(FOUNDATIONS).view.provider.asid), "GEN-HDR-003")
    for c in calls:
        verify(c, check)


@pytest.mark.title("Ssp-InteractionID names the interaction each request performs")
@pytest.mark.requirement("GEN-HDR-004")
def test_interaction_id(consumer, verify):
    for c in consumer.gp_connect_calls():
        verify(c, h.per_call(h.interaction_id, "GEN-HDR-004"))


@pytest.mark.title("Every request carries Authorization: Bearer <JWT>")
@pytest.mark.requirement("GEN-HDR-005")
def test_bearer_token(consumer, verify):
    for c in consumer.gp_connect_calls():
        verify(c, h.per_call(h.bearer, "GEN-HDR-005"))


@pytest.mark.title("Request bodies are UTF-8 with Content-Type charset=utf-8")
@pytest.mark.requirement("GEN-CT-006c")
def test_body_charset(consumer, verify):
    check = h.per_call(h.body_charset, "GEN-CT-006c", reading="D-14: ';charset=utf-8' with no space",
                       name="a request body is UTF-8 and its Content-Type carries ';charset=utf-8'")
    for c in consumer.gp_connect_calls():
        verify(c, check)
