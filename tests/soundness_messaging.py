"""The soundness self-test for Send Document: senders and receivers that do nothing useful must meet nothing.

Each degenerate counterpart is driven the way a supplier's own system is: through the target file's
[mesh] section, against a MESH given by `url` (here NHS's mesh-sandbox on loopback, started with the
built-in network's mailboxes and no reference peers), with the suite's own mailboxes, the system under
test's `sut_mailbox` and, for a sender, a `trigger_command` the suite runs to make it send:

- sender `does-nothing`: the trigger command exits 0 and sends nothing;
- sender `non-itk-body`: the trigger command posts a plain-text note (not an ITK3 FHIR message) to the
  suite's mailbox on the document workflow, as the sender's mailbox;
- sender `crashes`: the trigger command fails (exit 3, a traceback on stderr) and sends nothing;
- receiver `never-answers`: nobody polls the receiver's mailbox: nothing is collected, acknowledged or
  answered.

`run_counterpart` runs the messaging flow for that role against one of them; the requirements reported
met must lie in the allowlist (tests/soundness_allowlist.toml, providers = ["sender-<name>"] or
["receiver-<name>"], each with a why) and the run must not pass the gate. The reference sender and
receiver (the built-in network, `run_reference`) meet every automated requirement of their role.

    .venv/bin/python tests/soundness_messaging.py [NAME ...]     # the figures, benchmark style

The trigger commands run this file too (`python tests/soundness_messaging.py trigger MODE KIND`), with
the MESH credentials in the environment the suite passes on to them, never on the command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (benchmark, trigger command)
    sys.path.insert(0, str(ROOT))
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import soundness  # noqa: E402

CLI = (sys.executable, "-m", "gpc_assure.cli")
BOUNDS = {"ack_wait_s": 2.0, "settle_s": 0.2, "poll_interval_s": 0.05}
ENV_URL, ENV_MAILBOX, ENV_PASSWORD, ENV_KEY, ENV_TO = (
    "GPC_SOUNDNESS_MESH_URL", "GPC_SOUNDNESS_MESH_MAILBOX", "GPC_SOUNDNESS_MESH_PASSWORD",
    "GPC_SOUNDNESS_MESH_SHARED_KEY", "GPC_SOUNDNESS_MESH_TO")


@dataclass(frozen=True)
class Counterpart:
    role: str  # "sender" or "receiver"
    name: str
    what: str
    trigger: str | None = None  # the trigger mode (senders)

    @property
    def key(self) -> str:
        """The allowlist's name for it: sender-<name> / receiver-<name>."""
        return f"{self.role}-{self.name}"


COUNTERPARTS: dict[str, Counterpart] = {c.key: c for c in (
    Counterpart("sender", "does-nothing", "its trigger command exits 0 and sends nothing", "nothing"),
    Counterpart("sender", "non-itk-body", "its trigger command posts a plain-text note, not an ITK3 message",
                "non-itk"),
    Counterpart("sender", "crashes", "its trigger command fails with exit code 3 and sends nothing", "crash"),
    Counterpart("receiver", "never-answers", "nobody polls its mailbox: nothing is collected or answered"),
)}


# --- the trigger command's side ----------------------------------------------------------------------------


NON_ITK_BODY = (b"Consultation report for Jane Jackson: seen today for a cough, chest clear, review in two weeks. "
                b"(A plain-text note, not an ITK3 FHIR message.)")


def trigger(mode: str, kind: str) -> int:
    """What a degenerate sender does when the suite asks it to send (`kind`: original or replacement)."""
    if mode == "nothing":
        return 0
    if mode == "crash":
        print(f"degenerate sender: asked for the {kind} report", flush=True)
        print("Traceback (most recent call last):\n  File \"sender.py\", line 1, in <module>\n"
              "RuntimeError: the report service is not configured", file=sys.stderr, flush=True)
        return 3
    if mode == "non-itk":
        from gpc_assure.mesh.client import MeshClient
        from gpc_assure.messaging.spec import V2

        env = os.environ
        with MeshClient(env[ENV_URL], env[ENV_MAILBOX], env[ENV_PASSWORD], env[ENV_KEY], who="degenerate sender") \
                as client:
            message_id, _ = client.send(env[ENV_TO], NON_ITK_BODY, V2.workflow_id, subject=f"report ({kind})",
                                        local_id="degenerate", filename="report.txt", content_type="text/plain")
        print(f"degenerate sender: posted {message_id}", flush=True)
        return 0
    raise SystemExit(f"unknown trigger mode {mode}")


# --- running the suite against one -----------------------------------------------------------------------


@contextlib.contextmanager
def mesh_network(workdir: Path, roles: tuple[str, ...] = ()) -> Iterator[Any]:
    """mesh-sandbox on loopback with the built-in network's mailboxes; reference peers only for `roles`."""
    from gpc_assure.messaging.spec import V2
    from gpc_assure.reference.messaging.network import BuiltInNetwork

    net = BuiltInNetwork(V2, workdir / "mesh-sandbox", roles=roles).start()
    try:
        yield net
    finally:
        net.stop()


def target_mapping(net: Any, counterpart: Counterpart) -> tuple[dict[str, Any], dict[str, str]]:
    """The target file's content a supplier would write for this counterpart, and the environment its
    trigger command gets (the sender's MESH credentials)."""
    from gpc_assure.reference.data import load_pack
    from gpc_assure.reference.messaging.network import (
        RECEIVER_MAILBOX,
        REPLY_MAILBOX,
        SENDER_MAILBOX,
        SUITE_MAILBOX,
    )
    from gpc_assure.reference.server import target_mapping as reference_mapping

    boxes = net.sandbox.mailboxes
    data = reference_mapping(load_pack(), "http://127.0.0.1:9")  # a messaging run never calls the provider
    data["target"] = {"name": f"degenerate {counterpart.role}: {counterpart.name}"}
    mesh: dict[str, Any] = {
        "spec_version": "v2", "url": net.sandbox.url, "mailbox": SUITE_MAILBOX,
        "password": boxes[SUITE_MAILBOX].password, "reply_mailbox": REPLY_MAILBOX,
        "reply_password": boxes[REPLY_MAILBOX].password, "shared_key": net.sandbox.shared_key, **BOUNDS}
    env: dict[str, str] = {}
    if counterpart.role == "sender":
        mesh["sut_mailbox"] = SENDER_MAILBOX
        me = shlex.join([sys.executable, str(Path(__file__).resolve()), "trigger", str(counterpart.trigger)])
        mesh["trigger_command"] = f"{me} {{kind}}"
        env = {ENV_URL: net.sandbox.url, ENV_MAILBOX: SENDER_MAILBOX, ENV_PASSWORD: boxes[SENDER_MAILBOX].password,
               ENV_KEY: net.sandbox.shared_key, ENV_TO: SUITE_MAILBOX}
    else:
        mesh["sut_mailbox"] = RECEIVER_MAILBOX
        mesh["max_attachment_bytes"] = 200_000
    data["mesh"] = mesh
    return data, env


def _run(args: list[str], out: Path, env: dict[str, str] | None = None, cli: tuple[str, ...] | None = None,
         timeout: float = 600) -> dict[str, Any]:
    proc = subprocess.run([*(cli or CLI), *args, "--output", str(out), "--quiet", "--seed", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    path = out / "results.json"
    if not path.exists():
        raise AssertionError(f"no results.json (exit {proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    data = json.loads(path.read_text("utf-8"))
    data["_exit"] = proc.returncode
    data["_stderr"] = proc.stderr[-3000:]
    return data


def run_counterpart(key: str, workdir: Path, cli: tuple[str, ...] | None = None,
                    reference_peer: bool = False) -> dict[str, Any]:
    """The messaging flow, for the counterpart's role, against one degenerate counterpart; results.json.
    With `reference_peer` (receivers) the reference receiver polls the mailbox instead: the same target
    file, met in full."""
    counterpart = COUNTERPARTS[key]
    roles = (counterpart.role,) if reference_peer else ()
    with mesh_network(workdir / key, roles) as net:
        data, env = target_mapping(net, counterpart)
        target = workdir / f"{key}.toml"
        target.write_text(tomli_w.dumps(data), "utf-8")
        return _run(["run", "--target", str(target), "--flow", "messaging", "--role", counterpart.role],
                    workdir / key / "pack", env, cli)


def run_reference(role: str, workdir: Path, cli: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The messaging flow for one role against the reference sender or receiver (the built-in network)."""
    return _run(["run", "--flow", "messaging", "--role", role], workdir / f"reference-{role}", cli=cli)


def role_requirements(results: dict[str, Any], role: str) -> dict[str, str]:
    """Verdict per requirement of the role's suite (those its tests name)."""
    named = {rid for t in results["tests"] if t.get("role") == role for rid in t["requirements"]}
    return {r["id"]: r["verdict"] for r in results["requirements"] if r["id"] in named}


def met(results: dict[str, Any]) -> set[str]:
    return soundness.met(results)


def unexplained(key: str, results: dict[str, Any]) -> list[str]:
    """Requirements met against the counterpart that the allowlist does not explain."""
    allowed = soundness.allowlist()
    return sorted(met(results) - set(allowed.get("*", {})) - set(allowed.get(key, {})))


# --- the benchmark-style printout ------------------------------------------------------------------------


def main(names: list[str], cli: tuple[str, ...] | None = None) -> None:
    chosen = names or [*COUNTERPARTS, "reference-sender", "reference-receiver", "reference-receiver-by-url"]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'counterpart':26} {'met':>4} {'of':>4} {'allowed':>7} {'unexplained':>11} {'not-met':>7} "
              f"{'tests':>5} {'exit':>4} {'s':>6}")
        for name in chosen:
            started = time.monotonic()
            bad: list[str] = []
            if name == "reference-receiver-by-url":  # the reference receiver behind the receiver's [mesh] section
                role = "receiver"
                res = run_counterpart("receiver-never-answers", Path(tmp) / "by-url", cli, reference_peer=True)
            elif name.startswith("reference-"):
                role = name.split("-", 1)[1]
                res = run_reference(role, Path(tmp), cli)
            else:
                role = COUNTERPARTS[name].role
                res = run_counterpart(name, Path(tmp), cli)
                bad = unexplained(name, res)
            took = time.monotonic() - started
            verdicts = role_requirements(res, role)
            automated = [rid for rid, v in verdicts.items() if v not in ("attested", "not-applicable")]
            got = met(res) & set(verdicts)
            not_met = sum(v == "not-met" for v in verdicts.values())
            allowed = "-" if name.startswith("reference-") else str(len(got) - len(bad))
            print(f"{name:26} {len(got):4} {len(automated):4} {allowed:>7} {len(bad):11} {not_met:7} "
                  f"{res['summary']['tests']:5} {res['_exit']:4} {took:6.1f}")
            for rid in bad:
                print(f"    {rid}: {soundness.evidence_of(res, rid)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["trigger"]:
        sys.exit(trigger(sys.argv[2], sys.argv[3]))
    main(sys.argv[1:])
