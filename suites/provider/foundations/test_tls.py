"""Transport security probes (HTTPS targets only): old TLS versions, missing client certificates and
cipher suites outside GP Connect's list must be refused.

The rows these probe are attested by a person; a probe that gets served reports the row not met.
"""

from __future__ import annotations

import ssl

import pytest

from gpc_assure.outcomes import NotApplicable
from gpc_assure.transport import tls_probe


@pytest.fixture
def https_target(target):
    if not target.provider.base_url.startswith("https://"):
        raise NotApplicable(msg="the target is reached over plain HTTP, so its TLS set-up cannot be probed; a "
                                "person attests it")
    return target


def _metadata_request(gpc, target) -> bytes:
    return tls_probe.http_request(target, "/metadata", gpc.default_headers("metadata.read"))


def _control(gpc, verify, target) -> None:
    """A refusal shows something only when a correct connection (TLS 1.2, client certificate, an allowed cipher)
    is served: a provider that serves nothing refuses every probe too."""
    result = tls_probe.probe(target, _metadata_request(gpc, target))
    if not result.served:
        verify.stop(f"a correct TLS connection was not served either ({result.describe()}), so a refused probe shows "
                    "nothing about the TLS set-up")


@pytest.mark.title("A TLS {version} handshake is refused")
@pytest.mark.requirement("GEN-SEC-001")
@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_old_tls_refused(gpc, verify, https_target, version):
    v = {"1.1": ssl.TLSVersion.TLSv1_1, "1.0": ssl.TLSVersion.TLSv1}[version]
    _control(gpc, verify, https_target)
    result = tls_probe.probe(https_target, _metadata_request(gpc, https_target), version=v)
    if not result.offered:
        pytest.skip(f"this machine's TLS library cannot offer TLS {version} ({result.detail})")
    verify.that(not result.established, "GEN-SEC-001", f"a TLS {version} connection was accepted: {result.describe()}",
                held=f"a TLS {version} handshake was refused")


@pytest.mark.title("A client presenting no certificate is not served")
@pytest.mark.requirement("GEN-SEC-001")
def test_client_without_certificate_refused(gpc, verify, https_target):
    _control(gpc, verify, https_target)
    result = tls_probe.probe(https_target, _metadata_request(gpc, https_target), client_cert=False)
    verify.that(not result.served, "GEN-SEC-001",
                f"a request from a client with no certificate was served: {result.describe()}",
                held="a client presenting no certificate was not served")


@pytest.mark.title("A handshake offering only a cipher suite outside GP Connect's list (AES128-SHA) is refused")
@pytest.mark.requirement("GEN-SEC-002")
def test_cipher_outside_list_refused(gpc, verify, https_target):
    _control(gpc, verify, https_target)
    result = tls_probe.probe(https_target, _metadata_request(gpc, https_target), ciphers="AES128-SHA")
    if not result.offered:
        pytest.skip(f"this machine's TLS library cannot offer AES128-SHA ({result.detail})")
    verify.that(not result.established, "GEN-SEC-002",
                f"a connection using only AES128-SHA was accepted: {result.describe()}",
                held="a handshake offering only AES128-SHA was refused")
