"""Send Document builders, ITK3 responses and their rules, without MESH: fast and exact.

- the builder's message passes every sender rule in both spec versions, and is valid STU3;
- each reference sender fault that changes the message trips exactly the rules of the requirements it
  names (the mutation self-test proves the same end to end, through mesh-sandbox);
- responses built for every ITK3 code pass the response rules, and the sequence rules catch order,
  count and finality problems;
- the reference receiver's validation answers every negative case with a code the case accepts;
- MESH metadata and token rules accept the templates' variants and catch reuse, case and stale times.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import types

import pytest

from gpc_assure.checks import itk3 as response_rules
from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.checks import send_document as sd
from gpc_assure.checks.core import NotJudged
from gpc_assure.fhir.parse import model_for, validate_structure
from gpc_assure.mesh import auth
from gpc_assure.messaging import itk3
from gpc_assure.messaging.cases import NEGATIVE_CASES, baseline, oversized_pdf
from gpc_assure.messaging.document import Clinician, DocumentDetails, Organisation, PatientDetails, build, mesh_to
from gpc_assure.messaging.harness import MeshSetup
from gpc_assure.messaging.spec import SPECS, V2, V13
from gpc_assure.reference.faults import ActiveFaults, registry
from gpc_assure.reference.messaging.receiver import ReferenceReceiver
from gpc_assure.reference.messaging.sender import MUTATIONS

PATIENT = PatientDetails("9000000017", "Jackson", ("Jane",), "1952-05-31", ("Miss",), "female")
ORG = Organisation("B82617", "Crossroads Urgent Care", "03003039999")
AUTHOR = Clinician("G22345655", "Gupta", ("Ravi",), ("Dr",), "03003039999")


def message(spec, **kw):
    return build(spec, patient=PATIENT, sender=ORG, author=AUTHOR, source_mailbox="GPCASENDER",
                 document=DocumentDetails(sender_reference="encounter-1", **kw))


def all_problems(msg, spec):
    found = sd.message_problems(msg, spec)
    # The two rules that also need MESH's view: when it arrived, and from which mailbox.
    stale = sd.problems_of(sd.header_timestamp, msg, spec, sent_at=dt.datetime.now(dt.UTC))
    if stale:
        found["MSG-SD-027"] = stale
    try:
        elsewhere = mesh_rules.source_is_sender({"mex-from": "GPCASENDER"}, msg)
    except NotJudged:
        elsewhere = []
    if elsewhere:
        found["MSG-SD-026"] = elsewhere
    return found


@pytest.mark.parametrize("version", SPECS)
def test_built_message_passes_every_rule_and_is_valid_stu3(version):
    spec = SPECS[version]
    out = message(spec, version=2, replaces="0b4d2d4e-0000-4000-8000-000000000001")
    assert validate_structure(out.bundle, "Bundle") == []
    assert all_problems(out.bundle, spec) == {}
    headers = {"mex-to": out.mesh.to, "mex-subject": out.mesh.subject, "mex-localid": out.mesh.local_id,
               "mex-workflowid": out.mesh.workflow_id, "mex-from": "GPCASENDER",
               "mex-content-type": out.mesh.content_type}
    assert mesh_rules.body_is_message(headers, out.body()) == []
    assert mesh_rules.workflow(headers, spec) == []
    assert mesh_rules.demographic_address(headers) == []
    assert mesh_rules.address_matches_patient(headers, out.bundle) == []
    assert mesh_rules.subject(headers, out.bundle, spec) == []
    assert mesh_rules.local_id(headers, out.bundle) == []
    assert mesh_rules.source_is_sender(headers, out.bundle) == []


@pytest.mark.parametrize("version", SPECS)
def test_built_message_meets_every_rule(version):
    """Every rule judged the built message and found it right: met, never merely not judged."""
    spec = SPECS[version]
    verdicts = sd.message_verdicts(message(spec).bundle, spec)
    expected = {rid: "met" for rid in sd.MESSAGE_RULES}
    if not spec.care_setting_expected:
        expected["MSG-SD-055"] = "not-judged"
    assert verdicts == expected


@pytest.mark.parametrize("body", [
    {"resourceType": "Patient", "id": "p"},
    {"resourceType": "Bundle", "type": "message"},
    {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "MessageHeader"}}]},
], ids=["a Patient", "an empty message Bundle", "a bare MessageHeader"])
def test_a_message_without_its_parts_meets_no_rule(body):
    """A rule whose subject is absent is not judged, never met: what is missing is one rule's finding."""
    verdicts = sd.message_verdicts(body, V2)
    assert "met" not in {v for rid, v in verdicts.items() if rid != "MSG-SD-029"}, verdicts
    assert verdicts["MSG-SD-021"] == "not-met"
    # MSG-SD-029 (no destination) holds of a MessageHeader that has none, whatever else it lacks.
    assert verdicts["MSG-SD-029"] == ("met" if "entry" in body else "not-judged")


def test_response_rules_need_a_response():
    with pytest.raises(NotJudged) as why:
        response_rules.count_and_order([])
    assert why.value.cause == "MSG-SD-093"
    assert response_rules.infrastructure_ack([])  # none arrived: the requirement about answering is not met
    assert response_rules.business_ack([])
    with pytest.raises(NotJudged):
        response_rules.negative_is_final([])


def test_versions_differ_where_the_specs_do():
    v2, v13 = message(V2), message(V13)
    assert v2.mesh.workflow_id == "GPCONNECT_SEND_DOCUMENT" and v13.mesh.workflow_id == "GPFED_CONSULT_REPORT"
    assert itk3.handling(itk3.message_header(v2.bundle))["LocalExtension"] == "None"
    assert itk3.handling(itk3.message_header(v13.bundle))["LocalExtension"] == "SendDocument-ConsultationReport"
    assert mesh_to(PATIENT) == "GPPROVIDER_9000000017_31051952_Jackson"
    # Judged against the other version, each message breaks that version's rules.
    assert "MSG-SD-036" in sd.message_problems(v2.bundle, V13)
    assert "MSG-SD-055" in sd.message_problems(v13.bundle, V2)


def test_xml_and_json_read_the_same():
    out = message(V2)
    xml = model_for("Bundle").model_validate(out.bundle).model_dump_xml()
    again = itk3.parse_message(xml, "application/fhir+xml")
    assert sd.message_problems(again, V2) == {}
    assert itk3.message_header(again)["id"] == out.header_id
    with pytest.raises(itk3.UnreadableMessage):
        itk3.parse_message(b"not FHIR at all")
    with pytest.raises(itk3.UnreadableMessage):
        itk3.parse_message(b'{"no": "resourceType"}')


SENDER_MESSAGE_FAULTS = sorted(n for n in MUTATIONS)


@pytest.mark.parametrize("name", SENDER_MESSAGE_FAULTS)
def test_sender_fault_trips_exactly_its_rules(name):
    fault = registry()[name]
    sender = types.SimpleNamespace(spec=V2, org=ORG)
    out = message(V2)
    MUTATIONS[name](out, sender)
    found = set(all_problems(out.bundle, V2))
    in_scope = set(fault.breaks) & (set(sd.MESSAGE_RULES))
    assert found == in_scope, f"{name}: rules reporting {sorted(found)}, fault breaks {sorted(fault.breaks)}"


@pytest.mark.parametrize("code", sorted(itk3.RESPONSE_CODES))
def test_built_responses_pass_the_response_rules(code):
    bundle = itk3.build_response(responds_to="hdr-1", sender_reference="ref-1", code=code, from_mailbox="RX1",
                                 ods_code="A20047", diagnostics="why it failed")
    assert validate_structure(bundle, "Bundle") == []
    r = itk3.read_response(json.loads(json.dumps(bundle)))
    assert (r.itk_code, r.responds_to, r.sender_reference) == (code, "hdr-1", "ref-1")
    assert response_rules.response_header(r, "ref-1") == []
    assert response_rules.response_link(r, "hdr-1") == []
    assert response_rules.outcome_mapping(r) == []
    if itk3.RESPONSE_CODES[code].positive:  # only a negative response explains an error
        with pytest.raises(NotJudged):
            response_rules.diagnostics(r)
    else:
        assert response_rules.diagnostics(r) == []
    assert response_rules.no_patient_data(r, ["9000000017", "Jackson"]) == []


def _responses(*codes: str) -> list[itk3.Response]:
    return [itk3.read_response(itk3.build_response(responds_to="h", sender_reference="r", code=c, from_mailbox="M",
                                                   ods_code="X1", diagnostics="d")) for c in codes]


def test_sequence_rules():
    good = _responses("20013", "30001")
    assert response_rules.count_and_order(good) == []
    assert response_rules.infrastructure_ack(good, expected="20013") == []
    assert response_rules.business_ack(good, expected="30001") == []
    with pytest.raises(NotJudged):  # nothing negative arrived: nothing to see follow one
        response_rules.negative_is_final(good)
    assert response_rules.negative_is_final(_responses("20013", "30002")) == []
    assert response_rules.count_and_order(_responses("30001", "20013"))  # business first
    assert response_rules.count_and_order(_responses("20013", "30001", "30001"))  # three
    assert response_rules.infrastructure_ack(_responses("30001"))  # none
    assert response_rules.business_ack(_responses("20013"))  # missing
    with pytest.raises(NotJudged) as why:  # a negative InfAck ends the exchange: no business response is due
        response_rules.business_ack(_responses("20009"))
    assert why.value.cause == "MSG-SD-093"
    assert response_rules.negative_is_final(_responses("20009", "30001"))
    assert response_rules.infrastructure_ack(_responses("20015")) == []  # SD-C04: the CodeSystem's range


def test_response_mistakes_are_found():
    r = _responses("20013")[0]
    header = r.header
    header["event"]["code"] = "ITK007C"
    assert response_rules.response_header(r, "r")
    assert response_rules.response_link(r, "another-id")
    r.outcome["issue"][0]["severity"] = "warning"
    assert response_rules.outcome_mapping(r)
    neg = _responses("20009")[0]
    neg.outcome["issue"][0].pop("diagnostics")
    assert response_rules.diagnostics(neg)


@pytest.fixture(scope="module")
def setup() -> MeshSetup:
    return MeshSetup(spec=V2, url="http://127.0.0.1:1", shared_key="k", suite_mailboxes={"SUITE": "p"},
                     reply_mailbox=None, sut_sender_mailbox="S", sut_receiver_mailbox="R",
                     document_workflow=V2.workflow_id, ack_wait_s=1, settle_s=0, poll_interval_s=0.01,
                     suite_org=ORG, suite_author=AUTHOR, max_attachment_bytes=200_000)


def _receiver(limit: int) -> ReferenceReceiver:
    return ReferenceReceiver(None, V2, "A20047", {"9000000017": "active"}, ActiveFaults(), 0.01,  # type: ignore[arg-type]
                             limit)


@pytest.mark.parametrize("case", [c for c in NEGATIVE_CASES if c.business is None and not c.name == "unreadable"],
                         ids=lambda c: c.name)
def test_reference_receiver_refuses_each_negative_case(case, setup):
    out = baseline(setup, PATIENT, pdf=oversized_pdf(200_000) if case.oversized else None)
    if not case.oversized:
        assert _receiver(200_000).validate(copy.deepcopy(out.bundle), None).code == itk3.INF_SUCCESS  # type: ignore[arg-type]
    assert (case.mutate(out, setup) if case.mutate else None) is None
    assert _receiver(200_000).validate(out.bundle, None).code in case.infrastructure  # type: ignore[arg-type]


@pytest.mark.parametrize("subject", [
    "Consultation report for Jane Jackson, NHS Number: 9000000017, seen at Crossroads Urgent Care, ODS code: B82617, "
    "version 1",
    "Consultation report for Jane Jackson , NHS Number 9000000017 , seen at Crossroads Urgent Care, ODS Code B82617, "
    "Version: 1",
])
def test_v2_subject_variants_are_accepted(subject):
    assert V2.subject_pattern.match(subject)


def test_subject_templates_refuse_what_they_should():
    assert V13.subject_pattern.match("Consultation report for Jane Jackson , NHS Number 9000000017, seen at "
                                     "Crossroads Urgent Care, ODS Code B82617")
    assert not V2.subject_pattern.match("Report: Jane Jackson (Crossroads Urgent Care)")
    assert not V13.subject_pattern.match("Discharge summary for Jane Jackson, NHS Number 9000000017, seen at X, "
                                         "ODS Code B82617")


def _record(mailbox: str, token: str, at: dt.datetime, path_mailbox: str | None = None) -> dict:
    return {"method": "GET", "path": f"/messageexchange/{path_mailbox or mailbox}/inbox",
            "at": at.isoformat(), "auth": auth.parse(token).as_dict(), "headers": {}}


def test_token_rules():
    now = dt.datetime.now(dt.UTC)
    fresh = [_record("MB1", auth.token("MB1", "pw", "key"), now) for _ in range(3)]
    assert mesh_rules.tokens(fresh, "MB1") == []
    reused = auth.token("MB1", "pw", "key")
    assert any("reuses nonce" in p for p in mesh_rules.tokens([_record("MB1", reused, now)] * 2, "MB1"))
    lower = _record("mb1", auth.token("mb1", "pw", "key"), now)
    assert mesh_rules.tokens([lower], "MB1")
    old = _record("MB1", auth.token("MB1", "pw", "key", when=now - dt.timedelta(hours=3)), now)
    assert any("more than" in p for p in mesh_rules.tokens([old], "MB1"))
    with pytest.raises(NotJudged):  # no request from the mailbox: nothing to judge, never "met"
        mesh_rules.tokens([], "MB1")
    assert "hash" not in json.dumps(auth.parse(reused).as_dict()).replace("hash_present", "")


def test_mex_from_rule():
    rec = {"method": "POST", "path": "/messageexchange/MB1/outbox", "headers": {"mex-from": "B82617"}}
    assert mesh_rules.mex_from([rec], "MB1")
    rec["headers"]["mex-from"] = "MB1"
    assert mesh_rules.mex_from([rec], "MB1") == []
    rec["headers"].pop("mex-from")
    with pytest.raises(NotJudged):  # no Mex-From sent: nothing to judge (it is not required, SD-C13)
        mesh_rules.mex_from([rec], "MB1")
    with pytest.raises(NotJudged):
        mesh_rules.mex_from([], "MB1")
