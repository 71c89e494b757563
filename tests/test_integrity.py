"""Verdicts follow from the evidence: `gpc-assure verify` derives every verdict again from the test records.

Hashes prove a pack is as it was built; they cannot prove its verdicts were honest. Editing a verdict in
results.json and rebuilding the pack (a new, self-consistent manifest) must still fail verify, and the
rebuilt report must show the verdict the test records give, not the edited one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from report_samples import run_gpc

from gpc_assure.report import integrity, pack


def _edit(results_path: Path, rid: str, verdict: str) -> None:
    data = json.loads(results_path.read_text("utf-8"))
    req = next(r for r in data["requirements"] if r["id"] == rid)
    old = req["verdict"]
    req["verdict"] = verdict
    req.pop("evidence", None)
    counts = data["summary"]["requirements"]
    counts[old] -= 1
    counts[verdict] = counts.get(verdict, 0) + 1  # a careful forger keeps the summary consistent too
    results_path.write_text(json.dumps(data, indent=1), "utf-8")


def test_a_clean_pack_verifies_and_its_verdicts_follow(clean_pack: Path):
    assert integrity.problems(clean_pack, pack.load_results(clean_pack)) == []
    proc = run_gpc("verify", clean_pack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every verdict follows from the test records" in proc.stdout


def test_an_edited_verdict_fails_verify_even_after_a_rebuild(clean_pack: Path, tmp_path: Path):
    copy = tmp_path / "pack"
    shutil.copytree(clean_pack, copy)
    data = pack.load_results(copy)
    rid = next(r["id"] for r in data["requirements"] if r["verdict"] == "awaiting-attestation")
    _edit(copy / "results.json", rid, "met")
    rebuilt = run_gpc("report", copy)
    assert rebuilt.returncode == 0 and rid in rebuilt.stderr, rebuilt.stdout + rebuilt.stderr
    proc = run_gpc("verify", copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"verdict: {rid}: recorded as met, but its test records give awaiting-attestation" in proc.stdout
    page = (copy / "report.html").read_text("utf-8")
    row = page[page.index(f'id="req-{rid}"'):][:400]
    assert 'data-verdict="awaiting-attestation"' in row  # the report shows what the evidence gives


def test_a_met_without_its_judgements_does_not_follow(clean_pack: Path, tmp_path: Path):
    copy = tmp_path / "pack"
    shutil.copytree(clean_pack, copy)
    data = json.loads((copy / "results.json").read_text("utf-8"))
    rid = next(r["id"] for r in data["requirements"] if r["verdict"] == "met")
    for t in data["tests"]:
        t["judgements"] = [j for j in t.get("judgements", []) if j["requirement"] != rid]
    (copy / "results.json").write_text(json.dumps(data), "utf-8")
    assert any(p.startswith(f"{rid}: recorded as met") for p in integrity.problems(copy, data))


def _keypair(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def test_a_signed_pack_verifies_with_the_suppliers_key_only(clean_pack: Path, tmp_path: Path):
    copy = tmp_path / "pack"
    shutil.copytree(clean_pack, copy)
    private, public = _keypair(tmp_path, "supplier")
    _, other = _keypair(tmp_path, "someone-else")
    assert run_gpc("sign", copy, "--key", private).returncode == 0
    ok = run_gpc("verify", copy, "--public-key", public)
    assert ok.returncode == 0 and "signed by the key supplier.pub.pem" in ok.stdout, ok.stdout + ok.stderr
    wrong = run_gpc("verify", copy, "--public-key", other)
    assert wrong.returncode == 1 and "does not match manifest.json" in wrong.stdout
    run_gpc("report", copy)  # a rebuild writes a new manifest: the supplier's signature no longer covers it
    assert run_gpc("verify", copy, "--public-key", public).returncode == 1
