"""User Permissions: the first GET enables online access with the practice's permissions; later GETs keep them.

The first-GET patients are used up by a run: once online access is on, a provider's next run sees
an existing online user. Their tests record that as left behind, and a target must offer fresh
new_user and new_user_at_risk patients (or reset them) before the next run.

Every answer is compared with what the target declares (the practice's defaults or at-risk
permissions, or the levels an online patient holds), never only with another answer.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.outcomes import not_applicable
from gpc_assure.pfs import levels as lv
from gpc_assure.plugins.permissions import require


def _levels(ex) -> dict[str, str]:
    return {lv.KEYS[t]: v for t in lv.TARGETS["legacy"] if (v := lv.level_of(ex.json, t)) is not None}


@pytest.mark.title("The first GET enables online access with the practice defaults, or the at-risk permissions")
@pytest.mark.requirement("PFS-UP-035", "PFS-UP-036")
@pytest.mark.creates_data
def test_first_get_applies_practice_permissions(pfs, permissions, verify, left_behind):
    practice = permissions.practice()
    version = permissions.version
    for role, declared in (("new_user", practice.defaults), ("new_user_at_risk", practice.at_risk)):
        expected = declared.known()
        if not expected:
            continue
        if role == "new_user" and practice.accelerated_access:
            expected.pop("current", None)  # accelerated access decides it: PFS-UP-037
        patient = permissions.patient(role)
        first = pfs.get(patient, label=f"first GET ({role})")
        left_behind(f"online access enabled for the {role} patient (their first GET)")
        # A GET for a registered, verified patient that is not answered 200 with a JSON object is PFS-UP-001's
        # finding (that is what it is about); this requirement is judged on the levels the answer holds.
        require(verify, first, up.permissions_answer(), what=f"the first GET ({role})")
        found = verify(first, up.levels_are(expected, version, "PFS-UP-035",
                                            "the first GET gives the practice's permissions for the patient",
                                            reading="UP-FIRST-GET", lead=f"{role}: "))
        if not all(j.met for j in found):
            continue
        # The second GET must keep what the first applied: the practice's levels (and the current level
        # accelerated access set), not anything re-applied.
        kept = {**_levels(first), **expected}
        again = pfs.get(patient, label=f"second GET ({role})")
        require(verify, again, up.permissions_answer(), what=f"the second GET ({role})")
        verify(again, up.levels_are(kept, version, "PFS-UP-036", "a later GET keeps the permissions online "
                                    "access started with", lead=f"{role}, second GET: "))


@pytest.mark.title("A patient with online access gets the permissions they hold, not the defaults")
@pytest.mark.requirement("PFS-UP-036")
def test_existing_permissions_kept(pfs, permissions, verify):
    expected = permissions.expected("online").known()
    patient = permissions.patient("online")
    for n in (1, 2):
        ex = pfs.get(patient, label=f"GET {n}")
        require(verify, ex, up.permissions_answer(), what=f"GET {n}")
        verify(ex, up.own_permissions(expected, permissions.version))


@pytest.mark.title("With accelerated access, a new online user's current record level is full")
@pytest.mark.requirement("PFS-UP-037")
@pytest.mark.creates_data
def test_accelerated_access_current_full(pfs, permissions, verify, left_behind):
    practice = permissions.practice()
    if not practice.accelerated_access:
        raise not_applicable("the target declares the practice has no accelerated access")
    ex = pfs.get(permissions.patient("new_user"), label="GET (new_user)")
    left_behind("online access enabled for the new_user patient")
    require(verify, ex, up.permissions_answer(), what="reading the new_user patient's permissions")
    # Whose permissions these are: apart from the current record, a new user's are the practice defaults
    # (PFS-UP-035). Without that, one fixed answer for everybody could pass by luck.
    others = {k: v for k, v in practice.defaults.known().items() if k not in ("current", "historical")}
    if others:
        require(verify, ex, up.levels_are(others, permissions.version, "PFS-UP-035",
                                          "a new user's other permissions are the practice defaults",
                                          lead="new_user: "), what="the new user's permissions")
    expected = {"current": "full"}
    if practice.defaults.historical is not None:
        expected["historical"] = practice.defaults.historical
    verify(ex, up.levels_are(expected, permissions.version, "PFS-UP-037",
                             "the current record level is full and the historical level the practice default"))
