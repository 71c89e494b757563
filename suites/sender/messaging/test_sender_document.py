"""The document Bundle the sender under test sends, and its replacement when the report is updated."""

from __future__ import annotations

import re

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.checks import send_document as sd
from gpc_assure.messaging import itk3

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
def test_document_rule(rid, what, rule, reading, document, message, mesh_setup, verify):
    verify(document.arrival.exchange, sd.message_check(rule, mesh_setup.spec, rid, reading))


@pytest.mark.title("Send Document payload (v2): careSettingType populated")
@pytest.mark.requirement("MSG-SD-055")
@pytest.mark.send_document_version("v2")
def test_care_setting(document, message, mesh_setup, verify):
    verify(document.arrival.exchange, sd.message_check(sd.care_setting, mesh_setup.spec, "MSG-SD-055", "SD-C07"))


def _version(headers, message, spec) -> int | None:
    """The document version the subject (v2) or the narrative (v1.3) states."""
    if spec.version == "v2":
        return mesh_rules.subject_version(headers, spec)
    comp = next(iter(itk3.resources(itk3.document_bundle(message), "Composition")), {})
    m = re.search(r"Version:?\s*(\d+)", sd.narrative_text((comp.get("text") or {}).get("div")), re.IGNORECASE)
    return int(m.group(1)) if m else None


@pytest.mark.title("An updated report replaces the earlier one: relatesTo, version + 1, same SenderReference")
@pytest.mark.requirement("MSG-SD-059", "MSG-SD-035", "MSG-SD-021")
def test_replacement(first_document, replacement_document, mesh_setup, verify, cite):
    if first_document.missing():
        pytest.skip(first_document.missing())
    cite(first_document.arrival.exchange)
    if replacement_document.arrival is None:
        verify.finding("MSG-SD-059", f"no updated report arrived in {replacement_document.waited_s:.1f} s after the "
                                     "system under test was asked to send one")
        return
    cite(replacement_document.arrival.exchange)
    if replacement_document.missing():
        pytest.skip(replacement_document.missing())
    original, replacement = first_document.message, replacement_document.message
    ex = replacement_document.arrival.exchange
    for p in sd.replaces(original, replacement):
        verify.finding("MSG-SD-059", p, exchange=ex)
    before = _version(first_document.headers, original, mesh_setup.spec)
    after = _version(replacement_document.headers, replacement, mesh_setup.spec)
    if before is not None and after is not None and after != before + 1:
        verify.finding("MSG-SD-059", f"the replacement is version {after}; the report it replaces was version {before}",
                       exchange=ex)
    if itk3.sender_reference(original) != itk3.sender_reference(replacement):
        verify.finding("MSG-SD-035", f"the updated report of the same encounter has SenderReference "
                                     f"{itk3.sender_reference(replacement)!r}, the first had "
                                     f"{itk3.sender_reference(original)!r}", exchange=ex)
    ids = [(m.get("identifier") or {}).get("value") for m in (original, replacement)]
    if ids[0] and ids[0] == ids[1]:
        verify.finding("MSG-SD-021", f"both messages have the identifier {ids[0]}; each message needs its own",
                       exchange=ex)
