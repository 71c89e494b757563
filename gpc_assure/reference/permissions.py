"""The reference GP system's GP Connect (Patient Facing) User Permissions API, both spec versions.

Mounted under `/gp-connect/patient-facing/user-permissions` on the reference server; the version
("current": GET only; "legacy": GET and POST, appointments, accessLevelMax) is chosen at start.
Patients sign in with fake NHS login bearer tokens the reference issues per test patient.

Each request goes: path and method -> X-Request-ID (UUID; a retry is answered from the replay
cache) -> bearer token -> NHS number -> P9 and token owner -> the patient on the practice list ->
GET (the first GET enables online access with the practice defaults or at-risk permissions) or
POST (body shape, then only increases up to accessLevelMax, de-duplicated, left pending). Every
response echoes X-Request-ID and X-Correlation-ID; 200s are application/json, errors
application/fhir+json OperationOutcomes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gpc_assure.errors import ConfigError
from gpc_assure.fhir import uktime
from gpc_assure.nhs_number import is_valid as valid_nhs_number
from gpc_assure.pfs import levels as lv
from gpc_assure.reference.data import Pack, PfsPatientSeed
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.store import Store

BASE_PATH = "/gp-connect/patient-facing/user-permissions"
ENV_VERSION = "GPC_ASSURE_PFS_VERSION"  # the reference's permissions version when not given explicitly
ERROR_SYSTEM = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
JSON = "application/json"
FHIR_JSON = "application/fhir+json"

# Faults of behaviour only the legacy version has; a reference started with one runs legacy.
LEGACY_FAULTS: set[str] = set()


def _legacy(name: str, breaks: list[str], description: str) -> str:
    LEGACY_FAULTS.add(name)
    return declare(name, breaks, "permissions", description)


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "permissions", description)


# --- transport and headers
NO_REQUEST_ID_ECHO = _fault("no-request-id-echo", ["PFS-UP-011"], "X-Request-ID is not echoed in the response")
REQUEST_ID_REQUIRED = _fault("request-id-required", ["PFS-UP-011"],
                             "a request without X-Request-ID is refused with 400 (the header is optional)")
NO_CORRELATION_ID_ECHO = _fault("no-correlation-id-echo", ["PFS-UP-012"],
                                "X-Correlation-ID is not echoed in the response")
OK_AS_FHIR_JSON = _fault("permissions-200-as-fhir-json", ["PFS-UP-013"],
                         "200 responses are labelled application/fhir+json instead of application/json")
REPEATED_REQUEST_ID_REJECTED = _fault("repeated-request-id-rejected", ["PFS-UP-014"],
                                      "a request re-sent with an X-Request-ID already seen is refused with 409")
# --- authorisation
MISSING_AUTH_ACCEPTED = _fault("permissions-missing-authorization-accepted", ["PFS-UP-005"],
                               "a request without Authorization is answered as if the patient had signed in")
NON_P9_ACCEPTED = _fault("permissions-non-p9-accepted", ["PFS-UP-006"],
                         "a token of an NHS login identity below P9 is accepted")
TOKEN_NOT_BOUND = _fault("permissions-token-not-bound-to-patient", ["PFS-UP-006"],
                         "a patient's token reads another patient's permissions")
# --- the patient
CHECK_DIGIT_IGNORED = _fault("nhs-number-check-digit-ignored", ["PFS-UP-004"],
                             "any ten digits pass as an NHS number (no modulus-11 check); bad ones are 'not found'")
INVALID_ID_WRONG_CODE = _fault("invalid-nhs-number-wrong-code", ["PFS-UP-030"],
                               "GET answers an invalid NHS number with INVALID_NHS_NUMBER (the POST table's code)")
UNVERIFIED_200 = _fault("unverified-patient-returns-200", ["PFS-UP-031"],
                        "a patient whose NHS number is not verified gets their permissions")
NON_GMS_200 = _fault("non-gms-patient-returns-200", ["PFS-UP-032"],
                     "a temporary (non-GMS) patient gets their permissions")
DECEASED_200 = _fault("deceased-patient-returns-200", ["PFS-UP-033"], "a deceased patient gets permissions")
ERROR_NO_LAST_UPDATED = _fault("permissions-error-missing-last-updated", ["PFS-UP-034"],
                               "error bodies have no meta.lastUpdated")
# --- the GET body
BODY_NOT_OBJECT = _fault("permissions-body-not-an-object", ["PFS-UP-001"],
                         "the GET body is the permissions object wrapped in a one-item JSON array")
MISSING_PRESCRIPTIONS = _fault("permissions-missing-prescriptions", ["PFS-UP-020", "PFS-UP-021"],
                               "the GET body has no prescriptions permission")
EFFECTIVE_DATE_NOT_ISO = _fault("effective-date-not-iso", ["PFS-UP-022"],
                                "effectiveDate is written DD/MM/YYYY instead of YYYY-MM-DD")
EFFECTIVE_DATE_FUTURE = _fault("effective-date-in-future", ["PFS-UP-023"], "effectiveDate is 30 days ahead")
EFFECTIVE_DATE_TOMORROW = _fault("effective-date-tomorrow", ["PFS-UP-023"],
                                 "effectiveDate is tomorrow's date in the UK: one day ahead, the smallest future date "
                                 "(a UTC date with a day's grace lets it through)")
RECORD_LEVEL_OUT_OF_ENUM = _fault("medical-record-level-out-of-enum", ["PFS-UP-025"],
                                  "the historical record level is 'partial', not one of the five levels")
PRESCRIPTIONS_OUT_OF_ENUM = _fault("prescriptions-level-out-of-enum", ["PFS-UP-026"],
                                   "the prescriptions level 'manage' is written 'order'")
MISSING_APPOINTMENTS = _legacy("legacy-missing-appointments", ["PFS-UP-021"],
                               "the legacy GET body has no appointments permission")
APPOINTMENTS_OUT_OF_ENUM = _legacy("legacy-appointments-level-out-of-enum", ["PFS-UP-027"],
                                   "the appointments level 'view' is written 'read'")
MISSING_MAX = _legacy("legacy-missing-access-level-max", ["PFS-UP-028"],
                      "the prescriptions permission has no accessLevelMax")
PENDING_WITHOUT_MESSAGE = _legacy("legacy-pending-request-missing-message", ["PFS-UP-029"],
                                  "requests[] entries in the GET body have no message")
# --- online access
AT_RISK_IGNORED = _fault("at-risk-flag-ignored", ["PFS-UP-035"],
                         "a new online user flagged at risk gets the practice defaults, not the at-risk permissions")
DEFAULTS_REAPPLIED = _fault("existing-permissions-reset-to-defaults", ["PFS-UP-036"],
                            "every GET re-applies the practice defaults, overwriting the permissions a patient holds")
ACCELERATED_IGNORED = _fault("accelerated-access-ignored", ["PFS-UP-037"],
                             "a new online user's current record level is the plain default despite accelerated access")
# --- POST
CURRENT_ACCEPTS_POST = _fault("current-accepts-post", ["PFS-UP-003"],
                              "the current version still takes POST requests and files them as pending")
POST_RESPONSE_NO_MESSAGE = _legacy("legacy-post-response-missing-message", ["PFS-UP-002"],
                                   "the POST 200 body has no message")
POST_IGNORES_REQUEST = _legacy("post-response-ignores-request", ["PFS-UP-041"],
                               "the POST 200 body is always 'historical medical record: detailed', whatever was asked")
ALLOWS_DOWNGRADE = _legacy("permissions-allows-downgrade", ["PFS-UP-043"],
                           "a request for a lower level than the patient has is accepted as pending")
ABOVE_MAX_ACCEPTED = _legacy("request-above-max-accepted", ["PFS-UP-044"],
                             "a request above accessLevelMax is accepted as pending")
NO_REJECTION_TEXT = _legacy("rejection-without-reason-text", ["PFS-UP-045"],
                            "a refused request's error has no details.text for the patient")
NOT_DEDUPLICATED = _legacy("duplicate-request-not-deduplicated", ["PFS-UP-046"],
                           "the same request made twice is filed twice")
PENDING_NOT_LISTED = _legacy("pending-request-not-listed", ["PFS-UP-048"],
                             "accepted requests are not kept, so GET never lists them (stateless, like Prism)")
MISSING_RECORD_TYPE_ACCEPTED = _legacy("post-accepts-missing-medical-record-type", ["PFS-UP-040", "PFS-UP-050"],
                                       "a medicalRecord request without medicalRecordType is taken as 'current'")
BODY_ERRORS_422 = _legacy("post-schema-errors-422", ["PFS-UP-050"],
                          "a malformed POST body is refused with 422 (as Prism does) instead of 400")

# The pending request the current version's online patient filed before POST was withdrawn (see _seed).
CURRENT_LEFTOVER_REQUEST = {
    "permissionType": "medicalRecord", "medicalRecordType": "historical", "accessLevel": "documents",
    "status": "pending", "createdDateTime": "2024-03-01T09:30:00+00:00",
    "message": "Your request for documents access to your historical medical record is waiting for review by the "
               "practice.",
}

DISPLAY = {
    "INVALID_RESOURCE_ID": "Invalid resource ID",
    "INVALID_NHS_NUMBER": "Invalid NHS number",
    "PATIENT_NOT_FOUND": "Patient not found",
    "ACCESS_DENIED": "Access denied",
    "FORBIDDEN_UPDATE": "Update not allowed",
    "INVALID_UPDATE": "Update is invalid",
    "VALIDATION_ERROR": "A value did not pass validation",
    "UNSUPPORTED_VALUE": "Unsupported value",
    "ADDITIONAL_PROPERTIES": "Properties not allowed",
    "DUPLICATE_REJECTED": "Duplicate request",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "NOT_FOUND": "No such resource",
}


class PfsError(Exception):
    def __init__(self, status: int, code: str, issue_code: str, diagnostics: str, text: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {diagnostics}")
        self.status, self.code, self.issue_code = status, code, issue_code
        self.diagnostics, self.text, self.headers = diagnostics, text, headers or {}


@dataclass
class PatientState:
    """One patient's online access and permissions, as the GP system holds them."""

    nhs_number: str
    online: bool
    at_risk: bool
    effective_date: str | None
    levels: dict[str, str]
    max: dict[str, str]
    pending: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Login:
    nhs_number: str
    assurance: str


def choose_version(faults: list[str] | tuple[str, ...], explicit: str | None = None) -> str:
    """The version to serve: as asked (argument, else $GPC_ASSURE_PFS_VERSION), else legacy for a legacy fault."""
    legacy_faults = sorted(set(faults) & LEGACY_FAULTS)
    asked = explicit or os.environ.get(ENV_VERSION) or None
    if asked is not None and asked not in lv.VERSIONS:
        raise ConfigError(f"unknown User Permissions version '{asked}' (known: {', '.join(lv.VERSIONS)})")
    if legacy_faults and asked == "current":
        raise ConfigError(f"fault {legacy_faults[0]} changes behaviour only the legacy version of User Permissions "
                          "has; it cannot run with the current version")
    return asked or ("legacy" if legacy_faults else "current")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class PermissionsProvider:
    """The User Permissions API of one reference GP system."""

    def __init__(self, store: Store, pack: Pack, faults: ActiveFaults, version: str = "current"):
        if version not in lv.VERSIONS:
            raise ConfigError(f"unknown User Permissions version '{version}'")
        self.store = store
        self.faults = faults
        self.version = version
        self.seed = pack.permissions
        self.lock = threading.RLock()
        self.states: dict[str, PatientState] = store.extra.setdefault("permissions", {})
        self.logins: dict[str, Login] = {}  # bearer token -> who signed in
        self.tokens: dict[str, str] = {}  # role -> token (for the target file)
        self.seen_request_ids: set[str] = set()
        self.replies: dict[tuple[str, ...], tuple[int, bytes, dict[str, str]]] = {}
        for p in self.seed.patient if self.seed else []:
            self._seed(p)
        self.app = Starlette(routes=[Route("/{path:path}", self.endpoint,
                                           methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])])

    def _seed(self, p: PfsPatientSeed) -> None:
        token = f"nhslogin-{p.assurance.lower()}-{secrets.token_urlsafe(18)}"
        self.logins[token] = Login(p.nhs_number, p.assurance)
        self.tokens[p.role] = token
        if p.online:
            self.states[p.nhs_number] = PatientState(p.nhs_number, True, p.at_risk, p.effective_date,
                                                     dict(p.levels), dict(p.max))
            if self.version == "current" and p.role == "online":
                # requests[] stays in the current schema although its POST was withdrawn: the online patient
                # still has a request from before, so a current-version run has pending entries to validate.
                self.states[p.nhs_number].pending.append(dict(CURRENT_LEFTOVER_REQUEST))
        else:
            self.states[p.nhs_number] = PatientState(p.nhs_number, False, p.at_risk, None, {}, {})

    def patients(self) -> dict[str, dict[str, str]]:
        """Role -> NHS number and token, for the reference target file."""
        assert self.seed is not None
        return {p.role: {"nhs_number": p.nhs_number, "token": self.tokens[p.role]} for p in self.seed.patient}

    # --- HTTP ----------------------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.path_params.get("path", "")
        with self.lock:
            status, body, extra = self._answer(request.method, path, headers, raw)
        out = dict(extra)
        if "x-request-id" in headers and not self.faults.on(NO_REQUEST_ID_ECHO):
            out["X-Request-ID"] = headers["x-request-id"]
        if "x-correlation-id" in headers and not self.faults.on(NO_CORRELATION_ID_ECHO):
            out["X-Correlation-ID"] = headers["x-correlation-id"]
        return Response(body, status_code=status, headers=out)

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        request_id = headers.get("x-request-id")
        key = (method, path, headers.get("authorization", ""), request_id or "", raw.decode("utf-8", "replace"))
        if request_id and key in self.replies and not self.faults.on(REPEATED_REQUEST_ID_REJECTED):
            return self.replies[key]  # a retry: the first answer again (PFS-UP-014)
        try:
            status, payload = self._handle(method, path, headers, raw)
            ctype = FHIR_JSON if self.faults.on(OK_AS_FHIR_JSON) else JSON
            reply = (status, json.dumps(payload).encode("utf-8"), {"Content-Type": ctype})
        except PfsError as err:
            reply = (err.status, json.dumps(self._outcome(err)).encode("utf-8"),
                     {"Content-Type": FHIR_JSON, **err.headers})
        if request_id and UUID.match(request_id):
            self.seen_request_ids.add(request_id)
            self.replies[key] = reply
        return reply

    def _outcome(self, err: PfsError) -> dict[str, Any]:
        details: dict[str, Any] = {"coding": [{"system": ERROR_SYSTEM, "version": "1", "code": err.code,
                                               "display": DISPLAY.get(err.code, err.code)}]}
        if err.text:
            details["text"] = err.text
        oo: dict[str, Any] = {"resourceType": "OperationOutcome",
                              "meta": {"lastUpdated": _now().isoformat()},
                              "issue": [{"severity": "error", "code": err.issue_code, "details": details,
                                         "diagnostics": err.diagnostics}]}
        if self.faults.on(ERROR_NO_LAST_UPDATED):
            del oo["meta"]["lastUpdated"]
        return oo

    # --- the pipeline ----------------------------------------------------------------------------
    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "Patient" or not parts[1]:
            raise PfsError(404, "NOT_FOUND", "not-found", f"no such resource: /{path}")
        nhs = parts[1]
        allowed = ["GET", "POST"] if self.version == "legacy" or self.faults.on(CURRENT_ACCEPTS_POST) else ["GET"]
        if method not in allowed:
            raise PfsError(405, "METHOD_NOT_ALLOWED", "not-supported", f"{method} is not supported on /Patient/{{id}}",
                           headers={"Allow": ", ".join(allowed)})
        self._check_request_id(headers)
        login = self._login(headers, nhs)
        self._check_nhs_number(nhs, method)
        if login is not None:
            self._check_user(login, nhs)
        self._patient(nhs)
        if method == "GET":
            body = self._permissions_body(self._enable(nhs))
            return 200, [body] if self.faults.on(BODY_NOT_OBJECT) else body
        return 200, self._request_change(nhs, raw)

    def _check_request_id(self, headers: dict[str, str]) -> None:
        request_id = headers.get("x-request-id")
        if request_id is None:
            if self.faults.on(REQUEST_ID_REQUIRED):
                raise PfsError(400, "VALIDATION_ERROR", "required", "X-Request-ID is required")
            return
        if not UUID.match(request_id):
            raise PfsError(400, "VALIDATION_ERROR", "value", "X-Request-ID must be a UUID")
        if self.faults.on(REPEATED_REQUEST_ID_REJECTED) and request_id in self.seen_request_ids:
            raise PfsError(409, "DUPLICATE_REJECTED", "duplicate", f"X-Request-ID {request_id} was already used")

    def _login(self, headers: dict[str, str], nhs: str) -> Login | None:
        auth = headers.get("authorization")
        if auth is None and self.faults.on(MISSING_AUTH_ACCEPTED):
            return None
        scheme, _, token = (auth or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PfsError(401, "ACCESS_DENIED", "login", "an NHS login bearer token is required",
                           headers={"WWW-Authenticate": "Bearer"})
        login = self.logins.get(token.strip())
        if login is None:
            raise PfsError(401, "ACCESS_DENIED", "login", "the bearer token is not valid",
                           headers={"WWW-Authenticate": "Bearer"})
        return login

    def _check_nhs_number(self, nhs: str, method: str) -> None:
        shaped = len(nhs) == 10 and nhs.isascii() and nhs.isdigit()
        ok = shaped if self.faults.on(CHECK_DIGIT_IGNORED) else valid_nhs_number(nhs)
        if ok:
            return
        # Each operation's own error table (PFS-UP-030): GET says INVALID_RESOURCE_ID, POST INVALID_NHS_NUMBER.
        post_code = method == "POST" or self.faults.on(INVALID_ID_WRONG_CODE)
        code = "INVALID_NHS_NUMBER" if post_code else "INVALID_RESOURCE_ID"
        raise PfsError(400, code, "value", f"{nhs!r} is not a valid NHS number")

    def _check_user(self, login: Login, nhs: str) -> None:
        if login.assurance != "P9" and not self.faults.on(NON_P9_ACCEPTED):
            raise PfsError(403, "ACCESS_DENIED", "forbidden", "the NHS login identity is not verified to P9")
        if login.nhs_number != nhs and not self.faults.on(TOKEN_NOT_BOUND):
            raise PfsError(403, "ACCESS_DENIED", "forbidden", "a patient may only use their own permissions")

    def _patient(self, nhs: str) -> None:
        """404 PATIENT_NOT_FOUND unless the patient is a verified, active, regular patient of the practice."""
        p = self.store.patient_by_nhs(nhs)
        missing = "the patient is not registered at this practice"
        if p is None:
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found", missing)
        if p.status == "deceased" and not self.faults.on(DECEASED_200):
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found", "the patient is deceased")
        if p.status == "inactive":
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found", "the patient's registration is inactive")
        if not p.verified and not self.faults.on(UNVERIFIED_200):
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found", "the NHS number is not verified")
        if p.registration_type != "R" and not self.faults.on(NON_GMS_200):
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found", "the patient is not a regular (GMS) patient")

    # --- GET ---------------------------------------------------------------------------------------
    def _defaults(self, at_risk: bool) -> tuple[dict[str, str], dict[str, str]]:
        seed = self.seed
        assert seed is not None
        use_at_risk = at_risk and not self.faults.on(AT_RISK_IGNORED)
        levels = dict(seed.at_risk if use_at_risk else seed.defaults)
        maxima = dict(seed.at_risk_max if use_at_risk else seed.default_max)
        if seed.accelerated_access and not use_at_risk and not self.faults.on(ACCELERATED_IGNORED):
            levels["current"] = "full"
            maxima["current"] = "full"
        return levels, maxima

    def _enable(self, nhs: str) -> PatientState:
        """The patient's state; the first GET enables online access with the practice's permissions."""
        state = self.states.get(nhs)
        if state is None:  # on the list but not a seeded permissions patient
            state = self.states[nhs] = PatientState(nhs, False, False, None, {}, {})
        if not state.online or self.faults.on(DEFAULTS_REAPPLIED):
            state.levels, state.max = self._defaults(state.at_risk)
            if not state.online:
                state.effective_date = uktime.today().isoformat()  # the practice's date: UK local time
            state.online = True
        return state

    def _permissions_body(self, state: PatientState) -> dict[str, Any]:
        legacy = self.version == "legacy"

        def entry(key: str) -> dict[str, str]:
            e = {"accessLevel": state.levels[key]}
            if legacy:
                e["accessLevelMax"] = state.max[key]
            return e

        effective = state.effective_date or uktime.today().isoformat()
        if self.faults.on(EFFECTIVE_DATE_FUTURE):
            effective = (uktime.today() + dt.timedelta(days=30)).isoformat()
        if self.faults.on(EFFECTIVE_DATE_TOMORROW):
            effective = (uktime.today() + dt.timedelta(days=1)).isoformat()
        if self.faults.on(EFFECTIVE_DATE_NOT_ISO):
            effective = dt.date.fromisoformat(effective).strftime("%d/%m/%Y")
        body: dict[str, Any] = {"medicalRecord": {"effectiveDate": effective, "current": entry("current"),
                                                  "historical": entry("historical")}}
        if legacy and not self.faults.on(MISSING_APPOINTMENTS):
            body["appointments"] = entry("appointments")
            if self.faults.on(APPOINTMENTS_OUT_OF_ENUM) and body["appointments"]["accessLevel"] == "view":
                body["appointments"]["accessLevel"] = "read"
        if not self.faults.on(MISSING_PRESCRIPTIONS):
            body["prescriptions"] = entry("prescriptions")
            if self.faults.on(PRESCRIPTIONS_OUT_OF_ENUM) and body["prescriptions"]["accessLevel"] == "manage":
                body["prescriptions"]["accessLevel"] = "order"
            if self.faults.on(MISSING_MAX):
                body["prescriptions"].pop("accessLevelMax", None)
        if self.faults.on(RECORD_LEVEL_OUT_OF_ENUM):
            body["medicalRecord"]["historical"]["accessLevel"] = "partial"
        if state.pending:
            body["requests"] = [dict(r) for r in state.pending]
            if self.faults.on(PENDING_WITHOUT_MESSAGE):
                for r in body["requests"]:
                    r.pop("message", None)
        return body

    # --- POST (legacy) -----------------------------------------------------------------------------
    def _bad_body(self, code: str, issue_code: str, diagnostics: str) -> PfsError:
        status = 422 if self.faults.on(BODY_ERRORS_422) else 400
        return PfsError(status, code, issue_code, diagnostics)

    def _parse_update(self, raw: bytes) -> tuple[lv.Target, str]:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self._bad_body("INVALID_UPDATE", "structure", "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise self._bad_body("INVALID_UPDATE", "structure", "the request body must be a JSON object")
        kind = body.get("permissionType")
        if kind is None:
            raise self._bad_body("INVALID_UPDATE", "required", "permissionType is missing")
        targets = {t[0] for t in lv.TARGETS["legacy"]}
        if kind not in targets:
            raise self._bad_body("UNSUPPORTED_VALUE", "value", f"permissionType {kind!r} is not supported")
        allowed = {"permissionType", "accessLevel"} | ({"medicalRecordType"} if kind == "medicalRecord" else set())
        extra = sorted(set(body) - allowed)
        if extra:
            raise self._bad_body("ADDITIONAL_PROPERTIES", "structure", f"properties not allowed: {', '.join(extra)}")
        record = None
        if kind == "medicalRecord":
            record = body.get("medicalRecordType")
            if record is None:
                if not self.faults.on(MISSING_RECORD_TYPE_ACCEPTED):
                    raise self._bad_body("INVALID_UPDATE", "required", "medicalRecordType is missing")
                record = "current"
            if record not in ("current", "historical"):
                raise self._bad_body("UNSUPPORTED_VALUE", "value", f"medicalRecordType {record!r} is not supported")
        target: lv.Target = (kind, record)
        level = body.get("accessLevel")
        if level is None:
            raise self._bad_body("INVALID_UPDATE", "required", "accessLevel is missing")
        if level not in lv.levels(target):
            raise self._bad_body("UNSUPPORTED_VALUE", "value", f"accessLevel {level!r} is not a level of {kind}")
        return target, level

    def _request_change(self, nhs: str, raw: bytes) -> dict[str, Any]:
        state = self.states.get(nhs)
        if state is None or not state.online:
            raise PfsError(404, "PATIENT_NOT_FOUND", "not-found",
                           "online access is not enabled yet: read the patient's permissions first")
        target, level = self._parse_update(raw)
        key, name = lv.KEYS[target], lv.label(target)
        have, asked = lv.rank(target, state.levels[key]), lv.rank(target, level)
        lower_allowed = self.faults.on(ALLOWS_DOWNGRADE) and asked < have
        if asked <= have and not lower_allowed:
            how = "the same as" if asked == have else "below"
            self._refuse(f"Your request was not sent: the access you asked for is {how} the access you already "
                         f"have to your {name}.")
        if asked > lv.rank(target, state.max[key]) and not self.faults.on(ABOVE_MAX_ACCEPTED):
            self._refuse(f"Your request was not sent: the access you asked for is more than your practice allows "
                         f"for your {name}.")
        existing = lv.pending_for({"requests": state.pending}, target, level)
        if existing and not self.faults.on(NOT_DEDUPLICATED):
            entry = existing[0]  # the original is kept (PFS-UP-046)
        else:
            entry = {**lv.request_body(target, level), "status": "pending",
                     "createdDateTime": _now().isoformat(),
                     "message": f"Your request for {level} access to your {name} is waiting for review by the "
                                "practice."}
            if not self.faults.on(PENDING_NOT_LISTED):
                state.pending.append(entry)
        reply = dict(entry)
        if self.faults.on(POST_IGNORES_REQUEST):
            reply.update(permissionType="medicalRecord", medicalRecordType="historical", accessLevel="detailed")
        if self.faults.on(POST_RESPONSE_NO_MESSAGE):
            reply.pop("message", None)
        return reply

    def _refuse(self, reason: str) -> None:
        text = None if self.faults.on(NO_REJECTION_TEXT) else reason
        raise PfsError(403, "FORBIDDEN_UPDATE", "forbidden", reason, text=text)


def target_section(provider: PermissionsProvider, base: str) -> dict[str, Any]:
    """The [permissions] section of a target file pointing at this reference (served at `base`)."""
    seed = provider.seed
    assert seed is not None
    patients: dict[str, Any] = {}
    for p in seed.patient:
        entry: dict[str, Any] = {"nhs_number": p.nhs_number, "token": provider.tokens[p.role]}
        if p.online and p.levels:
            entry["expect"] = dict(p.levels)
        patients[p.role] = entry
    return {
        "base_url": base + BASE_PATH,
        "version": provider.version,
        "patients": patients,
        "practice": {"accelerated_access": seed.accelerated_access, "defaults": dict(seed.defaults),
                     "at_risk": dict(seed.at_risk)},
    }
