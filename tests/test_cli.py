"""The `gpc-assure` command: exit codes 0/1/2/3, `faults`, `reference serve --write-target`, and packs
that survive an unwritable folder or a full disk with one clear message."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import harness as h
import pytest

from gpc_assure.cli import main
from gpc_assure.errors import ConfigError
from gpc_assure.paths import PROJECT_ROOT
from gpc_assure.reference.faults import registry
from gpc_assure.reference.server import ReferenceServer
from gpc_assure.target import load_target
from gpc_assure.transport.client import GpcClient

SMALL = ("-k", "metadata_version")  # one quick test against the reference system: FND-CAP-002
FAULT = "capability-wrong-version"  # breaks FND-CAP-002


# -- usage errors: one line on stderr, exit 2, no run starts ---------------------------------------

USAGE = [
    (["run", "--fault", "no-such-fault"], "unknown fault 'no-such-fault'"),
    (["run", "--flow", "telepathy"], "run: argument --flow: invalid choice: 'telepathy'"),
    (["run", "--role", "auditor"], "run: argument --role: invalid choice: 'auditor'"),
    (["run", "--target", "t.toml", "--fault", FAULT], "cannot be combined with --target"),
    (["run", "--target", "/no/such/target.toml"], "/no/such/target.toml: target file not found"),
    (["run", "--seed", "many"], "run: argument --seed: invalid int value: 'many'"),
    (["run", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    ([], "the following arguments are required: command"),
    (["reference"], "the following arguments are required: reference_command"),
    (["reference", "serve", "--port", "http"], "argument --port: invalid int value"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE, ids=[" ".join(a) or "(none)" for a, _ in USAGE])
def test_usage_error_is_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and out.err.startswith("gpc-assure: ") and message in out.err, out.err
    assert "gpc-assure: gpc-assure" not in out.err


def test_faults_lists_every_named_fault(capsys):
    assert main(["faults"]) == 0
    out = capsys.readouterr().out
    for name in registry():
        assert name in out
    assert FAULT in out and "FND-CAP-002" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and "gpc-assure" in capsys.readouterr().out


# -- unwritable output folders ---------------------------------------------------------------------

def test_output_below_a_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert main(["run", *SMALL, "--output", str(tmp_path / "a-file" / "pack")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create the output folder" in err and "Not a directory" in err


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted at `where` (we run as root in CI); skip the test where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_output_folder_is_exit_2(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "size=64k,ro") as ro:
        assert main(["run", *SMALL, "--output", str(ro)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write to the output folder" in err and "Read-only" in err, err


# -- whole runs as a user runs them ------------------------------------------------------------------

def _closed_port_target(folder: Path) -> Path:
    return h.write_target(folder / "closed.toml", f"http://127.0.0.1:1{h.SERVICE_ROOT}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """The independent CLI runs, side by side: each is mostly start-up time."""
    base = tmp_path_factory.mktemp("cli-runs")
    cases = {
        "clean": ["run", *SMALL],
        "fault": ["run", *SMALL, "--fault", FAULT],
        "no-match": ["run", "-k", "no_test_is_called_this"],
        "unreachable": ["run", *SMALL, "--target", str(_closed_port_target(base))],
    }

    def run(name: str):
        pack = base / name
        return h.run_cli(*cases[name], "--output", pack, "--quiet", timeout=180), pack

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(cases, pool.map(run, cases), strict=True))


@pytest.mark.slow
def test_clean_reference_run_exits_0(runs):
    proc, pack = runs["clean"]
    h.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = h.results(pack)
    assert res["tests"] and all(t["outcome"] == "passed" for t in res["tests"])
    assert (pack / "junit.xml").is_file() and any((pack / "exchanges").iterdir())


@pytest.mark.slow
def test_fault_run_exits_1_with_the_requirement_not_met(runs):
    proc, pack = runs["fault"]
    h.assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    res = h.results(pack)
    assert res["run"]["fault"] == FAULT
    assert [r["id"] for r in res["requirements"] if r["verdict"] == "not-met"] == ["FND-CAP-002"]


@pytest.mark.slow
def test_selection_matching_nothing_exits_2(runs):
    proc, _ = runs["no-match"]
    h.assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "no conformance test matched the selection" in proc.stderr


@pytest.mark.slow
def test_unreachable_target_exits_3_with_its_pack(runs):
    proc, pack = runs["unreachable"]
    h.assert_no_traceback(proc)
    assert proc.returncode == 3
    lines = [ln for ln in proc.stderr.splitlines() if "cannot be used" in ln]
    assert len(lines) == 1 and "could not connect" in lines[0] and "Connection refused" in lines[0], proc.stderr
    res = h.results(pack)
    assert "could not connect" in res["run"]["error"]
    assert (pack / "junit.xml").is_file()
    assert [f.name for f in (pack / "exchanges").iterdir()] == ["00001-metadata-read.json"]


@pytest.mark.slow
def test_reference_serve_writes_a_target_file_a_run_can_use(tmp_path):
    target = tmp_path / "reference.toml"
    server = subprocess.Popen([sys.executable, "-m", "gpc_assure.cli", "reference", "serve", "--write-target",
                               str(target)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "reference serve wrote no usable target file within 60 s"
            with contextlib.suppress(ConfigError):
                load_target(target)
                break
            time.sleep(0.1)
        proc = h.run_cli("run", *SMALL, "--target", target, "--output", tmp_path / "pack", "--quiet", timeout=180)
        h.assert_no_traceback(proc)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert h.results(tmp_path / "pack")["run"]["target_file"] == str(target)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, err
    assert "Traceback" not in err


# -- a full disk -----------------------------------------------------------------------------------

def _whole_files_only(pack: Path) -> list[str]:
    """Every file in the pack is complete (no half-written JSON or XML, no temporary files)."""
    names = []
    for f in sorted(p for p in pack.rglob("*") if p.is_file()):
        names.append(str(f.relative_to(pack)))
        assert not f.name.endswith(".tmp") and not f.name.startswith(".gpc-assure-write-test"), f
        if f.suffix == ".json":
            json.loads(f.read_text("utf-8"))
        elif f.suffix == ".xml":
            from xml.etree import ElementTree

            ElementTree.parse(f)
    return names


@pytest.mark.slow
def test_full_disk_for_exchange_files_keeps_results_and_says_so(tmp_path):
    pack = tmp_path / "pack"
    with tmpfs(pack / "exchanges", "size=16k"):
        proc = h.run_cli("run", *h.METADATA_TESTS, "--output", pack, "--quiet", timeout=180)
        h.assert_no_traceback(proc)
        names = _whole_files_only(pack)
        assert proc.returncode == 3, proc.stdout + proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if "evidence pack is incomplete" in ln]
        assert len(lines) == 1 and "No space left on device" in lines[0], proc.stderr
        res = h.results(pack)
        assert res["run"]["evidence_write_failures"] > 0
        assert res["run"]["evidence_write_error"] == "No space left on device"
        assert all(t["outcome"] == "passed" for t in res["tests"]), "a full disk does not change verdicts"
        listed = {e for t in res["tests"] for e in t["exchanges"]}
        assert listed <= set(names), "results.json lists only exchange files that exist"


@pytest.mark.slow
def test_full_disk_for_the_whole_pack_ends_with_a_clear_message(tmp_path):
    with tmpfs(tmp_path / "disk", "size=48k") as disk:
        proc = h.run_cli("run", *h.METADATA_TESTS, "--output", disk / "pack", "--quiet", timeout=180)
        h.assert_no_traceback(proc)
        _whole_files_only(disk / "pack")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "No space left on device" in proc.stderr or "incomplete" in proc.stderr, proc.stderr
        assert len(proc.stderr.splitlines()) <= 4, proc.stderr


@pytest.mark.slow
def test_interrupted_run_keeps_its_pack_and_says_why(tmp_path):
    with ReferenceServer() as ref, GpcClient(ref.target()) as client:
        capability = client.call("metadata.read").response.body  # type: ignore[union-attr]
    with h.HostileServer(h.never_answers, h.respond(200, capability), answered=1) as server:
        target = h.write_target(tmp_path / "target.toml", server.base_url, timeouts={"read_s": 60, "request_s": 60})
        proc = subprocess.Popen([sys.executable, "-m", "gpc_assure.cli", "run", "--target", str(target), "--output",
                                 str(tmp_path / "pack"), "--quiet", *h.METADATA_TESTS], cwd=PROJECT_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while len(server.requests) < 2:  # preflight answered, first test hanging
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in out + err
    assert proc.returncode == 3, out + err
    assert "interrupted" in err
    res = h.results(tmp_path / "pack")
    assert "interrupted" in res["run"]["error"]
    assert (tmp_path / "pack" / "junit.xml").is_file()
