"""Hostile targets: a target that hangs, resets, sends garbage, drips or floods gets a clear reason in
bounded time and memory, and a run against it still ends with the right exit code and its evidence pack."""

from __future__ import annotations

import json
import subprocess
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import harness as h
import pytest

from gpc_assure.reference.server import ReferenceServer
from gpc_assure.target import parse_target
from gpc_assure.transport.client import GpcClient
from gpc_assure.transport.exchange import BodyNotJson

REQUEST_S = h.FAST_TIMEOUTS["request_s"]
CAP = h.FAST_TIMEOUTS["max_body_bytes"]
# Memory a single exchange may use, far below what the hostile bodies would take if read whole.
MEMORY_BOUND = 20_000_000


@pytest.fixture(scope="module")
def capability_answer() -> bytes:
    """The reference system's own CapabilityStatement, as a complete HTTP response."""
    with ReferenceServer() as ref, GpcClient(ref.target()) as client:
        ex = client.call("metadata.read")
    assert ex.response is not None and ex.status == 200
    return h.respond(200, ex.response.body)


def call_metadata(server: h.HostileServer, calls: int = 1):
    target = parse_target(h.target_data(server.base_url))
    tracemalloc.start()
    try:
        with GpcClient(target) as client:
            started = time.monotonic()
            exchanges = [client.call("metadata.read") for _ in range(calls)]
            took = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return exchanges[-1], took, peak


# -- the client ------------------------------------------------------------------------------------

NO_ANSWER = [
    (h.never_answers, "the target sent nothing for 1 s (timeouts.read_s)"),
    (h.resets, "reset"),
    (h.garbage, "not valid HTTP"),
    (h.drips_headers, "did not complete within 2 s (timeouts.request_s)"),
    (h.drips_body, "did not complete within 2 s (timeouts.request_s) (after HTTP 200"),
    (h.ten_gigabytes_slowly, "did not complete within 2 s (timeouts.request_s) (after HTTP 200"),
]


@pytest.mark.parametrize(("misbehave", "reason"), NO_ANSWER, ids=lambda v: getattr(v, "__name__", ""))
def test_client_gives_a_clear_error_in_bounded_time(misbehave, reason):
    with h.HostileServer(misbehave) as server:
        ex, took, peak = call_metadata(server)
    assert ex.response is None
    assert ex.error and reason in ex.error, ex.error
    assert "\n" not in ex.error
    assert took < REQUEST_S + 1.5, f"{took:.1f} s"
    assert peak < MEMORY_BOUND


@pytest.mark.parametrize("misbehave", [h.endless_chunked, h.gzip_bomb], ids=lambda f: f.__name__)
def test_client_stops_reading_an_endless_body_at_the_cap(misbehave):
    with h.HostileServer(misbehave) as server:
        ex, took, peak = call_metadata(server)
    assert ex.status == 200 and ex.response is not None
    assert ex.response.truncated
    assert len(ex.response.body) <= CAP
    assert ex.error and f"exceeded the {CAP}-byte limit" in ex.error
    with pytest.raises(BodyNotJson, match="larger than the configured limit"):
        _ = ex.json
    assert took < REQUEST_S + 1.5
    assert peak < MEMORY_BOUND


def test_client_reports_a_non_json_body_without_failing_the_exchange():
    with h.HostileServer(h.not_json) as server:
        ex, _, _ = call_metadata(server)
    assert ex.status == 200 and ex.error is None
    with pytest.raises(BodyNotJson, match="not JSON"):
        _ = ex.json


def test_client_reports_hostile_nesting_as_not_json():
    with h.HostileServer(lambda conn: conn.send(h.respond(200, b"[" * 100_000))) as server:
        ex, _, _ = call_metadata(server)
    with pytest.raises(BodyNotJson, match="nested too deeply"):
        _ = ex.json


def test_deadline_holds_on_a_reused_connection(capability_answer):
    # The first answer is polite and keeps the connection alive; the second request on it drips.
    with h.HostileServer(h.drips_headers, capability_answer, answered=1) as server:
        target = parse_target(h.target_data(server.base_url))
        with GpcClient(target) as client:
            first = client.call("metadata.read")
            started = time.monotonic()
            second = client.call("metadata.read")
            took = time.monotonic() - started
    assert first.status == 200
    assert second.error and "did not complete within 2 s" in second.error
    assert took < REQUEST_S + 1.5


def test_client_recovers_after_a_timed_out_exchange(capability_answer):
    def first_hangs(conn: h.Conn) -> None:
        if len(conn.server.requests) == 1:
            h.never_answers(conn)
        else:
            conn.send(capability_answer)

    with h.HostileServer(first_hangs) as server:
        target = parse_target(h.target_data(server.base_url))
        with GpcClient(target) as client:
            timed_out = client.call("metadata.read")
            ex = client.call("metadata.read")
    assert timed_out.error and ex.error is None and ex.status == 200


def test_deadline_holds_during_a_dripping_tls_handshake():
    with h.HostileServer(h.drips_tls_handshake, on_connect=True) as server:
        # A connect timeout longer than the exchange's: the exchange deadline must still hold.
        target = parse_target(h.target_data(server.base_url.replace("http://", "https://"),
                                            timeouts={"connect_s": 10.0}))
        started = time.monotonic()
        with GpcClient(target) as client:
            ex = client.call("metadata.read")
        took = time.monotonic() - started
    assert ex.response is None and ex.error and "did not complete within 2 s" in ex.error, ex.error
    assert took < REQUEST_S + 1.5


def test_closed_port_is_a_clear_connect_error():
    target = parse_target(h.target_data(f"http://127.0.0.1:1{h.SERVICE_ROOT}"))
    with GpcClient(target) as client:
        ex = client.call("metadata.read")
    assert ex.response is None and ex.error and ex.error.startswith("could not connect")


# -- whole runs ------------------------------------------------------------------------------------
# Each case is a `gpc-assure run` in its own process against its own hostile server. They run side by
# side (a run is mostly waiting on its target) and the tests below read the outcomes.


@dataclass(frozen=True)
class Case:
    misbehave: h.Misbehaviour
    answered: int  # polite answers (the CapabilityStatement) before the misbehaviour starts
    reason: str  # what the failure message must say
    args: tuple[str, ...] = ("-k", "metadata_version")
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    proc: subprocess.CompletedProcess[str]
    pack: Path
    took: float


UNUSABLE = {
    "never-answers": Case(h.never_answers, 0, "the target sent nothing for 1 s"),
    "resets": Case(h.resets, 0, "reset"),
    "garbage": Case(h.garbage, 0, "not valid HTTP"),
    "drips-headers": Case(h.drips_headers, 0, "did not complete within 2 s"),
}
MISBEHAVES_LATER = {
    "drips-body-after-preflight": Case(h.drips_body, 1, "did not complete within 2 s"),
    "endless-body-after-preflight": Case(h.endless_chunked, 1, "larger than the configured limit"),
    "not-json": Case(h.not_json, 0, "not JSON"),
    "resets-after-preflight": Case(h.resets, 1, "reset"),
}
# Hangs after preflight, with a run deadline shorter than the selected tests need.
RUN_DEADLINE = Case(h.never_answers, 1, "no response: the target sent nothing for 1 s", h.METADATA_TESTS,
                    {"timeouts": {"run_s": 4.0}})
CASES = {**UNUSABLE, **MISBEHAVES_LATER, "run-deadline": RUN_DEADLINE}
RUN_BOUND_S = 90  # generous: the runs share a busy machine; what matters is that each run ends


@pytest.fixture(scope="module")
def runs(tmp_path_factory, capability_answer) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("hostile-runs")
    servers = {name: h.HostileServer(c.misbehave, capability_answer, c.answered).start() for name, c in CASES.items()}

    def run(name: str) -> Outcome:
        case = CASES[name]
        target = h.write_target(base / f"{name}.toml", servers[name].base_url, **case.overrides)
        started = time.monotonic()
        proc = h.run_cli("run", "--target", target, "--output", base / name, "--quiet", *case.args, timeout=120)
        return Outcome(proc, base / name, time.monotonic() - started)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(zip(CASES, pool.map(run, CASES), strict=True))
    finally:
        for server in servers.values():
            server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", UNUSABLE)
def test_run_against_an_unusable_target_exits_3_with_its_pack(runs, name):
    out, reason = runs[name], UNUSABLE[name].reason
    h.assert_no_traceback(out.proc)
    assert out.proc.returncode == 3, out.proc.stderr
    assert out.took < RUN_BOUND_S
    error_lines = [ln for ln in out.proc.stderr.splitlines() if "cannot be used" in ln]
    assert len(error_lines) == 1 and reason in error_lines[0], out.proc.stderr
    res = h.results(out.pack)
    assert reason in res["run"]["error"]
    assert res["tests"] == []
    assert not {r["verdict"] for r in res["requirements"]} & {"met", "not-met"}
    assert (out.pack / "junit.xml").is_file()
    [preflight] = sorted((out.pack / "exchanges").iterdir())
    record = json.loads(preflight.read_text())
    assert record["label"] == "preflight" and reason in record["error"] and record["response"] is None
    assert preflight.name in res["run"]["error"]


@pytest.mark.slow
@pytest.mark.parametrize("name", MISBEHAVES_LATER)
def test_run_against_a_target_that_misbehaves_after_preflight_fails_its_tests(runs, name):
    out, reason = runs[name], MISBEHAVES_LATER[name].reason
    h.assert_no_traceback(out.proc)
    assert out.proc.returncode == 1, out.proc.stdout + out.proc.stderr
    assert out.took < RUN_BOUND_S
    res = h.results(out.pack)
    assert res["run"]["error"] is None
    assert res["tests"] and all(t["outcome"] == "failed" for t in res["tests"])
    assert all(reason in t["message"] for t in res["tests"]), [t["message"] for t in res["tests"]]
    assert res["summary"]["requirements"].get("not-met")
    assert (out.pack / "junit.xml").is_file()
    for f in (out.pack / "exchanges").iterdir():
        json.loads(f.read_text())  # every exchange file is whole


@pytest.mark.slow
def test_run_deadline_bounds_a_run_against_a_hanging_target(runs):
    out = runs["run-deadline"]
    h.assert_no_traceback(out.proc)
    assert out.proc.returncode in (1, 3)
    assert out.took < RUN_BOUND_S
    res = h.results(out.pack)
    ran = [t for t in res["tests"] if t["outcome"] == "failed"]
    late = [t for t in res["tests"] if t["outcome"] == "error"]
    assert ran and all(RUN_DEADLINE.reason in t["message"] for t in ran), res["tests"]
    assert late and all("time limit (4 s) was reached" in t["message"] for t in late), res["tests"]
    assert len(ran) + len(late) == len(res["tests"])
