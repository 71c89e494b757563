"""requirements.csv: the coverage matrix, one row per requirement in the run, keyed by ID and NHS's SCAL identifiers
(other references, such as tickets and our notes' IDs, in their own column)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

from gpc_assure.report.scal import nhs_identifiers, other_references

COLUMNS = ["requirement", "scal_refs", "other_refs", "level", "flow", "actor", "verdict", "reason", "tests",
           "test_outcomes", "evidence_files", "deviation_expires", "source", "statement"]


def rows(results: dict[str, Any]) -> list[dict[str, str]]:
    tests = {t["id"]: t for t in results.get("tests", [])}
    out = []
    for req in results.get("requirements", []):
        linked = [tests[t] for t in req.get("tests", []) if t in tests]
        outcomes = Counter(t["outcome"] for t in linked)
        evidence = list(dict.fromkeys(e for t in linked for e in t.get("exchanges", [])))
        out.append({
            "requirement": req["id"],
            "scal_refs": "; ".join(nhs_identifiers(req.get("refs", []))),
            "other_refs": "; ".join(other_references(req.get("refs", []))),
            "level": req.get("level", ""),
            "flow": req.get("flow", ""),
            "actor": req.get("actor", ""),
            "verdict": req["verdict"],
            "reason": req.get("reason") or "",
            "tests": "; ".join(req.get("tests", [])),
            "test_outcomes": "; ".join(f"{k}={v}" for k, v in sorted(outcomes.items())),
            "evidence_files": "; ".join(evidence),
            "deviation_expires": (req.get("deviation") or {}).get("expires", ""),
            "source": req.get("source", ""),
            "statement": req.get("statement", ""),
        })
    return out


def write(pack: Path, results: dict[str, Any]) -> Path:
    path = pack / "requirements.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(results))
    return path
