"""Reference rules: local relative references only (GEN-RES-002), no Bundle.entry.fullUrl (GEN-RES-003).

Pure functions over a resource or a Bundle, returning problems. Lift them with
`resources.every(...)` (each resource in a body) or `resources.body_rule(...)` (the whole body).
A resource without references, or a body that is not a Bundle with entries, has nothing to judge:
the rules raise NotJudged rather than pass on nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gpc_assure.checks.core import NotJudged

# Type/id with an optional version, or a reference to a contained resource.
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            child = f"{path}.{k}" if path else k
            yield child, v
            yield from _walk(v, child)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _walk(v, f"{path}[{n}]")


def references(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, value) of every Reference.reference in the resource, contained resources included."""
    return [(p, v) for p, v in _walk(resource, "") if p.endswith(".reference") and isinstance(v, str)]


def relative_only(resource: dict[str, Any]) -> list[str]:
    """Every reference is a local relative one (Type/id, or #id for a contained resource)."""
    found = references(resource)
    if not found:
        rtype = resource.get("resourceType")
        raise NotJudged(f"the {rtype if isinstance(rtype, str) else 'resource'} holds no reference to judge")
    out = []
    for path, value in found:
        if value.startswith("#") and len(value) > 1:
            continue
        if not _RELATIVE.fullmatch(value):
            why = "an absolute reference" if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", value) else "not of the form Type/id"
            out.append(f"{path} is {why}: '{value}'")
    return out


def no_full_url(body: Any) -> list[str]:
    """A searchset Bundle leaves Bundle.entry.fullUrl out (providers SHOULD NOT populate it)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise NotJudged("the body is not a Bundle, so it has no entries whose fullUrl could be judged")
    entries = [(n, e) for n, e in enumerate(body.get("entry") or []) if isinstance(e, dict)]
    if not entries:
        raise NotJudged("the Bundle has no entries whose fullUrl could be judged")
    return [f"entry[{n}].fullUrl is populated ('{e['fullUrl']}')" for n, e in entries if e.get("fullUrl")]
