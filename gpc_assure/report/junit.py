"""junit.xml built from results.json: one testcase per conformance test, requirement IDs as properties.

Written by gpc-assure rather than pytest's own junitxml, so that it can be rebuilt from
results.json, carries only redacted text, and speaks the run's vocabulary:
- failed -> <failure> with the test's message and its findings, one per line;
- error -> <error>; skipped, not-applicable, insufficient-data -> <skipped> with the outcome in
  `type` and the reason in `message`;
- a failure covered by a live accepted deviation -> <skipped type="accepted-deviation"> with the
  justification (visible, but not a CI failure); an expired one stays a <failure> that says so.
Each testcase has properties `requirement` (one per ID), `title`, `flow`, `role`, `outcome`, and
`evidence` (one per exchange file), and its exchange file names in <system-out>.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

_SKIPPED = {"skipped", "not-applicable", "insufficient-data"}
_XML_BAD = dict.fromkeys([c for c in range(32) if c not in (9, 10, 13)])


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters (a hostile target may send them)."""
    return text.translate(_XML_BAD) if text else ""


def _names(test_id: str) -> tuple[str, str, str]:
    path, _, name = test_id.partition("::")
    classname = path.removesuffix(".py").replace("/", ".")
    bare, bracket, params = name.partition("[")  # parameters may hold '::' themselves
    if "::" in bare:  # a test class: Module::Class::test
        cls, _, bare = bare.rpartition("::")
        classname += "." + cls.replace("::", ".")
        name = bare + bracket + params
    return classname, name or test_id, path


def _failure_text(test: dict[str, Any]) -> str:
    lines = [test.get("message") or ""]
    for f in test.get("findings", []):
        lines.append(f"[{f['requirement']}] {f['message']}" + (f" (at {f['path']})" if f.get("path") else ""))
    return "\n".join(line for line in lines if line)


def _testcase(suite: ET.Element, test: dict[str, Any], requirements: dict[str, dict[str, Any]]) -> str:
    classname, name, path = _names(test["id"])
    case = ET.SubElement(suite, "testcase", classname=classname, name=_clean(name), file=path,
                         time=f"{float(test.get('duration_s') or 0):.3f}")
    props = ET.SubElement(case, "properties")
    for rid in test.get("requirements", []):
        ET.SubElement(props, "property", name="requirement", value=rid)
        for ref in requirements.get(rid, {}).get("refs", []):
            ET.SubElement(props, "property", name="requirement_ref", value=f"{rid}={ref}")
    for key in ("title", "flow", "role", "outcome"):
        ET.SubElement(props, "property", name=key, value=_clean(str(test.get(key) or "")))
    for ex in test.get("exchanges", []):
        ET.SubElement(props, "property", name="evidence", value=ex)
    outcome = test["outcome"]
    message = _clean(test.get("message") or "")
    first_line = message.splitlines()[0] if message else outcome
    deviation = test.get("deviation") or {}
    if outcome == "failed" and deviation.get("status") == "active":
        reqs = ", ".join(deviation.get("requirements", []))
        reasons = "; ".join(requirements[r]["reason"] for r in deviation.get("requirements", [])
                            if r in requirements and requirements[r].get("reason"))
        el = ET.SubElement(case, "skipped", type="accepted-deviation",
                           message=_clean(f"accepted deviation ({reqs}): {reasons or first_line}"))
        el.text = _clean(_failure_text(test))
        kind = "skipped"
    elif outcome == "failed":
        prefix = "EXPIRED accepted deviation; " if deviation.get("status") == "expired" else ""
        el = ET.SubElement(case, "failure", type="failed", message=_clean(prefix + first_line))
        el.text = _clean(_failure_text(test))
        kind = "failure"
    elif outcome == "error":
        el = ET.SubElement(case, "error", type="error", message=first_line)
        el.text = message
        kind = "error"
    elif outcome in _SKIPPED:
        ET.SubElement(case, "skipped", type=outcome, message=_clean(f"{outcome}: {message}".rstrip(": ")))
        kind = "skipped"
    else:
        kind = "passed"
    if test.get("exchanges"):
        ET.SubElement(case, "system-out").text = "evidence:\n" + "\n".join(test["exchanges"])
    return kind


def build(results: dict[str, Any]) -> ET.ElementTree:
    run = results.get("run", {})
    requirements = {r["id"]: r for r in results.get("requirements", [])}
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for test in results.get("tests", []):
        by_suite[f"gpc-assure.{test.get('role', 'unknown')}.{test.get('flow', 'unknown')}"].append(test)
    root = ET.Element("testsuites", name="gpc-assure")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for suite_name in sorted(by_suite):
        tests = by_suite[suite_name]
        suite = ET.SubElement(root, "testsuite", name=suite_name, timestamp=str(run.get("started") or ""))
        sprops = ET.SubElement(suite, "properties")
        for key in ("id", "tool_version", "seed", "fault"):
            if run.get(key) is not None:
                ET.SubElement(sprops, "property", name=f"run_{key}", value=str(run[key]))
        counts = {"failure": 0, "error": 0, "skipped": 0}
        for test in tests:
            kind = _testcase(suite, test, requirements)
            if kind in counts:
                counts[kind] += 1
        seconds = sum(float(t.get("duration_s") or 0) for t in tests)
        suite.set("tests", str(len(tests)))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", str(counts["error"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", f"{seconds:.3f}")
        totals["tests"] += len(tests)
        totals["failures"] += counts["failure"]
        totals["errors"] += counts["error"]
        totals["skipped"] += counts["skipped"]
        total_time += seconds
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    return ET.ElementTree(root)


def write(pack: Path, results: dict[str, Any]) -> Path:
    path = pack / "junit.xml"
    tree = build(results)
    ET.indent(tree, space=" ")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
