"""An httpx client for the Patient Facing User Permissions API, recording every exchange.

It reuses GpcClient's bounded, recorded send (deadline per exchange, body size cap, transport
failures turned into an Exchange with `error`), but speaks a different API: no Ssp-* headers and
no GP Connect JWT, only the patient's NHS login bearer token, plus the optional X-Request-ID and
X-Correlation-ID the target's header policy asks for. Every part of a request can be overridden
so tests can send deliberately bad ones.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from gpc_assure.errors import GpcAssureError
from gpc_assure.outcomes import InsufficientData
from gpc_assure.pfs.section import PATIENT_ROLES, PermissionsSection
from gpc_assure.redaction import remember_secrets
from gpc_assure.target import Target
from gpc_assure.transport.client import GpcClient, HeaderOverrides, Observer
from gpc_assure.transport.exchange import Exchange

JSON = "application/json"
TOKEN_COMMAND_TIMEOUT_S = 60


class TokenError(GpcAssureError):
    """A bearer token could not be obtained (the token command failed). The test errors: not the target's fault."""

    exit_code = 3


@dataclass(frozen=True)
class PfsPatient:
    """A test patient of the permissions suite: the role it plays and its NHS number."""

    role: str
    nhs_number: str


class TokenSource:
    """Bearer tokens per patient role: from the target file, or printed by its token command (cached per run)."""

    def __init__(self, section: PermissionsSection):
        self.section = section
        self._cache: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role in self._cache:
            return self._cache[role]
        patient = self.section.patients.get(role)
        if patient is None:
            raise InsufficientData(msg=f"the target's [permissions] section names no '{role}' patient "
                                       f"({PATIENT_ROLES.get(role, role)})")
        if patient.token:
            token = patient.token
        elif self.section.token_command:
            token = self._run_command(role, patient.nhs_number)
        else:
            raise InsufficientData(msg=f"no token for the '{role}' patient: set permissions.patients.{role}.token "
                                       "or permissions.token_command")
        token = token.strip().removeprefix("Bearer ").strip()
        remember_secrets([token])
        self._cache[role] = token
        return token

    def _run_command(self, role: str, nhs_number: str) -> str:
        assert self.section.token_command is not None
        # Split first, then fill in each word: an NHS number or role can never add arguments.
        argv = [w.format(nhs_number=nhs_number, role=role) for w in shlex.split(self.section.token_command)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TOKEN_COMMAND_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TokenError(f"permissions.token_command could not run for the '{role}' patient: "
                             f"{type(exc).__name__}") from None
        # Never show what the command printed: it may be (part of) a token.
        if done.returncode != 0:
            raise TokenError(f"permissions.token_command exited with {done.returncode} for the '{role}' patient "
                             "(its output is not shown, as it may hold a secret)")
        token = done.stdout.strip().splitlines()[-1].strip() if done.stdout.strip() else ""
        if not token:
            raise TokenError(f"permissions.token_command printed no token for the '{role}' patient")
        remember_secrets([token, token.removeprefix("Bearer ").strip()])
        return token


class PfsClient(GpcClient):
    """Sends User Permissions requests to the target's permissions.base_url on behalf of a test patient."""

    def __init__(self, target: Target, observers: Iterable[Observer] = (),
                 transport: httpx.BaseTransport | None = None, tokens: TokenSource | None = None):
        if target.permissions is None:
            raise ValueError("the target has no [permissions] section")
        super().__init__(target, observers=observers, transport=transport)
        self.section: PermissionsSection = target.permissions
        self.tokens = tokens or TokenSource(self.section)

    @property
    def base_url(self) -> str:
        return self.section.base_url

    def default_headers(self, interaction: str | None = None, token: str | None = None) -> dict[str, str]:
        headers = {"Accept": self.section.accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self.section.request_id == "per-request":
            headers["X-Request-ID"] = str(uuid.uuid4())
        if self.section.correlation_id == "per-request":
            headers["X-Correlation-ID"] = str(uuid.uuid4())
        return headers

    def request(
        self,
        method: str,
        patient: PfsPatient | None,
        *,
        nhs_number: str | None = None,
        body: Any = None,
        headers: HeaderOverrides | None = None,
        token: str | None = None,
        path: str | None = None,
        label: str = "",
    ) -> Exchange:
        """One request to /Patient/{id} as `patient` (its token, its NHS number unless `nhs_number` is given).

        `headers` values of None remove a header (e.g. {"Authorization": None}); `body` may be a JSON
        value or raw bytes; `path` replaces the whole path after base_url.
        """
        if token is None and patient is not None:
            token = self.tokens.token(patient.role)
        h = self.default_headers(token=token)
        raw = b""
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            h["Content-Type"] = JSON
        for name, value in (headers or {}).items():
            for existing in [k for k in h if k.lower() == name.lower()]:
                del h[existing]
            if value is not None:
                h[name] = value
        number = nhs_number if nhs_number is not None else (patient.nhs_number if patient else "")
        url_path = path if path is not None else f"/Patient/{quote(number, safe='')}"
        interaction = f"permissions.{method.lower()}"
        who = f" ({patient.role})" if patient else ""
        return self.send(method, url_path, headers=h, body=raw, interaction=interaction,
                         label=label or f"{method} permissions{who}")

    def get(self, patient: PfsPatient | None, **kwargs: Any) -> Exchange:
        return self.request("GET", patient, **kwargs)

    def post(self, patient: PfsPatient | None, body: Any, **kwargs: Any) -> Exchange:
        return self.request("POST", patient, body=body, **kwargs)
