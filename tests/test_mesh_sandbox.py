"""NHS's mesh-sandbox as the suite runs it: starts on a free loopback port with our mailboxes and HMAC
auth, speaks MESH with our client and with NHS's own mesh-client, records requests without secrets,
keeps its logs, and is gone (by PID) after stop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from mesh_client import MeshClient as NhsMeshClient

from gpc_assure import redaction
from gpc_assure.evidence import EvidenceStore
from gpc_assure.mesh import auth
from gpc_assure.mesh.client import MeshClient, MeshError
from gpc_assure.mesh.sandbox import Mailbox, MeshSandbox, Workflow

A = Mailbox("GPCATESTA", "test sender", "X26", password="sender-secret-123")
B = Mailbox("GPCATESTB", "test receiver", "X27", password="receiver-secret-456")
SHARED_KEY = "shared-key-789xyz"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    logs = tmp_path_factory.mktemp("mesh")
    box = MeshSandbox([A, B], [Workflow("TEST_DOC", (A.mailbox_id,), (B.mailbox_id,))], logs,
                      shared_key=SHARED_KEY).start()
    try:
        yield box
    finally:
        box.stop()
        redaction.reset()


def test_starts_ready_on_loopback_with_full_auth(sandbox):
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert sandbox.startup_s is not None and sandbox.startup_s < 20
    assert httpx.get(f"{sandbox.url}/health", trust_env=False).json()["status"] == "running"
    assert "AUTH_MODE=full" in sandbox.log_file.read_text()
    # A wrong shared key is refused: authentication is really on.
    with MeshClient(sandbox.url, A.mailbox_id, A.password, "not-the-key") as wrong, pytest.raises(MeshError) as err:
        wrong.handshake()
    assert err.value.exchange.status == 403


def test_round_trip_with_our_client(sandbox):
    with sandbox.client(A.mailbox_id) as a, sandbox.client(B.mailbox_id) as b:
        a.handshake()
        message_id, _ = a.send(B.mailbox_id, b'{"resourceType": "Bundle"}', "TEST_DOC", subject="s", local_id="X26",
                               content_type="application/fhir+json")
        assert message_id in b.inbox()
        msg = b.download(message_id)
        assert msg.body == b'{"resourceType": "Bundle"}'
        assert (msg.sender, msg.recipient, msg.workflow_id, msg.header("mex-localid")) == (
            A.mailbox_id, B.mailbox_id, "TEST_DOC", "X26")
        b.acknowledge(message_id)
        assert a.track(message_id)[0]["status"] == "acknowledged"
        assert message_id not in b.inbox()


def test_interoperates_with_nhs_mesh_client(sandbox):
    """Our HMAC tokens and NHS's mesh-client agree, both ways."""
    with sandbox.client(A.mailbox_id) as ours, NhsMeshClient(sandbox.url, B.mailbox_id, B.password,
                                                             shared_key=SHARED_KEY) as nhs:
        message_id, _ = ours.send(B.mailbox_id, b"from gpc-assure", "TEST_DOC")
        assert message_id in nhs.list_messages()
        with nhs.retrieve_message(message_id) as received:
            assert received.read() == b"from gpc-assure"
        back = nhs.send_message(A.mailbox_id, b"from mesh-client", workflow_id="TEST_DOC_ACK")
        assert ours.download(back).body == b"from mesh-client"


def test_reports_reach_a_mailbox(sandbox):
    admin = sandbox.admin()
    try:
        report_id, _ = admin.inject_report(A.mailbox_id, "EPL-153", "not routed", "TEST_DOC")
        with sandbox.client(A.mailbox_id) as a:
            assert report_id in a.inbox()
            assert a.download(report_id).message_type == "REPORT"
            a.acknowledge(report_id)
        assert admin.message(report_id)[0]["status"].lower() == "acknowledged"
    finally:
        admin.close()


def test_request_log_keeps_token_parts_but_never_the_hash(sandbox):
    records = [r for r in sandbox.captured() if r["auth"]]
    assert records and all(r["auth"]["hash_present"] for r in records)
    text = sandbox.capture_file.read_text()
    token = auth.token(A.mailbox_id, A.password, SHARED_KEY, nonce="n", when=None)
    assert token.rsplit(":", 1)[1] not in text
    assert {"nonce", "timestamp", "mailbox"} <= set(records[0]["auth"])


def test_evidence_of_mesh_calls_holds_no_secret(sandbox, tmp_path):
    store = EvidenceStore(tmp_path)
    with sandbox.client(A.mailbox_id, observers=[lambda ex: store.write(ex, "t")]) as a:
        a.handshake()
        a.send(B.mailbox_id, b"{}", "TEST_DOC")
    written = "".join(p.read_text() for p in (tmp_path / "exchanges").iterdir())
    assert "NHSMESH [REDACTED]" in written
    for secret in (A.password, B.password, SHARED_KEY):
        assert secret not in written


def test_stop_ends_the_process_and_keeps_redacted_logs(tmp_path):
    box = MeshSandbox([A], [], tmp_path).start()
    pid = box.pid
    assert pid is not None
    os.kill(pid, 0)  # running
    data_dir = box._data_dir
    with box.client(A.mailbox_id) as a:
        a.handshake()
    box.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert data_dir is not None and not Path(data_dir).exists()  # the mailbox passwords went with it
    log, capture = (tmp_path / "sandbox.log").read_text(), (tmp_path / "requests.jsonl").read_text()
    assert "Finished server process" in log or "Shutting down" in log
    assert json.loads(capture.splitlines()[-1])["path"].endswith(A.mailbox_id)
    for secret in (A.password, box.shared_key):
        assert secret not in log and secret not in capture
