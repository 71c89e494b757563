"""What a reference handler receives and returns, and the table of handlers by interaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpc_assure.transport.interactions import BY_INTERACTION_ID, Interaction

if TYPE_CHECKING:
    from gpc_assure.reference.faults import ActiveFaults
    from gpc_assure.reference.store import Store


@dataclass
class Context:
    """One request as a handler sees it, after SSP, JWT and content negotiation have passed."""

    interaction: Interaction
    path_params: dict[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON (dict) for POST/PUT, else None
    claims: dict[str, Any]
    faults: ActiveFaults
    store: Store
    service_root: str  # as the consumer addressed it, e.g. http://127.0.0.1:8080/A20047/STU3/1/gpconnect

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


@dataclass
class Reply:
    status: int
    resource: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context], Reply]


def requested_flow(headers: dict[str, str]) -> str | None:
    """The flow of the interaction a request names in Ssp-InteractionID (lower-cased header names).

    Known before routing and JWT checks run, so a fault scoped to one flow can change content
    negotiation and caching even on requests those checks go on to refuse.
    """
    named = BY_INTERACTION_ID.get((headers.get("ssp-interactionid") or "").strip())
    return named.flow if named else None

HANDLERS: dict[str, Handler] = {}


def handles(interaction_name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[interaction_name] = fn
        return fn

    return register


def resource_reply(resource: dict[str, Any], status: int = 200, **headers: str) -> Reply:
    """A single resource with its ETag (GEN-HTTP-002)."""
    h = dict(headers)
    version = (resource.get("meta") or {}).get("versionId")
    if version:
        h.setdefault("ETag", f'W/"{version}"')
    return Reply(status, resource, h)


def searchset(resources: list[dict[str, Any]], profile: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if profile:
        bundle["meta"] = {"profile": [profile]}
    bundle["entry"] = [{"resource": r} for r in resources]
    return bundle
