"""The reference system's in-memory store: the pack's records, made mutable and versioned."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from gpc_assure.reference.data import LocalPatient, Pack, PdsRecord


class PdsUnavailable(Exception):
    """The stand-in PDS is down (the pack marks some numbers to simulate it)."""


class Store:
    def __init__(self, pack: Pack):
        self.pack = pack
        self.lock = threading.RLock()
        self._version = itertools.count(1)
        self._ids = itertools.count(1000)
        self.versions: dict[tuple[str, str], str] = {}
        self.patients: dict[str, LocalPatient] = {p.id: p.model_copy(deep=True) for p in pack.patient}
        self.pds: dict[str, PdsRecord] = {p.nhs_number: p for p in pack.pds}
        self.organisations = {o.id: o for o in pack.organisation}
        self.locations = {loc.id: loc for loc in pack.location}
        self.practitioners = {p.id: p for p in pack.practitioner}
        # Free-form per-flow state (appointments, slots, permissions...) kept by their modules.
        self.extra: dict[str, Any] = {}
        for kind, items in (("Patient", self.patients), ("Organization", self.organisations),
                            ("Location", self.locations), ("Practitioner", self.practitioners)):
            for rid in items:
                self.bump(kind, rid)

    def bump(self, resource_type: str, rid: str) -> str:
        """Record a change to a resource and return its new versionId."""
        with self.lock:
            v = str(next(self._version))
            self.versions[(resource_type, rid)] = v
            return v

    def version(self, resource_type: str, rid: str) -> str:
        return self.versions[(resource_type, rid)]

    def new_id(self) -> str:
        return str(next(self._ids))

    def pds_lookup(self, nhs_number: str) -> PdsRecord | None:
        record = self.pds.get(nhs_number)
        if record is not None and record.unavailable:
            raise PdsUnavailable(f"PDS did not answer for {nhs_number}")
        return record

    def patient_by_nhs(self, nhs_number: str) -> LocalPatient | None:
        for p in self.patients.values():
            if p.nhs_number == nhs_number:
                return p
        return None

    @property
    def practice_organisation(self):
        return self.organisations[self.pack.practice.organisation_id]
