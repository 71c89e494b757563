"""Find an organisation (GET /Organization?identifier=...) and Read an organisation (GET /Organization/{id}).

The content rules (FND-FO-002x) hold for both interactions, so each content test runs once on a
Find and once on a Read of the target's test organisation.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import directory as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import body_json, either
from gpc_assure.checks.resources import body_rule, each, iter_resources, searchset
from gpc_assure.fhir import profiles
from gpc_assure.transport.exchange import Exchange

ODS = profiles.ODS_ORG_SYSTEM
# A system no provider recognises (the .invalid top-level domain is reserved, RFC 2606).
UNKNOWN_SYSTEM = "https://gpc-assure.invalid/Id/unknown-identifier-system"

D03 = "D-03: the error page's 400 INVALID_IDENTIFIER_* or the official suite's 422 INVALID_PARAMETER"
DUPLICATE = "DIR-PARAM: 400 BAD_REQUEST (official suite) or 422 INVALID_PARAMETER"


def _find(gpc, ods_code: str, label: str = ""):
    return gpc.call("organization.find", params=[("identifier", f"{ODS}|{ods_code}")], label=label)


def found(verify, ex: Exchange, ods_code: str) -> Exchange:
    """Precondition: Find answered a searchset (FND-FO-001a) holding the organisation asked for (FND-FO-001b)."""
    return verify.needs(ex, http.status(200, "FND-FO-001a"), searchset("FND-FO-001a", entry_type="Organization"),
                        rules.found_by("Organization", ODS, ods_code, "FND-FO-001b"),
                        what=f"Find an organisation for {ods_code}")


def read_back(verify, ex: Exchange, oid: str) -> Exchange:
    """Precondition: Read answered the Organization itself (FND-RO-001a), the one asked for (GEN-HTTP-003)."""
    return verify.needs(ex, rules.read_answer("Organization", "FND-RO-001a"), rules.read_id(oid, "Organization"),
                        what=f"Read organisation {oid}")


def _fetch(gpc, verify, test_data, how: str) -> Exchange:
    """The test organisation, by Find (a searchset) or by Read (the resource), confirmed to be the one asked for."""
    if how == "find":
        ods = test_data.value("organisation_ods_code")
        return found(verify, _find(gpc, ods), ods)
    oid = test_data.value("organisation_id")
    return read_back(verify, gpc.call("organization.read", path_params={"id": oid}), oid)


def _alternatives(requirement: str, *answers: tuple[int, str, str], reading: str):
    """An error check accepting any of the documented (status, Spine code, issue type) answers."""
    return either(*(outcome.operation_outcome(s, c, requirement, issue_code=i, reading=reading)
                    for s, c, i in answers))


HOW = pytest.mark.parametrize("how", ["find", "read"])


# -- Find an organisation --------------------------------------------------------------------------

@pytest.mark.title("Find an organisation by ODS code answers 200 with a searchset of Organizations")
@pytest.mark.requirement("FND-FO-001a")
def test_find_organisation_returns_searchset(gpc, verify, test_data):
    ods = test_data.value("organisation_ods_code")
    ex = _find(gpc, ods)
    # A searchset about another organisation (one fixed answer to every search) says nothing about this one.
    if any(rules.identifier_values(res, ODS) for _, res in iter_resources(body_json(ex), "Organization")):
        verify.needs(ex, rules.found_by("Organization", ODS, ods, "FND-FO-001b"), what="Find an organisation")
    verify(ex, http.status(200, "FND-FO-001a"), searchset("FND-FO-001a", entry_type="Organization"))


@pytest.mark.title("Find an organisation returns the organisation with that ODS code and no other")
@pytest.mark.requirement("FND-FO-001b")
def test_find_organisation_filters_on_identifier(gpc, verify, test_data):
    ods = test_data.value("organisation_ods_code")
    ex = _find(gpc, ods)
    verify.needs(ex, http.status(200, "FND-FO-001a"), searchset("FND-FO-001a", entry_type="Organization"),
                 what="Find an organisation")
    verify(ex, body_rule(rules.search_filtered("Organization", ODS, ods), "FND-FO-001b"))


@pytest.mark.title("Find an organisation with an ODS code the provider does not hold answers an empty searchset")
@pytest.mark.requirement("FND-FO-001c")
def test_find_unknown_organisation_is_empty(gpc, verify, test_data):
    # An empty answer means something only from a provider that finds the organisations it holds.
    ods = test_data.value("organisation_ods_code")
    found(verify, _find(gpc, ods, label="the practice's own organisation (control)"), ods)
    ex = _find(gpc, test_data.data.unknown_ods_code)
    verify(ex, http.status(200, "FND-FO-001c"),
           searchset("FND-FO-001c", entry_type="Organization", max_entries=0))


# -- what a returned Organization holds (Find and Read) ----------------------------------------------

@pytest.mark.title("Organization from {how} is a structurally valid STU3 Organization")
@pytest.mark.requirement("FND-FO-002a")
@HOW
def test_organisation_structure(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Organization", rules.structure("Organization"), "FND-FO-002a"))


@pytest.mark.title("Organization from {how} carries exactly one ODS organisation code identifier")
@pytest.mark.requirement("FND-FO-002b")
@HOW
def test_organisation_ods_code(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Organization", rules.organisation_ods_code, "FND-FO-002b"))


@pytest.mark.title("Organization from {how} has a name")
@pytest.mark.requirement("FND-FO-002c")
@HOW
def test_organisation_name(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Organization", rules.organisation_name, "FND-FO-002c"))


@pytest.mark.title("Organization from {how} omits contact and endpoint")
@pytest.mark.requirement("FND-FO-002d")
@HOW
def test_organisation_excluded_elements(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Organization", rules.organisation_excluded_elements, "FND-FO-002d"))


# -- Find an organisation: the identifier parameter --------------------------------------------------

@pytest.mark.title("Find an organisation with an unrecognised identifier system is refused (INVALID_IDENTIFIER_SYSTEM)")
@pytest.mark.requirement("FND-FO-003a", "ERR-001")
def test_find_organisation_unknown_system(gpc, verify, test_data):
    ods = test_data.value("organisation_ods_code")
    ex = gpc.call("organization.find", params=[("identifier", f"{UNKNOWN_SYSTEM}|{ods}")])
    answers = ((400, "INVALID_IDENTIFIER_SYSTEM", "value"), (422, "INVALID_PARAMETER", "invalid"))
    verify(ex, _alternatives("FND-FO-003a", *answers, reading=D03), _alternatives("ERR-001", *answers, reading=D03))


@pytest.mark.title("Find an organisation with an empty identifier system ('|value') is refused")
@pytest.mark.requirement("FND-FO-003b", "ERR-001")
def test_find_organisation_blank_system(gpc, verify, test_data):
    ods = test_data.value("organisation_ods_code")
    ex = gpc.call("organization.find", params=[("identifier", f"|{ods}")])
    answers = ((422, "INVALID_PARAMETER", "invalid"), (400, "INVALID_IDENTIFIER_SYSTEM", "value"))
    verify(ex, _alternatives("FND-FO-003b", *answers, reading=D03), _alternatives("ERR-001", *answers, reading=D03))


@pytest.mark.title("Find an organisation with an empty ODS code value is refused")
@pytest.mark.requirement("FND-FO-003c", "ERR-002")
def test_find_organisation_empty_value(gpc, verify):
    ex = gpc.call("organization.find", params=[("identifier", f"{ODS}|")])
    answers = ((422, "INVALID_PARAMETER", "invalid"), (400, "INVALID_IDENTIFIER_VALUE", "value"))
    verify(ex, _alternatives("FND-FO-003c", *answers, reading=D03), _alternatives("ERR-002", *answers, reading=D03))


@pytest.mark.title("Find an organisation with the identifier parameter {form} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("FND-FO-003d", "ERR-012")
@pytest.mark.parametrize("form", ["absent", "named 'Identifier'"])
def test_find_organisation_without_identifier(gpc, verify, test_data, form):
    ods = test_data.value("organisation_ods_code")
    params = [] if form == "absent" else [("Identifier", f"{ODS}|{ods}")]
    ex = gpc.call("organization.find", params=params)
    reading = "DIR-PARAM: a search without its identifier is a malformed request"
    verify(ex, outcome.operation_outcome(400, "BAD_REQUEST", "FND-FO-003d", issue_code="invalid", reading=reading),
           outcome.operation_outcome(400, "BAD_REQUEST", "ERR-012", issue_code="invalid", reading=reading))


@pytest.mark.title("Find an organisation with the identifier parameter given twice is refused")
@pytest.mark.requirement("FND-FO-003e")
def test_find_organisation_duplicate_identifier(gpc, verify, test_data):
    ods = test_data.value("organisation_ods_code")
    ex = gpc.call("organization.find", params=[("identifier", f"{ODS}|{ods}"), ("identifier", f"{ODS}|{ods}")])
    verify(ex, _alternatives("FND-FO-003e", (400, "BAD_REQUEST", "invalid"), (422, "INVALID_PARAMETER", "invalid"),
                             reading=DUPLICATE))


# -- Read an organisation --------------------------------------------------------------------------

@pytest.mark.title("Read an organisation answers 200 with the Organization resource itself")
@pytest.mark.requirement("FND-RO-001a")
def test_read_organisation(gpc, verify, test_data):
    oid = test_data.value("organisation_id")
    ex = gpc.call("organization.read", path_params={"id": oid})
    if rules.holds(ex, "Organization"):  # another organisation than the one asked for says nothing about this read
        verify.needs(ex, rules.read_id(oid, "Organization"), what=f"Read organisation {oid}")
    verify(ex, rules.read_answer("Organization", "FND-RO-001a"))



@pytest.mark.title("Read an organisation with an unknown id answers 404 ORGANISATION_NOT_FOUND")
@pytest.mark.requirement("FND-RO-002", "ERR-005")
def test_read_unknown_organisation(gpc, verify, test_data):
    ex = gpc.call("organization.read", path_params={"id": test_data.data.unknown_logical_id})
    verify(ex, outcome.operation_outcome(404, "ORGANISATION_NOT_FOUND", "FND-RO-002", issue_code="not-found"),
           outcome.operation_outcome(404, "ORGANISATION_NOT_FOUND", "ERR-005", issue_code="not-found"))
