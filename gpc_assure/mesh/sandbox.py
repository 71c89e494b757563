"""NHS's mesh-sandbox as a real server on loopback: started, ready-checked, stopped by PID, logs kept.

The sandbox (PyPI `mesh-sandbox`, version pinned in pyproject.toml) runs in its own process on a free
127.0.0.1 port with full HMAC authentication, an in-memory store, and only the mailboxes and workflows
given here. Every mailbox gets a random password and the run a random shared key; both are registered
for redaction, so they never reach an evidence file. Its log and the log of every request it served
are written into `log_dir` (the evidence pack's mesh/ folder) and stay there after it stops.

What the sandbox cannot show (no demographic routing, no workflow permissions, no token-replay or
clock checks, no TLS client certificates) is listed in docs/messaging.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gpc_assure.errors import TargetUnreachable
from gpc_assure.mesh.client import MeshClient, Observer
from gpc_assure.redaction import redact_text, remember_secrets
from gpc_assure.transport.exchange import Exchange

LOG_NAME = "sandbox.log"
CAPTURE_NAME = "requests.jsonl"


def _secret() -> str:
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Mailbox:
    mailbox_id: str
    name: str
    ods_code: str = ""
    password: str = field(default_factory=_secret, repr=False)

    def record(self) -> dict[str, Any]:
        return {"mailbox_id": self.mailbox_id, "mailbox_name": self.name, "billing_entity": "England",
                "ods_code": self.ods_code, "org_code": self.ods_code, "password": self.password}


@dataclass(frozen=True)
class Workflow:
    workflow_id: str
    senders: tuple[str, ...]
    receivers: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "senders": list(self.senders), "receivers": list(self.receivers)}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MeshSandbox:
    """One mesh-sandbox server process."""

    def __init__(self, mailboxes: Iterable[Mailbox], workflows: Iterable[Workflow], log_dir: Path, *,
                 shared_key: str | None = None, startup_timeout_s: float = 20.0):
        self.mailboxes = {m.mailbox_id: m for m in mailboxes}
        self.workflows = list(workflows)
        self.log_dir = Path(log_dir)
        self.shared_key = shared_key or _secret()
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._data_dir: Path | None = None
        remember_secrets([self.shared_key, *(m.password for m in self.mailboxes.values())])

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the MESH sandbox is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_file(self) -> Path:
        return self.log_dir / LOG_NAME

    @property
    def capture_file(self) -> Path:
        return self.log_dir / CAPTURE_NAME

    # --- lifecycle -----------------------------------------------------------------------------------

    def _write_data(self) -> Path:
        # The data folder holds passwords, so it lives outside the evidence pack and is removed at stop.
        folder = Path(tempfile.mkdtemp(prefix="gpc-mesh-"))
        (folder / "mailboxes.jsonl").write_text(
            "".join(json.dumps(m.record()) + "\n" for m in self.mailboxes.values()), "utf-8")
        (folder / "workflows.jsonl").write_text(
            "".join(json.dumps(w.record()) + "\n" for w in self.workflows), "utf-8")
        return folder

    def start(self) -> MeshSandbox:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._data_dir = self._write_data()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "SHARED_KEY"))}
        env.update(ENV="gpc-assure", AUTH_MODE="full", STORE_MODE="memory", SHARED_KEY=self.shared_key,
                   PYTHONUNBUFFERED="1")
        started = time.monotonic()
        last_problem = "it did not start"
        for _attempt in range(3):  # a port taken between choosing it and binding it: choose again
            self.port = free_port()
            log = open(self.log_file, "ab")
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "gpc_assure.mesh.launcher", "--port", str(self.port),
                     "--data", str(self._data_dir), "--capture", str(self.capture_file)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True)
            finally:
                log.close()
            problem = self._wait_ready(started)
            if problem is None:
                self.startup_s = time.monotonic() - started
                return self
            last_problem = problem
            self._terminate()
            if "address already in use" not in self._log_tail().lower():
                break
        self.stop()
        raise TargetUnreachable(f"the MESH sandbox did not start: {last_problem} (log: {self.log_file})")

    def _wait_ready(self, started: float) -> str | None:
        assert self.process is not None
        with httpx.Client(timeout=1.0, trust_env=False) as http:
            while time.monotonic() - started < self.startup_timeout_s:
                if self.process.poll() is not None:
                    return f"the process ended with exit code {self.process.returncode}: {self._log_tail()}"
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return None
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        return f"no answer from /health within {self.startup_timeout_s:g} s"

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_file.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def _terminate(self, timeout_s: float = 5.0) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)
        self.process = None

    def stop(self) -> None:
        """Stop the server (by its PID), remove its data folder, and leave its logs redacted."""
        self._terminate()
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
        for path in (self.log_file, self.capture_file):
            with contextlib.suppress(OSError):
                if path.is_file():
                    text = path.read_text("utf-8", errors="replace")
                    cleaned = redact_text(text)
                    if cleaned != text:
                        path.write_text(cleaned, "utf-8")

    def __enter__(self) -> MeshSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- use -----------------------------------------------------------------------------------------

    def client(self, mailbox_id: str, observers: Iterable[Observer] = (), **kw: Any) -> MeshClient:
        box = self.mailboxes[mailbox_id]
        return MeshClient(self.url, box.mailbox_id, box.password, self.shared_key, observers=observers, **kw)

    def captured(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests the sandbox has served (from line `since` of its request log)."""
        try:
            lines = self.capture_file.read_text("utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines[since:]:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def admin(self, observers: Iterable[Observer] = ()) -> SandboxAdmin:
        return SandboxAdmin(self.url, observers)


class SandboxAdmin:
    """The sandbox's test-only endpoints (no authentication): ground truth the real MESH does not offer."""

    def __init__(self, url: str, observers: Iterable[Observer] = ()):
        self._client = MeshClient(url, "ADMIN", "", "", observers=observers, who="mesh-sandbox admin")

    def close(self) -> None:
        self._client.close()

    def inject_report(self, mailbox_id: str, code: str, description: str, workflow_id: str, *,
                      linked_message_id: str | None = None, local_id: str | None = None,
                      status: str = "error") -> tuple[str | None, Exchange]:
        """Put a MESH error REPORT into a mailbox, as MESH does when a message cannot be delivered."""
        body = {"mailbox_id": mailbox_id, "code": code, "description": description, "workflow_id": workflow_id,
                "status": status, "linked_message_id": linked_message_id, "local_id": local_id}
        ex = self._client.call("POST", "/messageexchange/admin/report", "mesh.admin.report",
                               f"mesh-sandbox admin: put a {code} REPORT into {mailbox_id}",
                               headers={"Content-Type": "application/json"},
                               body=json.dumps(body).encode(), authorised=False)
        try:
            return str(ex.json.get("message_id")), ex
        except (ValueError, AttributeError):
            return None, ex

    def message(self, message_id: str, record: bool = True) -> tuple[dict[str, Any], Exchange]:
        """The sandbox's record of a message: status (accepted, acknowledged), times, parties."""
        ex = self._client.call("GET", f"/messageexchange/admin/message/{message_id}", "mesh.admin.message",
                               f"mesh-sandbox admin: status of {message_id}", authorised=False, record=record)
        try:
            data = ex.json
        except ValueError:
            data = {}
        return (data if isinstance(data, dict) else {}), ex
