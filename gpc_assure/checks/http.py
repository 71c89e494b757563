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


def error_status(requirement: str, reading: str | None = None) -> Check:
    """The request was refused: any 4xx or 5xx (where the spec names no particular status)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        if ex.response.status < 400:
            return [Finding(requirement, f"HTTP {ex.response.status}: the request was served, expected it to be "
                                         "refused with an error", reading=reading)]
        return []

    return check


def media_type(fmt: str, requirement: str) -> Check:
    """Content-Type names the formal FHIR media type of the format (application/fhir+json or +xml)."""
    media = FHIR_MEDIA[fmt]

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        ct = ex.response.header("Content-Type")
        base = (ct or "").split(";")[0].strip().lower()
        if base != media:
            return [Finding(requirement, f"Content-Type is {ct!r}, expected {media}")]
        return []

    return check


def body_format(ex: Exchange) -> str | None:
    """'json' or 'xml' when the body is a FHIR resource in that format, else None (whatever the headers say)."""
    if ex.response is None or ex.response.truncated or not ex.response.body:
        return None
    raw = ex.response.body.lstrip()
    if raw.startswith(b"{"):
        try:
            body = ex.json
        except BodyNotJson:
            return None
        return "json" if isinstance(body, dict) and isinstance(body.get("resourceType"), str) else None
    if raw.startswith(b"<"):
        return "xml" if fhir_xml_root(raw) else None
    return None


def fhir_xml_root(raw: bytes) -> str | None:
    """The resource type of a FHIR XML document (root element in the FHIR namespace), else None."""
    from lxml import etree

    try:
        root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    name = etree.QName(root)
    return name.localname if name.namespace == "http://hl7.org/fhir" else None


def in_format(fmt: str, requirement: str, reading: str | None = None) -> Check:
    """The body is a FHIR resource in this format (judged from the body; media_type judges the header)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        got = body_format(ex)
        if got != fmt:
            what = f"a FHIR {got.upper()} body" if got else "no FHIR resource body"
            return [Finding(requirement, f"expected a FHIR {fmt.upper()} body, got {what} (HTTP "
                                         f"{ex.response.status}, Content-Type {ex.response.header('Content-Type')!r})",
                            reading=reading)]
        if fmt == "xml":
            problems = _xml_problems(ex.response.body)
            if problems:
                return [Finding(requirement, f"the XML body is not valid FHIR STU3: {problems}", reading=reading)]
        return []

    return check


def _xml_problems(raw: bytes) -> str | None:
    from gpc_assure.fhir.parse import model_for

    rtype = fhir_xml_root(raw.lstrip())
    model = model_for(rtype) if rtype else None
    if model is None:
        return f"{rtype!r} is not an STU3 resource type this suite reads"
    try:
        model.model_validate_xml(raw)
    except Exception as exc:  # fhir.resources raises several types for bad XML
        return str(exc).splitlines()[0][:300]
    return None


_CHARSET = re.compile(r";\s*charset\s*=\s*\"?utf-8\"?\s*(;|$)", re.IGNORECASE)


def charset_utf8(requirement: str, reading: str | None = None) -> Check:
    """Content-Type declares charset=utf-8 (however spaced), and the body is valid UTF-8."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        if not ex.response.body:
            return []
        ct = ex.response.header("Content-Type") or ""
        out = []
        if not _CHARSET.search(ct):
            out.append(Finding(requirement, f"Content-Type {ct!r} does not declare charset=utf-8", reading=reading))
        try:
            ex.response.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(Finding(requirement, f"the body is not valid UTF-8 ({exc.reason} at byte {exc.start})"))
        return out

    return check


def charset_unspaced(requirement: str, reading: str | None = None) -> Check:
    """The charset parameter is written ';charset=utf-8', with no whitespace (judged when it is there)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        ct = ex.response.header("Content-Type") or ""
        if _CHARSET.search(ct) and not re.search(r";charset=utf-8", ct, re.IGNORECASE):
            return [Finding(requirement, f"Content-Type {ct!r} should read ';charset=utf-8' without spaces",
                            reading=reading)]
        return []

    return check


def gzip_encoded(requirement: str) -> Check:
    """The response body was sent gzip-compressed (Content-Encoding: gzip)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        codings = [c.strip().lower() for v in ex.response.header_values("Content-Encoding") for c in v.split(",")]
        if "gzip" not in codings:
            shown = ", ".join(codings) or "none"
            return [Finding(requirement, f"Accept-Encoding: gzip was sent but the body was not gzip-compressed "
                                         f"(Content-Encoding: {shown})")]
        return []

    return check


def strict_transport_security(requirement: str) -> Check:
    """An HTTPS response carries Strict-Transport-Security with a positive max-age (RFC 6797)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        value = ex.response.header("Strict-Transport-Security")
        if not value:
            return [Finding(requirement, "no Strict-Transport-Security header on an HTTPS response")]
        m = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
        if not m or int(m.group(1)) <= 0:
            return [Finding(requirement, f"Strict-Transport-Security {value!r} has no positive max-age")]
        return []

    return check


BEARER_ERRORS = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})


def bearer_challenge(requirement: str, error_code: bool = True, reading: str | None = None) -> Check:
    """RFC 6750 §3.1: the refusal carries WWW-Authenticate with the Bearer scheme and, when a token was
    sent, one of the bearer error codes (judged only on error responses)."""

    def check(ex: Exchange) -> list[Finding]:
        if missing := no_response(ex, requirement):
            return missing
        assert ex.response is not None
        if ex.response.status < 400:
            return []
        values = ex.response.header_values("WWW-Authenticate")
        bearer = [v for v in values if v.strip().lower().startswith("bearer")]
        if not bearer:
            shown = "; ".join(values) or "absent"
            return [Finding(requirement, f"a refused token needs a WWW-Authenticate: Bearer challenge (was: {shown})",
                            reading=reading)]
        if error_code:
            codes = set(re.findall(r'error\s*=\s*"?([a-z_]+)', " ".join(bearer)))
            if not codes & BEARER_ERRORS:
                return [Finding(requirement, f"WWW-Authenticate {bearer[0]!r} should carry error=\"invalid_request\" "
                                             "or error=\"invalid_token\"", reading=reading)]
        return []

    return check
