"""The suite as the patient's registered practice, for a sender under test: ask the sender to send, collect
the document from the suite's mailboxes within the bound, and answer it with ITK3 responses."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from gpc_assure.messaging import itk3
from gpc_assure.messaging.harness import Arrival, MeshSetup, Sent, SuitePeer


class NotCollected(Exception):
    """What a test needs was not collected; the test that judges its absence says why."""


@dataclass
class Collected:
    kind: str  # "original" or "replacement"
    arrival: Arrival | None
    waited_s: float
    bound_s: float

    @property
    def headers(self) -> dict[str, str]:
        return self.arrival.message.headers if self.arrival else {}

    def missing(self) -> str | None:
        if self.arrival is None:
            return f"no {self.kind} document arrived in {self.bound_s:g} s (see the MSG-SD-001 test)"
        if self.arrival.bundle is None:
            return f"the {self.kind} document's body cannot be read as FHIR: {self.arrival.problem} (see MSG-SD-002)"
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


def is_document(arrival: Arrival) -> bool:
    return arrival.message.message_type == "DATA" and not (arrival.message.workflow_id or "").endswith("_ACK")


def collect_document(mesh: SuitePeer, setup: MeshSetup, kind: str) -> Collected:
    """Ask the sender for a document (when the run can) and wait, within the bound, for it to arrive."""
    mesh.collect()
    since = mesh.arrivals[-1].seq if mesh.arrivals else 0
    if setup.trigger is not None:
        setup.trigger(kind)
    result = mesh.wait(lambda got: any(is_document(a) for a in got), since)
    arrival = next((a for a in result.arrivals if is_document(a)), None)
    return Collected(kind, arrival, result.waited_s, setup.ack_wait_s)


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
