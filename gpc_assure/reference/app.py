"""The reference GP system's HTTP front: routing, the provider's checks, rendering.

Every request to the service root `/{ODS}/STU3/1/gpconnect` goes through one pipeline:
SSP headers -> route and verb -> Ssp-InteractionID -> JWT -> content negotiation -> handler.
Any step may raise ProviderError, which becomes an OperationOutcome. Every response, error or not,
carries `Cache-Control: no-store`.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpc_assure.reference import negotiation, security
from gpc_assure.reference.data import Pack
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import ProviderError, bad_request, not_found, outcome
from gpc_assure.reference.routing import HANDLERS, Context, Reply
from gpc_assure.reference.store import Store
from gpc_assure.transport.interactions import INTERACTIONS, Interaction

log = logging.getLogger("gpc_assure.reference")

# Modules whose handlers serve requests; importing them fills routing.HANDLERS.
HANDLER_MODULES = [
    "gpc_assure.reference.capability",
    "gpc_assure.reference.patients",
    "gpc_assure.reference.directory",
]

MISSING_CACHE_CONTROL = declare(
    "missing-cache-control", ["GEN-HTTP-001"], "foundations",
    "responses carry no Cache-Control header")
CACHE_CONTROL_ONLY_ON_SUCCESS = declare(
    "cache-control-only-on-success", ["GEN-HTTP-001"], "foundations",
    "error responses carry no Cache-Control: no-store (successful ones do)")
WRONG_VERB_405 = declare(
    "wrong-verb-not-bad-request", ["GEN-HDR-009"], "foundations",
    "a wrong HTTP verb gets 405 with an empty body instead of 400 BAD_REQUEST")
NOT_IMPLEMENTED_404 = declare(
    "unimplemented-resource-not-501", ["ERR-013"], "foundations",
    "a request for a resource type the provider does not implement gets 404 instead of 501 NOT_IMPLEMENTED")
ERROR_WITHOUT_DISPLAY = declare(
    "error-outcome-missing-display", ["GEN-ERR-001"], "foundations",
    "OperationOutcome details.coding carries the code but no display")
ERROR_WITHOUT_PROFILE = declare(
    "error-outcome-missing-profile", ["GEN-ERR-001"], "foundations",
    "OperationOutcome has no meta.profile")

# FHIR resource types a consumer might ask for that this provider does not implement (ERR-013).
_UNIMPLEMENTED_TYPES = {"Encounter", "Condition", "Observation", "Immunization", "Medication", "MedicationStatement",
                        "AllergyIntolerance", "List", "Device", "PractitionerRole", "DocumentReference", "Schedule"}


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


_ROUTES: list[tuple[re.Pattern[str], Interaction]] = [(_compile(i.path), i) for i in INTERACTIONS.values()]


class ReferenceProvider:
    """One running reference GP system: its store, faults and the ASGI app that serves it."""

    def __init__(self, pack: Pack, faults: ActiveFaults):
        for mod in HANDLER_MODULES:
            importlib.import_module(mod)
        self.pack = pack
        self.faults = faults
        self.store = Store(pack)
        self.root = f"/{pack.practice.ods_code}/STU3/1/gpconnect"
        self.app = Starlette(routes=[Route("/{path:path}", self.endpoint,
                                           methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])])

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
            reply = self.dispatch(request.method, request.url.path, query, headers, raw_body,
                                  str(request.base_url).rstrip("/") + self.root)
        except ProviderError as err:
            reply = Reply(err.status, self._outcome(err))
        except Exception as exc:  # a bug in the reference must still answer like a provider would
            log.exception("reference provider failed")
            reply = Reply(500, outcome("INTERNAL_SERVER_ERROR", "exception", f"unexpected error: {exc}"))
        return self.render(reply, fmt)

    def _outcome(self, err: ProviderError) -> dict[str, Any]:
        oo = outcome(err.code, err.issue_code, err.diagnostics)
        if self.faults.on(ERROR_WITHOUT_DISPLAY):
            del oo["issue"][0]["details"]["coding"][0]["display"]
        if self.faults.on(ERROR_WITHOUT_PROFILE):
            del oo["meta"]
        return oo

    def render(self, reply: Reply, fmt: str) -> Response:
        if reply.status == 405:
            body, ctype = b"", ""
        else:
            body, ctype = negotiation.render(reply.resource, fmt, self.faults)
        headers = dict(reply.headers)
        if ctype:
            headers["Content-Type"] = ctype
        error = reply.status >= 400
        if not self.faults.on(MISSING_CACHE_CONTROL) and not (error and self.faults.on(CACHE_CONTROL_ONLY_ON_SUCCESS)):
            headers["Cache-Control"] = "no-store"
        return Response(body, status_code=reply.status, headers=headers)

    def dispatch(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                 raw_body: bytes, service_root: str) -> Reply:
        security.check_ssp_headers(headers, self.pack.practice.asid, self.faults)
        if not path.startswith(self.root + "/") and path != self.root:
            raise not_found("NO_RECORD_FOUND", f"no GP Connect service at {path}")
        rel = path[len(self.root):]
        matches = [(i, m.groupdict()) for pattern, i in _ROUTES if (m := pattern.match(rel))]
        if not matches:
            first = rel.strip("/").split("/")[0]
            if first in _UNIMPLEMENTED_TYPES and not self.faults.on(NOT_IMPLEMENTED_404):
                raise ProviderError(501, "NOT_IMPLEMENTED", "not-supported", f"{first} is not implemented")
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
        body = negotiation.parse_body(raw_body, headers) if method in ("POST", "PUT") else None
        handler = HANDLERS.get(interaction.name)
        if handler is None:
            raise ProviderError(501, "NOT_IMPLEMENTED", "not-supported", f"{interaction.name} is not implemented")
        ctx = Context(interaction, path_params, query, headers, body, claims, self.faults, self.store, service_root)
        return handler(ctx)
