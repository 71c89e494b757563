"""The reference practice's appointment diary: schedules, their generated slots, and appointments.

Slots are generated from the pack's sessions relative to *today* (UK local time), so the reference
system offers free slots on whatever day it runs. Generation is lazy and idempotent per day: a
long-running `reference serve` keeps rolling forward. Slot ids are deterministic
(`<schedule>-<yyyymmdd>-<n>`), so a slot keeps its id for the life of the system.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gpc_assure.fhir import profiles, uktime
from gpc_assure.reference.data import AppointmentBook, BookingOrganisation, Pack, ScheduleDef
from gpc_assure.reference.store import Store

ORGANISATION_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1"


@dataclass
class Slot:
    id: str
    schedule: ScheduleDef
    start: dt.datetime
    end: dt.datetime
    slot_type: str
    channel: str
    free: bool = True

    def offered_to(self, org_type: str | None, ods_code: str | None) -> bool:
        """APT-SAM-003: does a search filter of this organisation type and ODS code see this slot?"""
        s = self.schedule
        type_ok = not s.org_types or (org_type is not None and org_type in s.org_types)
        ods_ok = not s.ods_codes or (ods_code is not None and ods_code in s.ods_codes)
        return type_ok and ods_ok


@dataclass
class Appointment:
    id: str
    patient: str
    slot_ids: list[str]
    location: str
    practitioner: str | None
    start: dt.datetime
    end: dt.datetime
    created: str  # as the consumer sent it (or the booking time)
    description: str
    comment: str | None
    booking_org: dict[str, Any]  # the contained Organization as stored
    slot_type: str
    schedule_type: str | None
    channel: str
    role_code: str
    role_display: str
    participants: list[dict[str, Any]]
    status: str = "booked"
    cancellation_reason: str | None = None
    kept: dict[str, Any] = field(default_factory=dict)  # other consumer elements stored and returned


def booking_org_resource(org: BookingOrganisation, contained_id: str = "1") -> dict[str, Any]:
    """A contained CareConnect-GPC-Organization-1 for a booking organisation (APT-BOOK-005)."""
    res: dict[str, Any] = {
        "resourceType": "Organization",
        "id": contained_id,
        "meta": {"profile": [profiles.ORGANIZATION]},
        "identifier": [{"system": profiles.ODS_ORG_SYSTEM, "value": org.ods_code}],
    }
    if org.type:
        res["type"] = [{"coding": [{"system": ORGANISATION_TYPE_SYSTEM, "code": org.type}]}]
    res["name"] = org.name
    res["telecom"] = [{"system": "phone", "value": org.telephone}]
    return res


class Diary:
    """All appointment state of one reference system; guarded by the store's lock."""

    def __init__(self, store: Store):
        self.store = store
        self.book: AppointmentBook | None = store.pack.appointments
        self.schedules: dict[str, ScheduleDef] = {s.id: s for s in store.pack.schedule}
        self.slots: dict[str, Slot] = {}
        self.appointments: dict[str, Appointment] = {}
        self._days_done: set[dt.date] = set()
        self._seeded = False
        for sid in self.schedules:
            store.bump("Schedule", sid)

    # -- generation ------------------------------------------------------------------------------
    def roll(self) -> None:
        """Make sure slots exist for the window around today, and the seeds are in place."""
        if self.book is None:
            return
        today = uktime.today()
        with self.store.lock:
            for n in range(-self.book.days_before, self.book.days_after + 1):
                day = today + dt.timedelta(days=n)
                if day not in self._days_done:
                    self._generate(day)
                    self._days_done.add(day)
            if not self._seeded:
                self._seed(today)
                self._seeded = True

    def _generate(self, day: dt.date) -> None:
        for s in self.schedules.values():
            if day.weekday() not in s.weekdays:
                continue
            start, end = uktime.at(day, s.session_start), uktime.at(day, s.session_end)
            step = dt.timedelta(minutes=s.slot_minutes)
            n = 0
            while start + step <= end:
                sid = f"{s.id}-{day:%Y%m%d}-{n:02d}"
                self.slots[sid] = Slot(sid, s, start, start + step, s.slot_types[n % len(s.slot_types)],
                                       s.delivery_channels[n % len(s.delivery_channels)])
                self.store.bump("Slot", sid)
                start += step
                n += 1

    def _seed(self, today: dt.date) -> None:
        assert self.book is not None
        for seed in self.book.seed:
            s = self.schedules[seed.schedule]
            if seed.started_minutes_ago is not None:
                start = max(uktime.day_start(today), uktime.now() - dt.timedelta(minutes=seed.started_minutes_ago))
                start = start.replace(second=0, microsecond=0)
                slot = Slot(f"{s.id}-{today:%Y%m%d}-started", s, start, start + dt.timedelta(minutes=s.slot_minutes),
                            s.slot_types[0], s.delivery_channels[0])
                self.slots[slot.id] = slot
            else:
                day = today + dt.timedelta(days=seed.day_offset)
                while day.weekday() not in s.weekdays:
                    day -= dt.timedelta(days=1)
                found = self.slots.get(f"{s.id}-{day:%Y%m%d}-{seed.slot_index:02d}")
                if found is None:
                    continue
                slot = found
            slot.free = False
            self.store.bump("Slot", slot.id)
            participants = [{"actor": {"reference": f"Patient/{seed.patient}"}, "status": "accepted"},
                            {"actor": {"reference": f"Location/{s.location}"}, "status": "accepted"}]
            if s.practitioner:
                participants.append({"actor": {"reference": f"Practitioner/{s.practitioner}"}, "status": "accepted"})
            appt = Appointment(
                id=seed.id, patient=seed.patient, slot_ids=[slot.id], location=s.location,
                practitioner=s.practitioner, start=slot.start, end=slot.end,
                created=uktime.format_local(slot.start - dt.timedelta(days=2)), description=seed.description,
                comment=seed.comment, booking_org=booking_org_resource(seed.booking_organisation),
                slot_type=slot.slot_type, schedule_type=s.schedule_type, channel=slot.channel,
                role_code=s.role_code, role_display=s.role_display, participants=participants)
            self.appointments[appt.id] = appt
            self.store.bump("Appointment", appt.id)

    # -- queries ---------------------------------------------------------------------------------
    def slots_within(self, start: dt.datetime, end: dt.datetime) -> list[Slot]:
        """Slots lying wholly inside [start, end], in time order."""
        return sorted((s for s in self.slots.values() if s.start >= start and s.end <= end),
                      key=lambda s: (s.start, s.schedule.id))

    def slots_overlapping(self, start: dt.datetime, end: dt.datetime) -> list[Slot]:
        return sorted((s for s in self.slots.values() if s.start < end and s.end > start),
                      key=lambda s: (s.start, s.schedule.id))

    def new_appointment_id(self) -> str:
        return self.store.new_id()


def diary_of(store: Store) -> Diary:
    """The store's diary, created on first use and rolled forward to today."""
    with store.lock:
        d = store.extra.get("diary")
        if d is None:
            d = store.extra["diary"] = Diary(store)
    d.roll()
    return d


def target_section(pack: Pack) -> dict[str, Any]:
    """The [appointments] section of a target file pointing at the reference system (TOML-ready)."""
    book = pack.appointments
    if book is None:
        return {}
    out: dict[str, Any] = {
        "booking_organisation": book.booking_organisation.model_dump(exclude_none=True),
        "other_organisation": book.other_organisation.model_dump(exclude_none=True),
        "multi_slot_booking": True,
        "releases_cancelled_slots": True,
        "booking_window_days": book.booking_window_days,
    }
    if book.booking_organisation.type:
        out["search_filter_org_type"] = book.booking_organisation.type
    out["search_filter_ods_code"] = book.booking_organisation.ods_code
    restricted_type = next((s.org_types[0] for s in pack.schedule if s.org_types and not s.ods_codes), None)
    restricted_ods = next((s.ods_codes[0] for s in pack.schedule if s.ods_codes and not s.org_types), None)
    if restricted_type:
        out["restricted_org_type"] = restricted_type
    if restricted_ods:
        out["restricted_ods_code"] = restricted_ods
    if book.empty_patient_role:
        out["empty_patient_role"] = book.empty_patient_role
    past = next((s.id for s in book.seed if s.started_minutes_ago is not None), None) or next(
        (s.id for s in book.seed if s.day_offset < 0), None)
    if past:
        out["past_appointment_id"] = past
    return out
