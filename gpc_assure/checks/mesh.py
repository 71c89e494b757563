"""Rules over how a system uses MESH: the metadata on a message it sent, and the requests it made.

Metadata rules take the mex-* headers MESH delivers with a downloaded message (lower-case names) and
the parsed message; request rules take the sandbox's log of the requests one mailbox made (see
gpc_assure.mesh.launcher), which is how the suite sees what MESH itself ignores (Mex-From, token reuse).
A rule with nothing to judge (no Patient to compare Mex-To with, no request logged) raises `NotJudged`,
naming the requirement that reports the absence when there is one; tests lift them with `verify.rule`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from gpc_assure.checks import send_document as sd
from gpc_assure.checks.core import NotJudged
from gpc_assure.messaging import itk3
from gpc_assure.messaging.spec import SendDocumentSpec

Headers = Mapping[str, str]
Message = dict[str, Any]
_DEMOGRAPHIC = re.compile(r"^GPPROVIDER_(?P<nhs>\d{10})_(?P<dob>\d{8})_(?P<surname>.+)$", re.IGNORECASE)
_FHIR_MEDIA = ("application/fhir+json", "application/fhir+xml", "application/json+fhir", "application/xml+fhir")
TOKEN_WINDOW = dt.timedelta(hours=2)


def body_is_message(headers: Headers, body: bytes) -> list[str]:
    """MSG-SD-002: the MESH message body is the FHIR message Bundle itself, in JSON or XML, and a declared
    content type names that format."""
    try:
        msg = itk3.parse_message(body, headers.get("mex-content-type"))
    except itk3.UnreadableMessage as exc:
        return [f"the MESH message body is not a FHIR resource: {exc}"]
    out = []
    if msg.get("resourceType") != "Bundle":
        out.append(f"the MESH message body is a {msg.get('resourceType')}, expected the ITK3 message Bundle")
    declared = (headers.get("mex-content-type") or "").split(";")[0].strip().lower()
    if declared and declared not in _FHIR_MEDIA:
        out.append(f"Mex-Content-Type is '{declared}', expected a FHIR media type such as application/fhir+json")
    elif declared and ("xml" in declared) != body.lstrip().startswith(b"<"):
        out.append(f"Mex-Content-Type '{declared}' does not match the body's format")
    return out


def workflow(headers: Headers, spec: SendDocumentSpec, expected: str | None = None) -> list[str]:
    """MSG-SD-003."""
    want = expected or spec.workflow_id
    got = headers.get("mex-workflowid")
    return [] if got == want else [f"Mex-WorkflowID is {_shown(got)}, expected '{want}' ({spec.version})"]


def demographic_address(headers: Headers) -> list[str]:
    """MSG-SD-004: Mex-To is MESH's registered-practice routing address, not a mailbox ID."""
    to = headers.get("mex-to") or ""
    if _DEMOGRAPHIC.match(to):
        return []
    return [f"Mex-To is {_shown(to or None)}, expected GPPROVIDER_<NHS number>_<DDMMYYYY>_<surname> (MESH routes "
            "it to the patient's registered practice)"]


def address_matches_patient(headers: Headers, msg: Message) -> list[str]:
    """MSG-SD-005: the NHS number, birth date and surname in Mex-To are the Patient's (each part is
    compared when both sides have it; a missing Patient detail is MSG-SD-058's finding)."""
    m = _DEMOGRAPHIC.match(headers.get("mex-to") or "")
    if m is None:
        raise NotJudged("Mex-To is not a GPPROVIDER_ routing address to compare with the Patient", cause="MSG-SD-004")
    sd.need_document(msg)
    res = sd.patient(msg)
    if res is None:
        raise NotJudged("the document holds no Patient to compare Mex-To with", cause="MSG-SD-048")
    out = []
    compared = 0
    nhs = sd.patient_nhs_number(res)
    if nhs:
        compared += 1
        if nhs != m["nhs"]:
            out.append(f"Mex-To names NHS number {m['nhs']}, the Patient is {nhs}")
    birth = res.get("birthDate")
    if isinstance(birth, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", birth):
        compared += 1
        ddmmyyyy = f"{birth[8:10]}{birth[5:7]}{birth[0:4]}"
        if ddmmyyyy != m["dob"]:
            out.append(f"Mex-To names birth date {m['dob']}, the Patient's is {birth} ({ddmmyyyy})")
    family = sd.official_family(res)
    if family:
        compared += 1
        if family.upper() != m["surname"].upper():
            out.append(f"Mex-To names surname '{m['surname']}', the Patient's is '{family}'")
    if not compared:
        raise NotJudged("the Patient has no NHS number, birth date or surname to compare with Mex-To",
                        cause="MSG-SD-058")
    return out


def subject(headers: Headers, msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-006 (reading SD-C09): the version's subject template, filled with this message's patient
    and sending organisation."""
    text = headers.get("mex-subject") or ""
    m = spec.subject_pattern.match(text)
    if m is None:
        return [f"Mex-Subject {_shown(text or None)} does not follow the {spec.version} template"]
    out = []
    nhs = sd.patient_nhs_number(sd.patient(msg))
    if nhs and m["nhs"] != nhs:
        out.append(f"Mex-Subject names NHS number {m['nhs']}, the Patient is {nhs}")
    ods = sd.sending_ods(msg)
    if ods and m["ods"].upper() != ods.upper():
        out.append(f"Mex-Subject names ODS code {m['ods']}, the sender is {ods}")
    return out


def subject_version(headers: Headers, spec: SendDocumentSpec) -> int | None:
    m = spec.subject_pattern.match(headers.get("mex-subject") or "")
    return int(m["version"]) if m and m.groupdict().get("version") else None


def local_id(headers: Headers, msg: Message) -> list[str]:
    """MSG-SD-007: Mex-LocalID is the sending organisation's ODS code (and so carries no patient data)."""
    got = headers.get("mex-localid")
    if not got:
        return ["Mex-LocalID is missing; it carries the sending organisation's ODS code"]
    ods = sd.sending_ods(msg)
    if not ods:
        raise NotJudged("the message names no sending organisation's ODS code to compare Mex-LocalID with",
                        cause="MSG-SD-025")
    if got.upper() != ods.upper():
        return [f"Mex-LocalID is '{got}', expected the sending organisation's ODS code '{ods}'"]
    return []


def source_is_sender(headers: Headers, msg: Message) -> list[str]:
    """MSG-SD-026: MessageHeader.source.endpoint is the mailbox the message came from (acks go there)."""
    header = sd.need_header(msg)
    source = header.get("source") if isinstance(header.get("source"), dict) else {}
    endpoint = source.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise NotJudged("the MessageHeader has no source.endpoint to compare with the mailbox it came from")
    sent_from = headers.get("mex-from")
    if not sent_from:
        raise NotJudged("MESH delivered the message without Mex-From: the mailbox it came from is not known")
    if endpoint.upper() == sent_from.upper():
        return []
    return [f"MessageHeader.source.endpoint is '{endpoint}' but the message came from mailbox '{sent_from}': "
            "acknowledgements addressed there would not reach the sender"]


# --- requests a mailbox made (the sandbox's request log) ------------------------------------------------


def _path_mailbox(record: Mapping[str, Any]) -> str | None:
    parts = str(record.get("path", "")).split("/")
    if len(parts) > 2 and parts[1] == "messageexchange" and parts[2] not in ("admin", "endpointlookup",
                                                                             "workflowsearch", "_ping"):
        return parts[2]
    return None


def requests_of(records: list[dict[str, Any]], mailbox: str) -> list[dict[str, Any]]:
    """The authenticated requests made as this mailbox (by path, whatever case it was written in)."""
    return [r for r in records if (_path_mailbox(r) or "").upper() == mailbox.upper()]


def mex_from(records: list[dict[str, Any]], mailbox: str) -> list[str]:
    """MSG-SD-008: a Mex-From sent on a message is the sender's own mailbox (judged on the messages that
    carry one: the header is not required, reading SD-C13)."""
    posts = [r for r in requests_of(records, mailbox)
             if r.get("method") == "POST" and str(r.get("path", "")).rstrip("/").endswith("/outbox")]
    if not posts:
        raise NotJudged(f"the sandbox logged no message posted by mailbox {mailbox}", cause="MSG-SD-001")
    carrying = [(r.get("headers") or {}).get("mex-from") for r in posts]
    carrying = [sent for sent in carrying if sent is not None]
    if not carrying:
        raise NotJudged(f"none of the {len(posts)} message(s) mailbox {mailbox} posted carries Mex-From "
                        "(not required: reading SD-C13)")
    return [f"a message was posted with Mex-From '{sent}'; the sender's mailbox is '{mailbox}'"
            for sent in carrying if sent.upper() != mailbox.upper()]


def tokens(records: list[dict[str, Any]], mailbox: str, window: dt.timedelta = TOKEN_WINDOW) -> list[str]:
    """MSG-SD-009: every request carries a well-formed NHSMESH token for its own mailbox, in upper case,
    with a nonce never used before and a timestamp within two hours of when it was made."""
    mine = requests_of(records, mailbox)
    if not mine:
        raise NotJudged(f"the sandbox logged no request from mailbox {mailbox}")
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for r in mine:
        where = f"{r.get('method')} {r.get('path')} at {r.get('at')}"
        token = r.get("auth")
        if not token:
            out.append(f"{where}: no Authorization header")
            continue
        if token.get("scheme") != "NHSMESH" or token.get("parts") != 5 or not token.get("hash_present"):
            out.append(f"{where}: the Authorization header is not 'NHSMESH mailbox:nonce:count:timestamp:hash'")
            continue
        if token.get("mailbox") != mailbox.upper() or _path_mailbox(r) != mailbox.upper():
            out.append(f"{where}: the token is for mailbox {_shown(token.get('mailbox'))} on path mailbox "
                       f"{_shown(_path_mailbox(r))}, expected '{mailbox.upper()}' in upper case in both")
        key = (str(token.get("nonce")), str(token.get("nonce_count")))
        if key in seen:
            out.append(f"{where}: the token reuses nonce {key[0]} (count {key[1]}) from an earlier request")
        seen.add(key)
        stamp = _stamp(token.get("timestamp"))
        at = _at(r.get("at"))
        if stamp is None:
            out.append(f"{where}: the token timestamp {_shown(token.get('timestamp'))} is not yyyyMMddHHmm")
        elif at is not None and abs(at - stamp) > window:
            out.append(f"{where}: the token timestamp {token.get('timestamp')} is more than {window} from the "
                       "time of the request")
        if len(out) >= 5:
            out.append("... (further requests not listed)")
            break
    return out


def _shown(value: Any) -> str:
    return "missing" if value is None else f"'{value}'"


def _stamp(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(value), "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _at(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
