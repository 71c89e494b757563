"""Helpers for the engine's own tests: hostile servers on loopback, target files, running the CLI.

The hostile servers are raw sockets in threads, so they can misbehave in ways no HTTP framework
allows: hang, reset, send garbage, drip bytes, or stream a body that never ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tomli_w

from gpc_assure.paths import PROJECT_ROOT
from gpc_assure.reference.data import load_pack
from gpc_assure.reference.server import target_mapping

SERVICE_ROOT = "/A20047/STU3/1/gpconnect"

# The nine CapabilityStatement tests of suites/provider/foundations/test_metadata.py (only /metadata).
METADATA_TESTS = ("-k", "test_metadata_")

# Small limits so every hostile case ends in a couple of seconds.
FAST_TIMEOUTS = {"connect_s": 1.0, "read_s": 1.0, "request_s": 2.0, "run_s": 60.0, "max_body_bytes": 200_000}


class Conn:
    """One accepted connection, as a misbehaviour sees it (the request has already been read)."""

    def __init__(self, sock: socket.socket, server: HostileServer):
        self.sock = sock
        self.server = server
        self.last_request = b""  # the head of the request read last
        self._buffer = b""

    @property
    def stopping(self) -> bool:
        return self.server.stopped.is_set()

    def read_request(self) -> bytes | None:
        """The next request's head (its body is read and dropped); None when the client went away."""
        self.sock.settimeout(0.2)
        while b"\r\n\r\n" not in self._buffer:
            if self.stopping:
                return None
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not data:
                return None
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            try:
                more = self.sock.recv(65536)
            except OSError:
                return None
            if not more:
                return None
            rest += more
        self._buffer = rest[length:]
        self.last_request = head
        return head

    def send(self, data: bytes) -> bool:
        """False once the client has gone away."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait(self, seconds: float) -> bool:
        """Sleep, but give up when the server stops; True while it should go on."""
        return not self.server.stopped.wait(seconds)


Misbehaviour = Callable[[Conn], None]


class HostileServer:
    """A TCP server on 127.0.0.1: answers its first `answered` requests with `answer`, then misbehaves.

    Every connection runs in its own thread. `requests` holds the head of every request received.
    """

    def __init__(self, misbehave: Misbehaviour, answer: bytes = b"", answered: int = 0, on_connect: bool = False):
        self.misbehave = misbehave
        self.on_connect = on_connect  # misbehave as soon as a client connects, before any request
        self.answer = answer
        self.answered = answered
        self.stopped = threading.Event()
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE_ROOT}"

    def start(self) -> HostileServer:
        self._accepter.start()
        return self

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(sock)
            t = threading.Thread(target=self._serve, args=(sock,), name="hostile-conn", daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self)
        try:
            if self.on_connect:
                self.misbehave(conn)
                return
            while (head := conn.read_request()) is not None:
                with self._lock:
                    self.requests.append(head)
                    polite = len(self.requests) <= self.answered
                if not polite:
                    self.misbehave(conn)
                    return
                if not conn.send(self.answer):
                    return
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for sock in self._conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._accepter.join(timeout=2)
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def respond(status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(raw)}", "Content-Type: application/fhir+json;charset=utf-8"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


# -- misbehaviours, each after reading a request ----------------------------------------------------

def never_answers(conn: Conn) -> None:
    """Holds the connection open without a word."""
    while conn.wait(0.1):
        pass


def resets(conn: Conn) -> None:
    """Aborts the connection with a TCP reset."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()


def garbage(conn: Conn) -> None:
    """Answers with bytes that are not HTTP at all."""
    conn.send(b"\x16\x03\x01 SSH-2.0-OpenSSH_9.0 \xff\xfe not http at all\r\n\r\n" + bytes(range(256)) * 4)


def endless_chunked(conn: Conn) -> None:
    """HTTP 200 with a chunked body that never ends, as fast as the client reads."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json;charset=utf-8\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    while not conn.stopping and conn.send(frame):
        pass


def ten_gigabytes_slowly(conn: Conn) -> None:
    """Announces a 10 GB body and sends it 1 KB at a time, every 50 ms."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 10000000000\r\n\r\n")
    while conn.send(b" " * 1024) and conn.wait(0.05):
        pass


def gzip_bomb(conn: Conn) -> None:
    """A gzip-encoded body that inflates without end: a small stream of compressed zeros."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Encoding: gzip\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = comp.compress(b"\0" * 1_000_000) + comp.flush(zlib.Z_SYNC_FLUSH)
    while not conn.stopping and conn.send(b"%x\r\n%s\r\n" % (len(block), block)):
        block = comp.compress(b"\0" * 1_000_000) + comp.flush(zlib.Z_SYNC_FLUSH)


def drips_headers(conn: Conn) -> None:
    """Sends a status line and then one header, one byte every 100 ms, for ever."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 100_000:
        if not conn.send(bytes([byte])) or not conn.wait(0.1):
            return


def drips_body(conn: Conn) -> None:
    """Sends complete headers, then a chunked body one byte every 100 ms, for ever."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n")
    while conn.send(b"1\r\n \r\n") and conn.wait(0.1):
        pass


def drips_tls_handshake(conn: Conn) -> None:
    """Starts a TLS handshake record of 16 KB and sends it one byte every 100 ms."""
    if not conn.send(b"\x16\x03\x03\x40\x00"):
        return
    while conn.send(b"\x00") and conn.wait(0.1):
        pass


def not_json(conn: Conn) -> None:
    """HTTP 200 that claims to be FHIR JSON and is an HTML error page."""
    conn.send(respond(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {"Connection": "close"}))


# -- target files and the CLI ----------------------------------------------------------------------

def target_data(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid target mapping (the reference test data) pointing at `base_url`."""
    data = target_mapping(load_pack(), "http://127.0.0.1:1")
    data["provider"]["base_url"] = base_url
    data["timeouts"] = dict(FAST_TIMEOUTS)
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return data


def write_target(path: Path, base_url: str, **overrides: Any) -> Path:
    path.write_text(tomli_w.dumps(target_data(base_url, **overrides)), "utf-8")
    return path


def run_cli(*args: str | Path, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`gpc-assure ARGS` in a fresh interpreter, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "gpc_assure.cli", *map(str, args)], cwd=cwd or PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def results(pack: Path) -> dict[str, Any]:
    return json.loads((pack / "results.json").read_text("utf-8"))


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream and "INTERNALERROR" not in stream, stream[-3000:]


@contextlib.contextmanager
def timed(limit_s: float) -> Iterator[None]:
    """Fail when the block takes longer than `limit_s`."""
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    assert took < limit_s, f"took {took:.1f} s, more than the {limit_s} s bound"
