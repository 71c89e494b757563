"""The MESH authorisation token: built for every request, and read back from captured requests.

`NHSMESH <MAILBOX>:<nonce>:<nonce_count>:<yyyyMMddHHmm UTC>:<hex HMAC-SHA256>`, where the HMAC is keyed
with the environment's shared secret over `<MAILBOX>:<nonce>:<nonce_count>:<password>:<timestamp>`.
The hash is derived from the password and shared key, so it never leaves this module: parsed tokens
keep everything but the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

SCHEME = "NHSMESH"
_TIMESTAMP = re.compile(r"^\d{12}$")


def token(mailbox: str, password: str, shared_key: str, *, nonce: str | None = None, nonce_count: int = 0,
          when: dt.datetime | None = None) -> str:
    """A fresh Authorization header value (a new nonce unless one is given)."""
    nonce = nonce or str(uuid.uuid4())
    stamp = (when or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M")
    message = f"{mailbox}:{nonce}:{nonce_count}:{password}:{stamp}"
    digest = hmac.new(shared_key.encode(), message.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{SCHEME} {mailbox}:{nonce}:{nonce_count}:{stamp}:{digest}"


@dataclass(frozen=True)
class TokenParts:
    """What a captured token says, without its hash."""

    scheme: str
    mailbox: str
    nonce: str
    nonce_count: str
    timestamp: str
    parts: int
    hash_present: bool

    def timestamp_utc(self) -> dt.datetime | None:
        if not _TIMESTAMP.match(self.timestamp):
            return None
        try:
            return dt.datetime.strptime(self.timestamp, "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, object]:
        return {"scheme": self.scheme, "mailbox": self.mailbox, "nonce": self.nonce,
                "nonce_count": self.nonce_count, "timestamp": self.timestamp, "parts": self.parts,
                "hash_present": self.hash_present}


def parse(value: str | None) -> TokenParts | None:
    """The parts of an Authorization header value, or None when there is none."""
    if not value:
        return None
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if not rest:
        scheme, rest = "", value
    fields = rest.split(":")
    padded = [*fields, "", "", "", "", ""]
    return TokenParts(scheme=scheme, mailbox=padded[0], nonce=padded[1], nonce_count=padded[2],
                      timestamp=padded[3], parts=len(fields), hash_present=bool(padded[4]))
