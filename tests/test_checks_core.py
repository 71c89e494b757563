"""The check contract and the verdict model, on hand-made exchanges and test records (fast, no server)."""

from __future__ import annotations

import json

import pytest

from gpc_assure.checks import core, http, outcome, resources
from gpc_assure.checks.core import ERROR, Check, Finding, NotJudged, Verdict, holding
from gpc_assure.report import results
from gpc_assure.requirements import Catalogue, Requirement
from gpc_assure.transport.exchange import Exchange, RecordedRequest, RecordedResponse


def exchange(status: int | None = 200, body: object = b"", headers: dict[str, str] | None = None) -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = list((headers if headers is not None else {"Content-Type": "application/fhir+json;charset=utf-8"}).items())
    response = None if status is None else RecordedResponse(status, hdrs, raw)
    return Exchange("patient.read", RecordedRequest("GET", "http://127.0.0.1/Patient/1", []), response,
                    error=None if status is not None else "timed out", evidence_file="exchanges/00001.json")


def verdicts(found: list[core.Judgement]) -> list[str]:
    return [j.verdict.value for j in found]


def test_a_rule_that_finds_nothing_is_met_and_names_what_it_checked():
    c = Check("R-1", lambda ex: [], "the thing holds")
    [j] = c(exchange())
    assert j.verdict is Verdict.MET and j.message == "the thing holds" and j.exchange == "exchanges/00001.json"


def test_no_response_is_not_met_a_failed_guard_is_not_judged():
    c = Check("R-1", lambda ex: [], "x", needs=(ERROR,))
    assert verdicts(c(exchange(None))) == ["not-met"]
    [j] = c(exchange(200))
    assert j.verdict is Verdict.NOT_JUDGED and "no error response came back" in j.message


def test_not_judged_raised_by_the_rule_and_problems_become_findings():
    def rule(ex):
        raise NotJudged("nothing of the kind")

    assert verdicts(Check("R-1", rule, "x")(exchange())) == ["not-judged"]
    found = Check("R-1", lambda ex: ["a", Finding("", "b", path="p")], "x")(exchange())
    assert verdicts(found) == ["not-met", "not-met"] and found[1].path == "p"


def test_a_finding_for_another_requirement_is_a_suite_defect():
    with pytest.raises(ValueError):
        Check("R-1", lambda ex: [Finding("R-2", "b")], "x")(exchange())


def test_each_of_is_met_only_when_it_judged_something():
    def rule(item):
        if item is None:
            raise NotJudged("nothing here")
        return []

    with pytest.raises(NotJudged):
        core.each_of([], rule, "no items")
    with pytest.raises(NotJudged, match="nothing here"):
        core.each_of([None, None], rule, "no items")
    assert core.each_of([None, 1], rule, "no items") == []


def test_either_is_met_by_any_alternative_and_not_judged_when_none_judged():
    a = http.status(400, "R-1")
    b = http.status(422, "R-1")
    assert verdicts(core.either(a, b)(exchange(422))) == ["met"]
    assert verdicts(core.either(a, b)(exchange(200))) == ["not-met"]
    assert verdicts(core.either(a.needing(ERROR), b.needing(ERROR))(exchange(200))) == ["not-judged"]


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, b"", "not-judged"),  # no error came back
    (500, b"", "not-met"),  # a 500 without an OperationOutcome
    (405, b"", "not-judged"),  # a 405 need not carry one
    (500, {"resourceType": "Patient"}, "not-met"),
])
def test_error_outcome_judges_only_errors(status, body, expected):
    assert verdicts(outcome.error_outcome("GEN-ERR-001a")(exchange(status, body))) == [expected]


def test_diagnostics_need_an_operation_outcome():
    c = outcome.diagnostics("GEN-ERR-001c", statuses=(422,))
    assert verdicts(c(exchange(200, {"resourceType": "OperationOutcome"}))) == ["not-judged"]
    assert verdicts(c(exchange(422, b"<html>"))) == ["not-judged"]
    oo = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
    assert verdicts(c(exchange(422, oo))) == ["not-met"]
    oo["issue"][0]["diagnostics"] = "start is not a date"
    assert verdicts(c(exchange(422, oo))) == ["met"]


def test_charset_is_not_judged_on_an_empty_body():
    assert verdicts(http.charset_utf8("GEN-CT-006a")(exchange(200, b"", {}))) == ["not-judged"]
    assert verdicts(http.charset_unspaced("GEN-CT-006b")(exchange(200, b"{}", {}))) == ["not-judged"]


def test_resource_rules_are_met_only_on_a_resource_of_their_type():
    def rule(p):
        return [] if p.get("active") else ["not active"]

    c = resources.each("Patient", rule, "R-1")
    assert verdicts(c(exchange(200, b""))) == ["not-judged"]
    assert verdicts(c(exchange(200, {"resourceType": "Bundle", "type": "searchset"}))) == ["not-judged"]
    assert verdicts(c(exchange(200, {"resourceType": "Patient", "active": True}))) == ["met"]
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}
    [j] = c(exchange(200, bundle))
    assert j.verdict is Verdict.NOT_MET and j.path == "entry[0].resource"


def test_holding_names_what_was_there_instead():
    why = holding("Slot")(exchange(200, {"resourceType": "OperationOutcome"}))
    assert why is not None and "no Slot" in why and "OperationOutcome" in why


# -- verdicts from judgements ----------------------------------------------------------------------

def _catalogue(*ids: str) -> Catalogue:
    return Catalogue(Requirement(id=i, statement=f"{i}.", level="SHALL", actor="provider", flow="foundations",
                                 spec="GP Connect", spec_version="1.2.7", source="page", verification="automated")
                     for i in ids)


def _record(tid: str, outcome_: str, names: list[str], *judgements: tuple[str, str, str]) -> dict:
    return {"id": tid, "title": tid, "outcome": outcome_, "requirements": names, "message": "",
            "judgements": [{"requirement": r, "verdict": v, "message": m, "exchanges": [], "count": 1,
                            **({"cause": m.split("cause=")[1]} if "cause=" in m else {})}
                           for r, v, m in judgements]}


def _verdicts(records: list[dict], *ids: str) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in results.requirement_verdicts(_catalogue(*ids), records, None, None)}


def test_a_passed_test_without_a_met_judgement_meets_nothing():
    recs = [_record("t1", "passed", ["A", "B"], ("A", "met", "ok"), ("B", "not-judged", "no error came back"))]
    assert _verdicts(recs, "A", "B") == {"A": "met", "B": "insufficient-data"}


def test_a_failure_on_one_requirement_says_nothing_about_the_others():
    recs = [_record("t1", "failed", ["A", "B"], ("A", "not-met", "wrong"), ("B", "not-judged", "stopped"))]
    assert _verdicts(recs, "A", "B") == {"A": "not-met", "B": "insufficient-data"}


def test_not_met_beats_met_and_a_precondition_is_charged_to_its_own_requirement():
    recs = [_record("t1", "passed", ["A"], ("A", "met", "ok")),
            _record("t2", "failed", ["B"], ("A", "not-met", "book answered 200"),
                    ("B", "not-judged", "stopped cause=A"))]
    v = _verdicts(recs, "A", "B")
    assert v == {"A": "not-met", "B": "insufficient-data"}
    [cause] = results.root_causes(recs, results.requirement_verdicts(_catalogue("A", "B"), recs, None, None))
    assert cause["requirement"] == "A" and cause["unjudged"] == ["B"] and cause["finding"] == "book answered 200"


def test_aggregate_folds_repeated_judgements():
    j = {"requirement": "A", "verdict": "met", "message": "ok", "check": "ok", "exchange": "e1"}
    folded = results.aggregate([j, {**j, "exchange": "e2"}, {**j, "exchange": "e2"}])
    assert len(folded) == 1 and folded[0]["count"] == 3 and folded[0]["exchanges"] == ["e1", "e2"]
