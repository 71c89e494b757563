"""The one check contract: a check judges an exchange and says, for the requirement it speaks for,
*met*, *not met* (a finding) or *not judged* (why).

A check is a `Check`: a requirement, a rule, a plain-words name of what it checks, and the
preconditions it needs (`Guard`s), declared up front the way schemathesis declares its checks'
guards. A rule is a function over the exchange that returns its problems (strings or `Finding`s)
or raises `NotJudged` when the exchange holds nothing of the kind it judges. `Check.__call__`
turns that into judgements, so the verdict model lives here and nowhere else:

- the exchange has no response (timeout, reset, garbage) -> not met: a response was due;
- a guard does not hold (an error rule on a 200, a Patient rule on an empty body) -> not judged;
- the rule raises NotJudged -> not judged, with its reason;
- the rule returns problems -> not met, one judgement per problem;
- otherwise -> met, naming what was checked. Only this path produces "met".

Pure rules over a resource or a request (`(thing) -> list[str]`) are lifted with `judge`, which
applies the same contract to whatever the rule reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gpc_assure.transport.exchange import BodyNotJson, Exchange


class Verdict(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    NOT_JUDGED = "not-judged"


@dataclass(frozen=True)
class Finding:
    """A problem a rule found. `requirement` may be left empty inside a Check (the check's own is used)."""

    requirement: str
    message: str
    # Where the spec can be read two ways, the reading this check enforces (e.g. "D-03: ...").
    reading: str | None = None
    path: str | None = None  # where in the resource, e.g. "entry[0].resource.meta.profile"

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        reading = f" [reading {self.reading}]" if self.reading else ""
        return f"{self.requirement}: {self.message}{where}{reading}"


@dataclass(frozen=True)
class Judgement:
    """What one check concluded about one requirement from one exchange (or one recorded thing)."""

    requirement: str
    verdict: Verdict
    # not met: the finding; met: what was checked and held; not judged: why nothing could be judged.
    message: str
    check: str = ""
    reading: str | None = None
    path: str | None = None
    # Not judged because another requirement's rule failed first (a failed precondition): that requirement.
    cause: str | None = None
    exchange: str | None = None  # the evidence file of the exchange judged
    request: str | None = None  # "GET url -> HTTP 200", for messages and the report

    @property
    def met(self) -> bool:
        return self.verdict is Verdict.MET

    @property
    def not_met(self) -> bool:
        return self.verdict is Verdict.NOT_MET

    def on(self, ex: Exchange | None) -> Judgement:
        """This judgement, tied to the exchange it was made on."""
        if ex is None:
            return self
        return replace(self, exchange=self.exchange or ex.evidence_file, request=self.request or ex.describe())

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        reading = f" [reading {self.reading}]" if self.reading else ""
        return f"{self.requirement} {self.verdict.value}: {self.message}{where}{reading}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requirement": self.requirement, "verdict": self.verdict.value,
                               "message": self.message}
        for key in ("check", "reading", "path", "cause", "exchange", "request"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class NotJudged(Exception):
    """Raised by a rule: what it was given holds nothing of the kind it judges (with why)."""

    def __init__(self, reason: str, cause: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


def not_judged(reason: str, cause: str | None = None) -> NotJudged:
    """`raise not_judged("no error response came back")` reads as the rule's precondition."""
    return NotJudged(reason, cause)


# -- preconditions -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Guard:
    """A precondition a check declares: `holds(ex)` is None when it holds, else why it does not.

    `name` says what the check needs, in words a reader of the check or the report follows
    ("an error response", "a FHIR Patient").
    """

    name: str
    holds: Callable[[Exchange], str | None]

    def __call__(self, ex: Exchange) -> str | None:
        return self.holds(ex)


def _status(ex: Exchange) -> int:
    assert ex.response is not None
    return ex.response.status


def body_json(ex: Exchange) -> Any:
    """The parsed JSON body, or None when there is none or it is not JSON."""
    try:
        return ex.json
    except BodyNotJson:
        return None


def _not_json(ex: Exchange) -> str | None:
    try:
        ex.json  # noqa: B018 - parsing is the question
    except BodyNotJson as exc:
        return f"{exc} ({ex.describe()})"
    return None


def _fhir(ex: Exchange) -> str | None:
    if why := _not_json(ex):
        return why
    body = ex.json
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return f"the body is JSON but not a FHIR resource ({ex.describe()})"
    return None


ERROR = Guard("an error response (4xx or 5xx)",
              lambda ex: None if _status(ex) >= 400 else f"no error response came back ({ex.describe()})")
SUCCESS = Guard("a successful response (2xx)",
                lambda ex: None if 200 <= _status(ex) < 300 else f"the request was not served ({ex.describe()})")
JSON = Guard("a JSON body", _not_json)
FHIR_JSON = Guard("a FHIR resource in JSON", _fhir)


def status_in(*statuses: int) -> Guard:
    want = " or ".join(map(str, statuses))
    return Guard(f"an HTTP {want} response",
                 lambda ex: None if _status(ex) in statuses else f"the answer was not HTTP {want} ({ex.describe()})")


def resources_of(body: Any, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, resource) for the body itself or each Bundle entry of that type."""
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == resource_type:
        return [("", body)]
    if body.get("resourceType") != "Bundle":
        return []
    out = []
    for n, entry in enumerate(body.get("entry") or []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == resource_type:
            out.append((f"entry[{n}].resource", res))
    return out


def holding(resource_type: str) -> Guard:
    """The body is a `resource_type`, or a Bundle holding at least one."""

    def holds(ex: Exchange) -> str | None:
        if why := _fhir(ex):
            return why
        if resources_of(ex.json, resource_type):
            return None
        got = ex.json.get("resourceType")
        what = "a Bundle without one" if got == "Bundle" else f"a {got}"
        return f"the body holds no {resource_type}: it is {what} ({ex.describe()})"

    return Guard(f"a FHIR {resource_type}", holds)


def condition(name: str, test: Callable[[Exchange], bool], otherwise: str) -> Guard:
    """A guard from a yes/no test; `otherwise` says why not when it fails."""
    return Guard(name, lambda ex: None if test(ex) else f"{otherwise} ({ex.describe()})")


# -- checks ----------------------------------------------------------------------------------------------

Problems = Iterable["str | Finding"]
ExchangeRule = Callable[[Exchange], Problems]


@dataclass(frozen=True)
class Check:
    """One requirement, one rule, what it needs. Calling it on an exchange gives its judgements."""

    requirement: str
    rule: ExchangeRule
    name: str  # what it checks, e.g. "Cache-Control includes no-store"
    needs: tuple[Guard, ...] = ()
    reading: str | None = None
    # Whether an exchange without a response is a failure of this requirement (a response was due), or
    # only leaves it unjudged (a rule about error bodies, say, when the target did not answer at all).
    response_due: bool = True
    # A check of what a consumer or sender sent: it reads the request, whatever came back.
    on_request: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __call__(self, ex: Exchange) -> list[Judgement]:
        if ex.response is None and not self.on_request:
            verdict = Verdict.NOT_MET if self.response_due else Verdict.NOT_JUDGED
            return [self._judgement(verdict, f"no response: {ex.error}").on(ex)]
        for guard in self.needs:
            why = guard(ex)
            if why is not None:
                return [self._judgement(Verdict.NOT_JUDGED, why).on(ex)]
        return [j.on(ex) for j in judge(self.requirement, self.name, lambda: self.rule(ex), self.reading)]

    def _judgement(self, verdict: Verdict, message: str) -> Judgement:
        return Judgement(self.requirement, verdict, message, check=self.name, reading=self.reading)

    def needing(self, *guards: Guard) -> Check:
        """This check with more preconditions."""
        return replace(self, needs=(*self.needs, *guards))

    def describe(self) -> str:
        needs = f" (needs {', '.join(g.name for g in self.needs)})" if self.needs else ""
        return f"{self.requirement}: {self.name}{needs}"


def on_request(requirement: str, rule: ExchangeRule, name: str, *needs: Guard,
               reading: str | None = None) -> Check:
    """A check of the request itself (what a consumer or sender sent), whatever the response."""
    return Check(requirement, rule, name, tuple(needs), reading, on_request=True)


def either(*alternatives: Check, name: str | None = None) -> Check:
    """Met when any alternative is met (the spec allows several answers); not judged when none could be
    judged; else not met with the first judged alternative's findings. All speak for one requirement."""
    if not alternatives or len({a.requirement for a in alternatives}) != 1:
        raise ValueError("either() takes checks of one requirement")
    first = alternatives[0]

    def rule(ex: Exchange) -> list[Finding]:
        results = [alt(ex) for alt in alternatives]
        if any(all(j.met for j in r) for r in results):
            return []
        judged = [r for r in results if any(j.not_met for j in r)]
        if not judged:
            raise NotJudged(results[0][0].message if results[0] else "nothing to judge")
        return [Finding("", j.message, j.reading, j.path) for j in judged[0] if j.not_met]

    label = name or " or ".join(a.name for a in alternatives)
    return Check(first.requirement, rule, label, reading=first.reading, response_due=first.response_due)


def judge(requirement: str, name: str, run: Callable[[], Problems], reading: str | None = None) -> list[Judgement]:
    """Run a rule and judge by the contract: problems -> not met, NotJudged -> not judged, else met."""
    try:
        problems = list(run())
    except NotJudged as exc:
        return [Judgement(requirement, Verdict.NOT_JUDGED, exc.reason, check=name, reading=reading,
                          cause=exc.cause)]
    if not problems:
        return [Judgement(requirement, Verdict.MET, name, check=name, reading=reading)]
    out = []
    for p in problems:
        if isinstance(p, Finding):
            if p.requirement and p.requirement != requirement:
                raise ValueError(f"the check for {requirement} ({name}) reported a finding for {p.requirement}; "
                                 "a check speaks for one requirement")
            out.append(Judgement(requirement, Verdict.NOT_MET, p.message, check=name,
                                 reading=p.reading or reading, path=p.path))
        else:
            out.append(Judgement(requirement, Verdict.NOT_MET, str(p), check=name, reading=reading))
    return out


def each_of(items: Iterable[Any], rule: Callable[[Any], Problems], nothing: str,
            where: Callable[[Any], str | None] | None = None) -> list[Finding]:
    """Apply a rule to each item; items the rule cannot judge are passed over.

    Raises NotJudged with `nothing` when there are no items, or with the rule's own reason when it
    could judge none of them: a rule over many things is met only when it judged at least one.
    """
    out: list[Finding] = []
    judged = 0
    reasons: list[str] = []
    for item in items:
        try:
            problems = list(rule(item))
        except NotJudged as exc:
            reasons.append(exc.reason)
            continue
        judged += 1
        path = where(item) if where else None
        for p in problems:
            if isinstance(p, Finding):
                out.append(p if p.path or not path else replace(p, path=path))
            else:
                out.append(Finding("", str(p), path=path))
    if not judged:
        raise NotJudged(reasons[0] if reasons else nothing)
    return out


def summarise(judgements: Iterable[Judgement]) -> dict[str, Verdict]:
    """The verdict per requirement over several judgements: not met beats met beats not judged."""
    order = {Verdict.NOT_MET: 2, Verdict.MET: 1, Verdict.NOT_JUDGED: 0}
    out: dict[str, Verdict] = {}
    for j in judgements:
        if j.requirement not in out or order[j.verdict] > order[out[j.requirement]]:
            out[j.requirement] = j.verdict
    return out


def compact(value: Any, limit: int = 160) -> str:
    """A short one-line rendering of a value for a message (never Python's repr of None)."""
    if value is None:
        return "nothing"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
