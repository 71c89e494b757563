"""Errors: the OperationOutcome every error carries, and 501 for what the provider does not implement.

The shape of an error is judged on the error each case demands: a request that must be refused and is
served, or refused with another status, is charged to the row that says how it is refused, and the shape
rows are left not judged on it.
"""

from __future__ import annotations

from typing import Any

import pytest

from fixtures import probes
from gpc_assure.checks import http, outcome
from gpc_assure.outcomes import NotApplicable
from gpc_assure.transport.interactions import PREFIX

SHAPE_ROWS = probes.SHAPE_ROWS
D13 = ("D-13: the error table gives INTERNAL_SERVER_ERROR the issue type processing and the page's example uses "
       "exception; the shape check accepts any IssueType and leaves the pairing to the code's own row (ERR-014)")


def shape_checks(*statuses: int) -> tuple:
    return probes.shape(*statuses, reading=D13)


def _invalid_device(gpc) -> dict[str, Any]:
    c = gpc.claims("metadata.read")
    c["requesting_device"] = {**c["requesting_device"], "colour": "blue"}
    return c


# Each case: the statuses it must be refused with, the row that says so, and the request.
ERRORS = {
    "400, a missing Ssp-From header": ((400,), "GEN-HDR-006", lambda gpc: gpc.call(
        "metadata.read", headers={"Ssp-From": None})),
    "400, a token missing its aud claim": ((400,), "JWT-016a", lambda gpc: gpc.call(
        "metadata.read", claims=gpc.claims("metadata.read", aud=...))),
    "400, a wrong verb": ((400,), "GEN-HDR-009", lambda gpc: gpc.call("metadata.read", method="PUT")),
    "404, an unknown location": ((404,), "FND-RL-002", lambda gpc: gpc.call(
        "location.read", path_params={"id": "gpc-assure-unknown-1"})),
    "404, an unknown organisation": ((404,), "FND-RO-002", lambda gpc: gpc.call(
        "organization.read", path_params={"id": "gpc-assure-unknown-1"})),
    # D-02: an invalid claim resource may be refused with 400 or 422 (JWT-017); 422 is judged under 001c.
    "422, an invalid claim resource": ((400, 422), "JWT-017", lambda gpc: gpc.call(
        "metadata.read", claims=_invalid_device(gpc))),
    "501, an unimplemented operation": ((501,), "ERR-013", lambda gpc: gpc.call(
        "metadata.read", method="POST", path="/Patient/$gpc.getcarerecord", body={"resourceType": "Parameters"},
        headers={"Ssp-InteractionID": "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord"})),
    "400 in XML, a missing Ssp-To header": ((400,), "GEN-HDR-006", lambda gpc: gpc.call(
        "metadata.read", headers={"Ssp-To": None, "Accept": http.FHIR_MEDIA["xml"]})),
}


@pytest.mark.title("An error ({case}) carries a well-formed GP Connect OperationOutcome")
@pytest.mark.requirement(*SHAPE_ROWS)
@pytest.mark.parametrize("case", list(ERRORS))
def test_error_outcome(gpc, verify, test_data, case):
    if "XML" in case:
        test_data.capability("xml")
    statuses, refusing, call = ERRORS[case]
    ex = verify.answered(call(gpc))
    verify.needs(ex, http.status(set(statuses), refusing), what="the error whose OperationOutcome is judged")
    verify(ex, *shape_checks(*statuses))


def _declared(gpc, verify) -> tuple[set[str], set[str]]:
    """Resource types and operation names the provider's CapabilityStatement declares."""
    ex = gpc.call("metadata.read", label="what the provider declares")
    probes.answer(verify, ex, "metadata.read", {}, what="the CapabilityStatement that says what is implemented")
    body = probes.body_of(ex) or {}
    rests = [r for r in body.get("rest") or [] if isinstance(r, dict)]
    rest = rests[0] if rests else {}
    types = {r.get("type") for r in rest.get("resource") or [] if isinstance(r, dict)}
    ops = {o.get("name") for o in rest.get("operation") or [] if isinstance(o, dict)}
    return {t for t in types if t}, {o for o in ops if o}


# Requests for GP Connect capabilities outside Foundations and Appointment Management, each with the
# interaction ID GP Connect gives it, so the only thing wrong is that the provider does not implement it.
UNIMPLEMENTED = {
    "Access Record Structured (gpc.getstructuredrecord)": (
        "operation", "gpc.getstructuredrecord", "POST", "/Patient/$gpc.getstructuredrecord",
        PREFIX + "operation:gpc.getstructuredrecord-1"),
    "Access Record HTML (gpc.getcarerecord)": (
        "operation", "gpc.getcarerecord", "POST", "/Patient/$gpc.getcarerecord",
        "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord"),
}

NOT_IMPLEMENTED_READING = ("ERR-501: a request for a capability the provider does not offer is sent with that "
                           "capability's own interaction ID, so 501 NOT_IMPLEMENTED is the only error that fits")


@pytest.mark.title("A request for {case}, which the provider does not implement, is answered 501 NOT_IMPLEMENTED")
@pytest.mark.requirement("ERR-013", "GEN-ERR-001a", "GEN-ERR-001b")
@pytest.mark.parametrize("case", list(UNIMPLEMENTED))
def test_not_implemented(gpc, verify, case):
    kind, name, method, path, interaction_id = UNIMPLEMENTED[case]
    types, ops = _declared(gpc, verify)
    if (kind == "operation" and name in ops) or (kind == "resource" and name in types):
        raise NotApplicable(msg=f"the provider's CapabilityStatement declares {name}, so it is implemented")
    ex = verify.answered(gpc.call("metadata.read", method=method, path=path, body={"resourceType": "Parameters"},
                                  headers={"Ssp-InteractionID": interaction_id}, label=f"{case}"))
    verify(ex, outcome.operation_outcome(501, "NOT_IMPLEMENTED", "ERR-013", issue_code="not-supported",
                                         reading=NOT_IMPLEMENTED_READING),
           *probes.shape(501, rows=("GEN-ERR-001a", "GEN-ERR-001b")))
