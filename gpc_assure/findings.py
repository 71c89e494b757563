"""TRANSITION: the old name of the check contract's Finding; gpc_assure.checks.core is its home."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gpc_assure.checks.core import Finding
from gpc_assure.transport.exchange import Exchange

Check = Callable[[Exchange], list[Finding]]

__all__ = ["Check", "Finding", "run_checks"]


def run_checks(exchange: Exchange, checks: Iterable[Check]) -> list[Finding]:
    out: list[Finding] = []
    for check in checks:
        out.extend(check(exchange))
    return out
