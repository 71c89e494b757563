"""Read a location (GET /Location/{id}): one of the practice's surgeries.

meta, ETag and the read id are judged for this interaction by the common rules (GEN-RES-001a,
GEN-HTTP-002, GEN-HTTP-003); the tests here judge what is particular to a Location.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import directory as rules
from gpc_assure.checks import http, outcome
from gpc_assure.checks.resources import each, iter_resources, searchset
from gpc_assure.fhir import profiles
from gpc_assure.transport.exchange import Exchange


def _read(gpc, test_data) -> tuple[Exchange, str]:
    lid = test_data.value("location_id")
    return gpc.call("location.read", path_params={"id": lid}), lid


def _location(gpc, verify, test_data) -> Exchange:
    """The test location: the Location itself (else FND-RL-001a is charged), the one asked for (else GEN-HTTP-003)."""
    ex, lid = _read(gpc, test_data)
    return verify.needs(ex, rules.read_answer("Location", "FND-RL-001a"), rules.read_id(lid, "Location"),
                        what=f"Read location {lid}")


@pytest.mark.title("Read a location answers 200 with the Location resource itself")
@pytest.mark.requirement("FND-RL-001a")
def test_read_location(gpc, verify, test_data):
    ex, lid = _read(gpc, test_data)
    if rules.holds(ex, "Location"):  # another location than the one asked for says nothing about this read
        verify.needs(ex, rules.read_id(lid, "Location"), what=f"Read location {lid}")
    verify(ex, rules.read_answer("Location", "FND-RL-001a"))


@pytest.mark.title("Location is a structurally valid STU3 Location (address is one Address)")
@pytest.mark.requirement("FND-RL-001b")
def test_location_structure(gpc, verify, test_data):
    ex = _location(gpc, verify, test_data)
    verify(ex, each("Location", rules.structure("Location"), "FND-RL-001b",
                    reading="RL-ADDRESS: STU3 Location.address is one Address, whatever the example shows"))


@pytest.mark.title("Location has a name")
@pytest.mark.requirement("FND-RL-001c")
def test_location_name(gpc, verify, test_data):
    ex = _location(gpc, verify, test_data)
    verify(ex, each("Location", rules.location_name, "FND-RL-001c"))


@pytest.mark.title("A surgery's managingOrganization refers to the practice's own Organization")
@pytest.mark.requirement("FND-RL-001d", "FND-RL-001e")
def test_location_managed_by_practice(gpc, verify, test_data, target):
    ex = _location(gpc, verify, test_data)
    verify(ex, each("Location", rules.location_managing_organisation, "FND-RL-001d"))
    location = next(res for _, res in iter_resources(ex.json, "Location"))
    org_id = rules.managing_organisation_id(location)
    if org_id is None:
        verify.stop("the Location's managingOrganization names no Organization to resolve", cause="FND-RL-001d")
    ods = target.provider.ods_code
    practice = gpc.call("organization.find", params=[("identifier", f"{profiles.ODS_ORG_SYSTEM}|{ods}")],
                        label="the practice, by the ODS code of the service root")
    verify.needs(practice, http.status(200, "FND-FO-001a"), searchset("FND-FO-001a", entry_type="Organization"),
                 rules.found_by("Organization", profiles.ODS_ORG_SYSTEM, ods, "FND-FO-001b"),
                 what=f"Find the practice's Organization by its ODS code {ods}")
    practice_ids = rules.ids_in(practice.json, "Organization")
    if not practice_ids:
        verify.stop(f"Find an organisation for {ods} gave no Organization with a logical id to compare")
    verify.that(org_id in practice_ids, "FND-RL-001e",
                f"managingOrganization is Organization/{org_id}, but Find an organisation for the practice's ODS "
                f"code {ods} gives {', '.join('Organization/' + i for i in practice_ids)}",
                held=f"managingOrganization is Organization/{org_id}, the Organization Find gives for the practice's "
                     f"ODS code {ods}",
                reading="RL-MANAGING: a surgery is managed by the practice", exchange=practice)


@pytest.mark.title("Location omits endpoint")
@pytest.mark.requirement("FND-RL-001f")
def test_location_excluded_elements(gpc, verify, test_data):
    ex = _location(gpc, verify, test_data)
    verify(ex, each("Location", rules.location_excluded_elements, "FND-RL-001f"))


@pytest.mark.title("Read a location with an unknown id answers 404 NO_RECORD_FOUND")
@pytest.mark.requirement("FND-RL-002", "ERR-006")
def test_read_unknown_location(gpc, verify, test_data):
    ex = gpc.call("location.read", path_params={"id": test_data.data.unknown_logical_id})
    reading = "D-09: no Location code is named, so the catch-all NO_RECORD_FOUND"
    verify(ex, outcome.operation_outcome(404, "NO_RECORD_FOUND", "FND-RL-002", issue_code="not-found", reading=reading),
           outcome.operation_outcome(404, "NO_RECORD_FOUND", "ERR-006", issue_code="not-found", reading=reading))
