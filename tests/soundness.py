"""The soundness self-test: providers that do nothing useful must meet nothing.

Each degenerate provider below is an HTTP server on 127.0.0.1 that answers every request the same
useless way (an empty 200, a 500, an HTML page, a redirect to itself, one published NHS example of
the right resource type whatever was asked, an echo of the request). `run_provider` points a target
file's GP Connect and User Permissions roots at one and runs the provider flows against it; the
requirements reported met must lie in the allowlist (tests/soundness_allowlist.toml), where every
entry says why such a provider really does meet that requirement.

The mutation self-test proves every check *can* fail; this proves no check passes *on nothing*.
"""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from gpc_assure.paths import PROJECT_ROOT, SHARED_SPECS_DIR

EXAMPLES = SHARED_SPECS_DIR / "gpconnect-1.2.7-examples"
PFS_EXAMPLES = SHARED_SPECS_DIR / "user-permissions"
ALLOWLIST = Path(__file__).with_name("soundness_allowlist.toml")
PROVIDER_FLOWS = ("foundations", "appointments", "permissions")
PFS_PATH = "/gp-connect/patient-facing/user-permissions"
FAST = {"connect_s": 1.0, "read_s": 2.0, "request_s": 4.0, "run_s": 600.0, "max_body_bytes": 200_000}
JSON_FHIR = "application/fhir+json;charset=utf-8"

OUTCOME_500 = {
    "resourceType": "OperationOutcome",
    "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"]},
    "issue": [{"severity": "error", "code": "exception", "details": {"coding": [{
        "system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1", "code": "INTERNAL_SERVER_ERROR",
        "display": "Internal Server Error"}]}, "diagnostics": "Something went wrong"}],
}
HTML = (b"<!doctype html><html><head><title>Sign in</title></head><body><h1>Sign in to continue</h1>"
        b"<form method=post><input name=user></form></body></html>")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Responder = Callable[[str, str, dict[str, str], bytes], Answer]


def _example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def _pfs_example(version: str = "current") -> bytes:
    raw = yaml.safe_load((PFS_EXAMPLES / version / "specification" / "components" / "examples" /
                          "GetResponsePermissionsFull.yaml").read_text("utf-8"))
    return json.dumps(raw["value"]).encode()


def example_for(method: str, path: str) -> tuple[int, bytes, str]:
    """One published response example of the resource type the request is about (status, body, media type)."""
    p = path.split("?", 1)[0].rstrip("/")
    if p.startswith(PFS_PATH):
        return 200, _pfs_example(), "application/json"
    last = p.rsplit("/", 1)[-1]
    if p.endswith("/metadata"):
        return 200, _example("foundations__get_capability_statement_response_example.json"), JSON_FHIR
    if "$gpc.registerpatient" in p:
        return 200, _example("foundations__register_patient_response_example.json"), JSON_FHIR
    if "/Slot" in p:
        return 200, _example("appointments__search_for_free_slots_response_example.json"), JSON_FHIR
    if "/Appointment" in p:
        if p.endswith("/Appointment") and method == "POST":
            return 201, _example("appointments__book_appt_response_example.json"), JSON_FHIR
        if "/Patient/" in p:
            return 200, _example("appointments__retrieve_patients_appts_response_example.json"), JSON_FHIR
        if method == "PUT":
            return 200, _example("appointments__amend_appt_response_example.json"), JSON_FHIR
        return 200, _example("appointments__read_appt_response_example.json"), JSON_FHIR
    for kind, found, read in (("Patient", "find_patient", "read_patient"),
                              ("Practitioner", "find_practitioner", "read_practitioner"),
                              ("Organization", "find_organization", "read_organization"),
                              ("Location", "read_location", "read_location")):
        if f"/{kind}" in p:
            name = found if last == kind else read
            return 200, _example(f"foundations__{name}_response_example.json"), JSON_FHIR
    return 200, _example("foundations__get_capability_statement_response_example.json"), JSON_FHIR


def _echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    if body:
        return Answer(200, body, (("Content-Type", headers.get("content-type", JSON_FHIR)),))
    doc = {"method": method, "path": path, "headers": {k: v for k, v in headers.items() if k != "authorization"}}
    return Answer(200, json.dumps(doc).encode(), (("Content-Type", "application/json"),))


def _example_answer(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    status, raw, media = example_for(method, path)
    return Answer(status, raw, (("Content-Type", media),))


PROVIDERS: dict[str, Responder] = {
    "empty-200": lambda m, p, h, b: Answer(200),
    "empty-500": lambda m, p, h, b: Answer(500),
    "outcome-500": lambda m, p, h, b: Answer(500, json.dumps(OUTCOME_500).encode(), (("Content-Type", JSON_FHIR),)),
    "html-page": lambda m, p, h, b: Answer(200, HTML, (("Content-Type", "text/html; charset=utf-8"),)),
    "redirect-to-self": lambda m, p, h, b: Answer(302, b"", (("Location", p),)),
    "one-example": _example_answer,
    "echo": _echo,
}


class DegenerateProvider:
    """A threaded HTTP server on 127.0.0.1 that answers every request with `responder`."""

    def __init__(self, kind: str):
        responder = PROVIDERS[kind]
        self.kind = kind
        self.requests = 0

        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests += 1
                answer = responder(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(answer.status)
                for k, v in answer.headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"degenerate-{kind}", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> DegenerateProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def reference_mapping() -> Iterator[dict[str, Any]]:
    """A complete target mapping of the reference system (every section, tokens included)."""
    from gpc_assure.reference.server import ReferenceServer, target_mapping

    server = ReferenceServer().start()
    try:
        yield target_mapping(server.pack, server.base, server.provider.permissions)
    finally:
        server.stop()


def target_for(mapping: dict[str, Any], origin: str) -> dict[str, Any]:
    """The reference's target mapping with every service root moved to `origin`."""
    data = copy.deepcopy(mapping)
    data["target"] = {"name": "degenerate provider"}
    data["provider"]["base_url"] = origin + "/" + data["provider"]["base_url"].split("/", 3)[3]
    if "permissions" in data:
        data["permissions"]["base_url"] = origin + PFS_PATH
    data["timeouts"] = dict(FAST)
    return data


def run_provider(kind: str, mapping: dict[str, Any], workdir: Path, flows: tuple[str, ...] = PROVIDER_FLOWS,
                 timeout: float = 900) -> dict[str, Any]:
    """Run the provider flows against one degenerate provider; results.json's content."""
    out = workdir / kind
    with DegenerateProvider(kind) as provider:
        target = workdir / f"{kind}.toml"
        target.write_text(tomli_w.dumps(target_for(mapping, provider.origin)), "utf-8")
        args = ["run", "--target", str(target), "--role", "provider", "--output", str(out), "--quiet", "--seed", "1"]
        for f in flows:
            args += ["--flow", f]
        proc = subprocess.run([sys.executable, "-m", "gpc_assure.cli", *args], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=timeout)
    path = out / "results.json"
    if not path.exists():
        raise AssertionError(f"{kind}: no results.json (exit {proc.returncode}): {proc.stdout[-1500:]}"
                             f"{proc.stderr[-1500:]}")
    data = json.loads(path.read_text("utf-8"))
    data["_exit"] = proc.returncode
    data["_stderr"] = proc.stderr[-3000:]
    return data


def met(results: dict[str, Any]) -> set[str]:
    return {r["id"] for r in results["requirements"] if r["verdict"] == "met"}


def allowlist() -> dict[str, dict[str, str]]:
    """provider kind ('*' for all) -> requirement -> why such a provider really meets it."""
    data = tomllib.loads(ALLOWLIST.read_text("utf-8"))
    out: dict[str, dict[str, str]] = {}
    for entry in data.get("allow", []):
        if not entry.get("why", "").strip():
            raise AssertionError(f"allowlist entry {entry} says no why")
        for kind in entry["providers"]:
            out.setdefault(kind, {})[entry["requirement"]] = entry["why"]
    return out


def unexplained(kind: str, results: dict[str, Any]) -> list[str]:
    """Requirements met against `kind` that the allowlist does not explain."""
    allowed = {**allowlist().get("*", {}), **allowlist().get(kind, {})}
    return sorted(met(results) - set(allowed))


def evidence_of(results: dict[str, Any], rid: str) -> str:
    req = next((r for r in results["requirements"] if r["id"] == rid), None)
    if not req or not req.get("evidence"):
        return "(no evidence recorded)"
    e = req["evidence"][0]
    return f"{e['test']}: {e['check']}"
