"""Read a location (GET /Location/{id}): one of the practice's surgeries.

meta, ETag and the read id are judged for this interaction by the common rules (GEN-RES-001a,
GEN-HTTP-002, GEN-HTTP-003); the tests here judge what is particular to a Location.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import directory as rules
from gpc_assure.checks import outcome
from gpc_assure.checks.resources import each, iter_resources
from gpc_assure.fhir import profiles
from gpc_assure.transport.exchange import BodyNotJson


def _read(gpc, test_data):
    return gpc.call("location.read", path_params={"id": test_data.value("location_id")})


@pytest.mark.title("Read a location answers 200 with the Location resource itself")
@pytest.mark.requirement("FND-RL-001a")
def test_read_location(gpc, verify, test_data):
    verify(_read(gpc, test_data), rules.returns("Location", "FND-RL-001a", bare=True))


@pytest.mark.title("Location is a structurally valid STU3 Location (address is one Address)")
@pytest.mark.requirement("FND-RL-001b")
def test_location_structure(gpc, verify, test_data):
    ex = _read(gpc, test_data)
    verify.must(ex, rules.returns("Location", "FND-RL-001b"))
    verify(ex, each("Location", rules.structure("Location"), "FND-RL-001b",
                    reading="RL-ADDRESS: STU3 Location.address is one Address, whatever the example shows"))


@pytest.mark.title("Location has a name")
@pytest.mark.requirement("FND-RL-001c")
def test_location_name(gpc, verify, test_data):
    ex = _read(gpc, test_data)
    verify.must(ex, rules.returns("Location", "FND-RL-001c"))
    verify(ex, each("Location", rules.location_name, "FND-RL-001c"))


@pytest.mark.title("A surgery's managingOrganization refers to the practice's own Organization")
@pytest.mark.requirement("FND-RL-001d", "FND-RL-001e")
def test_location_managed_by_practice(gpc, verify, test_data, target):
    ex = _read(gpc, test_data)
    verify.must(ex, rules.returns("Location", "FND-RL-001d"))
    verify(ex, each("Location", rules.location_managing_organisation, "FND-RL-001d"))
    location = next(res for _, res in iter_resources(ex.json, "Location"))
    org_id = rules.managing_organisation_id(location)
    if org_id is None:
        return  # FND-RL-001d has said why; there is nothing to resolve
    ods = target.provider.ods_code
    practice = gpc.call("organization.find", params=[("identifier", f"{profiles.ODS_ORG_SYSTEM}|{ods}")],
                        label="the practice, by the ODS code of the service root")
    try:
        practice_ids = rules.ids_in(practice.json, "Organization") if practice.status == 200 else []
    except BodyNotJson:
        practice_ids = []
    verify.that(org_id in practice_ids, "FND-RL-001e",
                f"managingOrganization is Organization/{org_id}, but Find an organisation for the practice's ODS "
                f"code {ods} gives {', '.join('Organization/' + i for i in practice_ids) or 'no Organization'}",
                reading="RL-MANAGING: a surgery is managed by the practice", exchange=practice)


@pytest.mark.title("Location omits endpoint")
@pytest.mark.requirement("FND-RL-001f")
def test_location_excluded_elements(gpc, verify, test_data):
    ex = _read(gpc, test_data)
    verify.must(ex, rules.returns("Location", "FND-RL-001f"))
    verify(ex, each("Location", rules.location_excluded_elements, "FND-RL-001f"))


@pytest.mark.title("Read a location with an unknown id answers 404 NO_RECORD_FOUND")
@pytest.mark.requirement("FND-RL-002", "ERR-006")
def test_read_unknown_location(gpc, verify, test_data):
    ex = gpc.call("location.read", path_params={"id": test_data.data.unknown_logical_id})
    reading = "D-09: no Location code is named, so the catch-all NO_RECORD_FOUND"
    verify(ex, outcome.operation_outcome(404, "NO_RECORD_FOUND", "FND-RL-002", issue_code="not-found", reading=reading),
           outcome.operation_outcome(404, "NO_RECORD_FOUND", "ERR-006", issue_code="not-found", reading=reading))
