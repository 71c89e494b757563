"""User Permissions: what the GET body holds — permissions, levels, effectiveDate, maxima, pending requests.

Each test reads the patient's permissions through `read_own` first: a body is judged only once it is
known to hold that patient's own permissions (one fixed example for everybody is not).
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.checks.resources import body_rule
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv
from gpc_assure.plugins.permissions import read_own, require


@pytest.mark.title("The body has a medicalRecord and a prescriptions permission")
@pytest.mark.requirement("PFS-UP-020")
@pytest.mark.pfs_version("current")
def test_current_body_permissions(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions("current", "PFS-UP-020"))


@pytest.mark.title("The body has a medicalRecord, an appointments and a prescriptions permission")
@pytest.mark.requirement("PFS-UP-021")
@pytest.mark.pfs_version("legacy")
def test_legacy_body_permissions(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions("legacy", "PFS-UP-021"))


@pytest.mark.title("medicalRecord has a YYYY-MM-DD effectiveDate and a current level")
@pytest.mark.requirement("PFS-UP-022")
def test_medical_record_shape(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions(permissions.version, "PFS-UP-022"))


@pytest.mark.title("effectiveDate is not later than today's date in the UK")
@pytest.mark.requirement("PFS-UP-023")
def test_effective_date_not_future(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"),
           body_rule(up.effective_date_not_future, "PFS-UP-023", reading="UP-TODAY"))


@pytest.mark.title("Medical record levels are none, summary, detailed, documents or full")
@pytest.mark.requirement("PFS-UP-025")
def test_medical_record_levels(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions(permissions.version, "PFS-UP-025"))


@pytest.mark.title("The prescriptions level is none, view or manage")
@pytest.mark.requirement("PFS-UP-026")
def test_prescriptions_level(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions(permissions.version, "PFS-UP-026"))


@pytest.mark.title("The appointments level is none, view or manage")
@pytest.mark.requirement("PFS-UP-027")
@pytest.mark.pfs_version("legacy")
def test_appointments_level(pfs, permissions, verify):
    verify(read_own(pfs, verify, permissions, "online"), up.valid_permissions("legacy", "PFS-UP-027"))


@pytest.mark.title("Every permission has an accessLevelMax, not below the level held")
@pytest.mark.requirement("PFS-UP-028")
@pytest.mark.pfs_version("legacy")
def test_access_level_max(pfs, permissions, verify):
    for role in ("online", "requester"):
        verify(read_own(pfs, verify, permissions, role), up.valid_permissions("legacy", "PFS-UP-028"),
               body_rule(up.max_not_below_level, "PFS-UP-028", reading="UP-MAX-ORDER"))


@pytest.mark.title("Pending requests in requests[] are complete and valid")
@pytest.mark.requirement("PFS-UP-029")
@pytest.mark.creates_data
def test_pending_requests_valid(pfs, permissions, verify, left_behind):
    """Current version: any entries a provider lists are validated. Legacy: one is filed first if none is listed.

    A body that lists no pending request leaves this requirement not judged.
    """
    version = permissions.version
    role = "requester" if version == "legacy" else "online"
    ex = read_own(pfs, verify, permissions, role)
    if version == "legacy" and not lv.pending(ex.json):
        wanted = choose.increases(ex.json)
        if wanted:
            target, level = wanted[0]
            filed = pfs.post(permissions.patient(role), lv.request_body(target, level),
                             label=f"request {choose.describe(wanted[0])}")
            left_behind(f"a pending request for {choose.describe(wanted[0])} ({role} patient)")
            # The request must be accepted for there to be an entry to validate: its refusal is PFS-UP-002's.
            require(verify, filed, up.status(200, up.POST_OK), what="filing a request to validate")
            ex = read_own(pfs, verify, permissions, role, label="GET after filing a request")
    verify(ex, up.valid_permissions(version, "PFS-UP-029"))
