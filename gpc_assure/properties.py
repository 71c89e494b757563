"""Generated-input properties inside conformance tests: hypothesis searches, the suite reports.

A property raises `Counterexample` with the findings of a failing example; hypothesis shrinks it
and re-raises the smallest one, whose findings (with the generated input that produced them) become
the test's findings. Findings of the examples tried while shrinking are not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpc_assure.findings import Finding
from gpc_assure.transport.exchange import Exchange


class Counterexample(AssertionError):
    def __init__(self, findings: list[Finding], exchange: Exchange | None = None):
        super().__init__("; ".join(str(f) for f in findings))
        self.findings = findings
        self.exchange = exchange


def fail_on(findings: list[Finding], exchange: Exchange | None = None) -> None:
    """End this example as a counterexample when it produced findings."""
    if findings:
        raise Counterexample(findings, exchange)


def check_property(verify: Any, prop: Callable[[], None]) -> None:
    """Run a @given property; record the smallest counterexample's findings on the test."""
    try:
        prop()
    except Counterexample as exc:
        notes = " ".join(str(n) for n in getattr(exc, "__notes__", []) if "Falsifying" in str(n)
                         or "=" in str(n))
        for f in exc.findings:
            message = f.message + (f" [generated input: {notes}]" if notes else "")
            verify.finding(f.requirement, message, f.reading, exchange=exc.exchange)
