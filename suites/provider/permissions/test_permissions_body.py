"""User Permissions: what the GET body holds — permissions, levels, effectiveDate, maxima, pending requests."""

from __future__ import annotations

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.checks.resources import body_rule
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv


@pytest.mark.title("The body has a medicalRecord and a prescriptions permission")
@pytest.mark.requirement("PFS-UP-020")
@pytest.mark.pfs_version("current")
def test_current_body_permissions(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions("current", "PFS-UP-020"))


@pytest.mark.title("The body has a medicalRecord, an appointments and a prescriptions permission")
@pytest.mark.requirement("PFS-UP-021")
@pytest.mark.pfs_version("legacy")
def test_legacy_body_permissions(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions("legacy", "PFS-UP-021"))


@pytest.mark.title("medicalRecord has a YYYY-MM-DD effectiveDate and a current level")
@pytest.mark.requirement("PFS-UP-022")
def test_medical_record_shape(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions(permissions.version, "PFS-UP-022"))


@pytest.mark.title("effectiveDate is not in the future")
@pytest.mark.requirement("PFS-UP-023")
def test_effective_date_not_future(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")),
           up.status(200, "PFS-UP-023"), body_rule(up.effective_date_not_future, "PFS-UP-023", reading="UP-TODAY"))


@pytest.mark.title("Medical record levels are none, summary, detailed, documents or full")
@pytest.mark.requirement("PFS-UP-025")
def test_medical_record_levels(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions(permissions.version, "PFS-UP-025"))


@pytest.mark.title("The prescriptions level is none, view or manage")
@pytest.mark.requirement("PFS-UP-026")
def test_prescriptions_level(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions(permissions.version, "PFS-UP-026"))


@pytest.mark.title("The appointments level is none, view or manage")
@pytest.mark.requirement("PFS-UP-027")
@pytest.mark.pfs_version("legacy")
def test_appointments_level(pfs, permissions, verify):
    verify(pfs.get(permissions.patient("online")), up.valid_permissions("legacy", "PFS-UP-027"))


@pytest.mark.title("Every permission has an accessLevelMax, not below the level held")
@pytest.mark.requirement("PFS-UP-028")
@pytest.mark.pfs_version("legacy")
def test_access_level_max(pfs, permissions, verify):
    for role in ("online", "requester"):
        verify(pfs.get(permissions.patient(role)), up.valid_permissions("legacy", "PFS-UP-028"),
               body_rule(up.max_not_below_level, "PFS-UP-028", reading="UP-MAX-ORDER"))


@pytest.mark.title("Pending requests in requests[] are complete and valid")
@pytest.mark.requirement("PFS-UP-029")
@pytest.mark.creates_data
def test_pending_requests_valid(pfs, permissions, verify, left_behind):
    """Current version: any entries a provider lists are validated. Legacy: one is filed first if none is listed."""
    version = permissions.version
    role = "requester" if version == "legacy" else "online"
    patient = permissions.patient(role)
    ex = verify.answered(pfs.get(patient))
    verify.must(ex, up.status(200, "PFS-UP-029"))
    if version == "legacy" and not lv.pending(ex.json):
        wanted = choose.increases(ex.json)
        if wanted:
            target, level = wanted[0]
            pfs.post(patient, lv.request_body(target, level), label=f"request {choose.describe(wanted[0])}")
            left_behind(f"a pending request for {choose.describe(wanted[0])} ({role} patient)")
            ex = pfs.get(patient, label="GET after filing a request")
    verify(ex, up.valid_permissions(version, "PFS-UP-029"))
