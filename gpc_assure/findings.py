"""Findings: what a check reports about an exchange, each tied to the requirement it breaks.

A check is a small pure function `(Exchange) -> list[Finding]`. Factories such as
`checks.http.status(200, requirement="FND-FP-002")` return checks, so a test lists what it
verifies as data and the same checks serve provider suites, consumer suites and the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gpc_assure.transport.exchange import Exchange


@dataclass(frozen=True)
class Finding:
    requirement: str
    message: str
    # Where the spec can be read two ways, the reading this check enforces (e.g. "D-03: ...").
    reading: str | None = None
    path: str | None = None  # where in the resource, e.g. "entry[0].resource.meta.profile"

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        reading = f" [reading {self.reading}]" if self.reading else ""
        return f"{self.requirement}: {self.message}{where}{reading}"


Check = Callable[[Exchange], list[Finding]]


def run_checks(exchange: Exchange, checks: Iterable[Check]) -> list[Finding]:
    out: list[Finding] = []
    for check in checks:
        out.extend(check(exchange))
    return out
