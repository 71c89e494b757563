"""The one place that strips secrets (and, on request, patient identity) from anything written.

Bearer tokens, private keys, passwords and MESH secrets never reach an evidence file, results.json
or any report. Keys are matched by name in mappings and header lists; values are matched by shape
in free text; and the literal secrets of the run's target (a TLS key password, a MESH mailbox
password or shared key, credentials in a URL) are remembered and replaced wherever they appear,
whatever shape they have.

Patient masking (`gpc-assure run --mask-patients`) also replaces NHS numbers and names. An NHS
number becomes a keyed pseudonym (`[NHS-1a2b3c4d]`): the same number gives the same pseudonym
throughout one run, so a reviewer can still see that the patient asked for is the one returned,
but the key is random per process and never written, so the pseudonym cannot be reversed by
trying every NHS number. Names become `[NAME]`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from gpc_assure.nhs_number import is_valid as _is_nhs_number

REDACTED = "[REDACTED]"
MASKED_NAME = "[NAME]"

_SECRET_KEY = re.compile(r"(password|passphrase|secret|token|private_key|shared_key|api_key|authorization"
                         r"|client_key_pem|mailbox_password|credential)", re.IGNORECASE)
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "mex-clientkey",
                   "x-api-key", "apikey"}

_TEXT_PATTERNS = [
    # A bearer token (a JWT or any opaque token) after the scheme name; a plain word of prose
    # ("the Bearer scheme", "Bearer realm=") is not a token: tokens are long or hold a digit or mark.
    # (RFC 6750 b64token: letters, digits and -._~+/ then any '='; "realm=" starts a parameter.)
    (re.compile(r"(?i)(bearer\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/-]|[A-Za-z0-9._~+/-]{16}|[A-Za-z0-9._~+/-]+=+(?![\w\"]))"
                r"(?>[A-Za-z0-9._~+/-]+=*)(?![\w\"])"), r"\1" + REDACTED),
    # A JWT anywhere else (GP Connect's are unsigned, so they end in '.'): header.payload.[signature],
    # also one cut short (a message quoting a provider's diagnostics may stop mid-token).
    # The header is always a JSON object ('eyJ'); the payload need not start with a letter key.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?"), REDACTED),
    # PEM private keys of any kind (also one cut off before its END line).
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL),
     REDACTED),
    # NHSMESH authorisation headers carry a hash made from the mailbox password and shared key.
    (re.compile(r"(NHSMESH\s+)\S+"), r"\1" + REDACTED),
    # Basic credentials, and user:password in a URL.
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@"), r"\1" + REDACTED + "@"),
    # key=value or "key": "value" in free text (query strings, form bodies, logs, JSON kept as text).
    (re.compile(r"(?i)(\b[\w-]*(?:password|passphrase|secret|shared[-_]?key|api[-_]?key|access[-_]?token|client[-_]?key)[\w-]*"
                r"[\"']?\s*[=:]\s*[\"']?)([^\s\"'&,;}]+)"), r"\1" + REDACTED),
]

# A cheap first look: text that matches none of these words cannot match any pattern above.
_TRIGGER = re.compile(r"(?i)bearer|eyJ|PRIVATE KEY|NHSMESH|basic|://|password|passphrase|secret|shared_key|api_key"
                      r"|access_token|client_key")

# NHS numbers as ten digits, or 3-3-4 with spaces or dashes; only mod-11 valid ones are masked.
_NHS_NUMBER = re.compile(r"(?<![\w.])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w])")
_NAME_KEYS = {"family", "given", "prefix", "suffix"}
_MIN_SECRET = 6  # shorter literals would mangle ordinary text and protect nothing


class _Policy:
    """What this process redacts beyond shapes: remembered secrets, patient masking and its key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: set[str] = set()
        self.secret_re: re.Pattern[str] | None = None
        self.mask_patients = False
        self.names: set[str] = set()
        self.name_re: re.Pattern[str] | None = None
        self.key = _secrets.token_bytes(32)


_policy = _Policy()


def _alternation(words: Iterable[str], boundaries: bool) -> re.Pattern[str] | None:
    words = sorted(words, key=len, reverse=True)  # longest first, so a prefix never wins
    if not words:
        return None
    body = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)" if boundaries else f"(?:{body})")


def remember_secrets(values: Iterable[str | None]) -> None:
    """Redact these literal values wherever they appear from now on (e.g. the target's passwords)."""
    with _policy.lock:
        added = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET} - _policy.secrets
        if added:
            _policy.secrets |= added
            _policy.secret_re = _alternation(_policy.secrets, boundaries=False)


def secrets_in(data: Any) -> list[str]:
    """The literal secrets in a JSON-like value: values of secret-named keys, passwords inside URLs."""
    found: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k if isinstance(k, str) else None)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str):
            if key is not None and _SECRET_KEY.search(key):
                found.append(value)
            if "://" in value and "@" in value:
                try:
                    password = urlsplit(value).password
                except ValueError:
                    password = None
                if password:
                    found.append(password)

    walk(data, None)
    return found


def set_patient_masking(enabled: bool, names: Iterable[str | None] = ()) -> None:
    """Mask NHS numbers and names from now on; `names` are literal names to mask in free text too."""
    with _policy.lock:
        _policy.mask_patients = enabled
        if enabled:
            _policy.names |= {n for n in names if isinstance(n, str) and len(n) >= 2}
            _policy.name_re = _alternation(_policy.names, boundaries=True)


def patient_masking() -> bool:
    return _policy.mask_patients


def reset() -> None:
    """Forget remembered secrets and switch masking off (for tests that share a process)."""
    global _policy
    _policy = _Policy()


def _nhs_pseudonym(match: re.Match[str]) -> str:
    digits = match.group(1) + match.group(3) + match.group(4)
    if not _is_nhs_number(digits):
        return match.group(0)
    tag = hmac.new(_policy.key, digits.encode(), hashlib.sha256).hexdigest()[:8]
    return f"[NHS-{tag}]"


def redact_text(text: str) -> str:
    policy = _policy
    if policy.secret_re is not None:
        text = policy.secret_re.sub(REDACTED, text)
    if _TRIGGER.search(text):
        for pattern, repl in _TEXT_PATTERNS:
            text = pattern.sub(repl, text)
    if policy.mask_patients:
        text = _NHS_NUMBER.sub(_nhs_pseudonym, text)
        if policy.name_re is not None:
            text = policy.name_re.sub(MASKED_NAME, text)
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


def _mask_name_value(value: Any) -> Any:
    if isinstance(value, str):
        return MASKED_NAME
    if isinstance(value, list):
        return [_mask_name_value(v) for v in value]
    return value


def redact_mapping(data: Any) -> Any:
    """A deep copy of a JSON-like value with secret-named keys and secret-shaped strings replaced."""
    if isinstance(data, dict):
        out = {}
        human_name = _policy.mask_patients and any(k in data for k in ("family", "given"))
        for k, v in data.items():
            if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "", [], {}):
                out[k] = REDACTED
            elif human_name and k in _NAME_KEYS | {"text"} and v not in (None, "", []):
                out[k] = _mask_name_value(v)
            else:
                out[k] = redact_mapping(v)
        return out
    if isinstance(data, list):
        return [redact_mapping(v) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
