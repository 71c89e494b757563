"""The reference GP system's HTTP front: routing, the provider's checks, rendering.

Every request to the service root `/{ODS}/STU3/1/gpconnect` goes through one pipeline:
SSP headers -> route and verb -> Ssp-InteractionID -> JWT -> content negotiation -> handler.
Any step may raise ProviderError, which becomes an OperationOutcome. Every response, error or not,
carries `Cache-Control: no-store`.
"""

from __future__ import annotations

import gzip
import importlib
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gpc_assure.fhir.parse import model_for
from gpc_assure.reference import negotiation, representation, security
from gpc_assure.reference.data import Pack
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import ProviderError, bad_request, not_found, outcome
from gpc_assure.reference.permissions import BASE_PATH as PFS_BASE_PATH
from gpc_assure.reference.permissions import PermissionsProvider
from gpc_assure.reference.routing import HANDLERS, Context, Reply, requested_flow
from gpc_assure.reference.store import Store
from gpc_assure.transport.interactions import INTERACTIONS, Interaction

log = logging.getLogger("gpc_assure.reference")

# Modules whose handlers serve requests; importing them fills routing.HANDLERS.
HANDLER_MODULES = [
    "gpc_assure.reference.capability",
    "gpc_assure.reference.patients",
    "gpc_assure.reference.directory",
    "gpc_assure.reference.slots",
    "gpc_assure.reference.appointments",
]

MISSING_CACHE_CONTROL = declare(
    "missing-cache-control", ["GEN-HTTP-001"], "foundations",
    "responses carry no Cache-Control header")
CACHE_CONTROL_ONLY_ON_SUCCESS = declare(
    "cache-control-only-on-success", ["GEN-HTTP-001"], "foundations",
    "error responses carry no Cache-Control: no-store (successful ones do)")
APPOINTMENT_RESPONSES_CACHEABLE = declare(
    "appointment-responses-cacheable", ["GEN-HTTP-001"], "appointments",
    "responses to appointment interactions (by Ssp-InteractionID), successful or not, carry "
    "Cache-Control: private, max-age=300 instead of no-store")
WRONG_VERB_405 = declare(
    "wrong-verb-not-bad-request", ["GEN-HDR-009"], "foundations",
    "a wrong HTTP verb gets 405 with an empty body instead of 400 BAD_REQUEST")
NOT_IMPLEMENTED_404 = declare(
    "unimplemented-resource-not-501", ["ERR-013"], "foundations",
    "a request for a resource type or operation the provider does not implement gets 404 instead of 501 "
    "NOT_IMPLEMENTED")
ERROR_WITHOUT_DISPLAY = declare(
    "error-outcome-missing-display", ["GEN-ERR-001a"], "foundations",
    "OperationOutcome details.coding carries the code but no display")
ERROR_WITHOUT_PROFILE = declare(
    "error-outcome-missing-profile", ["GEN-ERR-001a"], "foundations",
    "OperationOutcome has no meta.profile")
URL_CASE_INSENSITIVE = declare(
    "url-case-insensitive", ["GEN-HTTP-007a"], "foundations",
    "paths are matched without regard to case, so /METADATA or /patient are served")
UNKNOWN_PARAM_REJECTED = declare(
    "unknown-search-param-rejected", ["GEN-HTTP-007b"], "foundations",
    "a search with a parameter the provider does not recognise is refused with 400 instead of ignoring it")
APPOINTMENT_UNKNOWN_PARAM_REJECTED = declare(
    "appointment-search-rejects-unknown-params", ["GEN-HTTP-007b"], "appointments",
    "search for free slots and retrieve refuse, with 400, any parameter they do not use (such as _sort or an "
    "unknown name) instead of ignoring it")
CHUNKED_REFUSED = declare(
    "chunked-request-refused", ["GEN-CT-007"], "foundations",
    "a request body sent with Transfer-Encoding: chunked is refused with 411 Length Required")
GZIP_NOT_SUPPORTED = declare(
    "gzip-not-supported", ["GEN-CT-008"], "foundations",
    "responses are never gzip-compressed, even when the request sends Accept-Encoding: gzip")

# Search parameters each search interaction recognises; others are ignored (GEN-HTTP-007).
_SEARCH_PARAMS = {
    "patient.find": {"identifier"}, "practitioner.find": {"identifier"}, "organization.find": {"identifier"},
    "slot.search": {"start", "end", "status", "searchFilter"}, "appointment.retrieve": {"start"},
}
_IMPLEMENTED_TYPES = {"metadata", "Patient", "Practitioner", "Organization", "Location", "Slot", "Appointment"}


def _compile(path: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$", flags)


_ROUTES: list[tuple[re.Pattern[str], Interaction]] = [(_compile(i.path), i) for i in INTERACTIONS.values()]
_ROUTES_ANY_CASE = [(_compile(i.path, re.IGNORECASE), i) for i in INTERACTIONS.values()]


def _unimplemented(rel: str) -> str | None:
    """What a path asks for that this provider does not implement (ERR-013), if anything."""
    segments = [s for s in rel.split("/") if s]
    op = next((s for s in segments if s.startswith("$")), None)
    if op:
        return f"operation {op}"
    if segments and segments[0] not in _IMPLEMENTED_TYPES and model_for(segments[0]) is not None:
        return f"resource type {segments[0]}"
    return None


class ReferenceProvider:
    """One running reference GP system: its store, faults and the ASGI app that serves it."""

    def __init__(self, pack: Pack, faults: ActiveFaults, pfs_version: str = "current"):
        for mod in HANDLER_MODULES:
            importlib.import_module(mod)
        self.pack = pack
        self.faults = faults
        self.store = Store(pack)
        self.root = f"/{pack.practice.ods_code}/STU3/1/gpconnect"
        # Patient Facing User Permissions: its own API beside the GP Connect service root (not behind SSP).
        self.permissions = PermissionsProvider(self.store, pack, faults, pfs_version) if pack.permissions else None
        mounts = [Mount(PFS_BASE_PATH, app=self.permissions.app)] if self.permissions else []
        self.app = Starlette(routes=[*mounts, Route("/{path:path}", self.endpoint,
                                                    methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                                             "HEAD"])])

    async def endpoint(self, request: Request) -> Response:
        raw_body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = parse_qsl(request.url.query, keep_blank_values=True)
        fmt = "json"
        try:
            try:
                fmt = negotiation.response_format(query, headers, self.faults)
            except ProviderError:
                fmt = "json"
                raise
            if "chunked" in headers.get("transfer-encoding", "").lower() and self.faults.on(CHUNKED_REFUSED):
                raise ProviderError(411, "BAD_REQUEST", "invalid", "a Content-Length is required")
            reply = self.dispatch(request.method, request.url.path, query, headers, raw_body,
                                  str(request.base_url).rstrip("/") + self.root)
        except ProviderError as err:
            reply = Reply(err.status, self._outcome(err), dict(getattr(err, "headers", {})))
        except Exception as exc:  # a bug in the reference must still answer like a provider would
            log.exception("reference provider failed")
            reply = Reply(500, outcome("INTERNAL_SERVER_ERROR", "exception", f"unexpected error: {exc}"))
        return self.render(reply, fmt, headers.get("accept-encoding", ""), requested_flow(headers))

    def _outcome(self, err: ProviderError) -> dict[str, Any]:
        oo = outcome(err.code, err.issue_code, err.diagnostics)
        if not err.diagnostics:  # FHIR strings are never empty: no diagnostics means no element
            del oo["issue"][0]["diagnostics"]
        if self.faults.on(ERROR_WITHOUT_DISPLAY):
            del oo["issue"][0]["details"]["coding"][0]["display"]
        if self.faults.on(ERROR_WITHOUT_PROFILE):
            del oo["meta"]
        return oo

    def render(self, reply: Reply, fmt: str, accept_encoding: str = "", flow: str | None = None) -> Response:
        if reply.status == 405:
            body, ctype = b"", ""
        else:
            body, ctype = negotiation.render(reply.resource, fmt, self.faults, flow)
        headers = dict(reply.headers)
        if ctype:
            headers["Content-Type"] = ctype
        error = reply.status >= 400
        if not self.faults.on(MISSING_CACHE_CONTROL) and not (error and self.faults.on(CACHE_CONTROL_ONLY_ON_SUCCESS)):
            headers["Cache-Control"] = "no-store"
        if flow == "appointments" and self.faults.on(APPOINTMENT_RESPONSES_CACHEABLE):
            headers["Cache-Control"] = "private, max-age=300"
        codings = {c.split(";")[0].strip().lower() for c in accept_encoding.split(",")}
        if body and "gzip" in codings and not self.faults.on(GZIP_NOT_SUPPORTED):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        return Response(body, status_code=reply.status, headers=headers)

    def dispatch(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                 raw_body: bytes, service_root: str) -> Reply:
        security.check_ssp_headers(headers, self.pack.practice.asid, self.faults)
        any_case = self.faults.on(URL_CASE_INSENSITIVE)
        root = self.root.lower() if any_case else self.root
        probe = path.lower() if any_case else path
        if not probe.startswith(root + "/") and probe != root:
            raise not_found("NO_RECORD_FOUND", f"no GP Connect service at {path}")
        rel = path[len(self.root):]
        routes = _ROUTES_ANY_CASE if any_case else _ROUTES
        # A segment starting with $ names an operation, never a logical id.
        matches = [(i, m.groupdict()) for pattern, i in routes
                   if (m := pattern.match(rel)) and not any(v.startswith("$") for v in m.groupdict().values())]
        if not matches:
            missing = _unimplemented(rel)
            if missing and not self.faults.on(NOT_IMPLEMENTED_404):
                raise ProviderError(501, "NOT_IMPLEMENTED", "not-supported", f"{missing} is not implemented")
            raise not_found("NO_RECORD_FOUND", f"no such resource or operation: {rel}")
        by_verb = [(i, p) for i, p in matches if i.method == method]
        if not by_verb:
            if self.faults.on(WRONG_VERB_405):
                return Reply(405, None)
            raise bad_request(f"{method} is not allowed on {rel}")
        interaction = security.check_interaction(headers, [i for i, _ in by_verb], self.faults)
        path_params = next(p for i, p in by_verb if i is interaction) if any(
            i is interaction for i, _ in by_verb) else by_verb[0][1]
        claims = security.check_token(headers, interaction, self.faults)
        known = _SEARCH_PARAMS.get(interaction.name)
        if known is not None and interaction.flow == "appointments" and self.faults.on(
                APPOINTMENT_UNKNOWN_PARAM_REJECTED):
            unknown = [k for k, _ in query if k not in known | {"_format", "_include", "_include:recurse"}]
            # Only alongside the parameters the search needs: without them its own 422 comes first.
            if unknown and any(k in known for k, _ in query):
                raise bad_request(f"unsupported search parameter(s): {', '.join(unknown)}")
        if known is not None and self.faults.on(UNKNOWN_PARAM_REJECTED):
            unknown = [k for k, _ in query if k not in known and not k.startswith("_")]
            if unknown:
                raise bad_request(f"unsupported search parameter(s): {', '.join(unknown)}")
        body = negotiation.parse_body(raw_body, headers) if method in ("POST", "PUT") else None
        handler = HANDLERS.get(interaction.name)
        if handler is None:
            raise ProviderError(501, "NOT_IMPLEMENTED", "not-supported", f"{interaction.name} is not implemented")
        ctx = Context(interaction, path_params, query, headers, body, claims, self.faults, self.store, service_root)
        return representation.apply(handler(ctx), interaction, self.faults, service_root)
