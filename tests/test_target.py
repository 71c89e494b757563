"""Target files: every kind of malformed file is one clear line naming the file and the field, and the
CLI turns it into exit code 2 with that line on stderr and no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import harness as h
import pytest
import tomli_w

from gpc_assure.cli import main
from gpc_assure.errors import ConfigError
from gpc_assure.target import load_target, parse_target
from gpc_assure.transport.client import build_ssl_context

BASE = f"http://127.0.0.1:9{h.SERVICE_ROOT}"


def write(tmp_path: Path, data: dict[str, Any] | bytes | str, name: str = "target.toml") -> Path:
    path = tmp_path / name
    if isinstance(data, dict):
        path.write_text(tomli_w.dumps(data), "utf-8")
    elif isinstance(data, str):
        path.write_text(data, "utf-8")
    else:
        path.write_bytes(data)
    return path


def valid() -> dict[str, Any]:
    return h.target_data(BASE)


def without(section: str) -> dict[str, Any]:
    data = valid()
    del data[section]
    return data


def with_value(dotted: str, value: Any) -> dict[str, Any]:
    data = valid()
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return data


# (what is wrong, file content, the field the message must name, words the message must contain)
MALFORMED: list[tuple[str, Any, str, str]] = [
    ("not TOML", "provider = = 'x'\n[[[", "", "invalid TOML"),
    ("not UTF-8", b"[provider]\nbase_url = '\xff\xfe\xfa'\n", "", "not UTF-8"),
    ("empty", "", "provider", "Field required"),
    ("missing provider", without("provider"), "provider", "Field required"),
    ("missing consumer", without("consumer"), "consumer", "Field required"),
    ("missing asid", {**valid(), "provider": {"base_url": BASE, "ods_code": "A1"}}, "provider.asid", "required"),
    ("section of the wrong type", {**valid(), "timeouts": "fast"}, "timeouts", "valid dictionary"),
    ("number as text", with_value("timeouts.connect_s", "soon"), "timeouts.connect_s", "valid number"),
    ("negative timeout", with_value("timeouts.read_s", -1), "timeouts.read_s", "greater than 0"),
    ("zero body cap", with_value("timeouts.max_body_bytes", 0), "timeouts.max_body_bytes", "greater than 0"),
    ("list instead of text", with_value("provider.asid", [1, 2]), "provider.asid", "valid string"),
    ("boolean as text", with_value("capabilities.xml", "perhaps"), "capabilities.xml", "valid boolean"),
    ("bad gender", with_value("test_data.patients.registered_verified.gender", "x"),
     "test_data.patients.registered_verified.gender", "'male'"),
    ("unknown field", with_value("provider.colour", "blue"), "provider.colour", "unknown field"),
    ("unknown section", {**valid(), "extras": {"a": 1}}, "extras", "unknown field"),
    ("unknown consumer field", with_value("consumer.practitioner.nickname", "Al"), "consumer.practitioner.nickname",
     "unknown field"),
    ("unsupported version", with_value("target.gpconnect_version", "1.6.0"), "target.gpconnect_version", "1.2.7"),
    ("base_url scheme", with_value("provider.base_url", "ftp://host/x"), "provider.base_url", "http:// or https://"),
    ("base_url without scheme", with_value("provider.base_url", "host/x"), "provider.base_url", "http://"),
    ("base_url trailing slash", with_value("provider.base_url", BASE + "/"), "provider.base_url", "trailing slash"),
    ("base_url without host", with_value("provider.base_url", "http:///x"), "provider.base_url", "no host"),
    ("base_url bad port", with_value("provider.base_url", "http://h:99999/x"), "provider.base_url", "ort"),
    ("base_url port not a number", with_value("provider.base_url", "http://h:80a/x"), "provider.base_url", "ort"),
    ("base_url with a space", with_value("provider.base_url", "http://h/a b"), "provider.base_url", "spaces"),
    ("base_url with a query", with_value("provider.base_url", "http://h/x?a=1"), "provider.base_url", "query"),
    ("unknown patient role", with_value("test_data.patients.vip", "9000000017"), "test_data.patients",
     "unknown patient role 'vip'"),
    ("missing TLS file", with_value("tls.client_cert", "no-such-cert.pem"), "tls.client_cert", "file not found"),
    ("missing CA bundle", with_value("tls.ca_bundle", "/no/such/ca.pem"), "tls.ca_bundle", "file not found"),
    ("newline in a role name", with_value("test_data.patients.a\nb", "1"), "test_data.patients", "unknown patient"),
]


@pytest.mark.parametrize(("problem", "content", "field", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_target_is_one_line_naming_file_and_field(tmp_path, problem, content, field, words):
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_target(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert field in message and words in message, message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("problem", "content", "field", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_cli_exits_2_with_that_line_on_stderr(tmp_path, capsys, problem, content, field, words):
    path = write(tmp_path, content)
    code = main(["run", "--target", str(path), "--output", str(tmp_path / "pack")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("gpc-assure: ") and field in err and words in err, err
    assert not (tmp_path / "pack").exists(), "no run starts for a bad target file"


@pytest.mark.parametrize("problem", ["missing file", "a directory"])
def test_unreadable_target_file(tmp_path, problem):
    path = tmp_path / "missing.toml" if problem == "missing file" else tmp_path
    with pytest.raises(ConfigError, match=rf"^{path}: (target file not found|cannot read target file: Is a dir)"):
        load_target(path)


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    data = with_value("timeouts.connect_s", "soon")
    data["timeouts"]["read_s"] = "later"
    with pytest.raises(ConfigError, match=r"timeouts.connect_s: .* \(and 1 more problem\(s\)\)$"):
        load_target(write(tmp_path, data))


def test_parse_target_names_its_source():
    with pytest.raises(ConfigError, match=r"^my source: consumer: Field required$"):
        parse_target(without("consumer"), source="my source")


def test_valid_target_loads(tmp_path):
    target = load_target(write(tmp_path, valid()))
    assert target.provider.base_url == BASE
    assert target.timeouts.request_s == h.FAST_TIMEOUTS["request_s"]
    assert target.test_data.patients["registered_verified"].nhs_number == "9000000017"


def test_patient_role_may_be_just_an_nhs_number(tmp_path):
    target = load_target(write(tmp_path, with_value("test_data.patients.deceased", "9000000041")))
    assert target.test_data.patients["deceased"].nhs_number == "9000000041"


def test_relative_tls_paths_are_relative_to_the_target_file(tmp_path, monkeypatch):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("not used")
    monkeypatch.chdir("/")
    target = load_target(write(tmp_path, with_value("tls.ca_bundle", "certs/ca.pem")))
    assert target.tls is not None and target.tls.ca_bundle == tmp_path / "certs" / "ca.pem"


# -- TLS material that exists but cannot be used -------------------------------------------------

@pytest.fixture(scope="module")
def client_cert(tmp_path_factory) -> tuple[Path, Path, str]:
    """A self-signed certificate and its key, encrypted with a password (made with openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    password = "correct horse battery staple"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=gpc-assure test",
                        "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                        "-passout", f"pass:{password}"], check=True, capture_output=True, timeout=60)
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return folder / "cert.pem", folder / "key.pem", password


def tls_target(tmp_path: Path, cert: Path, key: Path, password: str) -> Path:
    data = with_value("provider.base_url", "https://127.0.0.1:9" + h.SERVICE_ROOT)
    data["tls"] = {"client_cert": str(cert), "client_key": str(key), "key_password": password}
    return write(tmp_path, data)


def test_tls_material_loads_with_the_right_password(tmp_path, client_cert):
    cert, key, password = client_cert
    assert build_ssl_context(load_target(tls_target(tmp_path, cert, key, password))) is not None


@pytest.mark.parametrize("problem", ["wrong password", "certificate is not PEM", "key is the certificate"])
def test_unusable_tls_material_is_exit_2_without_the_password(tmp_path, capsys, client_cert, problem):
    cert, key, password = client_cert
    if problem == "wrong password":
        password = "wrong-password-123"
    elif problem == "certificate is not PEM":
        cert = tmp_path / "junk.pem"
        cert.write_text("this is not a certificate")
    else:
        key = cert
    path = tls_target(tmp_path, cert, key, password)
    code = main(["run", "--target", str(path), "--output", str(tmp_path / "pack")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "tls: cannot load" in err, err
    assert password not in err


@pytest.mark.slow
def test_cli_process_reports_a_bad_target_in_one_line(tmp_path):
    path = write(tmp_path, with_value("test_data.patients.vip", "9000000017"))
    proc = h.run_cli("run", "--target", path, "--output", tmp_path / "pack", timeout=60)
    h.assert_no_traceback(proc)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "test_data.patients: unknown patient role 'vip'" in proc.stderr
    assert proc.stdout == ""


def test_more_patients_per_role_and_unknown_roles():
    data = valid()
    data["test_data"]["more_patients"] = {"inactive": ["9000000505", {"nhs_number": "9000000513"}]}
    t = parse_target(data)
    assert [p.nhs_number for p in t.test_data.more_patients["inactive"]] == ["9000000505", "9000000513"]
    data["test_data"]["more_patients"] = {"no-such-role": ["9000000505"]}
    with pytest.raises(ConfigError, match="unknown patient role 'no-such-role'"):
        parse_target(data)


def test_system_section_records_who_and_what(tmp_path):
    data = valid()
    data["system"] = {"supplier": "Example Health", "product": "Example GP", "version": "4.2", "environment": "INT",
                      "operator": "A. Tester", "rm213_category": "nme-provider"}
    t = parse_target(data)
    assert t.system is not None and t.system.environment == "INT"
    data["system"]["rm213_category"] = "incumbent"
    with pytest.raises(ConfigError, match=r"system\.rm213_category"):
        parse_target(data)
