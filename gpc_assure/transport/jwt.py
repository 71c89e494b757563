"""The GP Connect JWT: an unsigned token whose claims carry audit and provenance.

`build_claims` makes a conformant claim set; `encode` turns any claim set (or a deliberately broken
one, for security tests) into a token. `decode` is lenient and used by checks and the reference
provider to read what was sent.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from gpc_assure.target import ConsumerSection

LIFETIME_S = 300
HEADER = {"alg": "none", "typ": "JWT"}
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
LOCAL_USER_SYSTEM = "https://gpc-assure.invalid/Id/local-user-id"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def build_claims(consumer: ConsumerSection, audience: str, scope: str, now: int | None = None) -> dict[str, Any]:
    """A conformant claim set for one request (a new one for every request, per JWT-001)."""
    iat = int(time.time()) if now is None else now
    pr = consumer.practitioner
    identifiers = [{"system": SDS_USER_SYSTEM, "value": pr.sds_user_id}]
    if pr.sds_role_profile_id:
        identifiers.append({"system": SDS_ROLE_SYSTEM, "value": pr.sds_role_profile_id})
    if pr.local_user_id:
        identifiers.append({"system": LOCAL_USER_SYSTEM, "value": pr.local_user_id})
    name: dict[str, Any] = {"family": pr.family}
    if pr.given:
        name["given"] = list(pr.given)
    if pr.prefix:
        name["prefix"] = list(pr.prefix)
    dev = consumer.device
    return {
        "iss": consumer.endpoint,
        "sub": pr.id,
        "aud": audience,
        "exp": iat + LIFETIME_S,
        "iat": iat,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device",
            "identifier": [{"system": dev.system, "value": dev.value}],
            "model": dev.model,
            "version": dev.version,
        },
        "requesting_organization": {
            "resourceType": "Organization",
            "identifier": [{"system": ODS_SYSTEM, "value": consumer.ods_code}],
            "name": consumer.organisation_name,
        },
        "requesting_practitioner": {
            "resourceType": "Practitioner",
            "id": pr.id,
            "identifier": identifiers,
            "name": [name],
        },
    }


def encode(claims: Any, header: Any = None) -> str:
    """An unsigned token: base64url(header).base64url(claims). — ends with the empty signature."""
    h = HEADER if header is None else header
    return f"{b64url(json.dumps(h).encode())}.{b64url(json.dumps(claims).encode())}."


@dataclass(frozen=True)
class DecodedJwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signature: str


class JwtFormatError(ValueError):
    """The token is not three base64url parts of JSON objects."""


def decode(token: str) -> DecodedJwt:
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtFormatError(f"expected 3 dot-separated parts, found {len(parts)}")
    for p in parts[:2]:
        if not p or any(c in p for c in "+/="):
            raise JwtFormatError("parts must be unpadded base64url")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtFormatError(f"not base64url-encoded JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtFormatError("header and payload must be JSON objects")
    return DecodedJwt(header, claims, parts[2])
