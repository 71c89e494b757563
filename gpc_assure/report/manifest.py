"""manifest.json: the SHA-256 of every file in an evidence pack, and what produced it.

`gpc-assure verify DIR` re-hashes the pack and names every file that changed, was added or is
missing. The manifest also holds a hash over its own content (`manifest_sha256`), and is written
in one canonical form, so an edit to the manifest itself (even to its whitespace) is found too.

What this proves: the pack is as it was when it was built. It cannot stop someone who edits a
file and then writes a new manifest; for that, keep `manifest_sha256` somewhere the supplier does
not control (the CI log prints it at the end of every run, and a reviewer can note it on receipt).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from gpc_assure import SPEC_VERSIONS, __version__

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # an Ed25519 signature of manifest.json by the supplier's key (gpc-assure sign)
FORMAT = "gpc-assure-manifest/1"
# The distributions whose versions decide what a run checks and how its outputs look.
_DEPENDENCIES = ("pytest", "hypothesis", "httpx", "fhir.resources", "jsonschema", "pydantic", "starlette",
                 "uvicorn", "allure-pytest", "jinja2", "openpyxl", "lxml")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def pack_files(pack: Path) -> list[str]:
    """Every regular file under the pack, as sorted POSIX paths relative to it, but the manifest."""
    out = []
    for root, dirs, files in os.walk(pack):
        dirs.sort()
        for name in files:
            rel = Path(root, name).relative_to(pack).as_posix()
            if rel not in (MANIFEST, SIGNATURE):
                out.append(rel)
    return sorted(out)


def dependency_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _canonical(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _self_hash(data: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "manifest_sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def build(pack: Path, results: dict[str, Any], built_by: str = "gpc-assure run") -> dict[str, Any]:
    run = results.get("run", {})
    files = {rel: {"sha256": sha256_file(pack / rel), "size": (pack / rel).stat().st_size}
             for rel in pack_files(pack)}
    data: dict[str, Any] = {
        "format": FORMAT,
        "run_id": run.get("id"),
        "built_by": built_by,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "run_tool_version": run.get("tool_version"),
        "dependencies": dependency_versions(),
        "spec_versions": run.get("spec_versions") or dict(SPEC_VERSIONS),
        "seed": run.get("seed"),
        "fault": run.get("fault"),
        "target_file": Path(run["target_file"]).name if run.get("target_file") else None,
        "target": run.get("target"),  # already redacted in results.json
        "files": files,
    }
    data["manifest_sha256"] = _self_hash(data)
    return data


def write(pack: Path, results: dict[str, Any], built_by: str = "gpc-assure run") -> dict[str, Any]:
    data = build(pack, results, built_by)
    tmp = pack / (MANIFEST + ".tmp")
    tmp.write_bytes(_canonical(data))
    os.replace(tmp, pack / MANIFEST)
    return data


@dataclass
class Verification:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)
    checked: int = 0
    manifest_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.changed or self.added or self.missing or self.manifest_problems)

    def lines(self) -> list[str]:
        out = [f"manifest: {p}" for p in self.manifest_problems]
        out += [f"changed: {p}" for p in self.changed]
        out += [f"added:   {p}" for p in self.added]
        out += [f"missing: {p}" for p in self.missing]
        return out


def verify(pack: Path) -> Verification:
    """Re-hash every file of the pack against its manifest (raises FileNotFoundError without one)."""
    raw = (pack / MANIFEST).read_bytes()
    v = Verification()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        v.manifest_problems.append(f"not valid JSON ({exc})")
        return v
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        v.manifest_problems.append("not a gpc-assure manifest (no 'files')")
        return v
    v.manifest_sha256 = data.get("manifest_sha256")
    if data.get("format") != FORMAT:
        v.manifest_problems.append(f"unknown format {data.get('format')!r}")
    if _self_hash(data) != data.get("manifest_sha256"):
        v.manifest_problems.append("its content does not match its own manifest_sha256 (the manifest was edited)")
    elif _canonical(data) != raw:
        v.manifest_problems.append("it is not in the canonical form it was written in (the manifest was edited)")
    recorded: dict[str, Any] = data["files"]
    present = set(pack_files(pack))
    for rel in sorted(recorded):
        if rel not in present:
            v.missing.append(rel)
            continue
        v.checked += 1
        entry = recorded[rel]
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if digest != sha256_file(pack / rel):
            v.changed.append(rel)
    v.added = sorted(present - set(recorded))
    return v


# -- signatures: the supplier signs the manifest; a reviewer checks it with the supplier's public key ----

def sign(pack: Path, key_file: Path, password: str | None = None) -> Path:
    """Sign manifest.json with an Ed25519 private key (PEM); writes manifest.sig (base64)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from gpc_assure.errors import ConfigError

    try:
        key = load_pem_private_key(key_file.read_bytes(), password.encode() if password else None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{key_file}: not a readable PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{key_file}: the key is not an Ed25519 key")
    path = pack / SIGNATURE
    path.write_text(base64.b64encode(key.sign((pack / MANIFEST).read_bytes())).decode("ascii") + "\n", "ascii")
    return path


def check_signature(pack: Path, public_key_file: Path) -> str | None:
    """None when manifest.sig is a valid signature of manifest.json by this public key, else why not."""
    import base64

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(public_key_file.read_bytes())
    except (OSError, ValueError) as exc:
        return f"{public_key_file}: not a readable PEM public key ({type(exc).__name__})"
    if not isinstance(key, Ed25519PublicKey):
        return f"{public_key_file}: the key is not an Ed25519 key"
    try:
        signature = base64.b64decode((pack / SIGNATURE).read_text("ascii").strip(), validate=True)
    except FileNotFoundError:
        return f"the pack has no {SIGNATURE} (it was not signed)"
    except (ValueError, UnicodeDecodeError):
        return f"{SIGNATURE} is not a base64 signature"
    try:
        key.verify(signature, (pack / MANIFEST).read_bytes())
    except InvalidSignature:
        return f"{SIGNATURE} does not match manifest.json under this public key (signed by another key, or changed)"
    return None
