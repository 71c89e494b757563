"""Fixtures of the Patient Facing User Permissions suite: the `pfs` client, test patients, version gating.

A target without a [permissions] section makes every permissions test not-applicable. Tests that
hold only for one spec version carry `@pytest.mark.pfs_version("legacy")` (or "current") and are
not-applicable against a target of the other version.

`read_own` is how a test reads a patient's permissions before judging anything in them: it goes on
only with a 200 JSON object holding the levels the target declares that patient holds. A permissions
body names no patient, so its levels are the only way to tell an answer about this patient from one
about someone else (or one fixed example for everybody); such an answer is charged to PFS-UP-036 and
leaves the test's own requirements not judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from gpc_assure.checks import permissions as up
from gpc_assure.checks.core import Check, Judgement, Verdict
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


# --- judging preconditions without counting them as support -------------------------------------------
def failures(verify: Any, ex: Exchange, *checks: Check) -> bool:
    """Judge the checks now, record only what is not met, and say whether all were met.

    For a step whose success is no evidence on its own (an HTTP 200 says nothing until the body is
    known to be about the patient), while its failure is a finding of its requirement.
    """
    found: list[Judgement] = [j for c in checks for j in c(ex)]
    verify.record([j for j in found if j.not_met], precondition=True)
    return all(j.met for j in found)


def require(verify: Any, ex: Exchange, *checks: Check, what: str = "") -> None:
    """A precondition: judge the checks, record only what is not met (charged to its own requirement),
    and stop the test unless all were met. Unlike `verify.needs`, a met is never recorded, so a
    precondition on the test's own requirement cannot count as its support before the rest is judged."""
    found: list[Judgement] = [j for c in checks for j in c(ex)]
    verify.record([j for j in found if j.not_met], precondition=True)
    bad = next((j for j in found if j.not_met), None) or next((j for j in found if not j.met), None)
    if bad is not None:
        lead = f"{what}: " if what else ""
        if bad.not_met:
            verify.stop(f"{lead}{bad.message} ({bad.requirement})", cause=bad.requirement)
        verify.stop(f"{lead}{bad.message}", cause=bad.cause)


def read_own(pfs: PfsClient, verify: Any, permissions: PermissionsAccess, role: str, *,
             status_of: str = up.GET_OK, reading: str | None = None, **kwargs: Any) -> Exchange:
    """GET the `role` patient's permissions; the test goes on only with that patient's own permissions.

    A GET not answered 200 is charged to `status_of` (PFS-UP-001 unless the test is about what made the
    request special, e.g. a missing X-Request-ID), a 200 that is not a JSON object to PFS-UP-001, and
    levels other than the ones the target declares the patient holds to PFS-UP-036. `kwargs` go to
    `pfs.get` (headers, label).
    """
    patient = permissions.patient(role)
    expected = permissions.expected(role).known()
    kwargs.setdefault("label", f"GET permissions ({role})")
    ex = pfs.get(patient, **kwargs)
    what = f"reading the {role} patient's permissions"
    require(verify, ex, up.status(200, status_of, reading), what=what)
    require(verify, ex, up.permissions_answer(), what=what)
    own = up.own_permissions(expected, permissions.version)
    if not any(j.met or j.not_met for j in own(ex)):
        # No level to tell whose permissions these are: the body holds no permissions at all, which is the
        # finding of the requirement naming the permissions a body must have (PFS-UP-020/-021).
        require(verify, ex, up.valid_permissions(permissions.version, up.TOP_LEVEL[permissions.version]), what=what)
    require(verify, ex, own, what=what)
    return ex


class Tally:
    """The judgements of many generated steps (a state machine, schemathesis cases), kept without raising.

    A generated step never raises on a finding, so a provider whose state changes between steps never
    makes Hypothesis replay a sequence as 'flaky'. At the end, `record` puts on the test: the first
    few not-met judgements of each requirement (a precondition's, such as PFS-UP-001 or -036, charged
    to its own requirement), one met per requirement the steps judged without a finding ("held on N
    generated steps"), and the reasons a named requirement was never judged.
    """

    def __init__(self, per_requirement: int = 3, unit: str = "generated step"):
        self.per_requirement = per_requirement
        self.unit = unit
        self.failed: dict[str, list[Judgement]] = {}
        self.met: dict[str, tuple[int, Judgement]] = {}
        self.unjudged: dict[str, list[str]] = {}

    def add(self, judgements: Iterable[Judgement], context: str = "") -> bool:
        """Keep these judgements; True when none is not met."""
        ok = True
        for j in judgements:
            if j.not_met:
                ok = False
                kept = self.failed.setdefault(j.requirement, [])
                if len(kept) < self.per_requirement and not any(k.message.startswith(j.message) for k in kept):
                    kept.append(replace(j, message=f"{j.message}{context}"))
            elif j.met:
                count, _ = self.met.get(j.requirement, (0, j))
                self.met[j.requirement] = (count + 1, j)
            else:
                reasons = self.unjudged.setdefault(j.requirement, [])
                if len(reasons) < 3 and j.message not in reasons:
                    reasons.append(j.message)
        return ok

    def record(self, verify: Any) -> None:
        declared = set(verify.declared or ())
        for judgements in self.failed.values():
            verify.record(judgements, precondition=True)
        for rid, (count, j) in self.met.items():
            if rid in self.failed or rid not in declared:
                continue
            verify.record([replace(j, message=f"{j.check or j.message} (held on {count} {self.unit}"
                                              f"{'s' if count != 1 else ''})")])
        for rid, reasons in self.unjudged.items():
            if rid in self.failed or rid in self.met or rid not in declared:
                continue
            verify.record([Judgement(rid, Verdict.NOT_JUDGED, f"no {self.unit} could be judged: "
                                     + "; ".join(reasons))])
