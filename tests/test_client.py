"""GpcClient: the request it builds (Ssp headers, JWT, interaction IDs, parameters), every part of it
overridable for negative tests, what it records, and how transport failures read."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlsplit

import harness as h
import httpx
import pytest

from gpc_assure.target import parse_target
from gpc_assure.transport import interactions, jwt
from gpc_assure.transport.client import FHIR_JSON, GpcClient
from gpc_assure.transport.exchange import BodyNotJson

BASE = "https://provider.example/A20047/STU3/1/gpconnect"


class Recorder:
    """A mock transport that keeps every request and answers with a fixed response (or raises)."""

    def __init__(self, status: int = 200, body: bytes = b'{"resourceType": "Bundle"}', headers=None, raises=None):
        self.requests: list[httpx.Request] = []
        self.status, self.body, self.headers, self.raises = status, body, headers or {}, raises

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raises is not None:
            raise self.raises
        return httpx.Response(self.status, content=self.body, headers={"Content-Type": FHIR_JSON, **self.headers})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.fixture
def target():
    return parse_target(h.target_data(BASE))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(target, recorder):
    with GpcClient(target, transport=httpx.MockTransport(recorder)) as c:
        yield c


def token_of(request: httpx.Request) -> jwt.DecodedJwt:
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return jwt.decode(token)


# -- the conformant request --------------------------------------------------------------------------

def test_default_request_carries_ssp_headers_jwt_and_accept(client, recorder, target):
    client.call("patient.read", path_params={"id": "1"})
    r = recorder.last
    assert (r.method, str(r.url)) == ("GET", f"{BASE}/Patient/1")
    uuid.UUID(r.headers["Ssp-TraceID"])
    assert r.headers["Ssp-From"] == target.consumer.asid
    assert r.headers["Ssp-To"] == target.provider.asid
    assert r.headers["Ssp-InteractionID"] == "urn:nhs:names:services:gpconnect:fhir:rest:read:patient-1"
    assert r.headers["Accept"] == FHIR_JSON
    claims = token_of(r).claims
    assert claims["requested_scope"] == "patient/*.read" and claims["aud"] == BASE
    assert "Content-Type" not in r.headers


@pytest.mark.parametrize("name", sorted(interactions.INTERACTIONS))
def test_every_interaction_sends_its_id_verb_and_scope(client, recorder, name):
    i = interactions.get(name)
    client.call(name, path_params={"id": "7"}, body={"resourceType": "Parameters"} if i.method != "GET" else None)
    r = recorder.last
    assert r.method == i.method
    assert r.headers["Ssp-InteractionID"] == interactions.PREFIX + i.suffix
    assert urlsplit(str(r.url)).path == urlsplit(BASE).path + i.path.format(id="7")
    assert token_of(r).claims["requested_scope"] == i.scope
    assert interactions.BY_INTERACTION_ID[r.headers["Ssp-InteractionID"]] is i


def test_interaction_ids_are_unique():
    ids = [i.interaction_id for i in interactions.INTERACTIONS.values()]
    assert len(ids) == len(set(ids))


def test_unknown_interaction_is_a_clear_error(client):
    with pytest.raises(KeyError, match=r"unknown interaction 'patient\.delete'"):
        client.call("patient.delete")


def test_each_request_has_its_own_trace_id(client, recorder):
    client.call("metadata.read")
    client.call("metadata.read")
    first, second = recorder.requests
    assert first.headers["Ssp-TraceID"] != second.headers["Ssp-TraceID"]


def test_json_body_is_sent_with_the_fhir_content_type(client, recorder):
    client.call("patient.register", body={"resourceType": "Parameters", "parameter": []})
    r = recorder.last
    assert r.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert json.loads(r.content) == {"resourceType": "Parameters", "parameter": []}


def test_bytes_body_is_sent_as_is(client, recorder):
    client.call("patient.register", body=b"<Parameters/>", headers={"Content-Type": "application/fhir+xml"})
    assert recorder.last.content == b"<Parameters/>"
    assert recorder.last.headers.get_list("Content-Type") == ["application/fhir+xml"]


# -- overrides for negative tests ----------------------------------------------------------------------

def test_header_override_replaces_whatever_the_case(client, recorder):
    client.call("metadata.read", headers={"ssp-to": "999999999999", "ACCEPT": "application/fhir+xml"})
    r = recorder.last
    assert r.headers.get_list("Ssp-To") == ["999999999999"]
    assert r.headers.get_list("Accept") == ["application/fhir+xml"]


@pytest.mark.parametrize("header", ["Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID", "Authorization",
                                    "accept"])
def test_header_set_to_none_is_removed(client, recorder, header):
    client.call("metadata.read", headers={header: None})
    assert header not in recorder.last.headers


def test_extra_header_is_added(client, recorder):
    client.call("metadata.read", headers={"X-Probe": "1"})
    assert recorder.last.headers["X-Probe"] == "1" and "Ssp-To" in recorder.last.headers


def test_token_replaces_the_jwt(client, recorder):
    client.call("metadata.read", token="not-a-jwt")
    assert recorder.last.headers["Authorization"] == "Bearer not-a-jwt"


def test_claims_are_encoded_as_given(client, recorder):
    claims = client.claims("patient.find", reason_for_request="secondaryuses", aud=...)
    assert "aud" not in claims and claims["reason_for_request"] == "secondaryuses"
    client.call("patient.find", claims=claims)
    assert token_of(recorder.last).claims == claims


def test_token_wins_over_claims(client, recorder):
    client.call("metadata.read", claims={"iss": "x"}, token="explicit")
    assert recorder.last.headers["Authorization"] == "Bearer explicit"


def test_method_and_path_can_be_wrong_on_purpose(client, recorder):
    client.call("patient.read", method="DELETE", path="/Patient/1/_history")
    r = recorder.last
    assert (r.method, str(r.url)) == ("DELETE", f"{BASE}/Patient/1/_history")
    assert r.headers["Ssp-InteractionID"].endswith("rest:read:patient-1"), "the interaction's headers stay"


# -- query parameters ----------------------------------------------------------------------------------

def test_token_parameter_pipe_is_percent_encoded(client, recorder):
    client.call("patient.find", params=[("identifier", "https://fhir.nhs.uk/Id/nhs-number|9000000017")])
    url = str(recorder.last.url)
    assert "identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9000000017" in url
    assert "|" not in url


def test_duplicate_parameters_are_all_sent_in_order(client, recorder):
    client.call("slot.search", params=[("start", "ge2030-01-01"), ("start", "le2030-01-07"), ("status", "free")])
    assert parse_qsl(urlsplit(str(recorder.last.url)).query) == [
        ("start", "ge2030-01-01"), ("start", "le2030-01-07"), ("status", "free")]


def test_mapping_parameters(client, recorder):
    client.call("metadata.read", params={"_format": "application/fhir+xml"})
    assert urlsplit(str(recorder.last.url)).query == "_format=application%2Ffhir%2Bxml"


def test_parameters_merge_with_a_query_in_the_path(client, recorder):
    client.call("organization.find", path="/Organization?identifier=a", params=[("identifier", "b")])
    assert parse_qsl(urlsplit(str(recorder.last.url)).query) == [("identifier", "a"), ("identifier", "b")]


# -- what is recorded --------------------------------------------------------------------------------

def test_exchange_records_exactly_what_was_sent_and_received(target):
    rec = Recorder(status=201, body=b'{"resourceType": "Patient", "id": "9"}', headers={"ETag": 'W/"1"'})
    seen = []
    with GpcClient(target, observers=[seen.append], transport=httpx.MockTransport(rec)) as client:
        ex = client.call("patient.register", body={"resourceType": "Parameters"}, label="register")
    assert seen == [ex]
    sent = rec.last
    assert ex.interaction == "patient.register" and ex.label == "register"
    assert ex.request.method == "POST" and ex.request.url == str(sent.url)
    assert ex.request.header("authorization") == sent.headers["Authorization"]
    assert ex.request.body == sent.content
    assert ex.status == 201 and ex.response is not None and ex.response.header("etag") == 'W/"1"'
    assert ex.json == {"resourceType": "Patient", "id": "9"}
    assert ex.error is None and ex.elapsed_s >= 0
    assert ex.describe() == f"POST {sent.url} -> HTTP 201"


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty"), (b"\xff\xfe", "not UTF-8"), (b"<Bundle/>", "not JSON"), (b"[" * 5000, "nested too deeply"),
])
def test_body_that_is_not_json_gives_a_reason(target, body, reason):
    with GpcClient(target, transport=httpx.MockTransport(Recorder(body=body))) as client:
        ex = client.call("metadata.read")
    with pytest.raises(BodyNotJson, match=reason):
        _ = ex.json


def test_body_over_the_cap_is_cut_and_flagged(target):
    cap = target.timeouts.max_body_bytes
    with GpcClient(target, transport=httpx.MockTransport(Recorder(body=b" " * (cap + 1)))) as client:
        ex = client.call("metadata.read")
    assert ex.response is not None and ex.response.truncated and len(ex.response.body) <= cap
    assert ex.error and "limit" in ex.error


# -- transport failures read as reasons --------------------------------------------------------------

@pytest.mark.parametrize(("raised", "reason"), [
    (httpx.ConnectTimeout("t"), "could not connect within 1 s (timeouts.connect_s)"),
    (httpx.ReadTimeout("t"), "the target sent nothing for 1 s (timeouts.read_s)"),
    (httpx.WriteTimeout("t"), "did not take the request within 1 s"),
    (httpx.ConnectError("[Errno 111] Connection refused"), "could not connect: [Errno 111] Connection refused"),
    (httpx.RemoteProtocolError("illegal status line\nsecond line"), "not valid HTTP: illegal status line"),
    (httpx.ReadError("[Errno 104] Connection reset by peer"), "connection failed mid-exchange (reset?)"),
    (httpx.DecodingError("bad gzip"), "could not be decoded: bad gzip"),
    (httpx.TooManyRedirects("many"), "HTTP failure: many"),
])
def test_transport_failure_becomes_an_error_not_an_exception(target, raised, reason):
    seen = []
    with GpcClient(target, observers=[seen.append], transport=httpx.MockTransport(Recorder(raises=raised))) as c:
        ex = c.call("metadata.read")
    assert ex.response is None and ex.status is None
    assert ex.error is not None and reason in ex.error and "\n" not in ex.error
    assert seen == [ex], "a failed exchange is still recorded"
    assert ex.describe().endswith(f"no response ({ex.error})")
    with pytest.raises(BodyNotJson, match="no response"):
        _ = ex.json
