"""The built-in MESH network: mesh-sandbox with the run's own mailboxes and workflows, and the reference
sender and receiver polling it, described to the suite as a `MeshSetup`.

Mailboxes (all upper case, random passwords, one random shared key per run):
- GPCASENDER: the reference sender (the system under test in the sender suite)
- GPCARECEIVER: the reference receiver, the registered practice (the system under test in the receiver suite)
- GPCASUITE, GPCASUITEREPLY: the suite's own; what the suite sends names GPCASUITEREPLY as
  source.endpoint, so a response sent to the wrong one of the two is seen
- GPPROVIDER_<nhs>_<ddmmyyyy>_<SURNAME>: MESH's demographic address for the sender's patient. The
  sandbox cannot route by demographics, so this address is a mailbox the suite owns: it stands for the
  registered practice that MESH would find on PDS.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gpc_assure.mesh.sandbox import Mailbox, MeshSandbox, Workflow
from gpc_assure.messaging.document import Clinician, Organisation, PatientDetails, mesh_to
from gpc_assure.messaging.harness import MeshSetup
from gpc_assure.messaging.spec import V2, V13, SendDocumentSpec
from gpc_assure.reference.data import Pack, load_pack
from gpc_assure.reference.faults import ActiveFaults, get
from gpc_assure.reference.messaging.receiver import DEFAULT_MAX_ATTACHMENT_BYTES, ReferenceReceiver
from gpc_assure.reference.messaging.receiver import REUSES_TOKEN as RECEIVER_REUSES_TOKEN
from gpc_assure.reference.messaging.sender import REUSES_TOKEN as SENDER_REUSES_TOKEN
from gpc_assure.reference.messaging.sender import ReferenceSender
from gpc_assure.target import Target

SENDER_MAILBOX = "GPCASENDER"
RECEIVER_MAILBOX = "GPCARECEIVER"
SUITE_MAILBOX = "GPCASUITE"
REPLY_MAILBOX = "GPCASUITEREPLY"
POLL_S = 0.02  # how often the reference peers and the suite look at their inboxes on loopback
ACK_WAIT_S = 4.0  # the reference answers in well under a second; a fault that stops it is seen in this bound
SETTLE_S = 0.25
ROLES = ("sender", "receiver")


def messaging_faults(names: Iterable[str]) -> dict[str, list[str]]:
    """The given faults that belong to the messaging peers, by role (others are for other components)."""
    out: dict[str, list[str]] = {"sender": [], "receiver": []}
    for name in names:
        fault = get(name)
        if fault.role in out:
            out[fault.role].append(name)
    return out


class BuiltInNetwork:
    def __init__(self, spec: SendDocumentSpec, log_dir: Path, *, faults: Iterable[str] = (),
                 roles: Iterable[str] = ROLES, pack: Pack | None = None):
        self.spec = spec
        self.pack = pack or load_pack()
        self.roles = set(roles)
        self.faults = messaging_faults(faults)
        practice = next(o for o in self.pack.organisation if o.ods_code == self.pack.practice.ods_code)
        other = next(o for o in self.pack.organisation if o.ods_code != self.pack.practice.ods_code)
        self.practice = Organisation(practice.ods_code, practice.name, practice.telecom or "03000000000")
        self.sending_org = Organisation(other.ods_code, other.name, other.telecom or "03000000000")
        prac = self.pack.practitioner[1] if len(self.pack.practitioner) > 1 else self.pack.practitioner[0]
        self.author = Clinician(prac.sds_user_id, prac.family, tuple(prac.given), tuple(prac.prefix),
                                other.telecom)
        p = next(p for p in self.pack.patient if p.role == "registered_verified")
        self.patient = PatientDetails(p.nhs_number, p.family, tuple(p.given), p.birth_date, tuple(p.prefix), p.gender)
        self.alias = mesh_to(self.patient).upper()
        mailboxes = [Mailbox(SENDER_MAILBOX, "gpc-assure reference sender", self.sending_org.ods_code),
                     Mailbox(RECEIVER_MAILBOX, "gpc-assure reference practice", self.practice.ods_code),
                     Mailbox(SUITE_MAILBOX, "gpc-assure suite"), Mailbox(REPLY_MAILBOX, "gpc-assure suite replies"),
                     Mailbox(self.alias, "registered practice of the sender's patient (demographic routing)")]
        senders = (SENDER_MAILBOX, SUITE_MAILBOX, REPLY_MAILBOX)
        receivers = (RECEIVER_MAILBOX, SUITE_MAILBOX, self.alias)
        workflows = []
        for wf in dict.fromkeys((*V2.document_workflows, *V13.document_workflows)):
            workflows.append(Workflow(wf, senders, receivers))
            workflows.append(Workflow(f"{wf}_ACK", receivers, senders))
        self.sandbox = MeshSandbox(mailboxes, workflows, log_dir)
        self.receiver: ReferenceReceiver | None = None
        self.sender: ReferenceSender | None = None

    def start(self) -> BuiltInNetwork:
        self.sandbox.start()
        try:
            if "receiver" in self.roles:
                faults = ActiveFaults(self.faults["receiver"])
                registered = {p.nhs_number: p.status for p in self.pack.patient}
                client = self.sandbox.client(RECEIVER_MAILBOX, reuse_token=faults.on(RECEIVER_REUSES_TOKEN),
                                             who="reference receiver")
                client.handshake()
                self.receiver = ReferenceReceiver(client, self.spec, self.practice.ods_code, registered, faults,
                                                  POLL_S, DEFAULT_MAX_ATTACHMENT_BYTES).start()
            if "sender" in self.roles:
                faults = ActiveFaults(self.faults["sender"])

                def make_client():
                    return self.sandbox.client(SENDER_MAILBOX, reuse_token=faults.on(SENDER_REUSES_TOKEN),
                                               who="reference sender")

                self.sender = ReferenceSender(make_client, self.spec, self.sending_org, self.author, self.patient,
                                              faults, SUITE_MAILBOX, POLL_S)
                self.sender.send_client.handshake()
                self.sender.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for peer in (self.receiver, self.sender):
            if peer is not None:
                peer.stop()
        self.receiver = self.sender = None
        self.sandbox.stop()

    def trigger(self, kind: str) -> None:
        if self.sender is not None:
            self.sender.send(kind)

    def setup(self, target: Target) -> MeshSetup:
        boxes = self.sandbox.mailboxes
        consumer = target.consumer
        prac = consumer.practitioner
        return MeshSetup(
            spec=self.spec, url=self.sandbox.url, shared_key=self.sandbox.shared_key,
            suite_mailboxes={mb: boxes[mb].password for mb in (SUITE_MAILBOX, REPLY_MAILBOX, self.alias)},
            reply_mailbox=REPLY_MAILBOX, sut_sender_mailbox=SENDER_MAILBOX, sut_receiver_mailbox=RECEIVER_MAILBOX,
            document_workflow=self.spec.workflow_id, ack_wait_s=ACK_WAIT_S, settle_s=SETTLE_S, poll_interval_s=POLL_S,
            suite_org=Organisation(consumer.ods_code, consumer.organisation_name, "03000000000"),
            suite_author=Clinician(prac.sds_user_id, prac.family, tuple(prac.given), tuple(prac.prefix)),
            sandbox=self.sandbox, trigger=self.trigger, max_attachment_bytes=DEFAULT_MAX_ATTACHMENT_BYTES,
            built_in=True)
