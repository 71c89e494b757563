"""Generated-input properties inside conformance tests: hypothesis searches, the suite judges.

A property judges each generated example through an `Examples` tally. A not-met judgement raises
`Counterexample`; hypothesis shrinks it and re-raises the smallest one, whose judgements (with the
generated input that produced them) are recorded on the test. When no example fails, each
requirement the examples judged is recorded met once ("held on N generated examples", citing the
last exchange); a requirement no example could judge is recorded not judged with the reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gpc_assure.checks.core import Check, Judgement, Verdict
from gpc_assure.transport.exchange import Exchange


class Counterexample(AssertionError):
    def __init__(self, judgements: list[Judgement], exchange: Exchange | None = None, label: str = ""):
        super().__init__("; ".join(str(j) for j in judgements))
        self.judgements = judgements
        self.exchange = exchange
        self.label = label


@dataclass
class _Tally:
    count: int = 0
    check: str = ""
    exchange: Exchange | None = None
    reasons: list[str] = field(default_factory=list)


class Examples:
    """What the generated examples of one property showed, per requirement."""

    def __init__(self) -> None:
        self.met: dict[str, _Tally] = {}
        self.unjudged: dict[str, _Tally] = {}

    def judge(self, exchange: Exchange, *checks: Check, label: str = "") -> list[Judgement]:
        """Judge one example; a not-met ends it as a counterexample."""
        found = [j for c in checks for j in c(exchange)]
        self._keep(found, exchange, label)
        return found

    def judged(self, judgements: list[Judgement], exchange: Exchange | None, label: str = "") -> None:
        """Judgements the property worked out itself (e.g. comparing an answer with a wider search)."""
        self._keep([j.on(exchange) for j in judgements], exchange, label)

    def fail(self, requirement: str, message: str, exchange: Exchange | None = None, label: str = "") -> None:
        raise Counterexample([Judgement(requirement, Verdict.NOT_MET, message).on(exchange)], exchange, label)

    def held(self, requirement: str, what: str, exchange: Exchange | None = None) -> None:
        """The property's own comparison held for this example."""
        self._keep([Judgement(requirement, Verdict.MET, what, check=what).on(exchange)], exchange, "")

    def _keep(self, found: list[Judgement], exchange: Exchange | None, label: str) -> None:
        bad = [j for j in found if j.not_met]
        if bad:
            raise Counterexample(bad, exchange, label)
        for j in found:
            book = self.met if j.met else self.unjudged
            tally = book.setdefault(j.requirement, _Tally(check=j.check or j.message))
            tally.count += 1
            tally.exchange = exchange or tally.exchange
            if not j.met and len(tally.reasons) < 3 and j.message not in tally.reasons:
                tally.reasons.append(j.message)

    def record(self, verify: Any) -> None:
        """After a property without counterexample: one judgement per requirement the examples judged."""
        for rid, t in self.met.items():
            verify.record([Judgement(rid, Verdict.MET, f"{t.check} (held on {t.count} generated example"
                                     f"{'s' if t.count != 1 else ''})", check=t.check).on(t.exchange)])
        for rid, t in self.unjudged.items():
            if rid not in self.met:
                verify.record([Judgement(rid, Verdict.NOT_JUDGED, "no generated example could be judged: "
                                         + "; ".join(t.reasons)).on(t.exchange)])


def _notes(exc: BaseException) -> str:
    return " ".join(str(n) for n in getattr(exc, "__notes__", []) if "Falsifying" in str(n) or "=" in str(n))


def check_property(verify: Any, prop: Callable[[], None], examples: Examples) -> None:
    """Run a @given property whose examples judge through `examples`; record what it showed on the test."""
    try:
        prop()
    except Counterexample as exc:
        notes = _notes(exc)
        lead = f"{exc.label}: " if exc.label else ""
        verify.record(replace(j, message=lead + j.message + (f" [generated input: {notes}]" if notes else ""))
                      for j in exc.judgements)
        return
    examples.record(verify)
