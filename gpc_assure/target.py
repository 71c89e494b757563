"""The system under test, described by a TOML target file and validated with clear one-line errors.

A target names test patients by *role* (what the patient lets a test exercise) rather than by
number, so one suite runs against any provider's test data. A role the file leaves out makes the
tests that need it "insufficient-data", never failures.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpc_assure.errors import ConfigError

# Each patient role, and what a patient must be like to play it. The reference data pack offers all.
PATIENT_ROLES: dict[str, str] = {
    "registered_verified": "active at the practice, NHS number traced and verified on PDS",
    "unverified_pds_traceable": "#921: active, NHS number never verified, PDS trace verifies it",
    "unverified_pds_mismatch": "#921: active, NHS number never verified, PDS demographics do not match",
    "deceased": "deceased locally and on PDS",
    "sensitive": "S-flagged (sensitive) on PDS",
    "inactive": "left the practice (inactive locally), alive and unflagged on PDS",
    "dissent": "active, verified, and has dissented from record sharing",
    "not_registered_pds_known": "on PDS, unknown to the provider: Register makes a temporary record",
    "not_on_pds": "valid NHS number that PDS does not know",
    "superseded": "PDS record flagged superseded or invalid",
    "unknown": "valid NHS number the provider does not hold",
    "pds_unavailable": "registering this patient makes the provider's PDS call fail",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSection(_Strict):
    base_url: str = Field(description="GP Connect service root, e.g. https://host/A12345/STU3/1/gpconnect")
    asid: str
    ods_code: str

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if v.endswith("/"):
            raise ValueError("must not end with '/' (GP Connect service roots have no trailing slash)")
        return v


class Practitioner(_Strict):
    id: str = "1"
    sds_user_id: str = "UNK"
    sds_role_profile_id: str | None = "UNK"
    local_user_id: str | None = None
    family: str
    given: list[str] = []
    prefix: list[str] = []


class Device(_Strict):
    system: str = "https://orange.testlab.nhs.uk/gpconnect-demonstrator/Id/local-system-instance-id"
    value: str = "gpc-assure"
    model: str = "gpc-assure"
    version: str = "0.1.0"


class ConsumerSection(_Strict):
    """The identity gpc-assure presents to the provider, as an accredited consumer would."""

    asid: str
    ods_code: str
    organisation_name: str
    endpoint: str = Field(description="JWT iss: the consumer system's Spine endpoint URL")
    practitioner: Practitioner
    device: Device = Device()


class TlsSection(_Strict):
    client_cert: Path | None = None
    client_key: Path | None = None
    key_password: str | None = None
    ca_bundle: Path | None = None

    @field_validator("client_cert", "client_key", "ca_bundle")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v


class Timeouts(_Strict):
    connect_s: float = Field(5.0, gt=0)
    read_s: float = Field(15.0, gt=0)
    request_s: float = Field(30.0, gt=0, description="deadline for one whole exchange")
    run_s: float = Field(1800.0, gt=0, description="deadline for the whole run")
    max_body_bytes: int = Field(10_000_000, gt=0)


class PatientData(_Strict):
    nhs_number: str
    family: str | None = None
    given: list[str] = []
    birth_date: str | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None

    @property
    def has_demographics(self) -> bool:
        return bool(self.family and self.given and self.birth_date)


class TestData(_Strict):
    """What the target's test environment holds, by role."""

    __test__ = False  # not a pytest test class

    patients: dict[str, PatientData] = {}
    practitioner_sds_user_id: str | None = None
    practitioner_id: str | None = None
    organisation_ods_code: str | None = None
    organisation_id: str | None = None
    location_id: str | None = None

    @field_validator("patients", mode="before")
    @classmethod
    def _roles(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {}
        for role, value in v.items():
            if role not in PATIENT_ROLES:
                raise ValueError(f"unknown patient role '{role}' (known: {', '.join(PATIENT_ROLES)})")
            out[role] = {"nhs_number": value} if isinstance(value, str) else value
        return out


class Capabilities(_Strict):
    """Optional behaviours the target declares; tests of undeclared options are not-applicable."""

    xml: bool = True
    register_patient: bool = True
    gzip: bool = True


class TargetInfo(_Strict):
    name: str = "unnamed target"
    gpconnect_version: Literal["1.2.7"] = "1.2.7"


class Target(_Strict):
    target: TargetInfo = TargetInfo()
    provider: ProviderSection
    consumer: ConsumerSection
    tls: TlsSection | None = None
    timeouts: Timeouts = Timeouts()
    test_data: TestData = TestData()
    capabilities: Capabilities = Capabilities()

    def redacted(self) -> dict[str, Any]:
        """The target as it may appear in evidence: secrets replaced, paths kept."""
        from gpc_assure.redaction import redact_mapping

        return redact_mapping(self.model_dump(mode="json"))


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_target(data: dict[str, Any], source: str = "target") -> Target:
    """Validate a target mapping; the first problem becomes a one-line ConfigError naming the field."""
    try:
        return Target.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {_format_loc(err['loc'])}: {msg}{more}") from None


def load_target(path: str | Path) -> Target:
    """Read and validate a target file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: target file not found") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read target file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: target file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    return parse_target(data, source=str(p))
