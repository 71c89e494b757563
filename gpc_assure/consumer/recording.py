"""The recording layer: every request a consumer makes to the simulator, kept with its correlation key.

An ASGI app in front of whatever serves the consumer (the reference GP system, a proxy to a real
provider). It reads the whole request, asks the simulator for the answer, and keeps both as a
`CallRecord`, an Exchange the engine's checks can read, plus when it arrived and which scenario and
step it belongs to.

Correlation: a scenario's base URL carries its key (`/s/<key>/...`), so requests are matched to the
scenario even when they arrive late; a request without the key (a consumer configured once with a
fixed address, as in manual mode) belongs to the step that is open when it arrives, the way
Touchstone matches one waiting execution per organisation.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

PREFIX = re.compile(r"^/s/([A-Za-z0-9_-]{1,40})(/.*)?$")
MAX_REQUEST_BYTES = 10_000_000  # a consumer under test may be hostile too


@dataclass
class CallRecord(Exchange):
    """One request the consumer made and what the simulator answered."""

    seq: int = 0
    received_at: float = 0.0  # UNIX time
    scenario: str | None = None  # the correlation key of the scenario it belongs to
    step: str | None = None
    matched_by: str = "none"  # "path" (the key in the URL), "window" (arrived while a step was open), "none"
    route: str = ""  # the path inside the simulator (without the correlation prefix)
    query: list[tuple[str, str]] = field(default_factory=list)
    served_by: str = "provider"  # "provider", "proxy", "stub", or "planted: <what>"

    def header(self, name: str) -> str | None:
        return self.request.header(name)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    served_by: str = "provider"
    notes: list[str] = field(default_factory=list)


# What the simulator does with a request: (call so far, request body) -> the answer to send.
Responder = Callable[[CallRecord, dict[str, Any]], Awaitable[Answer]]


@dataclass
class Window:
    scenario: str
    step: str


class Recorder:
    """The ASGI app the consumer talks to; keeps every call and wakes whoever waits for one."""

    def __init__(self, responder: Responder, classify: Callable[[str, str, bytes, list[tuple[str, str]]], str | None]):
        self.responder = responder
        self.classify = classify
        self.calls: list[CallRecord] = []
        self.known_keys: set[str] = set()
        self.window: Window | None = None
        self._seq = itertools.count(1)
        self._cond = threading.Condition()

    # -- what the session controls ----------------------------------------------------------------
    def open(self, scenario: str, step: str) -> None:
        with self._cond:
            self.known_keys.add(scenario)
            self.window = Window(scenario, step)

    def close(self) -> None:
        with self._cond:
            self.window = None

    def snapshot(self) -> list[CallRecord]:
        with self._cond:
            return list(self.calls)

    def wait(self, done: Callable[[list[CallRecord]], bool], until: float) -> bool:
        """Block until `done(calls)` holds or the monotonic time `until` passes; True when it held."""
        with self._cond:
            while True:
                if done(self.calls):
                    return True
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))

    # -- ASGI ---------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] != "http":
            return
        body, too_big = await _read_body(receive)
        path = scope.get("path", "")
        m = PREFIX.match(path)
        key, route = (m.group(1), m.group(2) or "/") if m else (None, path)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        host = next((v for k, v in headers if k.lower() == "host"), "simulator")
        query_string = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope.get('raw_path', path.encode()).decode('latin-1')}"
        if query_string:
            url += "?" + query_string
        with self._cond:
            window = self.window
        if key is not None and key in self.known_keys:
            scenario, matched = key, "path"
            step = window.step if window and window.scenario == key else None
        elif window is not None:
            scenario, step, matched = window.scenario, window.step, "window"
        else:
            scenario, step, matched = None, None, "none"
        call = CallRecord(
            interaction=self.classify(scope.get("method", "GET"), route, body, headers),
            request=RecordedRequest(scope.get("method", "GET"), url, headers, body),
            seq=next(self._seq), received_at=time.time(), scenario=scenario, step=step, matched_by=matched,
            route=route, query=parse_qsl(query_string, keep_blank_values=True),
        )
        started = time.monotonic()
        if too_big:
            answer = Answer(413, [("content-type", "text/plain")], b"request body too large", "simulator")
        else:
            try:
                answer = await self.responder(call, scope)
            except Exception as exc:  # the simulator's own failure must still answer and be recorded
                answer = Answer(500, [("content-type", "text/plain")], f"simulator failure: {exc}".encode(),
                                "simulator", [f"the simulator failed: {type(exc).__name__}: {exc}"])
        call.response = RecordedResponse(answer.status, answer.headers, answer.body)
        call.served_by = answer.served_by
        call.notes.extend(answer.notes)
        call.elapsed_s = time.monotonic() - started
        out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers
                       if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        out_headers.append((b"content-length", str(len(answer.body)).encode()))
        # Kept before the answer goes out: once the consumer has its answer it may finish the step, and the
        # step's requests are read then.
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        await send({"type": "http.response.start", "status": answer.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": answer.body})


async def _read_body(receive: Any) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size, too_big = 0, False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            too_big = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), too_big


async def call_asgi(app: Any, scope: dict[str, Any], body: bytes) -> Answer:
    """Run an inner ASGI app on a request already read, and collect its whole answer."""
    sent = False
    status, headers, parts = 500, [], []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, headers, b"".join(parts))
