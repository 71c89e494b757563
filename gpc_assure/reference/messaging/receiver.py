"""The reference Send Document receiver: the patient's registered practice, collecting from MESH.

It polls its inbox, downloads and acknowledges each message, validates it, and answers the sender over
MESH with an ITK3 infrastructure response and (when that is positive) a business response saying
whether the patient is registered here. Invalid messages get the negative code the ITK3 code list has
for the problem, with diagnostics, and nothing after it. Each fault declared here changes one of those
behaviours.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from dataclasses import dataclass

from gpc_assure.checks import send_document as sd
from gpc_assure.mesh.client import MeshClient, MeshError, MeshMessage
from gpc_assure.mesh.poller import InboxPoller
from gpc_assure.messaging import itk3
from gpc_assure.messaging.spec import SendDocumentSpec
from gpc_assure.reference.faults import ActiveFaults, declare

log = logging.getLogger("gpc_assure.reference.receiver")


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "messaging", description, role="receiver")


NEVER_ACKNOWLEDGES = _fault("receiver-never-acknowledges", ["MSG-SD-013"],
                            "downloads messages but never marks them acknowledged in MESH")
REUSES_TOKEN = _fault("receiver-reuses-auth-token", ["MSG-SD-009-R"],
                      "sends the same MESH authorisation token (same nonce) on every request")
REJECTS_LEGACY = _fault("receiver-rejects-legacy-workflow", ["MSG-SD-070"],
                        "ignores documents sent with the legacy GPFED_CONSULT_REPORT workflow")
SKIPS_HEADER_VALIDATION = _fault("receiver-skips-header-validation", ["MSG-SD-072"],
                                 "accepts messages whatever their ITK3 header and handling extension say")
NO_DIAGNOSTICS = _fault("receiver-negative-without-diagnostics", ["MSG-SD-073"],
                        "negative responses say nothing in issue.diagnostics")
BUS_ACK_ALWAYS_KNOWN = _fault("receiver-bus-ack-always-30001", ["MSG-SD-074"],
                              "answers 'patient known here' (30001) for every patient")
ACCEPTS_RESTRICTED = _fault("receiver-accepts-restricted", ["MSG-SD-075"],
                            "files documents marked confidentiality R instead of rejecting them (v2)")
NO_DUPLICATE_CHECK = _fault("receiver-no-duplicate-check", ["MSG-SD-076"],
                            "processes the same message twice instead of answering 20007")
NO_SIZE_LIMIT = _fault("receiver-no-size-limit", ["MSG-SD-078"],
                       "accepts attachments above its declared size limit instead of answering 20015")
ACK_WRONG_WORKFLOW = _fault("receiver-ack-wrong-workflow", ["MSG-SD-090"],
                            "sends responses with the document workflow ID instead of the _ACK workflow")
ACKS_TO_MEX_FROM = _fault("receiver-acks-to-mex-from", ["MSG-SD-091"],
                          "addresses responses to the mailbox the message came from, not MessageHeader.source.endpoint")
DUPLICATE_BUSINESS_ACK = _fault("receiver-duplicate-business-ack", ["MSG-SD-092"],
                                "sends the 'patient known here' business response twice")
BUSINESS_BEFORE_INFRASTRUCTURE = _fault("business-ack-before-infrastructure", ["MSG-SD-092"],
                                        "sends 'patient known here' before the infrastructure response")
OMITS_INFRASTRUCTURE_ACK = _fault("receiver-omits-infrastructure-ack", ["MSG-SD-093"],
                                  "sends no infrastructure response for messages it accepts")
ACK_WRONG_CODE = _fault("ack-wrong-code", ["MSG-SD-094"],
                        "the business response for a patient registered here says 30002 (not known)")
OMITS_BUSINESS_ACK = _fault("receiver-omits-business-ack", ["MSG-SD-094", "MSG-SD-074"],
                            "never sends a business response (so an unknown patient is never reported either)")
BUSINESS_AFTER_NEGATIVE = _fault("receiver-business-ack-after-negative", ["MSG-SD-095"],
                                 "sends a business response even after a negative infrastructure response")
ACK_MISSING_SENDER_REFERENCE = _fault("ack-missing-sender-reference", ["MSG-SD-096"],
                                      "responses do not echo the original SenderReference")
ACK_WRONG_IDENTIFIER = _fault("ack-wrong-response-identifier", ["MSG-SD-097"],
                              "response.identifier is the original Bundle.id, not its MessageHeader.id")
ACK_WRONG_SEVERITY = _fault("ack-wrong-severity", ["MSG-SD-098"],
                            "success responses carry an OperationOutcome issue of severity warning")
IGNORES_UNREADABLE = _fault("receiver-ignores-unreadable", ["MSG-SD-099"],
                            "drops a message it cannot read without answering 10009")
ACK_INCLUDES_PATIENT = _fault("ack-includes-patient", ["MSG-SD-100"],
                              "responses name the patient's NHS number in their diagnostics")

# Attachment types the reference practice files (anything else: 20005).
ACCEPTED_TYPES = ("application/pdf", "text/plain", "text/html", "image/jpeg", "image/png", "image/tiff")
DEFAULT_MAX_ATTACHMENT_BYTES = 200_000


@dataclass(frozen=True)
class Verdict:
    code: str
    diagnostics: str | None = None


class ReferenceReceiver:
    """Runs in a daemon thread; `stop()` ends it."""

    def __init__(self, client: MeshClient, spec: SendDocumentSpec, ods_code: str, registered: dict[str, str],
                 faults: ActiveFaults, poll_interval_s: float = 0.02,
                 max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES):
        self.client = client
        self.spec = spec
        self.ods_code = ods_code
        self.registered = registered  # NHS number -> "active" | "inactive" | "deceased"
        self.faults = faults
        self.poll_interval_s = poll_interval_s
        self.max_attachment_bytes = max_attachment_bytes
        self.seen_messages: set[str] = set()  # message identifiers, for duplicates
        self._handled: set[str] = set()  # MESH message IDs already answered (a fault may leave them in the inbox)
        self.filed: list[dict[str, str]] = []  # what reached the practice's workflow (never invalid messages)
        self._poller = InboxPoller(self.client, self._arrived, poll_interval_s, "gpc-reference-receiver", log)

    def start(self) -> ReferenceReceiver:
        self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()
        self.client.close()

    def _arrived(self, message_id: str) -> None:
        if message_id in self._handled:
            return
        self._handled.add(message_id)
        msg = self.client.download(message_id)
        if not self.faults.on(NEVER_ACKNOWLEDGES):
            self.client.acknowledge(message_id)
        self.handle(msg)

    # --- one message ---------------------------------------------------------------------------------

    def handle(self, msg: MeshMessage) -> None:
        if msg.message_type != "DATA":
            return  # a MESH report about something this practice sent: nothing to answer
        workflow = msg.workflow_id or ""
        if workflow not in self.spec.document_workflows:
            return
        if workflow in self.spec.legacy_workflow_ids and self.faults.on(REJECTS_LEGACY):
            return
        ack_workflow = workflow if self.faults.on(ACK_WRONG_WORKFLOW) else self.spec.ack_workflow(workflow)
        try:
            bundle = itk3.parse_message(msg.body, msg.content_type)
        except itk3.UnreadableMessage as exc:
            if not self.faults.on(IGNORES_UNREADABLE):
                self._respond(msg.sender or "", ack_workflow, itk3.UNREADABLE, itk3.UNREADABLE, "10009",
                              f"the message could not be read: {exc}")
            return
        header = itk3.message_header(bundle) or {}
        header_id = str(header.get("id") or itk3.UNREADABLE)
        if self.faults.on(ACK_WRONG_IDENTIFIER):
            header_id = str(bundle.get("id") or header_id)
        parts = itk3.handling(header) or {}
        reference = parts.get("SenderReference") if isinstance(parts.get("SenderReference"), str) else None
        endpoint = (header.get("source") or {}).get("endpoint") if isinstance(header.get("source"), dict) else None
        to = msg.sender if self.faults.on(ACKS_TO_MEX_FROM) or not endpoint else endpoint
        verdict = self.validate(bundle, msg)
        nhs = sd.patient_nhs_number(sd.patient(bundle)) or ""
        business = None
        if verdict.code == itk3.INF_SUCCESS or self.faults.on(BUSINESS_AFTER_NEGATIVE):
            if parts.get("BusAckRequested") is True and not self.faults.on(OMITS_BUSINESS_ACK):
                business = self.patient_code(nhs)
        sends: list[tuple[str, str | None]] = []
        accepted = verdict.code == itk3.INF_SUCCESS
        if (parts.get("InfAckRequested") is not False or not accepted) and not (
                accepted and self.faults.on(OMITS_INFRASTRUCTURE_ACK)):
            sends.append((verdict.code, verdict.diagnostics))
        if business is not None:
            sends.append(business)
            known = business[0] == itk3.BUS_SUCCESS
            if known and self.faults.on(DUPLICATE_BUSINESS_ACK):
                sends.append(business)
            if known and self.faults.on(BUSINESS_BEFORE_INFRASTRUCTURE):
                sends.reverse()
        for code, diagnostics in sends:
            if self.faults.on(ACK_INCLUDES_PATIENT) and nhs:
                diagnostics = f"{diagnostics or 'filed'} for NHS number {nhs}"
            self._respond(to or "", ack_workflow, header_id, reference, code, diagnostics)
        if verdict.code == itk3.INF_SUCCESS:
            self.filed.append({"nhs_number": nhs, "subject": msg.header("mex-subject") or ""})

    def patient_code(self, nhs: str) -> tuple[str, str | None]:
        status = self.registered.get(nhs)
        if self.faults.on(BUS_ACK_ALWAYS_KNOWN) or status == "active":
            if status == "active" and self.faults.on(ACK_WRONG_CODE):
                return "30002", "no patient with this NHS number is registered at this practice"
            return itk3.BUS_SUCCESS, None
        if status in ("inactive", "deceased"):
            return "30003", "the patient is no longer registered at this practice"
        return "30002", "no patient with this NHS number is registered at this practice"

    def validate(self, bundle: dict, msg: MeshMessage) -> Verdict:
        """The infrastructure code for this message: 20013 when it can be accepted."""
        spec = self.spec
        header = itk3.message_header(bundle)
        if not self.faults.on(SKIPS_HEADER_VALIDATION):
            if header is None or itk3.handling(header) is None:
                return Verdict("10001", "the MessageHeader has no ITK message handling extension")
            parts = itk3.handling(header) or {}
            if not isinstance(parts.get("InfAckRequested"), bool):
                return Verdict("10002", f"InfAckRequested is {parts.get('InfAckRequested')!r}, not a boolean")
            if not isinstance(parts.get("BusAckRequested"), bool):
                return Verdict("10003", f"BusAckRequested is {parts.get('BusAckRequested')!r}, not a boolean")
            if sd.problems_of(sd.message_definition, bundle, spec):
                return Verdict("10004", f"unknown MessageDefinition {parts.get('MessageDefinition')!r}")
            for rule in (sd.header_event, sd.header_sender, sd.header_source, sd.header_focus):
                problems = sd.problems_of(rule, bundle, spec)  # a rule with nothing to judge finds nothing
                if problems:
                    return Verdict("20006", problems[0])
        identifier = str((bundle.get("identifier") or {}).get("value") or "")
        if identifier and identifier in self.seen_messages and not self.faults.on(NO_DUPLICATE_CHECK):
            return Verdict("20007", f"message {identifier} was received before")
        if identifier:
            self.seen_messages.add(identifier)
        doc = itk3.document_bundle(bundle)
        if doc is None:
            return Verdict("20009", "the message carries no document Bundle")
        for rule in (sd.document_bundle, sd.one_composition, sd.composition_subject, sd.sections):
            problems = sd.problems_of(rule, bundle, spec)
            if problems:
                return Verdict("20009", problems[0])
        nhs = sd.patient_nhs_number(sd.patient(bundle))
        if nhs is None:
            return Verdict("20009", "the Patient has no NHS number")
        for res in itk3.resources(doc, "Binary"):
            if res.get("contentType") not in ACCEPTED_TYPES:
                return Verdict("20005", f"attachment type {res.get('contentType')!r} is not one this practice files")
            try:
                size = len(base64.b64decode(str(res.get("content") or ""), validate=True))
            except (binascii.Error, ValueError):
                return Verdict("20009", f"Binary {res.get('id')} content is not base64")
            if size > self.max_attachment_bytes and not self.faults.on(NO_SIZE_LIMIT):
                return Verdict("20015", f"an attachment of {size} bytes is above this practice's limit of "
                                        f"{self.max_attachment_bytes}")
        comp = next(iter(itk3.resources(doc, "Composition")), {})
        if (spec.version == "v2" and comp.get("confidentiality") == "R"
                and not self.faults.on(ACCEPTS_RESTRICTED)):
            return Verdict("20009", "confidential documents (confidentiality R) are not accepted over Send Document")
        return Verdict(itk3.INF_SUCCESS)

    def _respond(self, to: str, workflow: str, responds_to: str, reference: str | None, code: str,
                 diagnostics: str | None) -> None:
        if self.faults.on(NO_DIAGNOSTICS):
            diagnostics = None
        bundle = itk3.build_response(responds_to=responds_to, sender_reference=reference or itk3.UNREADABLE,
                                     code=code, from_mailbox=self.client.mailbox, ods_code=self.ods_code,
                                     diagnostics=diagnostics)
        if self.faults.on(ACK_MISSING_SENDER_REFERENCE):
            handling = bundle["entry"][0]["resource"]["extension"][0]
            handling["extension"] = [e for e in handling["extension"] if e["url"] != "SenderReference"]
        if self.faults.on(ACK_WRONG_SEVERITY) and itk3.RESPONSE_CODES[code].positive:
            bundle["entry"][2]["resource"]["issue"][0]["severity"] = "warning"
        if self.faults.on(ACK_INCLUDES_PATIENT) and diagnostics:
            bundle["entry"][2]["resource"]["issue"][0]["diagnostics"] = diagnostics
        with contextlib.suppress(MeshError):
            self.client.send(to, json.dumps(bundle).encode(), workflow, local_id=self.ods_code,
                             subject=f"ITK response {code}", content_type="application/fhir+json",
                             filename=f"ITKResponse-{code}.json")
