"""Raw TLS probes of an HTTPS target: handshakes httpx would never attempt (an old protocol version,
no client certificate, a cipher suite outside GP Connect's list), each followed by one well-formed
GP Connect request so a server that completes the handshake and refuses later is told apart from
one that serves.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

from gpc_assure.target import Target


@dataclass(frozen=True)
class ProbeResult:
    established: bool  # the TLS handshake completed
    offered: bool = True  # False when this machine's TLS library could not even offer what was asked
    protocol: str | None = None
    cipher: str | None = None
    http_status: int | None = None  # the status line of the answer to the request, when one came
    detail: str = ""

    @property
    def served(self) -> bool:
        """The target completed the handshake and answered the request successfully."""
        return self.established and self.http_status is not None and 200 <= self.http_status < 400

    def describe(self) -> str:
        if not self.established:
            return f"handshake refused ({self.detail})"
        answer = f"HTTP {self.http_status}" if self.http_status else f"no HTTP answer ({self.detail})"
        return f"handshake completed ({self.protocol}, {self.cipher}); {answer}"


# Errors raised before anything reaches the network: this machine cannot offer the protocol or suite.
_LOCAL = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH", "UNSUPPORTED_PROTOCOL")


def _context(target: Target, version: ssl.TLSVersion | None, client_cert: bool, ciphers: str | None) -> ssl.SSLContext:
    tls = target.tls
    ctx = ssl.create_default_context(cafile=str(tls.ca_bundle) if tls and tls.ca_bundle else None)
    if version is not None:
        with warnings.catch_warnings():  # offering a deprecated version is the point of the probe
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this side offer what modern defaults refuse to
    if ciphers is not None:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 suites are not chosen by set_ciphers
        ctx.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    if client_cert and tls and tls.client_cert:
        ctx.load_cert_chain(str(tls.client_cert), str(tls.client_key) if tls.client_key else None,
                            password=tls.key_password)
    return ctx


def probe(target: Target, request: bytes, *, version: ssl.TLSVersion | None = None, client_cert: bool = True,
          ciphers: str | None = None) -> ProbeResult:
    """One TLS connection to the target as asked, one request over it, and what happened."""
    url = urlsplit(target.provider.base_url)
    host, port = url.hostname or "", url.port or 443
    try:
        ctx = _context(target, version, client_cert, ciphers)
    except ssl.SSLError as exc:
        return ProbeResult(False, offered=False, detail=f"this machine cannot offer it: {exc.reason or exc}")
    t = target.timeouts
    try:
        raw = socket.create_connection((host, port), timeout=t.connect_s)
    except OSError as exc:
        return ProbeResult(False, detail=f"could not connect: {exc}")
    try:
        raw.settimeout(t.read_s)
        try:
            conn = ctx.wrap_socket(raw, server_hostname=host)
        except ssl.SSLError as exc:
            reason = str(exc.reason or exc)
            return ProbeResult(False, offered=not any(r in reason.upper() for r in _LOCAL), detail=reason)
        except OSError as exc:
            return ProbeResult(False, detail=f"connection dropped during the handshake: {exc}")
        protocol, cipher = conn.version(), (conn.cipher() or (None,))[0]
        try:
            conn.sendall(request)
            status_line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
        except (ssl.SSLError, OSError) as exc:
            return ProbeResult(True, protocol=protocol, cipher=cipher, detail=f"refused after the handshake: {exc}")
        finally:
            conn.close()
        parts = status_line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return ProbeResult(True, protocol=protocol, cipher=cipher, http_status=status,
                           detail=status_line[:100] or "the connection closed without an answer")
    finally:
        raw.close()


def http_request(target: Target, path: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 request for the service root + path, closing the connection after it."""
    url = urlsplit(target.provider.base_url + path)
    lines = [f"GET {url.path}{'?' + url.query if url.query else ''} HTTP/1.1", f"Host: {url.netloc}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
