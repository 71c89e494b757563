"""Validate a resource against a GP Connect profile, using our compact rules in profiles/rules/*.json.

fhir.resources checks base STU3 structure; this adds what the GP Connect profiles say on top:
cardinalities narrower than the base (Schedule.serviceType 0..0, Appointment.slot 1..*), fixed values,
required bindings (where the value set could be enumerated), slices (identifier by system, name by
use) and extensions by URL with their own cardinality and rules. Extensions with URLs the profile
does not name are allowed (FHIR forward compatibility). How the rules are made, and how slicing is
read, is described in tools/build_profile_rules.py; the rules are loaded once and cached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from gpc_assure.fhir import profiles
from gpc_assure.paths import PROFILES_DIR

RULES_DIR = PROFILES_DIR / "rules"
_CHOICE = re.compile(r"[A-Z]")
_READING = re.compile(r"reading ([A-Z][A-Z0-9-]*[A-Z0-9])")

# The GP Connect profile a returned (or sent) resource of each type conforms to. A searchset Bundle
# is profiled only by Register a patient (GPConnect-Searchset-Bundle-1), so Bundle is not listed.
GPC_PROFILE_BY_TYPE: dict[str, str] = {
    "Patient": profiles.PATIENT,
    "Practitioner": profiles.PRACTITIONER,
    "Organization": profiles.ORGANIZATION,
    "Location": profiles.LOCATION,
    "PractitionerRole": profiles.PRACTITIONER_ROLE,
    "Appointment": profiles.APPOINTMENT,
    "Schedule": profiles.SCHEDULE,
    "Slot": profiles.SLOT,
    "OperationOutcome": profiles.OPERATION_OUTCOME,
}


class UnknownProfile(LookupError):
    """No rules for this profile URL (not a profile the suite checks)."""


@dataclass
class _Node:
    key: str
    name: str  # the JSON name: 'identifier', 'valueBoolean', or a choice 'deceased[x]'
    rule: dict[str, Any] = field(default_factory=dict)
    children: dict[str, _Node] = field(default_factory=dict)
    slices: list[_Node] = field(default_factory=list)
    narrowed: dict[str, set[str]] = field(default_factory=dict)  # choice prefix -> allowed JSON names


@dataclass(frozen=True)
class Profile:
    url: str
    name: str
    version: str
    type: str
    kind: str
    root: _Node
    readings: dict[str, str]
    must_support: tuple[str, ...]


def canonical(url: str) -> str:
    """A profile URL without a version suffix (`|1.6.0` or `/_history/1.6`)."""
    return url.split("|")[0].split("/_history/")[0]


def _compile(data: dict[str, Any]) -> Profile:
    root = _Node(data["type"], data["type"])
    for key in sorted(data["elements"]):
        node = root
        for seg in key.split(".")[1:]:
            name, _, slice_name = seg.partition(":")
            node = node.children.setdefault(name, _Node(f"{node.key}.{name}", name))
            if slice_name:
                found = next((s for s in node.slices if s.key == f"{node.key}:{slice_name}"), None)
                if found is None:
                    found = _Node(f"{node.key}:{slice_name}", name)
                    node.slices.append(found)
                node = found
        node.rule = data["elements"][key]
        if choice := node.rule.get("narrows"):
            parent = _parent_of(root, key)
            parent.narrowed.setdefault(choice[: -len("[x]")], set()).add(node.name)
    return Profile(
        url=data["url"], name=data["name"], version=data["version"], type=data["type"], kind=data["kind"],
        root=root, readings=data.get("readings") or {},
        must_support=tuple(k for k, r in sorted(data["elements"].items()) if r.get("mustSupport")),
    )


def _parent_of(root: _Node, key: str) -> _Node:
    node = root
    for seg in key.split(".")[1:-1]:
        name, _, slice_name = seg.partition(":")
        node = node.children[name]
        if slice_name:
            node = next(s for s in node.slices if s.key.endswith(f":{slice_name}"))
    return node


@cache
def _profiles(rules_dir: Path = RULES_DIR) -> dict[str, Profile]:
    out = {}
    for path in sorted(rules_dir.glob("*.json")):
        prof = _compile(json.loads(path.read_text(encoding="utf-8")))
        out[prof.url] = prof
    return out


def known_profiles() -> list[str]:
    """Canonical URLs of every profile (and extension) there are rules for."""
    return sorted(_profiles())


def profile(url: str) -> Profile:
    try:
        return _profiles()[canonical(url)]
    except KeyError:
        raise UnknownProfile(f"no profile rules for {url}") from None


def must_support(url: str) -> tuple[str, ...]:
    """Element keys the profile flags Must-Support (GP Connect: populate them where data exists)."""
    return profile(url).must_support


def reading_of(problem: str) -> str | None:
    """'OO-SYSTEM: what we read' when a problem names a reading (a spec contradiction we resolved)."""
    found = _READING.search(problem)
    if not found:
        return None
    for prof in _profiles().values():
        if found.group(1) in prof.readings:
            return f"{found.group(1)}: {prof.readings[found.group(1)]}"
    return found.group(1)


def declares_profile(resource: dict[str, Any]) -> list[str]:
    """meta.profile names the GP Connect profile for the resource's type (for types that have one)."""
    want = GPC_PROFILE_BY_TYPE.get(resource.get("resourceType", ""))
    declared = [canonical(u) for u in (resource.get("meta") or {}).get("profile") or [] if isinstance(u, str)]
    if want is None or want in declared:
        return []
    return [f"meta.profile does not name {want} (was {declared or 'absent'})"]


def conforms(resource: dict[str, Any]) -> list[str]:
    """A pure rule: the resource conforms to the GP Connect profile for its type (none for other types).

    For cross-cutting use, e.g. `resources.every(profile_rules.conforms, "GEN-RES-...")`.
    """
    url = GPC_PROFILE_BY_TYPE.get(resource.get("resourceType", "")) if isinstance(resource, dict) else None
    return problems(resource, url) if url else []


def problems(resource: Any, profile_url: str) -> list[str]:
    """What in this resource departs from the profile (empty when it conforms). Raises UnknownProfile."""
    prof = profile(profile_url)
    if not isinstance(resource, dict):
        return [f"expected a JSON object, found {type(resource).__name__}"]
    if prof.kind == "resource" and resource.get("resourceType") != prof.type:
        return [f"resourceType is {resource.get('resourceType')!r}, profile {prof.name} is for {prof.type}"]
    out: list[str] = []
    _walk(prof, prof.root, resource, prof.type, out)
    return out


# --- the walk -------------------------------------------------------------------------------------

def _values(inst: dict[str, Any], name: str, where: str) -> list[tuple[str, Any]]:
    """(label, value) for every occurrence of the element in this instance."""
    if name.endswith("[x]"):
        prefix = name[:-3]
        keys = [k for k in inst if k.startswith(prefix) and _CHOICE.match(k[len(prefix):len(prefix) + 1] or "a")]
    else:
        keys = [name] if name in inst or f"_{name}" in inst else []
    out: list[tuple[str, Any]] = []
    for k in keys:
        value, companion = inst.get(k), inst.get(f"_{k}")
        if isinstance(value, list) or isinstance(companion, list):
            values = value if isinstance(value, list) else []
            companions = companion if isinstance(companion, list) else []
            for i in range(max(len(values), len(companions))):
                v = values[i] if i < len(values) else None
                c = companions[i] if i < len(companions) else None
                if v is not None or c is not None:
                    out.append((f"{where}.{k}[{i}]", _with_companion(v, c)))
        elif value is not None or companion is not None:
            out.append((f"{where}.{k}", _with_companion(value, companion)))
    return out


class _Primitive(dict):
    """A primitive value with its JSON `_name` companion (id, extension), walked like an element."""

    def __init__(self, value: Any, companion: dict[str, Any] | None) -> None:
        super().__init__(companion or {})
        self.value = value
        if value is not None:
            self["value"] = value


def _with_companion(value: Any, companion: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(companion, dict) or value is None:
        return _Primitive(value, companion if isinstance(companion, dict) else None)
    return value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, _Primitive) else value


def _walk(prof: Profile, node: _Node, inst: dict[str, Any], where: str, out: list[str]) -> None:
    for prefix, allowed in node.narrowed.items():
        for k in inst:
            if k.startswith(prefix) and k[len(prefix):len(prefix) + 1].isupper() and k not in allowed:
                out.append(f"{where}.{k}: profile {prof.name} allows only {' or '.join(sorted(allowed))} "
                           f"for {prefix}[x]")
    for name, child in node.children.items():
        values = _values(inst, name, where)
        label = f"{where}.{name}"
        if name.endswith("[x]") and values:
            label = ", ".join(lbl for lbl, _ in values)
        _cardinality(child.rule, len(values), label, out)
        _check(prof, child, values, label, out)


def _check(prof: Profile, node: _Node, values: list[tuple[str, Any]], label: str, out: list[str]) -> None:
    for lbl, value in values:
        _fixed(node.rule, _plain(value), lbl, prof, out)
        _binding(node.rule, _plain(value), lbl, prof, out)
    if node.slices:
        unmatched = list(values)
        for s in node.slices:
            match = s.rule.get("match") or {}
            matched = [(lbl, v) for lbl, v in unmatched if _matches(match, v)]
            unmatched = [x for x in unmatched if x not in matched]
            how = ", ".join(v if k == "url" else f"{k}={v}" for k, v in match.items())
            slice_label = f"{label}:{s.key.rsplit(':', 1)[-1]} ({how})"
            _cardinality(s.rule, len(matched), slice_label, out)
            _check(prof, s, matched, slice_label, out)
            ext = _profiles().get(s.rule.get("profile", ""))
            for lbl, v in matched:
                if ext is not None and isinstance(v, dict):
                    _walk(ext, ext.root, v, lbl, out)
        slicing = node.rule.get("slicing") or {}
        if slicing.get("rules") == "closed":
            for lbl, _ in unmatched:
                out.append(f"{lbl}: matches no slice of {label}, and profile {prof.name} closes that slicing "
                           f"(by {', '.join(slicing.get('discriminator') or [])})")
    for lbl, value in values:
        if node.children or node.narrowed:
            if isinstance(value, dict):
                _walk(prof, node, value, lbl, out)


def _cardinality(rule: dict[str, Any], n: int, label: str, out: list[str]) -> None:
    mn, mx = rule.get("min"), rule.get("max")
    if mn is None and mx is None:
        return
    low = mn or 0
    too_many = mx is not None and mx != "*" and n > int(mx)
    if n < low or too_many:
        allowed = f"{low}..{mx}" if mx is not None else f"at least {low}"
        verb = "allows" if too_many else "requires"
        out.append(f"{label}: {n} found, profile {verb} {allowed}")


def _fixed(rule: dict[str, Any], value: Any, label: str, prof: Profile, out: list[str]) -> None:
    if "fixed" not in rule or value is None:
        return
    accepted = [rule["fixed"], *rule.get("alsoAccepted", [])]
    if value not in accepted:
        also = f" (or {', '.join(map(repr, accepted[1:]))}: reading {rule.get('reading')})" if len(accepted) > 1 else ""
        out.append(f"{label}: {value!r}, profile {prof.name} fixes {rule['fixed']!r}{also}")


def _binding(rule: dict[str, Any], value: Any, label: str, prof: Profile, out: list[str]) -> None:
    binding = rule.get("binding")
    if not binding or binding.get("codes") is None or value is None:
        return
    codes: dict[str, list[str]] = binding["codes"]
    aliases: dict[str, str] = binding.get("systemAliases") or {}
    vs = binding["valueSet"]
    if isinstance(value, str):
        if not any(value in cs for cs in codes.values()):
            out.append(f"{label}: {value!r} is not in the required value set {vs} ({_sample(codes)})")
        return
    if not isinstance(value, dict):
        return
    codings = value.get("coding") if "coding" in value or "text" in value else [value]
    codings = [c for c in codings or [] if isinstance(c, dict)]
    for c in codings:
        system = aliases.get(c.get("system"), c.get("system"))
        if c.get("code") in (codes.get(system) or codes.get("") or []):
            return
    found = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "text only"
    reading = f"; reading {binding['reading']}: also {', '.join(aliases)}" if aliases else ""
    out.append(f"{label}: no code from the required value set {vs} (found {found}; "
               f"expected system {', '.join(s for s in codes if s)}{reading})")


def _sample(codes: dict[str, list[str]]) -> str:
    every = sorted({c for cs in codes.values() for c in cs})
    return ", ".join(every[:12]) + (f", ... {len(every)} codes" if len(every) > 12 else "")


def _matches(match: dict[str, str], value: Any) -> bool:
    return all(expected in _resolve(value, path) for path, expected in match.items())


def _resolve(value: Any, path: str) -> list[Any]:
    current = [value]
    for part in path.split("."):
        nxt: list[Any] = []
        for v in current:
            if isinstance(v, dict) and part in v:
                got = v[part]
                nxt.extend(got if isinstance(got, list) else [got])
        current = nxt
    return current
