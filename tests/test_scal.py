"""scal.xlsx is an honest annex to NHS's SCAL: NHS's columns hold only what NHS would put there.

The Identifier column holds NHS identifiers only; Use case and Link come from the specification page
(gpc_assure.spec.pages), never from file names; Status (the verdict) and Evidence required are apart;
declarations have their own sheet; the Run sheet says who, what and where.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import report_samples as sample
from openpyxl import load_workbook

from gpc_assure.report import pack, scal
from gpc_assure.requirements import load_catalogue
from gpc_assure.spec import pages

NHS_HEAD = ["Identifier", "Use case", "Type", "Link", "Description", "Item", "Test cases", "Evidence required"]
OUR_HEAD = ["gpc-assure ID", "Level", "Status", "Reason", "Other references", "Tests", "What was checked",
            "Evidence files", "Reading(s) of ambiguous rules", "Source"]
SEND_DOCUMENT_SOURCE = ("gpconnect-messaging _data/senddoc_requirements.yml; "
                        "Simplifier Profile--CareConnect-Composition-1/custodian.guide.md")
VERDICTS = ("met", "not-met", "attested", "awaiting-attestation", "not-tested", "not-applicable",
            "insufficient-data", "accepted-deviation")


EVIDENCE_KINDS = {scal.evidence_required(r) for r in (
    {"id": "X", "verification": "automated"}, {"id": "X", "verification": "attested"},
    {"id": "X", "verification": "not-tested"}, {"id": "X", "verification": "attested", "kind": "declaration"})}


def _rows(wb, sheet: str) -> tuple[list[str], list[dict[str, object]]]:
    rows = list(wb[sheet].iter_rows(values_only=True))
    head = [str(h) for h in rows[0]]
    return head, [dict(zip(head, r, strict=True)) for r in rows[1:]]


# --- the page map --------------------------------------------------------------------------------------

def test_every_catalogue_source_resolves_to_a_page_with_a_link_or_a_reason():
    sources = sorted({r.source for r in load_catalogue()})
    assert sources
    for source in sources:
        for part in pages.pages(source):
            assert part.kind != "unknown", f"{source!r}: {part.title!r} is not mapped to a page"
            assert part.title.strip()
            if part.url is None:
                assert part.note and "no public page" in part.use_case, source
            else:
                assert part.url.startswith(("https://", "http://")), source
        cited = pages.page(source)
        assert cited.url or "no public page" in cited.use_case


@pytest.mark.parametrize("source, title, url, section", [
    ("foundations_use_case_find_a_patient.md", "Find a patient",
     "https://developer.nhs.uk/apis/gpconnect-1-2-7/foundations_use_case_find_a_patient.html", ""),
    ("development_general_api_guidance.md (Content types)", "General API guidance",
     "https://developer.nhs.uk/apis/gpconnect-1-2-7/development_general_api_guidance.html", "Content types"),
    # The permalink, not the file name.
    ("appointments_provider_sys_slot_availability.md", "Slot availability management",
     "https://developer.nhs.uk/apis/gpconnect-1-2-7/appointments_slotavailabilitymanagement.html", ""),
    # Release notes are named first, but the use-case page is what the row cites.
    ("1_2_7.md; appointments_use_case_book_an_appointment.md", "Book an appointment",
     "https://developer.nhs.uk/apis/gpconnect-1-2-7/appointments_use_case_book_an_appointment.html", ""),
    ("gpconnect-messaging _data/senddoc_requirements.yml", "Requirements list",
     "https://developer.nhs.uk/apis/gpconnect-messaging-1-3/senddocument_fedcon_reqs.html", ""),
    ("Simplifier Build/How-to-configure-MESH/How-to-configure-MESH.page.md", "How to configure MESH",
     "https://simplifier.net/guide/gp-connect-send-document/Home/Build/How-to-configure-MESH", ""),
    ("Simplifier Profile--ITK-MessageHeader-2/event.guide.md", "Profile: ITK-MessageHeader-2",
     "https://simplifier.net/guide/gp-connect-send-document/Home/FHIR-Assets/All-assets/Profiles/"
     "Profile--ITK-MessageHeader-2", "event"),
    ("ITK3 explore_rec_req.md; explore_response_codes.md", "FHIR Receiver Requirements",
     "https://developer.nhs.uk/apis/itk3messagedistribution/explore_rec_req.html", ""),
    # Our own notes are skipped for the NHS page the part after them names.
    ("pfs-user-permissions.md §1.3; UM-IG Access-tokens/Token-exchange.page.md", "Token exchange",
     "https://simplifier.net/guide/GP-Connect-Patient-Facing-User-Management/Home/Authentication/Access-tokens/"
     "Token-exchange", ""),
])
def test_sources_map_to_the_published_page(source, title, url, section):
    page = pages.page(source)
    assert (page.title, page.url, page.section) == (title, url, section)
    assert page.use_case.startswith(title)


def test_what_has_no_specification_page_says_so():
    notes = pages.pages("pfs-user-permissions.md §1.3; UP-NOW get.responses.4XX")[0]
    assert notes.url is None and "no public page" in notes.use_case and "our own research notes" in notes.note
    feature = pages.page("official suite AppointmentCancel.feature")
    assert feature.kind == "artefact" and feature.url.endswith("GPConnect.Provider.AcceptanceTests/"
                                                               "AppointmentCancel.feature")
    assert "no specification page" in feature.use_case
    # The legacy User Permissions version exists only in the repository's history: a pinned file, said so.
    legacy = pages.page("pfs-user-permissions.md §1.3; UP-OLD post.description")
    assert legacy.kind == "artefact" and pages.UP_OLD_COMMIT in legacy.url
    background = pages.page("GP Connect Messaging Send Document background page")
    assert background.url is None and "no public page" in background.use_case


# --- identifiers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["GPCM-SD-028", "GPCM-SD-096", "GPCM-C-1", "GPC-SD07", "GPC-SFS-01",
                                 "GPC-AMUS-BPA-1/3", "FHIR-PAY-01", "FHIR-BA-02", "FHIR-RR-05", "E00166", "E00313"])
def test_nhs_published_identifiers_go_in_the_identifier_column(ref):
    assert scal.nhs_identifiers([ref]) == [ref] and scal.other_references([ref]) == []


@pytest.mark.parametrize("ref", ["GPC #921", "TS JWT.feature", "TS Security.feature", "DCB0129", "DCB0160", "DSPT",
                                 "HSCN", "PDS", "RFC 6750 §3.1", "RM213", "GEN-HTTP-001", "GEN-SEC-001",
                                 "FND-FP-001", "APT-BOOK-001", "JWT-001", "ERR-010", "CON-001", "PFS-UP-012",
                                 "PFS-UPC-001", "SMP-001", "MSG-SD-001"])
def test_other_references_never_go_in_the_identifier_column(ref):
    assert scal.nhs_identifiers([ref]) == [] and scal.other_references([ref]) == [ref]


# --- the workbook ----------------------------------------------------------------------------------

@pytest.fixture
def workbook(tmp_path: Path):
    data = sample.results()
    smp2 = next(r for r in data["requirements"] if r["id"] == "SMP-002")
    smp2["source"] = SEND_DOCUMENT_SOURCE
    smp2["readings"] = [{"ref": "SD-C05", "reading": "the custodian is the sending organisation"}]
    data = sample.write_pack(tmp_path, data)
    assert pack.build(tmp_path, data, built_by="test") == []
    return load_workbook(tmp_path / "scal.xlsx"), data


def test_scal_sheet_has_nhs_columns_then_ours(workbook):
    wb, data = workbook
    assert wb.sheetnames == ["SCAL", "Attested", "Not tested", "Declarations", "Deviations", "Tests", "Run"]
    head, body = _rows(wb, "SCAL")
    assert head == NHS_HEAD + OUR_HEAD
    assert [r["gpc-assure ID"] for r in body] == [r["id"] for r in data["requirements"]]
    # NHS's header cells are NHS blue; ours are set apart.
    cells = next(wb["SCAL"].iter_rows(max_row=1))
    assert cells[0].fill.fgColor.rgb.endswith("005EB8") and not cells[len(NHS_HEAD)].fill.fgColor.rgb.endswith("005EB8")


def test_a_send_document_row_has_its_identifier_link_and_use_case_from_the_page(workbook):
    wb, _ = workbook
    _, body = _rows(wb, "SCAL")
    row = next(r for r in body if r["gpc-assure ID"] == "SMP-002")
    page = pages.page(SEND_DOCUMENT_SOURCE)
    assert row["Identifier"] == "GPCM-SD-028"
    assert row["Link"] == page.url == "https://developer.nhs.uk/apis/gpconnect-messaging-1-3/senddocument_fedcon_reqs.html"
    assert row["Use case"] == page.use_case and row["Use case"].startswith("Requirements list")
    assert row["Type"] == "Mandatory (SHALL)" and row["Status"] == "not-met"
    assert row["Item"].startswith("gpc-assure evidence pack")
    assert row["Evidence files"] == "exchanges/00002-metadata-read.json"
    assert row["Reading(s) of ambiguous rules"] == "SD-C05: the custodian is the sending organisation"
    link = next(c for c in next(wb["SCAL"].iter_rows(min_row=3, max_row=3)) if c.column == 4)
    assert link.hyperlink is not None and link.hyperlink.target == page.url


def test_identifier_never_holds_a_non_nhs_identifier_and_status_is_apart(workbook):
    wb, _ = workbook
    _, body = _rows(wb, "SCAL")
    for row in body:
        ids = [x.strip() for x in str(row["Identifier"] or "").split(",") if x.strip()]
        assert all(scal.NHS_IDENTIFIER.match(x) for x in ids), row["Identifier"]
        assert row["gpc-assure ID"] not in ids
        assert row["Status"] in VERDICTS
        # Evidence required names a kind of evidence, the same whatever the verdict (that is Status).
        assert row["Evidence required"] in EVIDENCE_KINDS
        assert str(row["Item"]).strip() not in VERDICTS
    by_id = {r["gpc-assure ID"]: r for r in body}
    # Non-NHS refs (here a made-up one and RM213) are ours, in their own column.
    assert by_id["SMP-001"]["Identifier"] in ("", None) and by_id["SMP-001"]["Other references"] == "GPC-SFS-1.3"
    assert by_id[sample.DECLARATION]["Identifier"] == "E00166"
    assert by_id[sample.DECLARATION]["Other references"] == "RM213"
    # The row a person attests says so in Item and Evidence required, whatever its verdict.
    assert by_id["SMP-004"]["Item"].startswith("Attestation by a named person")
    assert "attestation record" in by_id["SMP-004"]["Evidence required"]
    assert by_id[sample.DECLARATION]["Link"] == pages.page(sample.DECLARATION_SOURCE).url
    assert "RM213 supplier category" in by_id[sample.DECLARATION]["Item"]


def test_declarations_sheet_lists_every_declaration_row(workbook):
    wb, data = workbook
    head, body = _rows(wb, "Declarations")
    assert {"gpc-assure ID", "Statement", "Status", "Answer", "Declarant", "Evidence"} <= set(head)
    declared = [r for r in data["requirements"] if r.get("kind") == "declaration"]
    assert [r["gpc-assure ID"] for r in body] == [r["id"] for r in declared]
    row = body[0]
    assert row["Status"] == "attested" and row["Answer"] == "answer: yes; category: incumbent-provider"
    assert row["Declarant"] == "Dr A. Example, Clinical Safety Officer, Example Health Ltd"
    assert row["Evidence"] == "Framework contract schedule 2 v1.0"
    # A declaration is not an attestation of a tested requirement, and not "not tested".
    assert sample.DECLARATION not in [r["gpc-assure ID"] for r in _rows(wb, "Attested")[1]]
    assert sample.DECLARATION not in [r["gpc-assure ID"] for r in _rows(wb, "Not tested")[1]]


def test_run_sheet_carries_the_run_identity_and_readiness(workbook):
    wb, data = workbook
    _, body = _rows(wb, "Run")
    run = {r["Item"]: r["Value"] for r in body}
    assert run["System: supplier"] == "Example Health Ltd" and run["System: product"] == "Example GP"
    assert run["System: build"] == "4.2.0+771" and run["System: environment"] == "development"
    assert run["System: operator"] == "A. Tester"
    assert run["Tool version"] == "0.1.0" and run["Tool commit"] == data["run"]["tool"]["commit"]
    assert run["Transport: scheme"] == "http" and run["Transport: TLS"] == "no"
    assert "plain HTTP" in run["Transport: note"]
    assert run["Test data: registered"] == "9000000009"
    assert run["Declarations: declarant"] == "Dr A. Example, Clinical Safety Officer, Example Health Ltd"
    assert run["Declarations: file"] == "declarations/declarations.toml"
    assert run["Submission readiness"] == "not ready: 2 item(s) outstanding"
    assert run["Readiness: not met"] == "1: SMP-002"
    assert run["Readiness: SHALLs not tested or not judged"] == "1: SMP-006"
    assert run["Readiness: declarations outstanding"] == "0"


def test_run_sheet_says_what_was_not_recorded(tmp_path: Path):
    data = sample.results()
    for key in ("system", "tool", "transport", "test_data", "declarations"):
        data["run"].pop(key)
    data["summary"].pop("readiness")
    scal.write(tmp_path, data)
    run = {r["Item"]: r["Value"] for r in _rows(load_workbook(tmp_path / "scal.xlsx"), "Run")[1]}
    assert run["System"].startswith("not recorded") and run["Tool commit"] == "not recorded"
    assert run["Declarations"] == "no declarations file given" and run["Tool version"] == "0.1.0"


def test_the_whole_catalogue_as_scal_rows(tmp_path: Path):
    """Every catalogue row as it would appear: NHS identifiers only, a page for each, no file-name use cases."""
    reqs = [{"id": r.id, "level": r.level, "flow": r.flow, "actor": r.actor, "statement": r.statement,
             "refs": list(r.refs), "source": r.source, "verdict": "not-tested", "tests": [], "reason": r.reason,
             "verification": r.verification, **({"kind": r.kind} if r.kind != "conformance" else {})}
            for r in load_catalogue()]
    data = copy.deepcopy(sample.results())
    data["requirements"] = reqs
    scal.write(tmp_path, data)
    _, body = _rows(load_workbook(tmp_path / "scal.xlsx", read_only=True), "SCAL")
    assert len(body) == len(reqs)
    for row in body:
        ids = [x.strip() for x in str(row["Identifier"] or "").split(",") if x.strip()]
        assert all(scal.NHS_IDENTIFIER.match(x) for x in ids), (row["gpc-assure ID"], ids)
        assert ".md" not in str(row["Use case"]) or "reference notes" in str(row["Use case"]), row["Use case"]
        assert row["Link"] or "no public page" in str(row["Use case"])
    gpcm = [r for r in body if str(r["Identifier"] or "").startswith("GPCM-SD-")]
    assert gpcm and all(r["Link"] for r in gpcm)
