"""The target file's optional [mesh] section: the MESH mailboxes and the Send Document spec version.

```toml
[mesh]
spec_version = "v2"                 # "v2" (GPCONNECT_SEND_DOCUMENT) or "v1.3" (GPFED_CONSULT_REPORT)
url = "https://msg.intspineservices.nhs.uk"   # leave out: the built-in mesh-sandbox and reference peers
mailbox = "X26OT123"                # the suite's own mailbox (it plays the other party)
password = "..."                    # that mailbox's password (a secret: never written anywhere)
shared_key = "..."                  # the environment's MESH shared secret (a secret too)
reply_mailbox = "X26OT124"          # optional second suite mailbox: source.endpoint of what the suite sends
reply_password = "..."
sut_mailbox = "X26OT999"            # the system under test's mailbox
client_cert = "certs/mesh.crt"      # the MESH client certificate and key (real MESH needs them)
client_key = "certs/mesh.key"
ca_bundle = "certs/mesh-ca.pem"
ack_wait_s = 120                    # how long acknowledgements (and the sender's document) may take
trigger_command = "my-system send-test-report --kind {kind}"   # sender role: makes the system send
max_attachment_bytes = 5000000      # receiver role: the size limit the receiver applies, if any
```

Without a [mesh] section, or with one that gives no `url`, a run starts NHS's mesh-sandbox on loopback
with its own mailboxes and plays the reference sender and receiver as the systems under test.

`trigger_command` is split like a shell command line (no shell runs it); its program must exist when
the target is loaded (a command on PATH, or a path, relative to the folder gpc-assure runs in), else
the run ends before it starts with a one-line configuration error (exit 2). How each run of it ended
(exit code, the end of its output) is evidence in the pack.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gpc_assure.target_paths import existing_file

SpecVersion = Literal["v2", "v1.3"]


class MeshSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    spec_version: SpecVersion = "v2"
    url: str | None = Field(None, description="MESH API base URL; none means the built-in mesh-sandbox")
    mailbox: str | None = None
    password: str | None = None
    shared_key: str | None = None
    reply_mailbox: str | None = None
    reply_password: str | None = None
    sut_mailbox: str | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_bundle: Path | None = None
    workflow_id: str | None = Field(None, description="override the document workflow ID the version implies")
    ack_wait_s: float = Field(60.0, gt=0, le=86400)
    settle_s: float = Field(5.0, ge=0, le=3600, description="how long to watch for responses nobody expects")
    poll_interval_s: float = Field(1.0, gt=0, le=300)
    trigger_command: str | None = None
    max_attachment_bytes: int | None = Field(None, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None:
            if not v.startswith(("http://", "https://")) or any(c.isspace() for c in v):
                raise ValueError("must be an http:// or https:// URL without spaces")
            v = v.rstrip("/")
        return v

    @field_validator("mailbox", "reply_mailbox", "sut_mailbox")
    @classmethod
    def _mailbox_id(cls, v: str | None) -> str | None:
        # MESH compares mailbox IDs in tokens and paths as upper case; a lower-case ID is refused (403).
        if v is not None and (not v or v != v.upper() or any(c.isspace() for c in v)):
            raise ValueError("a MESH mailbox ID is upper case, without spaces")
        return v

    @field_validator("trigger_command")
    @classmethod
    def _trigger(cls, v: str | None) -> str | None:
        if v is not None:
            trigger_program(v)
        return v

    @field_validator("client_cert", "client_key", "ca_bundle")
    @classmethod
    def _exists(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return existing_file(v, info)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.url is not None:
            missing = [n for n in ("mailbox", "password", "shared_key", "sut_mailbox") if not getattr(self, n)]
            if missing:
                raise ValueError(f"a [mesh] section with a url also needs {', '.join(missing)}")
        if self.reply_mailbox and not self.reply_password:
            raise ValueError("reply_mailbox needs reply_password")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        return self

    @property
    def built_in(self) -> bool:
        """No url: the run starts mesh-sandbox and the reference sender and receiver."""
        return self.url is None


def trigger_program(command: str) -> str:
    """The program a trigger_command runs, when it exists; else ValueError saying what is wrong."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"cannot be read as a command line ({exc})") from None
    if not argv:
        raise ValueError("is empty")
    if shutil.which(argv[0]) is None:
        raise ValueError(f"runs '{argv[0]}', which was not found (neither a command on PATH nor an executable "
                         "file)")
    return argv[0]
