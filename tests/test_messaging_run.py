"""Send Document runs end to end through mesh-sandbox: the v1.3 target setting, fault routing between the
reference components, and the target file's [mesh] section."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
import tomli_w
from report_samples import PACK_FAULT, run_gpc

from gpc_assure.errors import ConfigError
from gpc_assure.plugins.messaging import command_trigger
from gpc_assure.reference.data import load_pack
from gpc_assure.reference.server import target_mapping
from gpc_assure.target import parse_target

MESH_PASSWORD = "target-mesh-password-4711"
MESH_KEY = "target-mesh-shared-key-0815"


def _target(tmp: Path, mesh: dict) -> Path:
    data = target_mapping(load_pack(), "http://127.0.0.1:9")  # messaging runs never call the provider
    data["mesh"] = mesh
    path = tmp / "target.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


@pytest.fixture(scope="module")
def v13_pack(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("v13")
    # Secrets in a [mesh] section without a url are unused, but must still never be written anywhere.
    target = _target(tmp, {"spec_version": "v1.3", "password": MESH_PASSWORD, "shared_key": MESH_KEY})
    out = tmp / "pack"
    proc = run_gpc("run", "--flow", "messaging", "--target", target, "--output", out, "--quiet", "--seed", "3")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


def test_v13_run_passes_and_says_which_version(v13_pack):
    results = json.loads((v13_pack / "results.json").read_text())
    s = results["summary"]
    assert s["failed"] == 0 and s["error"] == 0 and s["passed"] > 50
    assert "GPFED_CONSULT_REPORT" in results["run"]["spec_versions"]["send-document"]
    verdicts = {r["id"]: r["verdict"] for r in results["requirements"]}
    # v2-only requirements do not apply to a v1.3 target; the others are met.
    assert {verdicts[r] for r in ("MSG-SD-055", "MSG-SD-070", "MSG-SD-075")} == {"not-applicable"}
    assert verdicts["MSG-SD-036"] == verdicts["MSG-SD-003"] == "met"
    downloads = [json.loads(p.read_text()) for p in (v13_pack / "exchanges").glob("*-mesh-download.json")]
    workflows = {dict((k.lower(), v) for k, v in d["response"]["headers"]).get("mex-workflowid") for d in downloads}
    assert "GPFED_CONSULT_REPORT" in workflows and "GPFED_CONSULT_REPORT_ACK" in workflows


def test_pack_keeps_mesh_logs_and_no_secret(v13_pack):
    assert (v13_pack / "mesh" / "sandbox.log").stat().st_size > 0
    assert (v13_pack / "mesh" / "requests.jsonl").stat().st_size > 0
    results = json.loads((v13_pack / "results.json").read_text())
    assert results["run"]["target"]["mesh"]["password"] == "[REDACTED]"
    for path in v13_pack.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".log", ".xml", ".html", ".csv"):
            text = path.read_text("utf-8", errors="replace")
            assert MESH_PASSWORD not in text and MESH_KEY not in text, path


def test_faults_go_to_the_component_they_belong_to(tmp_path):
    # A provider fault in a messaging run: the MESH side ignores it and the run passes.
    proc = run_gpc("run", "--flow", "messaging", "--role", "sender", "--fault", PACK_FAULT, "--output",
                   tmp_path / "a", "--quiet", "--seed", "1")
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    # A messaging fault in a provider run: the reference provider is not handed it.
    proc = run_gpc("run", "--flow", "foundations", "-k", "metadata", "--fault", "ack-wrong-code", "--output",
                   tmp_path / "b", "--quiet", "--seed", "1")
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert json.loads((tmp_path / "b" / "results.json").read_text())["run"]["fault"] == "ack-wrong-code"


def _mesh_error(mesh: dict) -> str:
    data = target_mapping(load_pack(), "http://127.0.0.1:9")
    data["mesh"] = mesh
    with pytest.raises(ConfigError) as err:
        parse_target(data, source="t.toml")
    return str(err.value)


def test_mesh_section_errors_are_one_line():
    assert "mesh" in _mesh_error({"url": "https://msg.example.nhs.uk", "mailbox": "X26OT1"})
    assert "needs password, shared_key, sut_mailbox" in _mesh_error({"url": "https://m.example", "mailbox": "X1"})
    assert "upper case" in _mesh_error({"mailbox": "x26ot1"})
    assert "spec_version" in _mesh_error({"spec_version": "v3"})
    for text in (_mesh_error({"spec_version": "v3"}), _mesh_error({"mailbox": "x"})):
        assert "\n" not in text
    missing = _mesh_error({"trigger_command": "no-such-sender-program --kind {kind}"})
    assert "trigger_command" in missing and "'no-such-sender-program'" in missing and "\n" not in missing
    assert "command line" in _mesh_error({"trigger_command": "my-system 'unbalanced {kind}"})


def test_a_missing_trigger_program_is_a_configuration_error(tmp_path):
    """Exit 2 in one line naming the [mesh] setting, before any test runs (not 48 test errors)."""
    target = _target(tmp_path, {"url": "http://127.0.0.1:9", "mailbox": "X26OT1", "password": "p", "shared_key": "k",
                                "sut_mailbox": "X26OT9", "trigger_command": "no-such-sender-program {kind}"})
    proc = run_gpc("run", "--flow", "messaging", "--role", "sender", "--target", target, "--output",
                   tmp_path / "pack", "--quiet")
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-1500:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "mesh.trigger_command" in lines[0] and "no-such-sender-program" in lines[0], lines


def test_a_failing_trigger_says_how_it_ended():
    """A trigger command's exit code and the end of its output are kept: evidence and judgement messages."""
    script = "import sys; print('sending the {kind} report'); sys.stderr.write('boom: no database' + chr(10)); " \
             "sys.exit(3)"
    run = command_trigger(shlex.join([sys.executable, "-c", script]))("original")
    assert run.failed and run.exit_code == 3 and run.problem is None
    assert "sending the original report" in run.output_tail and "boom: no database" in run.output_tail
    assert "exited with code 3" in run.describe() and "boom: no database" in run.describe()
    ex = run.exchange()
    assert ex.interaction == "mesh.trigger" and "exit code: 3" in ex.notes[0] and "boom" in ex.notes[1]
    ok = command_trigger(shlex.join([sys.executable, "-c", "pass"]))("replacement")
    assert not ok.failed and ok.describe() == "the trigger command exited with code 0"
    slow = command_trigger(shlex.join([sys.executable, "-c", "import time; time.sleep(5)"]), timeout_s=0.5)("original")
    assert slow.failed and slow.exit_code is None and "did not finish" in slow.describe()


def test_full_mesh_section_loads():
    data = target_mapping(load_pack(), "http://127.0.0.1:9")
    data["mesh"] = {"url": "https://msg.intspineservices.nhs.uk/", "mailbox": "X26OT1", "password": "p",
                    "shared_key": "k", "sut_mailbox": "X26OT9", "spec_version": "v1.3", "ack_wait_s": 120}
    mesh = parse_target(data).mesh
    assert mesh is not None and mesh.url == "https://msg.intspineservices.nhs.uk" and not mesh.built_in


def test_a_real_mesh_by_url(tmp_path):
    """[mesh] with a url: the suite uses the given MESH as its own mailboxes and judges the system under
    test's mailbox. Here the 'real' MESH is a sandbox this test starts, with the reference receiver on it."""
    from gpc_assure.messaging.spec import V2
    from gpc_assure.reference.messaging.network import REPLY_MAILBOX, SUITE_MAILBOX, BuiltInNetwork

    net = BuiltInNetwork(V2, tmp_path / "mesh", roles=("receiver",)).start()
    try:
        boxes = net.sandbox.mailboxes
        target = _target(tmp_path, {
            "url": net.sandbox.url, "mailbox": SUITE_MAILBOX, "password": boxes[SUITE_MAILBOX].password,
            "reply_mailbox": REPLY_MAILBOX, "reply_password": boxes[REPLY_MAILBOX].password,
            "shared_key": net.sandbox.shared_key, "sut_mailbox": "GPCARECEIVER", "ack_wait_s": 5, "settle_s": 0.3,
            "poll_interval_s": 0.05, "max_attachment_bytes": 200_000})
        proc = run_gpc("run", "--flow", "messaging", "--role", "receiver", "--target", target, "--output",
                       tmp_path / "pack", "--quiet", "--seed", "1")
    finally:
        net.stop()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "pack" / "results.json").read_text())
    outcomes = {t["id"].rsplit("::", 1)[1]: t["outcome"] for t in results["tests"]}
    assert outcomes["test_receiver_tokens"] == "not-applicable"  # no request log from a real MESH
    assert results["summary"]["failed"] == 0 and results["summary"]["passed"] >= 20
    assert not (tmp_path / "pack" / "mesh").exists()  # the run started no sandbox of its own
