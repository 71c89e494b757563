"""How the reference provider answers errors: a GP Connect OperationOutcome with the right code."""

from __future__ import annotations

from typing import Any

from gpc_assure.fhir import profiles
from gpc_assure.fhir.terminology import SPINE_ERROR_DISPLAY, SPINE_ERROR_SYSTEM


class ProviderError(Exception):
    """Raised anywhere in a handler to answer with an OperationOutcome."""

    def __init__(self, status: int, code: str, issue_code: str, diagnostics: str):
        super().__init__(f"{status} {code}: {diagnostics}")
        self.status = status
        self.code = code
        self.issue_code = issue_code
        self.diagnostics = diagnostics


def outcome(code: str, issue_code: str, diagnostics: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "meta": {"profile": [profiles.OPERATION_OUTCOME]},
        "issue": [
            {
                "severity": "error",
                "code": issue_code,
                "details": {
                    "coding": [
                        {"system": SPINE_ERROR_SYSTEM, "code": code, "display": SPINE_ERROR_DISPLAY[code]}
                    ]
                },
                "diagnostics": diagnostics,
            }
        ],
    }


# Shorthands for the error catalogue (ERR-001..014), so handlers read like the spec's table.
def bad_request(diag: str) -> ProviderError:
    return ProviderError(400, "BAD_REQUEST", "invalid", diag)


def invalid_resource(diag: str) -> ProviderError:
    return ProviderError(422, "INVALID_RESOURCE", "invalid", diag)


def invalid_parameter(diag: str) -> ProviderError:
    return ProviderError(422, "INVALID_PARAMETER", "invalid", diag)


def not_found(code: str, diag: str) -> ProviderError:
    return ProviderError(404, code, "not-found", diag)
