"""Search for free slots (GET /Slot): parameters, errors, and what the searchset holds.

A search a test reads is a precondition (`diary.searched`): answered 200 with a searchset (APT-SLOT-012)
about the range asked (APT-SLOT-013). Slots from another range leave the test's own rules not judged.
Every 422 must say in diagnostics what was wrong (GEN-ERR-001c).
"""

from __future__ import annotations

import datetime as dt

import pytest

from gpc_assure.checks import outcome, slot
from gpc_assure.checks.core import Check
from gpc_assure.checks.resources import body_rule, each, meta, profile, searchset
from gpc_assure.diary_client import ALL_RECURSE, ORG_TYPE_SYSTEM, at, day, require
from gpc_assure.fhir import profiles, uktime

SHORT = 3  # days searched by tests that check what comes back (bodies stay small)
D06 = "D-06: the page names no code; 400 BAD_REQUEST or 422 INVALID_PARAMETER are accepted"
BAD = ((400, 422), ("BAD_REQUEST", "INVALID_PARAMETER"))


def diagnostics() -> Check:
    """GEN-ERR-001c: a 422 says in diagnostics what was wrong (judged only on a 422)."""
    return outcome.diagnostics("GEN-ERR-001c", statuses=(422,))


@pytest.mark.title("Search accepts status, start, end, searchFilter, _include and all three _include:recurse values")
@pytest.mark.requirement("APT-SLOT-005")
def test_search_accepts_every_parameter(diary, verify):
    diary.accepted(slot.answered("APT-SLOT-005"), f"ge{day(0)}", f"le{day(7)}", recurse=ALL_RECURSE)


@pytest.mark.title("A search range of {days} days is answered")
@pytest.mark.requirement("APT-SLOT-006")
@pytest.mark.parametrize("days", [0, 8, 14])
def test_search_range_allowed(diary, verify, days):
    diary.accepted(slot.answered("APT-SLOT-006"), f"ge{day(0)}", f"le{day(days)}")


@pytest.mark.title("A search range of {days} days is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-SLOT-006", "ERR-010", "GEN-ERR-001c")
@pytest.mark.parametrize("days", [15, 31, -1])
def test_search_range_refused(diary, verify, days):
    verify(diary.search(f"ge{day(0)}", f"le{day(days)}"),
           outcome.operation_outcome(422, "INVALID_PARAMETER", "APT-SLOT-006"),
           outcome.operation_outcome(422, "INVALID_PARAMETER", "ERR-010", issue_code="invalid"), diagnostics())


@pytest.mark.title("A search with status {status} is refused")
@pytest.mark.requirement("APT-SLOT-007", "GEN-ERR-001c")
@pytest.mark.parametrize("status", ["(absent)", "busy", "busy-tentative"])
def test_search_status_must_be_free(diary, verify, status):
    ex = diary.search(f"ge{day(0)}", f"le{day(7)}", status=None if status == "(absent)" else status)
    verify(ex, outcome.operation_outcome(*BAD, "APT-SLOT-007", reading=D06), diagnostics())


@pytest.mark.title("A search without _include=Slot:schedule is refused")
@pytest.mark.requirement("APT-SLOT-008", "GEN-ERR-001c")
def test_search_requires_schedule_include(diary, verify):
    ex = diary.search(f"ge{day(0)}", f"le{day(7)}", include=False)
    verify(ex, outcome.operation_outcome(*BAD, "APT-SLOT-008", reading=D06), diagnostics())


@pytest.mark.title("A search without {missing} is refused")
@pytest.mark.requirement("APT-SLOT-009", "GEN-ERR-001c")
@pytest.mark.parametrize("missing", ["start", "end", "start and end"])
def test_search_requires_start_and_end(diary, verify, missing):
    start = None if "start" in missing else f"ge{day(0)}"
    end = None if "end" in missing else f"le{day(7)}"
    verify(diary.search(start, end),
           outcome.operation_outcome(*BAD, "APT-SLOT-009", reading="SLOT-MISSING: 400 or 422 accepted"), diagnostics())


@pytest.mark.title("A search with start={start!r} end={end!r} is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-SLOT-009", "GEN-ERR-001c")
@pytest.mark.parametrize(("start", "end"), [("", "le+14"), ("ge0", ""), ("gehello", "le+7"), ("ge0", "le2026-13-45")])
def test_search_unreadable_dates(diary, verify, start, end):
    def resolve(v: str) -> str:
        return v[:2] + day(int(v[2:])) if v[2:].lstrip("+-").isdigit() and len(v) > 2 else v

    verify(diary.search(resolve(start), resolve(end)),
           outcome.operation_outcome(422, "INVALID_PARAMETER", "APT-SLOT-009"), diagnostics())


def _prefix_and_format_cases() -> list[tuple[str, str, str]]:
    d0, d7 = day(0), day(7)
    t0 = (uktime.today() + dt.timedelta(days=1)).isoformat()
    return [
        ("prefixes lt/gt", f"lt{d0}", f"gt{d7}"),
        ("prefixes le/ge swapped", f"le{d0}", f"ge{d7}"),
        ("prefixes eq/eq", f"eq{d0}", f"eq{d7}"),
        ("prefix ne", f"ne{d0}", f"le{d7}"),
        ("no prefix", d0, f"le{d7}"),
        ("date-time without offset", f"ge{t0}T09:00:00", f"le{d7}"),
        ("date-time in UTC with Z", f"ge{t0}T09:00:00Z", f"le{d7}"),
        ("partial date yyyy", f"ge{d0[:4]}", f"le{d7}"),
        ("partial date yyyy-mm", f"ge{d0[:7]}", f"le{d7}"),
    ]


@pytest.mark.title("A search with {case} is refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-SLOT-010", "GEN-ERR-001c")
@pytest.mark.parametrize(("case", "start", "end"), _prefix_and_format_cases(), ids=lambda v: str(v)[:30])
def test_search_prefixes_and_formats(diary, verify, case, start, end):
    verify(diary.search(start, end), outcome.operation_outcome(422, "INVALID_PARAMETER", "APT-SLOT-010"),
           diagnostics())


@pytest.mark.title("searchFilter values with an unknown system are ignored")
@pytest.mark.requirement("APT-SLOT-011")
def test_search_ignores_unknown_filter_system(diary, verify):
    start, end = f"ge{day(0)}", f"le{day(7)}"
    plain = diary.searched(start, end, filters=[], what="the search without searchFilter to compare with")
    expected = {s.get("id") for s in slot.entries(plain.json, "Slot")}
    if not expected:
        verify.stop(f"the target offers no free slot from {day(0)} to {day(7)}, so a searchFilter that is ignored "
                    "cannot be told from one that hides every slot")
    odd = diary.accepted(slot.answered("APT-SLOT-011"), start, end, label="search with an unknown searchFilter system",
                         filters=[("searchFilter", "https://gpc-assure.invalid/filter|anything"),
                                  ("searchFilter", "no-system-at-all")])
    got = {s.get("id") for s in slot.entries(odd.json, "Slot")}
    verify.that(got == expected, "APT-SLOT-011",
                f"an unknown searchFilter changed the slots returned: {len(expected - got)} of the {len(expected)} "
                f"free slots left out, {len(got - expected)} added", exchange=odd,
                held=f"with an unknown searchFilter system the same {len(expected)} free slots came back as without "
                     "one")


@pytest.mark.title("A search is answered with a searchset, and a range with no free slot with an empty one")
@pytest.mark.requirement("APT-SLOT-012")
def test_search_searchset_and_empty(diary, verify):
    diary.accepted((slot.answered("APT-SLOT-012"), searchset("APT-SLOT-012")), f"ge{day(0)}", f"le{day(7)}")
    # Two years ago: no practice offers free slots there, and the past is searchable (APT-SLOT-025).
    diary.accepted((slot.answered("APT-SLOT-012"), searchset("APT-SLOT-012", entry_type="Slot", max_entries=0)),
                   f"ge{day(-730)}", f"le{day(-725)}", label="search a range with no free slots")


@pytest.mark.title("Every returned slot is free and lies wholly inside a range that cuts through sessions")
@pytest.mark.requirement("APT-SLOT-013")
def test_search_slots_wholly_inside(diary, verify):
    start, end = "ge" + uktime.format_local(at(1, "09:05")), "le" + uktime.format_local(at(4, "11:55"))
    ex = diary.search(start, end)
    require(verify, ex, slot.answered("APT-SLOT-012"), what="the search whose slots this test places in the range")
    verify.must(ex, slot.in_range(start, end, "APT-SLOT-013", need_slots=True))
    verify(ex, each("Slot", slot.slot_free, "APT-SLOT-013"))


def _searched(diary, **kw):
    return diary.searched(f"ge{day(0)}", f"le{day(SHORT)}", **kw)


@pytest.mark.title("The Schedule of every returned slot is included")
@pytest.mark.requirement("APT-SLOT-015")
def test_search_includes_schedules(diary, verify):
    verify(_searched(diary, recurse=()), body_rule(slot.schedules_included, "APT-SLOT-015"))


def _practitioner_read(practitioner_id: str) -> Check:
    """Read a practitioner answered 200 with the Practitioner asked for (FND-RPR-001a)."""

    def rule(ex):
        body = outcome.body_as_json(ex)
        if ex.response.status != 200 or not isinstance(body, dict) or body.get("resourceType") != "Practitioner":
            return [f"Read a practitioner was answered HTTP {ex.response.status} without the Practitioner"]
        if body.get("id") != practitioner_id:
            return [f"Read of Practitioner {practitioner_id} answered with Practitioner "
                    f"{body.get('id') or 'without an id'}"]
        return []

    return Check("FND-RPR-001a", rule, f"Read a practitioner answered 200 with Practitioner {practitioner_id}")


@pytest.mark.title("Asked for, the Practitioners of the returned Schedules are included as Read gives them")
@pytest.mark.requirement("APT-SLOT-016")
def test_search_includes_practitioners(diary, gpc, verify):
    ex = _searched(diary, recurse=("Schedule:actor:Practitioner",))
    verify(ex, body_rule(slot.actors_included("Practitioner"), "APT-SLOT-016"))
    for prac in slot.entries(ex.json, "Practitioner")[:3]:
        read = gpc.call("practitioner.read", path_params={"id": prac["id"]}, label="read the included practitioner")
        require(verify, read, _practitioner_read(prac["id"]), what="the read of an included practitioner")
        other = read.json
        same = {k: v for k, v in prac.items() if k != "meta"} == {k: v for k, v in other.items() if k != "meta"}
        verify.that(same, "APT-SLOT-016", f"Practitioner/{prac['id']} in the searchset differs from Read a "
                    "practitioner's", exchange=read,
                    held=f"Practitioner/{prac['id']} in the searchset is the one Read a practitioner returns")


@pytest.mark.title("Asked for, the Locations of the returned Schedules are included with their managing organisation")
@pytest.mark.requirement("APT-SLOT-017")
def test_search_includes_locations(diary, verify):
    verify(_searched(diary, recurse=("Schedule:actor:Location",)),
           body_rule(slot.actors_included("Location"), "APT-SLOT-017"),
           body_rule(slot.locations_managed, "APT-SLOT-017"))


@pytest.mark.title("The managing Organization comes back with slots, asked for or not, and asking is accepted")
@pytest.mark.requirement("APT-SLOT-018")
@pytest.mark.parametrize("asked", [False, True], ids=["not-asked", "asked"])
def test_search_returns_organisation(diary, verify, asked):
    recurse = ("Schedule:actor:Location",) + (("Location:managingOrganization",) if asked else ())
    if asked:  # asking is accepted: part of this requirement
        ex = diary.accepted(slot.answered("APT-SLOT-018"), f"ge{day(0)}", f"le{day(SHORT)}", recurse=recurse)
    else:
        ex = _searched(diary, recurse=recurse)
    verify(ex, body_rule(slot.organisation_included, "APT-SLOT-018"))


@pytest.mark.title("Only resources linked to the returned slots, and only the actor types asked for ({asked})")
@pytest.mark.requirement("APT-SLOT-019")
@pytest.mark.parametrize("asked", ["none", "practitioner", "location", "all"])
def test_search_returns_only_linked(diary, verify, asked):
    recurse = {"none": (), "practitioner": ("Schedule:actor:Practitioner",),
               "location": ("Schedule:actor:Location",), "all": ALL_RECURSE}[asked]
    verify(_searched(diary, recurse=recurse), body_rule(slot.only_linked(recurse), "APT-SLOT-019"))


@pytest.mark.title("Slot start/end and Schedule planningHorizon are UK local date-times with the right offset")
@pytest.mark.requirement("APT-SLOT-020")
def test_search_times_are_uk_local(diary, verify):
    verify(_searched(diary), each("Slot", slot.slot_times, "APT-SLOT-020"),
           each("Schedule", slot.schedule_times, "APT-SLOT-020"))


@pytest.mark.title("#912: every Slot carries its slot type in serviceType.text")
@pytest.mark.requirement("APT-SLOT-021")
def test_search_slot_type(diary, verify):
    verify(_searched(diary), each("Slot", slot.slot_type, "APT-SLOT-021"))


@pytest.mark.title("#912: every Schedule carries its schedule type in serviceCategory.text")
@pytest.mark.requirement("APT-SLOT-022")
def test_search_schedule_type(diary, verify):
    verify(_searched(diary),
           each("Schedule", slot.schedule_type, "APT-SLOT-022", reading="SCHEDULE-TYPE: expected on every Schedule"))


@pytest.mark.title("Schedule and Slot leave specialty out")
@pytest.mark.requirement("APT-SLOT-023")
def test_search_no_specialty(diary, verify):
    verify(_searched(diary), each("Slot", slot.no_specialty, "APT-SLOT-023"),
           each("Schedule", slot.no_specialty, "APT-SLOT-023"))


@pytest.mark.title("Slots carry a delivery channel and Schedules a practitioner role from the GP Connect value sets")
@pytest.mark.requirement("APT-SLOT-024")
def test_search_channel_and_role(diary, verify):
    verify(_searched(diary), each("Slot", slot.delivery_channel, "APT-SLOT-024"),
           each("Schedule", slot.practitioner_role, "APT-SLOT-024"))


@pytest.mark.title("A search over a past range is answered, not refused")
@pytest.mark.requirement("APT-SLOT-025")
def test_search_past_range_answered(diary, verify):
    diary.accepted(slot.answered("APT-SLOT-025"), f"ge{day(-7)}", f"le{day(-1)}", label="search last week")


@pytest.mark.title("Returned Slots conform to GPConnect-Slot-1 and Schedules to GPConnect-Schedule-1")
@pytest.mark.requirement("APT-PRF-001", "APT-PRF-002")
def test_search_profiles(diary, verify):
    ex = _searched(diary, filters=[
        ("searchFilter", f"{ORG_TYPE_SYSTEM}|{diary.settings.restricted_org_type or 'urgent-care'}"),
        *[f for f in diary.filters() if profiles.ODS_ORG_SYSTEM in f[1]]])
    verify(ex, meta("Slot", profiles.SLOT, "APT-PRF-001"), profile("Slot", "APT-PRF-001"),
           meta("Schedule", profiles.SCHEDULE, "APT-PRF-002"), profile("Schedule", "APT-PRF-002"))
