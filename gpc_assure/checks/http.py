"""HTTP-level checks: status, caching, content type, ETag, Location."""

from __future__ import annotations

import re
from collections.abc import Collection

from gpc_assure.findings import Check, Finding
from gpc_assure.transport.exchange import BodyNotJson, Exchange


def no_response(exchange: Exchange, requirement: str) -> list[Finding]:
    """The finding every check gives when there is no response to judge."""
    if exchange.response is None:
        return [Finding(requirement, f"no response to judge: {exchange.error}")]
    return []


def status(expected: int | Collection[int], requirement: str, reading: str | None = None) -> Check:
    allowed = {expected} if isinstance(expected, int) else set(expected)

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        if ex.response.status not in allowed:
            want = " or ".join(str(s) for s in sorted(allowed))
            detail = _outcome_summary(ex)
            return [Finding(requirement, f"HTTP status {ex.response.status}, expected {want}{detail}",
                            reading=reading)]
        return []

    return check


def _outcome_summary(ex: Exchange) -> str:
    try:
        body = ex.json
    except BodyNotJson:
        return ""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        codes = [
            c.get("code")
            for issue in body.get("issue", []) if isinstance(issue, dict)
            for c in (issue.get("details") or {}).get("coding", []) if isinstance(c, dict)
        ]
        diag = [str(i.get("diagnostics")) for i in body.get("issue", [])
                if isinstance(i, dict) and i.get("diagnostics")]
        return f" (OperationOutcome {', '.join(map(str, codes)) or 'without a code'}" + (
            f": {diag[0][:200]})" if diag else ")")
    return ""


def cache_control_no_store(requirement: str = "GEN-HTTP-001") -> Check:
    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        values = ex.response.header_values("Cache-Control")
        directives = {d.strip().lower() for v in values for d in v.split(",")}
        if "no-store" not in directives:
            shown = "; ".join(values) if values else "absent"
            return [Finding(requirement, f"Cache-Control must include no-store (was: {shown}) "
                                         f"on HTTP {ex.response.status}")]
        return []

    return check


FHIR_MEDIA = {"json": "application/fhir+json", "xml": "application/fhir+xml"}


def content_type(fmt: str = "json", requirement: str = "GEN-CT-002", charset_requirement: str | None = None) -> Check:
    """The response is in the negotiated FHIR format (and, if asked, declares charset=utf-8 as GP Connect writes it)."""
    media = FHIR_MEDIA[fmt]

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        ct = ex.response.header("Content-Type")
        if not ct:
            return [Finding(requirement, f"no Content-Type header; expected {media}")]
        base = ct.split(";")[0].strip().lower()
        out = []
        if base != media:
            out.append(Finding(requirement, f"Content-Type is {ct!r}, expected {media}"))
        if charset_requirement:
            if not re.search(r";charset=utf-8\b", ct, re.IGNORECASE):
                out.append(Finding(charset_requirement,
                                   f"Content-Type {ct!r} should carry ';charset=utf-8' with no space before "
                                   "charset", reading="D-14: the no-space form the general guidance gives"))
        if fmt == "json" and base == media:
            try:
                ex.json  # noqa: B018 - parsing is the check
            except BodyNotJson as exc:
                out.append(Finding(requirement, f"declared JSON but {exc}"))
        if fmt == "xml" and base == media:
            body = ex.response.body.lstrip()
            if not body.startswith(b"<"):
                out.append(Finding(requirement, "declared XML but the body does not start with '<'"))
        return out

    return check


def etag_matches_version(requirement: str = "GEN-HTTP-002") -> Check:
    """ETag: W/"<versionId>" where versionId is the returned resource's meta.versionId."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        etag = ex.response.header("ETag")
        if not etag:
            return [Finding(requirement, "no ETag header on a returned resource")]
        m = re.fullmatch(r'W/"([^"]+)"', etag.strip())
        if not m:
            return [Finding(requirement, f'ETag {etag!r} is not of the form W/"<versionId>"')]
        try:
            body = ex.json
        except BodyNotJson as exc:
            return [Finding(requirement, str(exc))]
        version = (body.get("meta") or {}).get("versionId") if isinstance(body, dict) else None
        if version is not None and m.group(1) != str(version):
            return [Finding(requirement, f"ETag version {m.group(1)!r} differs from meta.versionId {version!r}")]
        return []

    return check
