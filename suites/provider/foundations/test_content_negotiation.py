"""Content types: JSON and XML, _format over Accept over Content-Type over JSON, 415, charset, chunking, gzip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures import probes
from gpc_assure.checks import http, outcome
from gpc_assure.fhir.parse import model_for

JSON, XML = http.FHIR_MEDIA["json"], http.FHIR_MEDIA["xml"]
NO_ACCEPT = {"Accept": None}
CHARSET_READING = ("D-14: the general guidance writes ';charset=utf-8' with no space while the Register example "
                   "has '; charset=utf-8', and HTTP treats both alike; the space is judged as a SHOULD on its own")


def _call(gpc, test_data, interaction: str, label: str, **overrides):
    kwargs = probes.merged(probes.call_kwargs(gpc, test_data, interaction), **overrides)
    return gpc.call(interaction, **kwargs, label=label)


def _serves_xml(gpc, test_data, interaction: str = "metadata.read") -> bool:
    """Whether the provider answers _format=application/fhir+xml (no Accept) with FHIR XML at all."""
    probe = _call(gpc, test_data, interaction, f"{interaction}: is XML served at all?", params=[("_format", XML)],
                  headers=NO_ACCEPT)
    return http.body_format(probe) == "xml"


def _need_xml(gpc, test_data, interaction: str = "metadata.read") -> None:
    test_data.capability("xml")
    if not _serves_xml(gpc, test_data, interaction):
        pytest.skip("the provider does not serve FHIR XML at all (judged by GEN-CT-001b), so precedence towards "
                    "XML cannot be judged here")


def _how(via: str, media: str) -> dict:
    if via == "_format":
        return {"params": [("_format", media)], "headers": NO_ACCEPT}
    return {"headers": {"Accept": media}}


@pytest.mark.title("{interaction} answers FHIR JSON (application/fhir+json) when asked by {via}")
@pytest.mark.requirement("GEN-CT-001a")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_json(gpc, verify, test_data, interaction, via):
    ex = probes.served(_call(gpc, test_data, interaction, f"{interaction} as JSON by {via}", **_how(via, JSON)),
                       f"judging the JSON answer of {interaction}")
    verify(ex, http.media_type("json", "GEN-CT-001a"), http.in_format("json", "GEN-CT-001a"))


@pytest.mark.title("{interaction} answers FHIR XML (application/fhir+xml) when asked by {via}")
@pytest.mark.requirement("GEN-CT-001b")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_xml(gpc, verify, test_data, interaction, via):
    test_data.capability("xml")
    ex = probes.served(_call(gpc, test_data, interaction, f"{interaction} as XML by {via}", **_how(via, XML)),
                       f"judging the XML answer of {interaction}")
    verify(ex, http.media_type("xml", "GEN-CT-001b"), http.in_format("xml", "GEN-CT-001b"))


PRECEDENCE = ["metadata.read", "patient.read", "organization.find"]


@pytest.mark.title("{interaction}: _format={wins} overrides Accept")
@pytest.mark.requirement("GEN-CT-002")
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", PRECEDENCE)
def test_format_param_overrides_accept(gpc, verify, test_data, interaction, wins):
    if wins == "xml":
        _need_xml(gpc, test_data, interaction)
    loses = XML if wins == "json" else JSON
    ex = _call(gpc, test_data, interaction, f"{interaction}: Accept {loses}, _format {wins}",
               params=[("_format", http.FHIR_MEDIA[wins])], headers={"Accept": loses})
    verify(ex, http.in_format(wins, "GEN-CT-002"))


@pytest.mark.title("{interaction}: {via} asking for {wins} decides over a request Content-Type naming the other format")
@pytest.mark.requirement("GEN-CT-010")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", PRECEDENCE)
def test_accept_or_format_over_content_type(gpc, verify, test_data, interaction, wins, via):
    if wins == "xml":
        _need_xml(gpc, test_data, interaction)
    other = "xml" if wins == "json" else "json"
    how = _how(via, http.FHIR_MEDIA[wins])
    how["headers"] = {**how["headers"], "Content-Type": http.FHIR_MEDIA[other] + ";charset=utf-8"}
    ex = _call(gpc, test_data, interaction, f"{interaction}: {via} {wins}, request Content-Type {other}", **how)
    verify(ex, http.in_format(wins, "GEN-CT-010"))


@pytest.mark.title("With neither Accept nor _format, {interaction} answers in the request's Content-Type ({fmt})")
@pytest.mark.requirement("GEN-CT-003")
@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("interaction", ["metadata.read", "patient.register"])
def test_content_type_sets_format(gpc, verify, test_data, interaction, fmt):
    if fmt == "xml":
        _need_xml(gpc, test_data)
    media = http.FHIR_MEDIA[fmt] + ";charset=utf-8"
    overrides: dict = {"headers": {**NO_ACCEPT, "Content-Type": media}}
    if interaction == "patient.register" and fmt == "xml":
        # The same harmless empty Parameters, in XML: it cannot register anyone.
        overrides["body"] = model_for("Parameters").model_validate(probes.HARMLESS_REGISTER_BODY).model_dump_xml()
    ex = _call(gpc, test_data, interaction, f"{interaction} with Content-Type {fmt}, no Accept", **overrides)
    verify(ex, http.in_format(fmt, "GEN-CT-003"))


@pytest.mark.title("With no Accept, _format or Content-Type, {interaction} answers JSON")
@pytest.mark.requirement("GEN-CT-004")
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_default_json(gpc, verify, test_data, interaction):
    ex = _call(gpc, test_data, interaction, f"{interaction} with no format asked", headers=NO_ACCEPT)
    verify(ex, http.in_format("json", "GEN-CT-004"))


UNSUPPORTED_READING = ("CT-415: the guidance asks for 415 and names no Spine code (the demonstrator sends "
                       "BAD_REQUEST); the status is judged, not the body")
UNSUPPORTED = {
    "_format=application/pdf": {"params": [("_format", "application/pdf")], "headers": NO_ACCEPT},
    "_format=text/html": {"params": [("_format", "text/html")], "headers": NO_ACCEPT},
    "Accept: application/pdf": {"headers": {"Accept": "application/pdf"}},
    "Accept: text/plain": {"headers": {"Accept": "text/plain"}},
    "Accept: application/fhir+turtle": {"headers": {"Accept": "application/fhir+turtle"}},
}


@pytest.mark.title("GET /metadata asking for {case} is answered 415 Unsupported Media Type")
@pytest.mark.requirement("GEN-CT-005")
@pytest.mark.parametrize("case", list(UNSUPPORTED))
def test_unsupported_format(gpc, verify, test_data, case):
    ex = _call(gpc, test_data, "metadata.read", f"metadata asking for {case}", **UNSUPPORTED[case])
    verify(ex, http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))


@pytest.mark.title("Register with a text/plain request body is answered 415 Unsupported Media Type")
@pytest.mark.requirement("GEN-CT-005")
def test_unsupported_request_body(gpc, verify, test_data):
    ex = _call(gpc, test_data, "patient.register", "register with a text/plain body",
               body=b"register me", headers={"Content-Type": "text/plain"})
    verify(ex, http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))


# Media types that name neither JSON nor XML (nor a wildcard): no GP Connect provider serves them.
_media_types = st.from_regex(r"(application|text|image|audio|x-[a-z]{1,8})/[a-z][a-z0-9.+-]{0,24}", fullmatch=True) \
    .filter(lambda m: "json" not in m and "xml" not in m)


@pytest.mark.title("Generated non-FHIR media types in Accept are all answered 415")
@pytest.mark.requirement("GEN-CT-005")
@given(media=_media_types)
def test_generated_unsupported_accept(gpc, verify, test_data, media):
    ex = _call(gpc, test_data, "metadata.read", f"metadata with Accept: {media}", headers={"Accept": media})
    found = verify(ex, http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))
    assert not found, f"Accept: {media} was not answered 415"


def _charset_probes(gpc, test_data, case: str):
    if case == "JSON success":
        return _call(gpc, test_data, "metadata.read", "metadata as JSON")
    if case == "XML success":
        test_data.capability("xml")
        return probes.served(_call(gpc, test_data, "metadata.read", "metadata as XML", headers={"Accept": XML}),
                             "judging the charset of an XML answer")
    return _call(gpc, test_data, "metadata.read", "metadata without Ssp-TraceID (an error)",
                 headers={"Ssp-TraceID": None})


@pytest.mark.title("Content-Type declares charset=utf-8 and the body is UTF-8 ({case})")
@pytest.mark.requirement("GEN-CT-006a")
@pytest.mark.parametrize("case", ["JSON success", "XML success", "JSON error"])
def test_charset(gpc, verify, test_data, case):
    verify(_charset_probes(gpc, test_data, case), http.charset_utf8("GEN-CT-006a", reading=CHARSET_READING))


@pytest.mark.title("Content-Type writes ';charset=utf-8' without a space ({case})")
@pytest.mark.requirement("GEN-CT-006b")
@pytest.mark.parametrize("case", ["JSON success", "XML success", "JSON error"])
def test_charset_unspaced(gpc, verify, test_data, case):
    verify(_charset_probes(gpc, test_data, case), http.charset_unspaced("GEN-CT-006b", reading=CHARSET_READING))


CHUNKED_READING = ("CT-CHUNKED: what a consumer can observe of a provider's chunked-encoding support is that it "
                   "reads a request body sent chunked; whether it chunks its own responses is its choice")


@pytest.mark.title("A request body sent with Transfer-Encoding: chunked is read like one with Content-Length")
@pytest.mark.requirement("GEN-CT-007")
def test_chunked_request_body(gpc, verify, test_data):
    kwargs = probes.call_kwargs(gpc, test_data, "patient.register")
    plain = verify.answered(gpc.call("patient.register", **kwargs, label="register probe with Content-Length"))
    chunked = verify.answered(gpc.call("patient.register", **kwargs, chunked=True,
                                       label="the same register probe sent chunked"))
    same_status = plain.status == chunked.status
    codes = [outcome.spine_codes(b) if isinstance(b := outcome.body_as_json(e), dict) else [] for e in (plain, chunked)]
    verify.that(same_status and codes[0] == codes[1], "GEN-CT-007",
                f"sent chunked, the same request was answered {chunked.status} {codes[1]} instead of "
                f"{plain.status} {codes[0]}", reading=CHUNKED_READING, exchange=chunked)


@pytest.mark.title("{interaction} answers gzip-compressed when the request sends Accept-Encoding: gzip")
@pytest.mark.requirement("GEN-CT-008")
@pytest.mark.parametrize("interaction", ["metadata.read", "location.read"])
def test_gzip(gpc, verify, test_data, interaction):
    test_data.capability("gzip")
    ex = probes.served(_call(gpc, test_data, interaction, f"{interaction} with Accept-Encoding: gzip",
                             headers={"Accept-Encoding": "gzip"}), "judging gzip")
    verify(ex, http.gzip_encoded("GEN-CT-008"), http.in_format("json", "GEN-CT-008"))
