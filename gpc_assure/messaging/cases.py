"""The suite as a sender, for a receiver under test: a valid baseline message, the negative cases made by
changing one thing in a copy of it, and sending one case and gathering the responses it gets.

Responses are attributed to a case by time: the suite sends one case, collects until the responses it
expects have come (or the bound runs out), then keeps listening for the settle period, and only then
sends the next. A receiver that gets the correlation identifiers wrong is then still judged on
everything else, and its wrong identifiers are MSG-SD-097's finding.

A rule about what came back needs something to have come back: `answers` and `responses_to` stop a
test (its requirements not judged, cause MSG-SD-093, the requirement about answering) when nothing did.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpc_assure.messaging import itk3
from gpc_assure.messaging.document import DocumentDetails, OutgoingMessage, PatientDetails, build
from gpc_assure.messaging.harness import Arrival, MeshSetup, Sent, SuitePeer
from gpc_assure.messaging.pdf import report_pdf
from gpc_assure.target import PatientData

ANSWERED = "MSG-SD-093"  # a message gets an infrastructure response within the bound

Mutation = Callable[[OutgoingMessage, MeshSetup], bytes | None]  # new body bytes, or None: send the bundle


def patient_details(p: PatientData) -> PatientDetails:
    """A target test patient as a document subject (demographics the target leaves out are made up: the
    receiver matches on the NHS number)."""
    given = tuple(p.given) or ("Test",)
    return PatientDetails(p.nhs_number, p.family or "Unknown", given, p.birth_date or "1970-01-01",
                          gender=p.gender)


def baseline(setup: MeshSetup, patient: PatientDetails, *, pdf: bytes | None = None) -> OutgoingMessage:
    """A conformant message from the suite, for the target's spec version."""
    return build(setup.spec, patient=patient, sender=setup.suite_org, author=setup.suite_author,
                 source_mailbox=setup.source_endpoint,
                 document=DocumentDetails(sender_reference=f"gpc-assure-{uuid.uuid4()}", pdf=pdf,
                                          lines=("gpc-assure conformance test document: not a real consultation.",)))


def _header(m: OutgoingMessage) -> dict[str, Any]:
    return m.bundle["entry"][0]["resource"]


def _doc(m: OutgoingMessage) -> dict[str, Any]:
    return m.bundle["entry"][2]["resource"]


def _doc_resource(m: OutgoingMessage, rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in _doc(m)["entry"] if e["resource"]["resourceType"] == rtype)


def _part(m: OutgoingMessage, name: str) -> dict[str, Any]:
    return next(e for e in _header(m)["extension"][0]["extension"] if e["url"] == name)


def _unreadable(m: OutgoingMessage, s: MeshSetup) -> bytes:
    return b"This is not a FHIR message: gpc-assure sends it to see the receiver answer 10009."


def _no_handling(m: OutgoingMessage, s: MeshSetup) -> None:
    _header(m).pop("extension")


def _unknown_definition(m: OutgoingMessage, s: MeshSetup) -> None:
    _part(m, "MessageDefinition")["valueReference"] = {
        "reference": "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-NoSuchService-MessageDefinition-1"}


def _wrong_event(m: OutgoingMessage, s: MeshSetup) -> None:
    _header(m)["event"] = {"system": itk3.EVENT_SYSTEM, "code": itk3.EVENT_RESPONSE[0],
                           "display": itk3.EVENT_RESPONSE[1]}


def _no_patient(m: OutgoingMessage, s: MeshSetup) -> None:
    doc = _doc(m)
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] != "Patient"]


def _unsupported_type(m: OutgoingMessage, s: MeshSetup) -> None:
    binary = _doc_resource(m, "Binary")
    binary["contentType"] = "application/x-msdownload"
    binary["content"] = base64.b64encode(b"MZ\x90\x00 gpc-assure test: not a document type a practice files").decode()


def _restricted(m: OutgoingMessage, s: MeshSetup) -> None:
    _doc_resource(m, "Composition")["confidentiality"] = "R"


@dataclass(frozen=True)
class Case:
    name: str
    requirement: str
    what: str  # in the test title
    infrastructure: tuple[str, ...]  # the infrastructure codes that answer it correctly
    business: str | None = None  # the business code expected after a positive infrastructure response
    mutate: Mutation | None = None
    patient_role: str = "registered_verified"
    versions: tuple[str, ...] = ()  # spec versions the case applies to (empty: both)
    oversized: bool = False


NEGATIVE_CASES: tuple[Case, ...] = (
    Case("unreadable", "MSG-SD-099", "an unreadable message gets 10009", ("10009",), mutate=_unreadable),
    Case("no-handling-extension", "MSG-SD-072", "a message without the handling extension is refused",
         ("10001", "10008", "20006"), mutate=_no_handling),
    Case("unknown-message-definition", "MSG-SD-072", "an unknown MessageDefinition is refused",
         ("10004", "10001"), mutate=_unknown_definition),
    Case("wrong-event", "MSG-SD-072", "a message with the wrong ITK3 event is refused (20006)", ("20006",),
         mutate=_wrong_event),
    Case("no-patient", "MSG-SD-072", "a document without its Patient is refused (20009)", ("20009",),
         mutate=_no_patient),
    Case("unsupported-attachment", "MSG-SD-072", "an attachment type no practice files is refused",
         ("20005", "20004", "20009"), mutate=_unsupported_type),
    Case("confidential", "MSG-SD-075", "a document marked confidentiality R is refused (20009)", ("20009",),
         mutate=_restricted, versions=("v2",)),
    Case("unknown-patient", "MSG-SD-074", "a patient not registered there gets business code 30002",
         (itk3.INF_SUCCESS,), business="30002", patient_role="unknown"),
    Case("patient-left", "MSG-SD-074", "a patient who has left the practice gets business code 30003",
         (itk3.INF_SUCCESS,), business="30003", patient_role="inactive"),
    Case("too-large", "MSG-SD-078", "an attachment above the receiver's limit gets 20015", ("20015",),
         oversized=True),
)


def expected_count(responses: list[Arrival]) -> bool:
    """Enough responses to judge: a negative one (nothing may follow), a business one, or two."""
    got = [a.response for a in responses if a.response is not None]
    if any(a.response is None and a.problem for a in responses):
        return True
    return any(r.business or not r.positive for r in got) or len(got) >= 2


@dataclass
class Exchanged:
    """One message the suite sent and what came back for it (in the order it arrived)."""

    sent: Sent
    arrivals: list[Arrival]
    waited_s: float
    timed_out: bool
    outgoing: OutgoingMessage | None

    @property
    def responses(self) -> list[itk3.Response]:
        return [a.response for a in self.arrivals if a.response is not None]

    @property
    def not_responses(self) -> list[Arrival]:
        """MESH data messages that arrived but are not ITK3 response messages."""
        return [a for a in self.arrivals if a.message.message_type == "DATA" and a.response is None]


def answers(verify: Any, got: Exchanged, *, responses_only: bool = False) -> list[Arrival]:
    """The messages the receiver sent back (only ITK3 responses, with `responses_only`), or the test stops:
    nothing came back, so the rules about what came back are not judged (cause MSG-SD-093)."""
    found = [a for a in got.arrivals if a.message.message_type == "DATA"
             and (a.response is not None or not responses_only)]
    if not found:
        what = "ITK3 response" if responses_only else "message"
        verify.stop(f"no {what} arrived in reply in {got.waited_s:.1f} s", cause=ANSWERED)
    return found


def responses_to(verify: Any, got: Exchanged) -> list[itk3.Response]:
    """The ITK3 responses that came back, or the test stops (cause MSG-SD-093)."""
    return [a.response for a in answers(verify, got, responses_only=True) if a.response is not None]


def exchange(mesh: SuitePeer, setup: MeshSetup, outgoing: OutgoingMessage | None, *, body: bytes | None = None,
             workflow_id: str | None = None, label: str = "",
             done: Callable[[list[Arrival]], bool] = expected_count) -> Exchanged:
    """Send one message to the receiver under test, wait for its responses, then settle."""
    if outgoing is None:
        sent = mesh.send(setup.sut_receiver_mailbox, body or b"", workflow_id or setup.document_workflow,
                         label=label, content_type="application/fhir+json")
    else:
        sent = mesh.send_message(setup.sut_receiver_mailbox, outgoing, body=body,
                                 workflow_id=workflow_id or setup.document_workflow, label=label)
    result = mesh.wait(done, sent.seq_before)
    arrivals = mesh.settle(sent.seq_before)
    return Exchanged(sent, arrivals, result.waited_s, result.timed_out, outgoing)


def oversized_pdf(limit: int) -> bytes:
    """A valid PDF a little above the limit (many lines of filler text)."""
    filler = "gpc-assure conformance test: an attachment above the receiver's size limit. " * 2
    lines = [filler] * (limit // len(filler) + 50)
    pdf = report_pdf(lines)
    assert len(pdf) > limit
    return pdf
