"""Reading a free-slot searchset and writing booking, amend and cancel requests, as a consumer would.

Pure functions, shared by the provider suite (which must send correct requests) and usable by a
consumer simulator. `free_slots` flattens a searchset into one view per Slot with what booking needs
from its Schedule; `appointment` builds a GPConnect-Appointment-1 booking for one or more slots.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from gpc_assure.checks.slot import DELIVERY_CHANNEL_EXT, PRACTITIONER_ROLE_EXT, actor_ids, entries
from gpc_assure.fhir import profiles, uktime
from gpc_assure.target import BookingOrganisation

BOOKING_ORG_EXT = profiles.SD + "Extension-GPConnect-BookingOrganisation-1"
CANCELLATION_REASON_EXT = profiles.SD + "Extension-GPConnect-AppointmentCancellationReason-1"
ORGANISATION_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1"
# What the provider populates on an appointment itself: the #912 types and the extensions it copies from the
# Slot and Schedule. The specification's amend and cancel request examples leave them all out.
PROVIDER_TYPES = ("serviceCategory", "serviceType")
PROVIDER_EXTENSIONS = (PRACTITIONER_ROLE_EXT, DELIVERY_CHANNEL_EXT)


@dataclass(frozen=True)
class FreeSlot:
    id: str
    start: dt.datetime
    end: dt.datetime
    schedule_id: str | None
    slot_type: str | None  # Slot.serviceType.text
    channel: str | None  # deliveryChannel
    location_id: str | None  # the Schedule's Location actor
    practitioner_id: str | None
    schedule_type: str | None  # Schedule.serviceCategory.text
    resource: dict[str, Any]
    practitioner_role: dict[str, Any] | None = None  # the Schedule's practitionerRole valueCodeableConcept

    @property
    def bookable(self) -> bool:
        """Booking needs a Location participant, which comes from the Schedule."""
        return self.location_id is not None


def free_slots(bundle: Any) -> list[FreeSlot]:
    """The free Slots of a searchset with their Schedule details, in time order (unreadable ones left out)."""
    schedules = {s.get("id"): s for s in entries(bundle, "Schedule")}
    out = []
    for slot in entries(bundle, "Slot"):
        start, end = uktime.parse_instant(slot.get("start")), uktime.parse_instant(slot.get("end"))
        if start is None or end is None or not isinstance(slot.get("id"), str) or slot.get("status") != "free":
            continue
        ref = (slot.get("schedule") or {}).get("reference") or ""
        sid = ref.split("/", 1)[1] if ref.startswith("Schedule/") else None
        schedule = schedules.get(sid) or {}
        locations, practitioners = actor_ids(schedule, "Location"), actor_ids(schedule, "Practitioner")
        types = [t.get("text") for t in slot.get("serviceType") or [] if isinstance(t, dict) and t.get("text")]
        channel = next((e.get("valueCode") for e in slot.get("extension") or []
                        if isinstance(e, dict) and e.get("url") == DELIVERY_CHANNEL_EXT), None)
        role = next((e.get("valueCodeableConcept") for e in schedule.get("extension") or []
                     if isinstance(e, dict) and e.get("url") == PRACTITIONER_ROLE_EXT), None)
        out.append(FreeSlot(
            id=slot["id"], start=start, end=end, schedule_id=sid, slot_type=types[0] if types else None,
            channel=channel, location_id=locations[0] if locations else None,
            practitioner_id=practitioners[0] if practitioners else None,
            schedule_type=(schedule.get("serviceCategory") or {}).get("text"), resource=slot,
            practitioner_role=copy.deepcopy(role) if isinstance(role, dict) else None))
    return sorted(out, key=lambda s: (s.start, s.schedule_id or "", s.id))


def adjacent_pair(slots: list[FreeSlot], *, same_schedule: bool | None = True, same_channel: bool | None = True,
                  same_type: bool | None = True) -> tuple[FreeSlot, FreeSlot] | None:
    """Two bookable slots where the second starts as the first ends, matching the wanted likenesses
    (True: the same, False: different, None: either)."""
    def ok(want: bool | None, a: Any, b: Any) -> bool:
        return want is None or (a == b) == want

    by_start: dict[dt.datetime, list[FreeSlot]] = {}
    for s in slots:
        by_start.setdefault(s.start, []).append(s)
    for a in slots:
        for b in by_start.get(a.end, []):
            if (a.bookable and b.bookable and ok(same_schedule, a.schedule_id, b.schedule_id)
                    and ok(same_channel, a.channel, b.channel) and ok(same_type, a.slot_type, b.slot_type)):
                return a, b
    return None


def gapped_pair(slots: list[FreeSlot]) -> tuple[FreeSlot, FreeSlot] | None:
    """Two slots on one schedule, same channel and type, with a gap between them (not adjacent)."""
    for a, b in itertools.combinations(slots, 2):
        if (a.bookable and a.schedule_id == b.schedule_id and a.channel == b.channel and a.slot_type == b.slot_type
                and b.start > a.end):
            return a, b
    return None


def booking_organisation(org: BookingOrganisation, contained_id: str = "1") -> dict[str, Any]:
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


def appointment(slots: list[FreeSlot], patient_id: str, org: BookingOrganisation, description: str,
                comment: str | None = None, created: dt.datetime | None = None) -> dict[str, Any]:
    """A booking request for these slots (start of the first, end of the last) at the first slot's Location."""
    first, last = min(slots, key=lambda s: s.start), max(slots, key=lambda s: s.end)
    participants = [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                    {"actor": {"reference": f"Location/{first.location_id}"}, "status": "accepted"}]
    if first.practitioner_id:
        participants.append({"actor": {"reference": f"Practitioner/{first.practitioner_id}"}, "status": "accepted"})
    res: dict[str, Any] = {
        "resourceType": "Appointment",
        "meta": {"profile": [profiles.APPOINTMENT]},
        "contained": [booking_organisation(org)],
        "extension": [{"url": BOOKING_ORG_EXT, "valueReference": {"reference": "#1"}}],
        "status": "booked",
        "description": description,
        "start": uktime.format_local(first.start),
        "end": uktime.format_local(last.end),
        "slot": [{"reference": f"Slot/{s.id}"} for s in sorted(slots, key=lambda s: s.start)],
        "created": uktime.format_local(created or uktime.now()),
        "participant": participants,
    }
    if comment is not None:
        res["comment"] = comment
    return res


def slot_extensions(slot: FreeSlot, *, channel: bool = True, role: bool = True) -> list[dict[str, Any]]:
    """The Must-Support extensions a booking may carry from its slot: the Slot's deliveryChannel and
    the Schedule's practitionerRole (only those the search returned)."""
    out: list[dict[str, Any]] = []
    if channel and slot.channel:
        out.append({"url": DELIVERY_CHANNEL_EXT, "valueCode": slot.channel})
    if role and slot.practitioner_role:
        out.append({"url": PRACTITIONER_ROLE_EXT, "valueCodeableConcept": copy.deepcopy(slot.practitioner_role)})
    return out


def for_update(appt: dict[str, Any]) -> dict[str, Any]:
    """A returned appointment as the body of an amend or cancel: edit it in place (APT-AMD-001)."""
    body = copy.deepcopy(appt)
    body.pop("text", None)
    return body


def cancellation(appt: dict[str, Any], reason: str) -> dict[str, Any]:
    """The cancel request for a returned appointment: status cancelled and the reason extension."""
    body = for_update(appt)
    body["status"] = "cancelled"
    body["extension"] = [e for e in body.get("extension") or []
                         if not (isinstance(e, dict) and e.get("url") == CANCELLATION_REASON_EXT)]
    body["extension"].append({"url": CANCELLATION_REASON_EXT, "valueString": reason})
    return body


def without(body: dict[str, Any], elements: tuple[str, ...] = (), extensions: tuple[str, ...] = ()) -> dict[str, Any]:
    """An amend or cancel body with these elements and extension URLs left out (as older consumers send it)."""
    out = {k: copy.deepcopy(v) for k, v in body.items() if k not in elements}
    if "extension" in out:
        out["extension"] = [e for e in out["extension"] if not (isinstance(e, dict) and e.get("url") in extensions)]
    return out


def version_of(appt: Any, etag: str | None = None) -> str | None:
    """The versionId to name in If-Match: meta.versionId, else the ETag's."""
    v = (appt.get("meta") or {}).get("versionId") if isinstance(appt, dict) else None
    if v:
        return str(v)
    if etag and etag.startswith('W/"') and etag.endswith('"'):
        return etag[3:-1]
    return None


def if_match(version: str) -> dict[str, str]:
    return {"If-Match": f'W/"{version}"'}
