"""Verdicts that follow from the evidence: derive every requirement verdict again from the test records.

A pack's requirement verdicts are a summary of its tests' judgements (report/results.py). Hashes
(manifest.json) prove the files are as they were built; they cannot prove the verdicts were honest
when they were built, nor stop someone editing results.json and rebuilding. So:

- `derive(results)` recomputes every requirement verdict from the recorded test judgements, the
  catalogue facts the pack records for each requirement, the run's scope, and the recorded accepted
  deviations; `gpc-assure report` builds its outputs from these, never from the recorded verdicts;
- `problems(pack, results)` lists every recorded verdict that does not follow (a "met" without a met
  judgement, an "attested" without an attestation, a changed count) and every exchange a judgement
  cites that is not in the pack; `gpc-assure verify` fails on any of them.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from gpc_assure.report import results as results_mod
from gpc_assure.requirements import Catalogue, Reading, Requirement

DEVIATED = "accepted-deviation"


def _catalogue(results: dict[str, Any]) -> Catalogue:
    """The catalogue as the pack recorded it (the tool that reads a pack may carry a newer one)."""
    reqs = []
    for r in results.get("requirements", []):
        verification = r.get("verification") or "automated"
        reason = r.get("reason") if verification != "automated" else None
        reqs.append(Requirement(
            id=r["id"], statement=r.get("statement") or r["id"], level=r.get("level") or "SHALL",
            actor=r.get("actor") or "provider", flow=r.get("flow") or "foundations", spec="recorded",
            spec_version="recorded", source=r.get("source") or "recorded", refs=list(r.get("refs") or []),
            verification=verification, reason=reason or ("recorded" if verification != "automated" else None),
            readings=[Reading(**x) for x in r.get("readings") or []], versions=list(r.get("versions") or []),
            kind=r.get("kind") or "conformance", applies_to=list(r.get("applies_to") or [])))
    return Catalogue(reqs)


def derive(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every requirement verdict derived again from the pack's own test records (deviations re-applied)."""
    run = results.get("run") or {}
    flows = set(run["flows"]) if run.get("flows") else None
    roles = set(run["roles"]) if run.get("roles") else None
    derived = results_mod.requirement_verdicts(_catalogue(results), results.get("tests", []), flows, roles,
                                               run.get("error"), run.get("variants") or {})
    recorded = {r["id"]: r for r in results.get("requirements", [])}
    for r in derived:
        old = recorded.get(r["id"], {})
        for key in ("attestation", "deviation"):  # facts the run added from the supplier's files
            if key in old:
                r[key] = copy.deepcopy(old[key])
        if r["verdict"] == "awaiting-attestation":
            r["verdict"] = _attested_verdict(old)
        if r["verdict"] == old.get("verdict") and "reason" in old:
            r["reason"] = old["reason"]
        if r["verdict"] == "not-met" and _deviation_live(results, r["id"]):
            r["verdict"] = DEVIATED
            r["reason"] = old.get("reason")
    return derived


def _attested_verdict(old: dict[str, Any]) -> str:
    """An attested row's verdict from the attestation the pack records: attested only with who, when, what."""
    a = old.get("attestation") or {}
    if not (a.get("by") and a.get("at") and a.get("seen")):
        return "awaiting-attestation"
    if old.get("kind") == "declaration":
        status = a.get("status")
        return status if status in ("not-met", "not-applicable", "awaiting-attestation") else "attested"
    return "attested"


def _deviation_live(results: dict[str, Any], rid: str) -> bool:
    dev = results.get("deviations") or {}
    today = dev.get("today")
    for e in dev.get("entries") or []:
        if rid in (e.get("matched") or []) and e.get("status") == "active":
            if today and dt.date.fromisoformat(e["expires"]) < dt.date.fromisoformat(today):
                return False
            return True
    return False


def problems(pack: Path, results: dict[str, Any]) -> list[str]:
    """Why the pack's verdicts do not follow from its evidence (empty when they do)."""
    out: list[str] = []
    derived = {r["id"]: r for r in derive(results)}
    recorded = {r["id"]: r for r in results.get("requirements", [])}
    for rid, r in recorded.items():
        d = derived.get(rid)
        if d is None:
            out.append(f"{rid}: recorded as {r.get('verdict')} but no test record or catalogue row gives it a verdict")
            continue
        if r.get("verdict") != d["verdict"]:
            out.append(f"{rid}: recorded as {r.get('verdict')}, but its test records give {d['verdict']}")
        if r.get("verdict") == "met" and not r.get("evidence"):
            out.append(f"{rid}: recorded as met with no judgement cited as evidence")
        if r.get("verdict") == "attested" and r.get("verification") != "attested":
            out.append(f"{rid}: recorded as attested but the catalogue verifies it {r.get('verification')}")
        a = r.get("attestation") or {}
        if r.get("verdict") == "attested" and not (a.get("by") and a.get("at") and a.get("seen")):
            out.append(f"{rid}: recorded as attested with no attestation saying who, when and what")
    counts = Counter(r.get("verdict") for r in recorded.values())
    summary = (results.get("summary") or {}).get("requirements") or {}
    if {k: v for k, v in summary.items() if v} != {k: v for k, v in counts.items() if v}:
        out.append(f"the summary's requirement counts {dict(sorted(summary.items()))} do not match the "
                   f"requirements recorded {dict(sorted(counts.items()))}")
    cited = {x for t in results.get("tests", []) for j in t.get("judgements", []) for x in j.get("exchanges", [])}
    cited |= {x for t in results.get("tests", []) for x in t.get("exchanges", [])}
    missing = sorted(x for x in cited if not (pack / x).is_file())
    if missing:
        out.append(f"{len(missing)} exchange file(s) cited as evidence are not in the pack, e.g. {missing[0]}")
    return out


def with_derived_verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """A copy of results whose requirement verdicts and summary are derived from the test records."""
    out = copy.deepcopy(results)
    out["requirements"] = derive(results)
    summary = results_mod.summary(out.get("tests", []), out["requirements"])
    for key in ("accepted_deviations", "expired_deviations"):
        if key in (results.get("summary") or {}):
            summary[key] = results["summary"][key]
    out["summary"] = summary
    return out
