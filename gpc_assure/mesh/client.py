"""A MESH API client (httpx) that records every call as an Exchange, for evidence and for checks.

It speaks the MESH API as NHS publishes it: a fresh NHSMESH token per request, the v2 media type,
send (outbox), list (inbox), download, acknowledge and tracking. Observers receive every exchange; the
suite writes them into the evidence pack, where the Authorization header is redacted.
"""

from __future__ import annotations

import platform
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from gpc_assure.mesh import auth
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

Observer = Callable[[Exchange], None]
ACCEPT = "application/vnd.mesh.v2+json"
CLIENT_VERSION = "gpc-assure-mesh/1.0"


class MeshError(Exception):
    """A MESH call that did not succeed; `exchange` is what was sent and what came back."""

    def __init__(self, message: str, exchange: Exchange):
        super().__init__(message)
        self.exchange = exchange


@dataclass
class MeshMessage:
    """A downloaded message: its MESH headers (lower-case names) and body."""

    message_id: str
    headers: dict[str, str]
    body: bytes
    exchange: Exchange
    mailbox: str  # the mailbox it was collected from
    collected_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def message_type(self) -> str:
        return (self.header("mex-messagetype") or "DATA").upper()

    @property
    def workflow_id(self) -> str | None:
        return self.header("mex-workflowid")

    @property
    def sender(self) -> str | None:
        return self.header("mex-from")

    @property
    def recipient(self) -> str | None:
        return self.header("mex-to")

    @property
    def content_type(self) -> str | None:
        return self.header("mex-content-type")


def ssl_context(ca_bundle: Path | None = None, client_cert: Path | None = None,
                client_key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    if client_cert is not None:
        ctx.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    return ctx


class MeshClient:
    """One mailbox's view of a MESH server."""

    def __init__(self, url: str, mailbox: str, password: str, shared_key: str, *,
                 tls: ssl.SSLContext | None = None, timeout: float = 15.0, observers: Iterable[Observer] = (),
                 reuse_token: bool = False, who: str = ""):
        self.url = url.rstrip("/")
        self.mailbox = mailbox
        self._password = password
        self._shared_key = shared_key
        self._reuse_token = reuse_token  # a fault of the reference peers: MESH expects a fresh token each time
        self._token: str | None = None
        self.observers = list(observers)
        self.who = who or mailbox
        self._http = httpx.Client(timeout=timeout, verify=tls if tls is not None else True, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MeshClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------------

    def _authorization(self) -> str:
        if self._reuse_token and self._token:
            return self._token
        self._token = auth.token(self.mailbox, self._password, self._shared_key)
        return self._token

    def call(self, method: str, path: str, interaction: str, label: str, *, headers: dict[str, str] | None = None,
              body: bytes = b"", authorised: bool = True, record: bool = True) -> Exchange:
        """One MESH API request, recorded (unless `record` is false and it succeeded)."""
        url = self.url + path
        sent: dict[str, str] = {"Accept": ACCEPT}
        if authorised:
            sent["Authorization"] = self._authorization()
        sent.update(headers or {})
        request = RecordedRequest(method, url, list(sent.items()), body)
        ex = Exchange(interaction, request, label=label)
        started = time.monotonic()
        try:
            resp = self._http.request(method, url, headers=sent, content=body or None)
            ex.response = RecordedResponse(resp.status_code, list(resp.headers.items()), resp.content,
                                           http_version=resp.http_version)
        except httpx.HTTPError as exc:
            ex.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        ex.elapsed_s = time.monotonic() - started
        if record or ex.response is None or ex.response.status >= 300:
            self.record(ex)
        return ex

    def record(self, ex: Exchange) -> None:
        for observe in self.observers:
            observe(ex)

    @staticmethod
    def _ok(ex: Exchange, *statuses: int) -> Exchange:
        if ex.response is None:
            raise MeshError(f"MESH did not answer: {ex.error}", ex)
        if ex.response.status not in statuses:
            detail = ex.response.body[:300].decode("utf-8", "replace")
            raise MeshError(f"MESH answered HTTP {ex.response.status}: {detail}", ex)
        return ex

    # --- the MESH API --------------------------------------------------------------------------------

    def handshake(self) -> Exchange:
        headers = {"mex-ClientVersion": CLIENT_VERSION, "mex-OSName": platform.system() or "unknown",
                   "mex-OSVersion": platform.release() or "unknown"}
        return self._ok(self.call("POST", f"/messageexchange/{self.mailbox}", "mesh.handshake",
                                   f"{self.who}: validate mailbox (handshake)", headers=headers), 200)

    def send(self, to: str, body: bytes, workflow_id: str, *, subject: str | None = None,
             local_id: str | None = None, filename: str | None = None, content_type: str | None = None,
             extra_headers: dict[str, str] | None = None, label: str = "") -> tuple[str, Exchange]:
        """Post one message; returns its MESH message ID."""
        headers = {"Content-Type": "application/octet-stream", "mex-To": to, "mex-WorkflowID": workflow_id}
        for name, value in (("mex-Subject", subject), ("mex-LocalID", local_id), ("mex-FileName", filename),
                            ("mex-Content-Type", content_type)):
            if value is not None:
                headers[name] = value
        headers.update(extra_headers or {})
        ex = self._ok(self.call("POST", f"/messageexchange/{self.mailbox}/outbox", "mesh.send",
                                 label or f"{self.who}: send {workflow_id} to {to}", headers=headers, body=body),
                      202)
        data = _json(ex)
        message_id = data.get("message_id") or data.get("messageID")
        if not message_id:
            raise MeshError("MESH accepted the message but returned no message ID", ex)
        return str(message_id), ex

    def inbox(self, workflow_filter: str | None = None, record_empty: bool = True) -> list[str]:
        """The IDs of messages waiting. Polling loops pass record_empty=False so that only polls that
        found something (or failed) become evidence."""
        query = f"?workflow_filter={quote(workflow_filter)}" if workflow_filter else ""
        ex = self._ok(self.call("GET", f"/messageexchange/{self.mailbox}/inbox{query}", "mesh.inbox",
                                 f"{self.who}: list inbox", record=False), 200)
        ids = [str(m) for m in _json(ex).get("messages") or []]
        if ids or record_empty:
            self.record(ex)
        return ids

    def download(self, message_id: str) -> MeshMessage:
        ex = self._ok(self.call("GET", f"/messageexchange/{self.mailbox}/inbox/{message_id}", "mesh.download",
                                 f"{self.who}: download {message_id}"), 200, 206)
        assert ex.response is not None
        headers = {k.lower(): v for k, v in ex.response.headers}
        body = ex.response.body
        total = int(headers.get("mex-total-chunks") or 1)
        for n in range(2, total + 1):  # a chunked message: the rest of its parts, in order
            part = self._ok(self.call("GET", f"/messageexchange/{self.mailbox}/inbox/{message_id}/{n}",
                                       "mesh.download", f"{self.who}: download {message_id} part {n}"), 200, 206)
            assert part.response is not None
            body += part.response.body
        return MeshMessage(message_id, headers, body, ex, self.mailbox)

    def acknowledge(self, message_id: str) -> Exchange:
        return self._ok(self.call("PUT", f"/messageexchange/{self.mailbox}/inbox/{message_id}/status/acknowledged",
                                   "mesh.acknowledge", f"{self.who}: acknowledge {message_id}"), 200)

    def track(self, message_id: str, record: bool = True) -> tuple[dict[str, Any], Exchange]:
        """MESH's tracking record of a message this mailbox sent (status accepted, acknowledged...)."""
        ex = self._ok(self.call("GET", f"/messageexchange/{self.mailbox}/outbox/tracking?messageID={message_id}",
                                 "mesh.track", f"{self.who}: track {message_id}", record=record), 200)
        return _json(ex), ex


def _json(ex: Exchange) -> dict[str, Any]:
    try:
        data = ex.json
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
