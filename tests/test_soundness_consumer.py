"""Soundness self-test, consumer role: consumers that never do what a step asks meet nothing beyond the
justified allowlist, and none passes the gate (tests/soundness_consumer.py)."""

from __future__ import annotations

import shutil

import pytest
import soundness_consumer

pytestmark = pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None,
                                reason="the degenerate consumers need bash and curl")


def _not_met(results, rid):
    return [j for t in results["tests"] for j in t["judgements"]
            if j["requirement"] == rid and j["verdict"] == "not-met"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(soundness_consumer.CONSUMERS))
def test_degenerate_consumer_meets_nothing(name, tmp_path):
    results = soundness_consumer.run_consumer(name, tmp_path)
    bad = soundness_consumer.unexplained(name, results)
    detail = "\n  ".join(f"{rid}: {soundness_consumer.evidence_of(results, rid)}" for rid in bad)
    assert not bad, f"the '{name}' consumer meets requirements the allowlist does not explain:\n  {detail}"
    assert results["_exit"] == 1, f"the '{name}' consumer passed the gate (exit {results['_exit']})"
    assert not [t for t in results["tests"] if t["outcome"] == "error"], results["_stderr"]
    if name == "no-token":
        # No token at all: GEN-HDR-005 is not met and every claim rule is left unjudged, never met.
        verdicts = {r["id"]: r["verdict"] for r in results["requirements"]}
        assert verdicts["GEN-HDR-005"] == "not-met"
        assert {verdicts[rid] for rid in soundness_consumer.TOKEN_REQUIREMENTS[1:]} == {"insufficient-data"}
    if name == "fixed-request":
        # Its garbage requests in the Appointment Management and permissions scenarios are judged too.
        requests = [j.get("request") or "" for j in _not_met(results, "GEN-HDR-004")]
        assert any("/s/app-" in r for r in requests) and any("/s/per-" in r for r in requests), requests
        # Never performing a step is charged to the requirement about performing it.
        assert _not_met(results, "APT-BOOK-001") and _not_met(results, "FND-FP-001")


def test_allowlist_entries_for_consumers_say_why():
    for kind, rows in soundness_consumer.soundness.allowlist().items():
        if not kind.startswith("consumer-"):
            continue
        assert kind.removeprefix("consumer-") in soundness_consumer.CONSUMERS, f"unknown consumer {kind!r}"
        for rid, why in rows.items():
            assert len(why.split()) >= 6, f"{kind}/{rid}: say why in a sentence"


# -- the rules behind it, without a run -------------------------------------------------------------------

def _call(interaction, method="GET", path="/A20047/STU3/1/gpconnect/Patient", status=200, headers=(), body=b"",
          served_by="provider", response=b"{}"):
    from gpc_assure.consumer.recording import CallRecord
    from gpc_assure.transport.exchange import RecordedRequest, RecordedResponse

    request = RecordedRequest(method, "http://sim" + path, list(headers), body)
    return CallRecord(interaction=interaction, request=request,
                      response=RecordedResponse(status, [("content-type", "application/fhir+json")], response),
                      route=path, served_by=served_by, received_at=1.0)


class _Item:
    """Just enough of a pytest item for Verify and ConsumerView.no_request."""

    def __init__(self, *requirements):
        from gpc_assure.plugins.requirements import META, TestMeta

        self.nodeid = "suites/consumer/x.py::test_x"
        self.stash = pytest.Stash()
        self.stash[META] = TestMeta(self.nodeid, "x", "appointments", "consumer", requirements, False)


def _missing(step_name, interactions, calls, requirements=("CON-006b",)):
    from gpc_assure.consumer.journey import StepRecord
    from gpc_assure.consumer.scenarios import APPOINTMENTS, FOUNDATIONS, step
    from gpc_assure.plugins.consumer import ConsumerView
    from gpc_assure.plugins.state import JUDGEMENTS

    scenario = FOUNDATIONS if step_name in ("find-patient", "register-patient") else APPOINTMENTS
    record = StepRecord(step(scenario, step_name), "k", context={"nhs_number": "9690937294"}, calls=calls)
    item = _Item(*requirements)
    view = ConsumerView.__new__(ConsumerView)
    view.item = item
    try:
        view.no_request(record, interactions)
    except BaseException as exc:  # the outcome is the point
        return exc, item.stash.get(JUDGEMENTS, [])
    raise AssertionError("no_request returned")


def test_a_step_never_performed_is_charged_to_the_requirement_about_performing_it():
    own_bad_request = _call("slot.search", status=400, path="/A20047/STU3/1/gpconnect/Slot")
    stop, found = _missing("book-appointment", ("appointment.book",), [own_bad_request])
    assert type(stop).__name__ == "Stopped" and stop.cause == "APT-BOOK-001"
    assert [(j.requirement, j.verdict.value) for j in found] == [("APT-BOOK-001", "not-met")]
    assert "does not excuse" in found[0].message and "no request arrived" in found[0].message


def test_only_a_refusal_the_simulator_planted_excuses_a_missing_request():
    planted = _call("appointment.book", method="POST", status=409, served_by="planted: 409 DUPLICATE_REJECTED")
    stop, found = _missing("book-after-conflict", ("slot.search",), [planted])
    assert type(stop).__name__ == "Stopped" and stop.cause is None and not found
    assert "on purpose" in stop.reason


def test_a_register_step_is_moot_only_when_the_find_returned_that_patient():
    bundle = (b'{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"2",'
              b'"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%s"}]}}]}')
    find = "/A20047/STU3/1/gpconnect/Patient?identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9690937294"
    held = _call("patient.find", path=find, response=bundle % b"9690937294")
    stop, found = _missing("register-patient", ("patient.register",), [held], ("CON-006a",))
    assert type(stop).__name__ == "InsufficientData" and not found
    other = _call("patient.find", path=find, response=bundle % b"9000000009")
    stop, found = _missing("register-patient", ("patient.register",), [other], ("CON-006a",))
    assert stop.cause == "FND-REG-001" and [j.requirement for j in found] == ["FND-REG-001"]


def test_a_request_without_a_token_leaves_the_claim_rules_unjudged():
    from gpc_assure.checks import consumer_headers as h

    bare = _call("patient.find", headers=[("Ssp-TraceID", "x")])
    assert [j.verdict.value for j in h.per_call(h.bearer, "GEN-HDR-005")(bare)] == ["not-met"]
    for rule in (h.fresh, h.unsecured, h.issuer("x"), h.subject, h.audience(["x"]), h.lifetime, h.reason, h.scope,
                 h.device, h.organisation("x"), h.practitioner):
        judged = h.per_call(rule, "JWT-001")(bare)
        assert [j.verdict.value for j in judged] == ["not-judged"], (rule, judged)


def test_a_request_matching_no_interaction_is_a_finding_of_the_rules_that_need_one():
    from gpc_assure.checks import consumer_headers as h

    stray = _call(None, path="/A20047/STU3/1/gpconnect/zz-1", headers=[
        ("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1")])
    found = h.per_call(h.interaction_id, "GEN-HDR-004")(stray)
    assert [j.verdict.value for j in found] == ["not-met"]
    assert "GET /A20047/STU3/1/gpconnect/zz-1 matches no GP Connect interaction" in found[0].message
    assert h.is_gp_connect(stray)
