"""Consumer: a patient-facing app using User Permissions and another Patient Facing API."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_permissions as p
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import PATIENT_FACING, PERMISSIONS, PFS_GET, PFS_POST, PFS_RECORD


def pfs_calls(consumer):
    consumer.calls(PERMISSIONS, "first-sign-in", PFS_GET)
    return consumer.scenario_calls(PERMISSIONS, *PATIENT_FACING)


def journey(consumer):
    return consumer.journey(PERMISSIONS).calls()


@pytest.mark.title("The patient's permissions are read before any other Patient Facing request")
@pytest.mark.requirement("PFS-UPC-001")
def test_permissions_read_first(consumer, verify):
    consumer.calls(PERMISSIONS, "first-sign-in", PFS_RECORD)
    calls = pfs_calls(consumer)
    verify.rule("PFS-UPC-001", "for each patient, a successful permissions read came before any other Patient "
                "Facing request", lambda: p.permissions_first(calls),
                reading="UPC-001-SUCCESS: a successful read first")
    consumer.calls(PERMISSIONS, "documents-not-found", PFS_RECORD)  # the step must have been performed too


@pytest.mark.title("Every request carries an X-Request-ID UUID, re-used when a failed request is retried")
@pytest.mark.requirement("PFS-UPC-011")
def test_request_ids(consumer, verify):
    calls = pfs_calls(consumer)
    verify.rule("PFS-UPC-011", "every request carries an X-Request-ID UUID, and a retry re-uses the failed "
                "request's", lambda: p.request_ids(calls), reading="UPC-011-RETRY: required, re-used on retry")
    # The step whose first read the simulator fails on purpose: its retry (if any) is judged above.
    consumer.calls(PERMISSIONS, "sign-in-after-outage", PFS_GET)


@pytest.mark.title("X-Correlation-ID, when sent, is a UUID without '.'")
@pytest.mark.requirement("PFS-UPC-012")
def test_correlation_ids(consumer, verify):
    check = per_call(p.correlation_id, "PFS-UPC-012", reading="UP-CORRELATION: a UUID")
    for c in pfs_calls(consumer):
        verify(c, check)


@pytest.mark.title("Every request carries the signed-in patient's NHS login bearer token")
@pytest.mark.requirement("PFS-UPC-013")
def test_bearer_token(consumer, verify):
    pfs_calls(consumer)
    for record in consumer.journey(PERMISSIONS).steps.values():
        check = per_call(p.bearer_token(record.context.get("token") or None), "PFS-UPC-013")
        for c in record.of(*PATIENT_FACING):
            verify(c, check)


@pytest.mark.title("Requests accept application/json and application/fhir+json")
@pytest.mark.requirement("PFS-UPC-015")
def test_accept(consumer, verify):
    check = per_call(p.accepts_both, "PFS-UPC-015")
    for c in pfs_calls(consumer):
        verify(c, check)


@pytest.mark.title("Legacy: the app asks only for increases, in one of the three request shapes")
@pytest.mark.requirement("PFS-UPC-008")
def test_requests_increases_only(consumer, verify):
    consumer.calls(PERMISSIONS, "request-more-access", PFS_POST)
    calls = journey(consumer)
    verify.rule("PFS-UPC-008", "every request for a change is one of the three shapes and asks for more than the "
                "patient has", lambda: p.increases_only(calls))
    consumer.calls(PERMISSIONS, "request-refused", PFS_POST)  # the step must have been performed too


@pytest.mark.title("Legacy: the app never asks for more than accessLevelMax")
@pytest.mark.requirement("PFS-UPC-007")
def test_requests_within_maximum(consumer, verify):
    consumer.calls(PERMISSIONS, "request-above-maximum", PFS_GET)
    calls = journey(consumer)
    verify.rule("PFS-UPC-007", "no request for a change asks for more than the accessLevelMax the app was shown",
                lambda: p.within_maximum(calls))
