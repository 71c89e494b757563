"""The reference consumer's connection to a provider: SSP headers, the audit JWT, and sending.

A `Session` is one user's session in the reference consumer app: it keeps what an app keeps
between screens (the CapabilityStatement it read, the appointments it saw with their versions).
Every GP Connect request gets a new Ssp-TraceID and a new token; the faults declared here make it
get one of those wrong, the way a consumer under test might.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.target import ConsumerSection
from gpc_assure.transport import interactions, jwt

FHIR_JSON = "application/fhir+json"


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "foundations", description, role="consumer")


REUSES_TRACE_ID = _fault("reuses-ssp-trace-id", ["GEN-HDR-001"],
                         "every request of a session carries the same Ssp-TraceID")
FROM_NOT_OWN_ASID = _fault("ssp-from-not-consumer-asid", ["GEN-HDR-002"],
                           "Ssp-From carries the provider's ASID instead of the consumer's own")
TO_NOT_PROVIDER_ASID = _fault("ssp-to-not-provider-asid", ["GEN-HDR-003"],
                              "Ssp-To carries the consumer's own ASID instead of the provider's")
WRONG_INTERACTION_ID = _fault("wrong-interaction-id", ["GEN-HDR-004"],
                              "searches name the read interaction in Ssp-InteractionID (rest:read:... for a search)")
NO_BEARER_SCHEME = _fault("authorization-without-bearer", ["GEN-HDR-005"],
                          "the Authorization header carries the bare token, without 'Bearer '")
TOKEN_FROM_CACHE = _fault("jwt-reused-from-cache", ["JWT-001"],
                          "one token, made two minutes before, is reused for every request of a session")
SIGNED_TOKEN = _fault("jwt-not-unsecured", ["JWT-002c"],
                      "the token's header says alg HS256 and it carries a signature")
WRONG_ISS = _fault("jwt-wrong-iss", ["JWT-003"], "iss is the provider's service root, not the consumer's endpoint")
SUB_NOT_PRACTITIONER = _fault("jwt-sub-not-practitioner", ["JWT-004"],
                              "sub is the practitioner's SDS user id, not requesting_practitioner.id")
AUD_TOKEN_ENDPOINT = _fault("jwt-aud-token-endpoint", ["JWT-005"],
                            "aud is https://authorize.fhir.nhs.net/token (as the official provider suite sends) "
                            "instead of the provider's service root")
ONE_HOUR_TOKEN = _fault("jwt-one-hour-lifetime", ["JWT-006c"], "exp is iat + 3600 instead of iat + 300")
REASON_NOT_DIRECT_CARE = _fault("jwt-reason-not-directcare", ["JWT-009c"],
                                "reason_for_request is 'secondaryuses'")
READ_SCOPE_FOR_WRITE = _fault("jwt-read-scope-for-write", ["JWT-010c"],
                              "requested_scope is patient/*.read even for registering and booking")
DEVICE_WITHOUT_VERSION = _fault("jwt-device-without-version", ["JWT-011"], "requesting_device has no version")
ORGANISATION_WITHOUT_ODS = _fault("jwt-organisation-without-ods", ["JWT-012"],
                                  "requesting_organization has a name but no ODS code identifier")
NO_PRACTITIONER = _fault("jwt-missing-requesting-practitioner", ["JWT-013"],
                         "the token has no requesting_practitioner claim")
NO_CHARSET = _fault("content-type-without-charset", ["GEN-CT-006c"],
                    "request bodies are sent as application/fhir+json without charset=utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Session:
    """One user's session in the reference consumer app."""

    def __init__(self, identity: ConsumerSection, faults: ActiveFaults, timeout_s: float = 10.0):
        self.identity = identity
        self.faults = faults
        self.http = httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False)
        self.trace_id = str(uuid.uuid4())
        self.cached_tokens: dict[str, str] = {}
        self.capability: dict[str, Any] = {}  # base_url -> the CapabilityStatement read (MAY be cached)
        self.seen: dict[str, tuple[str, dict[str, Any]]] = {}  # appointment id -> (version, resource)
        self.log: list[str] = []

    def close(self) -> None:
        self.http.close()

    def note(self, text: str) -> None:
        self.log.append(text)

    # -- the token ---------------------------------------------------------------------------------
    def token(self, ctx: dict[str, str], interaction: interactions.Interaction) -> str:
        scope = interaction.scope
        if self.faults.on(READ_SCOPE_FOR_WRITE):
            scope = scope.replace(".write", ".read")
        if self.faults.on(TOKEN_FROM_CACHE):
            if scope not in self.cached_tokens:
                self.cached_tokens[scope] = self._encode(self._claims(ctx, scope, int(time.time()) - 120))
            return self.cached_tokens[scope]
        return self._encode(self._claims(ctx, scope, int(time.time())))

    def _claims(self, ctx: dict[str, str], scope: str, now: int) -> dict[str, Any]:
        c = jwt.build_claims(self.identity, audience=ctx["base_url"], scope=scope, now=now)
        f = self.faults
        if f.on(WRONG_ISS):
            c["iss"] = ctx["base_url"]
        if f.on(SUB_NOT_PRACTITIONER):
            c["sub"] = self.identity.practitioner.sds_user_id
        if f.on(AUD_TOKEN_ENDPOINT):
            c["aud"] = "https://authorize.fhir.nhs.net/token"
        if f.on(ONE_HOUR_TOKEN):
            c["exp"] = c["iat"] + 3600
        if f.on(REASON_NOT_DIRECT_CARE):
            c["reason_for_request"] = "secondaryuses"
        if f.on(DEVICE_WITHOUT_VERSION):
            c["requesting_device"].pop("version", None)
        if f.on(ORGANISATION_WITHOUT_ODS):
            c["requesting_organization"].pop("identifier", None)
        if f.on(NO_PRACTITIONER):
            c.pop("requesting_practitioner", None)
        return c

    def _encode(self, claims: dict[str, Any]) -> str:
        if self.faults.on(SIGNED_TOKEN):
            header = {"alg": "HS256", "typ": "JWT"}
            return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(b'signature')}"
        return jwt.encode(claims)

    # -- sending -----------------------------------------------------------------------------------------
    def headers(self, ctx: dict[str, str], interaction: interactions.Interaction) -> dict[str, str]:
        f = self.faults
        interaction_id = interaction.interaction_id
        if f.on(WRONG_INTERACTION_ID) and ":search:" in interaction_id:
            interaction_id = interaction_id.replace(":search:", ":read:")
        token = self.token(ctx, interaction)
        return {
            "Ssp-TraceID": self.trace_id if f.on(REUSES_TRACE_ID) else str(uuid.uuid4()),
            "Ssp-From": ctx["provider_asid"] if f.on(FROM_NOT_OWN_ASID) else self.identity.asid,
            "Ssp-To": self.identity.asid if f.on(TO_NOT_PROVIDER_ASID) else ctx["provider_asid"],
            "Ssp-InteractionID": interaction_id,
            "Authorization": token if f.on(NO_BEARER_SCHEME) else f"Bearer {token}",
            "Accept": FHIR_JSON,
        }

    def call(self, ctx: dict[str, str], name: str, *, path_params: dict[str, str] | None = None,
             params: Sequence[tuple[str, str]] = (), raw_query: str | None = None, body: Any = None,
             extra: dict[str, str] | None = None) -> httpx.Response | None:
        """One GP Connect request; None when the provider could not be reached (the app shows an error)."""
        i = interactions.get(name)
        url = ctx["base_url"] + i.url_path(**(path_params or {}))
        if raw_query is not None:
            url += "?" + raw_query
        elif params:
            url += "?" + str(httpx.QueryParams(list(params)))
        headers = self.headers(ctx, i)
        content = None
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = FHIR_JSON if self.faults.on(NO_CHARSET) else FHIR_JSON + ";charset=utf-8"
        headers.update(extra or {})
        try:
            response = self.http.request(i.method, httpx.URL(url), headers=headers, content=content)
        except httpx.HTTPError as exc:
            self.note(f"{name}: the provider could not be reached ({type(exc).__name__})")
            return None
        self.note(f"{name}: HTTP {response.status_code}")
        return response

    def send(self, method: str, url: str, headers: dict[str, str], body: Any = None) -> httpx.Response | None:
        """A request to a Patient Facing API (no SSP: the patient's bearer token only)."""
        content = json.dumps(body).encode("utf-8") if body is not None else None
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            response = self.http.request(method, httpx.URL(url), headers=headers, content=content)
        except httpx.HTTPError as exc:
            self.note(f"{method} {url}: not reachable ({type(exc).__name__})")
            return None
        self.note(f"{method} .../{'/'.join(url.rsplit('/', 2)[-2:])}: HTTP {response.status_code}")
        return response


def json_of(response: httpx.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None
