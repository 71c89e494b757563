"""The suite's side of a MESH conversation: its mailboxes, what it sends, and everything that arrives.

The suite plays the other party to the system under test: a sender when a receiver is tested, the
patient's registered practice when a sender is tested. `SuitePeer` polls all the suite's mailboxes,
downloads and acknowledges whatever arrives (so nothing is left in MESH), parses it, and keeps it in
arrival order. Waits are bounded: a wait that runs out says what arrived and after how long, and the
last (empty) inbox listing is recorded as the evidence that nothing came.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpc_assure.mesh.client import MeshClient, MeshError, MeshMessage
from gpc_assure.messaging import itk3
from gpc_assure.messaging.document import Clinician, Organisation, OutgoingMessage
from gpc_assure.messaging.spec import SendDocumentSpec
from gpc_assure.transport.exchange import Exchange, RecordedRequest

Recorder = Callable[[Exchange], None]
OUTPUT_TAIL_CHARS = 2000


@dataclass
class TriggerRun:
    """One run of the target's trigger_command: how it ended and the end of what it printed."""

    kind: str  # "original" or "replacement"
    command: str  # the command as run ({kind} filled in)
    exit_code: int | None  # None when it did not run to an end (could not start, or timed out)
    output_tail: str  # the last OUTPUT_TAIL_CHARS characters of stdout and stderr together
    seconds: float
    problem: str | None = None  # "could not be started: ...", "timed out after 120 s"

    @property
    def failed(self) -> bool:
        return self.problem is not None or self.exit_code != 0

    def describe(self) -> str:
        """How it ended, in words, with the end of its output when it failed."""
        if self.problem is not None:
            how = f"the trigger command {self.problem}"
        elif self.exit_code:
            how = f"the trigger command exited with code {self.exit_code}"
        else:
            how = "the trigger command exited with code 0"
        if self.failed:
            tail = " ".join(self.output_tail.split())[-300:]
            how += f"; its output ended: {tail}" if tail else "; it printed nothing"
        return how

    def exchange(self) -> Exchange:
        """The run as an evidence record: the command, its exit code and the end of its output."""
        ex = Exchange("mesh.trigger", RecordedRequest("RUN", f"trigger_command {self.command}", []),
                      label=f"suite: run the target's trigger_command to make the sender send ({self.kind})",
                      elapsed_s=self.seconds)
        ex.error = self.describe()  # how it ended ("exited with code 0" too): a command gives no HTTP response
        ex.notes = [f"exit code: {self.exit_code if self.exit_code is not None else 'none'}"
                    + (f" ({self.problem})" if self.problem else ""),
                    f"output (last {OUTPUT_TAIL_CHARS} characters): {self.output_tail or '(nothing)'}"]
        return ex


@dataclass
class MeshSetup:
    """Where and as whom the suite talks MESH, resolved from the target's [mesh] section (or the
    built-in network), and the bounds on every wait."""

    spec: SendDocumentSpec
    url: str
    shared_key: str
    suite_mailboxes: dict[str, str]  # mailbox ID -> password; the first is the suite's own
    reply_mailbox: str | None  # a second suite mailbox, named as source.endpoint of what the suite sends
    sut_sender_mailbox: str  # the system under test's mailbox when it is the sender
    sut_receiver_mailbox: str  # ... and when it is the receiver
    document_workflow: str
    ack_wait_s: float
    settle_s: float
    poll_interval_s: float
    suite_org: Organisation
    suite_author: Clinician
    tls: ssl.SSLContext | None = None
    sandbox: Any = None  # gpc_assure.mesh.sandbox.MeshSandbox when the run started one
    # Makes the system under test send a document ("original", "replacement"); a command trigger says how it ran.
    trigger: Callable[[str], TriggerRun | None] | None = None
    max_attachment_bytes: int | None = None
    built_in: bool = False

    @property
    def primary(self) -> str:
        return next(iter(self.suite_mailboxes))

    @property
    def source_endpoint(self) -> str:
        return self.reply_mailbox or self.primary


@dataclass
class Arrival:
    """One message that reached a suite mailbox."""

    seq: int
    message: MeshMessage
    at: float  # time.monotonic() when it was collected
    bundle: dict[str, Any] | None = None
    problem: str | None = None  # why the body could not be read
    response: itk3.Response | None = None

    @property
    def mailbox(self) -> str:
        return self.message.mailbox

    @property
    def is_report(self) -> bool:
        return self.message.message_type == "REPORT"

    @property
    def exchange(self) -> Exchange:
        return self.message.exchange


@dataclass
class Sent:
    message_id: str
    exchange: Exchange
    at: float
    outgoing: OutgoingMessage | None = None
    seq_before: int = 0  # arrivals numbered above this came after it was sent
    mailbox: str = ""  # the suite mailbox it was sent from


@dataclass
class WaitResult:
    arrivals: list[Arrival]
    waited_s: float
    timed_out: bool


class SuitePeer:
    def __init__(self, setup: MeshSetup, recorder: Recorder):
        self.setup = setup
        self.recorder = recorder
        self.clients = {mb: MeshClient(setup.url, mb, pw, setup.shared_key, tls=setup.tls,
                                       observers=[self._record], who=f"suite ({mb})")
                        for mb, pw in setup.suite_mailboxes.items()}
        self.arrivals: list[Arrival] = []
        self._seq = 0

    def _record(self, ex: Exchange) -> None:
        self.recorder(ex)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()

    def client(self, mailbox: str | None = None) -> MeshClient:
        return self.clients[mailbox or self.setup.primary]

    # --- sending -----------------------------------------------------------------------------------

    def send(self, to: str, body: bytes, workflow_id: str, *, outgoing: OutgoingMessage | None = None,
             subject: str | None = None, local_id: str | None = None, filename: str | None = None,
             content_type: str | None = "application/fhir+json", label: str = "",
             from_mailbox: str | None = None) -> Sent:
        self.collect()  # anything already waiting belongs to what came before
        message_id, ex = self.client(from_mailbox).send(to, body, workflow_id, subject=subject, local_id=local_id,
                                                         filename=filename, content_type=content_type, label=label)
        return Sent(message_id, ex, time.monotonic(), outgoing, self._seq, self.client(from_mailbox).mailbox)

    def send_message(self, to: str, outgoing: OutgoingMessage, *, workflow_id: str | None = None,
                     body: bytes | None = None, label: str = "") -> Sent:
        m = outgoing.mesh
        return self.send(to, outgoing.body() if body is None else body, workflow_id or m.workflow_id,
                         outgoing=outgoing, subject=m.subject, local_id=m.local_id, filename=m.filename,
                         content_type=m.content_type, label=label)

    # --- collecting --------------------------------------------------------------------------------

    def collect(self) -> list[Arrival]:
        """One pass over every suite mailbox: download, acknowledge and keep each new message."""
        new: list[Arrival] = []
        for client in self.clients.values():
            for message_id in client.inbox(record_empty=False):
                msg = client.download(message_id)
                client.acknowledge(message_id)
                self._seq += 1
                arrival = Arrival(self._seq, msg, time.monotonic())
                if msg.message_type == "DATA":
                    try:
                        arrival.bundle = itk3.parse_message(msg.body, msg.content_type)
                    except itk3.UnreadableMessage as exc:
                        arrival.problem = str(exc)
                    if arrival.bundle is not None and _is_response(arrival.bundle):
                        arrival.response = itk3.read_response(arrival.bundle)
                new.append(arrival)
        self.arrivals.extend(new)
        return new

    def wait(self, done: Callable[[list[Arrival]], bool], since: int, timeout_s: float | None = None) -> WaitResult:
        """Collect until `done(arrivals after seq `since`)` or the bound; never longer than the bound."""
        bound = self.setup.ack_wait_s if timeout_s is None else timeout_s
        started = time.monotonic()
        while True:
            self.collect()
            after = [a for a in self.arrivals if a.seq > since]
            if done(after):
                return WaitResult(after, time.monotonic() - started, False)
            if time.monotonic() - started >= bound:
                # The evidence that nothing (more) came: one recorded listing of each mailbox.
                for client in self.clients.values():
                    client.inbox(record_empty=True)
                return WaitResult(after, time.monotonic() - started, True)
            time.sleep(self.setup.poll_interval_s)

    def settle(self, since: int, seconds: float | None = None) -> list[Arrival]:
        """Keep collecting for the settle period, to see responses nobody should send."""
        end = time.monotonic() + (self.setup.settle_s if seconds is None else seconds)
        while time.monotonic() < end:
            self.collect()
            time.sleep(self.setup.poll_interval_s)
        self.collect()
        return [a for a in self.arrivals if a.seq > since]

    def wait_status(self, message_id: str, status: str = "acknowledged", *, via_admin: bool = False,
                    mailbox: str | None = None, timeout_s: float | None = None) -> tuple[str | None, float,
                                                                                       Exchange | None]:
        """Poll MESH's record of a message the suite sent (tracking) or any message (sandbox admin) until
        it has `status`; returns the last status seen, the time waited and the recorded last lookup."""
        bound = self.setup.ack_wait_s if timeout_s is None else timeout_s
        started = time.monotonic()
        admin = self.setup.sandbox.admin([self._record]) if via_admin else None
        try:
            while True:
                if admin is not None:
                    data, ex = admin.message(message_id, record=False)
                else:
                    data, ex = self.client(mailbox).track(message_id, record=False)
                seen = str(data.get("status") or "").lower() or None
                finished = seen == status or time.monotonic() - started >= bound
                if finished:
                    self.recorder(ex)
                    return seen, time.monotonic() - started, ex
                time.sleep(self.setup.poll_interval_s)
        except MeshError as exc:
            return None, time.monotonic() - started, exc.exchange
        finally:
            if admin is not None:
                admin.close()


def _is_response(bundle: dict[str, Any]) -> bool:
    header = itk3.message_header(bundle)
    return isinstance(header, dict) and (isinstance(header.get("response"), dict)
                                         or (header.get("event") or {}).get("code") == itk3.EVENT_RESPONSE[0])
