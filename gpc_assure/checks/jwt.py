"""Rules over the GP Connect JWT, the unsigned token that carries cross-organisation audit data.

Pure functions over a token string or its claims, each returning problems (empty when fine). The
reference provider applies them to decide what to reject; consumer suites apply them to the tokens
a consumer sends. Which requirement a rule serves depends on the side judged, so rules name none.

A rule about one claim raises NotJudged when the token does not carry that claim in a form it can
judge (absent, or of the wrong JSON type): the claim's absence is `missing_claims`' finding and its
type `claim_types`', so the rule is never met on nothing. Callers that only want the problems (the
reference provider deciding whether to refuse) use `problems_of`, which reads NotJudged as none.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from gpc_assure.checks.core import NotJudged, compact
from gpc_assure.fhir.parse import validate_structure

LIFETIME_S = 300
UNSECURED_HEADER = {"alg": "none", "typ": "JWT"}
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "reason_for_request", "requested_scope",
                   "requesting_device", "requesting_organization", "requesting_practitioner")
STRING_CLAIMS = ("iss", "sub", "aud", "reason_for_request", "requested_scope")
INTEGER_CLAIMS = ("exp", "iat")
RESOURCE_CLAIMS = {"requesting_device": "Device", "requesting_organization": "Organization",
                   "requesting_practitioner": "Practitioner"}
SCOPES = frozenset({"patient/*.read", "patient/*.write", "organization/*.read", "organization/*.write"})
REASON = "directcare"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
OLD_ODS_SYSTEM = "http://fhir.nhs.net/Id/ods-organization-code"  # deprecated, still sent by some consumers
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"


@dataclass(frozen=True)
class Parsed:
    header: dict[str, Any]
    claims: dict[str, Any]
    signature: str
    parts: tuple[str, str, str]


def _b64(part: str) -> bytes:
    # Lenient on purpose: padding and the standard alphabet are form problems (unsecured_form),
    # not reasons to call the token unreadable.
    text = part.rstrip("=").replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse(token: str) -> tuple[Parsed | None, list[str]]:
    """The token's header and claims, or why it is not a JWT at all (three dot-separated parts,
    the first two base64url-encoded JSON objects)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, [f"a JWT has three dot-separated parts (the last empty when unsigned); found {len(parts)}"]
    decoded: list[dict[str, Any]] = []
    for name, part in zip(("header", "payload"), parts[:2], strict=True):
        if not part:
            return None, [f"the {name} part is empty"]
        try:
            value = json.loads(_b64(part))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None, [f"the {name} part is not base64url-encoded JSON"]
        if not isinstance(value, dict):
            return None, [f"the {name} part is JSON but not an object"]
        decoded.append(value)
    return Parsed(decoded[0], decoded[1], parts[2], (parts[0], parts[1], parts[2])), []


def unsecured_form(parsed: Parsed) -> list[str]:
    """GP Connect's form: header exactly {"alg":"none","typ":"JWT"}, empty signature, unpadded base64url."""
    out = []
    if parsed.header != UNSECURED_HEADER:
        out.append(f'header must be {{"alg":"none","typ":"JWT"}} (was {json.dumps(parsed.header)[:120]})')
    if parsed.signature:
        out.append("the signature part must be empty (unsigned token)")
    for name, part in zip(("header", "payload"), parsed.parts[:2], strict=True):
        if any(c in part for c in "=+/"):
            out.append(f"the {name} part is not unpadded base64url (contains '=', '+' or '/')")
    return out


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def problems_of(rule: Any, *args: Any) -> list[str]:
    """The rule's problems, none when it had nothing to judge (for a caller deciding, not judging)."""
    try:
        return list(rule(*args))
    except NotJudged:
        return []


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else compact(value, 60)


def _present(claims: dict[str, Any], name: str) -> Any:
    v = claims.get(name)
    if _absent(v):
        raise NotJudged(f"the token has no {name} claim to judge")
    return v


def missing_claims(claims: dict[str, Any]) -> list[str]:
    """Every claim GP Connect requires is present, not null and not empty."""
    return [f"claim {name} is missing, null or empty" for name in REQUIRED_CLAIMS if _absent(claims.get(name))]


def claim_types(claims: dict[str, Any]) -> list[str]:
    """Claims that are present have the JSON type GP Connect gives them (absent ones are missing_claims')."""
    if all(_absent(claims.get(n)) for n in (*STRING_CLAIMS, *INTEGER_CLAIMS, *RESOURCE_CLAIMS)):
        raise NotJudged("the token carries none of the claims whose type could be judged")
    out = []
    for name in STRING_CLAIMS:
        v = claims.get(name)
        if not _absent(v) and not isinstance(v, str):
            out.append(f"claim {name} must be a string (was {type(v).__name__})")
    for name in INTEGER_CLAIMS:
        v = claims.get(name)
        if not _absent(v) and (not isinstance(v, int) or isinstance(v, bool)):
            out.append(f"claim {name} must be an integer of UNIX seconds (was {json.dumps(v)[:40]})")
    for name in RESOURCE_CLAIMS:
        v = claims.get(name)
        if not _absent(v) and not isinstance(v, dict):
            out.append(f"claim {name} must be a JSON object (a FHIR resource), was {type(v).__name__}")
    return out


def _int(claims: dict[str, Any], name: str) -> int | None:
    v = claims.get(name)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _need_int(claims: dict[str, Any], name: str) -> int:
    v = _int(claims, name)
    if v is None:
        why = "no" if _absent(claims.get(name)) else "no integer"
        raise NotJudged(f"the token has {why} {name} claim to judge")
    return v


def expired(claims: dict[str, Any], now: int) -> list[str]:
    """A token must not be used on or after its exp."""
    exp = _need_int(claims, "exp")
    if exp <= now:
        return [f"token expired {now - exp} s ago (exp {exp})"]
    return []


def lifetime(claims: dict[str, Any]) -> list[str]:
    """exp is exactly iat + 300 seconds."""
    exp, iat = _need_int(claims, "exp"), _need_int(claims, "iat")
    if exp - iat != LIFETIME_S:
        return [f"exp must be iat + {LIFETIME_S} (was iat + {exp - iat})"]
    return []


def issued_in_future(claims: dict[str, Any], now: int, tolerance_s: int) -> list[str]:
    """iat further in the future than the clock-skew tolerance."""
    iat = _need_int(claims, "iat")
    if iat > now + tolerance_s:
        return [f"iat is {iat - now} s in the future (tolerance {tolerance_s} s)"]
    return []


def reason(claims: dict[str, Any]) -> list[str]:
    """reason_for_request is 'directcare'."""
    v = _present(claims, "reason_for_request")
    if v != REASON:
        return [f"reason_for_request must be '{REASON}' (was {_shown(v)})"]
    return []


def scope_value(claims: dict[str, Any]) -> list[str]:
    """requested_scope is one of GP Connect's four scopes."""
    v = _present(claims, "requested_scope")
    if not isinstance(v, str) or v not in SCOPES:
        return [f"requested_scope {_shown(v)} is not a GP Connect scope ({', '.join(sorted(SCOPES))})"]
    return []


def scope_for(claims: dict[str, Any], expected: str) -> list[str]:
    """requested_scope is the scope the interaction needs (only judged when it is a GP Connect scope)."""
    v = _present(claims, "requested_scope")
    if not isinstance(v, str) or v not in SCOPES:
        raise NotJudged(f"requested_scope {_shown(v)} is not a GP Connect scope, so whether it covers the "
                        "interaction cannot be judged")
    if v != expected:
        return [f"requested_scope '{v}' does not cover this interaction (needs '{expected}')"]
    return []


def audience(claims: dict[str, Any], service_root: str) -> list[str]:
    """aud is the provider's service root URL (a consumer duty; providers need not reject, D-01)."""
    v = _present(claims, "aud")
    if v != service_root:
        return [f"aud {_shown(v)} is not the provider's service root '{service_root}'"]
    return []


def sub_matches_practitioner(claims: dict[str, Any]) -> list[str]:
    """sub is requesting_practitioner.id."""
    sub = _present(claims, "sub")
    pr = claims.get("requesting_practitioner")
    if not isinstance(pr, dict):
        raise NotJudged("the token has no requesting_practitioner resource whose id sub could be compared with")
    if pr.get("id") != sub:
        shown = "has no id" if _absent(pr.get("id")) else f"is {_shown(pr.get('id'))}"
        return [f"sub {_shown(sub)} differs from requesting_practitioner.id, which {shown}"]
    return []


def claim_resources(claims: dict[str, Any]) -> list[str]:
    """Each resource claim is a structurally valid STU3 resource of its type."""
    out = []
    for name, rtype in RESOURCE_CLAIMS.items():
        v = claims.get(name)
        if isinstance(v, dict):
            out.extend(f"claim {name}: {p}" for p in validate_structure(v, rtype)[:3])
    return out


def _identifiers(resource: Any) -> dict[str, str]:
    if not isinstance(resource, dict):
        return {}
    return {str(i.get("system")): str(i.get("value")) for i in resource.get("identifier") or []
            if isinstance(i, dict)}


def practitioner_identifiers(claims: dict[str, Any]) -> dict[str, str]:
    """requesting_practitioner's identifiers by system."""
    return _identifiers(claims.get("requesting_practitioner"))


def organization_ods_system(claims: dict[str, Any]) -> str | None:
    """Which ODS identifier system requesting_organization uses (current, deprecated, or None)."""
    ids = _identifiers(claims.get("requesting_organization"))
    for system in (ODS_SYSTEM, OLD_ODS_SYSTEM):
        if system in ids:
            return system
    return None


def device_content(claims: dict[str, Any]) -> list[str]:
    """requesting_device carries an identifier (system and value), model and version."""
    d = claims.get("requesting_device")
    if not isinstance(d, dict):
        return ["requesting_device is not a resource"]
    out = []
    ids = [i for i in d.get("identifier") or [] if isinstance(i, dict) and i.get("system") and i.get("value")]
    if not ids:
        out.append("requesting_device needs an identifier with system and value")
    out.extend(f"requesting_device needs {f}" for f in ("model", "version") if not d.get(f))
    return out


def organization_content(claims: dict[str, Any]) -> list[str]:
    """requesting_organization carries a name and an ODS code identifier."""
    o = claims.get("requesting_organization")
    if not isinstance(o, dict):
        return ["requesting_organization is not a resource"]
    out = []
    if not o.get("name"):
        out.append("requesting_organization needs a name")
    if not _identifiers(o).get(ODS_SYSTEM):
        out.append(f"requesting_organization needs an identifier with system {ODS_SYSTEM}")
    return out


def practitioner_content(claims: dict[str, Any]) -> list[str]:
    """requesting_practitioner carries an id, a name with family and given, and the SDS user id (or UNK)."""
    p = claims.get("requesting_practitioner")
    if not isinstance(p, dict):
        return ["requesting_practitioner is not a resource"]
    out = []
    if not p.get("id"):
        out.append("requesting_practitioner needs an id")
    names = [n for n in p.get("name") or [] if isinstance(n, dict)]
    if not any(n.get("family") and n.get("given") for n in names):
        out.append("requesting_practitioner needs a name with family and given")
    if not _identifiers(p).get(SDS_USER_SYSTEM):
        out.append(f"requesting_practitioner needs an identifier with system {SDS_USER_SYSTEM} (UNK without a "
                   "smartcard)")
    return out
