"""User Permissions: the first GET enables online access with the practice's permissions; later GETs keep them.

The first-GET patients are used up by a run: once online access is on, a provider's next run sees
an existing online user. Their tests record that as left behind, and a target must offer fresh
new_user and new_user_at_risk patients (or reset them) before the next run.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.outcomes import not_applicable
from gpc_assure.pfs import levels as lv


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
        first = verify.answered(pfs.get(patient, label=f"first GET ({role})"))
        left_behind(f"online access enabled for the {role} patient (their first GET)")
        verify(first, up.status(200, "PFS-UP-035", reading="UP-FIRST-GET"))
        if first.status != 200:
            continue
        for problem in up.levels_differ(first.json, expected, version):
            verify.finding("PFS-UP-035", f"{role}: {problem}", reading="UP-FIRST-GET", exchange=first)
        again = verify.answered(pfs.get(patient, label=f"second GET ({role})"))
        verify(again, up.status(200, "PFS-UP-036"))
        if again.status == 200:
            for problem in up.levels_differ(again.json, _levels(first), version):
                verify.finding("PFS-UP-036", f"{role}, second GET: {problem}", exchange=again)


@pytest.mark.title("A patient with online access gets the permissions they hold, not the defaults")
@pytest.mark.requirement("PFS-UP-036")
def test_existing_permissions_kept(pfs, permissions, verify):
    expected = permissions.expected("online").known()
    patient = permissions.patient("online")
    for n in (1, 2):
        ex = verify.answered(pfs.get(patient, label=f"GET {n}"))
        verify(ex, up.status(200, "PFS-UP-036"))
        if ex.status == 200:
            for problem in up.levels_differ(ex.json, expected, permissions.version):
                verify.finding("PFS-UP-036", problem, exchange=ex)


@pytest.mark.title("With accelerated access, a new online user's current record level is full")
@pytest.mark.requirement("PFS-UP-037")
@pytest.mark.creates_data
def test_accelerated_access_current_full(pfs, permissions, verify, left_behind):
    practice = permissions.practice()
    if not practice.accelerated_access:
        raise not_applicable("the target declares the practice has no accelerated access")
    ex = verify.answered(pfs.get(permissions.patient("new_user"), label="GET (new_user)"))
    left_behind("online access enabled for the new_user patient")
    verify.must(ex, up.status(200, "PFS-UP-037"))
    got = lv.level_of(ex.json, lv.CURRENT_RECORD)
    verify.that(got is None or got == "full", "PFS-UP-037",
                f"current record level is {got!r}; accelerated access makes it 'full'", exchange=ex)
