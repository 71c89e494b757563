"""Rules over a Send Document message (the ITK3 message Bundle a sender posts), one per requirement.

Each rule is a pure function `(message: dict, spec: SendDocumentSpec) -> list[str]` returning problems.
A rule judges one thing. When what it judges is absent for a reason another rule reports (no
MessageHeader at all is MSG-SD-022's finding, not every header rule's), it raises `NotJudged` naming
that requirement as the cause, so one defect gives one finding and the other rules are not judged
(never "met" on nothing). `message_check` lifts a rule to a `Check` over a downloaded MESH message, and
the worked-example test runs the same rules over the published v1.3 example (`message_problems`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from gpc_assure.checks.core import Check, NotJudged, compact
from gpc_assure.checks.resources import rule_name
from gpc_assure.messaging import itk3
from gpc_assure.messaging.spec import SendDocumentSpec
from gpc_assure.nhs_number import is_valid as valid_nhs_number
from gpc_assure.transport.exchange import Exchange

Message = dict[str, Any]
Rule = Callable[[Message, SendDocumentSpec], list[str]]

PROFILE_BY_TYPE = {"Composition": itk3.COMPOSITION, "Binary": itk3.ATTACHMENT_BINARY, "Patient": itk3.PATIENT,
                   "Practitioner": itk3.PRACTITIONER, "Organization": itk3.ORGANIZATION}
_PLACEHOLDER = re.compile(r"\{[^{}]{1,60}\}|\[[A-Za-z][^\[\]]{1,60}\]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not _INSTANT.match(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _header(msg: Message) -> dict[str, Any] | None:
    return itk3.message_header(msg)


def _handling(msg: Message) -> dict[str, Any] | None:
    return itk3.handling(_header(msg))


def _document(msg: Message) -> dict[str, Any] | None:
    return itk3.document_bundle(msg)


def _composition(msg: Message) -> dict[str, Any] | None:
    found = itk3.resources(_document(msg), "Composition")
    return found[0] if found else None


# --- what a rule needs (else it is not judged, naming the requirement that reports the absence) ----------


def _kind(value: Any) -> str:
    rtype = value.get("resourceType") if isinstance(value, dict) else None
    if not isinstance(rtype, str) or not rtype:
        return "not a FHIR resource"
    return f"an {rtype}" if rtype[0] in "AEIOU" else f"a {rtype}"


def need_bundle(msg: Message) -> Message:
    """The message, when it is a Bundle (what it is otherwise is MSG-SD-021's finding)."""
    if not isinstance(msg, dict) or msg.get("resourceType") != "Bundle":
        raise NotJudged(f"the message is {_kind(msg)}, not a Bundle", cause="MSG-SD-021")
    return msg


def need_header(msg: Message) -> dict[str, Any]:
    """The MessageHeader (its absence is MSG-SD-022's finding)."""
    header = _header(need_bundle(msg))
    if header is None:
        raise NotJudged("the message holds no MessageHeader", cause="MSG-SD-022")
    return header


def need_part(msg: Message, name: str) -> Any:
    """One part of the handling extension, as sent (a missing extension or part is MSG-SD-030's finding)."""
    parts = itk3.handling(need_header(msg))
    if parts is None:
        raise NotJudged("the MessageHeader has no ITK message handling extension", cause="MSG-SD-030")
    if name not in parts:
        raise NotJudged(f"the handling extension has no {name} part", cause="MSG-SD-030")
    return parts[name]


def need_document(msg: Message) -> dict[str, Any]:
    """The document Bundle (a message without one is MSG-SD-022's finding)."""
    doc = _document(need_bundle(msg))
    if doc is None:
        raise NotJudged("the message carries no document Bundle", cause="MSG-SD-022")
    return doc


def need_composition(msg: Message) -> dict[str, Any]:
    """The document's Composition (a document without one is MSG-SD-041's finding)."""
    found = itk3.resources(need_document(msg), "Composition")
    if not found:
        raise NotJudged("the document holds no Composition", cause="MSG-SD-041")
    return found[0]


def need_resources(msg: Message, rtype: str, cause: str) -> list[dict[str, Any]]:
    found = itk3.resources(need_document(msg), rtype)
    if not found:
        raise NotJudged(f"the document holds no {rtype}", cause=cause)
    return found


def _ods(org: Any) -> str | None:
    for ident in (org or {}).get("identifier") or [] if isinstance(org, dict) else []:
        if isinstance(ident, dict) and ident.get("system") == itk3.ODS_SYSTEM and ident.get("value"):
            return str(ident["value"])
    return None


def sending_ods(msg: Message) -> str | None:
    """The ODS code of the sending organisation, as the MessageHeader.sender names it."""
    header = _header(msg)
    return _ods(itk3.resolve(msg, (header or {}).get("sender")))


def patient(msg: Message) -> dict[str, Any] | None:
    comp = _composition(msg)
    found = itk3.resolve(_document(msg), (comp or {}).get("subject"))
    if found is None:
        found = next(iter(itk3.resources(_document(msg), "Patient")), None)
    return found if found is not None and found.get("resourceType") == "Patient" else None


def patient_nhs_number(res: Any) -> str | None:
    for ident in (res or {}).get("identifier") or [] if isinstance(res, dict) else []:
        if isinstance(ident, dict) and ident.get("system") == itk3.NHS_NUMBER_SYSTEM and ident.get("value"):
            return str(ident["value"])
    return None


def official_family(res: Any) -> str | None:
    names = [n for n in (res or {}).get("name") or [] if isinstance(n, dict)] if isinstance(res, dict) else []
    official = [n for n in names if n.get("use") == "official"] or names
    family = official[0].get("family") if official else None
    return family if isinstance(family, str) else None


def _shown(value: Any) -> str:
    """A value for a message: quoted text, or 'missing' (never Python's None)."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'" if isinstance(value, str) else compact(value)


# --- the message Bundle ----------------------------------------------------------------------------------


def message_bundle(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-021: a Bundle of type message, profiled ITK-Message-Bundle-1, with an identifier."""
    out = []
    if not isinstance(msg, dict) or msg.get("resourceType") != "Bundle":
        return [f"the message is {_kind(msg)}, not a Bundle"]
    if msg.get("type") != "message":
        out.append(f"Bundle.type is {_shown(msg.get('type'))}, expected 'message'")
    if itk3.MESSAGE_BUNDLE not in itk3.profiles_of(msg):
        out.append(f"Bundle.meta.profile does not name {itk3.MESSAGE_BUNDLE}")
    ident = msg.get("identifier")
    if not isinstance(ident, dict) or not ident.get("value"):
        out.append("Bundle.identifier (the message's unique ID) is missing")
    return out


def message_entries(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-022: three entries: the MessageHeader first, then the ITK header Organization and the
    document Bundle."""
    types = [(e.get("resource") or {}).get("resourceType") for e in itk3.entries(need_bundle(msg))]
    shown = ", ".join(str(t or "an entry without a resource") for t in types) or "no entries"
    out = []
    if not types or types[0] != "MessageHeader":
        out.append(f"the first entry is {types[0] if types and types[0] else 'missing'}, expected the MessageHeader")
    if len(types) != 3 or sorted(t or "" for t in types[1:]) != ["Bundle", "Organization"]:
        out.append(f"the message holds [{shown}], expected [MessageHeader, Organization, Bundle]")
    return out


def one_document(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-053: one document per transmission."""
    n = len(itk3.resources(need_bundle(msg), "Bundle"))
    if n == 0:
        raise NotJudged("the message carries no document Bundle", cause="MSG-SD-022")
    return [] if n == 1 else [f"the message carries {n} document Bundles, expected exactly one"]


# --- the MessageHeader -----------------------------------------------------------------------------------


def header_profile(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-023: the MessageHeader is profiled ITK-MessageHeader-2."""
    header = need_header(msg)
    if itk3.MESSAGE_HEADER in itk3.profiles_of(header):
        return []
    have = ", ".join(itk3.profiles_of(header)) or "missing"
    return [f"MessageHeader.meta.profile is {have}, expected {itk3.MESSAGE_HEADER}"]


def header_event(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-024: event ITK007C from ITK-MessageEvent-2, with its display."""
    header = need_header(msg)
    event = header.get("event") if isinstance(header.get("event"), dict) else {}
    out = []
    if event.get("system") != itk3.EVENT_SYSTEM or event.get("code") != itk3.EVENT_SEND_DOCUMENT[0]:
        got = f"{event.get('system') or '(no system)'}|{event.get('code') or '(no code)'}" if event else "missing"
        out.append(f"MessageHeader.event is {got}, expected {itk3.EVENT_SYSTEM}|{itk3.EVENT_SEND_DOCUMENT[0]}")
    elif not event.get("display"):
        out.append("MessageHeader.event has no display")
    return out


def _ref(value: Any) -> str:
    ref = value.get("reference") if isinstance(value, dict) else value
    return f"'{ref}'" if isinstance(ref, str) and ref else "(no reference)" if value else "(missing)"


def header_sender(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-025: sender references the ITK header Organization in the bundle, which has an ODS code."""
    header = need_header(msg)
    org = itk3.resolve(msg, header.get("sender"))
    if org is None or org.get("resourceType") != "Organization":
        return [f"MessageHeader.sender {_ref(header.get('sender'))} does not resolve to an Organization in the message"]
    out = []
    if itk3.HEADER_ORGANIZATION not in itk3.profiles_of(org):
        out.append(f"the sender Organization is not profiled {itk3.HEADER_ORGANIZATION}")
    if _ods(org) is None:
        out.append("the sender Organization has no ODS code identifier")
    return out


def header_source(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-026 (the bundle half): source.endpoint holds a MESH mailbox ID."""
    header = need_header(msg)
    endpoint = ((header.get("source") or {}) if isinstance(header.get("source"), dict) else {}).get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip():
        return ["MessageHeader.source.endpoint (the sender's MESH mailbox, where acknowledgements go) is missing"]
    return []


def header_timestamp(msg: Message, spec: SendDocumentSpec, sent_at: dt.datetime | None = None,
                     window: dt.timedelta = dt.timedelta(hours=2)) -> list[str]:
    """MSG-SD-027: an instant with a time zone; when the upload time is known, no later than it and no
    earlier than `window` before it (the message was generated for this send)."""
    header = need_header(msg)
    when = parse_instant(header.get("timestamp"))
    if when is None:
        return [f"MessageHeader.timestamp {_shown(header.get('timestamp'))} is not an instant with a time zone"]
    if sent_at is not None:
        skew = dt.timedelta(minutes=5)  # clocks of two systems
        if when > sent_at + skew:
            return [f"MessageHeader.timestamp {header.get('timestamp')} is after the message reached MESH"]
        if when < sent_at - window:
            return [f"MessageHeader.timestamp {header.get('timestamp')} is more than {window} before the message "
                    f"reached MESH ({sent_at.isoformat(timespec='seconds')}): not when it was generated"]
    return []


def header_focus(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-028: focus references the document Bundle in the message."""
    header = need_header(msg)
    focus = header.get("focus")
    refs = focus if isinstance(focus, list) else [focus]
    targets = [itk3.resolve(msg, r) for r in refs if r]
    if not targets:
        return ["MessageHeader.focus is missing"]
    if not any(t is not None and t.get("resourceType") == "Bundle" for t in targets):
        shown = ", ".join(_ref(r) for r in refs if r)
        return [f"MessageHeader.focus {shown} does not resolve to the document Bundle in the message"]
    return []


def header_no_destination(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-029: no destination (profile 0..0); no receiver in v1.3 (v2 only discourages it)."""
    header = need_header(msg)
    out = []
    if header.get("destination"):
        out.append("MessageHeader.destination is present; the ITK3 profile forbids it (MESH does the routing)")
    if header.get("receiver") and spec.receiver_in_header == "forbidden":
        out.append(f"MessageHeader.receiver is present; {spec.version} forbids it")
    return out


# --- the handling extension ------------------------------------------------------------------------------


def handling_present(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-030: Extension-ITK-MessageHandling-2 with each of its six parts exactly once."""
    header = need_header(msg)
    exts = [e for e in header.get("extension") or [] if isinstance(e, dict) and e.get("url") == itk3.HANDLING]
    if len(exts) != 1:
        return [f"MessageHeader has {len(exts)} {itk3.HANDLING} extensions, expected exactly one"]
    urls = [s.get("url") for s in exts[0].get("extension") or [] if isinstance(s, dict)]
    out = []
    for part in itk3.HANDLING_PARTS:
        if urls.count(part) != 1:
            out.append(f"the handling extension has {urls.count(part)} {part} parts, expected exactly one")
    unknown = sorted({str(u) for u in urls} - set(itk3.HANDLING_PARTS))
    if unknown:
        out.append(f"the handling extension has parts the profile does not define: {', '.join(unknown)}")
    return out


def bus_ack_requested(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-031: BusAckRequested is true."""
    value = need_part(msg, "BusAckRequested")
    return [f"BusAckRequested is {_shown(value)}, expected true"] if value is not True else []


def inf_ack_requested(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-032: InfAckRequested is true."""
    value = need_part(msg, "InfAckRequested")
    return [f"InfAckRequested is {_shown(value)}, expected true"] if value is not True else []


def recipient_type(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-033: coded from ITK-RecipientType-1; v1.3 FA only, v2 FA or FI."""
    value = need_part(msg, "RecipientType")
    coding = value if isinstance(value, dict) else {}
    if coding.get("system") != itk3.RECIPIENT_TYPE_SYSTEM or coding.get("code") not in spec.recipient_types:
        got = f"{coding.get('system') or '(no system)'}|{coding.get('code') or '(no code)'}" if coding \
            else _shown(value)
        return [f"RecipientType is {got}, expected "
                f"{itk3.RECIPIENT_TYPE_SYSTEM}|{' or '.join(spec.recipient_types)} ({spec.version})"]
    return []


def message_definition(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-034 (reading SD-C03: the requirement's URL, not the SCAL row's -Instance-1)."""
    value = need_part(msg, "MessageDefinition")
    if value == itk3.SEND_DOCUMENT_DEFINITION:
        return []
    if value == itk3.SEND_DOCUMENT_DEFINITION_SCAL:
        return [f"MessageDefinition is the SCAL row's {value}; the requirement, the element page and the "
                f"published definition use {itk3.SEND_DOCUMENT_DEFINITION}"]
    return [f"MessageDefinition is {_shown(value)}, expected {itk3.SEND_DOCUMENT_DEFINITION}"]


def sender_reference(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-035: a string of 1 to 255 characters identifying the encounter."""
    value = need_part(msg, "SenderReference")
    if not isinstance(value, str) or not value.strip():
        return [f"SenderReference is {_shown(value)}, expected the encounter's unique ID as a string"]
    if len(value) > 255:
        return [f"SenderReference is {len(value)} characters long, at most 255 allowed"]
    return []


def local_extension(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-036 (reading SD-C02): LocalExtension holds the version's value."""
    value = need_part(msg, "LocalExtension")
    if value in spec.local_extensions_accepted:
        return []
    return [f"LocalExtension is {_shown(value)}, expected {' or '.join(spec.local_extensions_accepted)} "
            f"({spec.version})"]


# --- the document Bundle ---------------------------------------------------------------------------------


def document_bundle(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-040: type document, profiled ITK-Document-Bundle-1, with its own identifier."""
    doc = need_document(msg)
    out = []
    if doc.get("type") != "document":
        out.append(f"the document Bundle's type is {_shown(doc.get('type'))}, expected 'document'")
    if itk3.DOCUMENT_BUNDLE not in itk3.profiles_of(doc):
        out.append(f"the document Bundle's meta.profile does not name {itk3.DOCUMENT_BUNDLE}")
    ident = doc.get("identifier") if isinstance(doc.get("identifier"), dict) else {}
    if not ident.get("value"):
        out.append("the document Bundle has no identifier")
    elif ident.get("value") == (msg.get("identifier") or {}).get("value"):
        out.append("the document Bundle's identifier is the message Bundle's identifier; a document and the "
                   "message carrying it are two things, each with its own unique ID")
    return out


def one_composition(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-041: exactly one Composition, first in the document Bundle."""
    doc = need_document(msg)
    types = [(e.get("resource") or {}).get("resourceType") for e in itk3.entries(doc)]
    out = []
    if types.count("Composition") != 1:
        out.append(f"the document holds {types.count('Composition')} Compositions, expected exactly one")
    elif types[0] != "Composition":
        out.append(f"the document's first entry is {types[0] or 'an entry without a resource'}, expected the "
                   "Composition")
    return out


def payload_profiles(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-042: every resource in the document carries meta.profile with its CareConnect/ITK profile."""
    found = itk3.resources(need_document(msg))
    if not found:
        raise NotJudged("the document Bundle holds no resources", cause="MSG-SD-041")
    out = []
    for res in found:
        rtype = res.get("resourceType")
        want = PROFILE_BY_TYPE.get(str(rtype))
        have = itk3.profiles_of(res)
        if not have:
            out.append(f"{rtype} {res.get('id') or '(no id)'} has no meta.profile")
        elif want and want not in have:
            out.append(f"{rtype} {res.get('id') or '(no id)'} meta.profile is {', '.join(have)}, expected {want}")
    return out


def composition_status(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-043: final (v1.3 fixes it; v2 also allows amended, never work in progress)."""
    comp = need_composition(msg)
    allowed = ("final",) if spec.version == "v1.3" else ("final", "amended")
    status = comp.get("status")
    return [] if status in allowed else [f"Composition.status is {_shown(status)}, expected {' or '.join(allowed)}"]


def composition_type(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-044 (reading SD-C06): Composition.type is an approved SNOMED CT code."""
    comp = need_composition(msg)
    codings = [c for c in ((comp.get("type") or {}).get("coding") or []) if isinstance(c, dict)]
    if any(c.get("system") == itk3.SNOMED and c.get("code") in spec.composition_types for c in codings):
        return []
    got = ", ".join(f"{c.get('system') or '(no system)'}|{c.get('code') or '(no code)'}" for c in codings)
    return [f"Composition.type is {got or 'missing'}, expected SNOMED CT {' or '.join(spec.composition_types)}"]


def composition_date(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-045: the date and time the message was made (an instant; the same moment as the header's)."""
    comp = need_composition(msg)
    when = parse_instant(comp.get("date"))
    if when is None:
        return [f"Composition.date {_shown(comp.get('date'))} is not a date and time with a time zone"]
    stamp = parse_instant((_header(msg) or {}).get("timestamp"))
    if stamp is not None and abs(when - stamp) > dt.timedelta(minutes=10):
        return [f"Composition.date {comp.get('date')} is not when the message was made "
                f"(MessageHeader.timestamp {(_header(msg) or {}).get('timestamp')})"]
    return []


def composition_title(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-046: the Composition has a title (v1.3: its fixed title)."""
    comp = need_composition(msg)
    title = comp.get("title")
    if not isinstance(title, str) or not title.strip():
        return ["Composition.title is missing"]
    if spec.fixed_title and title != spec.fixed_title:
        return [f"Composition.title is '{title}', expected '{spec.fixed_title}' ({spec.version})"]
    return []


def narrative_text(div: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", div)).strip() if isinstance(div, str) else ""


def composition_text(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-047: a readable narrative (v1.3: its fixed template) with nothing left unfilled."""
    comp = need_composition(msg)
    text = comp.get("text") if isinstance(comp.get("text"), dict) else {}
    div = text.get("div")
    plain = narrative_text(div)
    if not plain:
        return ["Composition.text has no narrative"]
    out = []
    if "http://www.w3.org/1999/xhtml" not in str(div):
        out.append("Composition.text.div is not XHTML (no xhtml namespace)")
    holes = _PLACEHOLDER.findall(plain)
    if holes:
        out.append(f"Composition.text still holds template placeholders {', '.join(holes[:4])}")
    elif spec.version == "v1.3" and not re.search(
            r"^Consultation report for .+?\s*,\s*NHS Number:?\s*\d{10}\s*,\s*seen at .+?,\s*ODS Code:?\s*\S+?\s*,"
            r"\s*Version:?\s*\d+", plain, re.IGNORECASE):
        out.append(f"Composition.text '{plain[:120]}' does not follow the v1.3 template 'Consultation report for "
                   "<name> , NHS Number <nhs>, seen at <practice>, ODS Code <ods>, Version <n>'")
    return out


def composition_subject(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-048: Composition.subject is the Patient in the document."""
    comp = need_composition(msg)
    target = itk3.resolve(_document(msg), comp.get("subject"))
    if target is None or target.get("resourceType") != "Patient":
        return [f"Composition.subject {_ref(comp.get('subject'))} does not resolve to a Patient in the document"]
    return []


def composition_author(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-049 (reading SD-C05): v1.3 a Practitioner; v2 a Practitioner, or the sending Organization
    when no clinician is known."""
    comp = need_composition(msg)
    authors = comp.get("author") if isinstance(comp.get("author"), list) else []
    if not authors:
        return ["Composition.author is missing"]
    allowed = ("Practitioner",) if spec.author_required else ("Practitioner", "Organization")
    out = []
    for ref in authors:
        target = itk3.resolve(_document(msg), ref)
        if target is None or target.get("resourceType") not in allowed:
            out.append(f"Composition.author {_ref(ref)} does not resolve to a {' or '.join(allowed)} in the document")
    return out


def composition_custodian(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-050: custodian is the sending organisation (its ODS code is the message sender's)."""
    comp = need_composition(msg)
    target = itk3.resolve(_document(msg), comp.get("custodian"))
    if target is None or target.get("resourceType") != "Organization":
        return [f"Composition.custodian {_ref(comp.get('custodian'))} does not resolve to an Organization in the "
                "document"]
    sender = sending_ods(msg)
    if sender and _ods(target) and _ods(target) != sender:
        return [f"the custodian's ODS code {_ods(target)} is not the sending organisation's {sender}"]
    return []


def sections(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-051: one section per attachment, each entry a Binary in the document, primary first."""
    comp = need_composition(msg)
    doc = _document(msg)
    secs = [s for s in comp.get("section") or [] if isinstance(s, dict)]
    if not secs:
        return ["Composition has no section referencing the document"]
    out = []
    referenced: list[str] = []
    for n, sec in enumerate(secs):
        refs = [e for e in sec.get("entry") or [] if isinstance(e, dict)]
        if not refs:
            out.append(f"section[{n}] has no entry")
        for ref in refs:
            target = itk3.resolve(doc, ref)
            if target is None or target.get("resourceType") != "Binary":
                out.append(f"section[{n}] entry {_ref(ref)} does not resolve to a Binary in the document")
            else:
                referenced.append(str(target.get("id")))
    binaries = [str(b.get("id")) for b in itk3.resources(doc, "Binary")]
    unreferenced = [b for b in binaries if b not in referenced]
    if unreferenced:
        out.append(f"Binary {', '.join(unreferenced)} is in the document but no section references it")
    return out


def binaries(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-052: each attachment inline: a content type and base64 content (a PDF for the report)."""
    out = []
    for n, res in enumerate(need_resources(msg, "Binary", "MSG-SD-051")):
        ctype, content = res.get("contentType"), res.get("content")
        name = res.get("id") or f"#{n + 1}"
        if not ctype:
            out.append(f"Binary {name} has no contentType")
        if not isinstance(content, str) or not content:
            out.append(f"Binary {name} has no content (attachments go inside the message, never by URL)")
            continue
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            out.append(f"Binary {name} content is not base64")
            continue
        if ctype == "application/pdf" and not raw.startswith(b"%PDF-"):
            out.append(f"Binary {name} says application/pdf but its content is not a PDF")
        if n == 0 and ctype != "application/pdf":
            out.append(f"the report (first Binary) is {_shown(ctype)}, expected application/pdf")
    return out


def confidentiality(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-054: v1.3 N, or R with the details redacted; v2.0.2 does not send confidential encounters."""
    comp = need_composition(msg)
    code = comp.get("confidentiality")
    if code is None:
        return ["Composition.confidentiality is missing"] if spec.version == "v1.3" else []
    if code not in spec.confidentiality:
        allowed = " or ".join(spec.confidentiality)
        return [f"Composition.confidentiality is {_shown(code)}; {spec.version} sends only {allowed}"]
    return []


def care_setting(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-055 (v2, reading SD-C07): careSettingType populated with a SNOMED CT code."""
    if not spec.care_setting_expected:
        raise NotJudged(f"{spec.version} does not use careSettingType")
    comp = need_composition(msg)
    for ext in comp.get("extension") or []:
        if isinstance(ext, dict) and str(ext.get("url", "")).endswith("CareSettingType-1"):
            codings = ((ext.get("valueCodeableConcept") or {}).get("coding") or [])
            if any(isinstance(c, dict) and c.get("system") == itk3.SNOMED and c.get("code") for c in codings):
                return []
            return ["the careSettingType extension has no SNOMED CT coding"]
    return ["Composition has no careSettingType extension"]


def sending_organization(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-056: the document's Organization has an ODS code, a name and a phone number."""
    out = []
    for org in need_resources(msg, "Organization", "MSG-SD-050"):
        name = org.get("id") or "(no id)"
        if _ods(org) is None:
            out.append(f"Organization {name} has no ODS code identifier ({itk3.ODS_SYSTEM})")
        if not org.get("name"):
            out.append(f"Organization {name} has no name")
        if not any(isinstance(t, dict) and t.get("system") == "phone" and t.get("value")
                   for t in org.get("telecom") or []):
            out.append(f"Organization {name} has no phone number")
    return out


def practitioners(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-057: an SDS user ID and a single official name."""
    out = []
    for prac in need_resources(msg, "Practitioner", "MSG-SD-049"):
        name = prac.get("id") or "(no id)"
        if not any(isinstance(i, dict) and i.get("system") == itk3.SDS_USER_SYSTEM and i.get("value")
                   for i in prac.get("identifier") or []):
            out.append(f"Practitioner {name} has no SDS user ID ({itk3.SDS_USER_SYSTEM})")
        names = [n for n in prac.get("name") or [] if isinstance(n, dict)]
        if len(names) != 1 or names[0].get("use") != "official":
            uses = ", ".join(str(n.get("use") or "no use") for n in names)
            out.append(f"Practitioner {name} has {len(names)} name(s)" + (f" ({uses})" if names else "")
                       + ", expected one with use 'official'")
    return out


def patient_details(msg: Message, spec: SendDocumentSpec) -> list[str]:
    """MSG-SD-058: NHS number (nhs-number system, valid), one official name, birthDate YYYY-MM-DD."""
    need_document(msg)
    res = patient(msg)
    if res is None:
        raise NotJudged("the document holds no Patient", cause="MSG-SD-048")
    out = []
    nhs = patient_nhs_number(res)
    if nhs is None:
        out.append(f"Patient has no NHS number identifier ({itk3.NHS_NUMBER_SYSTEM})")
    elif not valid_nhs_number(nhs):
        out.append(f"Patient NHS number '{nhs}' is not a valid NHS number")
    names = [n for n in res.get("name") or [] if isinstance(n, dict)]
    if len([n for n in names if n.get("use") == "official"]) != 1:
        uses = ", ".join(str(n.get("use") or "no use") for n in names)
        out.append(f"Patient has {len(names)} name(s)" + (f" ({uses})" if names else "") + ", expected one 'official'")
    if not _DATE.match(str(res.get("birthDate") or "")):
        out.append(f"Patient.birthDate {_shown(res.get('birthDate'))} is not YYYY-MM-DD")
    return out


def replaces(original: Message, replacement: Message) -> list[str]:
    """MSG-SD-059: a replacement says it replaces the earlier document, by that document's identifier."""
    before = (_document(original) or {}).get("identifier") or {}
    if not isinstance(before, dict) or not before.get("value"):
        raise NotJudged("the earlier document has no identifier to be replaced by", cause="MSG-SD-040")
    comp = need_composition(replacement)
    links = [r for r in comp.get("relatesTo") or [] if isinstance(r, dict)]
    if not links:
        return ["the replacement's Composition has no relatesTo"]
    for link in links:
        target = link.get("targetIdentifier") if isinstance(link.get("targetIdentifier"), dict) else {}
        if link.get("code") == "replaces" and target.get("value") == before.get("value"):
            return []
    shown = "; ".join(f"{link.get('code') or '(no code)'} "
                      f"{(link.get('targetIdentifier') or {}).get('value') or _ref(link.get('targetReference'))}"
                      for link in links)
    return [f"the replacement's relatesTo ({shown}) does not say 'replaces' the earlier document "
            f"{before.get('value')}"]


# The rule each sender requirement is judged by, over one message.
MESSAGE_RULES: dict[str, Rule] = {
    "MSG-SD-021": message_bundle, "MSG-SD-022": message_entries, "MSG-SD-023": header_profile,
    "MSG-SD-024": header_event, "MSG-SD-025": header_sender, "MSG-SD-026": header_source,
    "MSG-SD-027": header_timestamp, "MSG-SD-028": header_focus, "MSG-SD-029": header_no_destination,
    "MSG-SD-030": handling_present, "MSG-SD-031": bus_ack_requested, "MSG-SD-032": inf_ack_requested,
    "MSG-SD-033": recipient_type, "MSG-SD-034": message_definition, "MSG-SD-035": sender_reference,
    "MSG-SD-036": local_extension, "MSG-SD-040": document_bundle, "MSG-SD-041": one_composition,
    "MSG-SD-042": payload_profiles, "MSG-SD-043": composition_status, "MSG-SD-044": composition_type,
    "MSG-SD-045": composition_date, "MSG-SD-046": composition_title, "MSG-SD-047": composition_text,
    "MSG-SD-048": composition_subject, "MSG-SD-049": composition_author, "MSG-SD-050": composition_custodian,
    "MSG-SD-051": sections, "MSG-SD-052": binaries, "MSG-SD-053": one_document, "MSG-SD-054": confidentiality,
    "MSG-SD-055": care_setting, "MSG-SD-056": sending_organization, "MSG-SD-057": practitioners,
    "MSG-SD-058": patient_details,
}


def problems_of(rule: Rule, msg: Message, spec: SendDocumentSpec, **kw: Any) -> list[str]:
    """A rule's problems, or none when it has nothing to judge (for callers that only act on problems,
    such as the reference receiver's validation; a verdict must come from `message_check`)."""
    try:
        return list(rule(msg, spec, **kw))
    except NotJudged:
        return []


def message_problems(msg: Message, spec: SendDocumentSpec) -> dict[str, list[str]]:
    """Every rule over one message: requirement -> problems (only those with problems)."""
    out = {}
    for rid, rule in MESSAGE_RULES.items():
        found = problems_of(rule, msg, spec)
        if found:
            out[rid] = found
    return out


def message_verdicts(msg: Message, spec: SendDocumentSpec) -> dict[str, str]:
    """Every rule over one message: requirement -> 'met', 'not-met' or 'not-judged'."""
    from gpc_assure.checks.core import judge, summarise

    out = {}
    for rid, rule in MESSAGE_RULES.items():
        out[rid] = summarise(judge(rid, rid, lambda rule=rule: rule(msg, spec)))[rid].value
    return out


def parsed_body(ex: Exchange) -> tuple[Message | None, str | None]:
    """The message an exchange downloaded, or why there is none to judge."""
    if ex.response is None:
        return None, f"no response: {ex.error}"
    try:
        msg = itk3.parse_message(ex.response.body, ex.response.header("mex-content-type"))
    except itk3.UnreadableMessage as exc:
        return None, str(exc)
    return msg, None


def message_check(rule: Rule, spec: SendDocumentSpec, requirement: str, reading: str | None = None,
                  message: Message | None = None, name: str | None = None, **kw: Any) -> Check:
    """Lift a message rule to a check over the exchange that downloaded the message from MESH.

    `message` is the message as collected (all its chunks, parsed); without it the exchange's body is
    parsed. A body that is not a FHIR message leaves the rule not judged (MSG-SD-002 reports it).
    """

    def run(ex: Exchange) -> list[str]:
        msg = message
        if msg is None:
            msg, why = parsed_body(ex)
            if msg is None:
                raise NotJudged(f"the MESH message body is not a FHIR message: {why}", cause="MSG-SD-002")
        return rule(msg, spec, **kw)

    return Check(requirement, run, name or rule_name(rule), reading=reading)
