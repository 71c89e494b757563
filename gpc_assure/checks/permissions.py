"""Checks of the Patient Facing User Permissions API: bodies against our OpenAPI description, errors, headers.

Every check is a `Check` (gpc_assure.checks.core): one requirement, a rule, what it needs. Schema
problems are attributed to the requirement they break by where they are in the body (`route`): a
missing `prescriptions` is PFS-UP-020, a level outside the enumeration PFS-UP-025/026/027, a missing
accessLevelMax PFS-UP-028, anything in requests[] PFS-UP-029, and so on; a check built for one of
them judges only that one, and is not judged when the body holds nothing of the kind (no requests[]
to validate, no appointments permission to read a level from).

A permissions body names no patient, so whose permissions it holds is told from its levels: the
`own_permissions` check compares them with the levels the target declares the patient holds
(permissions.patients.<role>.expect) and speaks for PFS-UP-036. Tests read a patient's permissions
through it first (gpc_assure.plugins.permissions.read_own), so an answer about someone else, or one
fixed example for everybody, leaves the other rules not judged.

Rules over a parsed body are plain functions returning problem strings (raising NotJudged when the
body holds nothing they judge), reusable by a consumer suite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from jsonschema.exceptions import ValidationError

from gpc_assure.checks.core import JSON, Check, Finding, Guard, NotJudged, body_json, condition, status_in
from gpc_assure.checks.resources import body_rule
from gpc_assure.fhir import uktime
from gpc_assure.pfs import levels as lv
from gpc_assure.pfs import openapi
from gpc_assure.transport.exchange import BodyNotJson, Exchange

GET_OK = "PFS-UP-001"
POST_OK = "PFS-UP-002"
ERROR_BODY = "PFS-UP-034"
HOLDS = "PFS-UP-036"
ABOUT_REQUEST = "PFS-UP-041"
TOP_LEVEL = {"current": "PFS-UP-020", "legacy": "PFS-UP-021"}
LEVEL_ENUM = {"medicalRecord": "PFS-UP-025", "prescriptions": "PFS-UP-026", "appointments": "PFS-UP-027"}
RECORD_SHAPE = "PFS-UP-022"
MAX_PRESENT = "PFS-UP-028"
PENDING = "PFS-UP-029"


# --- preconditions ------------------------------------------------------------------------------------
def _status(ex: Exchange) -> int:
    assert ex.response is not None  # a Check judges no exchange without a response
    return ex.response.status


OK = status_in(200)
OBJECT = Guard("a JSON object", lambda ex: None if isinstance(body_json(ex), dict)
               else f"the body is not a JSON object ({ex.describe()})")
REFUSAL = Guard("a refusal (4xx)", lambda ex: None if 400 <= _status(ex) < 500
                else f"the request was not refused with a 4xx ({ex.describe()})")
UPDATE_ANSWER = condition("an answer about a request (with a status)",
                          lambda ex: isinstance(body_json(ex), dict) and "status" in body_json(ex),
                          "the answer does not describe a request: it has no status")


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


# What each requirement's part of the PatientPermission schema is, in plain words (the checks' names).
PERMISSIONS_RULES = {
    GET_OK: "the body is a permissions object valid against the description",
    "PFS-UP-020": "the body has a medicalRecord and a prescriptions permission",
    "PFS-UP-021": "the body has a medicalRecord, an appointments and a prescriptions permission",
    RECORD_SHAPE: "medicalRecord has a YYYY-MM-DD effectiveDate and a current level",
    "PFS-UP-025": "every medical record level is none, summary, detailed, documents or full",
    "PFS-UP-026": "every prescriptions level is none, view or manage",
    "PFS-UP-027": "every appointments level is none, view or manage",
    MAX_PRESENT: "every permission carries an accessLevelMax",
    PENDING: "every pending request in requests[] is complete and valid",
}


def nothing_to_judge(body: dict[str, Any], requirement: str, version: str) -> str | None:
    """Why a permissions body holds nothing `requirement`'s part of the schema is about, or None."""
    record = body.get("medicalRecord")
    if requirement == RECORD_SHAPE and "medicalRecord" not in body:
        return "the body has no medicalRecord (that is PFS-UP-020/021's finding)"
    has_record_level = isinstance(record, dict) and ("current" in record or "historical" in record)
    if requirement == "PFS-UP-025" and not has_record_level:
        return "the body has no medical record permission to read a level from"
    for requirement_, key in (("PFS-UP-026", "prescriptions"), ("PFS-UP-027", "appointments")):
        if requirement == requirement_ and key not in body:
            return f"the body has no {key} permission to read a level from"
    if requirement == MAX_PRESENT and not any(lv.item(body, t) for t in lv.TARGETS[version]):
        return "the body holds no permission to read an accessLevelMax from"
    if requirement == PENDING and not lv.pending(body):
        return "the body lists no pending requests in requests[] to validate"
    return None


def valid_permissions(version: str, requirement: str) -> Check:
    """A 200 GET body is valid against the version's PatientPermission, as far as `requirement` goes.

    For PFS-UP-001 a body that is not a JSON object is the finding; for the others it leaves them not
    judged (PFS-UP-001 judges it), as does a body without the part they are about.
    """
    if requirement not in PERMISSIONS_RULES:
        raise ValueError(f"no part of the permissions schema is routed to {requirement}")

    def rule(ex: Exchange) -> list[Finding]:
        body = ex.json
        if requirement != GET_OK and (why := nothing_to_judge(body, requirement, version)):
            raise NotJudged(why)
        return [Finding("", f.message) for f in schema_findings(body, version, "permissions", {requirement})]

    needs = (OK, JSON) if requirement == GET_OK else (OK, OBJECT)
    return Check(requirement, rule, PERMISSIONS_RULES[requirement], needs=needs)


def permissions_answer(requirement: str = GET_OK) -> Check:
    """PFS-UP-001: the GET was answered 200 with a JSON object (what it holds is the other checks')."""

    def rule(ex: Exchange) -> list[str]:
        if _status(ex) != 200:
            return [f"HTTP {_status(ex)}{_codes(ex)}, expected 200 with the patient's permissions"]
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [f"HTTP 200, but {exc}"]
        if not isinstance(body, dict):
            return [f"HTTP 200, but the body is {_json_kind(body)}, not a JSON object of permissions"]
        return []

    return Check(requirement, rule, "answered HTTP 200 with a JSON object")


def valid_update_response(version: str = "legacy", requirement: str = POST_OK) -> Check:
    """PFS-UP-002: a 200 POST answer is a valid update response (the request, status, createdDateTime, message)."""

    def rule(ex: Exchange) -> list[str]:
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [f"HTTP 200, but {exc}"]
        return [f.message for f in schema_findings(body, version, "update", {requirement})]

    return Check(requirement, rule, "the answer is a valid update response: the request's fields, status 'pending', "
                                    "a createdDateTime and a message", needs=(OK,))


def valid_error(version: str, requirement: str = ERROR_BODY) -> Check:
    """PFS-UP-034: a 4xx answer's body is a valid ErrorResponse (an OperationOutcome with meta.lastUpdated)."""

    def rule(ex: Exchange) -> list[str]:
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [f"HTTP {_status(ex)}: the error body is not an OperationOutcome: {exc}"]
        return [f.message for f in schema_findings(body, version, "error", {requirement})]

    return Check(requirement, rule, "the error body is a valid ErrorResponse OperationOutcome", needs=(REFUSAL,))


# --- HTTP -------------------------------------------------------------------------------------------------
def _want(statuses: Collection[int]) -> str:
    return " or ".join(map(str, sorted(statuses)))


def status(expected: int | Collection[int], requirement: str, reading: str | None = None) -> Check:
    allowed = {expected} if isinstance(expected, int) else set(expected)
    want = _want(allowed)

    def rule(ex: Exchange) -> list[str]:
        if _status(ex) not in allowed:
            return [f"HTTP {_status(ex)}{_codes(ex)}, expected {want}"]
        return []

    return Check(requirement, rule, f"answered HTTP {want}", reading=reading)


def refused(requirement: str, statuses: Collection[int] | None = None, reading: str | None = None) -> Check:
    """The request was refused: a 4xx (or one of `statuses`), never a 2xx, 3xx or 5xx."""
    want = _want(statuses) if statuses else "a 4xx"

    def rule(ex: Exchange) -> list[str]:
        got = _status(ex)
        ok = got in statuses if statuses else 400 <= got < 500
        if not ok:
            return [f"HTTP {got}{_codes(ex)}, expected the request to be refused with {want}"]
        return []

    return Check(requirement, rule, f"the request was refused with {want}", reading=reading)


def media_type(expected: str, requirement: str, *needs: Guard) -> Check:
    """The response's Content-Type is this media type (parameters such as charset allowed)."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        ctype = ex.response.header("Content-Type")
        if (ctype or "").split(";")[0].strip().lower() != expected:
            return [f"HTTP {_status(ex)} Content-Type is {ctype or 'absent'}, expected {expected}"]
        return []

    return Check(requirement, rule, f"Content-Type is {expected}", needs=tuple(needs))


def echoed(header: str, requirement: str, reading: str | None = None) -> Check:
    """The response carries the request's header, unchanged (judged when the request sent it)."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        sent = ex.request.header(header)
        if sent is None:
            raise NotJudged(f"the request sent no {header} ({ex.describe()})")
        got = ex.response.header(header)
        if got != sent:
            return [f"{header} sent as {sent} came back {'absent' if got is None else 'as ' + got}"]
        return []

    return Check(requirement, rule, f"{header} came back unchanged", reading=reading)


# --- errors -----------------------------------------------------------------------------------------------
def spine_codes(ex: Exchange) -> list[str]:
    """The error codes in issue[].details.coding[].code, whatever their system (UP-ERROR-SYSTEM)."""
    body = body_json(ex)
    if not isinstance(body, dict):
        return []
    return [str(c.get("code")) for i in body.get("issue") or [] if isinstance(i, dict)
            for c in ((i.get("details") or {}).get("coding") or []) if isinstance(c, dict) and c.get("code")]


def _codes(ex: Exchange) -> str:
    codes = spine_codes(ex)
    return f" ({', '.join(codes)})" if codes else ""


def error(status_: int | Collection[int], code: str | Collection[str], requirement: str,
          reading: str | None = None) -> Check:
    """An error answer: this status and an OperationOutcome carrying this Spine code."""
    statuses = {status_} if isinstance(status_, int) else set(status_)
    codes = {code} if isinstance(code, str) else set(code)
    want = f"HTTP {'/'.join(map(str, sorted(statuses)))} {' or '.join(sorted(codes))}"

    def rule(ex: Exchange) -> list[str]:
        found = spine_codes(ex)
        if _status(ex) not in statuses or not codes & set(found):
            got = "/".join(found) or "no error code"
            return [f"expected {want}; got HTTP {_status(ex)} with {got}"]
        return []

    return Check(requirement, rule, f"refused with {want}", reading=reading)


def rejection_text(body: Any) -> list[str]:
    """PFS-UP-045: a refusal carries a reason for the patient in issue[].details.text."""
    issues = body.get("issue") if isinstance(body, dict) else None
    if not isinstance(issues, list) or not any(isinstance(i, dict) for i in issues):
        raise NotJudged("the refusal's body has no issue[] to read a reason from (PFS-UP-034 judges error bodies)")
    texts = [((i.get("details") or {}).get("text")) for i in issues if isinstance(i, dict)
             and isinstance(i.get("details") or {}, dict)]
    if not any(isinstance(t, str) and t.strip() for t in texts):
        return ["the refusal has no issue[].details.text to show the patient"]
    return []


def reason_given(requirement: str = "PFS-UP-045", reading: str | None = None) -> Check:
    return body_rule(rejection_text, requirement, reading=reading).needing(REFUSAL)


# --- rules over a GET body --------------------------------------------------------------------------------
def uk_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the UK (Europe/London) at `now` (an aware date-time; the clock when None)."""
    return (now or uktime.now()).astimezone(uktime.LONDON).date()


def effective_date_not_future(body: Any, now: dt.datetime | None = None) -> list[str]:
    """PFS-UP-023: medicalRecord.effectiveDate is not later than today's date in UK local time.

    Reading UP-TODAY: the UK date (Europe/London) at `now`, with no day of grace. Not judged when the
    body has no effectiveDate in the YYYY-MM-DD form (that is PFS-UP-022's finding).
    """
    record = body.get("medicalRecord") if isinstance(body, dict) else None
    value = record.get("effectiveDate") if isinstance(record, dict) else None
    if not isinstance(value, str):
        raise NotJudged("the body has no medicalRecord.effectiveDate (that is PFS-UP-022's finding)")
    try:
        if not uktime.DATE.match(value):
            raise ValueError(value)
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise NotJudged(f"effectiveDate {value} is not a YYYY-MM-DD date (that is PFS-UP-022's finding)") from None
    today = uk_today(now)
    if date > today:
        return [f"effectiveDate {value} is later than today's date in the UK ({today.isoformat()})"]
    return []


def max_not_below_level(body: Any) -> list[str]:
    """PFS-UP-028: each accessLevelMax is at least the accessLevel held.

    Reading UP-MAX-ORDER. Not judged when no permission has both a known level and a known maximum.
    """
    out = []
    judged = 0
    for target in lv.TARGETS["legacy"]:
        have, top = lv.level_of(body, target), lv.level_of(body, target, "accessLevelMax")
        if have is None or top is None or lv.rank(target, have) < 0 or lv.rank(target, top) < 0:
            continue
        judged += 1
        if lv.rank(target, top) < lv.rank(target, have):
            out.append(f"{lv.label(target)}: accessLevelMax {top} is below the accessLevel {have} held")
    if not judged:
        raise NotJudged("no permission in the body has both a known accessLevel and a known accessLevelMax")
    return out


def levels_differ(body: Any, expected: dict[str, str], version: str) -> list[str]:
    """Where the body's levels differ from `expected` (keys current/historical/prescriptions/appointments).

    A missing permission or a level outside the enumeration is another requirement's finding and is
    passed over; raises NotJudged when no expected level could be compared.
    """
    out = []
    compared = 0
    for target in lv.TARGETS[version]:
        key, got = lv.KEYS[target], lv.level_of(body, target)
        if key not in expected or got is None or lv.rank(target, got) < 0:
            continue
        compared += 1
        if got != expected[key]:
            out.append(f"the {lv.label(target)} level is {got}, expected {expected[key]}")
    if not compared:
        wanted = ", ".join(sorted(expected)) or "none declared"
        raise NotJudged(f"the body holds none of the permission levels to compare with the expected ones ({wanted})")
    return out


def levels_are(expected: dict[str, str], version: str, requirement: str, name: str,
               reading: str | None = None, lead: str = "") -> Check:
    """The body's permission levels are `expected` (each level the body has in the enumeration is compared)."""

    def rule(ex: Exchange) -> list[str]:
        return [lead + p for p in levels_differ(ex.json, expected, version)]

    return Check(requirement, rule, name, needs=(OK, OBJECT), reading=reading)


def own_permissions(expected: dict[str, str], version: str, requirement: str = HOLDS) -> Check:
    """Identity: the permissions returned are the ones the target declares the patient holds (PFS-UP-036)."""
    return levels_are(expected, version, requirement,
                      "the permissions returned are the ones the patient holds (the levels the target declares)",
                      lead="these are not the patient's permissions: ")


def describe_request(body: Any) -> str:
    """A request, pending entry or update answer in words: 'prescriptions at manage'."""
    if not isinstance(body, dict):
        return "no request"
    target = lv.target_of(body)
    level = body.get("accessLevel")
    if target is None:
        return "no permissionType"
    kind, record = target
    if kind == "medicalRecord" and record is None:
        what = "the medical record (no medicalRecordType)"
    else:
        what = lv.label(target)
    return f"{what} at {level if isinstance(level, str) else 'no accessLevel'}"


def answer_about_request(asked: dict[str, str], requirement: str = ABOUT_REQUEST) -> Check:
    """PFS-UP-041: the update answer names the permissionType, accessLevel (and medicalRecordType) asked for."""

    def rule(ex: Exchange) -> list[str]:
        body = ex.json
        got = {k: body.get(k) for k in asked}
        if got != asked:
            return [f"asked for {describe_request(asked)}, the answer is about {describe_request(body)}"]
        return []

    return Check(requirement, rule, "the answer is about the request that was made", needs=(OK, OBJECT, UPDATE_ANSWER))


def pending_listed(choice: tuple[lv.Target, str], requirement: str = "PFS-UP-048") -> Check:
    """PFS-UP-048: the GET lists the accepted request in requests[] with status 'pending'."""
    target, level = choice
    what = describe_request(lv.request_body(target, level))

    def rule(ex: Exchange) -> list[str]:
        listed = lv.pending_for(ex.json, target, level)
        if not listed:
            return [f"the accepted request for {what} is not listed in requests[]"]
        other = [str(e.get("status")) for e in listed if e.get("status") != "pending"]
        if other:
            return [f"the request for {what} is listed with status {other[0]}, not pending"]
        return []

    return Check(requirement, rule, "the accepted request is listed as pending in requests[]", needs=(OK, OBJECT))


def not_filed(choice: tuple[lv.Target, str], before: Any, requirement: str) -> Check:
    """A refused request does not show as pending afterwards (judged when it was not pending before)."""
    target, level = choice
    what = describe_request(lv.request_body(target, level))

    def rule(ex: Exchange) -> list[str]:
        if lv.pending_for(before, target, level):
            raise NotJudged(f"a request for {what} was already pending before, so whether the refused one was "
                            "filed cannot be told")
        if lv.pending_for(ex.json, target, level):
            return [f"the refused request for {what} shows as pending"]
        return []

    return Check(requirement, rule, "the refused request did not become a pending request", needs=(OK, OBJECT))


def same_json(a: Exchange, b: Exchange) -> bool:
    """Both bodies parse to the same JSON value (False when either does not parse)."""
    ja, jb = body_json(a), body_json(b)
    return ja is not None and ja == jb


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    return "JSON null" if value is None else "not a JSON object"
