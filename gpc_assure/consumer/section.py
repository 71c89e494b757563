"""The target file's optional [consumer_test] section: how gpc-assure drives and judges a consumer under test.

```toml
[consumer]                       # who the consumer is: the identity it must present (Ssp-From, JWT)
asid = "200000000359"
...

[consumer_test]
driver = "reference"             # the built-in reference consumer; or "manual"; or a command template:
# driver = "./my-consumer --step {step} --base-url {base_url} --nhs-number {nhs_number}"
mode = "simulate"                # "simulate": serve the reference GP system; "proxy": forward to [provider]
listen_host = "127.0.0.1"        # where the simulator listens (0.0.0.0 for a consumer on another host)
listen_port = 0                  # 0: any free port
advertise_host = "simulator.example"   # the host name the consumer is told to call (default listen_host)
wait_s = 30                      # the longest one step may take (the driver command, or a person)
settle_s = 1                     # after the driver command ends, how long to wait for requests in flight
attestation = "attestation.toml" # what a person saw in the consumer (see docs/consumer.md)
```

A command template is split into words first and each word filled in afterwards, so a value (an NHS
number, a name) never adds arguments; placeholders are also exported as GPC_* environment variables.
"""

from __future__ import annotations

import shlex
import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from gpc_assure.target_paths import existing_file

# Every placeholder a driver command may use, and what it is filled with.
PLACEHOLDERS: dict[str, str] = {
    "step": "the step to perform (see docs/consumer.md)",
    "scenario": "the journey the step belongs to: foundations, appointments or permissions",
    "correlation": "the scenario's correlation key (also part of base_url)",
    "base_url": "the GP Connect service root to call, carrying the correlation key",
    "plain_base_url": "the same service root without the correlation key",
    "provider_asid": "the provider's ASID (Ssp-To)",
    "ods_code": "the provider practice's ODS code",
    "consumer_asid": "the consumer's own ASID (Ssp-From), from [consumer]",
    "consumer_ods_code": "the consumer organisation's ODS code, from [consumer]",
    "permissions_url": "the User Permissions API root",
    "pfs_record_url": "the root of another Patient Facing API (Access Record documents)",
    "nhs_number": "the step's patient",
    "family": "the patient's family name",
    "given": "the patient's given names",
    "birth_date": "the patient's birth date (yyyy-mm-dd)",
    "gender": "the patient's gender",
    "token": "the patient's NHS login bearer token (permissions steps)",
    "days": "how many days ahead to look for free slots or appointments",
    "appointment_id": "the appointment to amend or cancel",
    "description": "the new description for an amended appointment",
    "reason": "the cancellation reason",
    "permission": "the permission a patient asks about: current, historical or prescriptions",
    "level": "the access level the patient asks for",
    "org_ods_code": "the booking organisation's ODS code",
    "org_name": "the booking organisation's name",
    "org_telephone": "the booking organisation's telephone number",
    "org_type": "the booking organisation's type (gp-practice or urgent-care), may be empty",
}
BUILT_IN_DRIVERS = ("reference", "manual")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def command_words(template: str) -> list[str]:
    """The template's words; raises ValueError when it is not a usable command template."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"is not a valid command ({exc})") from None
    if not words:
        raise ValueError("is empty")
    for word in words:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(word) if f is not None]
        except ValueError as exc:
            raise ValueError(f"has a malformed placeholder in {word!r} ({exc})") from None
        for f in fields:
            if f not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{f}}} (known: {', '.join(PLACEHOLDERS)})")
    return words


class ConsumerTestSection(_Strict):
    driver: str = Field("reference", description="'reference', 'manual', or a command template")
    mode: Literal["simulate", "proxy"] = "simulate"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(0, ge=0, le=65535)
    advertise_host: str | None = None
    upstream: str | None = Field(None, description="proxy: the GP Connect service root to forward to "
                                                   "(default: [provider].base_url)")
    upstream_permissions: str | None = Field(None, description="proxy: the User Permissions root to forward to "
                                                               "(default: [permissions].base_url)")
    wait_s: float = Field(30.0, gt=0, le=3600)
    settle_s: float = Field(1.0, ge=0, le=60)
    pfs_version: Literal["current", "legacy"] | None = None
    attestation: Path | None = None

    @field_validator("driver")
    @classmethod
    def _driver(cls, v: str) -> str:
        if v.strip() in BUILT_IN_DRIVERS:
            return v.strip()
        command_words(v)
        return v

    @field_validator("upstream", "upstream_permissions")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v

    @field_validator("listen_host", "advertise_host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or any(c.isspace() or c in "/?#" for c in v)):
            raise ValueError("must be a host name or address, without scheme, port or path")
        return v

    @field_validator("attestation")
    @classmethod
    def _attestation(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return existing_file(v, info)

    @property
    def kind(self) -> str:
        return self.driver if self.driver in BUILT_IN_DRIVERS else "command"
