"""Redaction: no secret reaches any file of a pack; patients are masked on request."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import harness as h
import pytest
from report_samples import PACK_SELECTION, run_gpc

from gpc_assure import redaction
from gpc_assure.reference.server import ReferenceServer

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ")


@pytest.fixture(autouse=True)
def fresh_policy() -> Iterator[None]:
    redaction.reset()
    yield
    redaction.reset()


def pack_texts(pack: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of every file of a pack, and of every member of its zip files (scal.xlsx)."""
    for path in sorted(p for p in pack.rglob("*") if p.is_file()):
        rel = path.relative_to(pack).as_posix()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    yield f"{rel}!{member}", z.read(member).decode("utf-8", "replace")
        else:
            yield rel, path.read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("text, secret", [
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. in a message", "eyJzdWIiOiIxIn0"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34\n-----END RSA PRIVATE KEY-----", "MIIBOgIBAAJBAKj34"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0B (cut off", "MIIFHDBOBgkqhkiG9w0B"),
    ("Authorization: NHSMESH X26ABC001:0b4c:1:202601011200:3c5f9d", "3c5f9d"),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("Authorization: Bearer dGVzdA==", "dGVzdA=="),
    ("https://mailbox:Hunter2pw@mesh.example/inbox", "Hunter2pw"),
    ("mailbox_password=Hunter2pw&x=1", "Hunter2pw"),
    ('{"shared_key": "BackBone-Key"}', "BackBone-Key"),
])
def test_secret_shapes_are_redacted_in_text(text: str, secret: str):
    out = redaction.redact_text(text)
    assert secret not in out and redaction.REDACTED in out


@pytest.mark.parametrize("text", [
    "answered with a WWW-Authenticate challenge naming the Bearer scheme",
    'WWW-Authenticate: Bearer realm="gpconnect", error="invalid_token"',
    "the basic rules of the profile",
])
def test_prose_that_only_looks_like_a_secret_is_left_alone(text: str):
    assert redaction.redact_text(text) == text


def test_secret_keys_and_headers_are_redacted_in_mappings():
    data = {"mesh": {"mailbox_password": "pw-123456", "shared_key": "BackBone", "mailbox_id": "X26ABC001"},
            "tls": {"key_password": "kp-123456", "client_key": "/path/key.pem"}}
    out = redaction.redact_mapping(data)
    assert out["mesh"]["mailbox_password"] == out["mesh"]["shared_key"] == out["tls"]["key_password"] == "[REDACTED]"
    assert out["mesh"]["mailbox_id"] == "X26ABC001" and out["tls"]["client_key"] == "/path/key.pem"
    headers = redaction.redact_headers([("mex-ClientKey", "BackBone"), ("Authorization", "Bearer x.y."),
                                        ("ssp-traceid", "abc")])
    assert headers == [("mex-ClientKey", "[REDACTED]"), ("Authorization", "Bearer [REDACTED]"), ("ssp-traceid", "abc")]


def test_remembered_secrets_are_redacted_wherever_they_appear():
    redaction.remember_secrets(redaction.secrets_in({"tls": {"key_password": "odd-shape secret!"},
                                                     "url": "https://u:pa55word99@h/x"}))
    redaction.remember_secrets(["short"])  # too short to be worth it: ordinary words stay
    assert redaction.redact_text("user id odd-shape secret! and pa55word99") == "user id [REDACTED] and [REDACTED]"
    assert redaction.redact_text("a short text") == "a short text"


def test_patient_masking_replaces_nhs_numbers_with_stable_pseudonyms_and_names():
    assert redaction.redact_text("NHS number 9000000017") == "NHS number 9000000017"  # off by default
    redaction.set_patient_masking(True, ["Jackson", "Jane"])
    text = redaction.redact_text("patient 9000000017 (900 000 0017) Jane Jackson, ASID 918999198993, n 9000000018")
    assert "9000000017" not in text and "900 000 0017" not in text and "Jackson" not in text and "Jane" not in text
    tags = re.findall(r"\[NHS-[0-9a-f]{8}\]", text)
    assert len(tags) == 2 and tags[0] == tags[1]  # one patient, one pseudonym
    assert "918999198993" in text and "9000000018" in text  # an ASID and an invalid NHS number are not patients
    patient = {"resourceType": "Patient", "identifier": [{"value": "9000000017"}],
               "name": [{"use": "official", "family": "Smith", "given": ["Ann", "B"], "prefix": ["Mrs"],
                         "text": "Mrs Ann Smith"}]}
    masked = redaction.redact_mapping(patient)
    assert masked["name"][0] == {"use": "official", "family": "[NAME]", "given": ["[NAME]", "[NAME]"],
                                 "prefix": ["[NAME]"], "text": "[NAME]"}
    assert masked["identifier"][0]["value"].startswith("[NHS-")


def _secret_laden_target(tmp_path: Path, base_url: str) -> tuple[Path, list[str]]:
    key_password = "Kp-9f8e7d6c5b4a-not-for-evidence"
    key_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPLANTEDKEYBODY"
    cert = tmp_path / "client.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUPLANTEDCERT\n-----END CERTIFICATE-----\n")
    key = tmp_path / "client.key"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n")
    data = h.target_data(base_url, tls={"client_cert": str(cert), "client_key": str(key),
                                        "key_password": key_password})
    data["timeouts"] = {"connect_s": 5, "read_s": 10, "request_s": 20, "run_s": 600}
    # A careless target reuses its key password as a user ID: it is still never written.
    data["consumer"]["practitioner"]["local_user_id"] = key_password
    import tomli_w

    path = tmp_path / "target.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path, [key_password, key_body]


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory: pytest.TempPathFactory):
    """One run against a secret-laden target file, with --mask-patients: (pack, secrets, process)."""
    tmp = tmp_path_factory.mktemp("secret-run")
    server = ReferenceServer(faults=[]).start()
    try:
        target, secrets = _secret_laden_target(tmp, server.target().provider.base_url)
        out = tmp / "pack"
        proc = run_gpc("run", *PACK_SELECTION, "--target", target, "--output", out, "--mask-patients")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, secrets, proc


def test_a_pack_from_a_secret_laden_target_holds_none_of_its_secrets(secret_run):
    out, secrets, proc = secret_run
    texts = dict(pack_texts(out))
    assert {"results.json", "report.html", "junit.xml", "requirements.csv", "manifest.json"} <= set(texts)
    assert any(name.startswith("scal.xlsx!") for name in texts)
    assert any(name.startswith("allure-results/") for name in texts)
    assert any(name.startswith("exchanges/") for name in texts)
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{name} holds a secret of the target file"
        assert not JWT.search(text), f"{name} holds a JWT"
        assert "Bearer ey" not in text, f"{name} holds a bearer token"
    results = json.loads(texts["results.json"])
    assert results["run"]["target"]["tls"]["key_password"] == "[REDACTED]"
    assert results["run"]["target"]["consumer"]["practitioner"]["local_user_id"] == "[REDACTED]"
    for stream in (proc.stdout, proc.stderr):
        assert secrets[0] not in stream


def test_mask_patients_keeps_nhs_numbers_and_names_out_of_the_pack(secret_run):
    out, _secrets, _proc = secret_run
    patients = h.target_data("http://127.0.0.1:1")["test_data"]["patients"]
    numbers = {p["nhs_number"] for p in patients.values()}
    names = {p.get("family") for p in patients.values()} - {None}
    assert numbers and names
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["patients_masked"] is True
    for name, text in pack_texts(out):
        for n in numbers:
            assert n not in text, f"{name} holds NHS number {n}"
        for family in names:
            assert not re.search(rf"\b{re.escape(family)}\b", text), f"{name} holds the name {family}"
    assert "NHS numbers and names are masked" in (out / "report.html").read_text()
