"""Consumer: reading the CapabilityStatement, finding and reading a patient, registering one."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_foundations as f
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import FOUNDATIONS


@pytest.mark.title("The consumer reads the provider's CapabilityStatement")
@pytest.mark.requirement("FND-CAP-009", "CON-021")
def test_reads_capability_statement(consumer, verify):
    calls = consumer.scenario_calls(FOUNDATIONS)
    for rid in ("FND-CAP-009", "CON-021"):
        verify.rule(rid, "the consumer read the provider's CapabilityStatement (GET /metadata)",
                    lambda: f.read_capability(calls))


@pytest.mark.title("Find a patient sends the NHS number system with the '|' percent-encoded")
@pytest.mark.requirement("FND-FP-001", "CON-005")
def test_find_identifier(consumer, verify):
    finds = consumer.calls(FOUNDATIONS, "find-patient", "patient.find")
    rule = f.find_identifier(consumer.step(FOUNDATIONS, "find-patient").context.get("nhs_number"))
    for c in finds:
        verify(c, per_call(rule, "FND-FP-001"), per_call(rule, "CON-005"))


@pytest.mark.title("A patient is read by the logical id a find returned")
@pytest.mark.requirement("FND-RP-004")
def test_read_uses_found_id(consumer, verify):
    consumer.calls(FOUNDATIONS, "find-patient", "patient.read")
    calls = consumer.journey(FOUNDATIONS).calls()
    verify.rule("FND-RP-004", "every patient read names a logical id an earlier find returned",
                lambda: f.read_after_find(calls))


@pytest.mark.title("Unknown elements are ignored and Bundle.entry.fullUrl is never used")
@pytest.mark.requirement("CON-010")
def test_ignores_unknown_and_full_url(consumer, verify):
    consumer.calls(FOUNDATIONS, "find-patient", "patient.find")
    consumer.calls(FOUNDATIONS, "find-patient", "patient.read")  # it went on despite the unknown content
    calls = consumer.step(FOUNDATIONS, "find-patient").calls
    verify.rule("CON-010", "after a find whose Patient carried unknown content and a decoy fullUrl, the patient "
                "was read by the resource's own id", lambda: f.no_full_url(calls),
                reading="CON-010-PROBE: decoy fullUrl and unknown content")


@pytest.mark.title("A patient is registered only after a find for them came back empty")
@pytest.mark.requirement("CON-006a")
def test_register_after_empty_find(consumer, verify):
    consumer.calls(FOUNDATIONS, "register-patient", "patient.register")
    calls = consumer.step(FOUNDATIONS, "register-patient").calls
    verify.rule("CON-006a", "every register followed a find for the same NHS number that came back empty",
                lambda: f.register_after_empty_find(calls))


@pytest.mark.title("Register posts Parameters with one registerPatient holding a CareConnect-GPC-Patient-1")
@pytest.mark.requirement("FND-REG-001")
def test_register_shape(consumer, verify):
    for c in consumer.calls(FOUNDATIONS, "register-patient", "patient.register"):
        verify(c, per_call(f.register_shape, "FND-REG-001"))


@pytest.mark.title("Register sends the minimum, the recommended details it holds, and nothing else")
@pytest.mark.requirement("FND-REG-002", "FND-REG-003", "FND-REG-004", "CON-007")
def test_register_content(consumer, verify):
    registers = consumer.calls(FOUNDATIONS, "register-patient", "patient.register")
    context = consumer.step(FOUNDATIONS, "register-patient").context
    minimum = f.register_minimum(context.get("nhs_number"))
    recommended = f.register_recommended(context.get("gender") or None)
    for c in registers:
        verify(c, per_call(minimum, "FND-REG-002"), per_call(minimum, "CON-007"),
               per_call(recommended, "FND-REG-003", reading="REG-SHOULD: gender when held"),
               per_call(f.register_nothing_else, "FND-REG-004"), per_call(f.register_nothing_else, "CON-007"))
