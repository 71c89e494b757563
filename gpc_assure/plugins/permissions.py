"""Fixtures of the Patient Facing User Permissions suite: the `pfs` client, test patients, version gating.

A target without a [permissions] section makes every permissions test not-applicable. Tests that
hold only for one spec version carry `@pytest.mark.pfs_version("legacy")` (or "current") and are
not-applicable against a target of the other version.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gpc_assure.outcomes import InsufficientData, NotApplicable
from gpc_assure.pfs.section import PATIENT_ROLES, Levels, Practice
from gpc_assure.plugins.evidence import evidence_store
from gpc_assure.plugins.state import EXCHANGES, RUN, Run
from gpc_assure.target import Target
from gpc_assure.transport.exchange import Exchange
from gpc_assure.transport.pfs import PfsClient, PfsPatient, TokenSource

TOKENS = pytest.StashKey[TokenSource]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pfs_version(*versions): the User Permissions spec versions (current, legacy) a test applies to")


def _no_section() -> NotApplicable:
    return NotApplicable(msg="the target has no [permissions] section (GP Connect Patient Facing User Permissions)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    mark = item.get_closest_marker("pfs_version")
    run: Run | None = item.config.stash.get(RUN, None)
    if mark is None or run is None or run.target is None:
        return
    section = run.target.permissions
    if section is None:
        raise _no_section()
    if section.version not in mark.args:
        raise NotApplicable(msg=f"applies to the {' and '.join(mark.args)} version of User Permissions; the target "
                                f"declares {section.version}")


class PermissionsAccess:
    """The target's [permissions] section, handing out test patients by role."""

    def __init__(self, target: Target):
        if target.permissions is None:
            raise _no_section()
        self.section = target.permissions

    @property
    def version(self) -> str:
        return self.section.version

    def patient(self, role: str) -> PfsPatient:
        if role not in PATIENT_ROLES:
            raise KeyError(f"unknown permissions patient role {role!r}")
        p = self.section.patients.get(role)
        if p is None:
            raise InsufficientData(msg=f"the target's [permissions] section names no '{role}' patient "
                                       f"({PATIENT_ROLES[role]})")
        return PfsPatient(role, p.nhs_number)

    def expected(self, role: str) -> Levels:
        """The permissions the target says this patient holds (PFS-UP-036 needs them)."""
        self.patient(role)
        expect = self.section.patients[role].expect
        if expect is None or not expect.known():
            raise InsufficientData(msg=f"permissions.patients.{role}.expect is not given: the suite cannot tell the "
                                       "patient's existing permissions from re-applied defaults")
        return expect

    def practice(self) -> Practice:
        if self.section.practice is None:
            raise InsufficientData(msg="the target's [permissions.practice] table is missing (the practice's "
                                       "defaults and at-risk permissions, and whether accelerated access is on)")
        return self.section.practice


@pytest.fixture(scope="session")
def permissions(target: Target) -> PermissionsAccess:
    return PermissionsAccess(target)


@pytest.fixture
def pfs(request: pytest.FixtureRequest, target: Target, permissions: PermissionsAccess) -> Iterator[PfsClient]:
    """A User Permissions client for this test; its exchanges become this test's evidence."""
    run: Run = request.config.stash[RUN]
    item = request.node
    files = item.stash.setdefault(EXCHANGES, [])
    store = evidence_store(run)
    tokens = request.config.stash.setdefault(TOKENS, TokenSource(permissions.section))

    def record(ex: Exchange) -> None:
        name = store.write(ex, item.nodeid)
        if name:
            files.append(name)

    client = PfsClient(target, observers=[record], tokens=tokens)
    try:
        yield client
    finally:
        client.close()
