"""ITK3 messaging: profile and code-system URLs, the response codes, reading a message bundle (JSON or
XML) and its MessageHeader handling extension, and building and reading ITK3 response messages.

An ITK3 response is itself a message Bundle: a MessageHeader (event ITK008M) whose `response` points
back at the original MessageHeader.id and at an OperationOutcome carrying one code from
ITK-ResponseCodes-1. Infrastructure codes (10001-20015) say whether the message could be read and
accepted; business codes (30001-30003 for Send Document) say whether the patient is known.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

FHIR_NHS = "https://fhir.nhs.uk/STU3"
FHIR_UK = "https://fhir.hl7.org.uk/STU3"

MESSAGE_BUNDLE = f"{FHIR_NHS}/StructureDefinition/ITK-Message-Bundle-1"
MESSAGE_HEADER = f"{FHIR_NHS}/StructureDefinition/ITK-MessageHeader-2"
HANDLING = f"{FHIR_NHS}/StructureDefinition/Extension-ITK-MessageHandling-2"
HEADER_ORGANIZATION = f"{FHIR_NHS}/StructureDefinition/CareConnect-ITK-Header-Organization-1"
DOCUMENT_BUNDLE = f"{FHIR_NHS}/StructureDefinition/ITK-Document-Bundle-1"
ATTACHMENT_BINARY = f"{FHIR_NHS}/StructureDefinition/ITK-Attachment-Binary-1"
RESPONSE_OUTCOME = f"{FHIR_NHS}/StructureDefinition/ITK-Response-OperationOutcome-1"
COMPOSITION = f"{FHIR_UK}/StructureDefinition/CareConnect-Composition-1"
PATIENT = f"{FHIR_UK}/StructureDefinition/CareConnect-Patient-1"
PRACTITIONER = f"{FHIR_UK}/StructureDefinition/CareConnect-Practitioner-1"
ORGANIZATION = f"{FHIR_UK}/StructureDefinition/CareConnect-Organization-1"
CARE_SETTING = f"{FHIR_UK}/StructureDefinition/Extension-CareConnect-CareSettingType-1"

EVENT_SYSTEM = f"{FHIR_NHS}/CodeSystem/ITK-MessageEvent-2"
RECIPIENT_TYPE_SYSTEM = f"{FHIR_NHS}/CodeSystem/ITK-RecipientType-1"
RESPONSE_CODE_SYSTEM = f"{FHIR_NHS}/CodeSystem/ITK-ResponseCodes-1"
SEND_DOCUMENT_DEFINITION = f"{FHIR_NHS}/MessageDefinition/ITK-GPConnectSendDocument-MessageDefinition-1"
# What SCAL row GPCM-SD-043 writes instead (conflict SD-C03): never built, refused by the checks.
SEND_DOCUMENT_DEFINITION_SCAL = f"{FHIR_NHS}/MessageDefinition/ITK-GPConnectSendDocument-MessageDefinition-Instance-1"
RESPONSE_DEFINITION = f"{FHIR_NHS}/MessageDefinition/ITK-Response-MessageDefinition-1"

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
SNOMED = "http://snomed.info/sct"

EVENT_SEND_DOCUMENT = ("ITK007C", "ITK GP Connect Send Document")
EVENT_RESPONSE = ("ITK008M", "ITK Response")
RECIPIENT_TYPES = {"FA": "For Action", "FI": "For Information"}
HANDLING_PARTS = ("BusAckRequested", "InfAckRequested", "RecipientType", "MessageDefinition", "SenderReference",
                  "LocalExtension")
# The identifier and sender reference a response uses when the original could not be read (ITK3).
UNREADABLE = "UNREADABLE-IN-ORIGINAL-MESSAGE"


@dataclass(frozen=True)
class ResponseCode:
    code: str
    display: str
    business: bool  # a business (BusAck) code, else an infrastructure (InfAck) code
    positive: bool
    issue_codes: tuple[str, ...]  # OperationOutcome.issue.code values that fit it (first: what we send)


def _codes() -> dict[str, ResponseCode]:
    inf = [("10001", "Handling specification error", ("processing",)),
           ("10002", "Infrastructure acknowledgement flag could not be processed", ("processing",)),
           ("10003", "Business acknowledgement flag could not be processed", ("processing",)),
           ("10004", "Message definition not recognised", ("processing",)),
           ("10005", "Message definition version not supported", ("processing",)),
           ("10006", "Priority not supported", ("processing",)),
           ("10007", "Sender reference could not be processed", ("processing",)),
           ("10008", "Handling specification business rule broken", ("processing",)),
           ("10009", "Message could not be read", ("processing", "structure")),
           ("10010", "Recipient type not recognised", ("processing",)),
           ("20001", "Recipient person not recognised", ("not-found",)),
           ("20002", "Recipient organisation not recognised", ("not-found",)),
           ("20003", "Sender not recognised", ("not-found",)),
           ("20004", "Attachment type not approved", ("security",)),
           ("20005", "Attachment type not supported", ("security",)),
           ("20006", "ITK3 header failed validation", ("invalid", "structure", "required", "value")),
           ("20007", "Duplicate message", ("duplicate",)),
           ("20008", "Duplicate document", ("duplicate",)),
           ("20009", "Payload failed validation", ("invalid", "structure", "required", "value")),
           ("20010", "Payload recipient organisation not recognised", ("not-found",)),
           ("20011", "Payload recipient person not recognised", ("not-found",)),
           ("20012", "Sender not authorised", ("security",)),
           ("20014", "Replacement document could not be processed", ("processing", "business-rule")),
           ("20015", "Message too large", ("too-long", "processing"))]
    out = {c: ResponseCode(c, d, False, False, i) for c, d, i in inf}
    out["20013"] = ResponseCode("20013", "Success", False, True, ("informational",))
    out["30001"] = ResponseCode("30001", "Patient known here", True, True, ("informational",))
    out["30002"] = ResponseCode("30002", "Patient not known here", True, False, ("not-found",))
    out["30003"] = ResponseCode("30003", "Patient no longer at this setting", True, False, ("business-rule",))
    return out


RESPONSE_CODES: dict[str, ResponseCode] = _codes()
INF_SUCCESS = "20013"
BUS_SUCCESS = "30001"


def is_infrastructure_code(code: str | None, widest: bool = False) -> bool:
    """10001-20013 is the InfAck range everywhere but SCAL GPCM-SD-041, which says 10001-20014 and the
    CodeSystem has 20014/20015 (conflict SD-C04). `widest` accepts the CodeSystem's whole range."""
    if code is None or not code.isdigit():
        return False
    return 10001 <= int(code) <= (20015 if widest else 20013) and code in RESPONSE_CODES


def is_business_code(code: str | None) -> bool:
    return code in ("30001", "30002", "30003")


class UnreadableMessage(ValueError):
    """The bytes are not a FHIR resource in JSON or XML."""


def parse_message(raw: bytes, content_type: str | None = None) -> dict[str, Any]:
    """A message body as a JSON-like FHIR resource, whether it was sent as JSON or XML."""
    text = raw.lstrip()
    looks_xml = text.startswith(b"<") or "xml" in (content_type or "").lower()
    if not looks_xml:
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UnreadableMessage("the body is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise UnreadableMessage(f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") \
                from None
        except RecursionError:
            raise UnreadableMessage("the body is JSON nested too deeply to read") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise UnreadableMessage("the body is JSON but not a FHIR resource (no resourceType)")
        return body
    return _xml_to_json(raw)


def _xml_to_json(raw: bytes) -> dict[str, Any]:
    from lxml import etree

    from gpc_assure.fhir.parse import model_for

    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True))
    except etree.XMLSyntaxError as exc:
        raise UnreadableMessage(f"the body is not XML ({exc})") from None
    model = model_for(etree.QName(root).localname)
    if model is None:
        raise UnreadableMessage(f"{etree.QName(root).localname} is not a FHIR resource type")
    try:
        return json.loads(model.model_validate_xml(etree.tostring(root)).model_dump_json())
    except Exception as exc:  # fhir.resources raises several types for XML it cannot map
        raise UnreadableMessage(f"the XML is not a valid FHIR {etree.QName(root).localname}: {str(exc)[:200]}") \
            from None


# --- reading a message bundle --------------------------------------------------------------------------


def entries(bundle: Any) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict):
        return []
    return [e for e in bundle.get("entry") or [] if isinstance(e, dict)]


def resources(bundle: Any, resource_type: str | None = None) -> list[dict[str, Any]]:
    out = []
    for e in entries(bundle):
        res = e.get("resource")
        if isinstance(res, dict) and (resource_type is None or res.get("resourceType") == resource_type):
            out.append(res)
    return out


def message_header(bundle: Any) -> dict[str, Any] | None:
    """The MessageHeader wherever it is (its position is a check of its own)."""
    found = resources(bundle, "MessageHeader")
    return found[0] if found else None


def resolve(bundle: Any, reference: Any) -> dict[str, Any] | None:
    """The entry resource a reference points at (by fullUrl, or Type/id), inside this bundle only."""
    ref = reference.get("reference") if isinstance(reference, dict) else reference
    if not isinstance(ref, str) or not ref:
        return None
    for e in entries(bundle):
        res = e.get("resource")
        if not isinstance(res, dict):
            continue
        if e.get("fullUrl") == ref or f"{res.get('resourceType')}/{res.get('id')}" == ref:
            return res
    return None


def handling(header: Any) -> dict[str, Any] | None:
    """The handling extension's parts by name (value as sent), or None when the extension is absent."""
    if not isinstance(header, dict):
        return None
    for ext in header.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == HANDLING:
            parts: dict[str, Any] = {}
            for sub in ext.get("extension") or []:
                if not isinstance(sub, dict) or not isinstance(sub.get("url"), str):
                    continue
                value = next((v for k, v in sub.items() if k.startswith("value")), None)
                if isinstance(value, dict) and "reference" in value and len(value) == 1:
                    value = value["reference"]
                parts.setdefault(sub["url"], value)
            return parts
    return None


def sender_reference(bundle: Any) -> str | None:
    parts = handling(message_header(bundle)) or {}
    value = parts.get("SenderReference")
    return value if isinstance(value, str) else None


def document_bundle(bundle: Any) -> dict[str, Any] | None:
    """The document Bundle MessageHeader.focus points at, else the first Bundle entry."""
    header = message_header(bundle)
    focus = (header or {}).get("focus")
    target = resolve(bundle, focus)
    if target is not None and target.get("resourceType") == "Bundle":
        return target
    found = resources(bundle, "Bundle")
    return found[0] if found else None


def profiles_of(resource: Any) -> list[str]:
    if not isinstance(resource, dict):
        return []
    return [p for p in (resource.get("meta") or {}).get("profile") or [] if isinstance(p, str)]


# --- ITK3 responses ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """What an ITK3 response message says, read defensively (every field may be missing)."""

    bundle: dict[str, Any]
    header: dict[str, Any] | None
    responds_to: str | None  # MessageHeader.response.identifier
    response_code: str | None  # MessageHeader.response.code: ok | transient-error | fatal-error
    itk_code: str | None  # the ITK-ResponseCodes-1 code in the OperationOutcome
    itk_codes: tuple[str, ...]  # every such code found (one is expected)
    sender_reference: str | None
    outcome: dict[str, Any] | None

    @property
    def business(self) -> bool:
        return is_business_code(self.itk_code)

    @property
    def positive(self) -> bool:
        info = RESPONSE_CODES.get(self.itk_code or "")
        return bool(info and info.positive)

    def describe(self) -> str:
        info = RESPONSE_CODES.get(self.itk_code or "")
        return f"{self.itk_code or '(no code)'}" + (f" {info.display}" if info else "")


def read_response(bundle: dict[str, Any]) -> Response:
    header = message_header(bundle)
    response = (header or {}).get("response") if isinstance(header, dict) else None
    response = response if isinstance(response, dict) else {}
    outcome = resolve(bundle, response.get("details")) or next(iter(resources(bundle, "OperationOutcome")), None)
    codes: list[str] = []
    for issue in (outcome or {}).get("issue") or []:
        for coding in ((issue or {}).get("details") or {}).get("coding") or []:
            if isinstance(coding, dict) and coding.get("system") == RESPONSE_CODE_SYSTEM and coding.get("code"):
                codes.append(str(coding["code"]))
    return Response(bundle=bundle, header=header, responds_to=response.get("identifier"),
                    response_code=response.get("code"), itk_code=codes[0] if codes else None, itk_codes=tuple(codes),
                    sender_reference=sender_reference(bundle), outcome=outcome)


def now_instant() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def handling_extension(*, bus_ack: bool, inf_ack: bool, recipient_type: str, definition: str, sender_reference: str,
                       local_extension: str) -> dict[str, Any]:
    return {"url": HANDLING, "extension": [
        {"url": "BusAckRequested", "valueBoolean": bus_ack},
        {"url": "InfAckRequested", "valueBoolean": inf_ack},
        {"url": "RecipientType", "valueCoding": {"system": RECIPIENT_TYPE_SYSTEM, "code": recipient_type,
                                                 "display": RECIPIENT_TYPES.get(recipient_type, recipient_type)}},
        {"url": "MessageDefinition", "valueReference": {"reference": definition}},
        {"url": "SenderReference", "valueString": sender_reference},
        {"url": "LocalExtension", "valueString": local_extension},
    ]}


def build_response(*, responds_to: str, sender_reference: str, code: str, from_mailbox: str, ods_code: str,
                   diagnostics: str | None = None) -> dict[str, Any]:
    """A conformant ITK3 response message for one response code (no patient details in it)."""
    info = RESPONSE_CODES[code]
    org_id, outcome_id, header_id = (str(uuid.uuid4()) for _ in range(3))
    issue: dict[str, Any] = {
        "severity": "information" if info.positive else "fatal",
        "code": info.issue_codes[0],
        "details": {"coding": [{"system": RESPONSE_CODE_SYSTEM, "code": code, "display": info.display}]},
    }
    if diagnostics and not info.positive:
        issue["diagnostics"] = diagnostics
    outcome = {"resourceType": "OperationOutcome", "id": outcome_id, "meta": {"profile": [RESPONSE_OUTCOME]},
               "issue": [issue]}
    org = {"resourceType": "Organization", "id": org_id, "meta": {"profile": [HEADER_ORGANIZATION]},
           "identifier": [{"system": ODS_SYSTEM, "value": ods_code}]}
    header = {
        "resourceType": "MessageHeader", "id": header_id, "meta": {"profile": [MESSAGE_HEADER]},
        "extension": [handling_extension(bus_ack=False, inf_ack=False, recipient_type="FI",
                                         definition=RESPONSE_DEFINITION, sender_reference=sender_reference,
                                         local_extension="None")],
        "event": {"system": EVENT_SYSTEM, "code": EVENT_RESPONSE[0], "display": EVENT_RESPONSE[1]},
        "sender": {"reference": f"urn:uuid:{org_id}"},
        "timestamp": now_instant(),
        "source": {"endpoint": from_mailbox},
        "response": {"identifier": responds_to, "code": "ok" if info.positive else "fatal-error",
                     "details": {"reference": f"urn:uuid:{outcome_id}"}},
    }
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [MESSAGE_BUNDLE]},
            "identifier": {"system": UUID_SYSTEM, "value": str(uuid.uuid4())}, "type": "message",
            "entry": [_entry(header), _entry(org), _entry(outcome)]}
