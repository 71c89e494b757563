"""What a patient-facing app sends to the User Permissions API and the other Patient Facing APIs.

Journey rules take a scenario's requests in arrival order (the order is the point: permissions are read
before any other Patient Facing request; a request for a change follows a read of the current levels).
Levels and body shapes reuse gpc_assure.pfs.levels, the module the provider suites use. A rule that
finds nothing of the kind it judges (no documents request, no request for a change, no X-Correlation-ID)
raises `NotJudged`: it is never met on nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gpc_assure.checks.consumer_foundations import request_json, response_json
from gpc_assure.checks.consumer_headers import UUID, what
from gpc_assure.checks.core import NotJudged
from gpc_assure.consumer.scenarios import PATIENT_FACING, PFS_GET, PFS_POST, PFS_RECORD
from gpc_assure.pfs import levels as lv
from gpc_assure.transport.exchange import Exchange

PFS = PATIENT_FACING


def patient_of(ex: Exchange) -> str:
    """The NHS number a Patient Facing request is about (the last /Patient/{id} in its path)."""
    m = re.findall(r"/Patient/([^/?]+)", ex.request.url)
    return m[-1] if m else ""


def permissions_first(calls: Sequence[Exchange]) -> list[str]:
    """PFS-UPC-001: for each patient, a successful permissions read comes before any other Patient Facing request."""
    out, read, others = [], set(), 0
    for ex in calls:
        nhs = patient_of(ex)
        if ex.interaction == PFS_GET and ex.status == 200:
            read.add(nhs)
        elif ex.interaction == PFS_RECORD:
            others += 1
            if nhs not in read:
                out.append(f"{what(ex)} was sent before the patient's permissions were read")
                read.add(nhs)  # once per patient is enough to say so
    if not others:
        raise NotJudged("the app made no Patient Facing request other than to User Permissions")
    return out


def _served_levels(calls: Sequence[Exchange], nhs: str) -> Any:
    """The last permissions body the app received for the patient."""
    body = None
    for ex in calls:
        if ex.interaction == PFS_GET and ex.status == 200 and patient_of(ex) == nhs:
            body = response_json(ex)
    return body


def _request(ex: Exchange) -> tuple[lv.Target | None, str | None, list[str]]:
    """(target, level, shape problems) of a legacy POST body."""
    body = request_json(ex)
    if not isinstance(body, dict):
        return None, None, ["the request body is not a JSON object"]
    target = lv.target_of(body)
    out = []
    if target is None or target[0] not in {t[0] for t in lv.TARGETS["legacy"]}:
        out.append(f"permissionType {body.get('permissionType')!r} is not medicalRecord, appointments or "
                   "prescriptions")
        return None, None, out
    allowed = {"permissionType", "accessLevel"} | ({"medicalRecordType"} if target[0] == "medicalRecord" else set())
    if extra := sorted(set(body) - allowed):
        out.append(f"the body carries {', '.join(extra)}, which the {target[0]} request shape does not have")
    if target[0] == "medicalRecord" and target[1] not in ("current", "historical"):
        out.append("a medicalRecord request needs medicalRecordType current or historical")
    level = body.get("accessLevel")
    if lv.rank(target, str(level)) < 0:
        out.append(f"accessLevel {level!r} is not a level of {target[0]}")
    return target, level if isinstance(level, str) else None, out


def increases_only(calls: Sequence[Exchange]) -> list[str]:
    """PFS-UPC-008 (legacy): one of the three body shapes, asking for a level above the patient's current one."""
    out, posts = [], 0
    for n, ex in enumerate(calls):
        if ex.interaction != PFS_POST:
            continue
        posts += 1
        target, level, problems = _request(ex)
        out += problems
        if target is None or level is None:
            continue
        body = _served_levels(calls[:n], patient_of(ex))
        have = lv.level_of(body, target)
        if body is None or have is None:
            out.append(f"a change to the {lv.label(target)} was requested without reading the patient's current "
                       "permissions first")
        elif lv.rank(target, level) <= lv.rank(target, have):
            how = "the same as" if level == have else "below"
            out.append(f"the app asked for '{level}' access to the {lv.label(target)}, {how} the patient's current "
                       f"'{have}' (only increases may be requested)")
    if not posts:
        raise NotJudged("the app asked for no change of permissions")
    return out


def within_maximum(calls: Sequence[Exchange]) -> list[str]:
    """PFS-UPC-007 (legacy): no request above the accessLevelMax the app was shown."""
    out, judged = [], 0
    for n, ex in enumerate(calls):
        if ex.interaction != PFS_POST:
            continue
        target, level, _ = _request(ex)
        if target is None or level is None:
            continue
        most = lv.level_of(_served_levels(calls[:n], patient_of(ex)), target, "accessLevelMax")
        if most is None:
            continue
        judged += 1
        if lv.rank(target, level) > lv.rank(target, most):
            out.append(f"the app asked for '{level}' access to the {lv.label(target)}, above the accessLevelMax "
                       f"'{most}' it had been shown")
    if not judged:
        raise NotJudged("the app asked for no change of a permission whose accessLevelMax it had been shown")
    return out


def request_ids(calls: Sequence[Exchange]) -> list[str]:
    """PFS-UPC-011: every request carries an X-Request-ID UUID, and a retry of a failed request re-uses it."""
    if not calls:
        raise NotJudged("the app made no Patient Facing request")
    out = []
    for n, ex in enumerate(calls):
        value = (ex.request.header("X-Request-ID") or "").strip()
        if not value:
            out.append(f"{what(ex)} has no X-Request-ID")
        elif not UUID.match(value):
            out.append(f"X-Request-ID {value!r} is not a UUID")
        if (ex.status or 0) >= 500 or ex.response is None:
            retry = next((r for r in calls[n + 1:] if r.request.method == ex.request.method
                          and r.request.url.split("?")[0] == ex.request.url.split("?")[0]), None)
            sent = (retry.request.header("X-Request-ID") or "").strip() if retry else None
            if retry is not None and sent != value:
                failed = f"HTTP {ex.status}" if ex.status else "no response"
                out.append(f"the retry of a failed request ({failed}) sent X-Request-ID {sent or 'none'}, not the "
                           f"failed request's {value or 'none'}")
    return out


def retried(calls: Sequence[Exchange]) -> bool:
    """Whether any failed request was sent again (so re-use of X-Request-ID could be judged)."""
    for n, ex in enumerate(calls):
        if (ex.status or 0) >= 500 and any(r.request.method == ex.request.method and
                                          r.request.url.split("?")[0] == ex.request.url.split("?")[0]
                                          for r in calls[n + 1:]):
            return True
    return False


def correlation_id(ex: Exchange) -> list[str]:
    """PFS-UPC-012: an X-Correlation-ID, when sent, has no '.', and is a UUID as the schema pattern asks."""
    value = (ex.request.header("X-Correlation-ID") or "").strip()
    if not value:
        raise NotJudged("the request sends no X-Correlation-ID (it is optional)")
    if "." in value:
        return [f"X-Correlation-ID {value!r} contains '.'"]
    return [] if UUID.match(value) else [f"X-Correlation-ID {value!r} is not a UUID"]


def bearer_token(expected: str | None) -> Any:
    """PFS-UPC-013: Authorization: Bearer <the signed-in patient's NHS login token>."""

    def rule(ex: Exchange) -> list[str]:
        """the request carries the signed-in patient's NHS login bearer token"""
        value = (ex.request.header("Authorization") or "").strip()
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return [f"{what(ex)} has no 'Authorization: Bearer <token>'"]
        if expected and token.strip() != expected:
            return ["the bearer token is not the signed-in patient's NHS login token"]
        return []

    return rule


def accepts_both(ex: Exchange) -> list[str]:
    """PFS-UPC-015: an Accept header, when sent, admits application/json (200) and application/fhir+json (errors)."""
    value = ex.request.header("Accept")
    if value is None:
        raise NotJudged("the request sends no Accept header")
    types = {t.split(";")[0].strip().lower() for t in value.split(",")}
    if "*/*" in types or "application/*" in types:
        return []
    missing = [t for t in ("application/json", "application/fhir+json") if t not in types]
    return [f"Accept {value!r} does not admit {' or '.join(missing)}"] if missing else []
