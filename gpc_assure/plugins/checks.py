"""The `verify` fixture: run checks over an exchange, keep every finding, fail the test at its end.

Findings are soft: a test reports everything wrong with an exchange, not just the first problem.
`verify.must(...)` stops the test at once when later steps depend on a result. A finding whose
requirement the test does not declare is our own defect and errors the test.
"""

from __future__ import annotations

import pytest

from gpc_assure.findings import Check, Finding, run_checks
from gpc_assure.outcomes import SuiteDefect, TargetFailure
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import FINDINGS
from gpc_assure.transport.exchange import Exchange


class ConformanceFailure(AssertionError):
    """The findings of a test. `complete` when raised after the whole body ran (every check ran)."""

    complete = False


def _format(findings: list[Finding], exchanges: dict[int, Exchange]) -> str:
    lines = [f"{len(findings)} finding(s):" if len(findings) > 1 else "finding:"]
    for f in findings:
        lines.append(f"  - {f}")
    return "\n".join(lines)


class Verify:
    def __init__(self, item: pytest.Item):
        self.item = item
        self.findings: list[Finding] = item.stash.setdefault(FINDINGS, [])
        meta = meta_of(item)
        self.declared = set(meta.requirements) if meta else None

    def _keep(self, ex: Exchange | None, found: list[Finding]) -> list[Finding]:
        for f in found:
            if self.declared is not None and f.requirement not in self.declared:
                raise SuiteDefect(f"{self.item.nodeid} produced a finding for {f.requirement}, which the test "
                                  f"does not declare in @pytest.mark.requirement")
        where = f" — {ex.describe()}" + (f" [{ex.evidence_file}]" if ex and ex.evidence_file else "") if ex else ""
        self.findings.extend(Finding(f.requirement, f.message + where, f.reading, f.path) for f in found)
        return found

    def __call__(self, exchange: Exchange, *checks: Check) -> list[Finding]:
        """Run the checks; keep what they find; the test fails at its end if anything was found."""
        return self._keep(exchange, run_checks(exchange, checks))

    def must(self, exchange: Exchange, *checks: Check) -> None:
        """Run the checks and stop the test now if they find anything (later steps depend on it)."""
        if self(exchange, *checks):
            raise ConformanceFailure(_format(self.findings, {}))

    def finding(self, requirement: str, message: str, reading: str | None = None,
                exchange: Exchange | None = None) -> None:
        """Record a finding the test worked out itself (e.g. comparing two exchanges)."""
        self._keep(exchange, [Finding(requirement, message, reading)])

    def that(self, condition: bool, requirement: str, message: str, reading: str | None = None,
             exchange: Exchange | None = None) -> bool:
        if not condition:
            self.finding(requirement, message, reading, exchange)
        return condition

    def answered(self, exchange: Exchange) -> Exchange:
        """The exchange, or a failed test when the target gave no response at all."""
        if exchange.response is None:
            raise TargetFailure(f"no response to judge: {exchange.error} — {exchange.describe()}")
        return exchange


@pytest.fixture
def verify(request: pytest.FixtureRequest) -> Verify:
    return Verify(request.node)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    findings = item.stash.get(FINDINGS, [])
    if findings:
        failure = ConformanceFailure(_format(findings, {}))
        failure.complete = True
        raise failure
    return result
