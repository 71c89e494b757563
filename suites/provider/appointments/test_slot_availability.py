"""Slot availability management as searches see it: searchFilter matching, booking window, locations.

Each search is a precondition (`diary.searched`): answered 200 with a searchset about the range asked.
Comparisons between searches are made only where the unfiltered search offers slots to compare with.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import slot
from gpc_assure.checks.resources import body_rule, each
from gpc_assure.diary_client import ORG_TYPE_SYSTEM, day, need
from gpc_assure.fhir import profiles, uktime

SPAN = 3  # days per search: the matching rules do not depend on the day


def _ids(diary, label, filters):
    ex = diary.searched(f"ge{day(0)}", f"le{day(SPAN)}", filters=filters, recurse=(), label=label,
                        what=f"the {label}")
    return {s.get("id") for s in slot.entries(ex.json, "Slot")}, ex


@pytest.mark.title("searchFilter matching: each filter only adds slots, and restricted slots need the matching filter")
@pytest.mark.requirement("APT-SAM-003")
def test_search_filter_matching(diary, verify, appointments):
    org_type = appointments.restricted_org_type or appointments.search_filter_org_type or "urgent-care"
    ods = appointments.restricted_ods_code or appointments.search_filter_ods_code
    none, _ = _ids(diary, "search with no searchFilter", [])
    by_type, ex_type = _ids(diary, f"search filtered by organisation type {org_type}",
                            [("searchFilter", f"{ORG_TYPE_SYSTEM}|{org_type}")])
    # A filter only adds slots: judged only when the unfiltered search offers some (two empty answers prove nothing).
    if none:
        verify.that(none <= by_type, "APT-SAM-003", f"{len(none - by_type)} slot(s) offered with no filter are "
                    f"missing when filtering by organisation type {org_type}", exchange=ex_type,
                    held=f"the {len(none)} slots offered with no filter are all offered when filtering by "
                         f"organisation type {org_type}")
    by_ods: set = set()
    ex_ods = None
    if ods:
        by_ods, ex_ods = _ids(diary, f"search filtered by ODS code {ods}",
                              [("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ods}")])
        both, ex_both = _ids(diary, "search filtered by organisation type and ODS code",
                             [("searchFilter", f"{ORG_TYPE_SYSTEM}|{org_type}"),
                              ("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ods}")])
        if none:
            verify.that(none <= by_ods, "APT-SAM-003", f"{len(none - by_ods)} slot(s) offered with no filter are "
                        f"missing when filtering by ODS code {ods}", exchange=ex_ods,
                        held=f"the {len(none)} slots offered with no filter are all offered when filtering by ODS "
                             f"code {ods}")
        if by_type | by_ods:
            verify.that(by_type | by_ods <= both, "APT-SAM-003", f"{len((by_type | by_ods) - both)} slot(s) offered "
                        "to the type alone or the ODS code alone are missing when filtering by both", exchange=ex_both,
                        held="every slot offered to the organisation type alone or the ODS code alone is offered "
                             "when filtering by both")
    if appointments.restricted_org_type:
        verify.that(bool(by_type - none), "APT-SAM-003", f"the target declares free slots restricted to "
                    f"organisation type {org_type}, but filtering by it adds none to the unfiltered search "
                    "(restricted slots offered to everyone, or never offered)", exchange=ex_type,
                    held=f"filtering by organisation type {org_type} adds {len(by_type - none)} restricted slot(s) "
                         "the unfiltered search does not offer")
    if appointments.restricted_ods_code and ex_ods is not None:
        verify.that(bool(by_ods - none), "APT-SAM-003", f"the target declares free slots restricted to ODS code "
                    f"{ods}, but filtering by it adds none to the unfiltered search", exchange=ex_ods,
                    held=f"filtering by ODS code {ods} adds {len(by_ods - none)} restricted slot(s) the unfiltered "
                         "search does not offer")
    if not none and not appointments.restricted_org_type and not appointments.restricted_ods_code:
        verify.stop(f"the target offers no unrestricted free slot from {day(0)} to {day(SPAN)} and declares no "
                    "restricted ones, so there is nothing for a filter to add or keep")


@pytest.mark.title("No slot offered starts after the practice's booking window")
@pytest.mark.requirement("APT-SAM-004")
def test_booking_window(diary, verify, appointments):
    window = need(appointments.booking_window_days, "booking_window_days")
    ex = diary.searched(f"ge{day(max(window - 1, 0))}", f"le{day(window + 6)}", label="search past the booking window",
                        what="the search past the booking window")
    verify(ex, body_rule(slot.within_booking_window(window, uktime.now()), "APT-SAM-004"))


@pytest.mark.title("Every Schedule names its Location, which has a name and an address")
@pytest.mark.requirement("APT-SAM-006")
def test_schedules_name_their_location(diary, verify):
    ex = diary.searched(f"ge{day(0)}", f"le{day(SPAN)}", recurse=("Schedule:actor:Location",))
    verify(ex, each("Schedule", slot.schedule_location, "APT-SAM-006"),
           body_rule(slot.location_details, "APT-SAM-006"))
