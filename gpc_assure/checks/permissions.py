"""Checks of the Patient Facing User Permissions API: bodies against our OpenAPI description, errors, headers.

Schema problems are attributed to the requirement they break by where they are in the body
(`route`): a missing `prescriptions` is PFS-UP-020, a level outside the enumeration PFS-UP-025/026/027,
a missing accessLevelMax PFS-UP-028, anything in requests[] PFS-UP-029, and so on. A check reports
only the requirements it is asked for, so each test states exactly what it verifies and a fault
shows up only under the requirements it breaks. Rules over a parsed body are plain functions
returning problem strings, reusable by a consumer suite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from jsonschema.exceptions import ValidationError

from gpc_assure.checks.http import no_response
from gpc_assure.findings import Check, Finding
from gpc_assure.pfs import levels as lv
from gpc_assure.pfs import openapi
from gpc_assure.transport.exchange import BodyNotJson, Exchange

GET_OK = "PFS-UP-001"
POST_OK = "PFS-UP-002"
ERROR_BODY = "PFS-UP-034"
TOP_LEVEL = {"current": "PFS-UP-020", "legacy": "PFS-UP-021"}
LEVEL_ENUM = {"medicalRecord": "PFS-UP-025", "prescriptions": "PFS-UP-026", "appointments": "PFS-UP-027"}
RECORD_SHAPE = "PFS-UP-022"
MAX_PRESENT = "PFS-UP-028"
PENDING = "PFS-UP-029"


# --- routing schema problems to requirements ---------------------------------------------------------
def _missing(err: ValidationError) -> str | None:
    """The property a 'required' error is about (jsonschema raises one error per missing property)."""
    if err.validator != "required":
        return None
    return next((p for p in err.validator_value if err.message.startswith(f"{p!r} ")), None)


def route_permissions(err: ValidationError, version: str) -> str:
    """The requirement a problem in a GET 200 body breaks."""
    path = list(err.absolute_path)
    if not path:
        return TOP_LEVEL[version] if err.validator == "required" else GET_OK
    head = path[0]
    if head == "requests":
        return PENDING
    if head == "medicalRecord":
        if len(path) == 1 or path[1] == "effectiveDate":
            return RECORD_SHAPE
        if path[1] in ("current", "historical"):
            if len(path) == 2:
                if _missing(err) == "accessLevelMax":
                    return MAX_PRESENT
                return RECORD_SHAPE if path[1] == "current" or err.validator != "required" else LEVEL_ENUM[head]
            return LEVEL_ENUM[head]
        return GET_OK
    if head in ("prescriptions", "appointments"):
        if len(path) == 1 and _missing(err) == "accessLevelMax":
            return MAX_PRESENT
        return LEVEL_ENUM[head]
    return GET_OK


def schema_findings(body: Any, version: str, kind: str, wanted: Collection[str] | None = None) -> list[Finding]:
    """Problems of a body against our description of the version, each under the requirement it breaks.

    kind: "permissions" (GET 200), "update" (POST 200) or "error" (any 4xx body). Only findings
    for `wanted` requirements are returned (all when None).
    """
    if kind == "permissions":
        errors = openapi.errors(version, "PatientPermission", body)
        pairs = [(route_permissions(e, version), e) for e in errors]
    elif kind == "update":
        pairs = [(POST_OK, e) for e in openapi.operation_errors(version, "POST", "200", body)]
    else:
        pairs = [(ERROR_BODY, e) for e in openapi.errors(version, "ErrorResponse", body)]
    return [Finding(rid, f"not valid against the {version} description: {openapi.explain(e)}")
            for rid, e in pairs if wanted is None or rid in wanted]


def _json(ex: Exchange, requirement: str) -> tuple[Any, list[Finding]]:
    if missing := no_response(ex, requirement):
        return None, missing
    try:
        return ex.json, []
    except BodyNotJson as exc:
        return None, [Finding(requirement, f"HTTP {ex.status}: {exc}")]


def valid_permissions(version: str, *requirements: str) -> Check:
    """A 200 GET body is valid against the version's PatientPermission (problems under `requirements` only)."""
    first = requirements[0]

    def check(ex: Exchange) -> list[Finding]:
        if ex.status != 200:
            return [Finding(first, f"no permissions to judge: HTTP {ex.status}")] if ex.response else no_response(
                ex, first)
        body, out = _json(ex, first)
        return out or schema_findings(body, version, "permissions", requirements)

    return check


def valid_update_response(version: str, requirement: str = POST_OK) -> Check:
    def check(ex: Exchange) -> list[Finding]:
        body, out = _json(ex, requirement)
        return out or schema_findings(body, version, "update", {requirement})

    return check


def valid_error(version: str, requirement: str = ERROR_BODY) -> Check:
    """Whatever the error, its body is a valid ErrorResponse."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _json(ex, requirement)
        return out or schema_findings(body, version, "error", {requirement})

    return check


# --- HTTP -------------------------------------------------------------------------------------------------
def status(expected: int | Collection[int], requirement: str, reading: str | None = None) -> Check:
    allowed = {expected} if isinstance(expected, int) else set(expected)

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        if ex.status not in allowed:
            codes = spine_codes(ex)
            detail = f" ({', '.join(codes)})" if codes else ""
            want = " or ".join(map(str, sorted(allowed)))
            return [Finding(requirement, f"HTTP {ex.status}{detail}, expected {want}", reading=reading)]
        return []

    return check


def refused(requirement: str, statuses: Collection[int] | None = None, reading: str | None = None) -> Check:
    """The request was refused: a 4xx (or one of `statuses`), never a 2xx or a 5xx."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.status is not None
        ok = ex.status in statuses if statuses else 400 <= ex.status < 500
        if not ok:
            want = " or ".join(map(str, sorted(statuses))) if statuses else "a 4xx refusal"
            return [Finding(requirement, f"HTTP {ex.status}, expected {want}", reading=reading)]
        return []

    return check


def media_type(expected: str, requirement: str) -> Check:
    """The response's Content-Type is this media type (parameters such as charset allowed)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        ctype = ex.response.header("Content-Type")
        base = (ctype or "").split(";")[0].strip().lower()
        if base != expected:
            return [Finding(requirement, f"HTTP {ex.status} Content-Type is {ctype!r}, expected {expected}")]
        return []

    return check


def echoed(header: str, requirement: str, reading: str | None = None) -> Check:
    """The response carries the request's header, unchanged."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        sent = ex.request.header(header)
        got = ex.response.header(header)
        if sent is not None and got != sent:
            shown = "absent" if got is None else repr(got)
            return [Finding(requirement, f"{header} sent as {sent!r} came back {shown}", reading=reading)]
        return []

    return check


# --- errors -----------------------------------------------------------------------------------------------
def spine_codes(ex: Exchange) -> list[str]:
    """The error codes in issue[].details.coding[].code, whatever their system (UP-ERROR-SYSTEM)."""
    try:
        body = ex.json
    except BodyNotJson:
        return []
    if not isinstance(body, dict):
        return []
    return [str(c.get("code")) for i in body.get("issue") or [] if isinstance(i, dict)
            for c in ((i.get("details") or {}).get("coding") or []) if isinstance(c, dict) and c.get("code")]


def error(status_: int | Collection[int], code: str | Collection[str], requirement: str,
          reading: str | None = None) -> Check:
    """An error answer: this status and an OperationOutcome carrying this Spine code."""
    statuses = {status_} if isinstance(status_, int) else set(status_)
    codes = {code} if isinstance(code, str) else set(code)

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        found = spine_codes(ex)
        want = f"{'/'.join(map(str, sorted(statuses)))} {'/'.join(sorted(codes))}"
        if ex.status not in statuses or not codes & set(found):
            got = "/".join(found) or "no error code"
            return [Finding(requirement, f"expected {want}; got HTTP {ex.status} with {got}", reading=reading)]
        return []

    return check


def rejection_text(body: Any) -> list[str]:
    """PFS-UP-045: a refusal carries a reason for the patient in issue[].details.text."""
    issues = body.get("issue") if isinstance(body, dict) else None
    texts = [((i.get("details") or {}).get("text")) for i in issues or [] if isinstance(i, dict)]
    if not any(isinstance(t, str) and t.strip() for t in texts):
        return ["the refusal has no issue[].details.text to show the patient"]
    return []


# --- rules over a GET body --------------------------------------------------------------------------------
def effective_date_not_future(body: Any, today: dt.date | None = None) -> list[str]:
    """PFS-UP-023: effectiveDate is not after today (UTC, one day of grace: reading UP-TODAY)."""
    value = ((body or {}).get("medicalRecord") or {}).get("effectiveDate") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return []  # absence and format are PFS-UP-022's
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        return []
    limit = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    if date > limit:
        return [f"effectiveDate {value} is in the future"]
    return []


def max_not_below_level(body: Any) -> list[str]:
    """PFS-UP-028 (reading UP-MAX-ORDER): each accessLevelMax is at least the accessLevel held."""
    out = []
    for target in lv.TARGETS["legacy"]:
        have, top = lv.level_of(body, target), lv.level_of(body, target, "accessLevelMax")
        if have is None or top is None or lv.rank(target, have) < 0 or lv.rank(target, top) < 0:
            continue
        if lv.rank(target, top) < lv.rank(target, have):
            out.append(f"{lv.label(target)}: accessLevelMax {top!r} is below the accessLevel {have!r} held")
    return out


def levels_differ(body: Any, expected: dict[str, str], version: str) -> list[str]:
    """Where the body's levels differ from `expected` (keys current/historical/prescriptions/appointments)."""
    out = []
    for target in lv.TARGETS[version]:
        key, got = lv.KEYS[target], lv.level_of(body, target)
        # A missing permission or a level outside the enumeration is another requirement's finding.
        if key not in expected or got is None or lv.rank(target, got) < 0:
            continue
        if got != expected[key]:
            out.append(f"{lv.label(target)} is {got!r}, expected {expected[key]!r}")
    return out


def same_json(a: Exchange, b: Exchange) -> bool:
    """Both bodies parse to the same JSON value (bodies that do not parse are another check's finding)."""
    try:
        return bool(a.json == b.json)
    except BodyNotJson:
        return True


def is_json(ex: Exchange) -> bool:
    try:
        ex.json  # noqa: B018 - parsing is the question
    except BodyNotJson:
        return False
    return True
