"""Consumer: the audit JWT on every GP Connect request the consumer sent.

Every request to the GP Connect simulator is judged, whatever scenario or step it came in. A request
without a token leaves these claim rules not judged (the test of Authorization, GEN-HDR-005, is the
one that fails), so a consumer that sends no token meets none of them.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_headers as h


def _judge(consumer, verify, rule, requirement, reading=None):
    check = h.per_call(rule, requirement, reading)
    for c in consumer.gp_connect_calls():
        verify(c, check)


@pytest.mark.title("A new token is made for each request")
@pytest.mark.requirement("JWT-001")
def test_new_token_per_request(consumer, verify):
    _judge(consumer, verify, h.fresh, "JWT-001", reading="JWT-NEW: iat within 30 s of arrival")


@pytest.mark.title("The token is an unsecured JWT (alg none, empty signature, unpadded base64url)")
@pytest.mark.requirement("JWT-002c")
def test_unsecured_form(consumer, verify):
    _judge(consumer, verify, h.unsecured, "JWT-002c")


@pytest.mark.title("iss is the consumer's Spine endpoint")
@pytest.mark.requirement("JWT-003")
def test_iss(consumer, verify):
    _judge(consumer, verify, h.issuer(consumer.identity.endpoint), "JWT-003")


@pytest.mark.title("sub equals requesting_practitioner.id")
@pytest.mark.requirement("JWT-004")
def test_sub(consumer, verify):
    _judge(consumer, verify, h.subject, "JWT-004")


@pytest.mark.title("aud is the provider's service root")
@pytest.mark.requirement("JWT-005")
def test_aud(consumer, verify):
    calls = consumer.gp_connect_calls()  # every scenario has run: its service roots are known
    check = h.per_call(h.audience(consumer.service_roots()), "JWT-005",
                       reading="D-01: aud is the provider's service root")
    for c in calls:
        verify(c, check)


@pytest.mark.title("exp is iat + 300, both integers")
@pytest.mark.requirement("JWT-006c")
def test_lifetime(consumer, verify):
    _judge(consumer, verify, h.lifetime, "JWT-006c")


@pytest.mark.title("reason_for_request is directcare")
@pytest.mark.requirement("JWT-009c")
def test_reason(consumer, verify):
    _judge(consumer, verify, h.reason, "JWT-009c")


@pytest.mark.title("requested_scope is the scope of the interaction")
@pytest.mark.requirement("JWT-010c")
def test_scope(consumer, verify):
    _judge(consumer, verify, h.scope, "JWT-010c")


@pytest.mark.title("requesting_device is a Device with identifier, model and version")
@pytest.mark.requirement("JWT-011")
def test_device(consumer, verify):
    _judge(consumer, verify, h.device, "JWT-011")


@pytest.mark.title("requesting_organization is the consumer organisation, with its ODS code")
@pytest.mark.requirement("JWT-012")
def test_organisation(consumer, verify):
    _judge(consumer, verify, h.organisation(consumer.identity.ods_code), "JWT-012")


@pytest.mark.title("requesting_practitioner names the user: id, name, SDS user and role profile ids")
@pytest.mark.requirement("JWT-013")
def test_practitioner(consumer, verify):
    _judge(consumer, verify, h.practitioner, "JWT-013")
