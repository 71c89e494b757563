"""The two Send Document spec versions as data: what differs between v1.3 and v2, in one place.

v1.3 is "GP Connect Messaging" (consultation reports only; GitHub site 1.3.0-beta); v2 is "GP Connect
Send Document" (any document type; Simplifier guide 2.0.2). A target chooses one in [mesh]
spec_version; checks and builders take the chosen `SendDocumentSpec`. Where the sources disagree the
value here is the reading the catalogue records (conflict refs SD-C01..SD-C13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CONSULTATION_REPORT = ("371531000", "Report of clinical encounter")


@dataclass(frozen=True)
class SendDocumentSpec:
    version: Literal["v2", "v1.3"]
    label: str
    workflow_id: str
    # Other document workflows a receiver must still accept (v2's transition period for the v1 ID).
    legacy_workflow_ids: tuple[str, ...]
    local_extension: str
    # Values of LocalExtension accepted (SD-C02: the v2 element page says None, the SCAL table NONE).
    local_extensions_accepted: tuple[str, ...]
    recipient_types: tuple[str, ...]
    composition_types: tuple[str, ...]  # SNOMED codes accepted in Composition.type (SD-C06)
    fixed_title: str | None  # Composition.title fixed by the version, if it is
    author_required: bool  # SD-C05: v1 MUST reference a Practitioner, v2 SHOULD when known
    confidentiality: tuple[str, ...]  # Composition.confidentiality codes that may be sent
    receiver_in_header: Literal["forbidden", "discouraged"]
    care_setting_expected: bool  # SD-C07: v2 release notes call careSettingType required
    itk3_version: str  # SD-C12
    subject_pattern: re.Pattern[str]  # SD-C09

    def ack_workflow(self, document_workflow: str | None = None) -> str:
        """The acknowledgement workflow that pairs with a document workflow (a legacy one keeps its own)."""
        return f"{document_workflow or self.workflow_id}_ACK"

    @property
    def document_workflows(self) -> tuple[str, ...]:
        return (self.workflow_id, *self.legacy_workflow_ids)

    def subject(self, *, title: str, patient_name: str, nhs_number: str, practice: str, ods_code: str,
                version: int) -> str:
        if self.version == "v1.3":
            return (f"Consultation report for {patient_name} , NHS Number {nhs_number}, seen at {practice}, "
                    f"ODS Code {ods_code}")
        return (f"{title} for {patient_name}, NHS Number: {nhs_number}, seen at {practice}, ODS code: {ods_code}, "
                f"version {version}")

    def text_summary(self, *, title: str, patient_name: str, nhs_number: str, practice: str, ods_code: str,
                     version: int) -> str:
        """What Composition.text says (v1.3 fixes a template; v2 asks for a readable summary)."""
        if self.version == "v1.3":
            return (f"Consultation report for {patient_name} , NHS Number {nhs_number}, seen at {practice}, "
                    f"ODS Code {ods_code}, Version {version}")
        return (f"{title} for {patient_name}, NHS Number: {nhs_number}, seen at {practice}, ODS code: {ods_code}, "
                f"version {version}")


# Labels may carry a colon or not and any case, commas any spacing (SD-C09: the v1 page, the v2 API page
# and the v2 .CTL page punctuate the same template differently).
_V2_SUBJECT = re.compile(
    r"^(?P<title>\S.*?) for (?P<name>\S.*?)\s*,\s*NHS Number:?\s*(?P<nhs>\d{10})\s*,\s*seen at (?P<practice>\S.*?)"
    r"\s*,\s*ODS code:?\s*(?P<ods>[A-Za-z0-9]+)\s*,\s*version:?\s*(?P<version>\d+)$", re.IGNORECASE)
_V1_SUBJECT = re.compile(
    r"^Consultation report for (?P<name>\S.*?)\s*,\s*NHS Number:?\s*(?P<nhs>\d{10})\s*,\s*seen at "
    r"(?P<practice>\S.*?)\s*,\s*ODS code:?\s*(?P<ods>[A-Za-z0-9]+)(\s*,\s*version:?\s*(?P<version>\d+))?$",
    re.IGNORECASE)

V2 = SendDocumentSpec(
    version="v2", label="GP Connect Send Document 2.0.2 (GPCONNECT_SEND_DOCUMENT)",
    workflow_id="GPCONNECT_SEND_DOCUMENT", legacy_workflow_ids=("GPFED_CONSULT_REPORT",),
    local_extension="None", local_extensions_accepted=("None", "NONE"),
    recipient_types=("FA", "FI"), composition_types=("371531000", "149701000000109"), fixed_title=None,
    author_required=False, confidentiality=("N",), receiver_in_header="discouraged", care_setting_expected=True,
    itk3_version="2.9.0", subject_pattern=_V2_SUBJECT)

V13 = SendDocumentSpec(
    version="v1.3", label="GP Connect Messaging 1.3 (GPFED_CONSULT_REPORT)",
    workflow_id="GPFED_CONSULT_REPORT", legacy_workflow_ids=(),
    local_extension="SendDocument-ConsultationReport",
    local_extensions_accepted=("SendDocument-ConsultationReport",),
    recipient_types=("FA",), composition_types=("371531000",), fixed_title="Consultation report",
    author_required=True, confidentiality=("N", "R"), receiver_in_header="forbidden", care_setting_expected=False,
    itk3_version="2.5.0", subject_pattern=_V1_SUBJECT)

SPECS = {"v2": V2, "v1.3": V13}


def spec_for(version: str) -> SendDocumentSpec:
    return SPECS[version]
