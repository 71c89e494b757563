"""What the reference provider checks before any handler runs: SSP headers, the JWT, scopes.

The order follows the demonstrator (TraceID, From, To, InteractionID, then the token), and every
failure is a 400 BAD_REQUEST except the JWT claim resources that fail FHIR parsing (422, D-02).
"""

from __future__ import annotations

import re
import time
from typing import Any

from gpc_assure.fhir.parse import validate_structure
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import bad_request, invalid_resource
from gpc_assure.transport import jwt
from gpc_assure.transport.interactions import Interaction

CLOCK_SKEW_S = 300  # iat up to this far in the future is tolerated (JWT-007: 200 s must pass)

HEADER_NOT_CHECKED = {
    h: declare(f"missing-{h.lower()}-accepted", ["GEN-HDR-006"], "foundations",
               f"a request without the {h} header is processed instead of rejected with 400 BAD_REQUEST")
    for h in ("Ssp-TraceID", "Ssp-From", "Ssp-To")
}
INTERACTION_ID_NOT_CHECKED = declare(
    "interaction-id-not-checked", ["GEN-HDR-008"], "foundations",
    "Ssp-InteractionID is not compared with the endpoint and verb")
SSP_TO_NOT_CHECKED = declare(
    "ssp-to-not-checked", ["GEN-HDR-007"], "foundations",
    "requests addressed to another provider's ASID (Ssp-To) are processed")
AUTH_NOT_REQUIRED = declare(
    "authorization-not-required", ["GEN-HDR-010", "JWT-015"], "foundations",
    "a request with no Authorization header is processed")
JWT_ACCEPTS_EXPIRED = declare(
    "jwt-accepts-expired", ["JWT-006"], "foundations", "an expired JWT (exp in the past) is accepted")
JWT_LIFETIME_NOT_CHECKED = declare(
    "jwt-lifetime-not-checked", ["JWT-006"], "foundations",
    "a JWT whose exp is not iat + 300 (e.g. a 1-hour token) is accepted")
JWT_REJECTS_FUTURE_IAT = declare(
    "jwt-rejects-near-future-iat", ["JWT-007"], "foundations",
    "a JWT issued 200 s in the future is rejected (clock skew not tolerated)")
JWT_CLAIMS_NOT_CHECKED = declare(
    "jwt-claims-not-checked", ["JWT-016"], "foundations",
    "missing JWT claims (iss, aud, requesting_device...) are not detected")
JWT_REASON_NOT_CHECKED = declare(
    "jwt-reason-not-checked", ["JWT-009"], "foundations",
    "reason_for_request other than 'directcare' is accepted")
JWT_SCOPE_NOT_CHECKED = declare(
    "jwt-scope-not-checked", ["JWT-010", "GEN-SEC-005"], "foundations",
    "requested_scope is not compared with the interaction's scope")
JWT_SUB_NOT_CHECKED = declare(
    "jwt-sub-not-checked", ["JWT-004"], "foundations",
    "a JWT whose sub differs from requesting_practitioner.id is accepted")
JWT_FORMAT_NOT_CHECKED = declare(
    "jwt-format-not-checked", ["JWT-002", "JWT-015"], "foundations",
    "a token that is not unsigned base64url header.payload. (e.g. raw JSON, alg RS256) is accepted")
JWT_RESOURCES_NOT_VALIDATED = declare(
    "jwt-claim-resources-not-validated", ["JWT-017"], "foundations",
    "requesting_device / requesting_practitioner that are not valid FHIR resources are accepted")
JWT_REJECTS_UNK = declare(
    "jwt-rejects-unk-practitioner", ["JWT-014"], "foundations",
    "a practitioner with sds-user-id UNK and no role-profile identifier is rejected")

_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "reason_for_request", "requested_scope",
                    "requesting_device", "requesting_organization", "requesting_practitioner"]
_CLAIM_TYPES = {"requesting_device": "Device", "requesting_organization": "Organization",
                "requesting_practitioner": "Practitioner"}


def check_ssp_headers(headers: dict[str, str], own_asid: str, faults: ActiveFaults) -> None:
    for name in ("Ssp-TraceID", "Ssp-From", "Ssp-To"):
        if not headers.get(name.lower(), "").strip() and not faults.on(HEADER_NOT_CHECKED[name]):
            raise bad_request(f"{name} header is missing or blank")
    if headers.get("ssp-to", own_asid) != own_asid and not faults.on(SSP_TO_NOT_CHECKED):
        raise bad_request(f"Ssp-To {headers['ssp-to']!r} is not this provider's ASID")
    if not headers.get("ssp-interactionid", "").strip() and not faults.on(INTERACTION_ID_NOT_CHECKED):
        raise bad_request("Ssp-InteractionID header is missing or blank")


def check_interaction(headers: dict[str, str], candidates: list[Interaction], faults: ActiveFaults) -> Interaction:
    """The interaction the request is, from the route candidates and Ssp-InteractionID."""
    sent = headers.get("ssp-interactionid", "").strip()
    for i in candidates:
        if i.interaction_id == sent:
            return i
    if faults.on(INTERACTION_ID_NOT_CHECKED):
        return candidates[0]
    raise bad_request(f"InteractionID header does not match request ({sent!r})")


def check_token(headers: dict[str, str], interaction: Interaction, faults: ActiveFaults) -> dict[str, Any]:
    """The JWT claims, after the checks a provider must make (JWT-002..017)."""
    auth = headers.get("authorization")
    if not auth:
        if faults.on(AUTH_NOT_REQUIRED):
            return {}
        raise bad_request("Authorization header is missing")
    m = re.fullmatch(r"Bearer (\S+)", auth)
    if not m:
        raise bad_request("Authorization must be 'Bearer <JWT>'")
    token = m.group(1)
    try:
        decoded = jwt.decode(token)
    except jwt.JwtFormatError as exc:
        if faults.on(JWT_FORMAT_NOT_CHECKED):
            return {}
        raise bad_request(f"JWT is malformed: {exc}") from None
    if (decoded.header != jwt.HEADER or decoded.signature) and not faults.on(JWT_FORMAT_NOT_CHECKED):
        raise bad_request('JWT must be unsigned: header {"alg":"none","typ":"JWT"} and an empty signature')
    c = decoded.claims
    if not faults.on(JWT_CLAIMS_NOT_CHECKED):
        for claim in _REQUIRED_CLAIMS:
            if c.get(claim) in (None, "", [], {}):
                raise bad_request(f"JWT claim {claim} is missing or empty")
    now = int(time.time())
    exp, iat = c.get("exp"), c.get("iat")
    if exp is not None or iat is not None:
        if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or isinstance(iat, bool):
            raise bad_request("JWT exp and iat must be integers (UNIX seconds)")
        if exp <= now and not faults.on(JWT_ACCEPTS_EXPIRED):
            raise bad_request("JWT has expired")
        if exp - iat != jwt.LIFETIME_S and not faults.on(JWT_LIFETIME_NOT_CHECKED):
            raise bad_request(f"JWT exp must be iat + {jwt.LIFETIME_S} (was iat + {exp - iat})")
        future_limit = 0 if faults.on(JWT_REJECTS_FUTURE_IAT) else CLOCK_SKEW_S
        if iat > now + future_limit:
            raise bad_request("JWT iat is too far in the future")
    if "reason_for_request" in c and c["reason_for_request"] != "directcare" and not faults.on(JWT_REASON_NOT_CHECKED):
        raise bad_request("JWT reason_for_request must be 'directcare'")
    if "requested_scope" in c and c["requested_scope"] != interaction.scope and not faults.on(JWT_SCOPE_NOT_CHECKED):
        raise bad_request(f"JWT requested_scope {c['requested_scope']!r} does not allow this interaction "
                          f"({interaction.scope})")
    for claim, rtype in _CLAIM_TYPES.items():
        value = c.get(claim)
        if value is None or faults.on(JWT_RESOURCES_NOT_VALIDATED):
            continue
        if not isinstance(value, dict):
            raise bad_request(f"JWT claim {claim} must be a JSON object")
        problems = validate_structure(value, rtype)
        if problems:
            # D-02: the error page lists this under both 400 and 422; the official suite expects 422.
            raise invalid_resource(f"JWT claim {claim} is not a valid {rtype}: {problems[0]}")
    pr = c.get("requesting_practitioner")
    if isinstance(pr, dict) and "sub" in c and c["sub"] != pr.get("id") and not faults.on(JWT_SUB_NOT_CHECKED):
        raise bad_request("JWT sub must equal requesting_practitioner.id")
    if faults.on(JWT_REJECTS_UNK) and isinstance(pr, dict):
        ids = {i.get("system"): i.get("value") for i in pr.get("identifier") or [] if isinstance(i, dict)}
        if ids.get(jwt.SDS_USER_SYSTEM) == "UNK" or jwt.SDS_ROLE_SYSTEM not in ids:
            raise bad_request("requesting_practitioner must have a real SDS user id and role profile")
    return c

