"""Every published GP Connect 1.2.7 example passes every check the product has, or its departure from
the written spec is declared in tests/example_departures.toml (and still happens).

Response examples get what a provider's response gets: structure, profile, the GP Connect rules for
each resource type (gpc_assure.fhir.conformance) and the Bundle/meta exchange checks. Request
examples are consumer-side inputs: structure, profile, and meta.profile on every resource sent.
No check is loosened here; a departure is named with the page that says otherwise.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gpc_assure.checks import resources
from gpc_assure.checks.core import Check
from gpc_assure.fhir import conformance, profile_rules
from gpc_assure.fhir import profiles as P
from gpc_assure.paths import SHARED_SPECS_DIR
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse

EXAMPLES_DIR = SHARED_SPECS_DIR / "gpconnect-1.2.7-examples"
DEPARTURES_FILE = Path(__file__).with_name("example_departures.toml")
DEPARTURES: list[dict[str, str]] = tomllib.loads(DEPARTURES_FILE.read_text(encoding="utf-8"))["departure"]


def _meta(resource_type: str) -> tuple[str, Check]:
    return "resources.meta", resources.meta(resource_type, profile_rules.GPC_PROFILE_BY_TYPE[resource_type],
                                            "resources.meta")


def _searchset(entry_type: str | None = None, **kw: Any) -> tuple[str, Check]:
    return "resources.searchset", resources.searchset("resources.searchset", entry_type, **kw)


def _resource(resource_type: str) -> tuple[str, Check]:
    return "resources.resource", resources.resource(resource_type, "resources.resource")


# The exchange checks a provider's response to each interaction gets, by response example.
EXCHANGE_CHECKS: dict[str, list[tuple[str, Check]]] = {
    "foundations__get_capability_statement_response_example.json": [_resource("CapabilityStatement")],
    "foundations__find_patient_response_example.json": [_searchset("Patient"), _meta("Patient")],
    "foundations__read_patient_response_example.json": [_resource("Patient"), _meta("Patient")],
    "foundations__register_patient_response_example.json": [
        _searchset("Patient", min_entries=1, max_entries=1, profile=P.SEARCHSET_BUNDLE), _meta("Patient")],
    "foundations__find_practitioner_response_example.json": [_searchset("Practitioner"), _meta("Practitioner")],
    "foundations__read_practitioner_response_example.json": [_resource("Practitioner"), _meta("Practitioner")],
    "foundations__find_organization_response_example.json": [_searchset("Organization"), _meta("Organization")],
    "foundations__read_organization_response_example.json": [_resource("Organization"), _meta("Organization")],
    "foundations__read_location_response_example.json": [_resource("Location"), _meta("Location")],
    "appointments__search_for_free_slots_response_example.json": [
        _searchset(), *(_meta(t) for t in ("Slot", "Schedule", "Practitioner", "Location", "Organization"))],
    "appointments__book_appt_response_example.json": [_resource("Appointment"), _meta("Appointment")],
    "appointments__read_appt_response_example.json": [_resource("Appointment"), _meta("Appointment")],
    "appointments__amend_appt_response_example.json": [_resource("Appointment"), _meta("Appointment")],
    "appointments__cancel_appt_response_example.json": [_resource("Appointment"), _meta("Appointment")],
    "appointments__retrieve_patients_appts_response_example.json": [_searchset("Appointment"), _meta("Appointment")],
}


def _examples() -> list[Any]:
    if not EXAMPLES_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"the published examples are not at {EXAMPLES_DIR}"))]
    return sorted(p.name for p in EXAMPLES_DIR.glob("*.json"))


def _as_exchange(name: str, raw: bytes) -> Exchange:
    return Exchange(None, RecordedRequest("GET", f"example:{name}", []), RecordedResponse(200, [], raw))


def _sent_profiles(body: Any) -> list[tuple[str, str]]:
    """What a consumer sends names its GP Connect profile in meta.profile, contained resources too."""
    out = []
    for path, res in conformance.each_resource(body):
        for n, held in enumerate([res, *(c for c in res.get("contained") or [] if isinstance(c, dict))]):
            where = ".".join(x for x in (path, f"contained[{n - 1}]" if n else "") if x)
            out.extend(("profile_rules.declares_profile", f"{where}: {p}" if where else p)
                       for p in profile_rules.declares_profile(held))
    return out


def problems(name: str) -> list[tuple[str, str]]:
    raw = (EXAMPLES_DIR / name).read_bytes()
    body = json.loads(raw)
    if name.endswith("_request_example.json"):
        return conformance.body_problems(body, gpc_rules=False) + _sent_profiles(body)
    found = conformance.body_problems(body)
    structural = {p for rule_id, p in found if rule_id == "structure"}
    ex = _as_exchange(name, raw)
    for rule_id, check in EXCHANGE_CHECKS[name]:
        for f in check(ex):
            # resource()/searchset() start with the same STU3 parse: one structural problem, reported once.
            if f.not_met and f.message not in structural:
                found.append((rule_id, f.message + (f" at {f.path}" if f.path else "")))
    return found


def _declares(departure: dict[str, str], found: tuple[str, str]) -> bool:
    rule_id, problem = found
    return departure["rule"] == rule_id and departure["problem"] in problem


def compare(found: list[tuple[str, str]], declared: list[dict[str, str]]) -> list[str]:
    """Problems no departure declares, and departures no problem bears out (empty when they agree)."""
    lines = [f"undeclared: [{r}] {p}" for r, p in found if not any(_declares(d, (r, p)) for d in declared)]
    lines += [f"declared but no longer found: [{d['rule']}] {d['problem']}"
              for d in declared if not any(_declares(d, f) for f in found)]
    return lines


@pytest.mark.parametrize("name", _examples())
def test_example_conforms_or_departs_as_declared(name):
    lines = compare(problems(name), [d for d in DEPARTURES if d["example"] == name])
    assert not lines, f"{name}:\n  " + "\n  ".join(lines) + f"\n(declare departures in {DEPARTURES_FILE.name})"


def test_compare_fails_both_ways():
    declared = [{"example": "x", "rule": "structure", "problem": "address", "what": "w", "source": "s"}]
    assert compare([("structure", "address: not a list")], declared) == []
    assert compare([("structure", "address: not a list"), ("profile:P", "name: 0 found")], declared) == [
        "undeclared: [profile:P] name: 0 found"]
    assert compare([("profile:P", "address: 0 found")], declared) == [
        "undeclared: [profile:P] address: 0 found", "declared but no longer found: [structure] address"]


# The profile-rule readings (tools/build_profile_rules.py READINGS) that the examples themselves need:
# without them these examples would fail their required bindings.
READINGS_USED_BY_EXAMPLES = [
    ("PAT-SYSTEMS", "foundations__read_patient_response_example.json", "CareConnect-NHSNumberVerificationStatus-1"),
    ("PAT-SYSTEMS", "foundations__register_patient_response_example.json", "CareConnect-RegistrationType-1"),
]


@pytest.mark.parametrize("reading, example, code_system", READINGS_USED_BY_EXAMPLES)
def test_readings_are_still_needed_by_the_examples(reading, example, code_system):
    if not EXAMPLES_DIR.is_dir():
        pytest.skip(f"the published examples are not at {EXAMPLES_DIR}")
    aliases = {alias for prof in profile_rules._profiles().values() for alias in _aliases(prof.root, reading)
               if alias.endswith(code_system)}
    assert aliases, f"no rule carries reading {reading} for {code_system}"
    assert any(f'"{a}"' in (EXAMPLES_DIR / example).read_text(encoding="utf-8") for a in aliases)


def _aliases(node: Any, reading: str) -> set[str]:
    out = set()
    binding = node.rule.get("binding") or {}
    if binding.get("reading") == reading:
        out |= set(binding.get("systemAliases") or {})
    for child in [*node.children.values(), *node.slices]:
        out |= _aliases(child, reading)
    return out


def test_every_response_example_gets_its_exchange_checks():
    if not EXAMPLES_DIR.is_dir():
        pytest.skip(f"the published examples are not at {EXAMPLES_DIR}")
    responses = {p.name for p in EXAMPLES_DIR.glob("*_response_example.json")}
    assert set(EXCHANGE_CHECKS) == responses
    requests = {p.name for p in EXAMPLES_DIR.glob("*_request_example.json")}
    assert responses | requests == {p.name for p in EXAMPLES_DIR.glob("*.json")}, "an example is neither"


def test_departures_are_complete_records():
    keys = {"example", "rule", "problem", "what", "source"}
    for d in DEPARTURES:
        assert set(d) == keys and all(str(v).strip() for v in d.values()), d
        if EXAMPLES_DIR.is_dir():
            assert (EXAMPLES_DIR / d["example"]).is_file(), d["example"]
    pairs = [(d["example"], d["rule"], d["problem"]) for d in DEPARTURES]
    assert len(pairs) == len(set(pairs)), "a departure is declared twice"
