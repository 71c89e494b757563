"""Content negotiation as GP Connect defines it: _format over Accept over Content-Type over JSON."""

from __future__ import annotations

import json
from typing import Any

from gpc_assure.fhir.parse import model_for
from gpc_assure.reference.faults import declare
from gpc_assure.reference.outcomes import ProviderError

JSON = "application/fhir+json"
XML = "application/fhir+xml"

_FORMAT_WORDS = {
    "json": "json", "application/json": "json", "application/fhir+json": "json",
    "xml": "xml", "text/xml": "xml", "application/xml": "xml", "application/fhir+xml": "xml",
}

FORMAT_PARAM_IGNORED = declare(
    "format-param-ignored", ["GEN-CT-002"], "foundations",
    "_format is ignored when Accept is also sent (Accept wins instead of _format)")
CONTENT_TYPE_NOT_FOLLOWED = declare(
    "content-type-not-followed", ["GEN-CT-003"], "foundations",
    "with no Accept and no _format, answers JSON even when the request body was XML")
CHARSET_WITH_SPACE = declare(
    "content-type-charset-missing", ["GEN-CT-006"], "foundations",
    "answers with Content-Type application/fhir+json without ';charset=utf-8'")
UNSUPPORTED_FORMAT_ACCEPTED = declare(
    "unsupported-format-accepted", ["GEN-CT-005"], "foundations",
    "answers JSON with 200 to a request for an unsupported format instead of 415")


def _from_media(value: str) -> str | None:
    """json, xml, 'any' for */* or None when the media range names neither."""
    for part in value.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _FORMAT_WORDS:
            return _FORMAT_WORDS[media]
        if media in ("*/*", "application/*"):
            return "any"
    return None


def response_format(query: list[tuple[str, str]], headers: dict[str, str], faults: Any) -> str:
    """The format to answer in, or ProviderError 415 for an unsupported one (GEN-CT-002..005)."""
    fmt_param = [v for k, v in query if k == "_format"]
    accept = headers.get("accept")
    if faults.on(FORMAT_PARAM_IGNORED) and accept:
        fmt_param = []
    if fmt_param:
        fmt = _FORMAT_WORDS.get(fmt_param[0].strip().lower())
        if fmt is None:
            if faults.on(UNSUPPORTED_FORMAT_ACCEPTED):
                return "json"
            raise ProviderError(415, "BAD_REQUEST", "not-supported", f"unsupported _format {fmt_param[0]!r}")
        return fmt
    if accept:
        fmt = _from_media(accept)
        if fmt is None:
            if faults.on(UNSUPPORTED_FORMAT_ACCEPTED):
                return "json"
            raise ProviderError(415, "BAD_REQUEST", "not-supported", f"unsupported Accept {accept!r}")
        return "json" if fmt == "any" else fmt
    ctype = headers.get("content-type")
    if ctype and not faults.on(CONTENT_TYPE_NOT_FOLLOWED):
        fmt = _from_media(ctype)
        if fmt in ("json", "xml"):
            return fmt
    return "json"


def parse_body(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """A request body as a JSON-shaped dict, from FHIR JSON or FHIR XML; 400/415 when it is neither."""
    ctype = headers.get("content-type", "")
    fmt = _from_media(ctype) if ctype else "json"
    if fmt not in ("json", "xml", "any"):
        raise ProviderError(415, "BAD_REQUEST", "not-supported", f"unsupported Content-Type {ctype!r}")
    if fmt == "xml":
        return _xml_to_json(raw)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProviderError(400, "BAD_REQUEST", "invalid", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProviderError(400, "BAD_REQUEST", "invalid", "request body must be a FHIR resource")
    return body


def _xml_to_json(raw: bytes) -> dict[str, Any]:
    from lxml import etree

    try:
        root = etree.fromstring(raw)
    except etree.XMLSyntaxError as exc:
        raise ProviderError(400, "BAD_REQUEST", "invalid", f"request body is not valid XML: {exc}") from None
    rtype = etree.QName(root).localname
    model = model_for(rtype)
    if model is None:
        raise ProviderError(422, "INVALID_RESOURCE", "invalid", f"{rtype} is not a supported resource")
    try:
        return json.loads(model.model_validate_xml(raw).model_dump_json())
    except Exception as exc:  # fhir.resources raises several types for bad XML resources
        raise ProviderError(422, "INVALID_RESOURCE", "invalid", f"invalid {rtype}: {str(exc)[:300]}") from None


def render(resource: dict[str, Any] | None, fmt: str, faults: Any) -> tuple[bytes, str]:
    """Body bytes and Content-Type for a resource in the negotiated format."""
    charset = "" if faults.on(CHARSET_WITH_SPACE) else ";charset=utf-8"
    if resource is None:
        return b"", ""
    if fmt == "xml":
        model = model_for(resource["resourceType"])
        return model.model_validate(resource).model_dump_xml(), XML + charset
    return json.dumps(resource, ensure_ascii=False).encode("utf-8"), JSON + charset
