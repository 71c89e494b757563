"""The target file's optional [permissions] section: where the User Permissions API is and who to test as.

```toml
[permissions]
base_url = "https://host/gp-connect/patient-facing/user-permissions"
version = "current"                       # or "legacy" (GET and POST, appointments, accessLevelMax)
token_command = "nhs-login-token --nhs-number {nhs_number}"   # optional: prints a bearer token
request_id = "per-request"                # send a fresh X-Request-ID UUID on every request, or "omit"
correlation_id = "per-request"            # the same for X-Correlation-ID

[permissions.patients.online]             # one table per patient role (PATIENT_ROLES)
nhs_number = "9000000017"
token = "..."                             # or leave it out and let token_command print it
expect = { current = "full", historical = "summary", prescriptions = "manage" }

[permissions.practice]                    # what the practice applies when online access starts
accelerated_access = true
defaults = { current = "summary", historical = "summary", prescriptions = "view" }
at_risk = { current = "none", historical = "none", prescriptions = "none" }
```

These APIs are not behind the Spine Secure Proxy: no Ssp-* headers and no GP Connect JWT, only the
patient's NHS login bearer token. Tokens are secrets: they are redacted from every evidence file and
from results.json, and a token command's output is never logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RecordLevel = Literal["none", "summary", "detailed", "documents", "full"]
ServiceLevel = Literal["none", "view", "manage"]

# Each patient role the permissions suite uses, and what the patient must be like to play it.
PATIENT_ROLES: dict[str, str] = {
    "online": "registered (GMS), NHS number verified, NHS login P9, online access already enabled",
    "new_user": "registered, verified, P9, never used online services: the first GET enables online access "
                "with the practice defaults (each run uses this up)",
    "new_user_at_risk": "as new_user, but flagged at risk by the practice: the first GET applies the at-risk "
                        "permissions (each run uses this up)",
    "requester": "legacy: online, with at least one permission below its accessLevelMax, to request increases",
    "unverified": "registered, but the NHS number is not 'present and verified' in the provider system",
    "non_gms": "registered here as a non-regular (not GMS) patient, e.g. temporary",
    "deceased": "deceased",
    "inactive": "no longer registered at the practice (inactive)",
    "not_registered": "valid NHS number of a patient registered at another practice",
    "low_assurance": "registered and verified, but signed in to NHS login below P9 (e.g. P5)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Levels(_Strict):
    """Access levels by permission (leave out what is not known or not in the version)."""

    current: RecordLevel | None = None
    historical: RecordLevel | None = None
    prescriptions: ServiceLevel | None = None
    appointments: ServiceLevel | None = None  # legacy only

    def known(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PfsPatient(_Strict):
    nhs_number: str
    token: str | None = Field(None, description="the bearer token (without 'Bearer '); else token_command")
    expect: Levels | None = Field(None, description="the permissions the provider holds for this patient")


class Practice(_Strict):
    """The practice's settings that decide a new online user's permissions (PFS-UP-035, -037)."""

    accelerated_access: bool = False
    defaults: Levels = Levels()
    at_risk: Levels = Levels()


class PermissionsSection(_Strict):
    base_url: str = Field(description="the API root, e.g. https://host/gp-connect/patient-facing/user-permissions")
    version: Literal["current", "legacy"] = "current"
    token_command: str | None = Field(
        None, description="a command (no shell) that prints a patient's bearer token; {nhs_number} and {role} "
                          "are filled in. Its output is a secret and never logged.")
    request_id: Literal["per-request", "omit"] = "per-request"
    correlation_id: Literal["per-request", "omit"] = "per-request"
    accept: str = Field("application/json, application/fhir+json",
                        description="the Accept header (200 bodies are application/json, errors application/fhir+json)")
    patients: dict[str, PfsPatient] = {}
    practice: Practice | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("patients")
    @classmethod
    def _roles(cls, v: dict[str, PfsPatient]) -> dict[str, PfsPatient]:
        for role in v:
            if role not in PATIENT_ROLES:
                raise ValueError(f"unknown permissions patient role '{role}' (known: {', '.join(PATIENT_ROLES)})")
        return v
