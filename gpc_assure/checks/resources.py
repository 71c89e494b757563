"""Resource-level checks over a response body: type, structure, meta, ids, searchset bundles.

`rules` are pure functions `(resource: dict) -> list[str]` (problems, empty when fine). They are
usable on their own (the example-conformance test runs them over the published examples) and
lifted to exchange checks with `each(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gpc_assure.checks.http import no_response
from gpc_assure.fhir import profile_rules
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.findings import Check, Finding
from gpc_assure.transport.exchange import BodyNotJson, Exchange

Rule = Callable[[dict[str, Any]], list[str]]


def iter_resources(body: Any, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, resource) for the body itself or each Bundle entry of that type."""
    if not isinstance(body, dict):
        return
    if body.get("resourceType") == resource_type:
        yield "", body
    elif body.get("resourceType") == "Bundle":
        for n, entry in enumerate(body.get("entry") or []):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and res.get("resourceType") == resource_type:
                yield f"entry[{n}].resource", res


def _body(ex: Exchange, requirement: str) -> tuple[Any, list[Finding]]:
    if missing := no_response(ex, requirement):
        return None, missing
    try:
        return ex.json, []
    except BodyNotJson as exc:
        return None, [Finding(requirement, str(exc))]


def resource(expected_type: str, requirement: str) -> Check:
    """The body is a structurally valid STU3 resource of this type."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        return [Finding(requirement, p) for p in validate_structure(body, expected_type)[:5]]

    return check


def searchset(requirement: str, entry_type: str | None = None, min_entries: int = 0,
              max_entries: int | None = None, profile: str | None = None) -> Check:
    """A Bundle of type searchset whose entries (if typed) are all `entry_type`, within the counts."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        problems = validate_structure(body, "Bundle")
        if problems:
            return [Finding(requirement, p) for p in problems[:5]]
        if body.get("type") != "searchset":
            out.append(Finding(requirement, f"Bundle.type is {body.get('type')!r}, expected 'searchset'"))
        entries = body.get("entry") or []
        if entry_type:
            wrong = [e.get("resource", {}).get("resourceType") for e in entries
                     if e.get("resource", {}).get("resourceType") != entry_type]
            if wrong:
                out.append(Finding(requirement, f"searchset holds {sorted(set(map(str, wrong)))}, expected only "
                                                f"{entry_type}"))
        n = len(entries)
        if n < min_entries or (max_entries is not None and n > max_entries):
            want = f"{min_entries}" if max_entries == min_entries else (
                f"at least {min_entries}" if max_entries is None else f"{min_entries}..{max_entries}")
            out.append(Finding(requirement, f"searchset has {n} entries, expected {want}"))
        if profile is not None and profile not in ((body.get("meta") or {}).get("profile") or []):
            out.append(Finding(requirement, f"Bundle meta.profile must include {profile}", path="meta.profile"))
        return out

    return check


def meta(resource_type: str, profile: str, requirement: str = "GEN-RES-001") -> Check:
    """Each resource of the type carries meta.profile (this profile) and meta.versionId."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        for path, res in iter_resources(body, resource_type):
            m = res.get("meta") or {}
            if profile not in (m.get("profile") or []):
                out.append(Finding(requirement, f"{resource_type} meta.profile must include {profile} "
                                                f"(was {m.get('profile')})", path=_join(path, "meta.profile")))
            if not m.get("versionId"):
                out.append(Finding(requirement, f"{resource_type} has no meta.versionId",
                                   path=_join(path, "meta.versionId")))
        return out

    return check


def id_matches(expected_id: str, requirement: str = "GEN-HTTP-003") -> Check:
    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        if not isinstance(body, dict) or body.get("id") != expected_id:
            got = body.get("id") if isinstance(body, dict) else None
            return [Finding(requirement, f"returned id {got!r} differs from the id in the URL {expected_id!r}")]
        return []

    return check


def profile(resource_type: str, requirement: str, url: str | None = None, limit: int = 20) -> Check:
    """Every resource of the type in the body conforms to its GP Connect profile (profiles/rules).

    Checked against the profile the interaction demands (`url`, by default the GP Connect profile for
    the type), not whatever meta.profile claims; `meta(...)` checks the claim itself.
    """
    want = url or profile_rules.GPC_PROFILE_BY_TYPE.get(resource_type)
    if want is None:
        raise ValueError(f"no GP Connect profile for {resource_type}; pass url=")
    profile_rules.profile(want)  # an unknown profile is a suite defect: fail when the check is built

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        for path, res in iter_resources(body, resource_type):
            found = profile_rules.problems(res, want)
            where = path or None
            for problem in found[:limit]:
                out.append(Finding(requirement, problem, path=where, reading=profile_rules.reading_of(problem)))
            if len(found) > limit:
                out.append(Finding(requirement, f"... and {len(found) - limit} more profile problems", path=where))
        return out

    return check


def each(resource_type: str, rule: Rule, requirement: str, reading: str | None = None) -> Check:
    """Apply a pure resource rule to every resource of the type in the body."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        for path, res in iter_resources(body, resource_type):
            out.extend(Finding(requirement, p, path=path or None, reading=reading) for p in rule(res))
        return out

    return check


def body_rule(rule: Callable[[Any], list[str]], requirement: str, reading: str | None = None) -> Check:
    """Apply a rule to the whole parsed body."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        return [Finding(requirement, p, reading=reading) for p in rule(body)]

    return check


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a else b


# Resources that describe the server or an error rather than data the provider holds; the common
# resource rules (GEN-RES-*) do not apply to them.
NOT_DATA = frozenset({"CapabilityStatement", "OperationOutcome", "Bundle"})


def iter_data_resources(body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, resource) for the body, or each resource a Bundle holds, leaving out NOT_DATA types."""
    if not isinstance(body, dict):
        return
    if body.get("resourceType") == "Bundle":
        for n, entry in enumerate(body.get("entry") or []):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and res.get("resourceType") not in NOT_DATA:
                yield f"entry[{n}].resource", res
    elif body.get("resourceType") not in NOT_DATA:
        yield "", body


def every(rule: Rule, requirement: str, reading: str | None = None) -> Check:
    """Apply a pure resource rule to every data resource in the body, whatever its type."""

    def check(ex: Exchange) -> list[Finding]:
        body, out = _body(ex, requirement)
        if out:
            return out
        for path, res in iter_data_resources(body):
            where = f"{path} ({res.get('resourceType')})" if path else res.get("resourceType")
            out.extend(Finding(requirement, p, path=where, reading=reading) for p in rule(res))
        return out

    return check
