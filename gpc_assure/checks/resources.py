"""Resource-level checks over a response body: type, structure, meta, ids, searchset bundles.

`rules` are pure functions `(resource: dict) -> list[str]` (problems, empty when fine). They are
usable on their own (the example-conformance test runs them over the published examples) and
lifted to exchange checks with `each(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gpc_assure.checks.core import FHIR_JSON, JSON, Check, Finding, NotJudged, each_of, holding, resources_of
from gpc_assure.fhir import profile_rules
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.transport.exchange import BodyNotJson, Exchange

Rule = Callable[[dict[str, Any]], list[str]]


def iter_resources(body: Any, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, resource) for the body itself or each Bundle entry of that type."""
    yield from resources_of(body, resource_type)


def rule_name(rule: Callable[..., Any], fallback: str = "") -> str:
    """What a rule checks, from the first line of its docstring (without a leading requirement ID)."""
    doc = (getattr(rule, "__doc__", None) or "").strip().splitlines()
    text = doc[0].strip() if doc else ""
    if ":" in text and text.split(":", 1)[0].replace("-", "").replace(",", "").replace(" ", "").isalnum() \
            and any(c.isdigit() for c in text.split(":", 1)[0]):
        text = text.split(":", 1)[1].strip()
    return text.rstrip(".") or fallback or getattr(rule, "__name__", "rule").replace("_", " ")


def _json(ex: Exchange) -> tuple[Any, list[str]]:
    try:
        return ex.json, []
    except BodyNotJson as exc:
        return None, [str(exc)]


def resource(expected_type: str, requirement: str) -> Check:
    """The body is a structurally valid STU3 resource of this type."""

    def rule(ex: Exchange) -> list[str]:
        body, out = _json(ex)
        return out or validate_structure(body, expected_type)[:5]

    return Check(requirement, rule, f"the body is a valid STU3 {expected_type}")


def searchset(requirement: str, entry_type: str | None = None, min_entries: int = 0,
              max_entries: int | None = None, profile: str | None = None) -> Check:
    """A Bundle of type searchset whose entries (if typed) are all `entry_type`, within the counts."""
    if max_entries == min_entries:
        count = f"{min_entries}"
    else:
        count = f"at least {min_entries}" if max_entries is None else f"{min_entries}..{max_entries}"

    def rule(ex: Exchange) -> list[Finding | str]:
        body, bad = _json(ex)
        if bad:
            return list(bad)
        problems = validate_structure(body, "Bundle")
        if problems:
            return list(problems[:5])
        out: list[Finding | str] = []
        if body.get("type") != "searchset":
            out.append(f"Bundle.type is {body.get('type')!r}, expected 'searchset'")
        entries = [e for e in body.get("entry") or [] if isinstance(e, dict)]
        if entry_type:
            wrong = [(e.get("resource") or {}).get("resourceType") for e in entries
                     if (e.get("resource") or {}).get("resourceType") != entry_type]
            if wrong:
                out.append(f"searchset holds {sorted(set(map(str, wrong)))}, expected only {entry_type}")
        n = len(entries)
        if n < min_entries or (max_entries is not None and n > max_entries):
            out.append(f"searchset has {n} entries, expected {count}")
        if profile is not None and profile not in ((body.get("meta") or {}).get("profile") or []):
            out.append(Finding("", f"Bundle meta.profile must include {profile}", path="meta.profile"))
        return out

    what = f" of {entry_type}" if entry_type else ""
    return Check(requirement, rule, f"a searchset Bundle{what} with {count} entries")


def meta(resource_type: str, profile: str, requirement: str = "GEN-RES-001") -> Check:
    """Each resource of the type carries meta.profile (this profile) and meta.versionId."""

    def one(item: tuple[str, dict[str, Any]]) -> list[Finding]:
        path, res = item
        m = res.get("meta") or {}
        out = []
        if profile not in (m.get("profile") or []):
            out.append(Finding("", f"{resource_type} meta.profile must include {profile} (was {m.get('profile')})",
                               path=_join(path, "meta.profile")))
        if not m.get("versionId"):
            out.append(Finding("", f"{resource_type} has no meta.versionId", path=_join(path, "meta.versionId")))
        return out

    return Check(requirement, lambda ex: each_of(resources_of(ex.json, resource_type), one, ""),
                 f"{resource_type} meta names {profile.rsplit('/', 1)[-1]} and a versionId",
                 needs=(holding(resource_type),))


def id_matches(expected_id: str, requirement: str = "GEN-HTTP-003") -> Check:
    def rule(ex: Exchange) -> list[str]:
        got = ex.json.get("id")
        if got != expected_id:
            return [f"returned id {got!r} differs from the id in the URL {expected_id!r}"]
        return []

    return Check(requirement, rule, "the returned resource's id is the id in the URL", needs=(FHIR_JSON,))


def profile(resource_type: str, requirement: str, url: str | None = None, limit: int = 20) -> Check:
    """Every resource of the type in the body conforms to its GP Connect profile (profiles/rules).

    Checked against the profile the interaction demands (`url`, by default the GP Connect profile for
    the type), not whatever meta.profile claims; `meta(...)` checks the claim itself.
    """
    want = url or profile_rules.GPC_PROFILE_BY_TYPE.get(resource_type)
    if want is None:
        raise ValueError(f"no GP Connect profile for {resource_type}; pass url=")
    profile_rules.profile(want)  # an unknown profile is a suite defect: fail when the check is built

    def one(item: tuple[str, dict[str, Any]]) -> list[Finding]:
        path, res = item
        found = profile_rules.problems(res, want)
        where = path or None
        out = [Finding("", problem, path=where, reading=profile_rules.reading_of(problem)) for problem in found[:limit]]
        if len(found) > limit:
            out.append(Finding("", f"... and {len(found) - limit} more profile problems", path=where))
        return out

    return Check(requirement, lambda ex: each_of(resources_of(ex.json, resource_type), one, ""),
                 f"{resource_type} conforms to {want.rsplit('/', 1)[-1]}", needs=(holding(resource_type),))


def each(resource_type: str, rule: Rule, requirement: str, reading: str | None = None,
         name: str | None = None) -> Check:
    """Apply a pure resource rule to every resource of the type in the body.

    The rule may raise NotJudged for a resource it has nothing to judge on; the check is met only
    when the rule judged at least one resource and found nothing wrong.
    """

    def run(ex: Exchange) -> list[Finding]:
        return each_of(resources_of(ex.json, resource_type), lambda item: rule(item[1]),
                       f"no {resource_type} to judge", where=lambda item: item[0] or None)

    return Check(requirement, run, name or rule_name(rule), needs=(holding(resource_type),), reading=reading)


def body_rule(rule: Callable[[Any], list[str]], requirement: str, reading: str | None = None,
              name: str | None = None) -> Check:
    """Apply a rule to the whole parsed body (the rule raises NotJudged when it has nothing to judge)."""
    return Check(requirement, lambda ex: rule(ex.json), name or rule_name(rule), needs=(JSON,), reading=reading)


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


def every(rule: Rule, requirement: str, reading: str | None = None, name: str | None = None) -> Check:
    """Apply a pure resource rule to every data resource in the body, whatever its type."""

    def where(item: tuple[str, dict[str, Any]]) -> str:
        path, res = item
        return f"{path} ({res.get('resourceType')})" if path else str(res.get("resourceType"))

    def run(ex: Exchange) -> list[Finding]:
        return each_of(iter_data_resources(ex.json), lambda item: rule(item[1]),
                       f"the body holds no data resource to judge ({ex.describe()})", where=where)

    return Check(requirement, run, name or rule_name(rule), needs=(FHIR_JSON,), reading=reading)


__all__ = ["NotJudged", "Rule", "body_rule", "each", "every", "id_matches", "iter_data_resources", "iter_resources",
           "meta", "profile", "resource", "rule_name", "searchset"]
