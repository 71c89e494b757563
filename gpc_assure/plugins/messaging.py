"""Send Document over MESH in a run: the MESH side is started only when messaging tests are selected.

With a target whose [mesh] section gives a `url`, the suite talks to that MESH as its own mailboxes and
judges the system under test's mailbox. Otherwise (no target, or a [mesh] section without a url) it
starts the built-in network: NHS's mesh-sandbox on loopback, with the reference receiver and/or sender
(only the roles selected) as the systems under test, `--gpc-fault` applied to the one whose role the
fault names. Everything is stopped when the tests end, before the evidence pack is sealed; the
sandbox's log and request log stay in the pack's mesh/ folder.

Fixtures: `mesh_setup` (where and as whom; the bounds), `mesh` (the suite's peer, recording every MESH
call of the running test as evidence) and `cite` (list an exchange recorded earlier, e.g. by a
session fixture, among this test's evidence).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from gpc_assure.errors import GpcAssureError, TargetUnreachable
from gpc_assure.mesh.client import MeshError, ssl_context
from gpc_assure.mesh.section import MeshSection
from gpc_assure.messaging.document import Clinician, Organisation
from gpc_assure.messaging.harness import OUTPUT_TAIL_CHARS, MeshSetup, SuitePeer, TriggerRun
from gpc_assure.messaging.spec import spec_for
from gpc_assure.outcomes import NotApplicable
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import EXCHANGES, RUN, Run
from gpc_assure.redaction import redact_text, remember_secrets
from gpc_assure.target import Target
from gpc_assure.transport.exchange import Exchange

FLOW = "messaging"
EXIT_UNREACHABLE = 3
TRIGGER_TIMEOUT_S = 120


@dataclass
class MessagingRun:
    setup: MeshSetup
    peer: SuitePeer
    network: object | None = None  # gpc_assure.reference.messaging.network.BuiltInNetwork
    current: pytest.Item | None = None
    setup_evidence: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.peer.close()
        if self.network is not None:
            self.network.stop()  # type: ignore[attr-defined]
            self.network = None


MESSAGING = pytest.StashKey[MessagingRun]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "send_document_version(*versions): the Send Document spec versions "
                                       "(v2, v1.3) a messaging test applies to")


def command_trigger(template: str, timeout_s: float = TRIGGER_TIMEOUT_S) -> Callable[[str], TriggerRun]:
    """Runs the target's trigger command. How it ended and the end of its output (with every secret the run
    knows redacted) go into the evidence and into the MSG-SD-001 judgement when nothing arrives."""

    def trigger(kind: str) -> TriggerRun:
        command = template.replace("{kind}", kind)
        started = time.monotonic()
        try:
            proc = subprocess.run(shlex.split(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            return TriggerRun(kind, command, None, _tail(exc.output), time.monotonic() - started,
                              f"did not finish within {timeout_s:g} s and was stopped")
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return TriggerRun(kind, command, None, "", time.monotonic() - started, f"could not be started: {why}")
        return TriggerRun(kind, command, proc.returncode, _tail(proc.stdout), time.monotonic() - started)

    return trigger


def _tail(raw: bytes | str | None) -> str:
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return redact_text(text)[-OUTPUT_TAIL_CHARS:]


def _suite_identity(target: Target) -> tuple[Organisation, Clinician]:
    c = target.consumer
    p = c.practitioner
    return (Organisation(c.ods_code, c.organisation_name, "03000000000"),
            Clinician(p.sds_user_id, p.family, tuple(p.given), tuple(p.prefix)))


def external_setup(section: MeshSection, target: Target) -> MeshSetup:
    """The suite's view of a real MESH, from the target's [mesh] section."""
    assert section.url and section.mailbox and section.password and section.shared_key and section.sut_mailbox
    remember_secrets([section.password, section.shared_key, section.reply_password])
    mailboxes = {section.mailbox: section.password}
    if section.reply_mailbox and section.reply_password:
        mailboxes[section.reply_mailbox] = section.reply_password
    tls = None
    if section.url.startswith("https://"):
        tls = ssl_context(section.ca_bundle, section.client_cert, section.client_key)
    org, author = _suite_identity(target)
    spec = spec_for(section.spec_version)
    return MeshSetup(spec=spec, url=section.url, shared_key=section.shared_key, suite_mailboxes=mailboxes,
                     reply_mailbox=section.reply_mailbox, sut_sender_mailbox=section.sut_mailbox,
                     sut_receiver_mailbox=section.sut_mailbox,
                     document_workflow=section.workflow_id or spec.workflow_id, ack_wait_s=section.ack_wait_s,
                     settle_s=section.settle_s, poll_interval_s=section.poll_interval_s, suite_org=org,
                     suite_author=author, tls=tls,
                     trigger=command_trigger(section.trigger_command) if section.trigger_command else None,
                     max_attachment_bytes=section.max_attachment_bytes)


def _recorder(state_box: list[MessagingRun], run: Run) -> Callable[[Exchange], None]:
    from gpc_assure.plugins.evidence import evidence_store  # a later plugin module: import on use

    def record(ex: Exchange) -> None:
        state = state_box[0] if state_box else None
        item = state.current if state else None
        name = evidence_store(run).write(ex, item.nodeid if item else "messaging set-up")
        if not name:
            return
        if item is not None:
            item.stash.setdefault(EXCHANGES, []).append(name)
        elif state is not None:
            state.setup_evidence.append(name)

    return record


def start(run: Run, roles: set[str]) -> MessagingRun:
    assert run.target is not None
    section = run.target.mesh or MeshSection()
    if run.target.mesh is None:
        # Recorded in results.json: which Send Document version the run judged against.
        run.target = run.target.model_copy(update={"mesh": section})
    box: list[MessagingRun] = []
    record = _recorder(box, run)
    network = None
    if section.built_in:
        from gpc_assure.reference.messaging.network import BuiltInNetwork

        network = BuiltInNetwork(spec_for(section.spec_version), run.output / "mesh",
                                 faults=[run.fault] if run.fault else [], roles=roles).start()
        try:
            setup = network.setup(run.target)
        except BaseException:
            network.stop()
            raise
        given = section.model_fields_set  # bounds the target states explicitly still apply
        for name in ("ack_wait_s", "settle_s", "poll_interval_s", "max_attachment_bytes"):
            if name in given:
                setattr(setup, name, getattr(section, name))
        if section.workflow_id:
            setup.document_workflow = section.workflow_id
        # Recorded as run: the bounds the built-in network was judged with.
        effective = section.model_copy(update={n: getattr(setup, n) for n in
                                               ("ack_wait_s", "settle_s", "poll_interval_s", "max_attachment_bytes")})
        run.target = run.target.model_copy(update={"mesh": effective})
    else:
        setup = external_setup(section, run.target)
    state = MessagingRun(setup, SuitePeer(setup, record), network)
    box.append(state)
    try:
        # Validate the suite's own mailboxes first: wrong credentials end the run with one clear line.
        for client in state.peer.clients.values():
            client.handshake()
    except MeshError as exc:
        state.close()
        raise TargetUnreachable(f"MESH at {setup.url} refused the suite's mailbox: {exc}") from None
    except BaseException:
        state.close()
        raise
    return state


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    config = session.config
    run = config.stash.get(RUN, None)
    metas = [m for i in session.items if (m := meta_of(i)) is not None and m.flow == FLOW]
    if not metas or run is None or run.target is None or config.option.collectonly:
        return (yield)
    try:
        state = start(run, {m.role for m in metas})
    except GpcAssureError as exc:
        run.setup_error = f"the MESH side of the run could not start: {exc}"
        pytest.exit(run.setup_error, returncode=EXIT_UNREACHABLE)
    config.stash[MESSAGING] = state
    try:
        return (yield)
    finally:
        state.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    state = item.config.stash.get(MESSAGING, None)
    meta = meta_of(item)
    if state is not None and meta is not None and meta.flow == FLOW:
        state.current = item
    try:
        return (yield)
    finally:
        if state is not None:
            state.current = None


def pytest_runtest_setup(item: pytest.Item) -> None:
    mark = item.get_closest_marker("send_document_version")
    state = item.config.stash.get(MESSAGING, None)
    if mark is None or state is None:
        return
    version = state.setup.spec.version
    if version not in mark.args:
        raise NotApplicable(msg=f"applies to Send Document {' and '.join(mark.args)}; the target declares {version}")


@pytest.fixture(scope="session")
def mesh_setup(request: pytest.FixtureRequest) -> MeshSetup:
    state = request.config.stash.get(MESSAGING, None)
    if state is None:
        pytest.skip("no MESH: this test runs only inside a gpc-assure run")
    return state.setup


@pytest.fixture(scope="session")
def mesh(request: pytest.FixtureRequest, mesh_setup: MeshSetup) -> SuitePeer:
    """The suite's MESH peer; what it does while a test runs (its set-up included) is that test's evidence."""
    return request.config.stash[MESSAGING].peer


@pytest.fixture
def cite(request: pytest.FixtureRequest) -> Callable[[Exchange | None], None]:
    """List an exchange recorded earlier (by a session fixture) among this test's evidence."""
    files = request.node.stash.setdefault(EXCHANGES, [])

    def add(ex: Exchange | None) -> None:
        if ex is not None and ex.evidence_file and ex.evidence_file not in files:
            files.append(ex.evidence_file)

    return add
