"""User Permissions (legacy): a Hypothesis state machine drives POST -> GET sequences and checks the request rules.

Each step asks for some level of some permission, then reads the permissions back. A model worked
out from the previous GET says what must happen: at or below the level held -> 403 FORBIDDEN_UPDATE
and nothing filed (PFS-UP-043); above accessLevelMax -> the same (PFS-UP-044); otherwise 200 with a
valid update response (PFS-UP-002) about that request (PFS-UP-041), listed as pending (PFS-UP-048),
and a repeat of a pending request keeps the original (PFS-UP-046). Every run starts from the
provider's live state, so it holds on a provider whose pending requests persist.

Every GET is judged to hold the requester's own permissions (else the step predicts nothing, and
PFS-UP-001/-036 is charged). Judgements are tallied, not raised (`Tally`), so the provider's changing
state never makes Hypothesis replay a sequence as 'flaky'; each finding is reported with the steps
that led to it, and a requirement is met only by steps that judged it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from gpc_assure.checks import permissions as up
from gpc_assure.checks.core import NotJudged, judge
from gpc_assure.pfs import choose
from gpc_assure.pfs import levels as lv
from gpc_assure.plugins.permissions import Tally, read_own

ALL_REQUESTS: list[choose.Choice] = [(t, level) for t in lv.TARGETS["legacy"] for level in lv.levels(t)]
PER_REQUIREMENT = 3
EXAMPLES, STEPS = 10, 6


def _kept_original(now_pending: list[dict[str, Any]], was_pending: list[dict[str, Any]], what: str) -> list[str]:
    """PFS-UP-046 after a request: one entry for it, and (when it was already pending) the original one."""
    if len(now_pending) > 1:
        return [f"{len(now_pending)} pending entries for {what} after one more request, expected one"]
    original, kept = was_pending[0].get("createdDateTime"), now_pending[0].get("createdDateTime")
    if not (isinstance(original, str) and original and isinstance(kept, str) and kept):
        raise NotJudged("a pending entry has no createdDateTime to compare (that is PFS-UP-029's finding)")
    if kept != original:
        return [f"a repeated request for {what} replaced the original pending entry (created {original}; the entry "
                f"now listed was created {kept})"]
    return []


@pytest.mark.title("State machine: legacy POST -> GET keeps the request rules over any sequence")
@pytest.mark.requirement("PFS-UP-002", "PFS-UP-041", "PFS-UP-043", "PFS-UP-044", "PFS-UP-046", "PFS-UP-048")
@pytest.mark.pfs_version("legacy")
@pytest.mark.creates_data
def test_request_rules_hold_over_sequences(pfs, permissions, verify, left_behind):
    patient = permissions.patient("requester")
    # The requester's own permissions must be readable before any step can predict anything.
    read_own(pfs, verify, permissions, "requester", label="state machine: starting permissions")
    expected = permissions.expected("requester").known()
    own = up.own_permissions(expected, permissions.version)
    answer = up.permissions_answer()
    tally = Tally(PER_REQUIREMENT, unit="state machine step")
    filed: set[str] = set()

    class Requests(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.body: Any = None
            self.steps: list[str] = []

        def _context(self) -> str:
            return f" — after: {' -> '.join(self.steps[-6:])}" if self.steps else ""

        def _read(self, label: str) -> tuple[Any, Any]:
            """(exchange, body) of a GET; the body only when it is the requester's own permissions."""
            ex = pfs.get(patient, label=label)
            found = answer(ex)
            if all(j.met for j in found):
                found = own(ex)
            # Only failures are kept: a readable GET is no support for the rules on its own.
            tally.add([j for j in found if j.not_met], self._context())
            return ex, (ex.json if all(j.met for j in found) else None)

        @initialize()
        def start(self) -> None:
            _, self.body = self._read("state machine: starting permissions")

        @rule(choice=st.sampled_from(ALL_REQUESTS))
        def ask(self, choice: choose.Choice) -> None:
            before = self.body
            target, level = choice
            if before is None or target not in choose.usable_targets(before):
                return  # nothing to predict from (a missing or unknown level is another test's finding)
            have = lv.rank(target, lv.level_of(before, target) or "")
            top = lv.rank(target, lv.level_of(before, target, "accessLevelMax") or "")
            asked = lv.rank(target, level)
            self.steps.append(up.describe_request(lv.request_body(target, level)))
            context = self._context()
            body = lv.request_body(target, level)
            ex = pfs.post(patient, body, label=f"state machine: {choose.describe(choice)}")
            after_ex, after = self._read("state machine: GET after the request")
            if asked <= have or asked > top:
                requirement = "PFS-UP-043" if asked <= have else "PFS-UP-044"
                tally.add(up.error(403, "FORBIDDEN_UPDATE", requirement, reading="PFS-UP-051")(ex), context)
                if after is not None:
                    tally.add(up.not_filed(choice, before, requirement)(after_ex), context)
            else:
                filed.add(choose.describe(choice))
                # The status alone is no support for PFS-UP-002: the update response is.
                if not tally.add([j for j in up.status(200, up.POST_OK)(ex) if j.not_met], context):
                    self.body = after if after is not None else before
                    return
                tally.add(up.valid_update_response("legacy")(ex), context)
                tally.add(up.answer_about_request(body)(ex), context)
                if after is not None:
                    listed = tally.add(up.pending_listed(choice)(after_ex), context)
                    was_pending = lv.pending_for(before, target, level)
                    now_pending = lv.pending_for(after, target, level)
                    # De-duplication shows only on a repeat of a pending request (or an entry filed twice).
                    if listed and (was_pending or len(now_pending) > 1):
                        what = up.describe_request(lv.request_body(target, level))
                        tally.add([j.on(after_ex) for j in judge(
                            "PFS-UP-046", "a repeated request keeps the one original pending entry",
                            lambda: _kept_original(now_pending, was_pending or now_pending, what))], context)
            self.body = after if after is not None else before

    run_state_machine_as_test(Requests, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    if filed:
        left_behind(f"pending requests for the requester patient: {', '.join(sorted(filed))}")
    tally.record(verify)
