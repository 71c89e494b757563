"""OperationOutcome checks: the shape every GP Connect error takes, and the code each case demands."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from gpc_assure.checks.core import ERROR, Check, Finding, Guard, NotJudged, status_in
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.fhir.terminology import ISSUE_TYPES, SPINE_ERROR_DISPLAY, SPINE_ERROR_SYSTEM
from gpc_assure.transport.exchange import BodyNotJson, Exchange


def outcome_shape(body: Any, requirement: str = "GEN-ERR-001") -> list[Finding]:
    """GEN-ERR-001: profile, severity, issue type, Spine code with its display, diagnostics."""
    problems = validate_structure(body, "OperationOutcome")
    if problems:
        return [Finding(requirement, f"error body is not a valid OperationOutcome: {problems[0]}")]
    out: list[Finding] = []
    profile = (body.get("meta") or {}).get("profile") or []
    if profiles.OPERATION_OUTCOME not in profile:
        out.append(Finding(requirement, f"meta.profile must include {profiles.OPERATION_OUTCOME}",
                           path="meta.profile"))
    issues = body.get("issue") or []
    for n, issue in enumerate(issues):
        where = f"issue[{n}]"
        if issue.get("severity") != "error":
            out.append(Finding(requirement, f"severity is {issue.get('severity')!r}, expected 'error'", path=where))
        if issue.get("code") not in ISSUE_TYPES:
            out.append(Finding(requirement, f"code {issue.get('code')!r} is not an IssueType", path=where))
        codings = (issue.get("details") or {}).get("coding") or []
        spine = [c for c in codings if c.get("system") == SPINE_ERROR_SYSTEM]
        if not spine:
            out.append(Finding(requirement, f"details.coding has no coding with system {SPINE_ERROR_SYSTEM}",
                               path=where))
        for c in spine:
            code, display = c.get("code"), c.get("display")
            if code not in SPINE_ERROR_DISPLAY:
                out.append(Finding(requirement, f"{code!r} is not a Spine-ErrorOrWarningCode-1 code", path=where))
            elif display != SPINE_ERROR_DISPLAY[code]:
                out.append(Finding(requirement, f"display for {code} is {display!r}, expected "
                                                f"{SPINE_ERROR_DISPLAY[code]!r}", path=where))
    return out


def spine_codes(body: Any) -> list[str]:
    return [
        c.get("code")
        for issue in (body.get("issue") or []) if isinstance(issue, dict)
        for c in ((issue.get("details") or {}).get("coding") or []) if isinstance(c, dict)
        if c.get("system") == SPINE_ERROR_SYSTEM
    ]


def operation_outcome(
    status: int | Collection[int],
    code: str | Collection[str],
    requirement: str,
    issue_code: str | Collection[str] | None = None,
    reading: str | None = None,
    diagnostics_required: bool = False,
) -> Check:
    """An error response: the HTTP status, the Spine error code and (optionally) the issue type.

    Where the spec allows more than one answer (readings recorded in the catalogue), pass all
    accepted values; the finding names the reading so the report can show it.
    """
    statuses = {status} if isinstance(status, int) else set(status)
    codes = {code} if isinstance(code, str) else set(code)
    issue_codes = None if issue_code is None else ({issue_code} if isinstance(issue_code, str) else set(issue_code))

    want = f"{'/'.join(map(str, sorted(statuses)))} {'/'.join(sorted(codes))}"

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [f"expected {want} with an OperationOutcome; HTTP {ex.response.status} and {exc}"]
        out: list[str] = []
        if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
            rtype = body.get("resourceType") if isinstance(body, dict) else "JSON that is not a FHIR resource"
            return [f"expected {want} with an OperationOutcome; got HTTP {ex.response.status} with "
                    f"{rtype or 'JSON that is not a FHIR resource'}"]
        found = spine_codes(body)
        if ex.response.status not in statuses or not codes.intersection(found):
            out.append(f"expected {want}; got {ex.response.status} {'/'.join(map(str, found)) or '(no Spine code)'}")
        if issue_codes is not None:
            got = {i.get("code") for i in body.get("issue") or [] if isinstance(i, dict)}
            if not issue_codes & got:
                out.append(f"issue.code {sorted(map(str, got))} should be {' or '.join(sorted(issue_codes))}")
        if diagnostics_required and not any(
            isinstance(i, dict) and i.get("diagnostics") for i in body.get("issue") or []
        ):
            out.append("diagnostics must say what was wrong")
        return out

    return Check(requirement, rule, f"refused with HTTP {want} in an OperationOutcome", reading=reading)


def valid_outcome(requirement: str = "GEN-ERR-001") -> Check:
    """Whatever the error, its body is a well-formed GP Connect OperationOutcome."""

    def rule(ex: Exchange) -> list[Finding]:
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [Finding("", f"error response has no OperationOutcome: {exc}")]
        return outcome_shape(body, "")

    return Check(requirement, rule, "the error body is a well-formed GP Connect OperationOutcome", needs=(ERROR,))


# Statuses the error-handling page defines a Spine error code for: these always carry an
# OperationOutcome. Other 4xx/5xx (405, 411, 415...) may carry one but need not (general guidance).
OUTCOME_STATUSES = frozenset({400, 403, 404, 409, 422, 500, 501})


def body_as_json(ex: Exchange) -> Any:
    """The body as JSON-shaped data, from FHIR JSON or FHIR XML; None when it is neither."""
    if ex.response is None or not ex.response.body or ex.response.truncated:
        return None
    try:
        return ex.json
    except BodyNotJson:
        pass
    from gpc_assure.checks.http import fhir_xml_root
    from gpc_assure.fhir.parse import model_for

    rtype = fhir_xml_root(ex.response.body.lstrip())
    model = model_for(rtype) if rtype else None
    if model is None:
        return None
    try:
        return json.loads(model.model_validate_xml(ex.response.body).model_dump_json(exclude_none=True))
    except Exception:  # not valid FHIR XML: reported as having no OperationOutcome
        return None


def _outcome_body(ex: Exchange) -> dict[str, Any] | None:
    body = body_as_json(ex)
    return body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None


OUTCOME = Guard("an OperationOutcome body",
                lambda ex: None if _outcome_body(ex) is not None else
                f"the error body is not an OperationOutcome ({ex.describe()})")


def error_outcome(requirement: str = "GEN-ERR-001a", reading: str | None = None) -> Check:
    """An error response carries a well-formed GP Connect OperationOutcome (JSON or XML).

    Judged for every status the error page gives a Spine code; for other errors only when a body
    claims to be an OperationOutcome. Successful responses are not judged (other checks say why
    the request should have failed).
    """

    def rule(ex: Exchange) -> list[Finding]:
        assert ex.response is not None
        st = ex.response.status
        body = _outcome_body(ex)
        if body is None:
            if st in OUTCOME_STATUSES:
                return [Finding("", f"HTTP {st} error without a GP Connect OperationOutcome body")]
            raise NotJudged(f"an HTTP {st} need not carry an OperationOutcome, and this one does not "
                            f"({ex.describe()})")
        return outcome_shape(body, "")

    return Check(requirement, rule, "the error carries a well-formed GP Connect OperationOutcome", needs=(ERROR,),
                 reading=reading)


def code_when(status: int, code: str | Collection[str], requirement: str,
              issue_code: str | Collection[str] | None = None, reading: str | None = None) -> Check:
    """When the answer has this status, its Spine code (and issue type) is the catalogue's for it.

    The case's own requirement judges whether that status was right; this judges only the code
    that goes with it, so a wrong status and a wrong code are reported against different rows.
    """
    inner = operation_outcome(status, code, requirement, issue_code=issue_code, reading=reading)
    return inner.needing(status_in(status))


def diagnostics(requirement: str, statuses: Collection[int] | None = None, exclude: Collection[int] = (),
                reading: str | None = None) -> Check:
    """An error OperationOutcome says in diagnostics what was wrong (judged for the given statuses)."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        st = ex.response.status
        if st in exclude or (statuses is not None and st not in statuses):
            raise NotJudged(f"diagnostics are judged here for HTTP {_which(statuses, exclude)}, and the answer was "
                            f"HTTP {st} ({ex.describe()})")
        body = _outcome_body(ex)
        assert body is not None
        if not any(isinstance(i, dict) and str(i.get("diagnostics") or "").strip() for i in body.get("issue") or []):
            return [f"the HTTP {st} OperationOutcome has no diagnostics saying what was wrong"]
        return []

    return Check(requirement, rule, f"the HTTP {_which(statuses, exclude)} OperationOutcome has diagnostics",
                 needs=(ERROR, OUTCOME), reading=reading)


def _which(statuses: Collection[int] | None, exclude: Collection[int]) -> str:
    if statuses is not None:
        return "/".join(map(str, sorted(statuses)))
    return "4xx/5xx" + (f" other than {'/'.join(map(str, sorted(exclude)))}" if exclude else "")
