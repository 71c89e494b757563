"""The reference system's test-data pack (fixtures/packs/*.toml): a typed, validated model."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from gpc_assure.errors import ConfigError
from gpc_assure.paths import PACKS_DIR
from gpc_assure.target import ConsumerSection


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(_M):
    use: str | None = None
    line: list[str] = []
    city: str | None = None
    district: str | None = None
    postal_code: str | None = None


class Telecom(_M):
    system: str
    value: str
    use: str | None = None


class Practice(_M):
    ods_code: str
    asid: str
    organisation_id: str


class Organisation(_M):
    id: str
    ods_code: str
    name: str
    telecom: str | None = None
    address: Address | None = None
    type: str | None = None  # GPConnect-OrganisationType-1 code, for booking restrictions


class Location(_M):
    id: str
    name: str
    organisation: str
    telecom: str | None = None
    address: Address | None = None


class Practitioner(_M):
    id: str
    sds_user_id: str
    role_profile_ids: list[str] = []
    family: str
    given: list[str] = []
    prefix: list[str] = []
    gender: str | None = None
    languages: list[Language] = []  # rendered as nhsCommunication (FND-FPR-002g)


class Language(_M):
    code: str
    display: str
    interpreter_required: bool = False


class Contact(_M):
    """A patient's contact (next of kin), rendered as Patient.contact with its relationship as text."""

    relationship: str
    family: str
    given: list[str] = []
    telecom: list[Telecom] = []


class LocalPatient(_M):
    """A record on the practice's own list."""

    role: str | None = None
    id: str
    nhs_number: str
    status: Literal["active", "inactive", "deceased"]
    verified: bool
    registration_type: str = "R"  # CareConnect-RegistrationType-1: R regular (GMS), T temporary, ...
    dissent: bool = False
    family: str
    given: list[str] = []
    prefix: list[str] = []
    birth_date: str
    gender: str | None = None
    telecom: list[Telecom] = []
    address: Address | None = None
    preferred_branch: str | None = None  # Location id
    language: Language | None = None
    contact: list[Contact] = []


class PdsRecord(_M):
    """What the stand-in PDS knows about an NHS number."""

    role: str | None = None
    nhs_number: str
    family: str
    given: list[str] = []
    birth_date: str
    gender: str | None = None
    deceased: bool = False
    flags: list[Literal["sensitive", "invalid", "superseded"]] = []
    address: Address | None = None
    unavailable: bool = False


class BookingOrganisation(_M):
    """An organisation that books appointments (Extension-GPConnect-BookingOrganisation-1)."""

    ods_code: str
    name: str
    telephone: str
    type: Literal["gp-practice", "urgent-care"] | None = None  # GPConnect-OrganisationType-1


class ScheduleDef(_M):
    """A recurring session in the practice's diary; its slots are generated relative to today."""

    id: str
    location: str  # Location id: where the appointment takes place (APT-SAM-006)
    practitioner: str | None = None  # Practitioner id; absent for sessions not tied to one person
    role_code: str  # GPConnect-PractitionerRole-1 (SDS job role) code and display (APT-SAM-005)
    role_display: str
    schedule_type: str | None = None  # Schedule.serviceCategory.text (#912)
    weekdays: list[int] = [0, 1, 2, 3, 4]  # Monday = 0
    session_start: str  # UK local wall-clock time, e.g. "09:00"
    session_end: str
    slot_minutes: int = 10
    slot_types: list[str]  # Slot.serviceType.text (#912), given to the session's slots in turn
    delivery_channels: list[str] = ["In-person"]  # GPConnect-DeliveryChannel-1, given in turn
    org_types: list[str] = []  # bookable only by these organisation types (empty: no restriction)
    ods_codes: list[str] = []  # bookable only by these ODS codes (empty: no restriction)


class SeedAppointment(_M):
    """An appointment already in the diary when the reference system starts."""

    id: str
    patient: str  # LocalPatient id
    schedule: str
    day_offset: int = 0  # the session day this many days from today (or the nearest earlier session day)
    slot_index: int = 0
    # Instead: a slot of its own today, that started this many minutes before the system did (not before
    # midnight), so retrieve still returns the appointment while read, amend and cancel must refuse it.
    started_minutes_ago: int | None = None
    description: str
    comment: str | None = None
    booking_organisation: BookingOrganisation


class AppointmentBook(_M):
    """How the reference diary behaves: its rolling window, limits and the organisations that book."""

    days_before: int = 7  # slots exist this many days back (past slots: searchable, not bookable)
    days_after: int = 21  # and this many days ahead
    booking_window_days: int = 14  # only slots starting within this many days are offered (APT-SAM-004)
    max_description: int = 100
    max_comment: int = 500
    booking_organisation: BookingOrganisation  # the consumer organisation the suite books as
    other_organisation: BookingOrganisation  # another organisation, for "any organisation may..." tests
    empty_patient_role: str | None = None  # a patient role with no appointments
    seed: list[SeedAppointment] = []


class PfsPatientSeed(_M):
    """A patient of the User Permissions reference: their NHS login and the permissions the practice set."""

    role: str  # gpc_assure.pfs.section.PATIENT_ROLES
    nhs_number: str
    assurance: Literal["P9", "P5"] = "P9"  # the NHS login identity level of their token
    online: bool = False  # online access already enabled (else the first GET enables it)
    at_risk: bool = False  # flagged at risk by the practice: new online access gets the at-risk permissions
    effective_date: str | None = None  # when the current record level began (online patients)
    levels: dict[str, str] = {}  # current, historical, prescriptions, appointments
    max: dict[str, str] = {}  # accessLevelMax per permission (legacy)


class PermissionsSeed(_M):
    """The practice's User Permissions settings and the patients the suite signs in as."""

    accelerated_access: bool = False
    defaults: dict[str, str]  # a new online user's levels (current is 'full' under accelerated access)
    default_max: dict[str, str]
    at_risk: dict[str, str]
    at_risk_max: dict[str, str]
    patient: list[PfsPatientSeed] = []


class Pack(_M):
    practice: Practice
    consumer: ConsumerSection
    organisation: list[Organisation]
    location: list[Location]
    practitioner: list[Practitioner]
    patient: list[LocalPatient]
    pds: list[PdsRecord]
    unknown: dict[str, str] = {}
    # Appointment Management: the diary (optional, so packs without appointments still load).
    appointments: AppointmentBook | None = None
    schedule: list[ScheduleDef] = []
    permissions: PermissionsSeed | None = None  # GP Connect (Patient Facing) User Permissions

    def roles(self) -> dict[str, str]:
        """Patient role -> NHS number, for the target file (the first patient of each role)."""
        out: dict[str, str] = {}
        for p in [*self.patient, *self.pds]:
            if p.role:
                out.setdefault(p.role, p.nhs_number)
        for role, nhs in self.unknown.items():
            out.setdefault(role, nhs)
        return out

    def more_patients(self) -> dict[str, list[str]]:
        """Role -> the NHS numbers of further patients playing it (the target file's more_patients)."""
        out: dict[str, list[str]] = {}
        first = self.roles()
        for p in [*self.patient, *self.pds]:
            if p.role and first[p.role] != p.nhs_number and p.nhs_number not in out.get(p.role, []):
                out.setdefault(p.role, []).append(p.nhs_number)
        return out


def load_pack(path: Path | None = None) -> Pack:
    p = path or PACKS_DIR / "reference.toml"
    try:
        return Pack.model_validate(tomllib.loads(p.read_text("utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read test-data pack: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{p}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
