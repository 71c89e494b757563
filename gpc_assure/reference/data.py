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


class Language(_M):
    code: str
    display: str
    interpreter_required: bool = False


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


class Pack(_M):
    practice: Practice
    consumer: ConsumerSection
    organisation: list[Organisation]
    location: list[Location]
    practitioner: list[Practitioner]
    patient: list[LocalPatient]
    pds: list[PdsRecord]
    unknown: dict[str, str] = {}

    def roles(self) -> dict[str, str]:
        """Patient role -> NHS number, for the target file."""
        out = {p.role: p.nhs_number for p in self.patient if p.role}
        out.update({p.role: p.nhs_number for p in self.pds if p.role})
        out.update(self.unknown)
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
