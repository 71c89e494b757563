"""Rules over the ITK3 responses a receiver sends back for one message: how many, in what order, with
which codes, and what each response message must say. Pure functions over `itk3.Response` values
(and the MESH headers they arrived with), returning problem strings. A rule with nothing to judge (no
response at all, a positive response for a rule about negative ones) raises `NotJudged`: silence is
never a pass."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from gpc_assure.checks.core import NotJudged
from gpc_assure.checks.send_document import parse_instant
from gpc_assure.messaging import itk3
from gpc_assure.messaging.itk3 import RESPONSE_CODES, Response


def _code_list(responses: Sequence[Response]) -> str:
    return "[" + ", ".join(r.describe() for r in responses) + "]"


def _among(responses: Sequence[Response]) -> str:
    return f"among {_code_list(responses)}" if responses else "arrived"


def _shown(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'"


def need_responses(responses: Sequence[Response]) -> Sequence[Response]:
    """The responses, when any arrived (none at all is MSG-SD-093's finding)."""
    if not responses:
        raise NotJudged("no ITK3 response arrived", cause="MSG-SD-093")
    return responses


def count_and_order(responses: Sequence[Response]) -> list[str]:
    """MSG-SD-092: at most one infrastructure and one business response, each with exactly one code, the
    infrastructure one first."""
    need_responses(responses)
    out = []
    inf, bus = [r for r in responses if not r.business], [r for r in responses if r.business]
    if len(responses) > 2 or len(inf) > 1 or len(bus) > 1:
        out.append(f"{len(responses)} responses to one message {_code_list(responses)}: at most one "
                   "infrastructure and one business response are allowed")
    for r in responses:
        if len(r.itk_codes) != 1:
            codes = f" ({', '.join(r.itk_codes)})" if r.itk_codes else ""
            out.append(f"a response carries {len(r.itk_codes)} ITK response codes{codes}, expected one")
    kinds = ["business" if r.business else "infrastructure" for r in responses if r.itk_code]
    if "business" in kinds and "infrastructure" in kinds and kinds.index("business") < kinds.index("infrastructure"):
        out.append(f"the business response arrived before the infrastructure response {_code_list(responses)}")
    return out


def infrastructure_ack(responses: Sequence[Response], expected: str | None = None) -> list[str]:
    """MSG-SD-093 (reading SD-C04): an infrastructure response, its code in the CodeSystem's infrastructure
    range (the expected code when given). How many there are is MSG-SD-092's."""
    inf = [r for r in responses if not r.business]
    if not inf:
        return [f"no infrastructure response {_among(responses)}"]
    out = []
    for r in inf:
        if not itk3.is_infrastructure_code(r.itk_code, widest=True):
            out.append(f"the infrastructure response's code {_shown(r.itk_code)} is not an ITK3 infrastructure code "
                       "(10001-20015)")
    if not out and expected is not None and inf[0].itk_code != expected:
        out.append(f"the infrastructure response is {inf[0].describe()}, expected {expected} "
                   f"{RESPONSE_CODES[expected].display}")
    return out


def business_ack(responses: Sequence[Response], expected: str | None = None) -> list[str]:
    """MSG-SD-094: after a positive infrastructure response, a business response coded 30001-30003 (the
    expected code when given). How many there are is MSG-SD-092's."""
    inf = [r for r in responses if not r.business]
    if inf and not inf[0].positive:  # a negative infrastructure response ends the exchange (MSG-SD-095)
        raise NotJudged(f"the infrastructure response is {inf[0].describe()}, which ends the exchange: no business "
                        "response is due", cause="MSG-SD-093")
    bus = [r for r in responses if r.business]
    if not bus:
        return [f"no business response (30001-30003) {_among(responses)}"]
    if expected is not None and bus[0].itk_code != expected:
        return [f"the business response is {bus[0].describe()}, expected {expected} "
                f"{RESPONSE_CODES[expected].display}"]
    return []


def negative_is_final(responses: Sequence[Response]) -> list[str]:
    """MSG-SD-095: nothing follows a negative response."""
    negative = [n for n, r in enumerate(responses) if r.itk_code and not r.positive]
    if not negative:
        raise NotJudged(f"no negative response arrived {_code_list(responses)}: nothing to see follow one"
                        if responses else "no response arrived")
    n = negative[0]
    if n + 1 < len(responses):
        return [f"{responses[n].describe()} is negative, yet {_code_list(responses[n + 1:])} followed it"]
    return []


def response_header(r: Response, original_sender_reference: str | None) -> list[str]:
    """MSG-SD-096: event ITK008M, both ack flags false, the original's SenderReference, sender an
    Organization in the response, a timestamp."""
    h = r.header or {}
    out = []
    event = h.get("event") if isinstance(h.get("event"), dict) else {}
    if event.get("system") != itk3.EVENT_SYSTEM or event.get("code") != itk3.EVENT_RESPONSE[0]:
        out.append(f"response MessageHeader.event is {event.get('system')}|{event.get('code')}, expected "
                   f"{itk3.EVENT_SYSTEM}|{itk3.EVENT_RESPONSE[0]}")
    parts = itk3.handling(h) or {}
    for flag in ("BusAckRequested", "InfAckRequested"):
        if parts.get(flag) is not False:
            out.append(f"the response's {flag} is {_shown(parts.get(flag))}, expected false (nobody acknowledges a "
                       "response)")
    if original_sender_reference is not None and r.sender_reference != original_sender_reference:
        out.append(f"the response's SenderReference is {_shown(r.sender_reference)}, expected the original's "
                   f"'{original_sender_reference}'")
    sender = itk3.resolve(r.bundle, h.get("sender"))
    if sender is None or sender.get("resourceType") != "Organization":
        out.append(f"the response's MessageHeader.sender {_ref(h.get('sender'))} does not resolve to an Organization "
                   "in it")
    if parse_instant(h.get("timestamp")) is None:
        out.append(f"the response's MessageHeader.timestamp {_shown(h.get('timestamp'))} is not an instant")
    return out


def response_link(r: Response, original_header_id: str) -> list[str]:
    """MSG-SD-097: response.identifier is the original MessageHeader.id; response.code fits the ITK code;
    response.details is the ITK3 OperationOutcome."""
    out = []
    if r.responds_to != original_header_id:
        out.append(f"MessageHeader.response.identifier is {_shown(r.responds_to)}, expected the original "
                   f"MessageHeader.id '{original_header_id}'")
    return out + _code_and_details(r)


def _code_and_details(r: Response) -> list[str]:
    out = []
    want = ("ok",) if r.positive else ("fatal-error", "transient-error")
    if r.itk_code and r.response_code not in want:
        out.append(f"MessageHeader.response.code is {_shown(r.response_code)} for {r.describe()}, expected "
                   f"{' or '.join(want)}")
    details = ((r.header or {}).get("response") or {}).get("details")
    target = itk3.resolve(r.bundle, details)
    if target is None or target.get("resourceType") != "OperationOutcome":
        out.append(f"MessageHeader.response.details {_ref(details)} does not resolve to an OperationOutcome in the "
                   "response")
    elif itk3.RESPONSE_OUTCOME not in itk3.profiles_of(target):
        out.append(f"the response OperationOutcome is not profiled {itk3.RESPONSE_OUTCOME}")
    return out


def unreadable_link(r: Response) -> list[str]:
    """MSG-SD-099: the response to an unreadable message says so in place of the original's identifiers."""
    out = []
    if r.responds_to != itk3.UNREADABLE:
        out.append(f"response.identifier is {_shown(r.responds_to)}, expected '{itk3.UNREADABLE}' (the original "
                   "could not be read)")
    return out + _code_and_details(r)


def outcome_mapping(r: Response) -> list[str]:
    """MSG-SD-098: severity information/informational for success, fatal with the code's issue type for
    errors, and the ITK code in issue.details.coding."""
    if r.outcome is None:
        raise NotJudged("the response holds no OperationOutcome", cause="MSG-SD-097")
    info = RESPONSE_CODES.get(r.itk_code or "")
    if info is None:
        return [f"the response's ITK code {_shown(r.itk_code)} is not in ITK-ResponseCodes-1"]
    out = []
    issues = [i for i in r.outcome.get("issue") or [] if isinstance(i, dict)]
    for issue in issues[:1]:
        severity, code = issue.get("severity"), issue.get("code")
        want_sev = "information" if info.positive else "fatal"
        if severity != want_sev:
            out.append(f"issue.severity is {_shown(severity)} for {r.describe()}, expected '{want_sev}'")
        if code not in info.issue_codes:
            out.append(f"issue.code is {_shown(code)} for {r.describe()}, expected {' or '.join(info.issue_codes)}")
    if not issues:
        out.append("the response OperationOutcome has no issue")
    return out


def diagnostics(r: Response) -> list[str]:
    """MSG-SD-073: a negative response explains itself in issue.diagnostics."""
    if r.positive:
        raise NotJudged(f"the response {r.describe()} is positive: only a negative one explains an error")
    if r.outcome is None:
        raise NotJudged(f"the negative response {r.describe()} holds no OperationOutcome", cause="MSG-SD-097")
    issues = [i for i in r.outcome.get("issue") or [] if isinstance(i, dict)]
    if not any(isinstance(i.get("diagnostics"), str) and i["diagnostics"].strip() for i in issues):
        return [f"the negative response {r.describe()} has no issue.diagnostics saying what was wrong"]
    return []


def no_patient_data(r: Response, identifiers: Iterable[str]) -> list[str]:
    """MSG-SD-100: a response carries no patient-identifiable information (no Patient, none of the
    patient's identifiers or names)."""
    out = []
    if itk3.resources(r.bundle, "Patient"):
        out.append("the response holds a Patient resource")
    text = json.dumps(r.bundle)
    for value in identifiers:
        if value and len(value) >= 3 and value.lower() in text.lower():
            out.append(f"the response contains the patient's '{value}'")
    return out


def ack_workflow(headers: Mapping[str, str], expected: str) -> list[str]:
    """MSG-SD-090."""
    got = headers.get("mex-workflowid")
    return [] if got == expected else [f"the response came with Mex-WorkflowID {_shown(got)}, expected '{expected}'"]


def _ref(value: object) -> str:
    ref = value.get("reference") if isinstance(value, dict) else value
    return f"'{ref}'" if isinstance(ref, str) and ref else "(missing)"


def ack_addressed(arrived_in: str, expected: str, why: str) -> list[str]:
    """MSG-SD-091."""
    if arrived_in.upper() == expected.upper():
        return []
    return [f"the response arrived in mailbox {arrived_in}, expected {expected} ({why})"]
