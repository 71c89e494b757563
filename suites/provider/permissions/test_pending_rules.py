"""User Permissions (legacy): a Hypothesis state machine drives POST -> GET sequences and checks the request rules.

Each step asks for some level of some permission, then reads the permissions back. A model worked
out from the previous GET says what must happen: at or below the level held -> 403 FORBIDDEN_UPDATE
and nothing filed (PFS-UP-043); above accessLevelMax -> the same (PFS-UP-044); otherwise 200 about
that request (PFS-UP-002, -041), listed once as pending (PFS-UP-048), and a repeat keeps the original
(PFS-UP-046). Every run starts from the provider's live state, so it holds on a provider whose
pending requests persist. Violations are collected (not raised), so the provider's changing state
never makes Hypothesis replay a sequence as 'flaky'; each is reported with the steps that led to it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from gpc_assure.checks import permissions as up
from gpc_assure.findings import Finding
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv

ALL_REQUESTS: list[choose.Choice] = [(t, level) for t in lv.TARGETS["legacy"] for level in lv.levels(t)]
PER_REQUIREMENT = 3
EXAMPLES, STEPS = 10, 6


@pytest.mark.title("State machine: legacy POST -> GET keeps the request rules over any sequence")
@pytest.mark.requirement("PFS-UP-002", "PFS-UP-041", "PFS-UP-043", "PFS-UP-044", "PFS-UP-046", "PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_request_rules_hold_over_sequences(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    found: dict[str, list[str]] = {}
    filed: set[str] = set()
    last_get: list[Any] = [None]  # the latest GET exchange, to anchor the closing finding

    def violation(requirement: str, message: str, steps: list[str], evidence: str | None) -> None:
        kept = found.setdefault(requirement, [])
        if len(kept) < PER_REQUIREMENT and not any(k.startswith(message) for k in kept):
            where = f" [{evidence}]" if evidence else ""
            kept.append(f"{message}{where} — after: {' -> '.join(steps[-6:])}")

    class Requests(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.body: Any = None
            self.steps: list[str] = []

        def _read(self, label: str) -> Any:
            ex = pfs.get(patient, label=label)
            last_get[0] = ex
            if ex.status != 200:
                violation("PFS-UP-048", f"GET answered HTTP {ex.status}, so pending requests cannot be seen",
                          self.steps, ex.evidence_file)
                return None
            try:
                return ex.json
            except ValueError:
                return None

        @initialize()
        def start(self) -> None:
            self.body = self._read("state machine: starting permissions")

        @rule(choice=st.sampled_from(ALL_REQUESTS))
        def ask(self, choice: choose.Choice) -> None:
            before = self.body
            target, level = choice
            if before is None or target not in choose.usable_targets(before):
                return  # nothing to predict from (a missing or unknown level is another test's finding)
            have = lv.rank(target, lv.level_of(before, target) or "")
            top = lv.rank(target, lv.level_of(before, target, "accessLevelMax") or "")
            asked = lv.rank(target, level)
            self.steps.append(choose.describe(choice))
            ex = pfs.post(patient, lv.request_body(target, level), label=f"state machine: {choose.describe(choice)}")
            after = self._read("state machine: GET after the request")
            was_pending = lv.pending_for(before, target, level)
            now_pending = lv.pending_for(after, target, level) if after is not None else None
            if asked <= have or asked > top:
                requirement = "PFS-UP-043" if asked <= have else "PFS-UP-044"
                why = "not above the level held" if asked <= have else "above accessLevelMax"
                for f in up.error(403, "FORBIDDEN_UPDATE", requirement)(ex):
                    violation(requirement, f"a request {why}: {f.message}", self.steps, ex.evidence_file)
                if now_pending and not was_pending:
                    violation(requirement, f"a request {why} was filed as pending", self.steps, ex.evidence_file)
            else:
                filed.add(choose.describe(choice))
                if ex.status != 200:
                    violation("PFS-UP-002", f"an allowed increase got HTTP {ex.status} "
                                            f"({', '.join(up.spine_codes(ex)) or 'no code'})", self.steps,
                              ex.evidence_file)
                else:
                    body = ex.json if isinstance(ex.json, dict) else {}
                    asked_body = lv.request_body(target, level)
                    got = {k: body.get(k) for k in asked_body}
                    if got != asked_body:
                        violation("PFS-UP-041", f"asked for {asked_body}, the answer is about {got}", self.steps,
                                  ex.evidence_file)
                    if now_pending is not None:
                        if not now_pending:
                            violation("PFS-UP-048", "an accepted request is not listed as pending", self.steps,
                                      ex.evidence_file)
                        elif len(now_pending) > 1:
                            violation("PFS-UP-046", f"{len(now_pending)} pending entries for one request",
                                      self.steps, ex.evidence_file)
                        elif was_pending and now_pending[0].get("createdDateTime") != was_pending[0].get(
                                "createdDateTime"):
                            violation("PFS-UP-046", "a repeated request replaced the original pending entry",
                                      self.steps, ex.evidence_file)
            self.body = after if after is not None else before

    run_state_machine_as_test(Requests, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    if filed:
        left_behind(f"pending requests for the requester patient: {', '.join(sorted(filed))}")
    for requirement, messages in found.items():
        for message in messages:
            verify.finding(requirement, message)
    if "PFS-UP-048" in found:
        # Accepted requests never showed as pending, so de-duplication was never observable: stop now, so
        # this test does not count as evidence that PFS-UP-046 is met.
        verify.must(last_get[0], lambda ex: [
            Finding("PFS-UP-048", "pending requests were not listed, so de-duplication could not be observed")])
