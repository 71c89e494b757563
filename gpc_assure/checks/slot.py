"""Rules for Search for free slots: Slot and Schedule resources, and the searchset as a whole.

Resource rules are `(resource) -> [problems]`; bundle rules are `(bundle) -> [problems]`. Lift them
with `checks.resources.each(...)` and `checks.resources.body_rule(...)`. Each rule reports one
concern only, so one fault in a provider breaks exactly the requirement it concerns. A rule with
nothing of its kind to judge (no Slot in the searchset, no Schedule naming a Location) raises
`NotJudged`: it is never met on an empty or unrelated answer.

`answered` and `in_range` are the identity of a search: a 200 searchset, about the range asked. Tests
use them as preconditions, so slots from another range leave the other rules not judged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from gpc_assure.checks.core import Check, Guard, NotJudged, compact
from gpc_assure.checks.outcome import body_as_json
from gpc_assure.fhir import profiles, uktime
from gpc_assure.transport.exchange import Exchange

DELIVERY_CHANNEL_EXT = profiles.SD + "Extension-GPConnect-DeliveryChannel-2"
PRACTITIONER_ROLE_EXT = profiles.SD + "Extension-GPConnect-PractitionerRole-1"
DELIVERY_CHANNELS = frozenset({"In-person", "Telephone", "Video"})  # GPConnect-DeliveryChannel-1
SDS_JOB_ROLE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
# ValueSet GPConnect-PractitionerRole-1 (1.1.0): the SDS job roles a schedule may carry.
PRACTITIONER_ROLES = frozenset({
    "R0260", "R0270", "R0410", "R0600", "R0610", "R0620", "R0680", "R0690", "R0700", "R0790", "R1290", "R1300",
    "R1310", "R1330", "R1450", "R1480", "R1550", "R1590", "R6200", "R6300",
})
# The _include:recurse values a consumer may send, and the resource type each brings.
RECURSE = {
    "Schedule:actor:Practitioner": "Practitioner",
    "Schedule:actor:Location": "Location",
    "Location:managingOrganization": "Organization",
}

Rule = Callable[[dict[str, Any]], list[str]]


def entries(bundle: Any, resource_type: str | None = None) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict):
        return []
    out = []
    for e in bundle.get("entry") or []:
        res = e.get("resource") if isinstance(e, dict) else None
        if isinstance(res, dict) and (resource_type is None or res.get("resourceType") == resource_type):
            out.append(res)
    return out


def _ref_id(ref: Any, kind: str) -> str | None:
    """The id in a relative reference 'Kind/id' (or None)."""
    value = (ref or {}).get("reference") if isinstance(ref, dict) else None
    if isinstance(value, str) and value.startswith(f"{kind}/"):
        return value[len(kind) + 1:]
    return None


def _ids(resources: Iterable[dict[str, Any]]) -> set[str]:
    return {r.get("id") for r in resources if isinstance(r.get("id"), str)}


def actor_ids(schedule: dict[str, Any], kind: str) -> list[str]:
    return [i for a in schedule.get("actor") or [] if (i := _ref_id(a, kind))]


# -- Slot rules ------------------------------------------------------------------------------------

def slot_free(slot: dict[str, Any]) -> list[str]:
    """APT-SLOT-013: a free-slot search returns only free slots."""
    if slot.get("status") == "free":
        return []
    return [f"Slot {slot.get('id')} has status {compact(slot.get('status'))}, not free"]


def slot_times(slot: dict[str, Any]) -> list[str]:
    """APT-SLOT-020: start and end in UK local time with an offset."""
    return [p for key in ("start", "end") if (p := uktime.local_problem(slot.get(key), f"Slot.{key}"))]


def slot_type(slot: dict[str, Any]) -> list[str]:
    """APT-SLOT-021 (#912): Slot.serviceType.text carries the practice's slot type."""
    texts = [t.get("text") for t in slot.get("serviceType") or [] if isinstance(t, dict)]
    if not any(isinstance(t, str) and t.strip() for t in texts):
        return [f"Slot {slot.get('id')} has no serviceType.text (the slot type, #912)"]
    return []


def delivery_channel(resource: dict[str, Any]) -> list[str]:
    """APT-SLOT-024: exactly one DeliveryChannel-2 extension with a GPConnect-DeliveryChannel-1 code."""
    found = [e for e in resource.get("extension") or []
             if isinstance(e, dict) and e.get("url") == DELIVERY_CHANNEL_EXT]
    what = f"{resource.get('resourceType')} {resource.get('id')}"
    if len(found) != 1:
        return [f"{what} has {len(found)} deliveryChannel extensions, expected 1"]
    code = found[0].get("valueCode")
    if code not in DELIVERY_CHANNELS:
        return [f"{what} deliveryChannel {compact(code)} is not one of {', '.join(sorted(DELIVERY_CHANNELS))}"]
    return []


def no_specialty(resource: dict[str, Any]) -> list[str]:
    """APT-SLOT-023: Schedule and Slot leave specialty out."""
    if resource.get("specialty"):
        return [f"{resource.get('resourceType')} {resource.get('id')} populates specialty"]
    return []


# -- Schedule rules --------------------------------------------------------------------------------

def schedule_times(schedule: dict[str, Any]) -> list[str]:
    """APT-SLOT-020: planningHorizon start and end in UK local time with an offset."""
    horizon = schedule.get("planningHorizon")
    if not isinstance(horizon, dict) or not ({"start", "end"} & set(horizon)):
        raise NotJudged(f"Schedule {schedule.get('id')} has no planningHorizon start or end to judge")
    return [p for key in ("start", "end") if key in horizon
            and (p := uktime.local_problem(horizon.get(key), f"Schedule.planningHorizon.{key}"))]


def schedule_type(schedule: dict[str, Any]) -> list[str]:
    """APT-SLOT-022 (#912): Schedule.serviceCategory.text carries the schedule type."""
    text = (schedule.get("serviceCategory") or {}).get("text") if isinstance(schedule.get("serviceCategory"),
                                                                            dict) else None
    if not (isinstance(text, str) and text.strip()):
        return [f"Schedule {schedule.get('id')} has no serviceCategory.text (the schedule type, #912)"]
    return []


def practitioner_role(schedule: dict[str, Any]) -> list[str]:
    """APT-SLOT-024: one PractitionerRole-1 extension with a GPConnect-PractitionerRole-1 code."""
    found = [e for e in schedule.get("extension") or []
             if isinstance(e, dict) and e.get("url") == PRACTITIONER_ROLE_EXT]
    if len(found) != 1:
        return [f"Schedule {schedule.get('id')} has {len(found)} practitionerRole extensions, expected 1"]
    concept = found[0].get("valueCodeableConcept")
    codings = [c for c in (concept.get("coding") if isinstance(concept, dict) else None) or [] if isinstance(c, dict)]
    if not any(c.get("system") == SDS_JOB_ROLE_SYSTEM and c.get("code") in PRACTITIONER_ROLES for c in codings):
        got = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "no coding"
        return [f"Schedule {schedule.get('id')} practitionerRole ({got}) is not from GPConnect-PractitionerRole-1"]
    return []


def schedule_location(schedule: dict[str, Any]) -> list[str]:
    """APT-SAM-006: every Schedule names the Location where its appointments take place."""
    if not actor_ids(schedule, "Location"):
        return [f"Schedule {schedule.get('id')} has no Location actor"]
    return []


# -- searchset rules -------------------------------------------------------------------------------

def _slots(bundle: Any) -> list[dict[str, Any]]:
    slots = entries(bundle, "Slot")
    if not slots:
        raise NotJudged("the searchset holds no Slot")
    return slots


def within(start: dt.datetime, end: dt.datetime, shown: str | None = None) -> Rule:
    """APT-SLOT-013: every returned Slot lies wholly inside [start, end] (`shown`: the range as asked)."""
    shown = shown or f"{uktime.format_local(start)} to {uktime.format_local(end)}"

    def rule(bundle: dict[str, Any]) -> list[str]:
        out = []
        for slot in _slots(bundle):
            s, e = uktime.parse_instant(slot.get("start")), uktime.parse_instant(slot.get("end"))
            if s is None or e is None:
                out.append(f"Slot {slot.get('id')} has no readable start and end")
            elif s < start or e > end:
                out.append(f"Slot {slot.get('id')} ({slot.get('start')} to {slot.get('end')}) is not wholly inside "
                           f"the range asked ({shown})")
        return out

    rule.__doc__ = f"every returned Slot lies wholly inside the range asked ({shown})"
    return rule


def schedules_included(bundle: dict[str, Any]) -> list[str]:
    """APT-SLOT-015: the Schedule of every returned Slot is in the bundle."""
    wanted = {sid for slot in _slots(bundle) if (sid := _ref_id(slot.get("schedule"), "Schedule"))}
    if not wanted:
        raise NotJudged("no returned Slot references a Schedule")
    have = _ids(entries(bundle, "Schedule"))
    return [f"Schedule/{sid} (of a returned Slot) is not included" for sid in sorted(wanted - have)]


def actors_included(kind: str) -> Rule:
    """APT-SLOT-016/017: each Practitioner / Location a returned Schedule names is included."""

    def rule(bundle: dict[str, Any]) -> list[str]:
        _slots(bundle)
        wanted = sorted({i for s in entries(bundle, "Schedule") for i in actor_ids(s, kind)})
        if not wanted:
            raise NotJudged(f"no returned Schedule names a {kind} actor")
        have = _ids(entries(bundle, kind))
        return [f"{kind}/{i} (an actor of a returned Schedule) is not included" for i in wanted if i not in have]

    rule.__doc__ = f"each {kind} a returned Schedule names is included"
    return rule


def locations_managed(bundle: dict[str, Any]) -> list[str]:
    """APT-SLOT-017: every included Location names its managing Organization."""
    locations = entries(bundle, "Location")
    if not locations:
        raise NotJudged("the searchset includes no Location")
    return [f"Location {loc.get('id')} has no managingOrganization" for loc in locations
            if not _ref_id(loc.get("managingOrganization"), "Organization")]


def organisation_included(bundle: dict[str, Any]) -> list[str]:
    """APT-SLOT-018: when slots come back, so does the Organization managing their Locations."""
    _slots(bundle)
    orgs = _ids(entries(bundle, "Organization"))
    if not orgs:
        return ["free slots were returned without their Organization"]
    wanted = {i for loc in entries(bundle, "Location") if (i := _ref_id(loc.get("managingOrganization"),
                                                                         "Organization"))}
    return [f"Organization/{i} (managing an included Location) is not included" for i in sorted(wanted - orgs)]


def only_linked(requested: Iterable[str]) -> Rule:
    """APT-SLOT-019: only Schedules of returned Slots, and the actors asked for and linked to them."""
    asked = {RECURSE[r] for r in requested if r in RECURSE}

    def rule(bundle: dict[str, Any]) -> list[str]:
        out: list[str] = []
        slots, schedules = _slots(bundle), entries(bundle, "Schedule")
        linked = {"Schedule": {i for s in slots if (i := _ref_id(s.get("schedule"), "Schedule"))},
                  "Practitioner": {i for s in schedules for i in actor_ids(s, "Practitioner")},
                  "Location": {i for s in schedules for i in actor_ids(s, "Location")}}
        locations = entries(bundle, "Location")
        linked["Organization"] = {i for loc in locations if (i := _ref_id(loc.get("managingOrganization"),
                                                                          "Organization"))}
        for res in entries(bundle):
            kind, rid = res.get("resourceType"), res.get("id")
            if kind == "Slot":
                continue
            if kind not in linked:
                out.append(f"{kind}/{rid} does not belong in a free-slot search")
            elif kind in ("Practitioner", "Location") and kind not in asked:
                out.append(f"{kind}/{rid} is returned although _include:recurse did not ask for {kind}")
            elif kind == "Organization" and not locations:
                continue  # without Locations in the bundle its link cannot be followed (APT-SLOT-018)
            elif rid not in linked[kind]:
                out.append(f"{kind}/{rid} is not linked to any returned Slot")
        return out

    rule.__doc__ = "the searchset holds only the returned Slots and what is linked to them, of the types asked for"
    return rule


def location_details(bundle: dict[str, Any]) -> list[str]:
    """APT-SAM-006: the Locations of returned Schedules carry a name and an address."""
    out = []
    wanted = {i for s in entries(bundle, "Schedule") for i in actor_ids(s, "Location")}
    judged = [loc for loc in entries(bundle, "Location") if loc.get("id") in wanted]
    if not judged:
        raise NotJudged("the searchset includes no Location that a returned Schedule names")
    for loc in judged:
        if not loc.get("name"):
            out.append(f"Location {loc.get('id')} has no name")
        if not loc.get("address"):
            out.append(f"Location {loc.get('id')} has no address")
    return out


def within_booking_window(days: int, now: dt.datetime) -> Rule:
    """APT-SAM-004: no offered slot starts after the practice's booking window."""
    limit = now + dt.timedelta(days=days)

    def rule(bundle: dict[str, Any]) -> list[str]:
        out = []
        for slot in _slots(bundle):
            s = uktime.parse_instant(slot.get("start"))
            if s is not None and s > limit:
                out.append(f"Slot {slot.get('id')} starts {slot.get('start')}, after the {days}-day booking window "
                           f"(ends {uktime.format_local(limit)})")
        return out

    rule.__doc__ = f"no offered slot starts after the {days}-day booking window"
    return rule


# -- the identity of a search: a 200 searchset about the range asked --------------------------------

def search_bounds(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime] | None:
    """The instants a search's start=ge... and end=le... stand for, or None when they are not readable.

    A date-only start is the start of that day; a date-only end includes that whole day (reading
    SLOT-BOUNDS); a date-time bound is that instant.
    """
    def bound(raw: str | None, prefix: str, is_end: bool) -> dt.datetime | None:
        if not raw or not raw.startswith(prefix):
            return None
        value = raw[len(prefix):]
        if uktime.DATE.match(value):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return None
            return uktime.day_start(day + dt.timedelta(days=1) if is_end else day)
        return uktime.parse_instant(value) if uktime.LOCAL_DATETIME.match(value) else None

    s, e = bound(start, "ge", False), bound(end, "le", True)
    return (s, e) if s is not None and e is not None else None


def _searchset(ex: Exchange) -> str | None:
    body = body_as_json(ex)
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return f"the body is not a FHIR Bundle ({ex.describe()})"
    return None


SEARCHSET = Guard("a FHIR Bundle", _searchset)


def answered(requirement: str = "APT-SLOT-012") -> Check:
    """The search was answered 200 with a Bundle of type searchset (JSON or XML)."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        st = ex.response.status
        if st != 200:
            return [f"the search was answered HTTP {st}, not 200 with a searchset"]
        body = body_as_json(ex)
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            what = f"a {body.get('resourceType')}" if isinstance(body, dict) and body.get("resourceType") else \
                "no FHIR resource"
            return [f"the search was answered HTTP 200 with {what}, not a searchset Bundle"]
        if body.get("type") != "searchset":
            return [f"the search was answered with a Bundle of type {body.get('type') or 'none'}, not searchset"]
        return []

    return Check(requirement, rule, "the search was answered 200 with a searchset Bundle")


def in_range(start: str | None, end: str | None, requirement: str = "APT-SLOT-013", *,
             need_slots: bool = False) -> Check:
    """Identity of a search: every returned Slot lies inside the range asked (start=ge..., end=le...).

    As a precondition (`need_slots=False`) an empty searchset is about the range too; a test of the
    range rule itself passes `need_slots=True`, so an empty answer judges nothing.
    """
    bounds = search_bounds(start, end)
    shown = f"{start} to {end}"

    def rule(ex: Exchange) -> list[str]:
        if bounds is None:
            raise NotJudged(f"the search asked for no readable range ({shown})")
        body = body_as_json(ex)
        if not entries(body, "Slot") and not need_slots:
            return []
        return within(*bounds, shown=shown)(body)

    return Check(requirement, rule, f"every returned Slot lies inside the range asked ({shown})",
                 needs=(SEARCHSET,))
