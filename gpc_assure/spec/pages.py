"""The specification page behind each catalogue `source`: its published title and its public address.

A requirement's `source` (profiles/requirements/*.toml) names where its rule is written, in the words
of our reference notes: a GP Connect page file ("foundations_use_case_find_a_patient.md (Error
handling)"), a Simplifier guide page, an ITK3 page, a FHIR profile, an official test-suite feature file,
an NHS catalogue page, or our own notes. Several may be named, separated by ";". `page(source)` gives
the one a SCAL row links to (the first specification page named, else the first artefact), `pages`
gives all of them, each as a `Page`: the title the publication gives the page, the publication, the
part of the page the source points at, and the public URL. Where there is no public page the URL is
empty and `note` says why (our own notes; an NHS page whose address the notes do not give); where the
thing cited is a file in an NHS repository rather than a page (a feature file, a profile's XML, an old
version of an OpenAPI document), the URL is that file's address in the repository.

How each publication's addresses were confirmed (nothing here is guessed from a file name alone):
- GP Connect 1.2.7 (nhsconnect/gpconnect at 0989f456, the snapshot our notes read as 1.2.7): published
  at https://developer.nhs.uk/apis/gpconnect-1-2-7/<permalink>; the titles and permalinks below are the
  pages' own front matter (a permalink is not always the file name, e.g. the slot-availability page).
- GP Connect Messaging 1.3 (nhsconnect/gpconnect-messaging, release/1.3.0): published at
  https://developer.nhs.uk/apis/gpconnect-messaging-1-3/<permalink>; titles and permalinks from front
  matter (the requirement and user-story tables are rendered on the "Requirements list" and "User
  stories" pages).
- GP Connect Send Document (Simplifier guide, 2.x): https://simplifier.net/guide/gp-connect-send-document
  (named in the notes); pages are at Home/<path of the page in the guide>, as NHS's own SCAL page links
  them (e.g. Home/Build/Supplier-Conformance-Assessment-List, Home/Build/How-to-configure-MESH,
  Home/FHIR-Assets/All-assets/Profiles/Profile--CareConnect-Organization-1); a profile element's
  guidance is a section of its profile's page.
- ITK3 Messaging Distribution: https://developer.nhs.uk/apis/itk3messagedistribution/<permalink>, the
  address NHS's own Send Document pages link to; titles from the pages' front matter.
- GP Connect (Patient Facing) User Management guide (Simplifier):
  https://simplifier.net/guide/GP-Connect-Patient-Facing-User-Management/Home/<path>, pages located by
  the guide's backup (NHSDigital/IOPS-FHIR-Simplifier-Backup).
- User Permissions API: the NHS API catalogue page (current version); the legacy version (GET and POST,
  before commit 5b54305) exists only in the repository history, so its link is the file at that commit.
- NHS API catalogue pages (Access Record: HTML; MESH API) and the RM213 roadmap item: their public
  addresses as the notes and the public pages give them.
Titles are the publications' own page titles (Simplifier page names with their hyphens read as spaces);
no text of the specifications is copied here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["page", "artefact", "none", "notes", "unknown"]

GPC127 = "GP Connect 1.2.7"
GPC127_BASE = "https://developer.nhs.uk/apis/gpconnect-1-2-7/"
GCM = "GP Connect Messaging 1.3"
GCM_BASE = "https://developer.nhs.uk/apis/gpconnect-messaging-1-3/"
SD = "GP Connect Send Document (Simplifier guide)"
SD_BASE = "https://simplifier.net/guide/gp-connect-send-document/Home/"
ITK3 = "ITK3 Messaging Distribution"
ITK3_BASE = "https://developer.nhs.uk/apis/itk3messagedistribution/"
UM = "GP Connect (Patient Facing) User Management guide (Simplifier, draft)"
UM_BASE = "https://simplifier.net/guide/GP-Connect-Patient-Facing-User-Management/Home/"
UP_REPO = "https://github.com/NHSDigital/gp-connect-user-permissions"
UP_NOW_COMMIT = "a9966df6aa0ceb2c6f88c93d6d34198273db4a07"
UP_OLD_COMMIT = "875e15372e3899906eaa4b6aa6fc070041a36e58"  # the parent of 5b54305, the last GET+POST version
UP_DEL_COMMIT = "5b543055f4da124a0329fa56f956d98fdf205f77"
SUITE_REPO = "https://github.com/nhsconnect/gpconnect-provider-testing/blob/master/GPConnect.Provider.AcceptanceTests/"
STU3_ASSETS = "https://github.com/nhsconnect/STU3-FHIR-Assets/blob/develop/StructureDefinitions/"
FHIR_STU3 = "http://hl7.org/fhir/STU3/"


@dataclass(frozen=True)
class Page:
    title: str  # the publication's title for the page (or the artefact's name)
    publication: str
    url: str | None = None
    section: str = ""  # the part of the page the source points at
    kind: Kind = "page"  # page: a public page; artefact: a file in an NHS repository; none/notes/unknown: no link
    note: str = ""  # artefact: what it is; no link: why there is none
    minor: bool = False  # release notes, a glossary, an example: linked only when nothing else is named

    @property
    def use_case(self) -> str:
        """The SCAL "Use case" text: the page title, its section, and where it is published (or why not)."""
        head = f"{self.title} — {self.section}" if self.section else self.title
        if self.kind == "page":
            return f"{head} ({self.publication})"
        if self.kind == "artefact":
            return f"{head} ({self.publication}; no specification page: {self.note})"
        return f"{head} (no public page: {self.note})"


# --- GP Connect 1.2.7: file stem -> (title, permalink, area) from each page's front matter ----------
_GPC127: dict[str, tuple[str, str, str]] = {
    "appointments": ("Appointment Management", "appointments.html", "Appointment Management"),
    "appointments_consumer_sessions": ("Consumer sessions illustrated", "appointments_consumer_sessions.html",
                                       "Appointment Management"),
    "appointments_datalibrary": ("FHIR® resources", "datalibraryappointment.html", "Appointment Management"),
    "appointments_design": ("Design decisions", "appointments_design.html", "Appointment Management"),
    "appointments_ig": ("Information governance", "appointments_ig.html", "Appointment Management"),
    "appointments_known_issues": ("Known issues", "appointments_known_issues.html", "Appointment Management"),
    "appointments_provider_sys_slot_availability": ("Slot availability management",
                                                    "appointments_slotavailabilitymanagement.html",
                                                    "Appointment Management"),
    "appointments_requirements": ("Business requirements", "appointments_requirements.html",
                                  "Appointment Management"),
    "appointments_use_case_amend_an_appointment": ("Amend an appointment",
                                                   "appointments_use_case_amend_an_appointment.html",
                                                   "Appointment Management"),
    "appointments_use_case_book_an_appointment": ("Book an appointment",
                                                  "appointments_use_case_book_an_appointment.html",
                                                  "Appointment Management"),
    "appointments_use_case_cancel_an_appointment": ("Cancel an appointment",
                                                    "appointments_use_case_cancel_an_appointment.html",
                                                    "Appointment Management"),
    "appointments_use_case_read_an_appointment": ("Read an appointment",
                                                  "appointments_use_case_read_an_appointment.html",
                                                  "Appointment Management"),
    "appointments_use_case_retrieve_a_patients_appointments": (
        "Retrieve a patient's appointments", "appointments_use_case_retrieve_a_patients_appointments.html",
        "Appointment Management"),
    "appointments_use_case_search_for_free_slots": ("Search for free slots",
                                                    "appointments_use_case_search_for_free_slots.html",
                                                    "Appointment Management"),
    "development_api_non_functional_requirements": ("Non-functional requirements",
                                                    "development_api_non_functional_requirements.html",
                                                    "Development guidance"),
    "development_api_security_guidance": ("Security", "development_api_security_guidance.html",
                                          "Development guidance"),
    "development_branch_surgeries": ("Branch surgeries", "development_branch_surgeries.html",
                                     "Development guidance"),
    "development_fhir_api_guidance": ("FHIR® implementation", "development_fhir_api_guidance.html",
                                      "Development guidance"),
    "development_fhir_error_handling_guidance": ("Error handling", "development_fhir_error_handling_guidance.html",
                                                 "Development guidance"),
    "development_fhir_resource_guidance": ("FHIR® resources", "development_fhir_resource_guidance.html",
                                           "Development guidance"),
    "development_general_api_guidance": ("General API guidance", "development_general_api_guidance.html",
                                         "Development guidance"),
    "foundations": ("Foundations", "foundations.html", "Foundations"),
    "foundations_datalibrary": ("FHIR® resources", "datalibraryfoundation.html", "Foundations"),
    "foundations_design": ("Design decisions", "foundations_design.html", "Foundations"),
    "foundations_ig": ("Information governance", "foundations_ig.html", "Foundations"),
    "foundations_known_issues": ("Foundations known issues", "foundations_known_issues.html", "Foundations"),
    "foundations_use_case_find_a_patient": ("Find a patient", "foundations_use_case_find_a_patient.html",
                                            "Foundations"),
    "foundations_use_case_find_a_practitioner": ("Find a practitioner",
                                                 "foundations_use_case_find_a_practitioner.html", "Foundations"),
    "foundations_use_case_find_an_organisation": ("Find an organisation",
                                                  "foundations_use_case_find_an_organisation.html", "Foundations"),
    "foundations_use_case_get_the_fhir_capability_statement": (
        "Get the FHIR® capability statement", "foundations_use_case_get_the_fhir_capability_statement.html",
        "Foundations"),
    "foundations_use_case_read_a_location": ("Read a location", "foundations_use_case_read_a_location.html",
                                             "Foundations"),
    "foundations_use_case_read_a_patient": ("Read a patient", "foundations_use_case_read_a_patient.html",
                                            "Foundations"),
    "foundations_use_case_read_a_practitioner": ("Read a practitioner",
                                                 "foundations_use_case_read_a_practitioner.html", "Foundations"),
    "foundations_use_case_read_an_organisation": ("Read an organisation",
                                                  "foundations_use_case_read_an_organisation.html", "Foundations"),
    "foundations_use_case_register_a_patient": ("Register a patient", "foundations_use_case_register_a_patient.html",
                                                "Foundations"),
    "integration_cross_organisation_audit_and_provenance": (
        "Cross-organisation audit and provenance", "integration_cross_organisation_audit_and_provenance.html",
        "Integration"),
    "integration_illustrated": ("Spine integration illustrated", "integration_illustrated.html", "Integration"),
    "integration_interaction_ids": ("Interaction IDs", "integration_interaction_ids.html", "Integration"),
    "integration_personal_demographics_service": ("Personal Demographic Service",
                                                  "integration_personal_demographic_service.html", "Integration"),
    "integration_spine_directory_service": ("Overview and querying", "integration_spine_directory_service.html",
                                            "Integration, Spine Directory Service"),
    "integration_spine_secure_proxy": ("Spine Secure Proxy", "integration_spine_secure_proxy.html", "Integration"),
    "overview_glossary": ("Glossary", "overview_glossary.html", "Overview"),
    "1_2_7": ("GP Connect API 1.2.7 release notes", "overview_release_notes_1_2_7.html", "Overview"),
    "testing_api_consumer_testing": ("Consumer testing", "testing_api_consumer_testing.html", "Testing"),
    "testing_api_provider_testing": ("Provider testing", "testing_api_provider_testing.html", "Testing"),
}
_GPC127_MINOR = {"1_2_7", "overview_glossary"}
# Files the pages include (an example shown on the page): file -> the page that shows it.
_GPC127_INCLUDES = {
    "get_capability_statement_response_example.json": "foundations_use_case_get_the_fhir_capability_statement",
    "amend_appt_request_example.json": "appointments_use_case_amend_an_appointment",
    "cancel_appt_request_example.json": "appointments_use_case_cancel_an_appointment",
    "glossary.yml": "overview_glossary",
}

# --- GP Connect Messaging 1.3: file -> (title, permalink) from front matter -------------------------
_GCM: dict[str, tuple[str, str]] = {
    "senddoc_requirements.yml": ("Requirements list", "senddocument_fedcon_reqs.html"),
    "senddoc_user_stories.yml": ("User stories", "senddocument_userstories.html"),
    "consultation_report.xml": ("Message example", "senddocument_fedcon_example.html"),
    "integration_itk3": ("Use of the ITK3 to support GP Connect Messaging", "integration_itk3.html"),
    "integration_mesh": ("Integration to MESH", "integration_mesh.html"),
    "senddocument": ("Send Document", "senddocument.html"),
    "senddocument_fedcon_errors": ("Error handling", "senddocument_fedcon_errors.html"),
    "senddocument_fedcon_example": ("Message example", "senddocument_fedcon_example.html"),
    "senddocument_fedcon_itk3": ("ITK3 header requirements", "senddocument_fedcon_itk3.html"),
    "senddocument_fedcon_mesh": ("MESH message configuration", "senddocument_fedcon_mesh.html"),
    "senddocument_fedcon_overview": ("Overview", "senddocument_fedcon_overview.html"),
    "senddocument_fedcon_payload": ("Payload requirements", "senddocument_fedcon_payload.html"),
    "senddocument_fedcon_reqs": ("Requirements list", "senddocument_fedcon_reqs.html"),
    "senddocument_fedcon_trigger": ("Triggering message creation", "senddocument_fedcon_trigger.html"),
    "senddocument_payload": ("Send Document - payload structure", "senddocument_payload.html"),
    "senddocument_userstories": ("User stories", "senddocument_userstories.html"),
    "sendmessage_process": ("Process map", "sendmessage_process.html"),
}

# --- ITK3 Messaging Distribution: page -> title from front matter -----------------------------------
_ITK3: dict[str, str] = {
    "explore_hand_spec": "Work flow",
    "explore_mess_responses": "ITK3 Message Responses",
    "explore_rec_req": "FHIR Receiver Requirements",
    "explore_response_codes": "ITK3 Response Codes",
    "explore_response_examples": "ITK3 Response Examples",
    "explore_response_structure": "ITK3 Response Codes",  # the page's own title (it maps the codes onto FHIR)
    "explore_sender_reqs": "FHIR Document Sender Requirements",
}

# --- User Management guide pages (Simplifier): page name -> path under Home/ -------------------------
_UM_IG: dict[str, str] = {
    "Access-tokens": "Authentication/Access-tokens",
    "Token-exchange": "Authentication/Access-tokens/Token-exchange",
    "Access-control": "Authentication/Access-control",
    "Access": "Authentication/Access-control/Access",
    "Information-Governance": "Authentication/Information-Governance",
    "Common-concerns": "Build/How-to-request-a-change-to-a-patient-s-permissions/Common-concerns",
    "How-to-request-a-change-to-a-patient-s-permissions": "Build/How-to-request-a-change-to-a-patient-s-permissions",
    "How-to-get-a-patient-s-permissions": "Build/How-to-get-a-patient-s-permissions",
    "Prerequisites": "Build/How-to-get-a-patient-s-permissions/Prerequisites",
    "Use-case-1---Build-a-UI": "Build/How-to-get-a-patient-s-permissions/Use-case-1---Build-a-UI",
    "Use-case-2---present-permissions-to-patient":
        "Build/How-to-get-a-patient-s-permissions/Use-case-2---present-permissions-to-patient",
    "Get-a-patient-s-permissions": "Design/Interactions/Get-a-patient-s-permissions",
    "New-online-patient-access": "Design/New-online-patient-access",
    "Patient-using-online-services-for-the-first-time":
        "Design/New-online-patient-access/Patient-using-online-services-for-the-first-time",
    "Permissions": "Design/New-online-patient-access/Permissions",
    "GP-Foundation-System-requirements": "Design/New-online-patient-access/GP-Foundation-System-requirements",
    "Design-principles": "Design/Design-principles",
    "Getting-started": "Introduction/Introduction/Getting-started",
    "Introduction": "Introduction/Introduction",
}

_OWN_NOTES = re.compile(r"^(pfs-user-permissions|gpconnect-1\.2\.7-requirements|send-document-and-mesh|"
                        r"assurance-declarations|access-record-html|anchors-and-libraries)\.md\b")
_ITK_PROFILES = {"ITK-MessageHeader-2", "ITK-Message-Bundle-1", "ITK-Document-Bundle-1",
                 "ITK-Attachment-Binary-1", "ITK-Response-OperationOutcome-1"}


def split_source(source: str) -> list[str]:
    """The parts of a source, split on ';' outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in source:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        if ch == ";" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _trailing_section(part: str) -> tuple[str, str]:
    """("body", "section") where the part ends in a balanced "(...)" or carries a "§n" reference."""
    part = part.strip()
    if part.endswith(")"):
        depth = 0
        for i in range(len(part) - 1, -1, -1):
            depth += part[i] == ")"
            depth -= part[i] == "("
            if depth == 0:
                if i > 0:
                    return part[:i].strip(), part[i + 1:-1].strip()
                break
    m = re.match(r"^(.*?)\s+(§\s*[\d.]+)$", part)
    if m:
        return m.group(1), m.group(2)
    return part, ""


def _words(name: str) -> str:
    """A Simplifier page name as the guide shows it ("How-to-configure-MESH" -> "How to configure MESH")."""
    if "." in name:  # a page named after an element ("Extension-ITK-MessageHandling-2.LocalExtension")
        return name
    name = re.sub(r"(?<=[a-z])-s-", "'s-", name)  # "a-patient-s-permissions": the slug of "a patient's"
    return " - ".join(part.replace("-", " ").strip() for part in name.split("---"))


def _gpc127(stem: str, section: str) -> Page:
    title, permalink, area = _GPC127[stem]
    return Page(title, f"{GPC127}, {area}", GPC127_BASE + permalink, section, minor=stem in _GPC127_MINOR)


def _sd_profile(name: str, section: str) -> Page:
    return Page(f"Profile: {name}", SD, f"{SD_BASE}FHIR-Assets/All-assets/Profiles/Profile--{name}", section)


def _sd_extension(section: str) -> Page:
    return Page("Extension-ITK-MessageHandling-2", SD,
                f"{SD_BASE}FHIR-Assets/All-assets/Extensions/Extension--Extension-ITK-MessageHandling-2", section)


def _sd(body: str, section: str) -> Page | None:
    """A page of the Send Document guide, from the path or name the source gives."""
    m = re.search(r"Profile--([A-Za-z0-9-]+?-\d+)(?:/([A-Za-z.-]+?)\.(?:guide|page)\.md)?", body)
    if m:
        rest = body[m.end():].strip(" ,;")
        element = _words(m.group(2) or "") or (rest if rest and not rest.endswith(".xml") else "")
        return _sd_profile(m.group(1), section or element)
    if "careSettingTypeExtension" in body:
        return _sd_profile("CareConnect-Composition-1", section or "extension careSettingType")
    m = re.match(r"^(?:Extension-ITK-MessageHandling-2/)?extension-(\w+)\.guide\.md\b", body)
    if m:
        return _sd_extension(section or m.group(1))
    m = re.match(r"^(event|source|sender|focus|timestamp)\.guide\.md\b", body)
    if m:
        return _sd_profile("ITK-MessageHeader-2", section or m.group(1))
    m = re.match(r"^(?:(Build|Introduction|Design)/)?(How-to-identify-which-documents-have-been-sent/)?"
                 r"([A-Za-z0-9./-]+?)\.(?:page|guide)\.md$", body)
    if m and (m.group(1) or m.group(2)):
        path = (m.group(1) or "Build") + "/" + (m.group(2) or "") + m.group(3)
        segments = path.split("/")
        if len(segments) > 2 and segments[-1] == segments[-2]:  # a folder's own page is the folder's address
            segments.pop()
        if "Release-notes" in segments:
            return Page(f"Release notes {_words(segments[-1])}", SD, SD_BASE + "/".join(segments), section,
                        minor=True)
        return Page(_words(segments[-1]), SD, SD_BASE + "/".join(segments), section)
    return None


def _um(body: str, section: str) -> Page:
    name = re.sub(r"\.(?:page|guide)\.md$", "", body.strip()).split("/")[-1]
    path = _UM_IG.get(name)
    if path is None:
        return Page("GP Connect (Patient Facing) User Management (the guide's home)", UM,
                    UM_BASE.removesuffix("/Home/"),
                    section or f"{_words(name)} (a page the guide's backup does not show; the link opens the guide)")
    return Page(_words(path.split("/")[-1]), UM, UM_BASE + path, section)


def _up(which: str, body: str) -> Page:
    if which == "old":
        return Page("GP Connect (Patient Facing) User Permissions API, legacy version (GET and POST)",
                    "NHSDigital/gp-connect-user-permissions",
                    f"{UP_REPO}/blob/{UP_OLD_COMMIT}/specification/gp-connect-user-permissions.yaml",
                    body, kind="artefact",
                    note="the version before commit 5b54305 exists only in the repository's history")
    return Page("GP Connect (Patient Facing) User Permissions API", "NHS API catalogue",
                "https://digital.nhs.uk/developer/api-catalogue/gp-connect-patient-facing-user-permissions", body)


def _resolve(part: str, context: str) -> tuple[Page | None, str]:
    """One part of a source -> (Page, the context a following bare part inherits)."""
    body, section = _trailing_section(part)
    # Our own reference notes: not an NHS page.
    m = _OWN_NOTES.match(part)
    if m:
        rest = part[m.end():].strip()
        return Page(f"gpc-assure reference notes, {m.group(1)}.md", "gpc-assure", None, rest, kind="notes",
                    note="our own research notes, not an NHS publication"), context
    # Publication prefixes.
    m = re.match(r"^(?:official suite|gpconnect-provider-testing|TS)\s+(.*\.feature.*)$", part)
    if m:
        names = re.findall(r"([A-Za-z]+)\.feature", m.group(1))
        return Page(f"Official provider test suite: {', '.join(n + '.feature' for n in names)}",
                    "nhsconnect/gpconnect-provider-testing (1.2.7)", SUITE_REPO + names[0] + ".feature",
                    kind="artefact", note="an NHS test-suite feature file"), "suite"
    m = re.match(r"^gpconnect-messaging\s+(.+)$", part)
    if m:
        return _resolve(m.group(1), "gcm")[0], "gcm"
    m = re.match(r"^Simplifier\s+(.+)$", part)
    if m:
        return _resolve(m.group(1), "sd")[0], "sd"
    m = re.match(r"^ITK3\s+(.+)$", part)
    if m:
        return _resolve(m.group(1), "itk3")[0], "itk3"
    m = re.match(r"^UM-IG\s+(.+)$", part)
    if m:
        return _um(m.group(1), ""), "um"
    m = re.match(r"^UP-NOW(?: and UP-OLD)?\b\s*(.*)$", part)
    if m:
        return _up("now", m.group(1)), "up-now"
    m = re.match(r"^UP-OLD\b\s*(.*)$", part)
    if m:
        return _up("old", m.group(1)), "up-old"
    m = re.match(r"^UP-DEL\s+([0-9a-f]{7,40})", part)
    if m:
        return Page("Commit removing POST, appointments and requests from the User Permissions API",
                    "NHSDigital/gp-connect-user-permissions", f"{UP_REPO}/commit/{UP_DEL_COMMIT}",
                    kind="artefact", note="a change in NHS's repository"), "up-now"
    m = re.match(r"^UP-PROXY\s+(.+)$", part)
    if m:
        return Page("User Permissions API proxy (API Management)", "NHSDigital/gp-connect-user-permissions",
                    f"{UP_REPO}/tree/{UP_NOW_COMMIT}/proxies/live/apiproxy", m.group(1), kind="artefact",
                    note="NHS's API Management proxy configuration"), "up-now"
    # Pages named in words.
    m = re.match(r"^GP Connect \(Patient Facing\) User Management guide,\s*(?:design principles)?\s*(.*)$", body)
    if m:  # the design principles page holds the clinical safety, assurance and information governance principles
        return Page("Design principles", UM, UM_BASE + _UM_IG["Design-principles"],
                    ", ".join(x for x in (m.group(1), section) if x)), "um"
    m = re.match(r"^NHS API catalogue, GP Connect Access Record: HTML,\s*(.+)$", body)
    if m:
        return Page("GP Connect Access Record: HTML - FHIR API", "NHS API catalogue",
                    "https://digital.nhs.uk/developer/api-catalogue/gp-connect-access-record-html-fhir",
                    ", ".join(x for x in (m.group(1), section) if x)), context
    if re.match(r"^GP Connect Messaging Send Document background page", part):
        return Page("GP Connect Messaging Send Document background page", "NHS", None, kind="none",
                    note="the reference notes name this NHS page but not its address"), context
    m = re.match(r"^NHS Roadmap RM213\b.*?,\s*(.+)$", part)
    if m:
        return Page("GP Connect (Patient Facing) APIs Change 2 - User Permissions API (roadmap item RM213)",
                    "NHS roadmap", "https://nhse-dsic.atlassian.net/wiki/x/AQB6_gI", m.group(1)), context
    if re.match(r"^MESH API\b", body):
        return Page("Message Exchange for Social Care and Health (MESH) API", "NHS API catalogue",
                    "https://digital.nhs.uk/developer/api-catalogue/message-exchange-for-social-care-and-health-api",
                    section), "mesh"
    m = re.match(r"^mesh-client (CHANGE-LOG\.md)", body)
    if m:
        return Page("mesh-client change log", "NHSDigital/mesh-client",
                    "https://github.com/NHSDigital/mesh-client/blob/HEAD/CHANGE-LOG.md", section, kind="artefact",
                    note="the MESH client library's change log"), context
    m = re.match(r"^FHIR STU3 (Location|document Bundles)\b", body)
    if m:
        title, page_ = {"Location": ("Location", "location.html"),
                        "document Bundles": ("FHIR Documents", "documents.html")}[m.group(1)]
        return Page(title, "HL7 FHIR STU3", FHIR_STU3 + page_, section), context
    m = re.match(r"^release notes 1\.2\.7\b", body)
    if m:
        return _gpc127("1_2_7", section), context
    # Profiles and other artefacts named by file.
    m = re.match(r"^((?:CareConnect-GPC|GPConnect)-[A-Za-z]+-\d+)(?:\.xml)?\b", body)
    if m:
        return Page(f"StructureDefinition {m.group(1)}", "GP Connect FHIR STU3 profiles (nhsconnect/STU3-FHIR-Assets)",
                    f"{STU3_ASSETS}{m.group(1)}.xml", section, kind="artefact",
                    note=f"a FHIR profile, canonical URL https://fhir.nhs.uk/STU3/StructureDefinition/{m.group(1)}"
                    ), context
    m = re.match(r"^(ITK-[A-Za-z]+(?:-[A-Za-z]+)*-\d+|Extension-ITK-MessageHandling-2)\.xml\b", body)
    if m:
        name = m.group(1)
        if name == "Extension-ITK-MessageHandling-2":
            return _sd_extension(section), "sd"
        if name in _ITK_PROFILES:
            return _sd_profile(name, section), "sd"
    if re.match(r"^CodeSystem-ITK-ResponseCodes-1\.xml\b", body):
        return Page(_ITK3["explore_response_codes"], ITK3, ITK3_BASE + "explore_response_codes.html",
                    section or "CodeSystem ITK-ResponseCodes-1"), "itk3"
    m = re.match(r"^(?:pages/explore/)?(explore_\w+)\.md$", body)
    if m and m.group(1) in _ITK3:
        return Page(_ITK3[m.group(1)], ITK3, f"{ITK3_BASE}{m.group(1)}.html", section), "itk3"
    # A file of a publication, by name (the context settles gpconnect-messaging against GP Connect).
    name = body.split("/")[-1]
    stem = re.sub(r"\.md$", "", name)
    if context == "gcm" or body.startswith("_data/senddoc"):
        key = name if name in _GCM else stem
        if key in _GCM:
            title, permalink = _GCM[key]
            return Page(title, GCM, GCM_BASE + permalink, section), "gcm"
    if name in _GPC127_INCLUDES:
        page_ = _gpc127(_GPC127_INCLUDES[name], section or f"example {name}")
        return Page(page_.title, page_.publication, page_.url, page_.section, minor=True), context
    if name.endswith(".md") and stem in _GPC127:
        return _gpc127(stem, section), "gpc127"
    if context == "sd" or body.startswith(("Build/", "Introduction/", "How-to-identify")):
        page_ = _sd(body, section)
        if page_ is not None:
            return page_, "sd"
    if context == "um":
        return _um(body, section), "um"
    if context in ("up-now", "up-old") or re.search(r"\.yaml\b|^components/|^responses\b|^ErrorResponse$", body):
        which = "old" if context == "up-old" else "now"
        return _up(which, part), context if context in ("up-now", "up-old") else "up-now"
    return None, context


def pages(source: str) -> list[Page]:
    """Every part of a source as a Page (an unmapped part is a Page of kind "unknown")."""
    out, context = [], ""
    for part in split_source(source):
        page_, context = _resolve(part, context)
        out.append(page_ or Page(part, "", None, kind="unknown", note="not mapped to a specification page"))
    return out


_RANK = {"page": 0, "artefact": 1, "none": 2, "notes": 3, "unknown": 4}


def page(source: str) -> Page:
    """The page a SCAL row cites for this source: the first specification page it names (release notes,
    a glossary or an example only when nothing else is named), else the first NHS artefact, else why
    there is no page."""
    found = pages(source or "")
    if not found:
        return Page("(no source recorded)", "", None, kind="unknown", note="the requirement names no source")
    return min(found, key=lambda p: (_RANK[p.kind], p.minor))
