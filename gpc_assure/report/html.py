"""report.html: the assurance report, one self-contained file that opens from disk with no network.

Built from results.json and the exchange files with Jinja2 templates (report/templates/); styles
and scripts are inlined, nothing is fetched. The page is streamed to disk as it renders, and
exchange files are read one test at a time, so memory stays flat however many tests a run has.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from gpc_assure.report import results as results_mod
from gpc_assure.report.results import exit_code
from gpc_assure.report.scal import nhs_identifiers, other_references

MAX_BODY_CHARS = 100_000  # per body in the page; the exchange file keeps the whole (redacted) body
VERDICTS = ("not-met", "accepted-deviation", "met", "insufficient-data", "awaiting-attestation", "attested",
            "not-applicable", "not-tested")
OUTCOMES = ("failed", "error", "passed", "insufficient-data", "not-applicable", "skipped")
LEVELS = ("SHALL", "SHOULD", "MAY")
GATE = {0: ("passed", "every requirement tested was met"), 1: ("failed", "a requirement was not met"),
        3: ("incomplete", "the run could not reach or complete against the target")}

# Decisions a reader needs in order to read the verdicts right; shown in the report itself.
NOTES = [
    ("Requirement verdicts", "met: at least one check saw a response of the kind the requirement is about and "
     "the rule held (the judgement that met it is shown, with its exchange), and no check found a problem with "
     "it; not-met: a check found a problem with it; insufficient-data: tests ran but no check could judge it "
     "(the reasons are shown, and when another requirement's failure stopped them, that requirement); "
     "accepted-deviation: not met, but the supplier's deviations "
     "file accepts it with the justification shown, until its expiry date (it does not fail the gate; once "
     "expired it is not-met again and the gate fails); attested: a named person confirmed it outside the "
     "tool (who, when and what is shown); awaiting-attestation: nobody has attested it yet (it never counts "
     "as met); "
     "not-applicable: the target declared it does not offer the behaviour; not-tested: nothing verified it, "
     "with the reason."),
    ("Test outcomes", "passed (a requirement it names was met and nothing it judged was not met), failed (a check "
     "found a problem), error (the run or environment failed, not the target), insufficient-data (it could judge "
     "nothing: the target's test data could not exercise it, or a precondition did not hold), not-applicable, "
     "skipped. A test's failure counts only against the requirements its findings name."),
    ("Judgements", "every check speaks for one requirement and ends met, not met (a finding) or not judged (its "
     "precondition did not hold, with why). A failed precondition (a booking the test needs, the patient a find "
     "must return) is charged to the requirement it is about; the test's other requirements are not judged."),
    ("Gate", "exit 0 when no requirement is not-met and no accepted deviation has expired; 1 otherwise; "
     "3 when the run could not reach or complete against the target. A SHOULD that is not met fails the "
     "gate too: accept it as a deviation if that is the supplier's decision."),
    ("Evidence", "every exchange is recorded as a file under exchanges/ with secrets (bearer tokens, private "
     "keys, passwords, MESH keys) redacted before it is written; bodies longer than the page shows are cut "
     "here and kept whole in the file. manifest.json holds the SHA-256 of every file of the pack: "
     "'gpc-assure verify DIR' finds any change."),
    ("Ambiguous specification", "where the specification can be read two ways, the requirement lists the "
     "reading the check enforces (Readings)."),
]


def slug(test_id: str) -> str:
    return "t-" + hashlib.sha1(test_id.encode("utf-8")).hexdigest()[:12]


def pretty_body(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    if "json" in body:
        text = json.dumps(body["json"], indent=2, ensure_ascii=False)
    else:
        text = body.get("text") or ""
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + f"\n... (cut at {MAX_BODY_CHARS:,} characters; see the exchange file)"
    return text


def _load_exchange(pack: Path, name: str) -> dict[str, Any]:
    """An exchange file as the page shows it (already redacted: the evidence writer redacts every file)."""
    try:
        data = json.loads((pack / name).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return {"file": name, "missing": f"exchange file not readable: {exc.__class__.__name__}"}
    data["file"] = name
    for side in ("request", "response"):
        part = data.get(side)
        if isinstance(part, dict):
            part["pretty"] = pretty_body(part.get("body"))
    return data


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("gpc_assure.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["slug"] = slug
    return env


OUTSTANDING = [("not_met", "Not met"), ("awaiting_attestation", "Awaiting attestation"),
               ("shall_not_tested", "SHALL not tested or not judged"),
               ("declarations_outstanding", "Declarations outstanding")]


def context(pack: Path, results: dict[str, Any], baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    run = results.get("run", {})
    reqs = results.get("requirements", [])
    tests = results.get("tests", [])
    req_by_id = {r["id"]: r for r in reqs}
    findings_by_req: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tests:
        for f in t.get("findings", []):
            findings_by_req[f["requirement"]].append({"test": t["id"], "title": t.get("title", ""), **f})
    by_flow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in reqs:
        by_flow[r.get("flow") or "other"].append(r)
    verdict_counts = {flow: Counter(r["verdict"] for r in rs) for flow, rs in by_flow.items()}
    code = exit_code(results)
    gate, gate_why = GATE.get(code, ("unknown", ""))

    def test_views() -> Iterator[dict[str, Any]]:
        for t in tests:
            levels = sorted({req_by_id[r]["level"] for r in t.get("requirements", []) if r in req_by_id})
            verdicts = sorted({req_by_id[r]["verdict"] for r in t.get("requirements", []) if r in req_by_id})
            judged = list(dict.fromkeys([*t.get("requirements", []),
                                         *(j["requirement"] for j in t.get("judgements", []))]))
            yield {**t, "levels": levels, "req_verdicts": verdicts, "judged_reqs": judged,
                   "exchange_records": (_load_exchange(pack, e) for e in t.get("exchanges", []))}

    target = run.get("target") or {}
    readiness = (results.get("summary") or {}).get("readiness") or results_mod.readiness(reqs)
    return {
        "run": run,
        "target_name": (target.get("target") or {}).get("name") or run.get("target_file") or "unknown target",
        "base_url": (target.get("provider") or {}).get("base_url") or "",
        "summary": results.get("summary", {}),
        "gate": gate, "gate_why": gate_why, "exit_code": code,
        "flows": sorted(by_flow), "by_flow": by_flow, "verdict_counts": verdict_counts,
        "verdict_names": VERDICTS, "outcome_names": OUTCOMES, "levels": LEVELS,
        "findings_by_req": findings_by_req,
        "tests": test_views(), "test_count": len(tests), "test_ids": {t["id"] for t in tests},
        "attested": [r for r in reqs if r["verdict"] in ("attested", "awaiting-attestation")
                     and r.get("kind") != "declaration"],
        "declared": [r for r in reqs if r.get("kind") == "declaration"],
        "not_tested": [r for r in reqs if r["verdict"] in ("not-tested", "not-applicable", "insufficient-data")
                       and r.get("kind") != "declaration"],
        "root_causes": (results.get("summary") or {}).get("root_causes") or [],
        "readiness": readiness,
        "outstanding_rows": OUTSTANDING,
        "outstanding_count": sum(len(readiness.get(k) or []) for k, _ in OUTSTANDING),
        "titles": {t["id"]: t.get("title") or t["id"].split("::")[-1] for t in tests},
        "baseline": baseline,
        "nhs_ids": nhs_identifiers,
        "other_refs": other_references,
        "deviations": results.get("deviations") or {},
        "notes": NOTES,
        "masked": bool(run.get("patients_masked")),
    }


def write(pack: Path, results: dict[str, Any], baseline: dict[str, Any] | None = None) -> Path:
    path = pack / "report.html"
    tmp = pack / "report.html.tmp"
    env = _environment()
    template = env.get_template("report.html.j2")
    assets = {name: env.loader.get_source(env, f"report.{name}")[0] for name in ("css", "js")}  # type: ignore[union-attr]
    with tmp.open("w", encoding="utf-8") as f:
        for chunk in template.generate(**context(pack, results, baseline or results.get("baseline")), **assets):
            f.write(chunk)
    os.replace(tmp, path)
    return path
