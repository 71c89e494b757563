"""The system under test, described by a TOML target file and validated with clear one-line errors.

A target names test patients by *role* (what the patient lets a test exercise) rather than by
number, so one suite runs against any provider's test data. A role the file leaves out makes the
tests that need it "insufficient-data", never failures.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from gpc_assure.consumer.section import ConsumerTestSection
from gpc_assure.errors import ConfigError
from gpc_assure.mesh.section import MeshSection
from gpc_assure.pfs.section import PermissionsSection
from gpc_assure.target_paths import existing_file

# Each patient role, and what a patient must be like to play it. The reference data pack offers all.
PATIENT_ROLES: dict[str, str] = {
    "registered_verified": "active at the practice, NHS number traced and verified on PDS",
    "unverified_pds_traceable": "#921: active, NHS number never verified, PDS trace verifies it",
    "unverified_pds_mismatch": "#921: active, NHS number never verified, PDS demographics do not match",
    "unverified_pds_partial": "#921: active, NHS number never verified, PDS has the same names but one part "
                              "of the birth date differs (verification passes on the partial rule)",
    "unverified_pds_flagged": "#921: active, NHS number never verified, PDS demographics match but the PDS "
                              "record is flagged invalid, superseded or deceased",
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
        if any(c.isspace() for c in v):
            raise ValueError("must not contain spaces")
        parts = urlsplit(v)
        if not parts.hostname:
            raise ValueError("has no host name")
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
        if parts.query or parts.fragment or v.endswith(("?", "#")):
            raise ValueError("must not have a query (?) or fragment (#)")
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
    def _exists(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return existing_file(v, info)


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
    # Further patients for the roles a run uses up, tried in turn once the first no longer plays the role:
    # Register reactivates the `inactive` patient and registers the `not_registered_pds_known` one, and a
    # test environment is not reset between runs. Role -> patients, each given as in `patients`.
    more_patients: dict[str, list[PatientData]] = {}
    practitioner_sds_user_id: str | None = None
    practitioner_id: str | None = None
    organisation_ods_code: str | None = None
    organisation_id: str | None = None
    location_id: str | None = None  # one of the practice's surgeries (its managingOrganization is the practice)
    # The SDS role profile ids of the test practitioner (practitioner_sds_user_id, whose logical id is
    # practitioner_id), and another practitioner who holds none.
    practitioner_role_profile_ids: list[str] = []
    practitioner_without_role_profile_sds_user_id: str | None = None
    # Identifiers the target does not hold, for not-found tests; override if the defaults exist there.
    unknown_sds_user_id: str = "999999999999"
    unknown_ods_code: str = "Z99999"
    unknown_logical_id: str = "gpc-assure-unknown-id"

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

    @field_validator("more_patients", mode="before")
    @classmethod
    def _more_roles(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {}
        for role, values in v.items():
            if role not in PATIENT_ROLES:
                raise ValueError(f"unknown patient role '{role}' (known: {', '.join(PATIENT_ROLES)})")
            items = values if isinstance(values, list) else [values]
            out[role] = [{"nhs_number": x} if isinstance(x, str) else x for x in items]
        return out


class Capabilities(_Strict):
    """Optional behaviours the target declares; tests of undeclared options are not-applicable."""

    xml: bool = True
    register_patient: bool = True
    gzip: bool = True


class BookingOrganisation(_Strict):
    """An organisation the suite books appointments as (the contained bookingOrganisation)."""

    ods_code: str
    name: str
    telephone: str
    type: Literal["gp-practice", "urgent-care"] | None = None  # GPConnect-OrganisationType-1


class AppointmentsSection(_Strict):
    """What the Appointment Management tests need from the target; a missing value makes the tests that
    need it insufficient-data, and an option declared unsupported makes them not-applicable."""

    booking_organisation: BookingOrganisation | None = None
    # Another organisation (different ODS code) for "any organisation may read or amend" (APT-READ-005).
    other_organisation: BookingOrganisation | None = None
    multi_slot_booking: bool = True  # books several adjacent slots as one appointment (#912)
    releases_cancelled_slots: bool = True  # a cancelled appointment's slots are offered again (APT-CAN-006)
    # searchFilter values the suite sends (default: the booking organisation's type and ODS code).
    search_filter_org_type: str | None = None
    search_filter_ods_code: str | None = None
    # Test data holding free slots restricted to this organisation type / ODS code (APT-SAM-003).
    restricted_org_type: str | None = None
    restricted_ods_code: str | None = None
    booking_window_days: int | None = Field(None, gt=0)  # the practice offers slots this far ahead
    patient_role: str = "registered_verified"  # whom the suite books for
    empty_patient_role: str | None = None  # a patient role with no appointments from today on
    past_appointment_id: str | None = None  # an appointment that has already started (APT-READ-002)

    @field_validator("patient_role", "empty_patient_role")
    @classmethod
    def _known_role(cls, v: str | None) -> str | None:
        if v is not None and v not in PATIENT_ROLES:
            raise ValueError(f"unknown patient role '{v}'")
        return v


class TargetInfo(_Strict):
    name: str = "unnamed target"
    gpconnect_version: Literal["1.2.7"] = "1.2.7"


class SystemSection(_Strict):
    """Who and what the run is about, for the evidence pack a reviewer signs (issue: run identity)."""

    supplier: str | None = None
    product: str | None = None
    version: str | None = None
    build: str | None = None
    environment: str | None = Field(None, description="where the system under test runs: development, INT, ...")
    operator: str | None = Field(None, description="who ran gpc-assure")
    # NHS RM213 supplier category: decides whether the User Permissions rows are mandatory or not applicable.
    rm213_category: Literal["incumbent-provider", "nme-provider", "incumbent-consumer", "nme-consumer"] | None = None
    # For an incumbent consumer (RM213 lets it use IM1 instead): whether it delivers the User Permissions API.
    delivers_user_permissions: bool = True
    declarations: str | None = Field(None, description="the declarations file, relative to the target file")


class Target(_Strict):
    target: TargetInfo = TargetInfo()
    system: SystemSection | None = None
    provider: ProviderSection
    consumer: ConsumerSection
    tls: TlsSection | None = None
    timeouts: Timeouts = Timeouts()
    test_data: TestData = TestData()
    capabilities: Capabilities = Capabilities()
    # GP Connect (Patient Facing) User Permissions; without it every permissions test is not-applicable.
    permissions: PermissionsSection | None = None
    appointments: AppointmentsSection = AppointmentsSection()
    # GP Connect Send Document over MESH: the spec version and the mailboxes; without it, the built-in sandbox.
    mesh: MeshSection | None = None
    # How to drive and judge a consumer under test (consumer suites); without it they are not-applicable.
    consumer_test: ConsumerTestSection | None = None

    def redacted(self) -> dict[str, Any]:
        """The target as it may appear in evidence: secrets replaced, paths kept."""
        from gpc_assure.redaction import redact_mapping

        return redact_mapping(self.model_dump(mode="json"))


def _format_loc(loc: tuple[Any, ...]) -> str:
    return " ".join(".".join(str(p) for p in loc).split()) or "(top level)"


def parse_target(data: dict[str, Any], source: str = "target", base_dir: Path | None = None) -> Target:
    """Validate a target mapping; the first problem becomes a one-line ConfigError naming the field.

    Relative TLS file paths are resolved against `base_dir` (the target file's folder) when given.
    """
    try:
        return Target.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())  # one line, whatever the input held
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
    return parse_target(data, source=str(p), base_dir=p.parent)
