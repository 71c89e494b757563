"""The Authorization header and its JWT: what a provider must refuse, and what it must tolerate.

As the official suite does, token rules are probed on GET /metadata (every interaction takes the
same token); a missing Authorization header is probed on every Foundations interaction.

A token is accepted only when the request gets its real answer (a CapabilityStatement for GET /metadata),
and tolerance of an unusual token is judged only against a provider that does refuse a token it must
refuse (a control request that differs in the same claims): a provider that accepts every token shows no
tolerance, and the control's failure is charged to the row that says the control must be refused.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures import probes
from gpc_assure.checks import http, outcome
from gpc_assure.checks import jwt as jwt_rules
from gpc_assure.checks.core import Check
from gpc_assure.properties import Examples, check_property
from gpc_assure.transport import jwt
from gpc_assure.transport.exchange import Exchange

REFUSAL_ROWS = ("ERR-012", "GEN-ERR-001a", "GEN-ERR-001b")
D01 = "D-01: aud is the provider's service root, but providers need not refuse another value; only a missing or " \
      "empty aud is checked"
D02 = "D-02: the error page lists an invalid claim resource under both 400 BAD_REQUEST and 422 INVALID_RESOURCE; " \
      "either is accepted, each with its own code"


def refused(requirement: str, reading: str | None = None) -> tuple:
    return probes.refused(requirement, reading=reading)


def b64(data: bytes, padded: bool = False, standard: bool = False) -> str:
    enc = base64.standard_b64encode(data) if standard else base64.urlsafe_b64encode(data)
    return (enc if padded else enc.rstrip(b"=")).decode("ascii")


def token(claims: Any, header: Any = None, signature: str = "") -> str:
    h = jwt.HEADER if header is None else header
    return f"{b64(json.dumps(h).encode())}.{b64(json.dumps(claims).encode())}.{signature}"


def metadata(gpc, label: str, **kwargs: Any):
    return gpc.call("metadata.read", label=label, **kwargs)


def now() -> int:
    return int(time.time())


# -- the Authorization header ----------------------------------------------------------------------

@pytest.mark.title("{interaction} without an Authorization header is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-010a", *REFUSAL_ROWS)
@pytest.mark.parametrize("interaction", probes.FOUNDATIONS)
def test_missing_authorization(gpc, verify, test_data, interaction):
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction, verify), headers={"Authorization": None})
    ex = gpc.call(interaction, **kwargs, label=f"{interaction} without Authorization")
    verify(verify.answered(ex), *refused("GEN-HDR-010a"))


MALFORMED_AUTHORIZATION = {
    "Basic credentials": lambda t: "Basic dXNlcjpwYXNzd29yZA==",
    "Bearer with no token": lambda t: "Bearer",
    "a token with no scheme": lambda t: t,
    "Bearer with two tokens": lambda t: f"Bearer {t} {t}",
}


@pytest.mark.title("An Authorization header of {case} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-010a", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(MALFORMED_AUTHORIZATION))
def test_malformed_authorization(gpc, verify, case):
    value = MALFORMED_AUTHORIZATION[case](jwt.encode(gpc.claims("metadata.read")))
    ex = metadata(gpc, f"metadata with Authorization: {case}", headers={"Authorization": value})
    verify(verify.answered(ex), *refused("GEN-HDR-010a"))


RFC6750 = "HDR-BEARER: GP Connect fixes the status of every token error at 400, where RFC 6750 would use 401 for " \
          "invalid_token; we judge only the WWW-Authenticate challenge RFC 6750 §3.1 asks for"


# Each case: the row that says the request is refused with 400, and the request.
CHALLENGED = {
    "no Authorization header": ("GEN-HDR-010a", lambda gpc: metadata(
        gpc, "metadata without Authorization", headers={"Authorization": None})),
    "Basic credentials": ("GEN-HDR-010a", lambda gpc: metadata(
        gpc, "metadata with Basic credentials", headers={"Authorization": "Basic dXNlcjpwYXNz"})),
    "an expired token": ("JWT-006a", lambda gpc: metadata(
        gpc, "metadata with an expired token", claims=gpc.claims("metadata.read", iat=now() - 600, exp=now() - 300))),
    "a token missing its iss claim": ("JWT-016a", lambda gpc: metadata(
        gpc, "metadata with a token missing iss", claims=gpc.claims("metadata.read", iss=...))),
}


@pytest.mark.title("A refused token is answered with the RFC 6750 challenge: {case}")
@pytest.mark.requirement("GEN-HDR-010b")
@pytest.mark.parametrize("case", list(CHALLENGED))
def test_bearer_challenge(gpc, verify, case):
    refusing, call = CHALLENGED[case]
    ex = verify.answered(call(gpc))
    verify.needs(ex, http.status(400, refusing), what="the refusal whose challenge is judged")
    verify(ex, http.bearer_challenge("GEN-HDR-010b", error_code=case != "no Authorization header", reading=RFC6750))


# -- the token's form ------------------------------------------------------------------------------

def _padded(claims: dict[str, Any]) -> str:
    body = dict(claims)
    while len(json.dumps(body).encode()) % 3 == 0:  # make sure base64 needs padding
        body["gpc_assure_pad"] = body.get("gpc_assure_pad", "") + "x"
    return f"{b64(json.dumps(jwt.HEADER).encode(), padded=True)}.{b64(json.dumps(body).encode(), padded=True)}."


def _standard_alphabet(claims: dict[str, Any]) -> str:
    body = dict(claims, gpc_assure_probe="~~~?")  # bytes that base64 writes with '+' or '/'
    return f"{b64(json.dumps(jwt.HEADER).encode())}.{b64(json.dumps(body).encode(), standard=True)}."


NOT_UNSECURED = {
    "signed with HS256": lambda c: token(c, {"alg": "HS256", "typ": "JWT"}, "c2lnbmF0dXJl"),
    "alg none but a signature": lambda c: token(c, signature="c2lnbmF0dXJl"),
    "a header without typ": lambda c: token(c, {"alg": "none"}),
    "a header with an extra key": lambda c: token(c, {"alg": "none", "typ": "JWT", "kid": "1"}),
    "padded base64": _padded,
    "the standard base64 alphabet": _standard_alphabet,
}


@pytest.mark.title("A token that is not an unsecured GP Connect JWT ({case}) is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-002", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(NOT_UNSECURED))
def test_token_not_unsecured(gpc, verify, case):
    tok = NOT_UNSECURED[case](gpc.claims("metadata.read"))
    parsed, _ = jwt_rules.parse(tok)
    assert parsed is not None and jwt_rules.unsecured_form(parsed), f"probe defect: {case} is a valid token"
    verify(metadata(gpc, f"metadata with a token {case}", token=tok),
           *refused("JWT-002", reading="JWT-FORM: the page defines a consumer's token as unsecured (alg none, empty "
                                       "signature, unpadded base64url) and asks providers to check it is well "
                                       "formed; we read well formed as that form"))


NOT_A_JWT = {
    "the claims as raw JSON": lambda c: json.dumps(c, separators=(",", ":")),
    "two parts (no trailing dot)": lambda c: token(c).rstrip("."),
    "a payload that is not JSON": lambda c: f"{b64(json.dumps(jwt.HEADER).encode())}.{b64(b'not json')}.",
    "a payload that is a JSON array": lambda c: f"{b64(json.dumps(jwt.HEADER).encode())}.{b64(b'[1,2]')}.",
    "four parts": lambda c: token(c) + "e30.",
    "plain text": lambda c: "not-a-jwt",
}


@pytest.mark.title("A token that is not a JWT ({case}) is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-015", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(NOT_A_JWT))
def test_token_not_a_jwt(gpc, verify, case):
    tok = NOT_A_JWT[case](gpc.claims("metadata.read"))
    verify(metadata(gpc, f"metadata with {case} as the token", token=tok), *refused("JWT-015"))


# Header-safe token characters: printable ASCII without spaces (a space would split the header value).
_TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


@st.composite
def garbled_tokens(draw: st.DrawFn) -> str:
    """Strings that are not a JWT: random text, or a real token with one part garbled."""
    kind = draw(st.sampled_from(["text", "garbled part", "dots"]))
    if kind == "text":
        return draw(st.text(_TOKEN_CHARS, min_size=1, max_size=60))
    if kind == "dots":
        parts = draw(st.lists(st.text(_TOKEN_CHARS.filter(lambda c: c != "."), max_size=12), min_size=1,
                              max_size=6).filter(lambda p: len(p) != 3))
        return ".".join(parts)
    good = token({"iss": "x"}).split(".")
    n = draw(st.integers(0, 1))
    good[n] = draw(st.text(_TOKEN_CHARS.filter(lambda c: c != "."), min_size=1, max_size=40))
    return ".".join(good)


@pytest.mark.title("Generated tokens that are not a JWT are all refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-015", *REFUSAL_ROWS)
def test_generated_garbage_tokens(gpc, verify):
    examples = Examples()

    @given(tok=garbled_tokens().filter(lambda t: t != "" and jwt_rules.parse(t)[0] is None))
    def prop(tok: str) -> None:
        ex = metadata(gpc, "metadata with a generated non-JWT token", token=tok)
        examples.judge(ex, *refused("JWT-015"), label=f"the token {json.dumps(tok)}")

    check_property(verify, prop, examples)


# -- the claims ------------------------------------------------------------------------------------

@pytest.mark.title("A token whose {claim} claim is {how} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-016a", *REFUSAL_ROWS)
@pytest.mark.parametrize("how", ["missing", "null"])
@pytest.mark.parametrize("claim", jwt_rules.REQUIRED_CLAIMS)
def test_claim_missing(gpc, verify, claim, how):
    claims = gpc.claims("metadata.read", **{claim: ... if how == "missing" else None})
    ex = metadata(gpc, f"metadata with {claim} {how}", claims=claims)
    verify(verify.answered(ex), *refused("JWT-016a", reading=D01 if claim == "aud" else None))


@pytest.mark.title("A token with an empty aud claim is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-016a", *REFUSAL_ROWS)
def test_claim_aud_empty(gpc, verify):
    ex = metadata(gpc, "metadata with an empty aud", claims=gpc.claims("metadata.read", aud=""))
    verify(verify.answered(ex), *refused("JWT-016a", reading=D01))


def _wrong_types(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "exp as a string": {"exp": str(c["exp"])},
        "iat as a string": {"iat": str(c["iat"])},
        "iat and exp as decimals": {"iat": c["iat"] + 0.5, "exp": c["exp"] + 0.5},
        "iss as a number": {"iss": 12345},
        "requested_scope as a list": {"requested_scope": [c["requested_scope"]]},
        "requesting_device as a string": {"requesting_device": "gpc-assure device"},
        "requesting_practitioner as a list": {"requesting_practitioner": [c["requesting_practitioner"]]},
    }


@pytest.mark.title("A token with {case} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-016b", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(_wrong_types({"exp": 1, "iat": 1, "requested_scope": "x",
                                                    "requesting_practitioner": {}})))
def test_claim_wrong_type(gpc, verify, case):
    base = gpc.claims("metadata.read")
    claims = {**base, **_wrong_types(base)[case]}
    verify(verify.answered(metadata(gpc, f"metadata with {case}", claims=claims)), *refused("JWT-016b"))


EXPIRED = {"600 s ago, so expired 300 s ago": (600, 300), "360 s ago, expired 60 s ago": (360, 60),
           "yesterday": (86_700, 86_400)}


@pytest.mark.title("A token issued {case} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-006a", *REFUSAL_ROWS)
@pytest.mark.parametrize("case", list(EXPIRED))
def test_expired_token(gpc, verify, case):
    issued, expired = EXPIRED[case]
    t = now()
    ex = metadata(gpc, f"metadata with a token issued {case}",
                  claims=gpc.claims("metadata.read", iat=t - issued, exp=t - expired))
    verify(verify.answered(ex), *refused("JWT-006a"))


@pytest.mark.title("A token whose exp is iat + {lifetime} s (not iat + 300) is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-006b", *REFUSAL_ROWS)
@pytest.mark.parametrize("lifetime", [301, 299, 3600, -1])
def test_token_lifetime(gpc, verify, lifetime):
    t = now()
    ex = metadata(gpc, f"metadata with exp = iat + {lifetime}",
                  claims=gpc.claims("metadata.read", iat=t, exp=t + lifetime))
    verify(verify.answered(ex), *refused("JWT-006b", reading="JWT-LIFETIME: the page fixes exp at iat + 300 and the "
                                                            "official suite expects 400 for 299, 301 and -1; we treat "
                                                            "any other lifetime as an invalid token"))


def accepted(requirement: str, reading: str | None = None) -> Check:
    """The token was accepted: GET /metadata got its real answer, 200 with a CapabilityStatement."""
    answer = probes.kind_check("metadata.read")

    def rule(ex: Exchange) -> list[str]:
        return [f"the token was not accepted: {j.message}" for j in answer(ex) if not j.met]

    return Check(requirement, rule, "the token was accepted: GET /metadata answered 200 with a CapabilityStatement",
                 reading=reading)


def tolerated(verify, gpc, ex: Exchange, requirement: str, control_claims: dict[str, Any], control_row: str,
              control_what: str, reading: str | None = None) -> None:
    """Judge that the token of `ex` was accepted, and that this says something: the real answer came back,
    and the same request with a token the provider must refuse (`control_claims`, refused by `control_row`)
    was refused. Refused -> not met; a 200 that is not the answer, or a provider that refuses nothing, ->
    not judged, charged to the row broken."""
    check = accepted(requirement, reading)
    verify.answered(ex)
    if ex.status != 200:
        verify(ex, check)
        return
    probes.answer(verify, ex, "metadata.read", {}, what="the answer that shows the token was accepted")
    control = verify.answered(metadata(gpc, f"metadata with {control_what} (a token that must be refused)",
                                       claims=control_claims))
    verify.needs(control, http.status(400, control_row),
                 what=f"a provider that accepts {control_what} too shows no tolerance by accepting this token")
    verify(ex, check)


@pytest.mark.title("A token issued 200 s in the future (clock skew) is accepted")
@pytest.mark.requirement("JWT-007")
def test_token_issued_in_near_future(gpc, verify):
    iat = now() + 200
    ex = metadata(gpc, "metadata with iat 200 s ahead", claims=gpc.claims("metadata.read", iat=iat, exp=iat + 300))
    t = now()
    tolerated(verify, gpc, ex, "JWT-007", gpc.claims("metadata.read", iat=t - 600, exp=t - 300), "JWT-006a",
              "a token that expired 300 s ago",
              reading="JWT-SKEW: #188 and the official suite: a token issued 200 s in the future must not be refused")


@pytest.mark.title("A token with reason_for_request {value!r} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-009", *REFUSAL_ROWS)
@pytest.mark.parametrize("value", ["secondaryuses", "DirectCare", "direct care"])
def test_reason_for_request(gpc, verify, value):
    ex = metadata(gpc, f"metadata with reason {value!r}",
                  claims=gpc.claims("metadata.read", reason_for_request=value))
    verify(ex, *refused("JWT-009"))


@pytest.mark.title("A token with requested_scope {value!r}, not a GP Connect scope, is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("JWT-010", *REFUSAL_ROWS)
@pytest.mark.parametrize("value", ["badScope", "patient/*.*", "user/*.read"])
def test_scope_not_gp_connect(gpc, verify, value):
    ex = metadata(gpc, f"metadata with scope {value!r}", claims=gpc.claims("metadata.read", requested_scope=value))
    verify(ex, *refused("JWT-010"))


SCOPE_MISMATCH = [("metadata.read", "patient/*.read"), ("patient.find", "organization/*.read"),
                  ("patient.find", "patient/*.write"), ("practitioner.read", "patient/*.read")]


@pytest.mark.title("{interaction} with requested_scope {scope} is either served or refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-SEC-005", "ERR-012")
@pytest.mark.parametrize(("interaction", "scope"), SCOPE_MISMATCH)
def test_scope_not_covering_interaction(gpc, verify, test_data, interaction, scope):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    ex = verify.answered(gpc.call(interaction, **kwargs, claims=gpc.claims(interaction, requested_scope=scope),
                                  label=f"{interaction} with scope {scope}"))
    reading = ("SCOPE: providers MAY authorise by requested_scope; one that does refuses with 400 BAD_REQUEST, as the "
               "official suite expects for Register and Retrieve with the wrong scope")
    if ex.status is not None and 200 <= ex.status < 300:
        probes.answer(verify, ex, interaction, kwargs, what="the answer served for a scope that does not cover it")
        verify.stop(f"{interaction} was served with requested_scope {scope}, which is conformant (enforcing the scope "
                    "is optional); only a refusal shows how the provider refuses, so there is nothing to judge")
    verify(ex, http.status(400, "GEN-SEC-005", reading=reading),
           outcome.code_when(400, "BAD_REQUEST", "ERR-012", issue_code="invalid"))


# -- what a provider must tolerate -----------------------------------------------------------------

def _practitioner(claims: dict[str, Any], identifiers: list[dict[str, str]]) -> dict[str, Any]:
    return {**claims["requesting_practitioner"], "identifier": identifiers}


def _without(gpc, claim: str) -> tuple[dict[str, Any], str, str]:
    """The control for a claim's tolerance: a token without that claim, which JWT-016a says is refused."""
    return gpc.claims("metadata.read", **{claim: ...}), "JWT-016a", f"a token without {claim}"


@pytest.mark.title("A practitioner with no smartcard (SDS user and role profile ids UNK) is accepted")
@pytest.mark.requirement("JWT-014a")
def test_unk_practitioner(gpc, verify):
    c = gpc.claims("metadata.read")
    c["requesting_practitioner"] = _practitioner(c, [{"system": jwt.SDS_USER_SYSTEM, "value": "UNK"},
                                                     {"system": jwt.SDS_ROLE_SYSTEM, "value": "UNK"},
                                                     {"system": jwt.LOCAL_USER_SYSTEM, "value": "user-1"}])
    ex = metadata(gpc, "metadata as an UNK practitioner", claims=c)
    tolerated(verify, gpc, ex, "JWT-014a", *_without(gpc, "requesting_practitioner"))


@pytest.mark.title("A practitioner with neither a role profile nor a local user identifier is accepted")
@pytest.mark.requirement("JWT-014b")
def test_practitioner_without_optional_identifiers(gpc, verify):
    c = gpc.claims("metadata.read")
    user = next((i for i in c["requesting_practitioner"]["identifier"] if i["system"] == jwt.SDS_USER_SYSTEM),
                {"system": jwt.SDS_USER_SYSTEM, "value": "UNK"})
    c["requesting_practitioner"] = _practitioner(c, [user])
    ex = metadata(gpc, "metadata with only an SDS user id", claims=c)
    tolerated(verify, gpc, ex, "JWT-014b", *_without(gpc, "requesting_practitioner"),
              reading="JWT-VARIANCE: the page warns that existing consumers omit these two identifiers; the official "
                      "suite expects 200")


@pytest.mark.title("A requesting_organization identified with the deprecated ODS system is accepted")
@pytest.mark.requirement("JWT-014c")
def test_deprecated_ods_system(gpc, verify):
    c = gpc.claims("metadata.read")
    org = c["requesting_organization"]
    c["requesting_organization"] = {**org, "identifier": [
        {"system": jwt_rules.OLD_ODS_SYSTEM, "value": i["value"]} for i in org["identifier"]]}
    ex = metadata(gpc, "metadata with the old ODS system", claims=c)
    tolerated(verify, gpc, ex, "JWT-014c", *_without(gpc, "requesting_organization"))


# -- claim resources -------------------------------------------------------------------------------

def _bad_resources(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    dev, pr, org = c["requesting_device"], c["requesting_practitioner"], c["requesting_organization"]
    return {
        "a Device with an element STU3 does not define": {"requesting_device": {**dev, "colour": "blue"}},
        "a Patient given as the Device": {"requesting_device": {**dev, "resourceType": "Patient"}},
        "a Device given as the Practitioner": {"requesting_practitioner": {**pr, "resourceType": "Device"}},
        "a Practitioner whose name is not a list": {"requesting_practitioner": {**pr, "name": pr["name"][0]}},
        "an Organization whose identifier is a string": {"requesting_organization": {**org, "identifier": "B82617"}},
    }


@pytest.mark.title("A token whose claim resource is invalid ({case}) is refused with 400 or 422")
@pytest.mark.requirement("JWT-017", "ERR-009", "ERR-012", "GEN-ERR-001a", "GEN-ERR-001b", "GEN-ERR-001c")
@pytest.mark.parametrize("case", list(_bad_resources({
    "requesting_device": {}, "requesting_practitioner": {"name": [{}]}, "requesting_organization": {}})))
def test_invalid_claim_resource(gpc, verify, case):
    base = gpc.claims("metadata.read")
    claims = {**base, **_bad_resources(base)[case]}
    verify(verify.answered(metadata(gpc, f"metadata with {case}", claims=claims)),
           http.status({400, 422}, "JWT-017", reading=D02),
           outcome.code_when(422, "INVALID_RESOURCE", "ERR-009", issue_code="invalid", reading=D02),
           outcome.code_when(400, "BAD_REQUEST", "ERR-012", issue_code="invalid", reading=D02),
           *probes.shape(400, 422))
