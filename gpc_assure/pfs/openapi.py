"""Our OpenAPI descriptions of the User Permissions API (profiles/openapi/), loaded and used as validators.

Response bodies are checked with jsonschema against the description of the target's version, with
the format checkers on, so `date` and `date-time` values are really checked. `bundle` turns a
multi-file OpenAPI description (as NHS England publishes it) into one document: the parity test
compares NHS's with ours, and the Prism peer serves NHS's bundled file.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from gpc_assure.paths import PROFILES_DIR

OPENAPI_DIR = PROFILES_DIR / "openapi"


def description_path(version: str) -> Path:
    return OPENAPI_DIR / f"user-permissions-{version}.yaml"


@cache
def _load(version: str) -> str:
    # Cached as JSON text so every caller gets its own copy to change.
    return json.dumps(yaml.safe_load(description_path(version).read_text("utf-8")))


def load(version: str) -> dict[str, Any]:
    """Our description of one version, as a fresh dict."""
    return json.loads(_load(version))


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in [p for p in pointer.lstrip("#").split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolve_local(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every '#/...' reference replaced by what it points at (no cycles expected)."""

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError("reference cycle in the OpenAPI description")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                return walk(copy.deepcopy(_pointer(doc, ref)), depth + 1)
            return {k: walk(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        return node

    return walk(doc)


def bundle(path: Path) -> dict[str, Any]:
    """A multi-file YAML description as one document: every relative-file $ref is inlined.

    References inside the root file to its own components ('#/...') are kept, so the result stays
    a normal OpenAPI document; a '#/...' reference inside another file is resolved in that file.
    """
    cache_: dict[Path, Any] = {}

    def load_file(p: Path) -> Any:
        p = p.resolve()
        if p not in cache_:
            cache_[p] = yaml.safe_load(p.read_text("utf-8"))
        return cache_[p]

    def walk(node: Any, here: Path, root: bool, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError(f"reference cycle while bundling {path}")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                file_part, _, pointer = ref.partition("#")
                if file_part:
                    target_file = (here.parent / file_part).resolve()
                    target = _pointer(load_file(target_file), pointer) if pointer else load_file(target_file)
                    return walk(copy.deepcopy(target), target_file, False, depth + 1)
                if not root:
                    return walk(copy.deepcopy(_pointer(load_file(here), pointer)), here, False, depth + 1)
            return {k: walk(v, here, root, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, here, root, depth) for v in node]
        return node

    return walk(load_file(path), path.resolve(), True)


@cache
def _validator(version: str, component: str) -> Draft202012Validator:
    doc = load(version)
    schema = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def operation_schema(version: str, method: str, status: str, part: str = "response") -> dict[str, Any] | None:
    """The (resolved) body schema of an operation's response for a status key ('200', '4XX'), or its request."""
    doc = resolve_local(load(version))
    op = doc["paths"]["/Patient/{id}"].get(method.lower())
    if op is None:
        return None
    if part == "request":
        return next(iter(op["requestBody"]["content"].values()))["schema"]
    response = op["responses"].get(status)
    if response is None:
        return None
    return next(iter(response["content"].values()))["schema"]


@cache
def _operation_validator(version: str, method: str, status: str, part: str) -> Draft202012Validator | None:
    schema = operation_schema(version, method, status, part)
    if schema is None:
        return None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(version: str, component: str, instance: Any) -> list[ValidationError]:
    """Every way `instance` breaks the named component schema of our description (empty when valid)."""
    return sorted(_validator(version, component).iter_errors(instance), key=lambda e: list(e.absolute_path))


def operation_errors(version: str, method: str, status: str, instance: Any,
                     part: str = "response") -> list[ValidationError]:
    """Every way `instance` breaks an operation's response (or request) body schema."""
    v = _operation_validator(version, method, status, part)
    if v is None:
        return []
    return sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))


def _closest_branch(error: ValidationError) -> list[ValidationError]:
    """For an anyOf/oneOf failure, the errors of the branch the instance was meant for.

    That is the branch whose permissionType matched (no complaint about it), with the fewest errors.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for e in error.context or []:
        branches.setdefault(e.relative_schema_path[0] if e.relative_schema_path else 0, []).append(e)
    if not branches:
        return [error]

    def score(errs: list[ValidationError]) -> tuple[bool, int]:
        wrong_kind = any(list(e.relative_path)[-1:] == ["permissionType"] for e in errs)
        return wrong_kind, len(errs)

    return min(branches.values(), key=score)


def explain(error: ValidationError) -> str:
    """One line: where, and what is wrong (for anyOf/oneOf, the closest branch's complaints)."""
    chosen = _closest_branch(error) if error.context else [error]
    parts = []
    for e in chosen[:3]:
        where = "/".join(str(p) for p in e.absolute_path) or "(body)"
        message = e.message if len(e.message) <= 300 else e.message[:300] + "..."
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
