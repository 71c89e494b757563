"""What the reference provider checks before any handler runs: SSP headers, the JWT, scopes.

The order follows the demonstrator (TraceID, From, To, InteractionID, then the token). Every
failure is a 400 BAD_REQUEST, except a JWT claim resource that is not a valid FHIR resource, which
is 422 INVALID_RESOURCE as the official suite expects (D-02). Token failures also carry the RFC 6750
§3.1 challenge (WWW-Authenticate: Bearer ...), as the audit and provenance page asks.
"""

from __future__ import annotations

import time
from typing import Any

from gpc_assure.checks import jwt as rules
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import ProviderError
from gpc_assure.transport.interactions import Interaction

CLOCK_SKEW_S = 300  # iat up to this far in the future is tolerated (JWT-007: 200 s must pass)
SSP_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")

HEADER_NOT_CHECKED = {
    h: declare(f"missing-{h.lower()}-accepted", ["GEN-HDR-006"], "foundations",
               f"a request without the {h} header (or with it blank) is processed instead of rejected")
    for h in SSP_HEADERS
}
HEADER_ERROR_WRONG_CODE = declare(
    "ssp-header-errors-wrong-code", ["ERR-012"], "foundations",
    "missing or invalid SSP headers are answered 400 with MISSING_OR_INVALID_HEADER instead of BAD_REQUEST")
INTERACTION_ID_NOT_CHECKED = declare(
    "interaction-id-not-checked", ["GEN-HDR-008"], "foundations",
    "a Ssp-InteractionID that does not match the endpoint and verb is not noticed")
APPOINTMENT_INTERACTION_ID_NOT_CHECKED = declare(
    "appointment-interaction-id-not-checked", ["GEN-HDR-008"], "appointments",
    "on the appointment endpoints, a Ssp-InteractionID naming another interaction is not noticed")
SSP_TO_NOT_CHECKED = declare(
    "ssp-to-not-checked", ["GEN-HDR-007"], "foundations",
    "requests addressed to another provider's ASID (Ssp-To) are processed")
AUTH_NOT_REQUIRED = declare(
    "authorization-not-required", ["GEN-HDR-010a"], "foundations",
    "a request with no Authorization header is processed")
NO_BEARER_CHALLENGE = declare(
    "bearer-challenge-missing", ["GEN-HDR-010b"], "foundations",
    "token errors are answered without the RFC 6750 WWW-Authenticate: Bearer challenge")
REQUEST_ERRORS_WITHOUT_DIAGNOSTICS = declare(
    "request-errors-without-diagnostics", ["GEN-ERR-001b"], "foundations",
    "400 rejections of SSP headers and tokens carry no diagnostics")
CLAIM_422_WITHOUT_DIAGNOSTICS = declare(
    "invalid-claim-resource-without-diagnostics", ["GEN-ERR-001c"], "foundations",
    "the 422 INVALID_RESOURCE for an invalid JWT claim resource carries no diagnostics")
JWT_ACCEPTS_EXPIRED = declare(
    "jwt-accepts-expired", ["JWT-006a"], "foundations", "an expired JWT (exp in the past) is accepted")
JWT_LIFETIME_NOT_CHECKED = declare(
    "jwt-lifetime-not-checked", ["JWT-006b"], "foundations",
    "a JWT whose exp is not iat + 300 (e.g. a 1-hour token) is accepted")
JWT_REJECTS_FUTURE_IAT = declare(
    "jwt-rejects-near-future-iat", ["JWT-007"], "foundations",
    "a JWT issued 200 s in the future is rejected (clock skew not tolerated)")
JWT_CLAIMS_NOT_CHECKED = declare(
    "jwt-claims-not-checked", ["JWT-016a"], "foundations",
    "missing, null or empty JWT claims (iss, aud, requesting_device...) are not detected")
JWT_CLAIM_TYPES_NOT_CHECKED = declare(
    "jwt-claim-types-not-checked", ["JWT-016b"], "foundations",
    "JWT claims of the wrong JSON type (exp as a string, a resource claim as a string...) are accepted")
JWT_REASON_NOT_CHECKED = declare(
    "jwt-reason-not-checked", ["JWT-009"], "foundations",
    "reason_for_request other than 'directcare' is accepted")
JWT_SCOPE_NOT_CHECKED = declare(
    "jwt-scope-not-checked", ["JWT-010"], "foundations",
    "a requested_scope that is not a GP Connect scope (e.g. 'badScope') is accepted")
JWT_SCOPE_FORBIDDEN = declare(
    "jwt-scope-refused-forbidden", ["GEN-SEC-005"], "foundations",
    "a GP Connect scope that does not cover the interaction is refused with 403 instead of 400 BAD_REQUEST")
JWT_FORMAT_NOT_CHECKED = declare(
    "jwt-format-not-checked", ["JWT-002"], "foundations",
    "a readable token that is not in the unsecured form (alg other than none, a signature, padding) is accepted")
JWT_MALFORMED_ACCEPTED = declare(
    "jwt-malformed-accepted", ["JWT-015"], "foundations",
    "a token that is not a JWT at all (raw JSON, not base64url, two parts) is accepted")
JWT_RESOURCES_NOT_VALIDATED = declare(
    "jwt-claim-resources-not-validated", ["JWT-017"], "foundations",
    "requesting_device / requesting_practitioner that are not valid FHIR resources are accepted")
JWT_RESOURCE_WRONG_CODE = declare(
    "jwt-claim-resource-wrong-code", ["ERR-009"], "foundations",
    "an invalid JWT claim resource is answered 422 with the Spine code BAD_REQUEST instead of INVALID_RESOURCE")
JWT_REJECTS_UNK = declare(
    "jwt-rejects-unk-practitioner", ["JWT-014a"], "foundations",
    "a practitioner whose SDS user id and role profile id are UNK (no smartcard) is rejected")
JWT_REQUIRES_PRACTITIONER_IDS = declare(
    "jwt-requires-practitioner-identifiers", ["JWT-014b"], "foundations",
    "a practitioner without a role-profile identifier and a local user identifier is rejected")
JWT_REJECTS_OLD_ODS = declare(
    "jwt-rejects-old-ods-system", ["JWT-014c"], "foundations",
    "requesting_organization identified with the deprecated http://fhir.nhs.net ODS system is rejected")


class RequestRejected(ProviderError):
    """A request refused by the checks in this module (headers or token), with extra response headers."""

    def __init__(self, status: int, code: str, issue_code: str, diagnostics: str,
                 headers: dict[str, str] | None = None):
        super().__init__(status, code, issue_code, diagnostics)
        self.headers = headers or {}


def _header_error(diag: str, faults: ActiveFaults) -> RequestRejected:
    code = "MISSING_OR_INVALID_HEADER" if faults.on(HEADER_ERROR_WRONG_CODE) else "BAD_REQUEST"
    return RequestRejected(400, code, "invalid", "" if faults.on(REQUEST_ERRORS_WITHOUT_DIAGNOSTICS) else diag)


def _token_error(diag: str, faults: ActiveFaults, error: str | None = "invalid_request", status: int = 400,
                 code: str = "BAD_REQUEST", issue_code: str = "invalid") -> RequestRejected:
    """A token failure: the GP Connect OperationOutcome plus the RFC 6750 challenge."""
    headers = {}
    if not faults.on(NO_BEARER_CHALLENGE):
        # With no credentials at all RFC 6750 §3.1 asks for the bare challenge, without an error code.
        headers["WWW-Authenticate"] = "Bearer" + (f' error="{error}"' if error else "")
    if status == 422:
        quiet = faults.on(CLAIM_422_WITHOUT_DIAGNOSTICS)
    else:
        quiet = faults.on(REQUEST_ERRORS_WITHOUT_DIAGNOSTICS)
    return RequestRejected(status, code, issue_code, "" if quiet else diag, headers)


def check_ssp_headers(headers: dict[str, str], own_asid: str, faults: ActiveFaults) -> None:
    for name in SSP_HEADERS:
        if not headers.get(name.lower(), "").strip() and not faults.on(HEADER_NOT_CHECKED[name]):
            raise _header_error(f"{name} header is missing or blank", faults)
    to = headers.get("ssp-to", "").strip()
    if to and to != own_asid and not faults.on(SSP_TO_NOT_CHECKED):
        raise _header_error(f"Ssp-To {to!r} is not this provider's ASID", faults)


def check_interaction(headers: dict[str, str], candidates: list[Interaction], faults: ActiveFaults) -> Interaction:
    """The interaction the request is, from the route candidates and Ssp-InteractionID."""
    sent = headers.get("ssp-interactionid", "").strip()
    for i in candidates:
        if i.interaction_id == sent:
            return i
    lenient = faults.on(INTERACTION_ID_NOT_CHECKED) or (
        candidates[0].flow == "appointments" and faults.on(APPOINTMENT_INTERACTION_ID_NOT_CHECKED))
    if lenient or not sent:
        return candidates[0]  # a blank one passed the header check only because a fault let it
    raise _header_error(f"InteractionID header does not match request ({sent!r})", faults)


def check_token(headers: dict[str, str], interaction: Interaction, faults: ActiveFaults) -> dict[str, Any]:
    """The JWT claims, after the checks a provider must make (GEN-HDR-010, JWT-002..017)."""
    auth = headers.get("authorization", "").strip()
    if not auth:
        if faults.on(AUTH_NOT_REQUIRED):
            return {}
        raise _token_error("Authorization header is missing", faults, error=None)
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    # RFC 7235: the scheme name is case-insensitive.
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _token_error("Authorization must be 'Bearer <JWT>'", faults)
    parsed, problems = rules.parse(token)
    if parsed is None:
        if faults.on(JWT_MALFORMED_ACCEPTED):
            return {}
        raise _token_error(f"JWT is malformed: {problems[0]}", faults)
    if not faults.on(JWT_FORMAT_NOT_CHECKED) and (problems := rules.unsecured_form(parsed)):
        raise _token_error(f"JWT is not an unsecured GP Connect token: {problems[0]}", faults)
    c = parsed.claims
    if not faults.on(JWT_CLAIMS_NOT_CHECKED) and (problems := rules.missing_claims(c)):
        raise _token_error(f"JWT {problems[0]}", faults)
    if not faults.on(JWT_CLAIM_TYPES_NOT_CHECKED) and (problems := rules.problems_of(rules.claim_types, c)):
        raise _token_error(f"JWT {problems[0]}", faults)
    now = int(time.time())
    if not faults.on(JWT_ACCEPTS_EXPIRED) and (problems := rules.problems_of(rules.expired, c, now)):
        raise _token_error(f"JWT {problems[0]}", faults, error="invalid_token")
    if not faults.on(JWT_LIFETIME_NOT_CHECKED) and (problems := rules.problems_of(rules.lifetime, c)):
        raise _token_error(f"JWT {problems[0]}", faults, error="invalid_token")
    tolerance = 0 if faults.on(JWT_REJECTS_FUTURE_IAT) else CLOCK_SKEW_S
    if problems := rules.problems_of(rules.issued_in_future, c, now, tolerance):
        raise _token_error(f"JWT {problems[0]}", faults, error="invalid_token")
    if not faults.on(JWT_REASON_NOT_CHECKED) and (problems := rules.problems_of(rules.reason, c)):
        raise _token_error(f"JWT {problems[0]}", faults)
    if not faults.on(JWT_SCOPE_NOT_CHECKED) and (problems := rules.problems_of(rules.scope_value, c)):
        raise _token_error(f"JWT {problems[0]}", faults, error="invalid_token")
    if problems := rules.problems_of(rules.scope_for, c, interaction.scope):
        if faults.on(JWT_SCOPE_FORBIDDEN):
            raise _token_error(f"JWT {problems[0]}", faults, error="insufficient_scope", status=403,
                               code="ACCESS DENIED", issue_code="forbidden")
        raise _token_error(f"JWT {problems[0]}", faults, error="insufficient_scope")
    if not faults.on(JWT_RESOURCES_NOT_VALIDATED) and (problems := rules.claim_resources(c)):
        # D-02: the error page lists this under both 400 and 422; the official suite expects 422.
        code = "BAD_REQUEST" if faults.on(JWT_RESOURCE_WRONG_CODE) else "INVALID_RESOURCE"
        raise _token_error(f"JWT {problems[0]}", faults, status=422, code=code)
    if problems := rules.problems_of(rules.sub_matches_practitioner, c):
        raise _token_error(f"JWT {problems[0]}", faults)
    ids = rules.practitioner_identifiers(c)
    if faults.on(JWT_REJECTS_UNK) and "UNK" in (ids.get(rules.SDS_USER_SYSTEM), ids.get(rules.SDS_ROLE_SYSTEM)):
        raise _token_error("requesting_practitioner must have a real SDS user id and role profile", faults)
    local_ids = set(ids) - {rules.SDS_USER_SYSTEM, rules.SDS_ROLE_SYSTEM}
    if faults.on(JWT_REQUIRES_PRACTITIONER_IDS) and (rules.SDS_ROLE_SYSTEM not in ids or not local_ids):
        raise _token_error("requesting_practitioner must carry a role profile and a local user identifier", faults)
    if faults.on(JWT_REJECTS_OLD_ODS) and rules.organization_ods_system(c) == rules.OLD_ODS_SYSTEM:
        raise _token_error(f"requesting_organization must use {rules.ODS_SYSTEM}", faults)
    return c
