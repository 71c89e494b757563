"""Content types: JSON and XML, _format over Accept over Content-Type over JSON, 415, charset, chunking, gzip.

Every answer judged here must first be the answer the request asked for (`probes.answer`): a format rule
is never met on an empty body, an error page or another resource. A rule about which format wins (the
precedence rows and the JSON default) is judged only against a provider that serves each format when
asked for it by Accept alone (the control), since a provider that can only answer one format shows no
choice; the control's failure is charged to GEN-CT-001a/b.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures import probes
from gpc_assure.checks import http, outcome
from gpc_assure.checks.core import Check
from gpc_assure.fhir.parse import model_for
from gpc_assure.properties import Examples, check_property
from gpc_assure.transport.exchange import Exchange

JSON, XML = http.FHIR_MEDIA["json"], http.FHIR_MEDIA["xml"]
NO_ACCEPT = {"Accept": None}
CHARSET_READING = ("D-14: the general guidance writes ';charset=utf-8' with no space while the Register example "
                   "has '; charset=utf-8', and HTTP treats both alike; the space is judged as a SHOULD on its own")
SERVES = {"json": "GEN-CT-001a", "xml": "GEN-CT-001b"}


def _base(gpc, verify, test_data, interaction: str) -> dict:
    return probes.call_kwargs(gpc, test_data, interaction, verify)


def _call(gpc, interaction: str, base: dict, label: str, **overrides) -> Exchange:
    return gpc.call(interaction, **probes.merged(base, **overrides), label=label)


def _answered(verify, ex: Exchange, interaction: str, base: dict, what: str) -> Exchange:
    return probes.answer(verify, ex, interaction, base, what=what)


def _formats_served(gpc, verify, test_data, interaction: str, base: dict) -> None:
    """The control of a precedence rule: asked by Accept alone, the interaction answers in JSON, and in XML
    when the target declares XML (otherwise only JSON can be asked for, and the rule is judged as declared)."""
    fmts = ("json", "xml") if test_data.target.capabilities.xml else ("json",)
    for fmt in fmts:
        ex = _call(gpc, interaction, base, f"{interaction} asked for {fmt.upper()} by Accept (the control)",
                   headers={"Accept": http.FHIR_MEDIA[fmt]})
        _answered(verify, ex, interaction, base, what=f"the control: {interaction} asked for {fmt.upper()} by Accept")
        verify.needs(ex, http.in_format(fmt, SERVES[fmt]),
                     what=f"a provider that does not serve {fmt.upper()} when asked shows no choice of format")


def _how(via: str, media: str) -> dict:
    if via == "_format":
        return {"params": [("_format", media)], "headers": NO_ACCEPT}
    return {"headers": {"Accept": media}}


@pytest.mark.title("{interaction} answers FHIR JSON (application/fhir+json) when asked by {via}")
@pytest.mark.requirement("GEN-CT-001a")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_json(gpc, verify, test_data, interaction, via):
    base = _base(gpc, verify, test_data, interaction)
    ex = _call(gpc, interaction, base, f"{interaction} as JSON by {via}", **_how(via, JSON))
    verify(_answered(verify, ex, interaction, base, "the answer whose JSON is judged"),
           http.media_type("json", "GEN-CT-001a"), http.in_format("json", "GEN-CT-001a"))


@pytest.mark.title("{interaction} answers FHIR XML (application/fhir+xml) when asked by {via}")
@pytest.mark.requirement("GEN-CT-001b")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_xml(gpc, verify, test_data, interaction, via):
    test_data.capability("xml")
    base = _base(gpc, verify, test_data, interaction)
    ex = _call(gpc, interaction, base, f"{interaction} as XML by {via}", **_how(via, XML))
    verify(_answered(verify, ex, interaction, base, "the answer whose XML is judged"),
           http.media_type("xml", "GEN-CT-001b"), http.in_format("xml", "GEN-CT-001b"))


PRECEDENCE = ["metadata.read", "patient.read", "organization.find"]


@pytest.mark.title("{interaction}: _format={wins} overrides Accept")
@pytest.mark.requirement("GEN-CT-002")
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", PRECEDENCE)
def test_format_param_overrides_accept(gpc, verify, test_data, interaction, wins):
    if wins == "xml":
        test_data.capability("xml")
    base = _base(gpc, verify, test_data, interaction)
    _formats_served(gpc, verify, test_data, interaction, base)
    loses = XML if wins == "json" else JSON
    ex = _call(gpc, interaction, base, f"{interaction}: Accept {loses}, _format {wins}",
               params=[("_format", http.FHIR_MEDIA[wins])], headers={"Accept": loses})
    verify(_answered(verify, ex, interaction, base, "the answer whose format is judged"),
           http.in_format(wins, "GEN-CT-002"))


@pytest.mark.title("{interaction}: {via} asking for {wins} decides over a request Content-Type naming the other format")
@pytest.mark.requirement("GEN-CT-010")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", PRECEDENCE)
def test_accept_or_format_over_content_type(gpc, verify, test_data, interaction, wins, via):
    if wins == "xml":
        test_data.capability("xml")
    base = _base(gpc, verify, test_data, interaction)
    _formats_served(gpc, verify, test_data, interaction, base)
    other = "xml" if wins == "json" else "json"
    how = _how(via, http.FHIR_MEDIA[wins])
    how["headers"] = {**how["headers"], "Content-Type": http.FHIR_MEDIA[other] + ";charset=utf-8"}
    ex = _call(gpc, interaction, base, f"{interaction}: {via} {wins}, request Content-Type {other}", **how)
    verify(_answered(verify, ex, interaction, base, "the answer whose format is judged"),
           http.in_format(wins, "GEN-CT-010"))


@pytest.mark.title("With neither Accept nor _format, {interaction} answers in the request's Content-Type ({fmt})")
@pytest.mark.requirement("GEN-CT-003")
@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("interaction", ["metadata.read", "patient.register"])
def test_content_type_sets_format(gpc, verify, test_data, interaction, fmt):
    if fmt == "xml":
        test_data.capability("xml")
    base = _base(gpc, verify, test_data, interaction)
    _formats_served(gpc, verify, test_data, interaction, base)
    media = http.FHIR_MEDIA[fmt] + ";charset=utf-8"
    overrides: dict = {"headers": {**NO_ACCEPT, "Content-Type": media}}
    if interaction == "patient.register" and fmt == "xml":
        # The same harmless empty Parameters, in XML: it cannot register anyone.
        overrides["body"] = model_for("Parameters").model_validate(probes.HARMLESS_REGISTER_BODY).model_dump_xml()
    ex = _call(gpc, interaction, base, f"{interaction} with Content-Type {fmt}, no Accept", **overrides)
    verify(_answered(verify, ex, interaction, base, "the answer whose format is judged"),
           http.in_format(fmt, "GEN-CT-003"))


@pytest.mark.title("With no Accept, _format or Content-Type, {interaction} answers JSON")
@pytest.mark.requirement("GEN-CT-004")
@pytest.mark.parametrize("interaction", probes.SERVED)
def test_default_json(gpc, verify, test_data, interaction):
    base = _base(gpc, verify, test_data, interaction)
    _formats_served(gpc, verify, test_data, interaction, base)
    ex = _call(gpc, interaction, base, f"{interaction} with no format asked", headers=NO_ACCEPT)
    verify(_answered(verify, ex, interaction, base, "the answer whose format is judged"),
           http.in_format("json", "GEN-CT-004"))


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
    ex = _call(gpc, "metadata.read", {}, f"metadata asking for {case}", **UNSUPPORTED[case])
    verify(verify.answered(ex), http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))


@pytest.mark.title("Register with a text/plain request body is answered 415 Unsupported Media Type")
@pytest.mark.requirement("GEN-CT-005")
def test_unsupported_request_body(gpc, verify, test_data):
    ex = _call(gpc, "patient.register", _base(gpc, verify, test_data, "patient.register"),
               "register with a text/plain body", body=b"register me", headers={"Content-Type": "text/plain"})
    verify(verify.answered(ex), http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))


# Media types that name neither JSON nor XML (nor a wildcard): no GP Connect provider serves them.
_media_types = st.from_regex(r"(application|text|image|audio|x-[a-z]{1,8})/[a-z][a-z0-9.+-]{0,24}", fullmatch=True) \
    .filter(lambda m: "json" not in m and "xml" not in m)


@pytest.mark.title("Generated non-FHIR media types in Accept are all answered 415")
@pytest.mark.requirement("GEN-CT-005")
def test_generated_unsupported_accept(gpc, verify):
    examples = Examples()

    @given(media=_media_types)
    def prop(media: str) -> None:
        ex = _call(gpc, "metadata.read", {}, f"metadata with Accept: {media}", headers={"Accept": media})
        examples.judge(ex, http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING),
                       label=f"Accept: {media}")

    check_property(verify, prop, examples)


def _charset_probe(gpc, verify, test_data, case: str) -> Exchange:
    """The answer whose charset is judged: the CapabilityStatement in JSON or in XML, or a refusal."""
    if case == "JSON success":
        ex = _call(gpc, "metadata.read", {}, "metadata as JSON")
        _answered(verify, ex, "metadata.read", {}, "the JSON answer whose charset is judged")
        return verify.needs(ex, http.in_format("json", "GEN-CT-001a"), what="the JSON answer whose charset is judged")
    if case == "XML success":
        test_data.capability("xml")
        ex = _call(gpc, "metadata.read", {}, "metadata as XML", headers={"Accept": XML})
        _answered(verify, ex, "metadata.read", {}, "the XML answer whose charset is judged")
        return verify.needs(ex, http.in_format("xml", "GEN-CT-001b"), what="the XML answer whose charset is judged")
    ex = verify.answered(_call(gpc, "metadata.read", {}, "metadata without Ssp-TraceID (an error)",
                               headers={"Ssp-TraceID": None}))
    return verify.needs(ex, http.status(400, "GEN-HDR-006"), what="the refusal whose charset is judged")


@pytest.mark.title("Content-Type declares charset=utf-8 and the body is UTF-8 ({case})")
@pytest.mark.requirement("GEN-CT-006a")
@pytest.mark.parametrize("case", ["JSON success", "XML success", "JSON error"])
def test_charset(gpc, verify, test_data, case):
    verify(_charset_probe(gpc, verify, test_data, case), http.charset_utf8("GEN-CT-006a", reading=CHARSET_READING))


@pytest.mark.title("Content-Type writes ';charset=utf-8' without a space ({case})")
@pytest.mark.requirement("GEN-CT-006b")
@pytest.mark.parametrize("case", ["JSON success", "XML success", "JSON error"])
def test_charset_unspaced(gpc, verify, test_data, case):
    verify(_charset_probe(gpc, verify, test_data, case),
           http.charset_unspaced("GEN-CT-006b", reading=CHARSET_READING))


CHUNKED_READING = ("CT-CHUNKED: what a consumer can observe of a provider's chunked-encoding support is that it "
                   "reads a request body sent chunked; whether it chunks its own responses is its choice")


def read_like(plain: Exchange) -> Check:
    """Sent chunked, the request gets the answer it must get (Register's 422 INVALID_RESOURCE for the empty
    Parameters), the same as sent with Content-Length."""
    expected = probes.kind_check("patient.register")

    def codes(ex: Exchange) -> list[str]:
        body = probes.body_of(ex)
        return sorted(map(str, outcome.spine_codes(body))) if body else []

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        wrong = [j.message for j in expected(ex) if not j.met]
        if wrong:
            return [f"sent chunked, the request was not read as it is with Content-Length: {wrong[0]}"]
        if (ex.response.status, codes(ex)) != (plain.status, codes(plain)):
            return [f"sent chunked, the request was answered {ex.response.status} {', '.join(codes(ex))} instead of "
                    f"{plain.status} {', '.join(codes(plain))}"]
        return []

    return Check("GEN-CT-007", rule, "sent chunked, the request got the answer it gets with Content-Length "
                                     "(422 INVALID_RESOURCE for the empty Parameters)", reading=CHUNKED_READING)


@pytest.mark.title("A request body sent with Transfer-Encoding: chunked is read like one with Content-Length")
@pytest.mark.requirement("GEN-CT-007")
def test_chunked_request_body(gpc, verify, test_data):
    kwargs = _base(gpc, verify, test_data, "patient.register")
    plain = gpc.call("patient.register", **kwargs, label="register probe with Content-Length")
    _answered(verify, plain, "patient.register", kwargs, "the answer with Content-Length, the one to compare with")
    chunked = verify.answered(gpc.call("patient.register", **kwargs, chunked=True,
                                       label="the same register probe sent chunked"))
    verify(chunked, read_like(plain))


@pytest.mark.title("{interaction} answers gzip-compressed when the request sends Accept-Encoding: gzip")
@pytest.mark.requirement("GEN-CT-008")
@pytest.mark.parametrize("interaction", ["metadata.read", "location.read"])
def test_gzip(gpc, verify, test_data, interaction):
    test_data.capability("gzip")
    base = _base(gpc, verify, test_data, interaction)
    ex = _call(gpc, interaction, base, f"{interaction} with Accept-Encoding: gzip", headers={"Accept-Encoding": "gzip"})
    verify(_answered(verify, ex, interaction, base, "the answer whose encoding is judged"),
           http.gzip_encoded("GEN-CT-008"), http.in_format("json", "GEN-CT-008"))
