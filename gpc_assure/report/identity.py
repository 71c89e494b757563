"""Who, what and where a run was: the system under test, the tool, the transport, the test data used.

A reviewer signs a pack for one build of one product in one environment: the target file's
`[system]` section says which (supplier, product, version or build, environment, operator); the run
adds the tool's version and commit, whether the connection was TLS (and with which client
certificate), and the test-data patients each role stood for.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from gpc_assure import __version__
from gpc_assure.paths import PROJECT_ROOT


@cache
def tool_commit() -> str | None:
    """The commit of the checkout the tool runs from (None when installed from a wheel, or git is missing)."""
    if not (PROJECT_ROOT / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    if done.returncode != 0 or not commit:
        return None
    return commit + ("+local changes" if dirty.stdout.strip() else "")


def certificate_subject(path: Path | None) -> str | None:
    """The subject of a PEM client certificate, for the record (never the key)."""
    if path is None:
        return None
    try:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
        return cert.subject.rfc4514_string()
    except (OSError, ValueError, ImportError):
        return "unreadable certificate file"


def transport(target: Any) -> dict[str, Any]:
    """How the run reached the provider: TLS or plain HTTP, mutual or not."""
    if target is None:
        return {}
    url = str(getattr(target.provider, "base_url", ""))
    tls = getattr(target, "tls", None)
    https = url.lower().startswith("https://")
    out: dict[str, Any] = {"scheme": "https" if https else "http", "tls": https}
    if https:
        cert = getattr(tls, "client_cert", None) if tls is not None else None
        out["mutual_tls"] = cert is not None
        out["client_certificate_subject"] = certificate_subject(cert)
        out["ca_bundle"] = str(tls.ca_bundle) if tls is not None and tls.ca_bundle else "system trust store"
    else:
        out["note"] = "plain HTTP: no TLS, so the TLS and mutual-authentication requirements were not exercised"
    return out


def test_data(target: Any) -> dict[str, str]:
    """Test-data role -> the patient (NHS number) the target file named for it."""
    if target is None:
        return {}
    patients = getattr(getattr(target, "test_data", None), "patients", {}) or {}
    return {role: p.nhs_number for role, p in sorted(patients.items())}


def identity(target: Any) -> dict[str, Any]:
    system = getattr(target, "system", None) if target is not None else None
    return {
        "system": system.model_dump(mode="json", exclude_none=True) if system is not None else {},
        "tool": {"version": __version__, "commit": tool_commit()},
        "transport": transport(target),
        "test_data": test_data(target),
    }
