"""The document Bundle the sender under test sends, and its replacement when the report is updated."""

from __future__ import annotations

import re

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.checks import send_document as sd
from gpc_assure.checks.core import Check
from gpc_assure.messaging import itk3
from gpc_assure.messaging.practice import READABLE, arrived, readable

RULES = [
    ("MSG-SD-040", "a document Bundle with its profile and own identifier", sd.document_bundle, "DOC-IDENTIFIER"),
    ("MSG-SD-041", "one Composition, first", sd.one_composition, None),
    ("MSG-SD-042", "every resource names its profile", sd.payload_profiles, None),
    ("MSG-SD-043", "Composition.status final", sd.composition_status, None),
    ("MSG-SD-044", "Composition.type an approved SNOMED CT code", sd.composition_type, "SD-C06"),
    ("MSG-SD-045", "Composition.date when the message was made", sd.composition_date, None),
    ("MSG-SD-046", "Composition.title", sd.composition_title, None),
    ("MSG-SD-047", "Composition.text filled in", sd.composition_text, None),
    ("MSG-SD-048", "Composition.subject is the Patient", sd.composition_subject, None),
    ("MSG-SD-049", "Composition.author resolves", sd.composition_author, "SD-C05"),
    ("MSG-SD-050", "Composition.custodian is the sending organisation", sd.composition_custodian, None),
    ("MSG-SD-051", "a section per attachment", sd.sections, None),
    ("MSG-SD-052", "attachments inline, base64, the report a PDF", sd.binaries, None),
    ("MSG-SD-053", "one document per message", sd.one_document, None),
    ("MSG-SD-054", "confidentiality the version allows", sd.confidentiality, None),
    ("MSG-SD-056", "the sending Organization: ODS code, name, phone", sd.sending_organization, None),
    ("MSG-SD-057", "the Practitioner: SDS user ID, official name", sd.practitioners, None),
    ("MSG-SD-058", "the Patient: NHS number, official name, birth date", sd.patient_details, "SD-C11"),
]


@pytest.mark.title("Send Document payload: {what}")
@pytest.mark.parametrize(("rid", "what", "rule", "reading"),
                         [pytest.param(*r, id=r[0], marks=pytest.mark.requirement(r[0])) for r in RULES])
def test_document_rule(rid, what, rule, reading, document, mesh_setup, verify):
    message = readable(verify, document)
    verify(document.arrival.exchange, sd.message_check(rule, mesh_setup.spec, rid, reading, message, name=what))


@pytest.mark.title("Send Document payload (v2): careSettingType populated")
@pytest.mark.requirement("MSG-SD-055")
@pytest.mark.send_document_version("v2")
def test_care_setting(document, mesh_setup, verify):
    message = readable(verify, document)
    verify(document.arrival.exchange, sd.message_check(sd.care_setting, mesh_setup.spec, "MSG-SD-055", "SD-C07",
                                                       message, name="careSettingType holds a SNOMED CT code"))


def _version(headers, message, spec) -> int | None:
    """The document version the subject (v2) or the narrative (v1.3) states."""
    if spec.version == "v2":
        return mesh_rules.subject_version(headers, spec)
    comp = next(iter(itk3.resources(itk3.document_bundle(message), "Composition")), {})
    m = re.search(r"Version:?\s*(\d+)", sd.narrative_text((comp.get("text") or {}).get("div")), re.IGNORECASE)
    return int(m.group(1)) if m else None


def _readable_body(arrival) -> Check:
    return Check(READABLE, lambda ex: mesh_rules.body_is_message(arrival.message.headers, arrival.message.body),
                 "the MESH body is the FHIR message Bundle")


@pytest.mark.title("An updated report replaces the earlier one: relatesTo, version + 1, same SenderReference")
@pytest.mark.requirement("MSG-SD-059", "MSG-SD-035", "MSG-SD-021")
def test_replacement(first_document, replacement, mesh_setup, verify, cite):
    original = readable(verify, first_document)
    cite(first_document.arrival.exchange)
    if replacement.arrival is None and replacement.blocked is None:
        verify.finding("MSG-SD-059", f"{replacement.nothing_arrived()} after the system under test was asked to "
                                     "send an updated report of the same encounter",
                       exchange=replacement.trigger_exchange)
        verify.stop("no updated report arrived", cause="MSG-SD-059")
    a = arrived(verify, replacement)
    # The update's body must be the FHIR message too: that is MSG-SD-002's, charged there if it is not.
    verify.needs(a.exchange, _readable_body(a), what="the updated report")
    updated = replacement.message
    ex = a.exchange
    verify.rule("MSG-SD-059", "the replacement's Composition.relatesTo replaces the earlier document's identifier",
                lambda: sd.replaces(original, updated), exchange=ex)
    before = _version(first_document.headers, original, mesh_setup.spec)
    after = _version(replacement.headers, updated, mesh_setup.spec)
    where = "Mex-Subject" if mesh_setup.spec.version == "v2" else "the narrative"
    if before is not None and after is not None:
        verify.that(after == before + 1, "MSG-SD-059",
                    f"the replacement is version {after}; the report it replaces was version {before}",
                    held=f"the replacement's version in {where} is one more than the report it replaces", exchange=ex)
    else:
        verify.not_judged("MSG-SD-059", f"{where} states no version for "
                                        f"{'the earlier report' if before is None else 'the replacement'}",
                          exchange=ex)
    first_ref, second_ref = itk3.sender_reference(original), itk3.sender_reference(updated)
    if first_ref and second_ref:
        verify.that(first_ref == second_ref, "MSG-SD-035",
                    f"the updated report of the same encounter has SenderReference '{second_ref}', the first had "
                    f"'{first_ref}'", held="the updated report keeps the encounter's SenderReference", exchange=ex)
    else:
        verify.not_judged("MSG-SD-035", "a SenderReference to compare is missing (judged by the MSG-SD-035 "
                                        "message test)", cause="MSG-SD-035", exchange=ex)
    ids = [(m.get("identifier") or {}).get("value") for m in (original, updated)]
    if ids[0] and ids[1]:
        verify.that(ids[0] != ids[1], "MSG-SD-021", f"both messages have the identifier {ids[0]}; each message "
                                                    "needs its own",
                    held="the updated report's message has an identifier of its own", exchange=ex)
    else:
        verify.not_judged("MSG-SD-021", "a message identifier to compare is missing (judged by the MSG-SD-021 "
                                        "message test)", cause="MSG-SD-021", exchange=ex)
