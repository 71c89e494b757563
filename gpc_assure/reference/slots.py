"""GET /Slot: Search for free slots (APT-SLOT-*, APT-SAM-003/004/006) on the reference diary.

The answer is a searchset of the free slots lying wholly inside [start, end] that the caller's
searchFilter may see and that start within the booking window, followed by their Schedules, the
Practitioners and Locations asked for with `_include:recurse`, and always the Organization that
manages each Location (APT-SLOT-018).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gpc_assure.fhir import profiles, uktime
from gpc_assure.reference import directory
from gpc_assure.reference.diary import ORGANISATION_TYPE_SYSTEM, Diary, Slot, diary_of
from gpc_assure.reference.faults import declare
from gpc_assure.reference.outcomes import ProviderError, bad_request, invalid_parameter, not_found
from gpc_assure.reference.routing import Context, Reply, handles, searchset

DELIVERY_CHANNEL_EXT = profiles.SD + "Extension-GPConnect-DeliveryChannel-2"
PRACTITIONER_ROLE_EXT = profiles.SD + "Extension-GPConnect-PractitionerRole-1"
SDS_JOB_ROLE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
MAX_RANGE_DAYS = 14
INCLUDE_SCHEDULE = "Slot:schedule"
RECURSE_PRACTITIONER = "Schedule:actor:Practitioner"
RECURSE_LOCATION = "Schedule:actor:Location"
RECURSE_ORGANISATION = "Location:managingOrganization"

SEARCH_ACCEPTS_LONG_RANGE = declare(
    "slot-search-accepts-long-range", ["APT-SLOT-006", "ERR-010"], "appointments",
    "a search range longer than 14 days (or ending before it starts) is answered instead of refused")
SEARCH_STATUS_NOT_CHECKED = declare(
    "slot-search-status-not-checked", ["APT-SLOT-007"], "appointments",
    "a search without status, or with a status other than free, is answered as if status=free")
SEARCH_INCLUDE_OPTIONAL = declare(
    "slot-search-include-optional", ["APT-SLOT-008"], "appointments",
    "a search without _include=Slot:schedule is answered instead of refused")
SEARCH_DATES_DEFAULTED = declare(
    "slot-search-invalid-date-defaults", ["APT-SLOT-009"], "appointments",
    "a missing, empty or unreadable start or end is replaced by today / today + 14 days")
SEARCH_LOOSE_DATES = declare(
    "slot-search-accepts-loose-dates", ["APT-SLOT-010"], "appointments",
    "start/end with any prefix, without an offset, with Z, or partial (yyyy, yyyy-mm) are accepted")
SEARCH_REJECTS_UNKNOWN_FILTER = declare(
    "slot-search-rejects-unknown-filter", ["APT-SLOT-011"], "appointments",
    "a searchFilter with a system the provider does not know is refused with 422 instead of ignored")
SEARCH_REJECTS_ORG_INCLUDE = declare(
    "slot-search-rejects-managing-org-include", ["APT-SLOT-005", "APT-SLOT-018"], "appointments",
    "_include:recurse=Location:managingOrganization is refused with 400 BAD_REQUEST")
SEARCH_EMPTY_NOT_FOUND = declare(
    "slot-search-empty-not-found", ["APT-SLOT-012"], "appointments",
    "a search that finds no free slot answers 404 NO_RECORD_FOUND instead of an empty searchset")
FREE_SLOTS_OUTSIDE_WINDOW = declare(
    "free-slots-outside-window", ["APT-SLOT-013"], "appointments",
    "slots that only overlap the requested range (start before start or end after end) are returned")
SEARCH_END_EXCLUSIVE = declare(
    "slot-search-end-exclusive", ["APT-SLOT-013"], "appointments",
    "a slot ending exactly at the end of the range is left out (end compared with < instead of <=)")
SCHEDULES_PARTLY_INCLUDED = declare(
    "slot-schedules-partly-included", ["APT-SLOT-015"], "appointments",
    "only the Schedule of the first returned slot is included")
PRACTITIONER_NOT_INCLUDED = declare(
    "slot-practitioner-not-included", ["APT-SLOT-016"], "appointments",
    "_include:recurse=Schedule:actor:Practitioner is ignored: no Practitioner is returned")
LOCATION_NO_MANAGING_ORG = declare(
    "slot-location-missing-managing-org", ["APT-SLOT-017"], "appointments",
    "Locations included in a slot search have no managingOrganization")
ORGANISATION_ONLY_ON_REQUEST = declare(
    "slot-organisation-only-on-request", ["APT-SLOT-018"], "appointments",
    "the Organization is returned only when _include:recurse=Location:managingOrganization is sent")
RETURNS_UNLINKED = declare(
    "slot-search-returns-unlinked-resources", ["APT-SLOT-019"], "appointments",
    "every practitioner of the practice is returned, linked to the slots or not, requested or not")
SLOT_TIMES_UTC = declare(
    "slot-times-in-utc", ["APT-SLOT-020"], "appointments",
    "Slot.start and Slot.end are written in UTC with Z instead of UK local time with an offset")
SLOT_TYPE_MISSING = declare(
    "slot-type-missing", ["APT-SLOT-021"], "appointments",
    "#912: Slot.serviceType (the practice's slot type) is not populated")
SCHEDULE_TYPE_MISSING = declare(
    "schedule-type-missing", ["APT-SLOT-022"], "appointments",
    "#912: Schedule.serviceCategory (the schedule type) is not populated")
SCHEDULE_SPECIALTY = declare(
    "schedule-specialty-populated", ["APT-SLOT-023"], "appointments",
    "Schedule.specialty is populated (GP Connect leaves it out of Schedule and Slot)")
SLOT_NO_DELIVERY_CHANNEL = declare(
    "slot-delivery-channel-missing", ["APT-SLOT-024"], "appointments",
    "Slots carry no Extension-GPConnect-DeliveryChannel-2")
SEARCH_422_NO_DIAGNOSTICS = declare(
    "slot-search-422-without-diagnostics", ["GEN-ERR-001c"], "appointments",
    "every 422 from Search for free slots carries an OperationOutcome without diagnostics")
SEARCH_REJECTS_PAST = declare(
    "slot-search-rejects-past-range", ["APT-SLOT-025"], "appointments",
    "a search for a range in the past is refused with 422 instead of answered")
RESTRICTIONS_IGNORED = declare(
    "slot-restrictions-ignored", ["APT-SAM-003"], "appointments",
    "slots restricted to an organisation type or ODS code are returned to every search")
FILTER_ODS_IGNORED = declare(
    "slot-search-filter-ods-ignored", ["APT-SAM-003"], "appointments",
    "the ODS code in searchFilter is ignored, so slots restricted to that ODS code are never returned")
BEYOND_BOOKING_WINDOW = declare(
    "slots-beyond-booking-window", ["APT-SAM-004"], "appointments",
    "slots starting after the practice's booking window are offered")
SCHEDULE_WITHOUT_LOCATION = declare(
    "schedule-without-location", ["APT-SAM-006"], "appointments",
    "Schedule.actor names only the practitioner, not the Location where the appointment takes place")
SLOT_SERVICE_CATEGORY = declare(
    "slot-service-category-populated", ["APT-PRF-001"], "appointments",
    "Slots carry serviceCategory, which GPConnect-Slot-1 prohibits (0..0)")
SCHEDULE_SERVICE_TYPE = declare(
    "schedule-service-type-populated", ["APT-PRF-002"], "appointments",
    "Schedules carry serviceType, which GPConnect-Schedule-1 prohibits (0..0)")


# -- parameters ----------------------------------------------------------------------------------

def _date_bound(raw: str, prefix: str, name: str, loose: bool) -> tuple[dt.datetime, dt.date]:
    """(the instant the bound stands for, the calendar day it names) for a start or end parameter."""
    if len(raw) < 2 or not raw[:2].isalpha():
        raise invalid_parameter(f"{name} must have the prefix {prefix} (was {raw!r})")
    got_prefix, value = raw[:2], raw[2:]
    if got_prefix != prefix and not loose:
        raise invalid_parameter(f"{name} must have the prefix {prefix} (was {got_prefix!r})")
    end = name == "end"
    try:
        if uktime.DATE.match(value):
            day = dt.date.fromisoformat(value)
            return uktime.day_start(day + dt.timedelta(days=1) if end else day), day
        if uktime.LOCAL_DATETIME.match(value):
            moment = dt.datetime.fromisoformat(value)
            return moment, moment.astimezone(uktime.LONDON).date()
    except ValueError:
        raise invalid_parameter(f"{name} {value!r} is not a valid date") from None
    if loose:
        for fmt in ("%Y", "%Y-%m"):
            try:
                day = dt.datetime.strptime(value, fmt).date()
                return uktime.day_start(day), day
            except ValueError:
                pass
        moment = uktime.parse_instant(value)
        if moment is None:
            try:
                moment = dt.datetime.fromisoformat(value).replace(tzinfo=uktime.LONDON)
            except ValueError:
                moment = None
        if moment is not None:
            return moment, moment.astimezone(uktime.LONDON).date()
    raise invalid_parameter(f"{name} {value!r} is not yyyy-mm-dd or yyyy-mm-ddThh:mm:ss+hh:mm "
                            "(UK local time with +00:00 or +01:00)")


def _range(ctx: Context) -> tuple[dt.datetime, dt.datetime]:
    faults = ctx.faults
    bounds: dict[str, tuple[dt.datetime, dt.date]] = {}
    for name, prefix in (("start", "ge"), ("end", "le")):
        values = ctx.params(name)
        if not values and not faults.on(SEARCH_DATES_DEFAULTED):
            raise bad_request(f"the {name} parameter is required")
        if len(values) > 1:
            raise invalid_parameter(f"{name} must be given once (found {len(values)})")
        try:
            if not values:
                raise invalid_parameter("defaulted")
            bounds[name] = _date_bound(values[0], prefix, name, faults.on(SEARCH_LOOSE_DATES))
        except Exception:
            if not faults.on(SEARCH_DATES_DEFAULTED):
                raise
            today = uktime.today()
            day = today if name == "start" else today + dt.timedelta(days=MAX_RANGE_DAYS)
            bounds[name] = (uktime.day_start(day + dt.timedelta(days=1) if name == "end" else day), day)
    (start, start_day), (end, end_day) = bounds["start"], bounds["end"]
    if not faults.on(SEARCH_ACCEPTS_LONG_RANGE):
        if end < start or end_day < start_day:
            raise invalid_parameter("end is before start")
        if (end_day - start_day).days > MAX_RANGE_DAYS:
            raise invalid_parameter(f"the search range is {(end_day - start_day).days} days; at most "
                                    f"{MAX_RANGE_DAYS} are allowed")
    if end_day < uktime.today() and faults.on(SEARCH_REJECTS_PAST):
        raise invalid_parameter("the search range is in the past")
    return start, end


def _filters(ctx: Context) -> tuple[str | None, str | None]:
    """(organisation type, ODS code) from searchFilter; values with unknown systems are ignored."""
    org_type = ods = None
    for value in ctx.params("searchFilter"):
        system, _, code = value.partition("|")
        if system == ORGANISATION_TYPE_SYSTEM:
            org_type = code
        elif system == profiles.ODS_ORG_SYSTEM:
            ods = None if ctx.faults.on(FILTER_ODS_IGNORED) else code
        elif ctx.faults.on(SEARCH_REJECTS_UNKNOWN_FILTER):
            raise invalid_parameter(f"searchFilter system {system!r} is not supported")
    return org_type, ods


# -- rendering -----------------------------------------------------------------------------------

def _when(moment: dt.datetime, utc: bool) -> str:
    if utc:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return uktime.format_local(moment)


def slot_resource(ctx: Context, slot: Slot) -> dict[str, Any]:
    faults = ctx.faults
    res: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot.id,
        "meta": {"versionId": ctx.store.version("Slot", slot.id), "profile": [profiles.SLOT]},
    }
    if not faults.on(SLOT_NO_DELIVERY_CHANNEL):
        res["extension"] = [{"url": DELIVERY_CHANNEL_EXT, "valueCode": slot.channel}]
    if faults.on(SLOT_SERVICE_CATEGORY):
        res["serviceCategory"] = {"text": slot.schedule.schedule_type or "General"}
    if not faults.on(SLOT_TYPE_MISSING):
        res["serviceType"] = [{"text": slot.slot_type}]
    res["schedule"] = {"reference": f"Schedule/{slot.schedule.id}"}
    res["status"] = "free" if slot.free else "busy"
    utc = faults.on(SLOT_TIMES_UTC)
    res["start"] = _when(slot.start, utc)
    res["end"] = _when(slot.end, utc)
    return res


def schedule_resource(ctx: Context, diary: Diary, schedule_id: str) -> dict[str, Any]:
    s = diary.schedules[schedule_id]
    faults = ctx.faults
    res: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": s.id,
        "meta": {"versionId": ctx.store.version("Schedule", s.id), "profile": [profiles.SCHEDULE]},
        "extension": [{"url": PRACTITIONER_ROLE_EXT, "valueCodeableConcept": {
            "coding": [{"system": SDS_JOB_ROLE_SYSTEM, "code": s.role_code, "display": s.role_display}]}}],
    }
    if s.schedule_type and not faults.on(SCHEDULE_TYPE_MISSING):
        res["serviceCategory"] = {"text": s.schedule_type}
    if faults.on(SCHEDULE_SERVICE_TYPE):
        res["serviceType"] = [{"text": s.slot_types[0]}]
    if faults.on(SCHEDULE_SPECIALTY):
        res["specialty"] = [{"text": "General practice"}]
    actors = [] if faults.on(SCHEDULE_WITHOUT_LOCATION) else [{"reference": f"Location/{s.location}"}]
    if s.practitioner:
        actors.append({"reference": f"Practitioner/{s.practitioner}"})
    res["actor"] = actors
    own = [slot for slot in diary.slots.values() if slot.schedule.id == s.id]
    if own:
        res["planningHorizon"] = {"start": uktime.format_local(min(x.start for x in own)),
                                  "end": uktime.format_local(max(x.end for x in own))}
    return res


# -- the handler ---------------------------------------------------------------------------------

def _offered(ctx: Context, diary: Diary, slot: Slot, org_type: str | None, ods: str | None,
             window_end: dt.datetime) -> bool:
    if not slot.free:
        return False
    if slot.start > window_end and not ctx.faults.on(BEYOND_BOOKING_WINDOW):
        return False
    return ctx.faults.on(RESTRICTIONS_IGNORED) or slot.offered_to(org_type, ods)


@handles("slot.search")
def search_free_slots(ctx: Context) -> Reply:
    try:
        return _search_free_slots(ctx)
    except ProviderError as exc:  # SEARCH_422_NO_DIAGNOSTICS: the 422s say nothing of what was wrong
        if exc.status == 422 and ctx.faults.on(SEARCH_422_NO_DIAGNOSTICS):
            raise ProviderError(exc.status, exc.code, exc.issue_code, "") from None
        raise


def _search_free_slots(ctx: Context) -> Reply:
    faults = ctx.faults
    status = ctx.params("status")
    if not status and not faults.on(SEARCH_STATUS_NOT_CHECKED):
        raise bad_request("the status parameter is required (status=free)")
    if status and status != ["free"] and not faults.on(SEARCH_STATUS_NOT_CHECKED):
        raise invalid_parameter(f"status must be 'free' (was {', '.join(status)!r})")
    if INCLUDE_SCHEDULE not in ctx.params("_include") and not faults.on(SEARCH_INCLUDE_OPTIONAL):
        raise bad_request(f"_include={INCLUDE_SCHEDULE} is required")
    recurse = set(ctx.params("_include:recurse"))
    if RECURSE_ORGANISATION in recurse and faults.on(SEARCH_REJECTS_ORG_INCLUDE):
        raise bad_request(f"_include:recurse={RECURSE_ORGANISATION} is not supported")
    start, end = _range(ctx)
    org_type, ods = _filters(ctx)
    diary = diary_of(ctx.store)
    window = diary.book.booking_window_days if diary.book else MAX_RANGE_DAYS
    window_end = uktime.now() + dt.timedelta(days=window)
    with ctx.store.lock:
        if faults.on(FREE_SLOTS_OUTSIDE_WINDOW):
            candidates = diary.slots_overlapping(start, end)
        else:
            candidates = diary.slots_within(start, end)
        if faults.on(SEARCH_END_EXCLUSIVE):
            candidates = [s for s in candidates if s.end < end]
        slots = [s for s in candidates if _offered(ctx, diary, s, org_type, ods, window_end)]
        if not slots and faults.on(SEARCH_EMPTY_NOT_FOUND):
            raise not_found("NO_RECORD_FOUND", "no free slots in the requested range")
        resources = [slot_resource(ctx, s) for s in slots]
        schedule_ids = list(dict.fromkeys(s.schedule.id for s in slots))
        if faults.on(SCHEDULES_PARTLY_INCLUDED):
            schedule_ids = schedule_ids[:1]
        schedules = [schedule_resource(ctx, diary, sid) for sid in schedule_ids]
        resources += schedules
        resources += _actors(ctx, diary, schedules, slots, recurse)
    return Reply(200, searchset(resources))


def _actors(ctx: Context, diary: Diary, schedules: list[dict[str, Any]], slots: list[Slot],
            recurse: set[str]) -> list[dict[str, Any]]:
    """The Practitioners, Locations (when asked for) and Organizations linked to the returned slots."""
    faults, store = ctx.faults, ctx.store
    refs = [a.get("reference", "") for s in schedules for a in s["actor"]]
    practitioner_ids = list(dict.fromkeys(r.split("/", 1)[1] for r in refs if r.startswith("Practitioner/")))
    location_ids = list(dict.fromkeys(r.split("/", 1)[1] for r in refs if r.startswith("Location/")))
    if faults.on(RETURNS_UNLINKED):
        practitioner_ids = list(store.practitioners)
        recurse = recurse | {RECURSE_PRACTITIONER}
    out: list[dict[str, Any]] = []
    if RECURSE_PRACTITIONER in recurse and not faults.on(PRACTITIONER_NOT_INCLUDED):
        out += [directory.practitioner_resource(store, store.practitioners[p], faults) for p in practitioner_ids
                if p in store.practitioners]
    if RECURSE_LOCATION in recurse:
        for lid in location_ids:
            if lid in store.locations:
                loc = directory.location_resource(store, store.locations[lid], faults)
                if faults.on(LOCATION_NO_MANAGING_ORG):
                    loc.pop("managingOrganization", None)
                out.append(loc)
    # APT-SLOT-018: the managing Organization always comes back with slots (1.2.7 known issue).
    if slots and (RECURSE_ORGANISATION in recurse or not faults.on(ORGANISATION_ONLY_ON_REQUEST)):
        org_ids = list(dict.fromkeys(store.locations[s.schedule.location].organisation for s in slots
                                     if s.schedule.location in store.locations))
        out += [directory.organisation_resource(store, store.organisations[o], faults) for o in org_ids
                if o in store.organisations]
    return out
