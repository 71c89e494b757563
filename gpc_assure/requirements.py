"""The requirement catalogue: one record per atomic requirement, read from profiles/requirements/*.toml.

Tests name what they verify with `@pytest.mark.requirement("ID", ...)`; the report plugin turns
test outcomes into per-requirement verdicts using this catalogue.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from gpc_assure.errors import ConfigError
from gpc_assure.paths import REQUIREMENTS_DIR

Level = Literal["SHALL", "SHOULD", "MAY"]
Actor = Literal["provider", "consumer", "sender", "receiver"]
Verification = Literal["automated", "attested", "not-tested"]


class Reading(BaseModel):
    """Where the specification can be read two ways: which reading the checks enforce, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str  # e.g. "D-03" in the reference notes, or a short key of our own
    reading: str


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    statement: str
    level: Level
    actor: Actor
    flow: str
    spec: str
    spec_version: str
    source: str
    refs: list[str] = []
    verification: Verification
    reason: str | None = None  # why not tested; for attested items, what the person must confirm
    readings: list[Reading] = []
    # Spec variants this requirement applies to (e.g. ["legacy"]); empty means all.
    versions: list[str] = []
    # "declaration": something the supplier declares that no test can observe (clinical safety, DSPT...),
    # answered in a declarations file; "conformance": everything a test or a person checks.
    kind: Literal["conformance", "declaration"] = "conformance"
    # For a declaration: the flows whose runs ask for it (empty: every flow of its actor).
    applies_to: list[str] = []

    @model_validator(mode="after")
    def _reason_needed(self) -> Requirement:
        if self.verification != "automated" and not self.reason:
            raise ValueError(f"{self.id}: '{self.verification}' requirements need a reason")
        if self.kind == "declaration" and self.verification != "attested":
            raise ValueError(f"{self.id}: a declaration is verified 'attested' (the supplier declares it)")
        return self


class Catalogue:
    def __init__(self, requirements: Iterable[Requirement]):
        self.by_id: dict[str, Requirement] = {}
        for r in requirements:
            if r.id in self.by_id:
                raise ConfigError(f"requirement {r.id} is defined twice in the catalogue")
            self.by_id[r.id] = r

    def __contains__(self, rid: str) -> bool:
        return rid in self.by_id

    def __getitem__(self, rid: str) -> Requirement:
        return self.by_id[rid]

    def __iter__(self):
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def for_flows(self, flows: Iterable[str] | None, roles: Iterable[str] | None = None) -> list[Requirement]:
        fl = set(flows) if flows else None
        rl = set(roles) if roles else None
        return [r for r in self if in_scope(r, fl, rl)]


def in_scope(req: Requirement, flows: set[str] | None, roles: set[str] | None) -> bool:
    """Whether a run of these flows and roles (None: all) asks for the requirement."""
    if roles and req.actor not in roles:
        return False
    if not flows:
        return True
    if req.kind == "declaration":
        return not req.applies_to or bool(flows & set(req.applies_to))
    return req.flow in flows


def load_file(path: Path) -> list[Requirement]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    defaults = data.get("defaults", {})
    out = []
    for n, raw in enumerate(data.get("requirement", [])):
        try:
            out.append(Requirement.model_validate({**defaults, **raw}))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{path}: requirement #{n + 1} ({raw.get('id', '?')}): "
                              f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return out


@cache
def load_catalogue(directory: Path = REQUIREMENTS_DIR) -> Catalogue:
    reqs: list[Requirement] = []
    for path in sorted(directory.glob("*.toml")):
        reqs.extend(load_file(path))
    return Catalogue(reqs)
