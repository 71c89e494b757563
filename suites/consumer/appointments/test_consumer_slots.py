"""Consumer: searching for free slots (every search of the Appointment Management journey)."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_booking as b
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import APPOINTMENTS


def searches(consumer):
    consumer.calls(APPOINTMENTS, "search-slots", "slot.search")  # the step asking for 28 days must have searched
    return consumer.scenario_calls(APPOINTMENTS, "slot.search")


def _judge(consumer, verify, check):
    for c in searches(consumer):
        verify(c, check)


@pytest.mark.title("start is sent once with ge and end once with le")
@pytest.mark.requirement("APT-SLOT-001")
def test_search_prefixes(consumer, verify):
    _judge(consumer, verify, per_call(b.search_prefixes, "APT-SLOT-001"))


@pytest.mark.title("start and end are dates or UK local date-times with their offset")
@pytest.mark.requirement("APT-SLOT-002")
def test_search_dates(consumer, verify):
    _judge(consumer, verify, per_call(b.search_dates, "APT-SLOT-002"))


@pytest.mark.title("Every search sends status=free and _include=Slot:schedule")
@pytest.mark.requirement("APT-SLOT-003")
def test_search_mandatory_parameters(consumer, verify):
    _judge(consumer, verify, per_call(b.search_mandatory, "APT-SLOT-003"))


@pytest.mark.title("No search spans more than two weeks; longer periods take several searches")
@pytest.mark.requirement("APT-SLOT-004")
def test_search_window(consumer, verify):
    _judge(consumer, verify, per_call(b.search_range, "APT-SLOT-004"))


@pytest.mark.title("Searches send searchFilter with the booking organisation's ODS code and type")
@pytest.mark.requirement("CON-011")
def test_search_filter(consumer, verify):
    calls = searches(consumer)
    ctx = consumer.step(APPOINTMENTS, "search-slots").context
    check = per_call(b.search_filter(ctx["org_ods_code"], ctx.get("org_type") or None), "CON-011")
    for c in calls:
        verify(c, check)


@pytest.mark.title("Searches ask for the practice Organization (_include:recurse=Location:managingOrganization)")
@pytest.mark.requirement("CON-012")
def test_search_includes_organisation(consumer, verify):
    _judge(consumer, verify, per_call(b.organisation_include, "CON-012",
                                      reading="CON-012-NEED: every displaying consumer"))
