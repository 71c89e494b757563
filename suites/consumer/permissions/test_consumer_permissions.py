"""Consumer: a patient-facing app using User Permissions and another Patient Facing API."""

from __future__ import annotations

import pytest

from gpc_assure.checks import consumer_permissions as p
from gpc_assure.checks.consumer_headers import per_call
from gpc_assure.consumer.scenarios import PERMISSIONS, PFS_GET, PFS_POST, PFS_RECORD


def findings(verify, problems, requirement, reading=None):
    for problem in problems:
        verify.finding(requirement, problem, reading=reading)


def pfs_calls(consumer):
    consumer.calls(PERMISSIONS, "first-sign-in", PFS_GET)
    return consumer.scenario_calls(PERMISSIONS, PFS_GET, PFS_POST, PFS_RECORD)


@pytest.mark.title("The patient's permissions are read before any other Patient Facing request")
@pytest.mark.requirement("PFS-UPC-001")
def test_permissions_read_first(consumer, verify):
    consumer.calls(PERMISSIONS, "first-sign-in", PFS_RECORD)
    findings(verify, p.permissions_first(pfs_calls(consumer)), "PFS-UPC-001",
             reading="UPC-001-SUCCESS: a successful read first")


@pytest.mark.title("Every request carries an X-Request-ID UUID, re-used when a failed request is retried")
@pytest.mark.requirement("PFS-UPC-011")
def test_request_ids(consumer, verify):
    calls = pfs_calls(consumer)
    findings(verify, p.request_ids(calls), "PFS-UPC-011", reading="UPC-011-RETRY: required, re-used on retry")
    # The step whose first read the simulator fails on purpose: its retry (if any) is judged above.
    consumer.calls(PERMISSIONS, "sign-in-after-outage", PFS_GET)


@pytest.mark.title("X-Correlation-ID, when sent, is a UUID without '.'")
@pytest.mark.requirement("PFS-UPC-012")
def test_correlation_ids(consumer, verify):
    for c in pfs_calls(consumer):
        verify(c, per_call(p.correlation_id, "PFS-UPC-012", reading="UP-CORRELATION: a UUID"))


@pytest.mark.title("Every request carries the signed-in patient's NHS login bearer token")
@pytest.mark.requirement("PFS-UPC-013")
def test_bearer_token(consumer, verify):
    pfs_calls(consumer)
    for record in consumer.journey(PERMISSIONS).steps.values():
        rule = p.bearer_token(record.context.get("token") or None)
        for c in record.of(PFS_GET, PFS_POST, PFS_RECORD):
            verify(c, per_call(rule, "PFS-UPC-013"))


@pytest.mark.title("Requests accept application/json and application/fhir+json")
@pytest.mark.requirement("PFS-UPC-015")
def test_accept(consumer, verify):
    for c in pfs_calls(consumer):
        verify(c, per_call(p.accepts_both, "PFS-UPC-015"))


@pytest.mark.title("Legacy: the app asks only for increases, in one of the three request shapes")
@pytest.mark.requirement("PFS-UPC-008")
def test_requests_increases_only(consumer, verify):
    consumer.calls(PERMISSIONS, "request-more-access", PFS_POST)
    findings(verify, p.increases_only(consumer.journey(PERMISSIONS).calls()), "PFS-UPC-008")


@pytest.mark.title("Legacy: the app never asks for more than accessLevelMax")
@pytest.mark.requirement("PFS-UPC-007")
def test_requests_within_maximum(consumer, verify):
    consumer.calls(PERMISSIONS, "request-above-maximum", PFS_GET)
    findings(verify, p.within_maximum(consumer.journey(PERMISSIONS).calls()), "PFS-UPC-007")
