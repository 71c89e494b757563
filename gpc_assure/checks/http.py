"""HTTP-level checks: status, caching, content type, ETag, Location."""

from __future__ import annotations

import re
from collections.abc import Collection

from gpc_assure.checks.core import ERROR, FHIR_JSON, Check, NotJudged, condition
from gpc_assure.transport.exchange import BodyNotJson, Exchange, RecordedResponse


def _response(ex: Exchange) -> RecordedResponse:
    assert ex.response is not None  # a Check judges no exchange without a response
    return ex.response


BODY = condition("a response body", lambda ex: bool(_response(ex).body) and not _response(ex).truncated,
                 "the response has no body")


def status(expected: int | Collection[int], requirement: str, reading: str | None = None) -> Check:
    allowed = {expected} if isinstance(expected, int) else set(expected)
    want = " or ".join(str(s) for s in sorted(allowed))

    def rule(ex: Exchange) -> list[str]:
        got = _response(ex).status
        if got not in allowed:
            return [f"HTTP status {got}, expected {want}{_outcome_summary(ex)}"]
        return []

    return Check(requirement, rule, f"answered HTTP {want}", reading=reading)


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
    def rule(ex: Exchange) -> list[str]:
        values = _response(ex).header_values("Cache-Control")
        directives = {d.strip().lower() for v in values for d in v.split(",")}
        if "no-store" not in directives:
            shown = "; ".join(values) if values else "absent"
            return [f"Cache-Control must include no-store (was: {shown}) on HTTP {_response(ex).status}"]
        return []

    return Check(requirement, rule, "Cache-Control includes no-store")


FHIR_MEDIA = {"json": "application/fhir+json", "xml": "application/fhir+xml"}


def etag_matches_version(requirement: str = "GEN-HTTP-002") -> Check:
    """ETag: W/"<versionId>" where versionId is the returned resource's meta.versionId."""

    def rule(ex: Exchange) -> list[str]:
        etag = _response(ex).header("ETag")
        if not etag:
            return ["no ETag header on a returned resource"]
        m = re.fullmatch(r'W/"([^"]+)"', etag.strip())
        if not m:
            return [f'ETag {etag!r} is not of the form W/"<versionId>"']
        body = ex.json
        version = (body.get("meta") or {}).get("versionId")
        if version is None:
            raise NotJudged("the returned resource has no meta.versionId to compare the ETag with")
        if m.group(1) != str(version):
            return [f"ETag version {m.group(1)!r} differs from meta.versionId {version!r}"]
        return []

    return Check(requirement, rule, "ETag is W/\"<meta.versionId>\" of the returned resource",
                 needs=(FHIR_JSON,))


def error_status(requirement: str, reading: str | None = None) -> Check:
    """The request was refused: any 4xx or 5xx (where the spec names no particular status)."""

    def rule(ex: Exchange) -> list[str]:
        if _response(ex).status < 400:
            return [f"HTTP {_response(ex).status}: the request was served, expected it to be refused with an error"]
        return []

    return Check(requirement, rule, "the request was refused with a 4xx or 5xx", reading=reading)


def media_type(fmt: str, requirement: str) -> Check:
    """Content-Type names the formal FHIR media type of the format (application/fhir+json or +xml)."""
    media = FHIR_MEDIA[fmt]

    def rule(ex: Exchange) -> list[str]:
        ct = _response(ex).header("Content-Type")
        base = (ct or "").split(";")[0].strip().lower()
        if base != media:
            shown = repr(ct) if ct else "absent"
            return [f"Content-Type is {shown}, expected {media}"]
        return []

    return Check(requirement, rule, f"Content-Type is {media}", needs=(BODY,))


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

    def rule(ex: Exchange) -> list[str]:
        got = body_format(ex)
        if got != fmt:
            what = f"a FHIR {got.upper()} body" if got else "no FHIR resource body"
            ct = _response(ex).header("Content-Type")
            return [f"expected a FHIR {fmt.upper()} body, got {what} (HTTP {_response(ex).status}, Content-Type "
                    f"{repr(ct) if ct else 'absent'})"]
        if fmt == "xml":
            problems = _xml_problems(_response(ex).body)
            if problems:
                return [f"the XML body is not valid FHIR STU3: {problems}"]
        return []

    return Check(requirement, rule, f"the body is a FHIR resource in {fmt.upper()}", reading=reading)


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

    def rule(ex: Exchange) -> list[str]:
        ct = _response(ex).header("Content-Type") or ""
        out = []
        if not _CHARSET.search(ct):
            out.append(f"Content-Type {repr(ct) if ct else '(absent)'} does not declare charset=utf-8")
        try:
            _response(ex).body.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(f"the body is not valid UTF-8 ({exc.reason} at byte {exc.start})")
        return out

    return Check(requirement, rule, "Content-Type declares charset=utf-8 and the body is UTF-8", needs=(BODY,),
                 reading=reading)


def charset_unspaced(requirement: str, reading: str | None = None) -> Check:
    """The charset parameter is written ';charset=utf-8', with no whitespace (judged when it is there)."""

    def rule(ex: Exchange) -> list[str]:
        ct = _response(ex).header("Content-Type") or ""
        if not _CHARSET.search(ct):
            raise NotJudged(f"Content-Type {repr(ct) if ct else '(absent)'} declares no charset to judge the "
                            f"spelling of ({ex.describe()})")
        if not re.search(r";charset=utf-8", ct, re.IGNORECASE):
            return [f"Content-Type {ct!r} should read ';charset=utf-8' without spaces"]
        return []

    return Check(requirement, rule, "the charset parameter is written ';charset=utf-8'", needs=(BODY,),
                 reading=reading)


def gzip_encoded(requirement: str) -> Check:
    """The response body was sent gzip-compressed (Content-Encoding: gzip)."""

    def rule(ex: Exchange) -> list[str]:
        codings = [c.strip().lower() for v in _response(ex).header_values("Content-Encoding") for c in v.split(",")]
        if "gzip" not in codings:
            shown = ", ".join(codings) or "none"
            return [f"Accept-Encoding: gzip was sent but the body was not gzip-compressed "
                    f"(Content-Encoding: {shown})"]
        return []

    return Check(requirement, rule, "the body was sent gzip-compressed", needs=(BODY,))


def strict_transport_security(requirement: str) -> Check:
    """An HTTPS response carries Strict-Transport-Security with a positive max-age (RFC 6797)."""

    def rule(ex: Exchange) -> list[str]:
        value = _response(ex).header("Strict-Transport-Security")
        if not value:
            return ["no Strict-Transport-Security header on an HTTPS response"]
        m = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
        if not m or int(m.group(1)) <= 0:
            return [f"Strict-Transport-Security {value!r} has no positive max-age"]
        return []

    https = condition("an HTTPS response", lambda ex: ex.request.url.lower().startswith("https://"),
                      "the request was not made over HTTPS")
    return Check(requirement, rule, "Strict-Transport-Security with a positive max-age", needs=(https,))


BEARER_ERRORS = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})


def bearer_challenge(requirement: str, error_code: bool = True, reading: str | None = None) -> Check:
    """RFC 6750 §3.1: the refusal carries WWW-Authenticate with the Bearer scheme and, when a token was
    sent, one of the bearer error codes (judged only on error responses)."""

    def rule(ex: Exchange) -> list[str]:
        values = _response(ex).header_values("WWW-Authenticate")
        bearer = [v for v in values if v.strip().lower().startswith("bearer")]
        if not bearer:
            shown = "; ".join(values) or "absent"
            return [f"a refused token needs a WWW-Authenticate: Bearer challenge (was: {shown})"]
        if error_code:
            codes = set(re.findall(r'error\s*=\s*"?([a-z_]+)', " ".join(bearer)))
            if not codes & BEARER_ERRORS:
                return [f"WWW-Authenticate {bearer[0]!r} should carry error=\"invalid_request\" or "
                        "error=\"invalid_token\""]
        return []

    return Check(requirement, rule, "the refusal carries a WWW-Authenticate: Bearer challenge", needs=(ERROR,),
                 reading=reading)

