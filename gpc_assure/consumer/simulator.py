"""The provider simulator a consumer under test calls: the reference GP system, or a proxy to a real provider.

Simulate mode wraps the reference GP system (gpc_assure.reference.app, not a copy of it): each
scenario gets a fresh one, so a journey starts from the same diary and patient list. The
simulator judges nothing itself; the recording layer keeps every request as it was sent, and the
consumer suites judge them. So that one defect does not hide the rest of a journey, it serves as a
lenient provider: before the reference system sees a GP Connect request, the SSP headers and the
token are replaced by correct ones (noted on the exchange). The business content is served as sent.

Proxy mode forwards every request unchanged to the real provider named in the target file (and its
User Permissions API), recording on the way through; the real provider's answers go back as they
are. In both modes the simulator may answer a request itself on purpose (a planted 409, 503, 404...)
to see how the consumer copes.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from typing import Any

import httpx

from gpc_assure.consumer.recording import Answer, CallRecord, Recorder, call_asgi
from gpc_assure.consumer.scenarios import PFS_GET, PFS_OTHER, PFS_POST, PFS_RECORD, Plant, Step
from gpc_assure.consumer.section import ConsumerTestSection
from gpc_assure.errors import ConfigError
from gpc_assure.reference.data import Pack
from gpc_assure.target import ConsumerSection, Target, parse_target
from gpc_assure.transport import jwt
from gpc_assure.transport.interactions import INTERACTIONS, Interaction

PFS_PERMISSIONS_PATH = "/gp-connect/patient-facing/user-permissions"
PFS_RECORD_PATH = "/gp-connect/patient-facing/access-record-fhir/FHIR/STU3"
FUTURE_EXTENSION = "https://fhir.gpc-assure.invalid/StructureDefinition/Extension-FutureUse-1"
DECOY_PREFIX = "gpc-assure-decoy-"
_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding",
               "te", "upgrade", "proxy-connection"}


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


_ROUTES: list[tuple[re.Pattern[str], Interaction]] = [(_compile(i.path), i) for i in INTERACTIONS.values()]


def gpc_interaction(method: str, rel: str, body: bytes) -> Interaction | None:
    """The GP Connect interaction a request performs, from its verb, path and (for PUT) its body.

    This is what the request *does*, whatever Ssp-InteractionID it names: a PUT whose Appointment has
    status cancelled is a cancellation, any other PUT an amendment.
    """
    found = []
    for pattern, i in _ROUTES:
        m = pattern.match(rel)
        if m and i.method == method and not any(v.startswith("$") for v in m.groupdict().values()):
            found.append(i)
    if not found:
        return None
    if len(found) > 1 and method == "PUT":
        try:
            status = json.loads(body.decode("utf-8")).get("status")
        except (ValueError, UnicodeDecodeError, AttributeError):
            status = None
        return INTERACTIONS["appointment.cancel" if status == "cancelled" else "appointment.amend"]
    return found[0]


class Simulator:
    """The server a consumer under test calls during a run, with its recorder."""

    def __init__(self, section: ConsumerTestSection, identity: ConsumerSection, pack: Pack,
                 target: Target | None = None, pfs_version: str = "current"):
        self.section = section
        self.identity = identity
        self.pack = pack
        self.target = target
        self.mode = section.mode
        self.pfs_version = pfs_version
        if self.mode == "proxy":
            if target is None:
                raise ConfigError("consumer_test.mode: proxy needs a target file whose [provider] is the real provider")
            self.upstream = section.upstream or target.provider.base_url
            self.upstream_permissions = section.upstream_permissions or (
                target.permissions.base_url if target.permissions else None)
            self.provider_asid, self.ods_code = target.provider.asid, target.provider.ods_code
        else:
            self.upstream, self.upstream_permissions = None, None
            self.provider_asid, self.ods_code = pack.practice.asid, pack.practice.ods_code
        self.gpc_root = f"/{self.ods_code}/STU3/1/gpconnect"
        self.provider: Any = None  # the reference GP system of the current scenario (simulate mode)
        self.step: Step | None = None
        self._plants: list[list[Any]] = []
        self._lock = threading.Lock()
        self.recorder = Recorder(self._respond, self.classify)
        from gpc_assure.reference.server import BackgroundServer, free_socket

        self.sock = free_socket(section.listen_host, section.listen_port)
        self.port = self.sock.getsockname()[1]
        self._serving = BackgroundServer(self.recorder, self.sock, "gpc-consumer-simulator")

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        host = self.section.advertise_host or self.section.listen_host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Simulator:
        self._serving.start(timeout, f"the consumer simulator could not start on {self.section.listen_host}:"
                                     f"{self.section.listen_port}")
        return self

    def stop(self) -> None:
        self._serving.stop()

    def begin(self, scenario: str) -> str:
        """A new scenario: a fresh correlation key, and in simulate mode a fresh reference GP system."""
        key = f"{scenario[:3]}-{uuid.uuid4().hex[:8]}"
        if self.mode == "simulate":
            from gpc_assure.reference.app import ReferenceProvider
            from gpc_assure.reference.faults import ActiveFaults

            self.provider = ReferenceProvider(self.pack, ActiveFaults([]), pfs_version=self.pfs_version)
        self.recorder.known_keys.add(key)
        return key

    def open(self, key: str, step: Step) -> None:
        with self._lock:
            self.step = step
            self._plants = [[p, p.times] for p in step.plants]
        self.recorder.open(key, step.name)

    def close(self) -> None:
        self.recorder.close()
        with self._lock:
            self.step = None
            self._plants = []

    # -- what the consumer is told --------------------------------------------------------------------
    def base(self, key: str | None) -> str:
        return self.origin + (f"/s/{key}" if key else "")

    def view(self, key: str | None) -> Target:
        """The provider as the consumer under test sees it in this scenario (its URLs carry the key)."""
        base = self.base(key)
        if self.mode == "proxy":
            assert self.target is not None
            t = self.target
            update: dict[str, Any] = {"provider": t.provider.model_copy(update={"base_url": base + self.gpc_root})}
            if t.permissions is not None:
                update["permissions"] = t.permissions.model_copy(update={"base_url": base + PFS_PERMISSIONS_PATH})
            return t.model_copy(update=update)
        from gpc_assure.reference.server import target_mapping

        mapping = target_mapping(self.pack, base, self.provider.permissions if self.provider else None)
        mapping["consumer"] = self.identity.model_dump(mode="json")
        mapping["target"] = {"name": "gpc-assure consumer simulator"}
        return parse_target(mapping, source="consumer simulator")

    def amend_elsewhere(self, appointment_id: str) -> bool:
        """Someone at the practice changes the appointment, so an ETag the consumer kept goes stale."""
        if self.mode != "simulate" or self.provider is None:
            return False
        from gpc_assure.reference.diary import diary_of

        store = self.provider.store
        with store.lock:
            appt = diary_of(store).appointments.get(appointment_id)
            if appt is None:
                return False
            appt.comment = "Changed at the practice: please arrive ten minutes early"
            store.bump("Appointment", appointment_id)
        return True

    # -- recording ------------------------------------------------------------------------------------
    def classify(self, method: str, route: str, body: bytes, headers: list[tuple[str, str]]) -> str | None:
        if route == self.gpc_root or route.startswith(self.gpc_root + "/"):
            i = gpc_interaction(method, route[len(self.gpc_root):], body)
            return i.name if i else None
        if route.startswith(PFS_PERMISSIONS_PATH + "/"):
            return {"GET": PFS_GET, "POST": PFS_POST}.get(method, PFS_OTHER)
        if route.startswith(PFS_RECORD_PATH + "/"):
            return PFS_RECORD
        return None

    def _take_plant(self, interaction: str | None) -> Plant | None:
        with self._lock:
            for entry in self._plants:
                plant, left = entry
                if left > 0 and plant.interaction == interaction:
                    entry[1] = left - 1
                    return plant
        return None

    async def _respond(self, call: CallRecord, scope: dict[str, Any]) -> Answer:
        plant = self._take_plant(call.interaction)
        if plant is not None:
            body = json.dumps(plant.body).encode("utf-8")
            return Answer(plant.status, [("content-type", plant.content_type), ("cache-control", "no-store")],
                          body, f"planted: {plant.what}", [f"answered by the simulator on purpose: {plant.what}"])
        route = call.route
        if self.mode == "proxy":
            return await self._forward(call)
        if route.startswith(PFS_RECORD_PATH + "/"):
            return self._record_stub(call)
        if route == self.gpc_root or route.startswith(self.gpc_root + "/") or route.startswith(PFS_PERMISSIONS_PATH):
            answer = await self._reference(call, scope)
            if call.interaction == "patient.find" and self.step is not None and self.step.decorate_find:
                answer = _decorate_find(answer, call)
            return answer
        return _not_found(f"nothing is served at {route}")

    async def _reference(self, call: CallRecord, scope: dict[str, Any]) -> Answer:
        gpc = not call.route.startswith(PFS_PERMISSIONS_PATH)
        headers = [(k, v) for k, v in call.request.headers if k.lower() != "accept-encoding"]
        notes = []
        if gpc:
            headers, changed = self._lenient(call, headers)
            if changed:
                notes.append("served leniently: the simulator replaced " + ", ".join(changed) + " (and, as for every "
                             "request, the token) before the reference GP system saw the request; the consumer "
                             "checks judge what was sent")
        inner = dict(scope)
        inner["path"] = call.route
        inner["raw_path"] = call.route.encode("latin-1")
        inner["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        # The correlation prefix stays part of the service root the reference system writes into
        # Location headers; the User Permissions app is mounted, so only GP Connect requests get it.
        inner["root_path"] = f"/s/{call.scenario}" if gpc and call.matched_by == "path" else ""
        answer = await call_asgi(self.provider.app, inner, call.request.body)
        answer.notes.extend(notes)
        return answer

    def _lenient(self, call: CallRecord, headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
        """Correct SSP headers and token for the interaction the request performs, and what was replaced."""
        i = INTERACTIONS.get(call.interaction or "")
        if i is None:
            return headers, []
        sent = {k.lower(): v for k, v in headers}
        token = jwt.encode(jwt.build_claims(self.identity, audience=self.origin + self.gpc_root, scope=i.scope))
        want = {
            "ssp-traceid": sent.get("ssp-traceid", "").strip() or str(uuid.uuid4()),
            "ssp-from": sent.get("ssp-from", "").strip() or self.identity.asid,
            "ssp-to": self.provider_asid,
            "ssp-interactionid": i.interaction_id,
            "authorization": "Bearer " + token,
        }
        changed = [name for name, value in want.items() if name != "authorization" and sent.get(name) != value]
        out = [(k, v) for k, v in headers if k.lower() not in want] + list(want.items())
        return out, changed

    def _record_stub(self, call: CallRecord) -> Answer:
        """Another Patient Facing API (Access Record documents), as much of it as judging the order needs:
        it answers 404 PATIENT_NOT_FOUND until the patient's first permissions request enabled online access."""
        m = re.match(r"^/documents/Patient/([^/]+)$", call.route[len(PFS_RECORD_PATH):])
        if not m or call.request.method != "GET":
            return _not_found(f"nothing is served at {call.route}")
        nhs = m.group(1)
        permissions = self.provider.permissions
        auth = (call.header("authorization") or "").strip()
        scheme, _, token = auth.partition(" ")
        login = permissions.logins.get(token.strip()) if scheme.lower() == "bearer" else None
        if login is None:
            return _pfs_error(401, "ACCESS_DENIED", "login", "an NHS login bearer token is required")
        if login.nhs_number != nhs:
            return _pfs_error(403, "ACCESS_DENIED", "forbidden", "a patient may only see their own record")
        state = permissions.states.get(nhs)
        if state is None or not state.online:
            return _pfs_error(404, "PATIENT_NOT_FOUND", "not-found", "online access is not enabled for this patient")
        patient = self.provider.store.patient_by_nhs(nhs)
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Patient", "id": patient.id if patient else nhs,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}]}}]}
        return Answer(200, [("content-type", "application/fhir+json")], json.dumps(bundle).encode(), "stub")

    async def _forward(self, call: CallRecord) -> Answer:
        route = call.route
        if route == self.gpc_root or route.startswith(self.gpc_root + "/"):
            url = f"{self.upstream}{route[len(self.gpc_root):]}"
        elif route.startswith(PFS_PERMISSIONS_PATH) and self.upstream_permissions:
            url = f"{self.upstream_permissions}{route[len(PFS_PERMISSIONS_PATH):]}"
        else:
            return _not_found(f"the proxy forwards nothing at {route}")
        query = call.request.url.split("?", 1)[1] if "?" in call.request.url else ""
        headers = [(k, v) for k, v in call.request.headers if k.lower() not in _HOP_BY_HOP]
        assert self.target is not None
        t = self.target.timeouts
        from gpc_assure.transport.client import build_ssl_context

        ctx = build_ssl_context(self.target)
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(t.read_s, connect=t.connect_s), trust_env=False,
                                         verify=ctx if ctx is not None else True) as client:
                request = client.build_request(call.request.method, httpx.URL(url + (f"?{query}" if query else "")),
                                               headers=headers, content=call.request.body or None)
                request.headers["accept-encoding"] = "identity"
                response = await client.send(request)
        except httpx.HTTPError as exc:
            return Answer(502, [("content-type", "text/plain")], f"upstream failed: {exc}".encode(), "proxy",
                          [f"the upstream provider did not answer: {type(exc).__name__}: {exc}"])
        out = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")]
        return Answer(response.status_code, out, response.content, "proxy", [f"forwarded to {url}"])


def _not_found(diagnostics: str) -> Answer:
    from gpc_assure.reference.outcomes import outcome

    return Answer(404, [("content-type", "application/fhir+json")],
                  json.dumps(outcome("NO_RECORD_FOUND", "not-found", diagnostics)).encode(), "simulator")


def _pfs_error(status: int, code: str, issue: str, diagnostics: str) -> Answer:
    from gpc_assure.consumer.scenarios import _pfs_outcome

    body = _pfs_outcome(code, code.replace("_", " ").capitalize(), issue, diagnostics)
    return Answer(status, [("content-type", "application/fhir+json")], json.dumps(body).encode(), "stub")


def _decorate_find(answer: Answer, call: CallRecord) -> Answer:
    """CON-010: the found Patients carry an extension and an element the consumer cannot know, and a
    fullUrl pointing somewhere else; a consumer must ignore the first two and never use the third."""
    if answer.status != 200:
        return answer
    try:
        bundle = json.loads(answer.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return answer
    changed = False
    root = call.request.url.split("?")[0].rsplit("/Patient", 1)[0]
    for entry in bundle.get("entry") or [] if isinstance(bundle, dict) else []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Patient":
            res = copy.deepcopy(res)
            res.setdefault("extension", []).append({"url": FUTURE_EXTENSION, "valueString": "for a later version"})
            res["futureElement"] = {"text": "an element a later version of the specification may add"}
            entry["resource"] = res
            entry["fullUrl"] = f"{root}/Patient/{DECOY_PREFIX}{res.get('id')}"
            changed = True
    if not changed:
        return answer
    answer.body = json.dumps(bundle).encode("utf-8")
    answer.notes.append("the simulator added an unknown extension, an unknown element and a decoy fullUrl to "
                        "each Patient (CON-010)")
    return answer
