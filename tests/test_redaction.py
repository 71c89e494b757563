"""Secrets never reach evidence: unit tests of gpc_assure.redaction, and whole runs whose every pack
file is searched for each secret the target file and the requests carried."""

from __future__ import annotations

import json
from collections.abc import Iterator

import harness as h
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpc_assure import redaction
from gpc_assure.evidence import EvidenceStore
from gpc_assure.redaction import REDACTED, redact_headers, redact_mapping, redact_text
from gpc_assure.target import parse_target
from gpc_assure.transport import jwt
from gpc_assure.transport.client import GpcClient

# A PEM private key as it would sit in a key file (the body is made up; only its shape matters).
PEM_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDgpcAssureFakeKey"
PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_LINE}\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/==\n-----END PRIVATE KEY-----"
RSA_PEM = PEM.replace("PRIVATE KEY", "RSA PRIVATE KEY")
KEY_PASSWORD = "tls-key-pass-Zq8wY3"
TOKEN = "opaque-bearer-token-Kx71Lp0"
API_KEY = "api-key-value-Hy66Tr2"


@pytest.fixture(autouse=True)
def fresh_policy() -> Iterator[None]:
    """Remembered secrets are process-wide; each test starts and ends with none."""
    redaction.reset()
    yield
    redaction.reset()


# -- free text ---------------------------------------------------------------------------------------

def a_jwt() -> str:
    return jwt.encode({"iss": "https://consumer.example", "sub": "1", "requested_scope": "patient/*.read"})


@pytest.mark.parametrize(("text", "secret"), [
    (f"Authorization: Bearer {TOKEN}", TOKEN),
    (f"authorization: bearer {TOKEN}", TOKEN),
    (f"the token was Bearer\t{TOKEN}, rejected", TOKEN),
    (f"JWT rejected: {a_jwt()} (expired)", a_jwt()),
    (f"JWT rejected: {a_jwt()[:60]}", a_jwt()[:60]),  # a diagnostics message cut short mid-token
    (f"key file: {PEM} end", PEM_LINE),
    (f"key file: {RSA_PEM}", PEM_LINE),
    (PEM.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), PEM_LINE),
    (f"cut short: {PEM[:80]}", PEM_LINE[:40]),
    ("Authorization: NHSMESH mailbox:nonce:1:202401010000:abcdef0123456789", "abcdef0123456789"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "dXNlcjpwYXNzd29yZDEyMw=="),
    (f"GET https://user:{KEY_PASSWORD}@host/path", KEY_PASSWORD),
    (f"/Patient?access_token={TOKEN}&_format=json", TOKEN),
    (f'{{"password": "{KEY_PASSWORD}"}}', KEY_PASSWORD),
    (f"key_password={KEY_PASSWORD}", KEY_PASSWORD),
    (f"x-api_key: {API_KEY}", API_KEY),
])
def test_secret_shapes_are_redacted_in_text(text, secret):
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize("text", [
    "GET /A20047/STU3/1/gpconnect/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000017",
    "Patient Jane Jackson, born 1952-05-31",
    "the password is checked by the provider",
    "HTTP status 400, expected 200 (OperationOutcome BAD_REQUEST: Ssp-TraceID header is missing)",
    "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1",
    "Bearer",
])
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20) | st.integers(), min_size=1, max_size=5),
       st.sampled_from([" ", "\n", ": ", "=", "(", "'", '"']))
def test_any_jwt_is_redacted_wherever_it_is_quoted(claims, sep):
    token = jwt.encode(claims)
    out = redact_text(f"provider said{sep}{token}{sep}and stopped")
    assert token not in out
    assert token.split(".")[1][:20] not in out


@given(st.text(max_size=200))
def test_redaction_is_idempotent(text):
    once = redact_text(text)
    assert redact_text(once) == once


# -- headers and mappings ----------------------------------------------------------------------------

def test_secret_headers_keep_their_scheme_only():
    headers = [("Authorization", f"Bearer {a_jwt()}"), ("Cookie", "sid=abc123456"), ("X-Api-Key", API_KEY),
               ("Ssp-TraceID", "6b0a2a37-2bd1-4d63-a5b8-2b1f9a6ad0b8"), ("Accept", "application/fhir+json")]
    out = dict(redact_headers(headers))
    assert out["Authorization"] == f"Bearer {REDACTED}"
    assert API_KEY not in out["X-Api-Key"] and "abc123456" not in out["Cookie"]
    assert out["Ssp-TraceID"] == headers[3][1] and out["Accept"] == "application/fhir+json"


def test_secret_header_values_are_redacted_in_ordinary_headers_too():
    out = redact_headers([("X-Echo", f"you sent Bearer {TOKEN}"), ("Location", f"https://u:{KEY_PASSWORD}@h/x")])
    assert TOKEN not in str(out) and KEY_PASSWORD not in str(out)


def test_mapping_redacts_secret_keys_at_any_depth_and_copies():
    data = {"tls": {"key_password": KEY_PASSWORD, "client_key": "/keys/client.key"},
            "mesh": [{"shared_key": "shared-secret-1", "mailbox_password": "mailbox-pass-1"}],
            "Authorization": f"Bearer {TOKEN}", "api_key": API_KEY, "client_secret": "s3cr3t-value",
            "note": f"see {PEM}", "empty_password": "", "token": None, "count": 3}
    out = redact_mapping(data)
    text = json.dumps(out)
    for secret in (KEY_PASSWORD, "shared-secret-1", "mailbox-pass-1", TOKEN, API_KEY, "s3cr3t-value", PEM_LINE):
        assert secret not in text
    assert out["tls"]["client_key"] == "/keys/client.key", "paths are kept: they are not secrets"
    assert out["empty_password"] == "" and out["token"] is None and out["count"] == 3
    assert data["tls"]["key_password"] == KEY_PASSWORD, "the input is not changed"


def test_remembered_secrets_are_redacted_whatever_their_shape():
    plain = "plainword-secret"
    assert redact_text(f"x {plain} y") == f"x {plain} y"
    redaction.remember_secrets([plain, "short", None])
    assert redact_text(f"x {plain} y") == f"x {REDACTED} y"
    assert redact_text("a short word") == "a short word", "very short literals are not remembered"
    redaction.reset()
    assert plain in redact_text(plain)


def test_secrets_in_finds_secret_values_and_url_passwords():
    found = redaction.secrets_in({"tls": {"key_password": KEY_PASSWORD}, "mesh": {"url": "https://m:pw-123456@mesh/x"},
                                  "name": "not a secret"})
    assert KEY_PASSWORD in found and "pw-123456" in found and "not a secret" not in found


# -- a client's exchanges written as evidence --------------------------------------------------------

def test_exchange_files_hold_no_secret_a_test_sent(tmp_path):
    echo = h.HostileServer(lambda conn: conn.send(h.respond(
        400, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                            "diagnostics": conn.last_request.decode("latin-1")}]},
        {"X-Echo": conn.last_request.decode("latin-1").replace("\r\n", " | ")})))
    store = EvidenceStore(tmp_path)
    with echo, GpcClient(parse_target(h.target_data(echo.base_url)),
                         observers=[lambda ex: store.write(ex, "test")]) as client:
        client.call("metadata.read", token=TOKEN, headers={"X-Api-Key": API_KEY},
                    params=[("access_token", TOKEN)], label=f"probe with Bearer {TOKEN}")
        client.call("patient.register", body={"resourceType": "Parameters", "password": KEY_PASSWORD, "note": PEM})
        client.call("metadata.read", claims={"iss": "x", "note": PEM})  # a JWT carrying a key in a claim
    files = list((tmp_path / "exchanges").iterdir())
    assert len(files) == 3 and store.failed_writes == 0
    for f in files:
        text = f.read_text("utf-8")
        for secret in (TOKEN, API_KEY, KEY_PASSWORD, PEM_LINE, "eyJhbGciOiAibm9uZSIsICJ0eXAiOiAiSldUIn0."):
            assert secret not in text, f"{secret} in {f.name}"
    first = json.loads(files[0].read_text())
    assert dict(first["request"]["headers"])["authorization"] == f"Bearer {REDACTED}"


# -- a whole run against a target that echoes everything back ----------------------------------------

def echo_everything(conn: h.Conn) -> None:
    """A provider that quotes the request, the raw token and its decoded claims back in its error."""
    head = conn.last_request.decode("latin-1")
    auth = next((ln.split(":", 1)[1].strip() for ln in head.split("\r\n") if ln.lower().startswith("authorization")),
                "")
    token = auth.removeprefix("Bearer ").strip()
    conn.server.tokens.append(token)  # type: ignore[attr-defined]
    try:
        claims = json.dumps(jwt.decode(token).claims)
    except jwt.JwtFormatError:
        claims = "?"
    oo = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "forbidden",
        "details": {"coding": [{"system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1",
                                "code": "BAD_REQUEST"}]},
        "diagnostics": f"JWT rejected: {token} with claims {claims}"}]}
    conn.send(h.respond(400, oo, {"X-Echo-Authorization": auth, "WWW-Authenticate": f"Bearer error=\"{token}\"",
                                  "Connection": "close"}))


@pytest.mark.slow
def test_no_secret_reaches_any_file_of_the_evidence_pack(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "client.key").write_text(PEM)
    (keys / "client.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    echo = h.HostileServer(echo_everything)
    echo.tokens = []  # type: ignore[attr-defined]
    with echo:
        target = h.write_target(
            tmp_path / "target.toml", echo.base_url,
            target={"name": f"secret-laden target {PEM}"},
            tls={"client_cert": "keys/client.crt", "client_key": "keys/client.key", "key_password": KEY_PASSWORD},
            consumer={"organisation_name": f"Consumer Org {PEM}"},
        )
        pack = tmp_path / "pack"
        proc = h.run_cli("run", "--target", target, "--output", pack, "--quiet", *h.METADATA_TESTS, timeout=180)
    h.assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tokens = [t for t in echo.tokens if t]  # type: ignore[attr-defined]
    assert tokens, "the run sent no token"
    res = h.results(pack)
    assert any("JWT rejected" in t["message"] for t in res["tests"]), "the echo reached the messages"
    secrets = {KEY_PASSWORD, PEM_LINE}
    for t in tokens:
        secrets |= {t, t.split(".")[1][:40]}
    files = [f for f in pack.rglob("*") if f.is_file()]
    assert {"results.json", "junit.xml"} <= {f.name for f in files} and len(files) > 3
    leaks = [f"{f.relative_to(pack)}: {s[:30]}..." for f in files for s in secrets
             if s in f.read_bytes().decode("utf-8", errors="replace")]
    assert not leaks, "secrets in the evidence pack:\n  " + "\n  ".join(leaks)
    for stream in (proc.stdout, proc.stderr):
        assert KEY_PASSWORD not in stream and PEM_LINE not in stream
