"""The published 1.2.7 Appointment Management response examples pass the suite's own rules.

Where an example departs from the written specification, the departure is listed in DEPARTURES
with its source, and the test requires exactly those problems: a rule that starts or stops flagging
an example shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpc_assure.checks import appointment as appt_rules
from gpc_assure.checks import slot as slot_rules
from gpc_assure.fhir import profile_rules
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.paths import SHARED_SPECS_DIR

EXAMPLES = SHARED_SPECS_DIR / "gpconnect-1.2.7-examples"
ALL_RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location", "Location:managingOrganization")

SLOT_RULES = [slot_rules.slot_free, slot_rules.slot_times, slot_rules.slot_type, slot_rules.delivery_channel,
              slot_rules.no_specialty]
SCHEDULE_RULES = [slot_rules.schedule_times, slot_rules.schedule_type, slot_rules.practitioner_role,
                  slot_rules.schedule_location, slot_rules.no_specialty]
BUNDLE_RULES = [slot_rules.schedules_included, slot_rules.actors_included("Practitioner"),
                slot_rules.actors_included("Location"), slot_rules.locations_managed,
                slot_rules.organisation_included, slot_rules.only_linked(ALL_RECURSE), slot_rules.location_details]
APPOINTMENT_RULES = [appt_rules.times_local, appt_rules.types_of_912]

# (example file, problem text fragment) -> where the departure comes from.
DEPARTURES: dict[tuple[str, str], str] = {
    ("appointments__search_for_free_slots_response_example.json", "entry[4].resource.telecom"):
        "The search example writes Location.telecom as one object; STU3 Location.telecom is a list "
        "(nhsconnect/gpconnect _includes/appointments/search_for_free_slots_response_example.json). "
        "Read a location's own example uses a list.",
    ("appointments__search_for_free_slots_response_example.json", "entry[5].resource.telecom"):
        "The same example writes Organization.telecom as one object; STU3 Organization.telecom is a list.",
    ("appointments__search_for_free_slots_response_example.json", "entry[5].resource.address"):
        "The same example writes Organization.address as one object; STU3 Organization.address is a list "
        "(Location.address, a single Address in STU3, is written correctly).",
    ("appointments__cancel_appt_response_example.json", "versionId unchanged"):
        "The cancel response example repeats the cancel request's versionId (636068818095315079); "
        "APT-CAN-005 and GEN-RES-001 require a new versionId whenever content changes (the official suite "
        "checks it changes). Example text, not a rule.",
}


def _load(name: str) -> Any:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return json.loads(path.read_text("utf-8"))


def _appointments(body: Any) -> list[dict[str, Any]]:
    if body.get("resourceType") == "Appointment":
        return [body]
    return slot_rules.entries(body, "Appointment")


def _problems(name: str) -> list[str]:
    body = _load(name)
    out = [f"structure: {p}" for p in validate_structure(body)]
    if name.startswith("appointments__search"):
        for rule in BUNDLE_RULES:
            out += rule(body)
        for res in slot_rules.entries(body, "Slot"):
            out += [p for rule in SLOT_RULES for p in rule(res)]
        for res in slot_rules.entries(body, "Schedule"):
            out += [p for rule in SCHEDULE_RULES for p in rule(res)]
        for res in slot_rules.entries(body):
            if res.get("resourceType") in ("Slot", "Schedule"):
                out += profile_rules.problems(res, profile_rules.GPC_PROFILE_BY_TYPE[res["resourceType"]])
        return out
    for appt in _appointments(body):
        out += [p for rule in APPOINTMENT_RULES for p in rule(appt)]
        out += profile_rules.declares_profile(appt)
        out += profile_rules.problems(appt, profile_rules.GPC_PROFILE_BY_TYPE["Appointment"])
        if appt_rules.booking_organisation(appt) is None:
            out.append("no booking organisation")
    if name.startswith("appointments__cancel"):
        out += appt_rules.cancelled_with("Free text cancellation reason.")(body)
        request = _load("appointments__cancel_appt_request_example.json")
        if body["meta"]["versionId"] == request["meta"]["versionId"]:
            out.append("versionId unchanged by the cancel")
    if name.startswith("appointments__amend"):
        request = _load("appointments__amend_appt_request_example.json")
        if body["meta"]["versionId"] == request["meta"]["versionId"]:
            out.append("versionId unchanged by the amend")
        out += appt_rules.text_kept(request["description"], request.get("comment"))(body)
    return out


RESPONSES = sorted(p.name for p in Path(EXAMPLES).glob("appointments__*_response_example.json")) if EXAMPLES.exists() \
    else ["appointments__search_for_free_slots_response_example.json"]


@pytest.mark.parametrize("name", RESPONSES)
def test_example_passes_or_departure_is_named(name: str) -> None:
    problems = _problems(name)
    expected = {frag for (example, frag) in DEPARTURES if example == name}
    unexplained = [p for p in problems if not any(frag in p for frag in expected)]
    unused = [frag for frag in expected if not any(frag in p for p in problems)]
    assert not unexplained, f"{name}: problems the suite's rules find that no departure explains: {unexplained}"
    assert not unused, f"{name}: departures listed that the rules no longer find: {unused}"


def test_every_response_example_is_checked() -> None:
    if not EXAMPLES.exists():
        pytest.skip("the shared examples are not available")
    assert len(RESPONSES) == 6, RESPONSES
