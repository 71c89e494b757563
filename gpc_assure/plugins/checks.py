"""The `verify` fixture: run checks over exchanges, keep every judgement, decide the test at its end.

Judgements are soft: a test records everything it judged, not just the first problem. At the end
of the test, each requirement the test names that got no judgement is recorded as not judged (with
the reason the test stopped, when it did), and the test is

- failed, when any judgement is not met (including a precondition charged to its own requirement);
- passed, when at least one requirement it names was met;
- insufficient-data otherwise: it judged nothing, and the reasons say why.

Preconditions are explicit: `verify.needs(...)` runs checks a test relies on (the find that must
return the patient, the booking that must be made). When one is not met, it is charged to the
requirement it is about (once, by that check) and the test stops with its own requirements not
judged, naming that requirement as the cause; they are never charged with someone else's failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from gpc_assure.checks.core import Check, Finding, Judgement, NotJudged, Verdict, judge
from gpc_assure.outcomes import InsufficientData, SuiteDefect
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import JUDGEMENTS, STOPPED
from gpc_assure.transport.exchange import BodyNotJson, Exchange

MAX_LISTED = 12


class ConformanceFailure(AssertionError):
    """A test ended with not-met judgements; the message lists them."""


class Stopped(Exception):
    """The test cannot go on: a precondition or a `must` did not hold. Caught by the plugin."""

    def __init__(self, reason: str, cause: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


def describe(judgements: Iterable[Judgement]) -> str:
    found = [j for j in judgements if j.not_met]
    lines = [f"{len(found)} finding(s):" if len(found) > 1 else "finding:"]
    for j in found[:MAX_LISTED]:
        where = f" at {j.path}" if j.path else ""
        reading = f" [reading {j.reading}]" if j.reading else ""
        ex = f" — {j.request}" + (f" [{j.exchange}]" if j.exchange else "") if j.request else ""
        lines.append(f"  - {j.requirement}: {j.message}{where}{reading}{ex}")
    if len(found) > MAX_LISTED:
        lines.append(f"  ... and {len(found) - MAX_LISTED} more")
    return "\n".join(lines)


class Verify:
    """What a test judged. One per test (the `verify` fixture); plugins may make their own for an item."""

    def __init__(self, item: pytest.Item):
        self.item = item
        self.judgements: list[Judgement] = item.stash.setdefault(JUDGEMENTS, [])
        meta = meta_of(item)
        self.declared: tuple[str, ...] | None = meta.requirements if meta else None

    # -- recording
    def _own(self, rid: str, what: str) -> None:
        if self.declared is not None and rid not in self.declared:
            raise SuiteDefect(f"{self.item.nodeid} judged {rid} ({what}), which the test does not declare in "
                              "@pytest.mark.requirement")

    def record(self, judgements: Iterable[Judgement], precondition: bool = False) -> list[Judgement]:
        out = list(judgements)
        for j in out:
            if not precondition:
                self._own(j.requirement, j.check or j.message)
        self.judgements.extend(out)
        return out

    def _run(self, exchange: Exchange | None, checks: tuple[Any, ...]) -> list[Judgement]:
        out: list[Judgement] = []
        for c in checks:
            if exchange is None:
                raise SuiteDefect(f"{self.item.nodeid}: a check needs an exchange to judge")
            if not isinstance(c, Check):
                raise SuiteDefect(f"{self.item.nodeid}: {c!r} is not a Check (gpc_assure.checks.core)")
            out.extend(c(exchange))
        return out

    # -- the test's own requirements
    def __call__(self, exchange: Exchange, *checks: Check) -> list[Judgement]:
        """Run the checks and keep their judgements; the test is decided at its end."""
        return self.record(self._run(exchange, checks))

    def must(self, exchange: Exchange, *checks: Check) -> list[Judgement]:
        """As calling verify, and stop the test now unless every check was met (later steps depend on it)."""
        found = self(exchange, *checks)
        self._stop_unless_met(found)
        return found

    def _stop_unless_met(self, found: list[Judgement]) -> None:
        bad = next((j for j in found if j.not_met), None) or next((j for j in found if not j.met), None)
        if bad is not None:
            raise Stopped(f"{bad.requirement} {bad.verdict.value}: {bad.message}",
                          cause=bad.requirement if bad.not_met else bad.cause)

    def rule(self, requirement: str, name: str, run: Callable[[], Iterable[str | Finding]],
             exchange: Exchange | None = None, reading: str | None = None) -> list[Judgement]:
        """Judge a pure rule by the contract (problems -> not met, NotJudged -> not judged, else met)."""
        return self.record(j.on(exchange) for j in judge(requirement, name, run, reading))

    def that(self, condition: bool, requirement: str, failure: str, *, held: str | None = None,
             reading: str | None = None, exchange: Exchange | None = None) -> bool:
        """A comparison the test worked out itself: met (saying what `held`) when true, else the failure."""
        verdict = Verdict.MET if condition else Verdict.NOT_MET
        message = (held or f"held: not ({failure})") if condition else failure
        self.record([Judgement(requirement, verdict, message, check=held or "", reading=reading).on(exchange)])
        return condition

    def finding(self, requirement: str, message: str, reading: str | None = None,
                exchange: Exchange | None = None, path: str | None = None) -> None:
        """A problem the test worked out itself (e.g. comparing two exchanges)."""
        self.record([Judgement(requirement, Verdict.NOT_MET, message, reading=reading, path=path).on(exchange)])

    def met(self, requirement: str, seen: str, exchange: Exchange | None = None,
            reading: str | None = None) -> None:
        """The test saw the rule hold: `seen` says what it saw."""
        self.record([Judgement(requirement, Verdict.MET, seen, check=seen, reading=reading).on(exchange)])

    def not_judged(self, requirement: str, why: str, cause: str | None = None,
                   exchange: Exchange | None = None) -> None:
        self.record([Judgement(requirement, Verdict.NOT_JUDGED, why, cause=cause).on(exchange)])

    # -- preconditions
    def needs(self, exchange: Exchange, *checks: Check, what: str = "") -> Exchange:
        """Checks this test relies on, about any requirement. Unless all are met, the test stops: a not-met
        is charged to its own requirement and the test's requirements are left not judged, naming it.
        A precondition that holds records nothing: the test's own checks must still see its rule hold."""
        found = self._run(exchange, checks)
        # Only a failure is recorded: a precondition that held is not evidence for the test's own rule (a 200
        # with an empty body must not make the requirement it is set up for "met").
        self.record([j for j in found if j.not_met], precondition=True)
        bad = next((j for j in found if j.not_met), None) or next((j for j in found if not j.met), None)
        if bad is not None:
            lead = f"{what}: " if what else ""
            cause = bad.requirement if bad.not_met else bad.cause
            raise Stopped(f"{lead}{bad.message} ({bad.requirement})" if bad.not_met else f"{lead}{bad.message}",
                          cause=cause)
        return exchange

    def stop(self, reason: str, cause: str | None = None) -> None:
        """Stop the test: what it names and has not judged is left not judged for this reason."""
        raise Stopped(reason, cause)

    def answered(self, exchange: Exchange) -> Exchange:
        """The exchange, or the test stops with its requirements not met when the target gave no response."""
        if exchange.response is None:
            for rid in self.declared or ():
                if not any(j.requirement == rid for j in self.judgements):
                    self.record([Judgement(rid, Verdict.NOT_MET, f"no response: {exchange.error}").on(exchange)])
            raise Stopped(f"no response: {exchange.error} — {exchange.describe()}")
        return exchange


@pytest.fixture
def verify(request: pytest.FixtureRequest) -> Verify:
    return Verify(request.node)


def finish(item: pytest.Item, stopped: Stopped | None = None, unreadable: str | None = None) -> None:
    """Decide the test from its judgements (see the module docstring). Raises for failed / insufficient-data."""
    meta = meta_of(item)
    judgements: list[Judgement] = item.stash.setdefault(JUDGEMENTS, [])
    declared = meta.requirements if meta else ()
    reason = (stopped.reason if stopped else None) or unreadable
    cause = stopped.cause if stopped else None
    for rid in declared:
        if not any(j.requirement == rid for j in judgements):
            judgements.append(Judgement(rid, Verdict.NOT_JUDGED, reason or "the test reached no judgement of it",
                                        cause=cause))
    if stopped is not None:
        item.stash[STOPPED] = stopped.reason
    if any(j.not_met for j in judgements):
        raise ConformanceFailure(describe(judgements))
    if unreadable is not None:
        raise ConformanceFailure(unreadable)
    if not any(j.met and j.requirement in declared for j in judgements):
        why = [j.message for j in judgements if j.requirement in declared and not j.met]
        raise InsufficientData(msg="nothing could be judged: " + "; ".join(dict.fromkeys(why)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if meta_of(item) is None:
        return (yield)
    try:
        result = yield
    except Stopped as stop:
        finish(item, stopped=stop)
        return None
    except NotJudged as exc:  # a rule used outside a check, in the test body
        finish(item, stopped=Stopped(exc.reason, exc.cause))
        return None
    except BodyNotJson as exc:  # the test read a body that is not JSON: nothing more can be judged
        finish(item, unreadable=f"a response the test reads is not usable: {exc}")
        return None
    finish(item)
    return result
