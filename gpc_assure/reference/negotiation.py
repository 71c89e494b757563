"""Content negotiation as GP Connect defines it: _format over Accept over Content-Type over JSON.

The answer is FHIR JSON or FHIR XML with `;charset=utf-8` (GEN-CT-001..006); anything else asked
for is a 415. Request bodies may be FHIR JSON or FHIR XML.

Each fault has an Appointment Management twin (flow "appointments") that breaks the same rule only on
requests naming an appointment interaction in Ssp-InteractionID, so the appointments suite's own
negotiation checks are shown to fail without the Foundations ones failing too.
"""

from __future__ import annotations

import json
from typing import Any

from gpc_assure.fhir.parse import model_for
from gpc_assure.reference.faults import declare
from gpc_assure.reference.outcomes import ProviderError
from gpc_assure.reference.routing import requested_flow
from gpc_assure.transport.interactions import BY_INTERACTION_ID

JSON = "application/fhir+json"
XML = "application/fhir+xml"

_FORMAT_WORDS = {
    "json": "json", "application/json": "json", "application/fhir+json": "json",
    "xml": "xml", "text/xml": "xml", "application/xml": "xml", "application/fhir+xml": "xml",
}

FORMAT_PARAM_IGNORED = declare(
    "format-param-ignored", ["GEN-CT-002", "GEN-CT-009"], "foundations",
    "_format is ignored when Accept is also sent (Accept wins instead of _format)")
CONTENT_TYPE_NOT_FOLLOWED = declare(
    "content-type-not-followed", ["GEN-CT-003"], "foundations",
    "with no Accept and no _format, answers JSON even when the request's Content-Type is XML")
DEFAULT_XML = declare(
    "default-format-xml", ["GEN-CT-004"], "foundations",
    "with no Accept, no _format and no Content-Type, answers XML instead of JSON")
CHARSET_MISSING = declare(
    "content-type-charset-missing", ["GEN-CT-006a"], "foundations",
    "answers with Content-Type application/fhir+json without ';charset=utf-8'")
CHARSET_SPACED = declare(
    "content-type-charset-spaced", ["GEN-CT-006b"], "foundations",
    "answers with Content-Type 'application/fhir+json; charset=utf-8' (a space before charset)")
UNSUPPORTED_FORMAT_ACCEPTED = declare(
    "unsupported-format-accepted", ["GEN-CT-005"], "foundations",
    "answers JSON with 200 to a request for an unsupported format instead of 415")
JSON_AS_PLAIN_JSON = declare(
    "json-served-as-application-json", ["GEN-CT-001a", "GEN-CT-009"], "foundations",
    "FHIR JSON is labelled Content-Type application/json instead of application/fhir+json")
CONTENT_TYPE_OVERRIDES = declare(
    "content-type-overrides-accept", ["GEN-CT-010"], "foundations",
    "an XML request Content-Type decides the response format even when Accept or _format asks for JSON")
XML_NOT_SERVED = declare(
    "xml-not-served", ["GEN-CT-001b", "GEN-CT-009"], "foundations",
    "a request for FHIR XML (by _format or Accept) is answered in JSON")
REGISTER_FORMAT_IGNORED = declare(
    "register-format-ignored", ["GEN-CT-002", "GEN-CT-010"], "foundations",
    "Register a patient ignores _format and Accept: it answers in the request body's format (else JSON)")

# -- the same rules broken on Appointment Management requests only --------------------------------
APPOINTMENT_FORMAT_PARAM_IGNORED = declare(
    "appointment-format-param-ignored", ["GEN-CT-002"], "appointments",
    "on appointment interactions, _format is ignored when Accept is also sent (Accept wins)")
APPOINTMENT_CONTENT_TYPE_NOT_FOLLOWED = declare(
    "appointment-content-type-not-followed", ["GEN-CT-003"], "appointments",
    "on appointment interactions with no Accept and no _format, an XML request body is answered in JSON")
APPOINTMENT_DEFAULT_XML = declare(
    "appointment-default-format-xml", ["GEN-CT-004"], "appointments",
    "appointment interactions asked for no format at all (no Accept, _format or Content-Type) answer XML")
APPOINTMENT_CHARSET_MISSING = declare(
    "appointment-content-type-charset-missing", ["GEN-CT-006a"], "appointments",
    "appointment interactions answer with a Content-Type without ';charset=utf-8'")
APPOINTMENT_CHARSET_SPACED = declare(
    "appointment-content-type-charset-spaced", ["GEN-CT-006b"], "appointments",
    "appointment interactions answer with '; charset=utf-8' (a space before charset)")
APPOINTMENT_UNSUPPORTED_ACCEPTED = declare(
    "appointment-unsupported-format-accepted", ["GEN-CT-005"], "appointments",
    "appointment interactions asked for an unsupported format answer JSON instead of 415")
APPOINTMENT_JSON_AS_PLAIN_JSON = declare(
    "appointment-json-served-as-application-json", ["GEN-CT-001a"], "appointments",
    "appointment interactions label FHIR JSON as application/json instead of application/fhir+json")
APPOINTMENT_XML_NOT_SERVED = declare(
    "appointment-xml-not-served", ["GEN-CT-001b"], "appointments",
    "appointment interactions asked for FHIR XML (by _format or Accept) answer in JSON")


def _broken(faults: Any, everywhere: str, appointments_only: str, flow: str | None) -> bool:
    """Whether a rule is broken for this request: by its fault, or by its appointments-only twin."""
    return faults.on(everywhere) or (flow == "appointments" and faults.on(appointments_only))


def _named_interaction(headers: dict[str, str]) -> str | None:
    """The interaction a request names in Ssp-InteractionID (known before routing), else None."""
    named = BY_INTERACTION_ID.get((headers.get("ssp-interactionid") or "").strip())
    return named.name if named else None


def _from_media(value: str) -> str | None:
    """json, xml, 'any' for */* or None when the media range names neither."""
    for part in value.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _FORMAT_WORDS:
            return _FORMAT_WORDS[media]
        if media in ("*/*", "application/*"):
            return "any"
    return None


def _unsupported(what: str, faults: Any, flow: str | None) -> str:
    if _broken(faults, UNSUPPORTED_FORMAT_ACCEPTED, APPOINTMENT_UNSUPPORTED_ACCEPTED, flow):
        return "json"
    raise ProviderError(415, "BAD_REQUEST", "not-supported", f"unsupported {what}")


def response_format(query: list[tuple[str, str]], headers: dict[str, str], faults: Any) -> str:
    """The format to answer in, or ProviderError 415 for an unsupported one (GEN-CT-002..005)."""
    flow = requested_flow(headers)
    fmt = _negotiate(query, headers, faults, flow)
    if fmt == "xml" and _broken(faults, XML_NOT_SERVED, APPOINTMENT_XML_NOT_SERVED, flow):
        return "json"
    return fmt


def _negotiate(query: list[tuple[str, str]], headers: dict[str, str], faults: Any, flow: str | None) -> str:
    fmt_param = [v for k, v in query if k == "_format"]
    accept = headers.get("accept")
    ctype = headers.get("content-type")
    if faults.on(REGISTER_FORMAT_IGNORED) and _named_interaction(headers) == "patient.register":
        fmt_param, accept = [], None
    if ctype and faults.on(CONTENT_TYPE_OVERRIDES) and _from_media(ctype) == "xml":
        return "xml"
    if accept and _broken(faults, FORMAT_PARAM_IGNORED, APPOINTMENT_FORMAT_PARAM_IGNORED, flow):
        fmt_param = []
    if fmt_param:
        fmt = _FORMAT_WORDS.get(fmt_param[0].strip().lower())
        return fmt if fmt is not None else _unsupported(f"_format {fmt_param[0]!r}", faults, flow)
    if accept:
        fmt = _from_media(accept)
        if fmt is None:
            return _unsupported(f"Accept {accept!r}", faults, flow)
        return "json" if fmt == "any" else fmt
    if ctype and not _broken(faults, CONTENT_TYPE_NOT_FOLLOWED, APPOINTMENT_CONTENT_TYPE_NOT_FOLLOWED, flow):
        fmt = _from_media(ctype)
        if fmt in ("json", "xml"):
            return fmt
    if not ctype and _broken(faults, DEFAULT_XML, APPOINTMENT_DEFAULT_XML, flow):
        return "xml"
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


def render(resource: dict[str, Any] | None, fmt: str, faults: Any, flow: str | None = None) -> tuple[bytes, str]:
    """Body bytes and Content-Type for a resource in the negotiated format (`flow`: the request's)."""
    if resource is None:
        return b"", ""
    if _broken(faults, CHARSET_MISSING, APPOINTMENT_CHARSET_MISSING, flow):
        charset = ""
    elif _broken(faults, CHARSET_SPACED, APPOINTMENT_CHARSET_SPACED, flow):
        charset = "; charset=utf-8"
    else:
        charset = ";charset=utf-8"
    if fmt == "xml":
        model = model_for(resource["resourceType"])
        return model.model_validate(resource).model_dump_xml(), XML + charset
    plain = _broken(faults, JSON_AS_PLAIN_JSON, APPOINTMENT_JSON_AS_PLAIN_JSON, flow)
    media = "application/json" if plain else JSON
    return json.dumps(resource, ensure_ascii=False).encode("utf-8"), media + charset
