"""scal.xlsx: the run laid out the way NHS's SCAL (Supplier Conformance Assessment List) is.

Sheet "SCAL" has one row per requirement in the run, with the SCAL's own columns first
(Identifier, Use case, Type, Description, Test cases, Evidence required) and then ours (our ID,
level, verdict, reason, test IDs, evidence file names, source). How our data fills SCAL's columns
(a choice, since the catalogue is not the SCAL itself):
- Identifier: the requirement's official refs (SCAL IDs such as GPCM-SD-028, spec tickets), or our
  own ID where it has none;
- Use case: the specification page the requirement comes from, in words;
- Type: the level as SCAL words: Mandatory (SHALL), Recommended (SHOULD), Optional (MAY);
- Test cases: the titles of the tests that verify it;
- Evidence required: what backs the verdict (test results and exchanges, an attestation, or why
  nothing does).
Further sheets: "Attested" (who, when, what was seen), "Not tested" (with reasons), "Deviations",
"Tests" (one row per test) and "Run" (what was run, against what, with which versions).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

_TYPE = {"SHALL": "Mandatory (SHALL)", "SHOULD": "Recommended (SHOULD)", "MAY": "Optional (MAY)"}
_MAX_CELL = 32_000  # Excel holds at most 32,767 characters in a cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_HEAD_FONT = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="005EB8")  # NHS blue
_VERDICT_FILL = {"met": "D5F5D5", "not-met": "F8D0D0", "accepted-deviation": "FCE8C0", "attested": "D6E4F5",
                 "not-tested": "EEEEEE", "not-applicable": "EEEEEE"}
_WRAP = Alignment(wrap_text=True, vertical="top")

SCAL_COLUMNS = [("Identifier", 22), ("Use case", 28), ("Type", 18), ("Description", 60), ("Test cases", 50),
                ("Evidence required", 40), ("gpc-assure ID", 16), ("Level", 8), ("Verdict", 18), ("Reason", 50),
                ("Tests", 60), ("Evidence files", 40), ("Source", 40)]


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
        return value if len(value) <= _MAX_CELL else value[:_MAX_CELL] + " ... (cut; see results.json)"
    return value


def use_case(req: dict[str, Any]) -> str:
    source = str(req.get("source") or "")
    page, _, section = source.partition("#")
    stem = Path(page).stem
    flow = str(req.get("flow") or "")
    prefix = rf"^(?:{re.escape(flow)}_)?(?:use_case_)?"
    words = re.sub(prefix, "", stem).replace("_", " ").replace("-", " ")
    text = words.strip().capitalize() or flow.capitalize()
    return f"{text} ({section.strip()})" if section.strip() else text


def evidence_required(req: dict[str, Any]) -> str:
    verdict = req["verdict"]
    if verdict == "attested":
        return f"Attestation by a named person: {req.get('reason') or ''}".strip()
    if not req.get("tests"):
        return f"None from gpc-assure: {req.get('reason') or 'not tested'}"
    return "gpc-assure test results and the recorded request/response exchanges (Evidence files)"


class _Sheet:
    def __init__(self, wb: Workbook, title: str, columns: list[tuple[str, int]]):
        self.ws = wb.create_sheet(title)
        for i, (_, width) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        self.ws.freeze_panes = "A2"
        self.ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}1"
        head = []
        for name, _ in columns:
            c = WriteOnlyCell(self.ws, value=name)
            c.font, c.fill = _HEAD_FONT, _HEAD_FILL
            head.append(c)
        self.ws.append(head)
        self.rows = 1
        self.columns = len(columns)

    def add(self, values: list[Any], verdict_col: int | None = None) -> None:
        cells = []
        for i, v in enumerate(values):
            c = WriteOnlyCell(self.ws, value=_cell_text(v))
            c.alignment = _WRAP
            if verdict_col == i and v in _VERDICT_FILL:
                c.fill = PatternFill("solid", fgColor=_VERDICT_FILL[v])
            cells.append(c)
        self.ws.append(cells)
        self.rows += 1

    def close(self) -> None:
        self.ws.auto_filter.ref = f"A1:{get_column_letter(self.columns)}{max(self.rows, 1)}"


def write(pack: Path, results: dict[str, Any]) -> Path:
    wb = Workbook(write_only=True)
    tests = {t["id"]: t for t in results.get("tests", [])}
    reqs = results.get("requirements", [])

    scal = _Sheet(wb, "SCAL", SCAL_COLUMNS)
    for r in reqs:
        linked = [tests[t] for t in r.get("tests", []) if t in tests]
        evidence = list(dict.fromkeys(e for t in linked for e in t.get("exchanges", [])))
        scal.add([", ".join(r.get("refs", [])) or r["id"], use_case(r), _TYPE.get(r.get("level", ""), r.get("level")),
                  r.get("statement"), "\n".join(t.get("title", t["id"]) for t in linked), evidence_required(r),
                  r["id"], r.get("level"), r["verdict"], r.get("reason"), "\n".join(r.get("tests", [])),
                  "\n".join(evidence), r.get("source")], verdict_col=8)
    scal.close()

    att = _Sheet(wb, "Attested", [("Identifier", 22), ("gpc-assure ID", 16), ("Level", 8),
                                  ("What a person confirms", 60), ("Attested by", 24), ("Attested at", 20),
                                  ("What was seen", 60), ("Evidence", 40)])
    for r in reqs:
        if r["verdict"] != "attested":
            continue
        a = r.get("attestation") or {}
        att.add([", ".join(r.get("refs", [])) or r["id"], r["id"], r.get("level"),
                 r.get("reason") or r.get("statement"), a.get("by") or "not yet attested", a.get("at") or "",
                 a.get("seen") or "",
                 "\n".join(a.get("evidence", [])) if isinstance(a.get("evidence"), list) else a.get("evidence", "")])
    att.close()

    nt = _Sheet(wb, "Not tested", [("Identifier", 22), ("gpc-assure ID", 16), ("Level", 8), ("Flow", 14),
                                   ("Description", 60), ("Verdict", 16), ("Reason", 70)])
    for r in reqs:
        if r["verdict"] in ("not-tested", "not-applicable"):
            nt.add([", ".join(r.get("refs", [])) or r["id"], r["id"], r.get("level"), r.get("flow"),
                    r.get("statement"), r["verdict"], r.get("reason")], verdict_col=5)
    nt.close()

    dev = _Sheet(wb, "Deviations", [("Requirement or test", 40), ("Status", 10), ("Expires", 12),
                                    ("Justification", 70), ("Accepted by", 24), ("Matched", 30)])
    for d in (results.get("deviations") or {}).get("entries", []):
        dev.add([d.get("requirement") or d.get("test"), d.get("status"), d.get("expires"), d.get("justification"),
                 d.get("accepted_by"), ", ".join(d.get("matched", [])) or "nothing in this run"])
    dev.close()

    ts = _Sheet(wb, "Tests", [("Test", 60), ("Title", 50), ("Flow", 14), ("Role", 10), ("Outcome", 16),
                              ("Requirements", 24), ("Message", 70), ("Evidence files", 40), ("Seconds", 9)])
    for t in results.get("tests", []):
        ts.add([t["id"], t.get("title"), t.get("flow"), t.get("role"), t["outcome"],
                ", ".join(t.get("requirements", [])), t.get("message"), "\n".join(t.get("exchanges", [])),
                t.get("duration_s")])
    ts.close()

    run = results.get("run", {})
    info = _Sheet(wb, "Run", [("Item", 24), ("Value", 90)])
    target = run.get("target") or {}
    summary = results.get("summary", {})
    for k, v in [("Run ID", run.get("id")), ("Target", (target.get("target") or {}).get("name")),
                 ("Provider base URL", (target.get("provider") or {}).get("base_url")),
                 ("Target file", run.get("target_file")), ("Started", run.get("started")),
                 ("Finished", run.get("finished")), ("Tool version", run.get("tool_version")),
                 ("Spec versions", ", ".join(f"{k} {v}" for k, v in (run.get("spec_versions") or {}).items())),
                 ("Seed", run.get("seed")), ("Fault", run.get("fault") or "none"),
                 ("Flows", ", ".join(run.get("flows") or []) or "all"), ("Run error", run.get("error") or ""),
                 ("Requirement verdicts",
                  ", ".join(f"{k} {v}" for k, v in (summary.get("requirements") or {}).items())),
                 ("Tests", f"{summary.get('tests', 0)} ({summary.get('passed', 0)} passed, "
                           f"{summary.get('failed', 0)} failed, {summary.get('error', 0)} error)")]:
        info.add([k, v])
    info.close()

    path = pack / "scal.xlsx"
    wb.save(path)
    return path
