"""Building a conformant Send Document message (ITK3 message Bundle wrapping a document Bundle with a PDF)
and its MESH metadata, for either spec version.

The reference sender sends what this builds (its faults then change one thing), and the receiver suite
builds its valid baseline here before mutating copies for the negative cases.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from gpc_assure.messaging import itk3
from gpc_assure.messaging.pdf import report_pdf
from gpc_assure.messaging.spec import CONSULTATION_REPORT, SendDocumentSpec

GENERAL_PRACTICE_SETTING = ("788007007", "General practice service")


@dataclass(frozen=True)
class PatientDetails:
    nhs_number: str
    family: str
    given: tuple[str, ...]
    birth_date: str  # YYYY-MM-DD
    prefix: tuple[str, ...] = ()
    gender: str | None = None

    @property
    def display_name(self) -> str:
        return " ".join([*self.given, self.family])

    @property
    def birth_ddmmyyyy(self) -> str:
        y, m, d = self.birth_date.split("-")
        return f"{d}{m}{y}"


@dataclass(frozen=True)
class Organisation:
    ods_code: str
    name: str
    telephone: str


@dataclass(frozen=True)
class Clinician:
    sds_user_id: str
    family: str
    given: tuple[str, ...]
    prefix: tuple[str, ...] = ()
    telephone: str | None = None


@dataclass(frozen=True)
class DocumentDetails:
    sender_reference: str  # the encounter's own ID: the same for every version of its report
    version: int = 1
    replaces: str | None = None  # the identifier of the document this one replaces
    title: str = "Consultation report"
    type_code: tuple[str, str] = CONSULTATION_REPORT
    confidentiality: str = "N"
    recipient_type: str = "FA"
    pdf: bytes | None = None
    content_type: str = "application/pdf"
    lines: tuple[str, ...] = ()  # the report's clinical content (the PDF shows it)


@dataclass(frozen=True)
class MeshMetadata:
    to: str
    workflow_id: str
    subject: str
    local_id: str
    filename: str
    content_type: str = "application/fhir+json"


@dataclass
class OutgoingMessage:
    bundle: dict[str, Any]
    header_id: str
    message_identifier: str
    document_identifier: str
    sender_reference: str
    mesh: MeshMetadata
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        return json.dumps(self.bundle, ensure_ascii=False).encode("utf-8")


def mesh_to(patient: PatientDetails) -> str:
    """MESH's registered-practice routing address for a patient (MESH finds the practice from PDS)."""
    return f"GPPROVIDER_{patient.nhs_number}_{patient.birth_ddmmyyyy}_{patient.family}"


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _phone(number: str) -> list[dict[str, str]]:
    return [{"system": "phone", "value": number, "use": "work"}]


def build(spec: SendDocumentSpec, *, patient: PatientDetails, sender: Organisation, author: Clinician | None,
          source_mailbox: str, document: DocumentDetails, now: dt.datetime | None = None) -> OutgoingMessage:
    moment = now or dt.datetime.now(dt.UTC)
    ids = {k: str(uuid.uuid4()) for k in ("bundle", "header", "header_org", "doc", "composition", "binary",
                                          "practitioner", "organization", "patient")}
    message_identifier, document_identifier = str(uuid.uuid4()), str(uuid.uuid4())
    title = spec.fixed_title or document.title
    summary = dict(title=title, patient_name=patient.display_name, nhs_number=patient.nhs_number,
                   practice=sender.name, ods_code=sender.ods_code, version=document.version)
    pdf = document.pdf if document.pdf is not None else report_pdf([
        f"{title} - version {document.version}", f"Patient: {patient.display_name}",
        f"NHS number: {patient.nhs_number}", f"Date of birth: {patient.birth_date}",
        f"Seen at: {sender.name} ({sender.ods_code})", f"Date: {_instant(moment)}", "",
        *(document.lines or ("Consultation notes are recorded in the sending system.",))])

    patient_res: dict[str, Any] = {
        "resourceType": "Patient", "id": ids["patient"], "meta": {"profile": [itk3.PATIENT]},
        "identifier": [{"system": itk3.NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
        "name": [{"use": "official", "family": patient.family, "given": list(patient.given),
                  **({"prefix": list(patient.prefix)} if patient.prefix else {})}],
        "birthDate": patient.birth_date,
    }
    if patient.gender:
        patient_res["gender"] = patient.gender
    organization = {
        "resourceType": "Organization", "id": ids["organization"], "meta": {"profile": [itk3.ORGANIZATION]},
        "identifier": [{"system": itk3.ODS_SYSTEM, "value": sender.ods_code}], "name": sender.name,
        "telecom": _phone(sender.telephone),
    }
    binary = {"resourceType": "Binary", "id": ids["binary"], "meta": {"profile": [itk3.ATTACHMENT_BINARY]},
              "contentType": document.content_type, "content": base64.b64encode(pdf).decode("ascii")}
    text = spec.text_summary(**summary)
    composition: dict[str, Any] = {
        "resourceType": "Composition", "id": ids["composition"], "meta": {"profile": [itk3.COMPOSITION]},
        "status": "final",
        "type": {"coding": [{"system": itk3.SNOMED, "code": document.type_code[0],
                             "display": document.type_code[1]}]},
        "subject": {"reference": f"urn:uuid:{ids['patient']}"},
        "date": _instant(moment),
        "title": title,
        "confidentiality": document.confidentiality,
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'},
        "custodian": {"reference": f"urn:uuid:{ids['organization']}"},
        "section": [{"title": title, "entry": [{"reference": f"urn:uuid:{ids['binary']}"}]}],
    }
    doc_entries = [composition, binary]
    if author is not None:
        composition["author"] = [{"reference": f"urn:uuid:{ids['practitioner']}"}]
        practitioner = {
            "resourceType": "Practitioner", "id": ids["practitioner"], "meta": {"profile": [itk3.PRACTITIONER]},
            "identifier": [{"system": itk3.SDS_USER_SYSTEM, "value": author.sds_user_id}],
            "name": [{"use": "official", "family": author.family, "given": list(author.given),
                      **({"prefix": list(author.prefix)} if author.prefix else {})}],
        }
        if author.telephone:
            practitioner["telecom"] = _phone(author.telephone)
        doc_entries.append(practitioner)
    else:
        composition["author"] = [{"reference": f"urn:uuid:{ids['organization']}"}]
    doc_entries += [organization, patient_res]
    if spec.care_setting_expected:
        composition["extension"] = [{"url": itk3.CARE_SETTING, "valueCodeableConcept": {"coding": [
            {"system": itk3.SNOMED, "code": GENERAL_PRACTICE_SETTING[0], "display": GENERAL_PRACTICE_SETTING[1]}]}}]
    if document.replaces:
        composition["relatesTo"] = [{"code": "replaces",
                                     "targetIdentifier": {"system": itk3.UUID_SYSTEM, "value": document.replaces}}]
    doc_bundle = {"resourceType": "Bundle", "id": ids["doc"], "meta": {"profile": [itk3.DOCUMENT_BUNDLE]},
                  "identifier": {"system": itk3.UUID_SYSTEM, "value": document_identifier}, "type": "document",
                  "entry": [_entry(r) for r in doc_entries]}
    header_org = {"resourceType": "Organization", "id": ids["header_org"],
                  "meta": {"profile": [itk3.HEADER_ORGANIZATION]},
                  "identifier": [{"system": itk3.ODS_SYSTEM, "value": sender.ods_code}], "name": sender.name}
    header = {
        "resourceType": "MessageHeader", "id": ids["header"], "meta": {"profile": [itk3.MESSAGE_HEADER]},
        "extension": [itk3.handling_extension(bus_ack=True, inf_ack=True, recipient_type=document.recipient_type,
                                              definition=itk3.SEND_DOCUMENT_DEFINITION,
                                              sender_reference=document.sender_reference,
                                              local_extension=spec.local_extension)],
        "event": {"system": itk3.EVENT_SYSTEM, "code": itk3.EVENT_SEND_DOCUMENT[0],
                  "display": itk3.EVENT_SEND_DOCUMENT[1]},
        "sender": {"reference": f"urn:uuid:{ids['header_org']}"},
        "timestamp": _instant(moment),
        "source": {"endpoint": source_mailbox},
        "focus": [{"reference": f"urn:uuid:{ids['doc']}"}],
    }
    bundle = {"resourceType": "Bundle", "id": ids["bundle"], "meta": {"profile": [itk3.MESSAGE_BUNDLE]},
              "identifier": {"system": itk3.UUID_SYSTEM, "value": message_identifier}, "type": "message",
              "entry": [_entry(header), _entry(header_org), _entry(doc_bundle)]}
    mesh = MeshMetadata(to=mesh_to(patient), workflow_id=spec.workflow_id, subject=spec.subject(**summary),
                        local_id=sender.ods_code, filename=f"SendDocument-{document_identifier}.json")
    return OutgoingMessage(bundle, ids["header"], message_identifier, document_identifier,
                           document.sender_reference, mesh)
