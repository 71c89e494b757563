"""Our OpenAPI descriptions of User Permissions carry the same contract as NHS England's.

NHS's multi-file descriptions are read from ../shared/specs/user-permissions/{current,legacy}/ and
bundled here; ours are profiles/openapi/user-permissions-{version}.yaml. Both are reduced to
"facts" — paths, methods, operation ids, parameters (where, required, pattern), response statuses,
content types and headers, and for every body schema the required fields, types, enums, patterns
and formats at each place in an instance — and the two sets must be equal, apart from the listed,
deliberate differences.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpc_assure.paths import SHARED_SPECS_DIR
from gpc_assure.pfs import openapi

NHS_DIR = SHARED_SPECS_DIR / "user-permissions"
VERSIONS = ("current", "legacy")

# Differences we mean, each with its reason (the description's info text repeats them).
ACCEPTED = {
    # NHS puts a regular expression in the Authorization header's `format`, which validators ignore.
    "ignore-authorization-format": lambda f: f.startswith("param header Authorization format"),
}


def _nhs(version: str) -> dict[str, Any]:
    path = NHS_DIR / version / "specification" / "gp-connect-user-permissions.yaml"
    if not path.is_file():
        pytest.skip(f"NHS's description is not available at {path}")
    return openapi.resolve_local(openapi.bundle(path))


def _ours(version: str) -> dict[str, Any]:
    return openapi.resolve_local(openapi.load(version))


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """allOf parts folded into one schema: properties joined, required lists united."""
    if "allOf" not in schema:
        return schema
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _merge_all_of(part)
        out.setdefault("properties", {}).update(part.get("properties", {}))
        out["required"] = sorted(set(out.get("required", [])) | set(part.get("required", [])))
        for key in ("type", "enum", "pattern", "format"):
            if key in part:
                out[key] = part[key]
    return out


def _branch_key(schema: dict[str, Any]) -> str:
    """A stable name for one oneOf/anyOf branch: what its permissionType allows, else its required list."""
    schema = _merge_all_of(schema)
    kind = schema.get("properties", {}).get("permissionType", {}).get("enum")
    return "permissionType=" + "|".join(kind) if kind else "required=" + ",".join(sorted(schema.get("required", [])))


def schema_facts(schema: dict[str, Any], where: str) -> set[str]:
    schema = _merge_all_of(schema)
    facts: set[str] = set()
    if "type" in schema:
        facts.add(f"{where} type {schema['type']}")
    if schema.get("required"):
        facts.add(f"{where} required {','.join(sorted(schema['required']))}")
    if "enum" in schema:
        facts.add(f"{where} enum {'|'.join(sorted(map(str, schema['enum'])))}")
    for key in ("pattern", "format", "minItems"):
        if key in schema:
            facts.add(f"{where} {key} {schema[key]}")
    for name, sub in schema.get("properties", {}).items():
        facts |= schema_facts(sub, f"{where}.{name}")
    if "items" in schema:
        facts |= schema_facts(schema["items"], f"{where}[]")
    for combinator in ("oneOf", "anyOf"):
        for branch in schema.get(combinator, []):
            facts |= schema_facts(branch, f"{where}<{combinator} {_branch_key(branch)}>")
    return facts


def contract_facts(doc: dict[str, Any]) -> set[str]:
    facts: set[str] = set()
    for path, item in doc["paths"].items():
        facts.add(f"path {path}")
        for param in item.get("parameters", []):
            where = f"param {param['in']} {param['name']}"
            facts.add(f"{where} required {bool(param.get('required', False))}")
            facts |= schema_facts(param.get("schema", {}), where)
        for method in ("get", "post", "put", "patch", "delete"):
            op = item.get(method)
            if op is None:
                continue
            here = f"{method.upper()} {path}"
            facts.add(f"operation {here} {op.get('operationId')}")
            body = op.get("requestBody")
            if body:
                facts.add(f"{here} request required {bool(body.get('required', False))}")
                for ctype, media in body.get("content", {}).items():
                    facts.add(f"{here} request content {ctype}")
                    facts |= schema_facts(media.get("schema", {}), f"{here} request {ctype}")
            for status, response in op.get("responses", {}).items():
                status = str(status).upper()
                facts.add(f"{here} response {status}")
                for header, spec in (response.get("headers") or {}).items():
                    facts |= schema_facts(spec.get("schema", {}), f"{here} {status} header {header}")
                for ctype, media in (response.get("content") or {}).items():
                    facts.add(f"{here} {status} content {ctype}")
                    facts |= schema_facts(media.get("schema", {}), f"{here} {status} {ctype}")
    return facts


def _compare(version: str) -> tuple[list[str], list[str]]:
    nhs = {f for f in contract_facts(_nhs(version)) if not any(rule(f) for rule in ACCEPTED.values())}
    ours = contract_facts(_ours(version))
    return sorted(nhs - ours), sorted(ours - nhs)


@pytest.mark.parametrize("version", VERSIONS)
def test_our_description_carries_nhs_contract(version):
    missing, extra = _compare(version)
    assert not missing and not extra, (
        f"{version}: facts in NHS's description missing from ours:\n  " + "\n  ".join(missing)
        + "\nfacts in ours that NHS's lacks:\n  " + "\n  ".join(extra))


@pytest.mark.parametrize("version", VERSIONS)
def test_the_comparison_is_not_empty(version):
    """A guard against a normaliser that finds nothing (and so makes every pair 'equal')."""
    facts = contract_facts(_ours(version))
    assert any(" enum detailed|documents|full|none|summary" in f for f in facts)
    assert any("pattern ^[0-9a-fA-F]{8}" in f for f in facts)
    assert any("format date-time" in f for f in facts)
    assert len(facts) > (60 if version == "current" else 120), len(facts)


def test_versions_differ_where_the_spec_changed():
    current, legacy = contract_facts(_ours("current")), contract_facts(_ours("legacy"))
    assert not any(f.startswith("operation POST") for f in current)
    assert any(f.startswith("operation POST /Patient/{id} updatePatientPermissions") for f in legacy)
    assert any("required appointments,medicalRecord,prescriptions" in f for f in legacy)
    assert any("required medicalRecord,prescriptions" in f for f in current)


def test_parity_detects_a_changed_enum():
    """The comparison really compares: a level dropped from our enum shows up as a difference."""
    doc = _ours("current")
    doc["paths"]["/Patient/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["prescriptions"]["properties"]["accessLevel"]["enum"] = ["none", "view"]
    nhs = {f for f in contract_facts(_nhs("current")) if not any(rule(f) for rule in ACCEPTED.values())}
    assert nhs - contract_facts(doc)


def test_bundle_inlines_every_file_reference():
    path = NHS_DIR / "legacy" / "specification" / "gp-connect-user-permissions.yaml"
    if not path.is_file():
        pytest.skip(f"NHS's description is not available at {path}")
    doc = openapi.bundle(path)
    json.dumps(doc)  # one plain JSON document
    refs = [r for r in _refs(doc) if not r.startswith("#")]
    assert not refs, refs[:5]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [
            r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
