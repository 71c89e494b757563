"""What a consumer sends on every GP Connect request: the Spine Secure Proxy headers and the audit JWT.

Rules are pure functions over one recorded request (a `CallRecord`, an Exchange whose request the
consumer made) returning problems, or raising `NotJudged` when the request holds nothing of the kind
they judge; `per_call` lifts one to a `Check` of the request. The JWT rules reuse
gpc_assure.checks.jwt, the same functions the reference provider applies; each claim's absence is
reported under that claim's own requirement, so one defect shows under one requirement. A request
without a token leaves every claim rule not judged (GEN-HDR-005 is the one not met), and a request
that matches no GP Connect interaction is a finding of every rule that depends on the interaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from gpc_assure.checks import jwt as rules
from gpc_assure.checks.core import Check, NotJudged, on_request
from gpc_assure.checks.resources import rule_name
from gpc_assure.consumer.scenarios import PATIENT_FACING
from gpc_assure.transport.exchange import Exchange
from gpc_assure.transport.interactions import INTERACTIONS

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FRESH_S = 30  # a token made for this request was made at most this long before it arrived (JWT-001)

Rule = Callable[[Exchange], list[str]]


def per_call(rule: Rule, requirement: str, reading: str | None = None, name: str | None = None) -> Check:
    """A check of one request the consumer sent (whatever came back), for one requirement."""
    return on_request(requirement, rule, name or rule_name(rule), reading=reading)


def is_gp_connect(ex: Exchange) -> bool:
    """A request the consumer sent to the GP Connect provider (anything that is not Patient Facing)."""
    return ex.interaction not in PATIENT_FACING


def _header(ex: Exchange, name: str) -> str:
    return (ex.request.header(name) or "").strip()


def what(ex: Exchange) -> str:
    """'GET /path' of a request, for messages (the path inside the simulator, without the correlation key)."""
    path = getattr(ex, "route", "") or ex.request.url.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return f"{ex.request.method} {path}"


def _no_interaction(ex: Exchange) -> str:
    return f"the request {what(ex)} matches no GP Connect interaction"


# -- SSP headers ---------------------------------------------------------------------------------------

def trace_id(ex: Exchange) -> list[str]:
    """Ssp-TraceID is present and a UUID."""
    value = _header(ex, "Ssp-TraceID")
    if not value:
        return ["no Ssp-TraceID header"]
    return [] if UUID.match(value) else [f"Ssp-TraceID {value!r} is not a UUID"]


def repeated_trace_ids(calls: Iterable[Exchange]) -> list[str]:
    """Each request has its own Ssp-TraceID."""
    counts = Counter(v for c in calls if (v := _header(c, "Ssp-TraceID")))
    if sum(counts.values()) < 2:
        raise NotJudged("fewer than two requests carried an Ssp-TraceID: there is nothing to compare")
    return [f"Ssp-TraceID {value!r} was sent on {n} requests (one per request)" for value, n in counts.items()
            if n > 1]


def ssp_from(asid: str) -> Rule:
    def rule(ex: Exchange) -> list[str]:
        """Ssp-From is the consumer's own ASID."""
        value = _header(ex, "Ssp-From")
        if not value:
            return ["no Ssp-From header"]
        return [] if value == asid else [f"Ssp-From {value!r} is not the consumer's ASID {asid!r}"]

    return rule


def ssp_to(asid: str) -> Rule:
    def rule(ex: Exchange) -> list[str]:
        """Ssp-To is the provider's ASID."""
        value = _header(ex, "Ssp-To")
        if not value:
            return ["no Ssp-To header"]
        return [] if value == asid else [f"Ssp-To {value!r} is not the provider's ASID {asid!r}"]

    return rule


def interaction_id(ex: Exchange) -> list[str]:
    """Ssp-InteractionID names the interaction the request performs (its verb, path and, for PUT, body)."""
    value = _header(ex, "Ssp-InteractionID")
    i = INTERACTIONS.get(ex.interaction or "")
    if i is None:
        return [f"{_no_interaction(ex)}, so no Ssp-InteractionID names it (sent: {value or 'none'})"]
    if not value:
        return ["no Ssp-InteractionID header"]
    if value != i.interaction_id:
        return [f"Ssp-InteractionID {value!r} does not match the request, a {i.name} ({i.interaction_id})"]
    return []


def bearer(ex: Exchange) -> list[str]:
    """Authorization is Bearer followed by the token."""
    value = _header(ex, "Authorization")
    if not value:
        return ["no Authorization header"]
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return [f"Authorization is not 'Bearer <token>' (starts {value[:12]!r})"]
    return []


# -- the token -----------------------------------------------------------------------------------------

NO_TOKEN = "the request carries no token, so its claims cannot be judged (GEN-HDR-005 is not met)"


def token_text(ex: Exchange) -> str:
    """The token the request carried (after 'Bearer ', or the bare header value), or ''."""
    value = _header(ex, "Authorization")
    if value.lower() == "bearer":
        return ""
    return value.split(" ", 1)[1].strip() if value.lower().startswith("bearer ") else value


def token_of(ex: Exchange) -> rules.Parsed | None:
    """The JWT the request carried (after 'Bearer ', or bare), if it can be read at all."""
    token = token_text(ex)
    if not token:
        return None
    parsed, _ = rules.parse(token)
    return parsed


def _claims_rule(check: Callable[[dict[str, Any], Exchange], list[str]], doc: str) -> Rule:
    """A rule over the claims; not judged when the request carries no token, or one that is not a JWT."""

    def rule(ex: Exchange) -> list[str]:
        token = token_text(ex)
        if not token:
            raise NotJudged(NO_TOKEN)
        parsed, problems = rules.parse(token)
        if parsed is None:
            raise NotJudged(f"the token is not a JWT ({problems[0]}), so its claims cannot be read (JWT-002c "
                            "judges its form)")
        return check(parsed.claims, ex)

    rule.__doc__ = doc
    return rule


def unsecured(ex: Exchange) -> list[str]:
    """The token is a JWT in GP Connect's unsecured form."""
    token = token_text(ex)
    if not token:
        raise NotJudged(NO_TOKEN)
    parsed, problems = rules.parse(token)
    return problems if parsed is None else rules.unsecured_form(parsed)


def _present(claims: dict[str, Any], name: str) -> list[str]:
    return [] if claims.get(name) not in (None, "", [], {}) else [f"claim {name} is missing or empty"]


def _fresh(c: dict[str, Any], ex: Exchange) -> list[str]:
    iat = c.get("iat")
    arrived = getattr(ex, "received_at", None)
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise NotJudged("the token has no integer iat, so when it was made is unknown (JWT-006c judges iat)")
    if not arrived:
        raise NotJudged("when the request arrived was not recorded")
    age = arrived - iat
    if age > FRESH_S:
        return [f"the token was made {age:.0f} s before the request arrived (iat {iat}): a new token is made for "
                "each request"]
    if age < -FRESH_S:
        return [f"the token's iat is {-age:.0f} s after the request arrived: iat is when the token was made"]
    return []


fresh = _claims_rule(_fresh, "the token was made for this request (iat within 30 s of its arrival)")


def issuer(endpoint: str) -> Rule:
    def check(c: dict[str, Any], ex: Exchange) -> list[str]:
        if missing := _present(c, "iss"):
            return missing
        return [] if c["iss"] == endpoint else [f"iss {c['iss']!r} is not the consumer's endpoint {endpoint!r}"]

    return _claims_rule(check, "iss is the consumer's Spine endpoint")


subject = _claims_rule(lambda c, ex: _present(c, "sub") or rules.sub_matches_practitioner(c),
                       "sub equals requesting_practitioner.id")


def audience(service_roots: Iterable[str]) -> Rule:
    roots = sorted(set(service_roots))

    def check(c: dict[str, Any], ex: Exchange) -> list[str]:
        if missing := _present(c, "aud"):
            return missing
        if c["aud"] in roots:
            return []
        return [f"aud {c['aud']!r} is not the provider's service root ({' or '.join(map(repr, roots))})"]

    return _claims_rule(check, "aud is the provider's service root")


def _lifetime(c: dict[str, Any], ex: Exchange) -> list[str]:
    out = _present(c, "iat") + _present(c, "exp")
    if out:
        return out
    return [p for p in rules.claim_types(c) if p.startswith(("claim exp", "claim iat"))] or rules.lifetime(c)


lifetime = _claims_rule(_lifetime, "exp is iat + 300, both integers")
reason = _claims_rule(lambda c, ex: _present(c, "reason_for_request") or rules.reason(c),
                      "reason_for_request is directcare")


def _scope(c: dict[str, Any], ex: Exchange) -> list[str]:
    if missing := _present(c, "requested_scope"):
        return missing
    i = INTERACTIONS.get(ex.interaction or "")
    if i is None:
        return [f"{_no_interaction(ex)}, so no requested_scope fits it (sent: {c['requested_scope']})"]
    return rules.scope_value(c) or rules.scope_for(c, i.scope)


scope = _claims_rule(_scope, "requested_scope is the scope of the interaction")


def _resource(c: dict[str, Any], name: str) -> list[str]:
    if missing := _present(c, name):
        return missing
    return [p for p in rules.claim_resources({name: c[name]}) if p.startswith(f"claim {name}")]


device = _claims_rule(lambda c, ex: _resource(c, "requesting_device") or rules.device_content(c),
                      "requesting_device is a Device with identifier, model and version")


def organisation(ods_code: str) -> Rule:
    def check(c: dict[str, Any], ex: Exchange) -> list[str]:
        out = _resource(c, "requesting_organization") or rules.organization_content(c)
        if out:
            return out
        ids = {str(i.get("system")): i.get("value") for i in c["requesting_organization"].get("identifier") or []
               if isinstance(i, dict)}
        got = ids.get(rules.ODS_SYSTEM)
        if not got:
            return [f"requesting_organization has no identifier with system {rules.ODS_SYSTEM}"]
        if got != ods_code:
            return [f"requesting_organization's ODS code {got!r} is not the consumer organisation's {ods_code!r}"]
        return []

    return _claims_rule(check, "requesting_organization is the consumer organisation, with its ODS code")


def _practitioner(c: dict[str, Any], ex: Exchange) -> list[str]:
    out = _resource(c, "requesting_practitioner") or rules.practitioner_content(c)
    if out:
        return out
    if rules.SDS_ROLE_SYSTEM not in rules.practitioner_identifiers(c):
        return [f"requesting_practitioner needs an identifier with system {rules.SDS_ROLE_SYSTEM} (UNK without one)"]
    return []


practitioner = _claims_rule(_practitioner,
                            "requesting_practitioner names the user: id, name, SDS user and role profile ids")


# -- request bodies ------------------------------------------------------------------------------------

def body_charset(ex: Exchange) -> list[str]:
    """A request body is UTF-8, and its Content-Type says so as GP Connect writes it (no space before charset)."""
    if not ex.request.body:
        raise NotJudged("the request has no body")
    ct = _header(ex, "Content-Type")
    out = []
    if not re.search(r";charset=utf-8\b", ct, re.IGNORECASE):
        out.append(f"Content-Type {ct!r} does not carry ';charset=utf-8'" if ct else
                   "the request body has no Content-Type (';charset=utf-8' is required)")
    try:
        ex.request.body.decode("utf-8")
    except UnicodeDecodeError:
        out.append("the request body is not UTF-8")
    return out
