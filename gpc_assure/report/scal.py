"""scal.xlsx: the run as an annex to NHS's SCAL (Supplier Conformance Assessment List).

A supplier fills in NHS's own SCAL template and cites evidence for each row; this workbook is that
evidence laid out row by row so it can be read beside the template. It does not pretend to be the
template: NHS's columns hold only what NHS would put there, and everything of ours is in our own columns.

Sheet "SCAL", one row per requirement in the run. NHS's columns first, as NHS publishes them
(Identifier | Use case | Type | Link | Description | Item | Test cases | Evidence required):
- Identifier: the NHS identifier of the row, only where NHS publishes one (a SCAL or requirement ID such
  as GPCM-SD-028, GPCM-C-1, an ITK3 requirement such as FHIR-RR-02, a roadmap requirement such as
  E00166); empty otherwise. Our own ID, tickets, test-suite files, standards and the IDs of our
  research notes are never put here (they are in "gpc-assure ID" and "Other references");
- Use case and Link: the specification page the requirement comes from, its published title and public
  address (gpc_assure.spec.pages); where there is no public page, Use case says why;
- Type: the level as SCAL words: Mandatory (SHALL), Recommended (SHOULD), Optional (MAY);
- Description: the requirement, in our words;
- Item: what the supplier provides for this row under our verdict model (this tool's evidence pack, an
  attestation by a named person, a declaration, or evidence from outside this tool);
- Test cases: the titles of the tests that verify it;
- Evidence required: the kind of evidence that backs the row. Never the verdict: that is "Status".
Then ours: gpc-assure ID, Level, Status (the verdict), Reason, Other references, Tests, What was checked,
Evidence files, Reading(s) of ambiguous rules, Source.

Further sheets: "Attested" (rows a person attests: who, when, what was seen), "Not tested" (with
reasons), "Declarations" (what the supplier declares: answer, declarant, evidence), "Deviations",
"Tests" (one row per test) and "Run" (what was run, against which system, by whom, over what transport,
with which test data, and how ready the submission is).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from gpc_assure.spec import pages

_TYPE = {"SHALL": "Mandatory (SHALL)", "SHOULD": "Recommended (SHOULD)", "MAY": "Optional (MAY)"}
_MAX_CELL = 32_000  # Excel holds at most 32,767 characters in a cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_HEAD_FONT = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="005EB8")  # NHS blue
_OURS_FILL = PatternFill("solid", fgColor="425563")  # NHS dark grey: our columns, not NHS's
_LINK_FONT = Font(color="0563C1", underline="single")
_VERDICT_FILL = {"met": "D5F5D5", "not-met": "F8D0D0", "accepted-deviation": "FCE8C0", "attested": "D6E4F5",
                 "awaiting-attestation": "E8DDF5", "not-tested": "EEEEEE", "not-applicable": "EEEEEE",
                 "insufficient-data": "FFF4CC"}
_WRAP = Alignment(wrap_text=True, vertical="top")

# Identifiers NHS publishes for SCAL and requirement rows: GP Connect Messaging / Send Document SCAL
# (GPCM-SD-nnn, GPCM-C-n) and user stories (GPC-SDnn), the ITK3 Messaging Distribution requirements
# (FHIR-PAY/BA/RR/PDS-nn), the IDs the official test pack's wiki gives the appointment consumer tests
# (GPC-SFS-nn, GPC-AMUS-BPA-n/n), and the requirement IDs of NHS's roadmap items (E00166, E00313).
NHS_IDENTIFIER = re.compile(r"^(?:GPCM-SD-\d{2,3}|GPCM-C-\d+|GPC-SD\d{2}|GPC-SFS-\d{2}|GPC-AMUS-BPA-\d+/\d+"
                            r"|FHIR-(?:PAY|BA|RR|PDS)-\d{2}|E\d{5})$")

NHS_COLUMNS = [("Identifier", 18), ("Use case", 40), ("Type", 18), ("Link", 40), ("Description", 60),
               ("Item", 44), ("Test cases", 50), ("Evidence required", 40)]
OUR_COLUMNS = [("gpc-assure ID", 16), ("Level", 8), ("Status", 20), ("Reason", 50), ("Other references", 24),
               ("Tests", 60), ("What was checked", 60), ("Evidence files", 40),
               ("Reading(s) of ambiguous rules", 50), ("Source", 40)]
SCAL_COLUMNS = NHS_COLUMNS + OUR_COLUMNS

_FIELD_WORDS = {"cso_name": "the Clinical Safety Officer's name", "dspt_org_code": "the DSPT organisation code",
                "dspt_status": "the DSPT status", "dspt_year": "the DSPT assessment year",
                "category": "the RM213 supplier category"}


def nhs_identifiers(refs: list[str]) -> list[str]:
    """The refs that are identifiers NHS publishes (what the SCAL "Identifier" column may hold)."""
    return [r for r in refs if NHS_IDENTIFIER.match(r.strip())]


def other_references(refs: list[str]) -> list[str]:
    """Every other ref: tickets, official test-suite files, standards, IDs of our research notes."""
    return [r for r in refs if not NHS_IDENTIFIER.match(r.strip())]


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
        return value if len(value) <= _MAX_CELL else value[:_MAX_CELL] + " ... (cut; see results.json)"
    return value


def _how(req: dict[str, Any]) -> str:
    """How the row is verified: automated, attested, declaration or not-tested (older packs: inferred)."""
    if req.get("kind") == "declaration":
        return "declaration"
    verification = req.get("verification")
    if verification in ("automated", "attested", "not-tested"):
        return verification
    return "attested" if req.get("verdict") in ("attested", "awaiting-attestation") else "automated"


def use_case(req: dict[str, Any]) -> str:
    """The specification page the requirement comes from: title, section, publication (or why no page)."""
    return pages.page(str(req.get("source") or "")).use_case


def link(req: dict[str, Any]) -> str:
    return pages.page(str(req.get("source") or "")).url or ""


def item(req: dict[str, Any]) -> str:
    """What the supplier provides for this row (NHS's "Item"), whatever the verdict."""
    how = _how(req)
    if how == "declaration":
        try:
            from gpc_assure.declarations import REQUIRED_FIELDS
        except ImportError:  # pragma: no cover - the declarations module is part of the tool
            REQUIRED_FIELDS = {}
        needs = [_FIELD_WORDS.get(f, f.replace("_", " ")) for f in REQUIRED_FIELDS.get(req["id"], ())]
        extra = f", {', '.join(needs)}," if needs else ""
        return ("Declaration by a named person for the supplier (name, role, organisation, date): the answer "
                f"(yes, no or not applicable){extra} and the document it rests on")
    if how == "attested":
        what = str(req.get("reason") or "").strip()
        return "Attestation by a named person (who, when, what they saw)" + (f" that {what}" if what else "")
    if how == "not-tested":
        why = str(req.get("reason") or "").strip()
        return "Evidence from outside gpc-assure" + (f" (this tool does not test it: {why})" if why else "")
    return "gpc-assure evidence pack: the test results and the request/response exchanges they recorded"


def evidence_required(req: dict[str, Any]) -> str:
    """The kind of evidence that backs the row (never the verdict: that is the Status column)."""
    return {
        "declaration": "The supplier's declaration: declarant, date, answer and the evidence it cites "
                       "(sheet Declarations)",
        "attested": "An attestation record: who attested, when, what they saw, and any evidence file it names "
                    "(sheet Attested)",
        "not-tested": "Supplier evidence from outside gpc-assure (this tool produces none for this requirement)",
    }.get(_how(req), "Test results and the recorded request/response exchanges (columns Tests and Evidence "
                     "files; report.html)")


def _checked(req: dict[str, Any]) -> str:
    """What the judgements behind the verdict checked and saw, one line each."""
    lines = []
    for e in req.get("evidence") or []:
        check, seen = str(e.get("check") or "").strip(), str(e.get("seen") or "").strip()
        text = check if not seen or seen == check else f"{check}: {seen}" if check else seen
        count = e.get("count") or 1
        by = e.get("title") or e.get("test") or ""
        lines.append(f"{text}{f' (x{count})' if count > 1 else ''}{f' [{by}]' if by else ''}")
    return "\n".join(dict.fromkeys(lines))


def _evidence_files(req: dict[str, Any], linked: list[dict[str, Any]]) -> list[str]:
    """The exchanges the verdict's judgements cite; without judgements, those of the tests that name it."""
    cited = [x for e in req.get("evidence") or [] for x in e.get("exchanges") or []]
    if cited:
        return list(dict.fromkeys(cited))
    return list(dict.fromkeys(e for t in linked for e in t.get("exchanges", [])))


def _readings(req: dict[str, Any]) -> str:
    return "\n".join(f"{r.get('ref')}: {r.get('reading')}" if r.get("ref") else str(r.get("reading"))
                     for r in req.get("readings") or [])


class _Sheet:
    def __init__(self, wb: Workbook, title: str, columns: list[tuple[str, int]], ours_from: int | None = None):
        self.ws = wb.create_sheet(title)
        for i, (_, width) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        self.ws.freeze_panes = "A2"
        head = []
        for i, (name, _) in enumerate(columns):
            c = WriteOnlyCell(self.ws, value=name)
            c.font = _HEAD_FONT
            c.fill = _OURS_FILL if ours_from is not None and i >= ours_from else _HEAD_FILL
            head.append(c)
        self.ws.append(head)
        self.rows = 1
        self.columns = len(columns)

    def add(self, values: list[Any], verdict_col: int | None = None, link_col: int | None = None) -> None:
        cells = []
        for i, v in enumerate(values):
            c = WriteOnlyCell(self.ws, value=_cell_text(v))
            c.alignment = _WRAP
            if verdict_col == i and v in _VERDICT_FILL:
                c.fill = PatternFill("solid", fgColor=_VERDICT_FILL[v])
            if link_col == i and isinstance(v, str) and v.startswith(("https://", "http://")):
                c.hyperlink = v
                c.font = _LINK_FONT
            cells.append(c)
        self.ws.append(cells)
        self.rows += 1

    def close(self) -> None:
        self.ws.auto_filter.ref = f"A1:{get_column_letter(self.columns)}{max(self.rows, 1)}"


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items() if _text(v))
    return str(value)


def _scal_sheet(wb: Workbook, reqs: list[dict[str, Any]], tests: dict[str, dict[str, Any]]) -> None:
    scal = _Sheet(wb, "SCAL", SCAL_COLUMNS, ours_from=len(NHS_COLUMNS))
    status_col = len(NHS_COLUMNS) + 2
    for r in reqs:
        refs = [str(x) for x in r.get("refs") or []]
        linked = [tests[t] for t in r.get("tests", []) if t in tests]
        page = pages.page(str(r.get("source") or ""))
        scal.add([", ".join(nhs_identifiers(refs)), page.use_case, _TYPE.get(r.get("level", ""), r.get("level")),
                  page.url or "", r.get("statement"), item(r), "\n".join(t.get("title") or t["id"] for t in linked),
                  evidence_required(r),
                  r["id"], r.get("level"), r["verdict"], r.get("reason"), ", ".join(other_references(refs)),
                  "\n".join(r.get("tests", [])), _checked(r), "\n".join(_evidence_files(r, linked)), _readings(r),
                  r.get("source")], verdict_col=status_col, link_col=3)
    scal.close()


def _attested_sheet(wb: Workbook, reqs: list[dict[str, Any]]) -> None:
    att = _Sheet(wb, "Attested", [("Identifier", 18), ("gpc-assure ID", 16), ("Level", 8),
                                  ("What a person confirms", 60), ("Attested by", 24), ("Attested at", 20),
                                  ("What was seen", 60), ("Evidence", 40), ("Status", 20)])
    for r in reqs:
        if _how(r) != "attested":
            continue
        a = r.get("attestation") or {}
        evidence = a.get("evidence")
        att.add([", ".join(nhs_identifiers(r.get("refs") or [])), r["id"], r.get("level"),
                 r.get("reason") or r.get("statement"), a.get("by") or "not yet attested", a.get("at") or "",
                 a.get("seen") or "", "\n".join(evidence) if isinstance(evidence, list) else evidence or "",
                 r["verdict"]], verdict_col=8)
    att.close()


def _not_tested_sheet(wb: Workbook, reqs: list[dict[str, Any]]) -> None:
    nt = _Sheet(wb, "Not tested", [("Identifier", 18), ("gpc-assure ID", 16), ("Level", 8), ("Flow", 14),
                                   ("Description", 60), ("Status", 16), ("Reason", 70)])
    for r in reqs:
        if r["verdict"] in ("not-tested", "not-applicable", "insufficient-data") and _how(r) != "declaration":
            nt.add([", ".join(nhs_identifiers(r.get("refs") or [])), r["id"], r.get("level"), r.get("flow"),
                    r.get("statement"), r["verdict"], r.get("reason")], verdict_col=5)
    nt.close()


def _declarations_sheet(wb: Workbook, reqs: list[dict[str, Any]], run: dict[str, Any]) -> None:
    dec = _Sheet(wb, "Declarations", [("gpc-assure ID", 14), ("Identifier", 14), ("Statement", 60),
                                      ("Status", 20), ("Answer", 50), ("Declarant", 40), ("Declared on", 12),
                                      ("Evidence", 40), ("Reason", 50), ("Other references", 20), ("Link", 40)])
    file = (run.get("declarations") or {}).get("file")
    for r in reqs:
        if _how(r) != "declaration":
            continue
        a = r.get("attestation") or {}
        refs = [str(x) for x in r.get("refs") or []]
        dec.add([r["id"], ", ".join(nhs_identifiers(refs)), r.get("statement"), r["verdict"],
                 a.get("seen") or ("not answered" + (f" in {file}" if file else " (no declarations file)")),
                 a.get("by") or "", a.get("at") or "", a.get("evidence") or "", r.get("reason") or "",
                 ", ".join(other_references(refs)), link(r)], verdict_col=3, link_col=10)
    dec.close()


def _run_rows(results: dict[str, Any]) -> list[tuple[str, Any]]:
    run = results.get("run") or {}
    target = run.get("target") or {}
    summary = results.get("summary") or {}
    rows: list[tuple[str, Any]] = [
        ("Run ID", run.get("id")), ("Target", (target.get("target") or {}).get("name")),
        ("Provider base URL", (target.get("provider") or {}).get("base_url")),
        ("Target file", run.get("target_file")), ("Started", run.get("started")), ("Finished", run.get("finished")),
    ]
    system = run.get("system") or {}
    if system:
        order = ["supplier", "product", "version", "build", "environment", "operator"]
        for key in order + sorted(k for k in system if k not in order):
            rows.append((f"System: {key}", _text(system.get(key)) or "not given"))
    else:
        rows.append(("System", "not recorded (the target file has no [system] section)"))
    tool = run.get("tool") or {}
    rows += [("Tool version", tool.get("version") or run.get("tool_version")),
             ("Tool commit", tool.get("commit") or "not recorded")]
    transport = run.get("transport") or {}
    if transport:
        rows += [("Transport: scheme", transport.get("scheme")), ("Transport: TLS", _text(transport.get("tls")))]
        for key, label in (("mutual_tls", "mutual TLS"), ("client_certificate_subject", "client certificate"),
                           ("ca_bundle", "CA bundle"), ("note", "note")):
            if key in transport:
                rows.append((f"Transport: {label}", _text(transport.get(key)) or "none"))
    else:
        rows.append(("Transport", "not recorded"))
    test_data = run.get("test_data") or {}
    for role, nhs in sorted(test_data.items()):
        rows.append((f"Test data: {role}", _text(nhs)))
    if not test_data:
        rows.append(("Test data", "not recorded"))
    declarations = run.get("declarations") or {}
    if declarations:
        who = declarations.get("declarant") or {}
        rows += [("Declarations: declarant", ", ".join(_text(who.get(k)) for k in ("name", "role", "organisation")
                                                        if who.get(k))),
                 ("Declarations: dated", who.get("date")), ("Declarations: file", declarations.get("file")),
                 ("Declarations: rows answered", declarations.get("answered")),
                 ("Declarations: attestations", declarations.get("attested"))]
    else:
        rows.append(("Declarations", "no declarations file given"))
    readiness = summary.get("readiness")
    if readiness:
        outstanding = sum(len(readiness.get(k) or []) for k in ("not_met", "awaiting_attestation",
                                                                 "shall_not_tested", "declarations_outstanding"))
        rows.append(("Submission readiness", "ready" if readiness.get("ready") else
                     f"not ready: {outstanding} item(s) outstanding"))
        for key, label in (("not_met", "not met"), ("awaiting_attestation", "awaiting attestation"),
                           ("shall_not_tested", "SHALLs not tested or not judged"),
                           ("declarations_outstanding", "declarations outstanding"),
                           ("accepted_deviations", "accepted deviations")):
            ids = readiness.get(key) or []
            rows.append((f"Readiness: {label}", f"{len(ids)}" + (f": {', '.join(ids)}" if ids else "")))
    rows += [
        ("Spec versions", ", ".join(f"{k} {v}" for k, v in (run.get("spec_versions") or {}).items())),
        ("Spec variants", _text(run.get("variants")) or "none declared"),
        ("Seed", run.get("seed")), ("Fault", run.get("fault") or "none"),
        ("Flows", ", ".join(run.get("flows") or []) or "all"), ("Roles", ", ".join(run.get("roles") or []) or "all"),
        ("Run error", run.get("error") or ""),
        ("Requirement verdicts", ", ".join(f"{k} {v}" for k, v in (summary.get("requirements") or {}).items())),
        ("Tests", f"{summary.get('tests', 0)} ({summary.get('passed', 0)} passed, "
                  f"{summary.get('failed', 0)} failed, {summary.get('error', 0)} error)"),
    ]
    return rows


def write(pack: Path, results: dict[str, Any]) -> Path:
    wb = Workbook(write_only=True)
    tests = {t["id"]: t for t in results.get("tests", [])}
    reqs = results.get("requirements", [])
    run = results.get("run") or {}

    _scal_sheet(wb, reqs, tests)
    _attested_sheet(wb, reqs)
    _not_tested_sheet(wb, reqs)
    _declarations_sheet(wb, reqs, run)

    dev = _Sheet(wb, "Deviations", [("Requirement or test", 40), ("Status", 10), ("Expires", 12),
                                    ("Justification", 70), ("Accepted by", 24), ("Matched", 30)])
    entries = (results.get("deviations") or {}).get("entries", [])
    for d in entries:
        dev.add([d.get("requirement") or d.get("test"), d.get("status"), d.get("expires"), d.get("justification"),
                 d.get("accepted_by"), ", ".join(d.get("matched", [])) or "nothing in this run"])
    if not entries:
        dev.add(["none declared", "", "", "", "", ""])
    dev.close()

    ts = _Sheet(wb, "Tests", [("Test", 60), ("Title", 50), ("Flow", 14), ("Role", 10), ("Outcome", 16),
                              ("Requirements", 24), ("Message", 70), ("Evidence files", 40), ("Seconds", 9)])
    for t in results.get("tests", []):
        ts.add([t["id"], t.get("title"), t.get("flow"), t.get("role"), t["outcome"],
                ", ".join(t.get("requirements", [])), t.get("message"), "\n".join(t.get("exchanges", [])),
                t.get("duration_s")])
    ts.close()

    info = _Sheet(wb, "Run", [("Item", 30), ("Value", 90)])
    for k, v in _run_rows(results):
        info.add([k, v if isinstance(v, int | float) or v is None else _text(v)])
    info.close()

    path = pack / "scal.xlsx"
    wb.save(path)
    return path
