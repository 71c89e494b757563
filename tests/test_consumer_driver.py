"""Consumer assurance end to end: consumers driven by a command, a silent consumer, proxy mode, attestation.

The command-driven consumer is a shell script using curl (tests/consumers/curl_consumer.sh), written
without any gpc-assure code, so it shows a consumer nobody here wrote can be driven and judged.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from harness import assert_no_traceback, results, run_cli, target_data

from gpc_assure.reference.server import ReferenceServer, target_mapping

CURL_CONSUMER = Path(__file__).parent / "consumers" / "curl_consumer.sh"
# The provider section of a simulate-mode target is not called (the simulator is the provider).
UNUSED_PROVIDER = "http://127.0.0.1:9/A20047/STU3/1/gpconnect"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None,
                                reason="the curl consumer needs bash and curl")


def consumer_target(path: Path, **consumer_test: Any) -> Path:
    data = target_data(UNUSED_PROVIDER, consumer_test={"wait_s": 10, "settle_s": 0.3, **consumer_test})
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


def outcomes(pack: Path) -> dict[str, str]:
    return {t["id"].split("::")[-1]: t["outcome"] for t in results(pack)["tests"]}


def not_met(pack: Path) -> list[str]:
    return sorted(r["id"] for r in results(pack)["requirements"] if r["verdict"] == "not-met")


def test_curl_consumer_following_the_rules_passes(tmp_path):
    target = consumer_target(tmp_path / "t.toml", driver=f"bash {CURL_CONSUMER} ok {{step}}")
    proc = run_cli("run", "--target", target, "--role", "consumer", "--flow", "foundations", "--quiet",
                   "--output", tmp_path / "pack")
    assert_no_traceback(proc)
    got = outcomes(tmp_path / "pack")
    assert proc.returncode == 0, (proc.stdout[-2000:], {k: v for k, v in got.items() if v != "passed"})
    assert got and set(got.values()) == {"passed"}
    journeys = json.loads((tmp_path / "pack" / "consumer-journeys.json").read_text())
    assert journeys["driver"] == "command"
    steps = {s["step"]: s for s in journeys["journeys"]["foundations"]["steps"]}
    assert steps["find-patient"]["driver"]["exit_code"] == 0
    assert {c["interaction"] for c in steps["register-patient"]["calls"]} == {"patient.find", "patient.register"}


def test_curl_consumer_reusing_a_trace_id_fails_exactly_there(tmp_path):
    target = consumer_target(tmp_path / "t.toml", driver=f"bash {CURL_CONSUMER} reuse-trace-id {{step}}")
    proc = run_cli("run", "--target", target, "--role", "consumer", "--flow", "foundations", "--quiet",
                   "--output", tmp_path / "pack")
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stdout[-2000:]
    got = outcomes(tmp_path / "pack")
    assert [t for t, o in got.items() if o != "passed"] == ["test_trace_id_per_request"]
    assert not_met(tmp_path / "pack") == ["GEN-HDR-001"]
    failed = next(t for t in results(tmp_path / "pack")["tests"] if t["outcome"] == "failed")
    assert "was sent on" in failed["message"] and failed["exchanges"]


def test_a_consumer_that_never_calls_ends_within_the_wait(tmp_path):
    wait = 2.0
    target = consumer_target(tmp_path / "t.toml", driver="true", wait_s=wait, settle_s=wait)
    started = time.monotonic()
    proc = run_cli("run", "--target", target, "--role", "consumer", "--quiet", "--output", tmp_path / "pack")
    took = time.monotonic() - started
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stdout[-2000:]
    data = results(tmp_path / "pack")
    failed = [t for t in data["tests"] if t["outcome"] == "failed"]
    assert failed and all("no request arrived" in t["message"] for t in failed)
    assert not [t for t in data["tests"] if t["outcome"] in ("passed", "error")]
    # One step's wait, then the silent consumer is not set off again; the rest is start-up and the pack.
    journeys = json.loads((tmp_path / "pack" / "consumer-journeys.json").read_text())
    waited = sum(s["waited_s"] for j in journeys["journeys"].values() for s in j["steps"])
    assert waited < wait * 1.5, waited
    assert took < 40, took
    assert (tmp_path / "pack" / "manifest.json").is_file() and (tmp_path / "pack" / "report.html").is_file()


def test_proxy_mode_judges_the_reference_consumer_on_the_way_to_a_real_provider(tmp_path):
    with ReferenceServer() as upstream:
        data = target_mapping(upstream.pack, upstream.base, upstream.provider.permissions)
        data["consumer_test"] = {"mode": "proxy", "driver": "reference", "wait_s": 10}
        target = tmp_path / "t.toml"
        target.write_text(tomli_w.dumps(data), "utf-8")
        proc = run_cli("run", "--target", target, "--role", "consumer", "--quiet", "--output", tmp_path / "pack")
        assert_no_traceback(proc)
        got = outcomes(tmp_path / "pack")
        assert proc.returncode == 0, (proc.stdout[-2000:], {k: v for k, v in got.items() if v != "passed"})
        assert "failed" not in got.values() and "error" not in got.values()
        journeys = json.loads((tmp_path / "pack" / "consumer-journeys.json").read_text())
        assert journeys["mode"] == "proxy"
        served = {c["served_by"] for j in journeys["journeys"].values() for s in j["steps"] for c in s["calls"]}
        assert "proxy" in served
        # The booking really reached the second reference provider.
        from gpc_assure.reference.diary import diary_of

        assert any(a.booking_org.get("name") for a in diary_of(upstream.provider.store).appointments.values()
                   if a.id not in ("900001", "900002", "900003"))


def test_attestation_file_is_in_the_pack_and_items_stay_attested(tmp_path):
    evidence = tmp_path / "evidence" / "slots.png"
    evidence.parent.mkdir()
    evidence.write_bytes(b"\x89PNG not really a screenshot")
    attestation = tmp_path / "attestation.toml"
    attestation.write_text(tomli_w.dumps({"attestation": [{
        "requirement": "CON-013", "by": "A. Tester, Example Health", "at": "2025-05-01T10:30:00Z",
        "seen": "The slot list showed the slot and schedule types.", "evidence": "evidence/slots.png"}]}), "utf-8")
    target = consumer_target(tmp_path / "t.toml", driver="reference", attestation=str(attestation))
    proc = run_cli("run", "--target", target, "--role", "consumer", "--flow", "appointments", "--quiet",
                   "--output", tmp_path / "pack")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout[-2000:]
    reqs = {r["id"]: r for r in results(tmp_path / "pack")["requirements"]}
    con013 = reqs["CON-013"]
    assert con013["verdict"] == "attested"
    assert con013["attestation"]["status"].startswith("attested, awaiting confirmation")
    assert con013["attestation"]["by"] == "A. Tester, Example Health"
    assert any("the slot type '" in line for line in con013["attestation"]["served"])
    assert reqs["CON-014"]["attestation"]["status"] == "awaiting attestation"
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert "attestation/attestation.toml" in manifest["files"]
    assert "attestation/evidence/slots.png" in manifest["files"]
    assert run_cli("verify", tmp_path / "pack").returncode == 0


@pytest.mark.parametrize(("section", "message"), [
    ({"driver": "./consumer --nhs {nhs}"}, "consumer_test.driver: unknown placeholder {nhs}"),
    ({"mode": "mirror"}, "consumer_test.mode:"),
    ({"wait_s": 0}, "consumer_test.wait_s:"),
    ({"attestation": "missing.toml"}, "consumer_test.attestation: file not found"),
])
def test_bad_consumer_test_section_is_one_clear_line(tmp_path, section, message):
    target = tmp_path / "t.toml"
    target.write_text(tomli_w.dumps(target_data(UNUSED_PROVIDER, consumer_test=section)), "utf-8")
    proc = run_cli("run", "--target", target, "--role", "consumer", "--output", tmp_path / "pack")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
