"""allure-results/: Allure's input files, with requirement labels and every exchange attached.

During `gpc-assure run`, allure-pytest writes the results live (the CLI passes --alluredir) and the
outputs plugin adds, per test: epic = flow, feature = role, story = each interaction the test
called, a `requirement` label and a `tms` link per requirement ID, a `gpc_test` label with the test
ID, and each exchange file as a JSON attachment. At the end, `finish` passes every file through
redaction (allure-pytest writes exception text and tracebacks that gpc-assure did not) and marks
tests with an accepted deviation. When allure-pytest did not run (plain pytest, or
`gpc-assure report DIR` on a pack without allure-results/), `write_from_results` writes equivalent
files from results.json alone.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from gpc_assure.redaction import redact_mapping, redact_text

DIR = "allure-results"
TEST_LABEL = "gpc_test"
_NS = uuid.UUID("8f7a3c1e-9a0b-4f7e-9c55-5e0f2f6a1d20")
_STATUS = {"passed": "passed", "failed": "failed", "error": "broken", "skipped": "skipped",
           "not-applicable": "skipped", "insufficient-data": "skipped"}
_TEXT_SUFFIXES = {".json", ".txt", ".xml", ".html", ".csv", ".log", ".properties"}


def requirement_link(rid: str) -> str:
    """The tms link URL for a requirement: the ID, turned into a URL by --allure-link-pattern tms:...{}."""
    return rid


def interaction_of(pack: Path, exchange_file: str) -> str | None:
    try:
        return json.loads((pack / exchange_file).read_text("utf-8")).get("interaction")
    except (OSError, ValueError):
        return None


def _ms(iso: str | None) -> int:
    try:
        return int(dt.datetime.fromisoformat(iso or "").timestamp() * 1000)
    except ValueError:
        return 0


def write_from_results(pack: Path, results: dict[str, Any]) -> Path:
    """Allure result files for every test in results.json (replacing any allure-results/ there)."""
    out = pack / DIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    requirements = {r["id"]: r for r in results.get("requirements", [])}
    clock = _ms(results.get("run", {}).get("started"))
    for test in results.get("tests", []):
        test_uuid = str(uuid.uuid5(_NS, test["id"]))
        module, _, func = test["id"].partition("::")
        labels = [{"name": "epic", "value": test.get("flow", "")}, {"name": "feature", "value": test.get("role", "")},
                  {"name": TEST_LABEL, "value": test["id"]}, {"name": "framework", "value": "gpc-assure"},
                  {"name": "suite", "value": module.removesuffix(".py").replace("/", ".")}]
        links = []
        for rid in test.get("requirements", []):
            labels.append({"name": "requirement", "value": rid})
            refs = requirements.get(rid, {}).get("refs", [])
            links.append({"type": "tms", "url": requirement_link(rid),
                          "name": rid + (f" ({', '.join(refs)})" if refs else "")})
        attachments = []
        stories: list[str] = []
        for n, ex in enumerate(test.get("exchanges", [])):
            src = pack / ex
            if not src.is_file():
                continue
            name = f"{uuid.uuid5(_NS, test['id'] + '#' + str(n))}-attachment.json"
            shutil.copyfile(src, out / name)
            attachments.append({"name": Path(ex).name, "source": name, "type": "application/json"})
            interaction = interaction_of(pack, ex)
            if interaction and interaction not in stories:
                stories.append(interaction)
        labels += [{"name": "story", "value": s} for s in stories]
        duration = int(float(test.get("duration_s") or 0) * 1000)
        status = _STATUS.get(test["outcome"], "unknown")
        details: dict[str, Any] = {}
        if test.get("message"):
            details["message"] = test["message"]
        if test.get("findings"):
            details["trace"] = "\n".join(f"[{f['requirement']}] {f['message']}" for f in test["findings"])
        record = {"uuid": test_uuid, "historyId": test_uuid, "testCaseId": test_uuid,
                  "fullName": f"{module}#{func}", "name": test.get("title") or func, "status": status,
                  "statusDetails": details, "labels": labels, "links": links, "attachments": attachments,
                  "parameters": [], "start": clock, "stop": clock + duration}
        clock += duration
        (out / f"{test_uuid}-result.json").write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    _mark_deviations(out, results)
    return out


def finish(pack: Path, results: dict[str, Any]) -> Path:
    """After allure-pytest: redact every file it wrote and mark accepted deviations."""
    out = pack / DIR
    for path in sorted(out.iterdir()):
        if not path.is_file() or path.suffix not in _TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if path.suffix == ".json":
            try:
                cleaned = json.dumps(redact_mapping(json.loads(text)), ensure_ascii=False)
            except ValueError:
                cleaned = redact_text(text)
        else:
            cleaned = redact_text(text)
        if cleaned != text:
            path.write_text(cleaned, "utf-8")
    _mark_deviations(out, results)
    return out


def _mark_deviations(out: Path, results: dict[str, Any]) -> None:
    tests = {t["id"]: t for t in results.get("tests", []) if t.get("deviation")}
    if not tests:
        return
    reasons = {r["id"]: r.get("reason") or "" for r in results.get("requirements", [])}
    for path in out.glob("*-result.json"):
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        tid = next((lb["value"] for lb in record.get("labels", []) if lb.get("name") == TEST_LABEL), None)
        test = tests.get(tid)
        if test is None or any(lb.get("value") in ("accepted-deviation", "expired-deviation")
                               for lb in record.get("labels", []) if lb.get("name") == "tag"):
            continue  # not a deviation, or already marked (a rebuild)
        dev = test["deviation"]
        why = "; ".join(reasons.get(r, "") for r in dev.get("requirements", []))
        details = record.setdefault("statusDetails", {}) or {}
        record["statusDetails"] = details
        if dev["status"] == "active":
            details["known"] = True
            details["message"] = f"{why}\n\n{details.get('message') or ''}".strip()
            record["labels"].append({"name": "tag", "value": "accepted-deviation"})
        else:
            details["message"] = f"EXPIRED accepted deviation: {why}\n\n{details.get('message') or ''}".strip()
            record["labels"].append({"name": "tag", "value": "expired-deviation"})
        path.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
