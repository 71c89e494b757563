"""Benchmark: build every evidence-pack output from 10,000 synthetic test results.

    python benchmarks/report_10k.py [--tests 10000] [--requirements 1000] [--keep DIR]

Writes a synthetic pack (results.json and one exchange file per test, shaped like a real run's),
then, in a fresh interpreter so nothing from generating it is counted, times each output
(report.html, scal.xlsx, requirements.csv, junit.xml, allure-results/ from results.json,
manifest.json) and reports the wall time, the CPU time (steadier than wall time on a shared
machine) and the process's peak resident memory. A measurement, not a timed test: nothing here
fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWS = ("foundations", "appointments", "permissions", "messaging")
LEVELS = ("SHALL", "SHALL", "SHALL", "SHOULD", "MAY")


def _capability(i: int) -> dict:
    return {"resourceType": "CapabilityStatement", "version": "1.2.7", "name": f"GP Connect {i}",
            "status": "active", "fhirVersion": "3.0.1", "format": ["application/fhir+json", "application/fhir+xml"],
            "rest": [{"mode": "server", "resource": [
                {"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "identifier", "type": "token"}]}
                for t in ("Patient", "Practitioner", "Organization", "Location", "Slot", "Appointment")]}]}


def generate(pack: Path, n_tests: int, n_reqs: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    (pack / "exchanges").mkdir(parents=True, exist_ok=True)
    reqs = [{"id": f"SYN-{i:05d}", "level": rnd.choice(LEVELS), "flow": FLOWS[i % len(FLOWS)], "actor": "provider",
             "statement": f"Synthetic requirement {i}: the provider answers with a conformant resource.",
             "refs": [f"GPC-SYN-{i}"], "source": f"{FLOWS[i % len(FLOWS)]}_use_case_synthetic.md",
             "tests": [], "reason": None} for i in range(n_reqs)]
    tests = []
    for i in range(n_tests):
        flow = FLOWS[i % len(FLOWS)]
        names = [r["id"] for r in rnd.sample(reqs[i % len(FLOWS)::len(FLOWS)], 2)]
        failed = rnd.random() < 0.05
        tid = f"suites/provider/{flow}/test_synthetic_{i // 100:03d}.py::test_case[{i}]"
        exchange = f"exchanges/{i + 1:05d}-metadata-read.json"
        record = {
            "test": tid, "label": "", "interaction": "metadata.read", "elapsed_s": 0.004,
            "request": {"method": "GET", "url": "http://127.0.0.1:1/A1/STU3/1/gpconnect/metadata",
                        "headers": [["ssp-traceid", f"{i:08d}-0000-4000-8000-000000000000"],
                                    ["ssp-from", "200000000359"], ["ssp-to", "918999198993"],
                                    ["accept", "application/fhir+json"], ["authorization", "Bearer [REDACTED]"]],
                        "body": {"size": 0}},
            "response": {"status": 200, "http_version": "HTTP/1.1",
                         "headers": [["content-type", "application/fhir+json;charset=utf-8"],
                                     ["cache-control", "no-store"]],
                         "body": {"size": 3000, "json": _capability(i)}, "truncated": False},
            "error": None, "notes": [],
        }
        (pack / exchange).write_text(json.dumps(record, indent=1), "utf-8")
        findings = [{"requirement": names[0], "message": f"synthetic problem in test {i}", "reading": None,
                     "path": "CapabilityStatement.version"}] if failed else []
        tests.append({"id": tid, "title": f"Synthetic test {i}", "flow": flow, "role": "provider",
                      "requirements": names, "outcome": "failed" if failed else "passed",
                      "message": f"finding:\n - {names[0]}: synthetic problem in test {i}" if failed else "",
                      "duration_s": 0.01, "exchanges": [exchange], "findings": findings,
                      "failed_requirements": [names[0]] if failed else []})
        for rid in names:
            reqs[int(rid[4:])]["tests"].append(tid)
    failing = {t["failed_requirements"][0] for t in tests if t["failed_requirements"]}
    for r in reqs:
        r["verdict"] = "not-met" if r["id"] in failing else ("met" if r["tests"] else "not-tested")
    verdicts: dict[str, int] = {}
    for r in reqs:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    failed_n = sum(t["outcome"] == "failed" for t in tests)
    results = {
        "run": {"id": "20260101T000000Z-bench0", "started": "2026-01-01T00:00:00+00:00",
                "finished": "2026-01-01T01:00:00+00:00", "tool_version": "0.1.0",
                "target": {"target": {"name": "synthetic"}}, "target_file": None,
                "spec_versions": {"gpconnect": "1.2.7"}, "seed": seed, "fault": None, "flows": None, "roles": None,
                "error": None, "left_behind": [], "evidence_write_failures": 0},
        "summary": {"tests": n_tests, "passed": n_tests - failed_n, "failed": failed_n, "error": 0, "skipped": 0,
                    "not_applicable": 0, "insufficient_data": 0, "attested": 0, "requirements": verdicts,
                    "mandatory_not_met": []},
        "requirements": reqs,
        "tests": tests,
    }
    (pack / "results.json").write_text(json.dumps(results, indent=1), "utf-8")


def build(pack: Path) -> None:
    """In a fresh interpreter: time each output and report peak memory, as JSON on stdout."""
    from gpc_assure.report import allure, coverage, html, junit, manifest, scal
    from gpc_assure.report import pack as pack_mod

    usage = resource.getrusage(resource.RUSAGE_SELF)
    baseline_kb, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    timings: dict[str, float] = {}
    started = time.perf_counter()
    t = time.perf_counter()
    results = pack_mod.load_results(pack)
    timings["load results.json"] = time.perf_counter() - t
    for name, writer in [("report.html", html.write), ("scal.xlsx", scal.write),
                         ("requirements.csv", coverage.write), ("junit.xml", junit.write),
                         ("allure-results/", allure.write_from_results), ("manifest.json", manifest.write)]:
        t = time.perf_counter()
        writer(pack, results)
        timings[name] = time.perf_counter() - t
    total = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
    sizes = {name: (pack / name).stat().st_size for name in ("report.html", "scal.xlsx", "requirements.csv",
                                                              "junit.xml", "manifest.json", "results.json")}
    print(json.dumps({"seconds": timings, "total_s": total, "cpu_s": cpu, "peak_rss_mb": peak_kb / 1024,
                      "rss_after_imports_mb": baseline_kb / 1024, "sizes": sizes}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=10_000)
    ap.add_argument("--requirements", type=int, default=1_000)
    ap.add_argument("--keep", type=Path, help="write the synthetic pack here and keep it")
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the measured child process
    args = ap.parse_args()
    if args.build:
        build(args.build)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        pack = args.keep or Path(tmp) / "pack"
        t = time.perf_counter()
        generate(pack, args.tests, args.requirements)
        print(f"synthetic pack: {args.tests:,} tests, {args.requirements:,} requirements, "
              f"{args.tests:,} exchange files ({time.perf_counter() - t:.1f} s to generate)")
        proc = subprocess.run([sys.executable, __file__, "--build", str(pack)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        m = json.loads(proc.stdout)
    for name, seconds in m["seconds"].items():
        size = m["sizes"].get(name.rstrip("/"))
        print(f"  {name:<20} {seconds:7.2f} s" + (f"  {size / 1e6:8.1f} MB" if size else ""))
    print(f"every output: {m['total_s']:.1f} s wall time ({m['cpu_s']:.1f} s CPU); "
          f"peak memory {m['peak_rss_mb']:.0f} MB resident "
          f"({m['rss_after_imports_mb']:.0f} MB of it the interpreter and imports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
