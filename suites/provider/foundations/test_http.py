"""HTTP rules common to every interaction: caching, verbs, ETag, ids, case-sensitive URLs, unknown
search parameters, HSTS.

Rules about a success are judged on the answer the probe asked for (`probes.answer`); rules about a
refusal need the request to have been refused, charged to the requirement that says it must be.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from fixtures import probes
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import ERROR, Check
from gpc_assure.outcomes import NotApplicable
from gpc_assure.transport.exchange import Exchange
from gpc_assure.transport.interactions import PREFIX

REFUSAL_ROWS = ("ERR-012", "GEN-ERR-001a", "GEN-ERR-001b")


# -- Cache-Control ---------------------------------------------------------------------------------

@pytest.mark.title("A successful {interaction} carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_cache_control_on_success(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    ex = gpc.call(interaction, **kwargs, label=interaction)
    verify(probes.answer(verify, ex, interaction, kwargs, what="the success whose Cache-Control is judged"),
           http.cache_control_no_store("GEN-HTTP-001"))


@pytest.mark.title("A refused {interaction} (no Ssp-TraceID) carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", probes.FOUNDATIONS)
def test_cache_control_on_refusal(gpc, verify, test_data, interaction):
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction, verify), headers={"Ssp-TraceID": None})
    ex = verify.answered(gpc.call(interaction, **kwargs, label=f"{interaction} without Ssp-TraceID"))
    verify.needs(ex, http.error_status("GEN-HDR-006"), what="the refusal whose Cache-Control is judged")
    verify(ex, http.cache_control_no_store("GEN-HTTP-001").needing(ERROR))


# Each error case: the request, and the requirement that says it must be refused.
ERROR_KINDS = {
    "404 for an unknown location": ("FND-RL-002", lambda gpc: gpc.call(
        "location.read", path_params={"id": "gpc-assure-unknown-1"})),
    "400 for a wrong verb": ("GEN-HDR-009", lambda gpc: gpc.call("metadata.read", method="DELETE")),
    "415 for an unsupported format": ("GEN-CT-005", lambda gpc: gpc.call(
        "metadata.read", params={"_format": "application/pdf"})),
    "501 for an unimplemented resource type": ("ERR-013", lambda gpc: gpc.call(
        "metadata.read", path="/Encounter/1", headers={"Ssp-InteractionID": PREFIX + "rest:read:encounter-1"})),
    "400 for an expired token": ("JWT-006a", lambda gpc: gpc.call("metadata.read", claims=gpc.claims(
        "metadata.read", iat=1_600_000_000, exp=1_600_000_300))),
}


@pytest.mark.title("An error response ({case}) carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("case", list(ERROR_KINDS))
def test_cache_control_on_errors(gpc, verify, case):
    refusing, call = ERROR_KINDS[case]
    ex = verify.answered(call(gpc))
    verify.needs(ex, http.error_status(refusing), what="the error whose Cache-Control is judged")
    verify(ex, http.cache_control_no_store("GEN-HTTP-001").needing(ERROR))


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
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    if method in ("GET", "DELETE", "OPTIONS"):
        kwargs.pop("body", None)
    ex = gpc.call(interaction, **kwargs, method=method, label=f"{method} on the {interaction} endpoint")
    verify(verify.answered(ex), *probes.refused("GEN-HDR-009"))


# -- reads: ETag and id ----------------------------------------------------------------------------

@pytest.mark.title("{interaction} answers with ETag: W/\"<versionId>\" of the resource returned")
@pytest.mark.requirement("GEN-HTTP-002")
@pytest.mark.parametrize("interaction", probes.READS)
def test_etag_on_read(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    ex = gpc.call(interaction, **kwargs, label=interaction)
    verify(probes.answer(verify, ex, interaction, kwargs, what="the read whose ETag is judged"),
           http.etag_matches_version("GEN-HTTP-002"))


@pytest.mark.title("{interaction} returns the resource whose id is the one in the URL")
@pytest.mark.requirement("GEN-HTTP-003")
@pytest.mark.parametrize("interaction", probes.READS)
def test_read_returns_requested_id(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    ex = verify.answered(gpc.call(interaction, **kwargs, label=interaction))
    kind, identity = probes.expected(interaction, kwargs)
    verify.needs(ex, kind, what="the read whose id is judged")
    verify(ex, identity)


# -- URLs and search parameters --------------------------------------------------------------------

WRONG_CASE_OF = {
    "/METADATA": ("metadata.read", lambda kw: "/METADATA"),
    "/Metadata": ("metadata.read", lambda kw: "/Metadata"),
    "/patient?identifier=...": ("patient.find", lambda kw: "/patient"),
    "/PATIENT/{id}": ("patient.read", lambda kw: f"/PATIENT/{kw['path_params']['id']}"),
    "/location/{id}": ("location.read", lambda kw: f"/location/{quote(kw['path_params']['id'], safe='')}"),
    "/Organisation?identifier=... (British spelling)": ("organization.find", lambda kw: "/Organisation"),
}


def _wrong_case(gpc, verify, test_data, case: str) -> Exchange:
    """The request spelt with the wrong case, once the rightly spelt one has been served as asked: a
    provider that serves nothing refuses the wrong case too, which shows nothing about case."""
    interaction, spelt = WRONG_CASE_OF[case]
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    right = gpc.call(interaction, **kwargs, label=f"{interaction} spelt rightly")
    probes.answer(verify, right, interaction, kwargs, what="the rightly spelt request the wrong case is compared "
                                                           "with")
    path = spelt(kwargs)
    return gpc.call(interaction, path=path, params=kwargs.get("params"), label=f"{interaction} as {path}")


WRONG_CASE = ["/METADATA", "/Metadata", "/patient?identifier=...", "/PATIENT/{id}", "/location/{id}",
              "/Organisation?identifier=... (British spelling)"]


@pytest.mark.title("URLs are case sensitive: {case} is not served")
@pytest.mark.requirement("GEN-HTTP-007a", "GEN-ERR-001a")
@pytest.mark.parametrize("case", WRONG_CASE)
def test_url_case_sensitive(gpc, verify, test_data, case):
    ex = verify.answered(_wrong_case(gpc, verify, test_data, case))
    verify(ex, http.error_status("GEN-HTTP-007a", reading="HTTP-CASE: the guidance makes URLs case sensitive "
                                                          "but names no status for a wrong-case one; any error is "
                                                          "accepted, as the official suite does"),
           outcome.error_outcome("GEN-ERR-001a"))


def _entry_ids(ex: Exchange) -> list[str]:
    body = probes.body_of(ex) or {}
    return sorted(f"{(e.get('resource') or {}).get('resourceType')}/{(e.get('resource') or {}).get('id')}"
                  for e in body.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict))


def same_answer(interaction: str, kwargs: dict, plain: Exchange) -> Check:
    """With an unknown parameter the search gives the answer it gives without one: the answer the request asks
    for (its kind, and the thing searched for), holding the same resources as the plain search."""
    expected = probes.expected(interaction, kwargs)
    want = _entry_ids(plain)

    def rule(ex: Exchange) -> list[str]:
        out = [j.message for c in expected for j in c(ex) if not j.met]
        if out:
            return out
        got = _entry_ids(ex)
        if got != want:
            return [f"with an unknown parameter the search returned {', '.join(got) or 'nothing'} instead of "
                    f"{', '.join(want) or 'nothing'}"]
        return []

    return Check("GEN-HTTP-007b", rule, "with an unknown parameter the search still answers 200 with the same "
                                        "resources, the ones asked for")


@pytest.mark.title("{interaction} ignores a search parameter it does not recognise")
@pytest.mark.requirement("GEN-HTTP-007b")
@pytest.mark.parametrize("interaction", probes.SEARCHES)
def test_unknown_search_parameter_ignored(gpc, verify, test_data, interaction):
    kwargs = probes.call_kwargs(gpc, test_data, interaction, verify)
    plain = probes.answer(verify, gpc.call(interaction, **kwargs, label=interaction), interaction, kwargs,
                          what="the search without an unknown parameter, the answer to compare with")
    ex = gpc.call(interaction, **probes.merged(kwargs, params=[("gpcAssureUnknownParameter", "1")]),
                  label=f"{interaction} with an unknown parameter")
    verify(ex, same_answer(interaction, kwargs, plain))


# -- HSTS ------------------------------------------------------------------------------------------

@pytest.mark.title("Over HTTPS, responses carry Strict-Transport-Security (HSTS)")
@pytest.mark.requirement("GEN-HTTP-008")
def test_hsts(gpc, verify, target):
    if not target.provider.base_url.startswith("https://"):
        raise NotApplicable(msg="the target is reached over plain HTTP (HSTS is only sent over HTTPS); a person "
                                "attests the provider's HTTPS configuration")
    verify(gpc.call("metadata.read"), http.strict_transport_security("GEN-HTTP-008"))
