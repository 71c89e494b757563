"""HTTP rules common to every interaction: caching, verbs, ETag, ids, case-sensitive URLs, unknown
search parameters, HSTS."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from fixtures import probes
from gpc_assure.checks import http, outcome, resources
from gpc_assure.fhir import profiles
from gpc_assure.outcomes import NotApplicable
from gpc_assure.transport.exchange import BodyNotJson
from gpc_assure.transport.interactions import PREFIX

REFUSAL_ROWS = ("ERR-012", "GEN-ERR-001a", "GEN-ERR-001b")


# -- Cache-Control ---------------------------------------------------------------------------------

@pytest.mark.title("A successful {interaction} carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_cache_control_on_success(gpc, verify, test_data, interaction):
    ex = gpc.call(interaction, **probes.call_kwargs(gpc, test_data, interaction), label=interaction)
    verify(probes.served(ex, "judging Cache-Control on a success"), http.cache_control_no_store("GEN-HTTP-001"))


@pytest.mark.title("A refused {interaction} (no Ssp-TraceID) carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", probes.FOUNDATIONS)
def test_cache_control_on_refusal(gpc, verify, test_data, interaction):
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction), headers={"Ssp-TraceID": None})
    verify(gpc.call(interaction, **kwargs, label=f"{interaction} without Ssp-TraceID"),
           http.cache_control_no_store("GEN-HTTP-001"))


ERROR_KINDS = {
    "404 for an unknown location": lambda gpc: gpc.call("location.read", path_params={"id": "gpc-assure-unknown-1"}),
    "400 for a wrong verb": lambda gpc: gpc.call("metadata.read", method="DELETE"),
    "415 for an unsupported format": lambda gpc: gpc.call("metadata.read", params={"_format": "application/pdf"}),
    "501 for an unimplemented resource type": lambda gpc: gpc.call(
        "metadata.read", path="/Encounter/1", headers={"Ssp-InteractionID": PREFIX + "rest:read:encounter-1"}),
    "400 for an expired token": lambda gpc: gpc.call("metadata.read", claims=gpc.claims(
        "metadata.read", iat=1_600_000_000, exp=1_600_000_300)),
}


@pytest.mark.title("An error response ({case}) carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("case", list(ERROR_KINDS))
def test_cache_control_on_errors(gpc, verify, case):
    verify(ERROR_KINDS[case](gpc), http.cache_control_no_store("GEN-HTTP-001"))


# -- verbs -----------------------------------------------------------------------------------------

WRONG_VERBS = [("metadata.read", "POST"), ("metadata.read", "PUT"), ("metadata.read", "DELETE"),
               ("metadata.read", "PATCH"), ("metadata.read", "OPTIONS"), ("patient.find", "POST"),
               ("patient.read", "DELETE"), ("patient.read", "PUT"), ("patient.read", "POST"),
               ("patient.register", "GET"), ("patient.register", "PUT"), ("practitioner.find", "PUT"),
               ("practitioner.read", "DELETE"), ("organization.read", "POST"), ("location.read", "PATCH")]


@pytest.mark.title("{method} on the {interaction} endpoint is refused with 400 BAD_REQUEST")
@pytest.mark.requirement("GEN-HDR-009", *REFUSAL_ROWS)
@pytest.mark.parametrize(("interaction", "method"), WRONG_VERBS)
def test_wrong_verb(gpc, verify, test_data, interaction, method):
    kwargs = probes.call_kwargs(gpc, test_data, interaction)
    if method in ("GET", "DELETE", "OPTIONS"):
        kwargs.pop("body", None)
    ex = gpc.call(interaction, **kwargs, method=method, label=f"{method} on the {interaction} endpoint")
    verify(ex, http.status(400, "GEN-HDR-009"),
           outcome.code_when(400, "BAD_REQUEST", "ERR-012", issue_code="invalid"),
           outcome.error_outcome("GEN-ERR-001a"),
           outcome.diagnostics("GEN-ERR-001b", exclude=(422,)))


# -- reads: ETag and id ----------------------------------------------------------------------------

@pytest.mark.title("{interaction} answers with ETag: W/\"<versionId>\" of the resource returned")
@pytest.mark.requirement("GEN-HTTP-002")
@pytest.mark.parametrize("interaction", probes.READS)
def test_etag_on_read(gpc, verify, test_data, interaction):
    ex = gpc.call(interaction, **probes.call_kwargs(gpc, test_data, interaction), label=interaction)
    verify(probes.served(ex, "judging the ETag of a read"), http.etag_matches_version("GEN-HTTP-002"))


@pytest.mark.title("{interaction} returns the resource whose id is the one in the URL")
@pytest.mark.requirement("GEN-HTTP-003")
@pytest.mark.parametrize("interaction", probes.READS)
def test_read_returns_requested_id(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction)
    ex = probes.served(gpc.call(interaction, **kwargs, label=interaction), "judging the id of a read")
    verify(ex, resources.id_matches(unquote(kwargs["path_params"]["id"]), "GEN-HTTP-003"))


# -- URLs and search parameters --------------------------------------------------------------------

def _wrong_case(gpc, test_data, case: str):
    d = test_data
    nhs = f"{profiles.NHS_NUMBER_SYSTEM}|{d.patient('registered_verified').nhs_number}"
    ods = f"{profiles.ODS_ORG_SYSTEM}|{d.value('organisation_ods_code')}"
    table = {
        "/METADATA": ("metadata.read", "/METADATA", None),
        "/Metadata": ("metadata.read", "/Metadata", None),
        "/patient?identifier=...": ("patient.find", "/patient", [("identifier", nhs)]),
        "/PATIENT/{id}": ("patient.read", None, None),
        "/location/{id}": ("location.read", f"/location/{quote(d.value('location_id'), safe='')}", None),
        "/Organisation?identifier=... (British spelling)": ("organization.find", "/Organisation",
                                                            [("identifier", ods)]),
    }
    interaction, path, params = table[case]
    if path is None:
        path = f"/PATIENT/{quote(probes.patient_id(gpc, d), safe='')}"
    return gpc.call(interaction, path=path, params=params, label=f"{interaction} as {path}")


WRONG_CASE = ["/METADATA", "/Metadata", "/patient?identifier=...", "/PATIENT/{id}", "/location/{id}",
              "/Organisation?identifier=... (British spelling)"]


@pytest.mark.title("URLs are case sensitive: {case} is not served")
@pytest.mark.requirement("GEN-HTTP-007a", "GEN-ERR-001a")
@pytest.mark.parametrize("case", WRONG_CASE)
def test_url_case_sensitive(gpc, verify, test_data, case):
    ex = _wrong_case(gpc, test_data, case)
    verify(ex, http.error_status("GEN-HTTP-007a", reading="HTTP-CASE: the guidance makes URLs case sensitive "
                                                          "but names no status for a wrong-case one; any error is "
                                                          "accepted, as the official suite does"),
           outcome.error_outcome("GEN-ERR-001a"))


def _entry_count(ex) -> int | None:
    try:
        body = ex.json
    except BodyNotJson:
        return None
    return len(body.get("entry") or []) if isinstance(body, dict) else None


@pytest.mark.title("{interaction} ignores a search parameter it does not recognise")
@pytest.mark.requirement("GEN-HTTP-007b")
@pytest.mark.parametrize("interaction", probes.SEARCHES)
def test_unknown_search_parameter_ignored(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction)
    plain = probes.served(gpc.call(interaction, **kwargs, label=interaction), "comparing with an unknown parameter")
    ex = gpc.call(interaction, **probes.merged(kwargs, params=[("gpcAssureUnknownParameter", "1")]),
                  label=f"{interaction} with an unknown parameter")
    verify(ex, http.status(200, "GEN-HTTP-007b"))
    if ex.status == 200:
        verify.that(_entry_count(ex) == _entry_count(plain), "GEN-HTTP-007b",
                    f"with an unknown parameter the search returned {_entry_count(ex)} entries instead of "
                    f"{_entry_count(plain)}", exchange=ex)


# -- HSTS ------------------------------------------------------------------------------------------

@pytest.mark.title("Over HTTPS, responses carry Strict-Transport-Security (HSTS)")
@pytest.mark.requirement("GEN-HTTP-008")
def test_hsts(gpc, verify, target):
    if not target.provider.base_url.startswith("https://"):
        raise NotApplicable(msg="the target is reached over plain HTTP (HSTS is only sent over HTTPS); a person "
                                "attests the provider's HTTPS configuration")
    verify(gpc.call("metadata.read"), http.strict_transport_security("GEN-HTTP-008"))
