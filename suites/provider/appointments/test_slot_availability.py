"""Slot availability management as searches see it: searchFilter matching, booking window, locations."""

from __future__ import annotations

import pytest

from gpc_assure.checks import http, slot
from gpc_assure.checks.resources import body_rule, each, searchset
from gpc_assure.diary_client import ORG_TYPE_SYSTEM, day, need
from gpc_assure.fhir import profiles, uktime

SPAN = 3  # days per search: the matching rules do not depend on the day


def _ids(verify, diary, label, filters):
    ex = diary.search(f"ge{day(0)}", f"le{day(SPAN)}", filters=filters, recurse=(), label=label)
    verify.must(ex, http.status(200, "APT-SAM-003"), searchset("APT-SAM-003"))
    return {s.get("id") for s in slot.entries(ex.json, "Slot")}, ex


@pytest.mark.title("searchFilter matching: each filter only adds slots, and restricted slots need the matching filter")
@pytest.mark.requirement("APT-SAM-003")
def test_search_filter_matching(diary, verify, appointments):
    org_type = appointments.restricted_org_type or appointments.search_filter_org_type or "urgent-care"
    ods = appointments.restricted_ods_code or appointments.search_filter_ods_code
    none, _ = _ids(verify, diary, "search with no searchFilter", [])
    by_type, ex_type = _ids(verify, diary, f"search filtered by organisation type {org_type}",
                            [("searchFilter", f"{ORG_TYPE_SYSTEM}|{org_type}")])
    verify.that(none <= by_type, "APT-SAM-003", f"{len(none - by_type)} slot(s) offered with no filter are missing "
                f"when filtering by organisation type {org_type}", exchange=ex_type)
    if ods:
        by_ods, ex_ods = _ids(verify, diary, f"search filtered by ODS code {ods}",
                              [("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ods}")])
        both, ex_both = _ids(verify, diary, "search filtered by organisation type and ODS code",
                             [("searchFilter", f"{ORG_TYPE_SYSTEM}|{org_type}"),
                              ("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ods}")])
        verify.that(none <= by_ods, "APT-SAM-003", f"{len(none - by_ods)} slot(s) offered with no filter are "
                    f"missing when filtering by ODS code {ods}", exchange=ex_ods)
        verify.that(by_type | by_ods <= both, "APT-SAM-003", f"{len((by_type | by_ods) - both)} slot(s) offered to "
                    "the type alone or the ODS code alone are missing when filtering by both", exchange=ex_both)
    if appointments.restricted_org_type:
        verify.that(bool(by_type - none), "APT-SAM-003", f"the target declares free slots restricted to "
                    f"organisation type {org_type}, but filtering by it adds none to the unfiltered search "
                    "(restricted slots offered to everyone, or never offered)", exchange=ex_type)
    if appointments.restricted_ods_code:
        verify.that(bool(by_ods - none), "APT-SAM-003", f"the target declares free slots restricted to ODS code "
                    f"{ods}, but filtering by it adds none to the unfiltered search", exchange=ex_ods)


@pytest.mark.title("No slot offered starts after the practice's booking window")
@pytest.mark.requirement("APT-SAM-004")
def test_booking_window(diary, verify, appointments):
    window = need(appointments.booking_window_days, "booking_window_days")
    ex = diary.search(f"ge{day(max(window - 1, 0))}", f"le{day(window + 6)}", label="search past the booking window")
    verify(ex, http.status(200, "APT-SAM-004"),
           body_rule(slot.within_booking_window(window, uktime.now()), "APT-SAM-004"))


@pytest.mark.title("Every Schedule names its Location, which has a name and an address")
@pytest.mark.requirement("APT-SAM-006")
def test_schedules_name_their_location(diary, verify):
    ex = diary.search(f"ge{day(0)}", f"le{day(SPAN)}", recurse=("Schedule:actor:Location",))
    verify(ex, http.status(200, "APT-SAM-006"), each("Schedule", slot.schedule_location, "APT-SAM-006"),
           body_rule(slot.location_details, "APT-SAM-006"))
