"""The GP Connect JWT: a conformant claim set, unsigned encoding, and lenient but strict-shaped decoding."""

from __future__ import annotations

import base64
import json

import harness as h
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpc_assure.target import parse_target
from gpc_assure.transport import jwt

NOW = 1_700_000_000
AUDIENCE = "https://provider.example/A20047/STU3/1/gpconnect"


def consumer(**practitioner):
    data = h.target_data(AUDIENCE)
    data["consumer"]["practitioner"] = {**data["consumer"]["practitioner"], **practitioner}
    return parse_target(data).consumer


def test_claims_carry_the_consumer_identity_and_request_context():
    c = consumer()
    claims = jwt.build_claims(c, audience=AUDIENCE, scope="patient/*.read", now=NOW)
    assert claims["iss"] == c.endpoint
    assert claims["sub"] == c.practitioner.id == claims["requesting_practitioner"]["id"]
    assert claims["aud"] == AUDIENCE
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 300)
    assert claims["reason_for_request"] == "directcare"
    assert claims["requested_scope"] == "patient/*.read"
    device = claims["requesting_device"]
    assert device["resourceType"] == "Device"
    assert device["identifier"] == [{"system": c.device.system, "value": c.device.value}]
    assert (device["model"], device["version"]) == (c.device.model, c.device.version)
    org = claims["requesting_organization"]
    assert org["resourceType"] == "Organization" and org["name"] == c.organisation_name
    assert org["identifier"] == [{"system": jwt.ODS_SYSTEM, "value": c.ods_code}]


def test_practitioner_identifiers_and_name():
    pr = jwt.build_claims(consumer(), AUDIENCE, "organization/*.read", now=NOW)["requesting_practitioner"]
    assert pr["resourceType"] == "Practitioner"
    systems = [i["system"] for i in pr["identifier"]]
    assert systems == [jwt.SDS_USER_SYSTEM, jwt.SDS_ROLE_SYSTEM, jwt.LOCAL_USER_SYSTEM]
    assert pr["name"] == [{"family": "Assurance", "given": ["Alex"], "prefix": ["Dr"]}]


def test_optional_practitioner_parts_are_left_out_not_empty():
    pr = jwt.build_claims(consumer(sds_role_profile_id=None, local_user_id=None, given=[], prefix=[]),
                          AUDIENCE, "patient/*.read", now=NOW)["requesting_practitioner"]
    assert [i["system"] for i in pr["identifier"]] == [jwt.SDS_USER_SYSTEM]
    assert pr["name"] == [{"family": "Assurance"}]


def test_claims_default_to_the_current_time(monkeypatch):
    monkeypatch.setattr(jwt.time, "time", lambda: NOW + 0.9)
    claims = jwt.build_claims(consumer(), AUDIENCE, "patient/*.read")
    assert claims["iat"] == NOW and claims["exp"] == NOW + jwt.LIFETIME_S


def test_encoded_token_is_unsigned_unpadded_base64url():
    token = jwt.encode({"iss": "x", "name": "ÿ?>~"})
    head, payload, signature = token.split(".")
    assert signature == ""
    assert not set(head + payload) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))) == {"alg": "none", "typ": "JWT"}


def test_encode_takes_any_header_for_security_tests():
    token = jwt.encode({"a": 1}, header={"alg": "RS256"})
    assert jwt.decode(token).header == {"alg": "RS256"}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10)


@given(st.dictionaries(st.text(max_size=10), JSON, max_size=6))
def test_encode_decode_round_trip(claims):
    decoded = jwt.decode(jwt.encode(claims))
    assert decoded.claims == claims
    assert decoded.header == jwt.HEADER
    assert decoded.signature == ""


def test_decode_keeps_a_signature():
    token = jwt.encode({"a": 1}) + "c2ln"
    assert jwt.decode(token).signature == "c2ln"


def _part(value: object) -> str:
    return jwt.b64url(json.dumps(value).encode())


PADDED = base64.urlsafe_b64encode(b'{"a": 1}').decode()  # base64 with its '=' padding kept
PLUS_SLASH = base64.b64encode(b'{"a": "\xfb\xff"}').decode().rstrip("=")  # standard alphabet, not URL-safe


@pytest.mark.parametrize(("token", "reason"), [
    ("", "expected 3 dot-separated parts, found 1"),
    ("abc", "expected 3 dot-separated parts, found 1"),
    (f"{_part({})}.{_part({})}", "found 2"),
    (f"{_part({})}.{_part({})}..", "found 4"),
    (f".{_part({})}.", "unpadded base64url"),
    (f"{_part({})}..", "unpadded base64url"),
    (f"{_part({})}.{PADDED}.", "unpadded base64url"),
    (f"{_part({})}.{PLUS_SLASH}.", "unpadded base64url"),
    (f"{_part({})}.{jwt.b64url(b'not json')}.", "not base64url-encoded JSON"),
    (f"{_part({})}.{jwt.b64url(bytes([0xff, 0xfe]))}.", "not base64url-encoded JSON"),
    (f"{_part({})}.{_part([1, 2])}.", "must be JSON objects"),
    (f"{_part('alg')}.{_part({})}.", "must be JSON objects"),
    (f"{_part({})}.{'*' * 8}.", "not base64url-encoded JSON"),
])
def test_malformed_tokens_are_rejected_with_a_reason(token, reason):
    with pytest.raises(jwt.JwtFormatError, match=reason.replace("(", r"\(")):
        jwt.decode(token)


@pytest.mark.parametrize("length", range(0, 8))
def test_b64url_round_trip_for_every_padding(length):
    data = bytes(range(250, 250 - length, -1))
    assert jwt.b64url_decode(jwt.b64url(data)) == data
    assert "=" not in jwt.b64url(data)
