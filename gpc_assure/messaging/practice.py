"""The suite as the patient's registered practice, for a sender under test: ask the sender to send, collect
the document from the suite's mailboxes within the bound, and answer it with ITK3 responses.

What a test needs of the collected document is a precondition: `arrived(verify, doc)` and
`readable(verify, doc)` stop the test, leaving its requirements not judged, when no document arrived
(MSG-SD-001's finding, or MSG-SD-059's for the updated report) or its body is not a FHIR message
(MSG-SD-002's), naming that requirement as the cause. They never skip: a missing document is charged
once, to the requirement about sending it, by the test that judges it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from gpc_assure.messaging import itk3
from gpc_assure.messaging.harness import Arrival, MeshSetup, Sent, SuitePeer, TriggerRun
from gpc_assure.transport.exchange import Exchange

SENT = "MSG-SD-001"  # a document arrives after the sender is asked
READABLE = "MSG-SD-002"  # its MESH body is the FHIR message
REPLACED = "MSG-SD-059"  # an updated report arrives and replaces the first


@dataclass
class Collected:
    kind: str  # "original" or "replacement"
    arrival: Arrival | None
    waited_s: float
    bound_s: float
    trigger: TriggerRun | None = None  # how the target's trigger_command ran, when it has one
    trigger_exchange: Exchange | None = None  # ... as recorded in the evidence
    # Why the sender was never asked (the original never arrived, so no update was asked for), and the
    # requirement that reports it.
    blocked: tuple[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return self.arrival.message.headers if self.arrival else {}

    @property
    def cause(self) -> str:
        """The requirement whose finding a missing document is."""
        return SENT if self.kind == "original" else REPLACED

    def nothing_arrived(self) -> str:
        """Why there is no document, in words: the wait, and how the trigger command ended."""
        if self.blocked is not None:
            return self.blocked[0]
        why = f"no {self.kind} document arrived in the suite's mailboxes in {self.waited_s:.1f} s"
        if self.trigger is not None:
            why += f" ({self.trigger.describe()})"
        return why

    def missing(self) -> str | None:
        if self.arrival is None:
            return self.nothing_arrived()
        if self.arrival.bundle is None:
            return f"the {self.kind} document's body cannot be read as FHIR: {self.arrival.problem}"
        return None

    @property
    def message(self) -> dict[str, Any]:
        assert self.arrival is not None and self.arrival.bundle is not None
        return self.arrival.bundle

    @property
    def reached_mesh(self) -> dt.datetime | None:
        """When MESH accepted it (mex-statustimestamp, UTC)."""
        try:
            return dt.datetime.strptime(self.headers.get("mex-statustimestamp") or "", "%Y%m%d%H%M%S").replace(
                tzinfo=dt.UTC)
        except ValueError:
            return None


def arrived(verify: Any, doc: Collected) -> Arrival:
    """The document's arrival, or the test stops: its requirements not judged, the cause the requirement
    about sending it (MSG-SD-001 for the first report, MSG-SD-059 for the update)."""
    if doc.arrival is None:
        cause = doc.blocked[1] if doc.blocked is not None else doc.cause
        verify.stop(doc.nothing_arrived(), cause=cause)
    assert doc.arrival is not None
    return doc.arrival


def not_a_message(arrival: Arrival) -> str | None:
    """Why what arrived is not a FHIR message Bundle (MSG-SD-002's finding), or None when it is one."""
    if arrival.bundle is None:
        return f"its MESH body is not a FHIR message: {arrival.problem}"
    rtype = arrival.bundle.get("resourceType")
    if rtype != "Bundle":
        return f"its MESH body is a FHIR {rtype}, not the ITK3 message Bundle"
    return None


def readable(verify: Any, doc: Collected) -> dict[str, Any]:
    """The document's FHIR message Bundle, or the test stops (cause MSG-SD-001/-059 when nothing arrived,
    MSG-SD-002 when its body is not a FHIR message Bundle)."""
    arrival = arrived(verify, doc)
    why = not_a_message(arrival)
    if why is not None:
        verify.stop(f"the {doc.kind} document cannot be judged: {why}", cause=READABLE)
    return doc.message


def is_document(arrival: Arrival) -> bool:
    return arrival.message.message_type == "DATA" and not (arrival.message.workflow_id or "").endswith("_ACK")


def collect_document(mesh: SuitePeer, setup: MeshSetup, kind: str) -> Collected:
    """Ask the sender for a document (when the run can) and wait, within the bound, for it to arrive."""
    mesh.collect()
    since = mesh.arrivals[-1].seq if mesh.arrivals else 0
    ran = setup.trigger(kind) if setup.trigger is not None else None
    evidence = None
    if ran is not None:
        evidence = ran.exchange()
        mesh.recorder(evidence)  # the evidence of how the trigger command ended
    result = mesh.wait(lambda got: any(is_document(a) for a in got), since)
    arrival = next((a for a in result.arrivals if is_document(a)), None)
    return Collected(kind, arrival, result.waited_s, setup.ack_wait_s, ran, evidence)


def reply_to(arrival: Arrival) -> str:
    """Where the suite, as a careful receiver, sends responses: MessageHeader.source.endpoint when it is the
    mailbox the message came from, else that mailbox (whether source.endpoint is right is MSG-SD-026)."""
    header = itk3.message_header(arrival.bundle) or {}
    source = header.get("source") if isinstance(header.get("source"), dict) else {}
    endpoint, sender = source.get("endpoint"), arrival.message.sender
    if endpoint and sender and endpoint.upper() == sender.upper():
        return endpoint
    return sender or endpoint or ""


def respond(mesh: SuitePeer, setup: MeshSetup, arrival: Arrival, codes: list[str]) -> list[Sent]:
    """Answer a collected document with ITK3 responses, in order, from the mailbox it arrived in."""
    message = arrival.bundle or {}
    header = itk3.message_header(message) or {}
    workflow = setup.spec.ack_workflow(arrival.message.workflow_id)
    sent = []
    for code in codes:
        bundle = itk3.build_response(
            responds_to=str(header.get("id") or itk3.UNREADABLE),
            sender_reference=itk3.sender_reference(message) or itk3.UNREADABLE, code=code,
            from_mailbox=arrival.mailbox, ods_code=setup.suite_org.ods_code,
            diagnostics=None if itk3.RESPONSE_CODES[code].positive else "gpc-assure test response: the payload "
                                                                          "was refused on purpose")
        sent.append(mesh.send(reply_to(arrival), json.dumps(bundle).encode(), workflow, from_mailbox=arrival.mailbox,
                              local_id=setup.suite_org.ods_code, subject=f"ITK response {code}",
                              label=f"suite: send ITK3 response {code} to the sender"))
    return sent
