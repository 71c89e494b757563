"""The reference consumer's Patient Facing steps: a patient-facing app using User Permissions.

The app reads the patient's permissions before any other Patient Facing request (that first read
enables online access), sends a fresh X-Request-ID UUID with every request and the same one when it
retries a failed request, and (legacy version) asks only for increases up to accessLevelMax.
"""

from __future__ import annotations

import uuid
from typing import Any

from gpc_assure.pfs import levels as lv
from gpc_assure.reference.consumer.client import Session, json_of
from gpc_assure.reference.faults import declare


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "permissions", description, role="consumer")


CALLS_BEFORE_PERMISSIONS = _fault("pfs-calls-before-get-permissions", ["PFS-UPC-001"],
                                  "on first sign-in the documents API is called before the permissions are read")
NEW_ID_ON_RETRY = _fault("retries-with-new-request-id", ["PFS-UPC-011"],
                         "a failed request is retried with a new X-Request-ID")
DOTTED_CORRELATION_ID = _fault("correlation-id-with-dots", ["PFS-UPC-012"],
                               "X-Correlation-ID values contain '.' (e.g. gpc.assure.<hex>)")
OMITS_TOKEN = _fault("pfs-omits-bearer-token", ["PFS-UPC-013"],
                     "the documents request is sent without the patient's bearer token")
FHIR_JSON_ONLY = _fault("pfs-accepts-fhir-json-only", ["PFS-UPC-015"],
                        "requests send Accept: application/fhir+json, refusing the application/json of a 200")
DOWNGRADE = _fault("requests-permission-downgrade", ["PFS-UPC-008"],
                   "asked for more access, the app requests a level below the patient's current one")
ABOVE_MAX = _fault("requests-above-max", ["PFS-UPC-007"],
                   "the level the patient asks for is requested even when it is above accessLevelMax")

# Faults of behaviour only the legacy version has (requesting changes): the simulator then serves legacy.
LEGACY_FAULTS = frozenset({DOWNGRADE, ABOVE_MAX})
ACCEPT = "application/json, application/fhir+json"


def headers(s: Session, ctx: dict[str, str], request_id: str | None = None, token: bool = True) -> dict[str, str]:
    h = {
        "Accept": "application/fhir+json" if s.faults.on(FHIR_JSON_ONLY) else ACCEPT,
        "X-Request-ID": request_id or str(uuid.uuid4()),
        "X-Correlation-ID": f"gpc.assure.{uuid.uuid4().hex}" if s.faults.on(DOTTED_CORRELATION_ID)
        else str(uuid.uuid4()),
    }
    if token:
        h["Authorization"] = f"Bearer {ctx['token']}"
    return h


def get_permissions(s: Session, ctx: dict[str, str]) -> Any:
    """The patient's permissions; a failed request is retried once, with the same X-Request-ID (PFS-UPC-011)."""
    url = f"{ctx['permissions_url']}/Patient/{ctx['nhs_number']}"
    request_id = str(uuid.uuid4())
    response = s.send("GET", url, headers(s, ctx, request_id))
    if response is None or response.status_code >= 500:
        retry_id = str(uuid.uuid4()) if s.faults.on(NEW_ID_ON_RETRY) else request_id
        response = s.send("GET", url, headers(s, ctx, retry_id))
    if response is not None and response.status_code == 200:
        return json_of(response)
    return None


def documents(s: Session, ctx: dict[str, str]) -> None:
    url = f"{ctx['pfs_record_url']}/documents/Patient/{ctx['nhs_number']}"
    response = s.send("GET", url, headers(s, ctx, token=not s.faults.on(OMITS_TOKEN)))
    if response is not None and response.status_code == 404:
        s.note("the app tells the patient their records are not available online yet")


def first_sign_in(s: Session, ctx: dict[str, str]) -> None:
    if s.faults.on(CALLS_BEFORE_PERMISSIONS):
        documents(s, ctx)
        get_permissions(s, ctx)
        return
    get_permissions(s, ctx)
    documents(s, ctx)


def documents_not_found(s: Session, ctx: dict[str, str]) -> None:
    get_permissions(s, ctx)
    documents(s, ctx)


def sign_in_after_outage(s: Session, ctx: dict[str, str]) -> None:
    get_permissions(s, ctx)


def _request(s: Session, ctx: dict[str, str], target: lv.Target, level: str) -> None:
    url = f"{ctx['permissions_url']}/Patient/{ctx['nhs_number']}"
    response = s.send("POST", url, headers(s, ctx), body=lv.request_body(target, level))
    body = json_of(response)
    if response is not None and response.status_code >= 400 and isinstance(body, dict):
        texts = [((i.get("details") or {}).get("text")) for i in body.get("issue") or [] if isinstance(i, dict)]
        s.note(f"the app shows the patient: {next((t for t in texts if t), 'the request was not accepted')}")


def _target(ctx: dict[str, str]) -> lv.Target:
    return lv.BY_KEY.get(ctx.get("permission") or "prescriptions", lv.PRESCRIPTIONS)


def request_more_access(s: Session, ctx: dict[str, str]) -> None:
    """One level more than the patient has, if the practice allows it; then show the pending request."""
    body = get_permissions(s, ctx)
    target = _target(ctx)
    have, most = lv.level_of(body, target), lv.level_of(body, target, "accessLevelMax")
    if have is None:
        return
    scale = lv.levels(target)
    rank = lv.rank(target, have)
    if s.faults.on(DOWNGRADE):
        _request(s, ctx, target, scale[max(rank - 1, 0)])
    elif rank + 1 < len(scale) and (most is None or rank + 1 <= lv.rank(target, most)):
        _request(s, ctx, target, scale[rank + 1])
    else:
        s.note("the patient already has the most access the practice allows")
        return
    get_permissions(s, ctx)


def request_above_maximum(s: Session, ctx: dict[str, str]) -> None:
    """The patient asks for a level; the app offers at most accessLevelMax (PFS-UPC-007)."""
    body = get_permissions(s, ctx)
    target = _target(ctx)
    wanted = ctx.get("level") or lv.levels(target)[-1]
    have, most = lv.level_of(body, target), lv.level_of(body, target, "accessLevelMax")
    if have is None:
        return
    if s.faults.on(ABOVE_MAX) or most is None or lv.rank(target, wanted) <= lv.rank(target, most):
        level = wanted
    else:
        level = most
        s.note(f"the app explains that the practice allows at most {most}")
    if lv.rank(target, level) > lv.rank(target, have):
        _request(s, ctx, target, level)


def request_refused(s: Session, ctx: dict[str, str]) -> None:
    request_more_access(s, ctx)


STEPS = {
    "first-sign-in": first_sign_in,
    "documents-not-found": documents_not_found,
    "sign-in-after-outage": sign_in_after_outage,
    "request-more-access": request_more_access,
    "request-above-maximum": request_above_maximum,
    "request-refused": request_refused,
}
