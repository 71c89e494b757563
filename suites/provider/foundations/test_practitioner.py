"""Find a practitioner (GET /Practitioner?identifier=...) and Read a practitioner (GET /Practitioner/{id}).

The content rules (FND-FPR-002x, FND-FPR-003) hold for both interactions, so each content test
runs once on a Find and once on a Read of the target's test practitioner.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import directory as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import body_json, either
from gpc_assure.checks.resources import body_rule, each, iter_resources, searchset
from gpc_assure.fhir import profiles
from gpc_assure.transport.exchange import Exchange

SDS = profiles.SDS_USER_SYSTEM
# A system no provider recognises (the .invalid top-level domain is reserved, RFC 2606).
UNKNOWN_SYSTEM = "https://gpc-assure.invalid/Id/unknown-identifier-system"

D03 = "D-03: the error page's 400 INVALID_IDENTIFIER_* or the official suite's 422 INVALID_PARAMETER"
DUPLICATE = "DIR-PARAM: 400 BAD_REQUEST (official suite) or 422 INVALID_PARAMETER"


def _find(gpc, sds_user_id: str, label: str = ""):
    return gpc.call("practitioner.find", params=[("identifier", f"{SDS}|{sds_user_id}")], label=label)


def found(verify, ex: Exchange, sds_user_id: str) -> Exchange:
    """Precondition: Find answered a searchset (FND-FPR-001a) holding the practitioner asked for (FND-FPR-001b)."""
    return verify.needs(ex, http.status(200, "FND-FPR-001a"), searchset("FND-FPR-001a", entry_type="Practitioner"),
                        rules.found_by("Practitioner", SDS, sds_user_id, "FND-FPR-001b"),
                        what=f"Find a practitioner for {sds_user_id}")


def read_back(verify, ex: Exchange, pid: str) -> Exchange:
    """Precondition: Read answered the Practitioner itself (FND-RPR-001a), the one asked for (GEN-HTTP-003)."""
    return verify.needs(ex, rules.read_answer("Practitioner", "FND-RPR-001a"), rules.read_id(pid, "Practitioner"),
                        what=f"Read practitioner {pid}")


def _fetch(gpc, verify, test_data, how: str) -> Exchange:
    """The test practitioner, by Find (a searchset) or by Read (the resource), confirmed to be the one asked for."""
    if how == "find":
        sds = test_data.value("practitioner_sds_user_id")
        return found(verify, _find(gpc, sds), sds)
    pid = test_data.value("practitioner_id")
    return read_back(verify, gpc.call("practitioner.read", path_params={"id": pid}), pid)


def _alternatives(requirement: str, *answers: tuple[int, str, str], reading: str):
    """An error check accepting any of the documented (status, Spine code, issue type) answers."""
    return either(*(outcome.operation_outcome(s, c, requirement, issue_code=i, reading=reading)
                    for s, c, i in answers))


HOW = pytest.mark.parametrize("how", ["find", "read"])


# -- Find a practitioner ----------------------------------------------------------------------------

@pytest.mark.title("Find a practitioner by SDS user id answers 200 with a searchset of Practitioners")
@pytest.mark.requirement("FND-FPR-001a")
def test_find_practitioner_returns_searchset(gpc, verify, test_data):
    sds = test_data.value("practitioner_sds_user_id")
    ex = _find(gpc, sds)
    # A searchset about another practitioner (one fixed answer to every search) says nothing about this one.
    if any(rules.identifier_values(res, SDS) for _, res in iter_resources(body_json(ex), "Practitioner")):
        verify.needs(ex, rules.found_by("Practitioner", SDS, sds, "FND-FPR-001b"), what="Find a practitioner")
    verify(ex, http.status(200, "FND-FPR-001a"), searchset("FND-FPR-001a", entry_type="Practitioner"))


@pytest.mark.title("Find a practitioner returns the practitioner with that SDS user id and no other")
@pytest.mark.requirement("FND-FPR-001b")
def test_find_practitioner_filters_on_identifier(gpc, verify, test_data):
    sds = test_data.value("practitioner_sds_user_id")
    ex = _find(gpc, sds)
    verify.needs(ex, http.status(200, "FND-FPR-001a"), searchset("FND-FPR-001a", entry_type="Practitioner"),
                 what="Find a practitioner")
    verify(ex, body_rule(rules.search_filtered("Practitioner", SDS, sds), "FND-FPR-001b"))


@pytest.mark.title("Find a practitioner with an SDS user id the provider does not hold answers an empty searchset")
@pytest.mark.requirement("FND-FPR-001c")
def test_find_unknown_practitioner_is_empty(gpc, verify, test_data):
    # An empty answer means something only from a provider that finds the practitioners it holds.
    sds = test_data.value("practitioner_sds_user_id")
    found(verify, _find(gpc, sds, label="the test practitioner (control)"), sds)
    ex = _find(gpc, test_data.data.unknown_sds_user_id)
    verify(ex, http.status(200, "FND-FPR-001c"),
           searchset("FND-FPR-001c", entry_type="Practitioner", max_entries=0))


# -- what a returned Practitioner holds (Find and Read) -----------------------------------------------

@pytest.mark.title("Practitioner from {how} is a structurally valid STU3 Practitioner")
@pytest.mark.requirement("FND-FPR-002a")
@HOW
def test_practitioner_structure(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Practitioner", rules.structure("Practitioner"), "FND-FPR-002a"))


@pytest.mark.title("Practitioner from {how} carries exactly one SDS user id identifier")
@pytest.mark.requirement("FND-FPR-002b")
@HOW
def test_practitioner_sds_user_id(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Practitioner", rules.practitioner_sds_user_id, "FND-FPR-002b"))


@pytest.mark.title("Practitioner from {how} lists the practitioner's SDS role profile ids as identifiers")
@pytest.mark.requirement("FND-FPR-002c")
@HOW
def test_practitioner_role_profile_ids(gpc, verify, test_data, how):
    expected = test_data.data.practitioner_role_profile_ids
    if not expected:
        test_data.value("practitioner_role_profile_ids")  # ends the test as insufficient-data
    ex = _fetch(gpc, verify, test_data, how)
    # A Find is judged on the practitioner it was asked for; a Read returns that practitioner by id.
    only = test_data.value("practitioner_sds_user_id") if how == "find" else None
    verify(ex, each("Practitioner", rules.practitioner_role_profile_ids(expected, only), "FND-FPR-002c",
                    reading="FPR-ROLE: role profile ids are relevant business identifiers"))


@pytest.mark.title("A practitioner with no role profile has only complete identifiers (Find, then Read)")
@pytest.mark.requirement("FND-FPR-002d")
def test_practitioner_without_role_profile_identifiers(gpc, verify, test_data):
    sds = test_data.value("practitioner_without_role_profile_sds_user_id")
    ex = found(verify, _find(gpc, sds, label="practitioner without a role profile"), sds)
    verify(ex, each("Practitioner", rules.identifiers_complete, "FND-FPR-002d"))
    for pid in rules.ids_in(ex.json, "Practitioner")[:1]:
        read = gpc.call("practitioner.read", path_params={"id": pid}, label="practitioner without a role profile")
        read_back(verify, read, pid)
        verify(read, each("Practitioner", rules.identifiers_complete, "FND-FPR-002d"))


@pytest.mark.title("Practitioner from {how} has exactly one name, with a family name")
@pytest.mark.requirement("FND-FPR-002e")
@HOW
def test_practitioner_name(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Practitioner", rules.practitioner_name, "FND-FPR-002e"))


@pytest.mark.title("Practitioner from {how} gives languages by nhsCommunication, never by communication")
@pytest.mark.requirement("FND-FPR-002f")
@HOW
def test_practitioner_languages(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Practitioner", rules.practitioner_communication, "FND-FPR-002f"))


@pytest.mark.title("Practitioner from {how} omits telecom, address, birthDate, photo and qualification")
@pytest.mark.requirement("FND-FPR-003")
@HOW
def test_practitioner_excluded_elements(gpc, verify, test_data, how):
    ex = _fetch(gpc, verify, test_data, how)
    verify(ex, each("Practitioner", rules.practitioner_excluded_elements, "FND-FPR-003"))


# -- Find a practitioner: the identifier parameter ---------------------------------------------------

@pytest.mark.title("Find a practitioner with an unrecognised identifier system is refused (INVALID_IDENTIFIER_SYSTEM)")
@pytest.mark.requirement("FND-FPR-004a", "ERR-001")
def test_find_practitioner_unknown_system(gpc, verify, test_data):
    sds = test_data.value("practitioner_sds_user_id")
    ex = gpc.call("practitioner.find", params=[("identifier", f"{UNKNOWN_SYSTEM}|{sds}")])
    answers = ((400, "INVALID_IDENTIFIER_SYSTEM", "value"), (422, "INVALID_PARAMETER", "invalid"))
    verify(ex, _alternatives("FND-FPR-004a", *answers, reading=D03), _alternatives("ERR-001", *answers, reading=D03))


@pytest.mark.title("Find a practitioner with an empty identifier system ('|value') is refused")
@pytest.mark.requirement("FND-FPR-004b", "ERR-001")
def test_find_practitioner_blank_system(gpc, verify, test_data):
    sds = test_data.value("practitioner_sds_user_id")
    ex = gpc.call("practitioner.find", params=[("identifier", f"|{sds}")])
    answers = ((422, "INVALID_PARAMETER", "invalid"), (400, "INVALID_IDENTIFIER_SYSTEM", "value"))
    verify(ex, _alternatives("FND-FPR-004b", *answers, reading=D03), _alternatives("ERR-001", *answers, reading=D03))


@pytest.mark.title("Find a practitioner with an empty SDS user id value is refused")
@pytest.mark.requirement("FND-FPR-004c", "ERR-002")
def test_find_practitioner_empty_value(gpc, verify):
    ex = gpc.call("practitioner.find", params=[("identifier", f"{SDS}|")])
    answers = ((422, "INVALID_PARAMETER", "invalid"), (400, "INVALID_IDENTIFIER_VALUE", "value"))
    verify(ex, _alternatives("FND-FPR-004c", *answers, reading=D03), _alternatives("ERR-002", *answers, reading=D03))


@pytest.mark.title("Find a practitioner with the identifier parameter {form} is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("FND-FPR-004d", "ERR-012")
@pytest.mark.parametrize("form", ["absent", "named 'Identifier'"])
def test_find_practitioner_without_identifier(gpc, verify, test_data, form):
    sds = test_data.value("practitioner_sds_user_id")
    params = [] if form == "absent" else [("Identifier", f"{SDS}|{sds}")]
    ex = gpc.call("practitioner.find", params=params)
    reading = "DIR-PARAM: a search without its identifier is a malformed request"
    verify(ex, outcome.operation_outcome(400, "BAD_REQUEST", "FND-FPR-004d", issue_code="invalid", reading=reading),
           outcome.operation_outcome(400, "BAD_REQUEST", "ERR-012", issue_code="invalid", reading=reading))


@pytest.mark.title("Find a practitioner with the identifier parameter given twice is refused")
@pytest.mark.requirement("FND-FPR-004e")
def test_find_practitioner_duplicate_identifier(gpc, verify, test_data):
    sds = test_data.value("practitioner_sds_user_id")
    ex = gpc.call("practitioner.find", params=[("identifier", f"{SDS}|{sds}"), ("identifier", f"{SDS}|{sds}")])
    verify(ex, _alternatives("FND-FPR-004e", (400, "BAD_REQUEST", "invalid"), (422, "INVALID_PARAMETER", "invalid"),
                             reading=DUPLICATE))


# -- Read a practitioner ---------------------------------------------------------------------------

@pytest.mark.title("Read a practitioner answers 200 with the Practitioner resource itself")
@pytest.mark.requirement("FND-RPR-001a")
def test_read_practitioner(gpc, verify, test_data):
    pid = test_data.value("practitioner_id")
    ex = gpc.call("practitioner.read", path_params={"id": pid})
    if rules.holds(ex, "Practitioner"):  # another practitioner than the one asked for says nothing about this read
        verify.needs(ex, rules.read_id(pid, "Practitioner"), what=f"Read practitioner {pid}")
    verify(ex, rules.read_answer("Practitioner", "FND-RPR-001a"))



@pytest.mark.title("Read a practitioner with an unknown id answers 404 PRACTITIONER_NOT_FOUND")
@pytest.mark.requirement("FND-RPR-002", "ERR-005")
def test_read_unknown_practitioner(gpc, verify, test_data):
    ex = gpc.call("practitioner.read", path_params={"id": test_data.data.unknown_logical_id})
    verify(ex, outcome.operation_outcome(404, "PRACTITIONER_NOT_FOUND", "FND-RPR-002", issue_code="not-found"),
           outcome.operation_outcome(404, "PRACTITIONER_NOT_FOUND", "ERR-005", issue_code="not-found"))
