"""Access levels of the User Permissions API and which permissions each spec version carries.

A permission is named by its *target*: (permissionType, medicalRecordType), where the second part
is set only for the medical record ("current" or "historical"). Levels of one target are ordered,
lowest first, so "an increase" and "above the maximum" are comparisons of ranks.
"""

from __future__ import annotations

from typing import Any, Literal

Version = Literal["current", "legacy"]
VERSIONS: tuple[Version, ...] = ("current", "legacy")

# What each version's spec commit is (shown in results.json run.spec_versions).
SPEC_COMMITS: dict[str, str] = {
    "current": "NHSDigital/gp-connect-user-permissions@a9966df (GET only)",
    "legacy": "NHSDigital/gp-connect-user-permissions@875e153 (GET and POST, appointments, accessLevelMax)",
}

MEDICAL_RECORD_LEVELS: tuple[str, ...] = ("none", "summary", "detailed", "documents", "full")
SERVICE_LEVELS: tuple[str, ...] = ("none", "view", "manage")

Target = tuple[str, str | None]  # (permissionType, medicalRecordType or None)

CURRENT_RECORD: Target = ("medicalRecord", "current")
HISTORICAL_RECORD: Target = ("medicalRecord", "historical")
PRESCRIPTIONS: Target = ("prescriptions", None)
APPOINTMENTS: Target = ("appointments", None)

# The permissions a GET body carries, per version (appointments left the API with the POST).
TARGETS: dict[str, tuple[Target, ...]] = {
    "current": (CURRENT_RECORD, HISTORICAL_RECORD, PRESCRIPTIONS),
    "legacy": (CURRENT_RECORD, HISTORICAL_RECORD, APPOINTMENTS, PRESCRIPTIONS),
}

# Short names used in target files and the reference pack for each target.
KEYS: dict[Target, str] = {
    CURRENT_RECORD: "current",
    HISTORICAL_RECORD: "historical",
    PRESCRIPTIONS: "prescriptions",
    APPOINTMENTS: "appointments",
}
BY_KEY: dict[str, Target] = {v: k for k, v in KEYS.items()}


def levels(target: Target) -> tuple[str, ...]:
    return MEDICAL_RECORD_LEVELS if target[0] == "medicalRecord" else SERVICE_LEVELS


def rank(target: Target, level: str) -> int:
    """The level's position (0 = none); -1 for a level the target does not have."""
    scale = levels(target)
    return scale.index(level) if level in scale else -1


def label(target: Target) -> str:
    """How a patient would name the target, e.g. 'historical medical record'."""
    kind, record = target
    return f"{record} medical record" if kind == "medicalRecord" else kind


def item(body: Any, target: Target) -> dict[str, Any] | None:
    """The permission item of a GET body for this target ({accessLevel, accessLevelMax?}), if present."""
    if not isinstance(body, dict):
        return None
    kind, record = target
    node = body.get(kind)
    if record is not None:
        node = node.get(record) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def level_of(body: Any, target: Target, field: str = "accessLevel") -> str | None:
    node = item(body, target)
    value = node.get(field) if node else None
    return value if isinstance(value, str) else None


def request_body(target: Target, level: str) -> dict[str, str]:
    """The legacy POST body asking for `level` on `target`."""
    kind, record = target
    body = {"permissionType": kind, "accessLevel": level}
    if record is not None:
        body["medicalRecordType"] = record
    return body


def target_of(entry: Any) -> Target | None:
    """The target a request, pending entry or POST response is about (None when it names none)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("permissionType"), str):
        return None
    record = entry.get("medicalRecordType")
    return (entry["permissionType"], record if isinstance(record, str) else None)


def pending(body: Any) -> list[dict[str, Any]]:
    """The requests[] entries of a GET body (empty when it has none)."""
    reqs = body.get("requests") if isinstance(body, dict) else None
    return [r for r in reqs if isinstance(r, dict)] if isinstance(reqs, list) else []


def pending_for(body: Any, target: Target, level: str) -> list[dict[str, Any]]:
    """requests[] entries asking for exactly `level` on `target`."""
    return [r for r in pending(body) if target_of(r) == target and r.get("accessLevel") == level]
