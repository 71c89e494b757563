"""Consumer: the Spine Secure Proxy headers on every GP Connect request of the Foundations journey."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_headers as h
from gpc_assure.consumer.scenarios import FOUNDATIONS
from gpc_assure.transport.interactions import INTERACTIONS


def gpc_calls(consumer):
    return consumer.scenario_calls(FOUNDATIONS, *INTERACTIONS)


@pytest.mark.title("Every request carries its own Ssp-TraceID, a UUID")
@pytest.mark.requirement("GEN-HDR-001")
def test_trace_id_per_request(consumer, verify):
    calls = gpc_calls(consumer)
    for c in calls:
        verify(c, h.per_call(h.trace_id, "GEN-HDR-001"))
    for problem in h.repeated_trace_ids(calls):
        verify.finding("GEN-HDR-001", problem)


@pytest.mark.title("Ssp-From is the consumer's own ASID")
@pytest.mark.requirement("GEN-HDR-002")
def test_ssp_from(consumer, verify):
    for c in gpc_calls(consumer):
        verify(c, h.per_call(h.ssp_from(consumer.identity.asid), "GEN-HDR-002"))


@pytest.mark.title("Ssp-To is the provider's ASID")
@pytest.mark.requirement("GEN-HDR-003")
def test_ssp_to(consumer, verify):
    asid = consumer.journey(FOUNDATIONS).view.provider.asid
    for c in gpc_calls(consumer):
        verify(c, h.per_call(h.ssp_to(asid), "GEN-HDR-003"))


@pytest.mark.title("Ssp-InteractionID names the interaction each request performs")
@pytest.mark.requirement("GEN-HDR-004")
def test_interaction_id(consumer, verify):
    for c in gpc_calls(consumer):
        verify(c, h.per_call(h.interaction_id, "GEN-HDR-004"))


@pytest.mark.title("Every request carries Authorization: Bearer <JWT>")
@pytest.mark.requirement("GEN-HDR-005")
def test_bearer_token(consumer, verify):
    for c in gpc_calls(consumer):
        verify(c, h.per_call(h.bearer, "GEN-HDR-005"))


@pytest.mark.title("Request bodies are UTF-8 with Content-Type charset=utf-8")
@pytest.mark.requirement("GEN-CT-006c")
def test_body_charset(consumer, verify):
    for c in consumer.scenario_calls(FOUNDATIONS, "patient.register"):
        verify(c, h.per_call(h.body_charset, "GEN-CT-006c", reading="D-14: ';charset=utf-8' with no space"))
