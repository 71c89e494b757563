"""The reference Send Document sender: a service that reports a consultation to the patient's practice.

Asked to send (`send("original")`, then `send("replacement")` for an updated report of the same
encounter), it builds a conformant message for its spec version and posts it to MESH with demographic
routing. A poll loop collects what comes back (ITK3 responses and MESH error reports), records it and
acknowledges it in MESH. Each fault declared here changes one thing about what it sends or collects.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from gpc_assure.mesh.client import MeshClient
from gpc_assure.mesh.poller import InboxPoller
from gpc_assure.messaging import itk3
from gpc_assure.messaging.document import (
    Clinician,
    DocumentDetails,
    Organisation,
    OutgoingMessage,
    PatientDetails,
    build,
)
from gpc_assure.messaging.spec import SendDocumentSpec
from gpc_assure.reference.faults import ActiveFaults, declare

log = logging.getLogger("gpc_assure.reference.sender")
Mutation = Callable[[OutgoingMessage, "ReferenceSender"], None]
MUTATIONS: dict[str, Mutation] = {}


def _fault(name: str, breaks: list[str], description: str, mutation: Mutation | None = None) -> str:
    declare(name, breaks, "messaging", description, role="sender")
    if mutation is not None:
        MUTATIONS[name] = mutation
    return name


def _header(m: OutgoingMessage) -> dict[str, Any]:
    return m.bundle["entry"][0]["resource"]


def _handling_part(m: OutgoingMessage, name: str) -> dict[str, Any]:
    ext = _header(m)["extension"][0]["extension"]
    return next(e for e in ext if e["url"] == name)


def _doc(m: OutgoingMessage) -> dict[str, Any]:
    return m.bundle["entry"][2]["resource"]


def _doc_resource(m: OutgoingMessage, rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in _doc(m)["entry"] if e["resource"]["resourceType"] == rtype)


def _composition(m: OutgoingMessage) -> dict[str, Any]:
    return _doc_resource(m, "Composition")


def _dangling() -> dict[str, str]:
    return {"reference": f"urn:uuid:{uuid.uuid4()}"}


def _stale(m: OutgoingMessage, s: ReferenceSender) -> None:
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    _header(m)["timestamp"] = yesterday
    _composition(m)["date"] = yesterday


def _shift_birth_date(m: OutgoingMessage, s: ReferenceSender) -> None:
    patient = _doc_resource(m, "Patient")
    day = dt.date.fromisoformat(patient["birthDate"]) + dt.timedelta(days=1)
    patient["birthDate"] = day.isoformat()


def _move_header(m: OutgoingMessage, s: ReferenceSender) -> None:
    entries = m.bundle["entry"]
    entries[0], entries[1] = entries[1], entries[0]


def _second_document(m: OutgoingMessage, s: ReferenceSender) -> None:
    extra = copy.deepcopy(_doc(m))
    extra["id"] = str(uuid.uuid4())
    extra["identifier"] = {"system": itk3.UUID_SYSTEM, "value": str(uuid.uuid4())}
    m.bundle["entry"].append({"fullUrl": f"urn:uuid:{extra['id']}", "resource": extra})


def _composition_last(m: OutgoingMessage, s: ReferenceSender) -> None:
    entries = _doc(m)["entry"]
    entries.append(entries.pop(0))


def _drop_section_entry(m: OutgoingMessage, s: ReferenceSender) -> None:
    for section in _composition(m)["section"]:
        section.pop("entry", None)


def _local_extension(m: OutgoingMessage, s: ReferenceSender) -> None:
    wrong = "SendDocument-ConsultationReport" if s.spec.version == "v2" else "SendDocument-ConsultationSummary"
    _handling_part(m, "LocalExtension")["valueString"] = wrong


def _restricted(m: OutgoingMessage, s: ReferenceSender) -> None:
    _composition(m)["confidentiality"] = "R" if s.spec.version == "v2" else "V"


def _pdf_not_base64(m: OutgoingMessage, s: ReferenceSender) -> None:
    binary = _doc_resource(m, "Binary")
    binary["content"] = base64.b64decode(binary["content"]).decode("latin-1")


def _acks_not_requested(m: OutgoingMessage, s: ReferenceSender) -> None:
    _handling_part(m, "BusAckRequested")["valueBoolean"] = False
    _handling_part(m, "InfAckRequested")["valueBoolean"] = False


SENDS_NOTHING = _fault("sender-sends-nothing", ["MSG-SD-001"], "never posts the document to MESH")
BODY_BASE64 = _fault("sender-body-base64", ["MSG-SD-002"],
                     "posts the message bundle base64-encoded instead of as the FHIR message itself")
WRONG_WORKFLOW = _fault("sender-wrong-workflow-id", ["MSG-SD-003"],
                        "posts with the other spec version's workflow ID")
LITERAL_TO = _fault("sender-literal-mailbox-to", ["MSG-SD-004"],
                    "addresses the practice's mailbox ID instead of MESH's GPPROVIDER_ demographic routing")
PATIENT_DOB_MISMATCH = _fault("sender-patient-dob-mismatch", ["MSG-SD-005"],
                              "the Patient's birth date differs from the one in Mex-To", _shift_birth_date)
SUBJECT_TEMPLATE = _fault("sender-subject-template", ["MSG-SD-006"], "Mex-Subject ignores the version's template")
LOCAL_ID_NOT_ODS = _fault("sender-local-id-not-ods", ["MSG-SD-007"],
                          "Mex-LocalID carries the document ID instead of the sender's ODS code")
WRONG_MEX_FROM = _fault("sender-wrong-mex-from", ["MSG-SD-008"], "sends Mex-From with its ODS code, not its mailbox")
REUSES_TOKEN = _fault("sender-reuses-auth-token", ["MSG-SD-009-S"],
                      "sends the same MESH authorisation token (same nonce) on every request")
IGNORES_REPORTS = _fault("sender-ignores-reports", ["MSG-SD-011"],
                         "leaves MESH error REPORTs in its inbox, never collecting them")
_fault("sender-bundle-no-identifier", ["MSG-SD-021"], "the message Bundle has no identifier",
       lambda m, s: m.bundle.pop("identifier"))
_fault("sender-header-not-first", ["MSG-SD-022"], "the MessageHeader is the second entry, not the first",
       _move_header)
_fault("sender-header-wrong-profile", ["MSG-SD-023"], "the MessageHeader claims ITK-MessageHeader-1",
       lambda m, s: _header(m)["meta"].update(profile=[itk3.MESSAGE_HEADER[:-1] + "1"]))
_fault("sender-wrong-event-code", ["MSG-SD-024"], "MessageHeader.event is ITK007M, not ITK007C",
       lambda m, s: _header(m)["event"].update(code="ITK007M"))
_fault("sender-header-sender-dangling", ["MSG-SD-025"],
       "MessageHeader.sender points at an Organization that is not in the message",
       lambda m, s: _header(m).update(sender=_dangling()))
_fault("sender-source-endpoint-ods", ["MSG-SD-026"],
       "MessageHeader.source.endpoint holds the ODS code, not the sender's MESH mailbox",
       lambda m, s: _header(m)["source"].update(endpoint=s.org.ods_code))
_fault("sender-stale-timestamp", ["MSG-SD-027"],
       "stamps the message with the consultation's time (a day earlier), not when it was made", _stale)
_fault("sender-focus-dangling", ["MSG-SD-028"], "MessageHeader.focus points at nothing in the message",
       lambda m, s: _header(m).update(focus=[_dangling()]))
_fault("sender-header-destination", ["MSG-SD-029"], "the MessageHeader names a destination",
       lambda m, s: _header(m).update(destination=[{"endpoint": m.mesh.to}]))
_fault("missing-message-handling-extension", ["MSG-SD-030"],
       "the MessageHeader has no ITK message handling extension", lambda m, s: _header(m).pop("extension"))
_fault("sender-acks-not-requested", ["MSG-SD-031", "MSG-SD-032"],
       "asks for neither a business nor an infrastructure acknowledgement", _acks_not_requested)
_fault("sender-recipient-type-uncoded", ["MSG-SD-033"], "RecipientType is a bare code without its code system",
       lambda m, s: _handling_part(m, "RecipientType").update(valueCoding={"code": "ACTION"}))
_fault("sender-message-definition-instance", ["MSG-SD-034"],
       "MessageDefinition is the SCAL row's -Instance-1 URL",
       lambda m, s: _handling_part(m, "MessageDefinition").update(
           valueReference={"reference": itk3.SEND_DOCUMENT_DEFINITION_SCAL}))
REFERENCE_CHANGES = _fault("sender-reference-changes-on-replacement", ["MSG-SD-035"],
                           "gives the replacement report a new SenderReference, as if another encounter")
_fault("sender-local-extension-wrong", ["MSG-SD-036"], "LocalExtension holds another version's value",
       _local_extension)
_fault("sender-document-bundle-type-collection", ["MSG-SD-040"], "the document Bundle is of type collection",
       lambda m, s: _doc(m).update(type="collection"))
_fault("sender-composition-not-first", ["MSG-SD-041"], "the Composition is the last entry of the document",
       _composition_last)
_fault("sender-payload-missing-meta", ["MSG-SD-042"], "the Practitioner carries no meta.profile",
       lambda m, s: _doc_resource(m, "Practitioner").pop("meta"))
_fault("sender-composition-preliminary", ["MSG-SD-043"], "sends the Composition with status preliminary",
       lambda m, s: _composition(m).update(status="preliminary"))
_fault("sender-composition-type-local-code", ["MSG-SD-044"], "types the document with a local code, not SNOMED CT",
       lambda m, s: _composition(m).update(type={"coding": [{"system": "https://example.org/local-document-types",
                                                             "code": "CONSULT"}]}))
_fault("sender-composition-date-only", ["MSG-SD-045"], "Composition.date is a date without a time",
       lambda m, s: _composition(m).update(date=_composition(m)["date"][:10]))
_fault("sender-composition-no-title", ["MSG-SD-046"], "the Composition has no title",
       lambda m, s: _composition(m).pop("title"))
_fault("sender-composition-no-text", ["MSG-SD-047"], "the Composition has no narrative text",
       lambda m, s: _composition(m).pop("text"))
_fault("sender-subject-dangling", ["MSG-SD-048"], "Composition.subject points at no Patient in the document",
       lambda m, s: _composition(m).update(subject=_dangling()))
_fault("sender-author-dangling", ["MSG-SD-049"], "Composition.author points at nothing in the document",
       lambda m, s: _composition(m).update(author=[_dangling()]))
_fault("sender-custodian-missing", ["MSG-SD-050"], "the Composition has no custodian",
       lambda m, s: _composition(m).pop("custodian"))
_fault("sender-section-no-entry", ["MSG-SD-051"], "the Composition's section does not reference the PDF",
       _drop_section_entry)
_fault("pdf-not-base64", ["MSG-SD-052"], "the PDF is put into Binary.content raw, not base64-encoded",
       _pdf_not_base64)
_fault("sender-two-documents", ["MSG-SD-022", "MSG-SD-053"], "puts a second document Bundle into the message",
       _second_document)
_fault("sender-sends-restricted", ["MSG-SD-054"],
       "sends a confidentiality code the version does not allow (v2: R; v1.3: V)", _restricted)
_fault("sender-no-care-setting", ["MSG-SD-055"], "leaves out the careSettingType extension (v2)",
       lambda m, s: _composition(m).pop("extension", None))
_fault("sender-org-no-telecom", ["MSG-SD-056"], "the sending Organization has no phone number",
       lambda m, s: _doc_resource(m, "Organization").pop("telecom"))
_fault("sender-practitioner-no-sds-id", ["MSG-SD-057"], "the Practitioner has no SDS user ID",
       lambda m, s: _doc_resource(m, "Practitioner").pop("identifier"))
_fault("sender-patient-no-nhs-number", ["MSG-SD-058"], "the Patient has no NHS number identifier",
       lambda m, s: _doc_resource(m, "Patient").pop("identifier"))
REPLACEMENT_NO_RELATES = _fault("sender-replacement-without-relates-to", ["MSG-SD-059"],
                                "a replacement report does not say which document it replaces")
IGNORES_ACKS = _fault("sender-ignores-acks", ["MSG-SD-101"],
                      "never collects the ITK3 responses in its inbox")


class ReferenceSender:
    """Sends on request; collects responses in a daemon thread until `stop()`."""

    def __init__(self, make_client: Callable[[], MeshClient], spec: SendDocumentSpec, org: Organisation,
                 author: Clinician, patient: PatientDetails, faults: ActiveFaults, practice_mailbox: str,
                 poll_interval_s: float = 0.02):
        self.send_client = make_client()
        self.poll_client = make_client()
        self.spec = spec
        self.org = org
        self.author = author
        self.patient = patient
        self.faults = faults
        self.practice_mailbox = practice_mailbox
        self.poll_interval_s = poll_interval_s
        self.sent: list[OutgoingMessage] = []
        self.responses: list[dict[str, Any]] = []  # what came back: what a person would be shown
        self._left: set[str] = set()  # messages a fault makes it leave in the inbox
        self._lock = threading.Lock()
        self._poller = InboxPoller(self.poll_client, self._arrived, poll_interval_s, "gpc-reference-sender", log)

    @property
    def mailbox(self) -> str:
        return self.send_client.mailbox

    def start(self) -> ReferenceSender:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()
        self.send_client.close()
        self.poll_client.close()

    # --- sending -------------------------------------------------------------------------------------

    def send(self, kind: str = "original") -> str | None:
        """Report the encounter ("original"), or send its updated report ("replacement")."""
        if self.faults.on(SENDS_NOTHING):
            return None
        with self._lock:
            previous = self.sent[-1] if self.sent and kind == "replacement" else None
            if previous is not None:
                reference = str(uuid.uuid4()) if self.faults.on(REFERENCE_CHANGES) else previous.sender_reference
                replaces = None if self.faults.on(REPLACEMENT_NO_RELATES) else previous.document_identifier
                version = int(previous.extra.get("version", 1)) + 1
            else:
                reference, replaces, version = str(uuid.uuid4()), None, 1
            details = DocumentDetails(sender_reference=reference, version=version, replaces=replaces,
                                      lines=("Presenting complaint: persistent cough for three weeks.",
                                             "Examination: chest clear; observations normal.",
                                             "Plan: chest X-ray requested; review in two weeks."))
            out = build(self.spec, patient=self.patient, sender=self.org, author=self.author,
                        source_mailbox=self.mailbox, document=details)
            out.extra["version"] = version
            for name, mutate in MUTATIONS.items():
                if self.faults.on(name):
                    mutate(out, self)
            self.sent.append(out)
        body = out.body()
        if self.faults.on(BODY_BASE64):
            body = base64.b64encode(body)
        mesh = out.mesh
        workflow = mesh.workflow_id
        if self.faults.on(WRONG_WORKFLOW):
            workflow = "GPFED_CONSULT_REPORT" if self.spec.version == "v2" else "GPCONNECT_SEND_DOCUMENT"
        to = self.practice_mailbox if self.faults.on(LITERAL_TO) else mesh.to
        subject = f"Report: {self.patient.display_name} ({self.org.name})" if self.faults.on(SUBJECT_TEMPLATE) \
            else mesh.subject
        local_id = out.document_identifier if self.faults.on(LOCAL_ID_NOT_ODS) else mesh.local_id
        extra = {"mex-From": self.org.ods_code if self.faults.on(WRONG_MEX_FROM) else self.mailbox}
        message_id, _ = self.send_client.send(to, body, workflow, subject=subject, local_id=local_id,
                                              filename=mesh.filename, content_type=mesh.content_type,
                                              extra_headers=extra)
        out.extra["mesh_message_id"] = message_id
        return message_id

    # --- collecting ----------------------------------------------------------------------------------

    def _arrived(self, message_id: str) -> None:
        if message_id not in self._left:
            self._collect(message_id)

    def _collect(self, message_id: str) -> None:
        msg = self.poll_client.download(message_id)
        if msg.message_type == "REPORT":
            if self.faults.on(IGNORES_REPORTS):
                self._left.add(message_id)
                return
            self.responses.append({"kind": "mesh-report", "code": msg.header("mex-statuscode"),
                                   "linked": msg.header("mex-linkedmsgid")})
        else:
            if self.faults.on(IGNORES_ACKS):
                self._left.add(message_id)
                return
            try:
                response = itk3.read_response(itk3.parse_message(msg.body, msg.content_type))
                self.responses.append({"kind": "itk3", "code": response.itk_code, "responds_to": response.responds_to})
            except itk3.UnreadableMessage as exc:
                self.responses.append({"kind": "unreadable", "problem": str(exc)})
        self.poll_client.acknowledge(message_id)
