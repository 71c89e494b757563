"""The one place that strips secrets from anything written to evidence.

Bearer tokens, private keys, passwords and shared keys never reach an evidence file. Keys are
matched by name in mappings and header lists; values are matched by shape in free text.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(r"(password|passphrase|secret|token|private_key|shared_key|api_key|authorization)",
                         re.IGNORECASE)
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "mex-clientkey"}

_TEXT_PATTERNS = [
    # A bearer token (a JWT or any opaque token) after the scheme name.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    # PEM private keys of any kind.
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL),
     REDACTED),
    # NHSMESH authorisation headers carry a hash made from the password.
    (re.compile(r"(NHSMESH\s+)\S+"), r"\1" + REDACTED),
]


def redact_text(text: str) -> str:
    for pattern, repl in _TEXT_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        if name.lower() in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out.append((name, f"{scheme} {REDACTED}".strip()))
        else:
            out.append((name, redact_text(value)))
    return out


def redact_mapping(data: Any) -> Any:
    """A deep copy of a JSON-like value with secret-named keys and secret-shaped strings replaced."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "", [], {}):
                out[k] = REDACTED
            else:
                out[k] = redact_mapping(v)
        return out
    if isinstance(data, list):
        return [redact_mapping(v) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
