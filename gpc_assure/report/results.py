"""results.json: the canonical record of a run, from which every other output is built.

Verdicts per requirement are derived from the judgements the tests recorded (gpc_assure.checks.core):
- not-met: some judgement of it is not met (a finding);
- met: at least one judgement of it is met, and none is not met;
- not-applicable: every test naming it was not applicable to the target;
- attested: the catalogue says a person confirms it, and an attestation records who, when and what
  (consumer attestation file, declarations file); until then it is awaiting-attestation, never met;
- insufficient-data: tests ran, but every judgement of it was "not judged" (the reasons are kept,
  with the requirements whose failure left it unjudged);
- not-tested: otherwise, with the reason (catalogue reason, flow not selected, run not completed).
A test's outcome says nothing about the requirements it did not judge.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gpc_assure import SPEC_VERSIONS, __version__
from gpc_assure.pfs.levels import SPEC_COMMITS
from gpc_assure.report.identity import identity
from gpc_assure.requirements import Catalogue, in_scope

OUTCOMES = ("passed", "failed", "error", "skipped", "not-applicable", "insufficient-data", "attested")
MANDATORY_LEVEL = "SHALL"


MAX_EVIDENCE = 3
MAX_EXCHANGES = 3


def aggregate(judgements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Judgements with the same requirement, verdict, check, message and place folded into one, with a
    count and the first few exchanges (a generated test may judge the same rule hundreds of times)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for j in judgements:
        key = (j["requirement"], j["verdict"], j.get("check"), j["message"], j.get("path"), j.get("cause"))
        seen = out.get(key)
        if seen is None:
            out[key] = {**j, "count": 1, "exchanges": [j["exchange"]] if j.get("exchange") else []}
            out[key].pop("exchange", None)
            continue
        seen["count"] += 1
        if j.get("exchange") and j["exchange"] not in seen["exchanges"] and len(seen["exchanges"]) < MAX_EXCHANGES:
            seen["exchanges"].append(j["exchange"])
    return list(out.values())


def requirement_verdicts(catalogue: Catalogue, records: list[dict[str, Any]], flows: set[str] | None,
                         roles: set[str] | None, run_error: str | None = None,
                         variants: dict[str, str] | None = None) -> list[dict[str, Any]]:
    by_req: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        named = list(rec["requirements"])
        # A precondition's not-met is charged to the requirement it is about, named or not by the test.
        named += [j["requirement"] for j in rec.get("judgements", []) if j["requirement"] not in named]
        for rid in dict.fromkeys(named):
            by_req.setdefault(rid, []).append(rec)
    out = []
    for req in catalogue:
        scoped = in_scope(req, flows, roles)
        tests = by_req.get(req.id, [])
        if not scoped and not tests:
            continue
        verdict, reason, evidence, causes = _verdict(req.id, req.verification, req.reason, tests, run_error)
        if (req.flow == "permissions" and req.actor == "consumer" and req.kind == "conformance"
                and (variants or {}).get("rm213") == "incumbent-consumer-without-user-permissions"):
            verdict, reason = "not-applicable", (
                "RM213 category incumbent consumer, declared not to deliver the User Permissions API (it may use "
                "IM1 instead), so the User Permissions consumer rows do not apply")
            evidence, causes = [], []
        # A requirement of another spec variant than the target's (e.g. a legacy-only one) does not apply.
        variant = (variants or {}).get(req.flow)
        if req.versions and variant and variant not in req.versions and verdict != "not-met":
            verdict, reason = "not-applicable", (f"applies to the {' and '.join(req.versions)} version; "
                                                 f"the target declares {variant}")
            evidence, causes = [], []
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
            # What the verdict is derived from besides the tests (so `gpc-assure verify` can derive it again).
            "verification": req.verification,
        }
        if req.versions:
            entry["versions"] = list(req.versions)
        if req.kind != "conformance":
            entry["kind"] = req.kind
        if req.applies_to:
            entry["applies_to"] = list(req.applies_to)
        if evidence:
            entry["evidence"] = evidence
        if verdict == "met":
            entry["judged_on"] = judged_on(req.id, tests)
        if causes:
            entry["blocked_by"] = causes
        if req.readings:
            entry["readings"] = [r.model_dump() for r in req.readings]
        out.append(entry)
    return out


def _judgements_of(rid: str, tests: list[dict[str, Any]], verdict: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(t, j) for t in tests for j in t.get("judgements", []) if j["requirement"] == rid
            and j["verdict"] == verdict]


_EXCHANGE_NAME = re.compile(r"^exchanges/\d+-(.+)\.json$")


def judged_on(rid: str, tests: list[dict[str, Any]]) -> list[str]:
    """The interactions whose exchanges met judgements of the requirement were made on (e.g. slot-search):
    a reviewer sees whether a rule about every interaction was shown on one or on all."""
    out = {m.group(1) for t in tests for j in t.get("judgements", []) if j["requirement"] == rid
           and j["verdict"] == "met" for x in j.get("exchanges", []) if (m := _EXCHANGE_NAME.match(x))}
    return sorted(out)


def _cite(test: dict[str, Any], j: dict[str, Any]) -> dict[str, Any]:
    out = {"test": test["id"], "title": test.get("title"), "check": j.get("check") or j["message"],
           "seen": j["message"], "exchanges": j.get("exchanges", []), "count": j.get("count", 1)}
    if j.get("request"):
        out["request"] = j["request"]
    return out


def _verdict(rid: str, verification: str, catalogue_reason: str | None, tests: list[dict[str, Any]],
             run_error: str | None) -> tuple[str, str | None, list[dict[str, Any]], list[str]]:
    failing = _judgements_of(rid, tests, "not-met")
    if failing:
        names = list(dict.fromkeys(t["id"] for t, _ in failing))
        first = failing[0][1]
        return ("not-met", f"not met in {len(names)} test(s): {first['message']}"[:600]
                + ("" if len(names) == 1 else f" (and in {', '.join(names[1:3])}"
                   + (" ..." if len(names) > 3 else "") + ")"),
                [_cite(t, j) for t, j in failing[:MAX_EVIDENCE]], [])
    if verification == "attested":
        # Attested only once a person's attestation (who, when, what) is recorded: the supplier's files do that.
        return "awaiting-attestation", catalogue_reason, [], []
    met = _judgements_of(rid, tests, "met")
    if met:
        return "met", None, [_cite(t, j) for t, j in met[:MAX_EVIDENCE]], []

    if tests and all(t["outcome"] == "not-applicable" for t in tests):
        return "not-applicable", tests[0].get("message"), [], []
    if verification == "not-tested":
        return "not-tested", catalogue_reason, [], []
    if run_error:
        return "not-tested", f"the run could not complete: {run_error}", [], []
    if not tests:
        return "not-tested", "no test for this requirement was run (flow or role not selected)", [], []
    unjudged = _judgements_of(rid, tests, "not-judged")
    causes = list(dict.fromkeys(j["cause"] for _, j in unjudged if j.get("cause")))
    reasons = list(dict.fromkeys(j["message"] for _, j in unjudged))
    # Tests that ended before judging anything (a fixture's missing test data, an error) say why in their message.
    silent = [t for t in tests if not any(j["requirement"] == rid for j in t.get("judgements", []))]
    reasons += [t["message"] for t in silent if t.get("message")]
    reasons = list(dict.fromkeys(r.splitlines()[0] for r in reasons if r))
    more = f" (and {len(reasons) - 3} more reasons)" if len(reasons) > 3 else ""
    text = "; ".join(reasons[:3]) + more
    if unjudged or any(t["outcome"] == "insufficient-data" for t in silent):
        return "insufficient-data", text or "no check could judge it", [], causes
    # Only errors, skips or not-applicable parts: the run did not test it (the reasons say why).
    return "not-tested", text or "the tests naming it did not run", [], causes


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
        "root_causes": root_causes(records, requirements),
        "readiness": readiness(requirements),
    }


def readiness(requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """Submission readiness beside the technical gate: what is still outstanding before a reviewer can sign.

    Outstanding: requirements not met, attested rows nobody has attested yet, SHALLs no test could
    judge, declarations unanswered (or answered no). Accepted deviations are listed, not outstanding.
    """
    def ids(test: Any) -> list[str]:
        return sorted(r["id"] for r in requirements if test(r))

    declaration = lambda r: r.get("kind") == "declaration"  # noqa: E731
    out = {
        "not_met": ids(lambda r: r["verdict"] == "not-met" and not declaration(r)),
        "awaiting_attestation": ids(lambda r: r["verdict"] == "awaiting-attestation" and not declaration(r)),
        "shall_not_tested": ids(lambda r: r["level"] == MANDATORY_LEVEL and not declaration(r)
                                and r["verdict"] in ("not-tested", "insufficient-data")),
        "declarations_outstanding": ids(lambda r: declaration(r) and r["verdict"] in ("awaiting-attestation",
                                                                                      "not-met")),
        "accepted_deviations": ids(lambda r: r["verdict"] == "accepted-deviation"),
    }
    out["ready"] = not any(out[k] for k in ("not_met", "awaiting_attestation", "shall_not_tested",
                                            "declarations_outstanding"))
    return out


def root_causes(records: list[dict[str, Any]], requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failures that left other requirements unjudged, biggest first: what a supplier fixes first.

    Each names the requirement that was not met, its first finding, and the requirements (not met
    nowhere else) that could not be judged because of it.
    """
    verdict = {r["id"]: r["verdict"] for r in requirements}
    blocked: dict[str, set[str]] = {}
    tests: dict[str, set[str]] = {}
    for rec in records:
        for j in rec.get("judgements", []):
            cause = j.get("cause")
            if j["verdict"] == "not-judged" and cause and cause != j["requirement"]:
                blocked.setdefault(cause, set()).add(j["requirement"])
                tests.setdefault(cause, set()).add(rec["id"])
    first: dict[str, str] = {}
    for rec in records:
        for j in rec.get("judgements", []):
            if j["verdict"] == "not-met" and j["requirement"] in blocked and j["requirement"] not in first:
                first[j["requirement"]] = j["message"]
    out = []
    for cause, reqs in blocked.items():
        unjudged = sorted(r for r in reqs if verdict.get(r) not in ("met", "not-met"))
        if not unjudged:
            continue
        out.append({"requirement": cause, "finding": first.get(cause), "unjudged": unjudged,
                    "tests": len(tests[cause])})
    out.sort(key=lambda c: (-len(c["unjudged"]), c["requirement"]))
    return out


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
            **identity(run.target),
            "target": run.target.redacted() if run.target is not None else None,
            "target_file": run.target_file,
            "spec_versions": {**SPEC_VERSIONS, **_variant_versions(variants)},
            "seed": run.seed,
            "fault": run.fault,
            "variants": variants,
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
    system = getattr(target, "system", None) if target is not None else None
    if system is not None and system.rm213_category:
        # RM213 decides which User Permissions rows are mandatory for this supplier (report: run.variants).
        out["rm213"] = system.rm213_category + (
            "-without-user-permissions" if system.rm213_category == "incumbent-consumer"
            and not system.delivers_user_permissions else "")
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
    """0 every requirement tested was met; 1 one was not (or a test failed); 3 the run could not reach or complete.

    A SHOULD that is not met also gives 1: the gate is strict, and a supplier who chooses not to
    meet a SHOULD records that as an accepted deviation rather than relying on a lenient exit code.
    """
    if results["run"].get("error"):
        return 3
    if results["summary"]["requirements"].get("not-met"):
        return 1
    if any(t["outcome"] == "failed" and not t.get("failed_requirements") for t in results.get("tests", [])):
        return 1  # a failed test whose failure no requirement carries (the target sent what no check could read)
    if (results.get("deviations") or {}).get("expired"):  # an expired accepted deviation fails loudly
        return 1
    if results["summary"]["error"]:
        return 3
    if results["run"].get("evidence_write_failures"):  # an incomplete evidence pack cannot pass a gate
        return 3
    return 0
