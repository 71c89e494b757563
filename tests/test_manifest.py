"""manifest.json and `gpc-assure verify`: any changed, added or missing byte of a pack is found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import report_samples as sample
from report_samples import run_gpc

from gpc_assure.report import manifest, pack


@pytest.fixture
def built(tmp_path: Path) -> Path:
    data = sample.write_pack(tmp_path)
    pack.build(tmp_path, data)
    return tmp_path


def test_manifest_records_every_file_versions_and_a_hash_over_itself(built: Path):
    data = json.loads((built / "manifest.json").read_text())
    assert set(data["files"]) == set(manifest.pack_files(built))
    assert "results.json" in data["files"] and "exchanges/00002-metadata-read.json" in data["files"]
    assert "manifest.json" not in data["files"]
    assert all(len(e["sha256"]) == 64 for e in data["files"].values())
    assert data["dependencies"]["jinja2"] and data["dependencies"]["python"]
    assert data["spec_versions"] == {"gpconnect": "1.2.7"} and data["seed"] == 42
    assert data["target"]["target"]["name"] == "Sample GP system" and data["target_file"] == "target.toml"
    assert len(data["manifest_sha256"]) == 64
    assert manifest.verify(built).ok


def test_verify_names_changed_added_and_missing_files(built: Path):
    (built / "scal.xlsx").write_bytes((built / "scal.xlsx").read_bytes() + b"\0")
    (built / "exchanges" / "00001-metadata-read.json").unlink()
    (built / "exchanges" / "99999-extra.json").write_text("{}")
    v = manifest.verify(built)
    assert not v.ok
    assert v.changed == ["scal.xlsx"]
    assert v.missing == ["exchanges/00001-metadata-read.json"]
    assert v.added == ["exchanges/99999-extra.json"]


@pytest.mark.parametrize("edit", ["value", "whitespace", "rehash-file"])
def test_verify_finds_an_edited_manifest(built: Path, edit: str):
    path = built / "manifest.json"
    raw = path.read_text()
    data = json.loads(raw)
    if edit == "value":
        path.write_text(raw.replace(f'"seed": {data["seed"]}', '"seed": 43'))
    elif edit == "whitespace":
        path.write_text(raw.replace('"seed": ', '"seed":  '))
    else:  # someone changes a file and puts its new hash in the manifest, without the self-hash
        (built / "requirements.csv").write_text("edited\n")
        data["files"]["requirements.csv"]["sha256"] = manifest.sha256_file(built / "requirements.csv")
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    v = manifest.verify(built)
    assert not v.ok and v.manifest_problems


def test_verify_command_passes_on_a_run_pack_and_fails_after_any_byte_of_any_file_changes(
        clean_pack: Path, tmp_path: Path):
    copy = tmp_path / "pack"
    shutil.copytree(clean_pack, copy)
    ok = run_gpc("verify", copy)
    assert ok.returncode == 0 and "match manifest.json" in ok.stdout, ok.stdout + ok.stderr
    files = [*manifest.pack_files(copy), manifest.MANIFEST]
    assert len(files) > 10
    for rel in files:  # flip one byte of every file, in turn (in-process: one subprocess is enough)
        path = copy / rel
        original = path.read_bytes()
        at = len(original) // 2
        path.write_bytes(original[:at] + bytes([original[at] ^ 0x01]) + original[at + 1:])
        assert not manifest.verify(copy).ok, f"a changed byte in {rel} was not found"
        path.write_bytes(original)
    assert manifest.verify(copy).ok
    (copy / "report.html").write_bytes((copy / "report.html").read_bytes().replace(b"Gate", b"gate", 1))
    bad = run_gpc("verify", copy)
    assert bad.returncode == 1 and "changed: report.html" in bad.stdout


def test_verify_without_a_manifest_is_a_usage_error(tmp_path: Path):
    proc = run_gpc("verify", tmp_path)
    assert proc.returncode == 2 and "manifest.json" in proc.stderr
