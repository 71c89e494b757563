"""The soundness self-test for the consumer role: consumers that never do what a step asks meet nothing.

Each degenerate consumer below is a program driven like any consumer under test, through a target
file's [consumer_test] section (see docs/consumer.md): gpc-assure runs it once per step and judges
the requests it makes to the provider simulator. The requirements reported met must lie in the
allowlist (tests/soundness_allowlist.toml, entries naming the consumer as "consumer-<name>", each
saying why such a consumer really does meet that requirement), and the run must not pass the gate.

- silent: does nothing at all;
- fixed-request: for every step, the same correct-looking GET /metadata plus one garbage request (the
  consumer of issue #11 that used to pass the gate);
- garbage: for every step, requests that are not GP Connect at all (no headers, no token, junk);
- no-token: an otherwise correct consumer (tests/consumers/curl_consumer.sh) that sends no
  Authorization header. It is judged on the token requirements only: everything else it does right
  (it is the curl consumer that passes the Foundations suite), so only the token rules are in question.

`python tests/soundness_consumer.py [NAME ...]` prints the met counts per consumer, and the reference
consumer's (everything automated met), for the benchmark figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))

import soundness
from harness import target_data

from gpc_assure.paths import PROJECT_ROOT

CONSUMERS_DIR = Path(__file__).with_name("consumers")
DEGENERATE = CONSUMERS_DIR / "degenerate_consumer.sh"
CURL = CONSUMERS_DIR / "curl_consumer.sh"
# The provider section of a simulate-mode target is not called (the simulator is the provider).
UNUSED_PROVIDER = "http://127.0.0.1:9/A20047/STU3/1/gpconnect"
TOKEN_REQUIREMENTS = ("GEN-HDR-005", "JWT-001", "JWT-002c", "JWT-003", "JWT-004", "JWT-005", "JWT-006c",
                      "JWT-009c", "JWT-010c", "JWT-011", "JWT-012", "JWT-013")


@dataclass(frozen=True)
class Degenerate:
    driver: str  # the [consumer_test] driver command template
    what: str
    requirements: tuple[str, ...] = ()  # judged only on these (empty: the whole consumer role)


CONSUMERS: dict[str, Degenerate] = {
    "silent": Degenerate("true", "does nothing"),
    "fixed-request": Degenerate(f"bash {DEGENERATE} fixed-request {{step}}",
                                "a correct-looking GET /metadata and a garbage request, whatever the step"),
    "garbage": Degenerate(f"bash {DEGENERATE} garbage {{step}}", "garbage requests, whatever the step"),
    "no-token": Degenerate(f"bash {CURL} no-token {{step}}", "otherwise correct, never sends a token",
                           TOKEN_REQUIREMENTS),
}


def kind(name: str) -> str:
    """The consumer's name in the allowlist."""
    return f"consumer-{name}"


def write_target(path: Path, driver: str) -> Path:
    data = target_data(UNUSED_PROVIDER, consumer_test={"driver": driver, "wait_s": 10, "settle_s": 0.3})
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


def _run(args: list[str], out: Path, timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "gpc_assure.cli", "run", "--role", "consumer", "--quiet",
                           "--seed", "1", "--output", str(out), *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout)
    path = out / "results.json"
    if not path.exists():
        raise AssertionError(f"no results.json (exit {proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    data = json.loads(path.read_text("utf-8"))
    data["_exit"] = proc.returncode
    data["_stderr"] = proc.stderr[-3000:]
    return data


def run_consumer(name: str, workdir: Path, timeout: float = 600) -> dict[str, Any]:
    """Run the consumer suites against one degenerate consumer; results.json's content."""
    consumer = CONSUMERS[name]
    target = write_target(workdir / f"{name}.toml", consumer.driver)
    args = ["--target", str(target)]
    for rid in consumer.requirements:
        args += ["--requirement", rid]
    return _run(args, workdir / name, timeout)


def run_reference(workdir: Path, timeout: float = 600) -> dict[str, Any]:
    """The demo run of the consumer role: the built-in reference consumer."""
    return _run([], workdir / "reference", timeout)


def met(results: dict[str, Any]) -> set[str]:
    return soundness.met(results)


def consumer_requirements(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["requirements"] if r.get("actor") == "consumer"]


def allowed(name: str) -> dict[str, str]:
    """requirement -> why the consumer really meets it."""
    return soundness.allowlist().get(kind(name), {})


def unexplained(name: str, results: dict[str, Any]) -> list[str]:
    """Requirements met by the degenerate consumer that the allowlist does not explain."""
    return sorted(met(results) - set(allowed(name)))


def evidence_of(results: dict[str, Any], rid: str) -> str:
    return soundness.evidence_of(results, rid)


def main(names: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{'consumer':16} {'judged':>6} {'met':>4} {'allowed':>7} {'unexplained':>11} {'not met':>7} "
              f"{'tests':>5} {'exit':>4} {'s':>6}")
        for name in names or list(CONSUMERS):
            started = time.monotonic()
            res = run_consumer(name, work)
            _row(name, res, time.monotonic() - started, unexplained(name, res))
        if not names:
            started = time.monotonic()
            res = run_reference(work)
            _row("reference", res, time.monotonic() - started, [])
            automated = [r for r in consumer_requirements(res) if r["verdict"] not in
                         ("attested", "not-tested", "not-applicable")]
            print(f"    reference consumer: {len(met(res))} of {len(automated)} automated consumer requirements met")


def _row(name: str, res: dict[str, Any], took: float, bad: list[str]) -> None:
    reqs = [r for r in consumer_requirements(res) if r["verdict"] in ("met", "not-met", "insufficient-data")]
    not_met = sum(1 for r in reqs if r["verdict"] == "not-met")
    found = met(res)
    print(f"{name:16} {len(reqs):6} {len(found):4} {len(found) - len(bad):7} {len(bad):11} {not_met:7} "
          f"{res['summary']['tests']:5} {res['_exit']:4} {took:6.1f}")
    for rid in bad:
        print(f"    {rid}: {evidence_of(res, rid)}")


if __name__ == "__main__":
    main(sys.argv[1:])
