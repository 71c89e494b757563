"""results.json: the canonical record of a run, from which every other output is built.

Verdicts per requirement are derived from test outcomes and findings:
- not-met: a test found a problem with it (a finding names it, or a test naming it failed
  without attributing its findings);
- met: at least one test naming it passed (or ran all its checks and failed only on other
  requirements' findings);
- not-applicable: every test naming it was not applicable to the target;
- attested: the catalogue says a person confirms it (issue 7 adds attestation files);
- not-tested: otherwise, with the reason (catalogue reason, insufficient data, errors, not run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from gpc_assure import SPEC_VERSIONS, __version__
from gpc_assure.pfs.levels import SPEC_COMMITS
from gpc_assure.requirements import Catalogue

OUTCOMES = ("passed", "failed", "error", "skipped", "not-applicable", "insufficient-data", "attested")
MANDATORY_LEVEL = "SHALL"


def requirement_verdicts(catalogue: Catalogue, records: list[dict[str, Any]], flows: set[str] | None,
                         roles: set[str] | None, run_error: str | None = None,
                         variants: dict[str, str] | None = None) -> list[dict[str, Any]]:
    by_req: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        for rid in rec["requirements"]:
            by_req.setdefault(rid, []).append(rec)
    out = []
    for req in catalogue:
        in_scope = (not flows or req.flow in flows) and (not roles or req.actor in roles)
        tests = by_req.get(req.id, [])
        if not in_scope and not tests:
            continue
        verdict, reason = _verdict(req.id, req.verification, req.reason, tests, run_error)
        # A requirement of another spec variant than the target's (e.g. a legacy-only one) does not apply.
        variant = (variants or {}).get(req.flow)
        if req.versions and variant and variant not in req.versions and verdict != "not-met":
            verdict, reason = "not-applicable", (f"applies to the {' and '.join(req.versions)} version; "
                                                 f"the target declares {variant}")
        entry: dict[str, Any] = {
            "id": req.id,
            "level": req.level,
            "flow": req.flow,
            "actor": req.actor,
            "statement": req.statement,
            "refs": list(req.refs),
            "source": req.source,
            "verdict": verdict,
            "tests": [t["id"] for t in tests],
            "reason": reason,
        }
        if req.readings:
            entry["readings"] = [r.model_dump() for r in req.readings]
        out.append(entry)
    return out


def _verdict(rid: str, verification: str, catalogue_reason: str | None, tests: list[dict[str, Any]],
             run_error: str | None) -> tuple[str, str | None]:
    failing = [t for t in tests if rid in t.get("failed_requirements", [])]
    if failing:
        return "not-met", f"failed in {len(failing)} test(s): " + "; ".join(t["id"] for t in failing[:3])
    if verification == "attested":
        return "attested", catalogue_reason
    # A failed test supports the requirements it did not fail only if all its checks ran.
    supporting = [t for t in tests if t["outcome"] == "passed" or (t["outcome"] == "failed" and t.get("complete"))]
    if supporting:
        return "met", None
    if tests and all(t["outcome"] == "not-applicable" for t in tests):
        return "not-applicable", tests[0].get("message")
    if verification == "not-tested":
        return "not-tested", catalogue_reason
    if run_error:
        return "not-tested", f"the run could not complete: {run_error}"
    if not tests:
        return "not-tested", "no test for this requirement was run (flow or role not selected)"
    kinds = Counter(t["outcome"] for t in tests)
    first = next((t.get("message") for t in tests if t.get("message")), None)
    return "not-tested", f"{dict(kinds)}" + (f": {first}" if first else "")


def summary(records: list[dict[str, Any]], requirements: list[dict[str, Any]]) -> dict[str, Any]:
    c = Counter(r["outcome"] for r in records)
    verdicts = Counter(r["verdict"] for r in requirements)
    return {
        "tests": len(records),
        "passed": c["passed"],
        "failed": c["failed"],
        "error": c["error"],
        "skipped": c["skipped"],
        "not_applicable": c["not-applicable"],
        "insufficient_data": c["insufficient-data"],
        "attested": verdicts["attested"],
        "requirements": dict(sorted(verdicts.items())),
        "mandatory_not_met": sorted(r["id"] for r in requirements
                                    if r["verdict"] == "not-met" and r["level"] == MANDATORY_LEVEL),
    }


def build(run: Any, records: list[dict[str, Any]], catalogue: Catalogue, flows: set[str] | None,
          roles: set[str] | None) -> dict[str, Any]:
    variants = spec_variants(run.target)
    reqs = requirement_verdicts(catalogue, records, flows, roles, run.setup_error, variants)
    return {
        "run": {
            "id": run.id,
            "started": run.started,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "tool_version": __version__,
            "target": run.target.redacted() if run.target is not None else None,
            "target_file": run.target_file,
            "spec_versions": {**SPEC_VERSIONS, **_variant_versions(variants)},
            "seed": run.seed,
            "fault": run.fault,
            "flows": sorted(flows) if flows else None,
            "roles": sorted(roles) if roles else None,
            "error": run.setup_error,
            "left_behind": list(run.left_behind),
            "evidence_write_failures": run.evidence.failed_writes if run.evidence else 0,
            "evidence_write_error": run.evidence.last_write_error if run.evidence else None,
        },
        "summary": summary(records, reqs),
        "requirements": reqs,
        "tests": records,
    }


def spec_variants(target: Any) -> dict[str, str]:
    """The spec variant each flow is run against, as the target declares it (e.g. permissions: legacy)."""
    section = getattr(target, "permissions", None) if target is not None else None
    out = {"permissions": section.version} if section is not None else {}
    mesh = getattr(target, "mesh", None) if target is not None else None
    if mesh is not None:  # Send Document: v2 or v1.3
        out["messaging"] = mesh.spec_version
    return out


def _variant_versions(variants: dict[str, str]) -> dict[str, str]:
    out = {}
    if "permissions" in variants:
        out["user-permissions"] = f"{variants['permissions']}: {SPEC_COMMITS.get(variants['permissions'], '?')}"
    if "messaging" in variants:
        from gpc_assure.messaging.spec import spec_for

        out["send-document"] = spec_for(variants["messaging"]).label
    return out


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so a reader never sees half a file; on a nearly full disk, try without indentation.

    Raises OSError when neither fits; no partial file is left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    for indent in (1, None):
        try:
            tmp.write_text(json.dumps(data, indent=indent, ensure_ascii=False), "utf-8")
            os.replace(tmp, path)
            return
        except OSError:
            tmp.unlink(missing_ok=True)
            if indent is None:
                raise


def exit_code(results: dict[str, Any]) -> int:
    """0 every requirement tested was met; 1 one was not; 3 the run could not reach or complete.

    A SHOULD that is not met also gives 1: the gate is strict, and a supplier who chooses not to
    meet a SHOULD records that as an accepted deviation rather than relying on a lenient exit code.
    """
    if results["run"].get("error"):
        return 3
    if results["summary"]["requirements"].get("not-met"):
        return 1
    if (results.get("deviations") or {}).get("expired"):  # an expired accepted deviation fails loudly
        return 1
    if results["summary"]["error"]:
        return 3
    if results["run"].get("evidence_write_failures"):  # an incomplete evidence pack cannot pass a gate
        return 3
    return 0
