"""The TLS probes behind GEN-SEC-001/002 tell a strict server from a lax one.

The reference GP system serves plain HTTP, so the conformance probes are not-applicable against it;
these tests run them against two local TLS servers instead: one configured as GP Connect asks
(TLS 1.2+, client certificate required, AES-GCM suites only) and one that accepts anything.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpc_assure.reference.data import load_pack
from gpc_assure.reference.server import target_mapping
from gpc_assure.target import Target, parse_target
from gpc_assure.transport import tls_probe

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to mint certs")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=gpc-assure test CA", "-days", "2", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    return d


def _serve(ctx: ssl.SSLContext) -> tuple[int, threading.Event]:
    """A minimal HTTPS server answering 200 to anything, until the returned event is set."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with ctx.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except (ssl.SSLError, OSError):
                pass  # a refused handshake: what the strict server is for
            finally:
                raw.close()
        listener.close()

    threading.Thread(target=loop, daemon=True).start()
    return listener.getsockname()[1], stop


def _target(certs: Path, port: int) -> Target:
    mapping = target_mapping(load_pack(), f"https://127.0.0.1:{port}")
    mapping["tls"] = {"ca_bundle": str(certs / "ca.pem"), "client_cert": str(certs / "client.pem"),
                      "client_key": str(certs / "client.key")}
    return parse_target(mapping)


@pytest.fixture(scope="module")
def strict(certs: Path) -> Iterator[Target]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE+AESGCM:DHE+AESGCM")
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    ctx.load_verify_locations(certs / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    port, stop = _serve(ctx)
    yield _target(certs, port)
    stop.set()


@pytest.fixture(scope="module")
def lax(certs: Path) -> Iterator[Target]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    ctx.verify_mode = ssl.CERT_NONE
    port, stop = _serve(ctx)
    yield _target(certs, port)
    stop.set()


REQUEST = b"GET /metadata HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def test_a_conformant_connection_is_served_by_both(strict: Target, lax: Target) -> None:
    for target in (strict, lax):
        result = tls_probe.probe(target, REQUEST)
        assert result.served, result.describe()


def test_no_client_certificate(strict: Target, lax: Target) -> None:
    assert not tls_probe.probe(strict, REQUEST, client_cert=False).served
    assert tls_probe.probe(lax, REQUEST, client_cert=False).served


def test_cipher_outside_the_list(strict: Target, lax: Target) -> None:
    refused = tls_probe.probe(strict, REQUEST, ciphers="AES128-SHA")
    if not refused.offered:
        pytest.skip(refused.detail)
    assert not refused.established, refused.describe()
    assert tls_probe.probe(lax, REQUEST, ciphers="AES128-SHA").established


def test_tls_1_1(strict: Target, lax: Target) -> None:
    refused = tls_probe.probe(strict, REQUEST, version=ssl.TLSVersion.TLSv1_1)
    accepted = tls_probe.probe(lax, REQUEST, version=ssl.TLSVersion.TLSv1_1)
    if not accepted.offered or not accepted.established:
        pytest.skip(f"this machine cannot speak TLS 1.1 at all ({accepted.detail})")
    assert not refused.established, refused.describe()
    assert accepted.protocol == "TLSv1.1"


def test_http_request_is_well_formed(strict: Target) -> None:
    raw = tls_probe.http_request(strict, "/metadata", {"Ssp-TraceID": "x"})
    assert raw.startswith(b"GET /A20047/STU3/1/gpconnect/metadata HTTP/1.1\r\nHost: 127.0.0.1:")
    assert raw.endswith(b"Ssp-TraceID: x\r\n\r\n")
