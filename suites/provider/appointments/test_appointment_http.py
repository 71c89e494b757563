"""Content negotiation, charset, caching, Prefer and other common HTTP rules on the Appointment
Management interactions.

The common rules the Foundations suite checks on its own interactions (GEN-CT-*, GEN-HTTP-001,
GEN-HDR-008, GEN-HTTP-007b), asked here of search for free slots, read, retrieve, book, amend and
cancel, plus how create and update answer Prefer (GEN-HTTP-005a/b). Every request is one a consumer
could send for real: read, retrieve, amend and cancel work on an appointment the test booked, and
everything booked is cancelled when the test ends (`booker`), however the target answered.

The booking a request works on is a precondition (charged to APT-BOOK-015). A common rule is judged only
on an answer about what was asked (`Prepared.identity`: the range searched, the appointment booked, read,
amended or cancelled, the patient retrieved); an answer about something else is charged to that
interaction's own requirement and leaves the common rule not judged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures import probes
from gpc_assure.checks import appointment as rules
from gpc_assure.checks import http, outcome, slot
from gpc_assure.checks.core import Check
from gpc_assure.checks.outcome import body_as_json
from gpc_assure.diary_client import ALL_RECURSE, Booker, Diary, day, require
from gpc_assure.fhir import booking, uktime
from gpc_assure.fhir.parse import model_for, validate_structure
from gpc_assure.transport.client import GpcClient
from gpc_assure.transport.exchange import Exchange
from gpc_assure.transport.interactions import PREFIX

JSON, XML = http.FHIR_MEDIA["json"], http.FHIR_MEDIA["xml"]
NO_ACCEPT = {"Accept": None}
READS = ("slot.search", "appointment.read", "appointment.retrieve")
WRITES = ("appointment.book", "appointment.amend", "appointment.cancel")
INTERACTIONS = (*READS, *WRITES)
CHARSET_READING = ("D-14: ';charset=utf-8' (general guidance) and '; charset=utf-8' (Register example) are alike "
                   "to HTTP; the space is judged as a SHOULD on its own")
UNSUPPORTED_READING = "CT-415: the guidance asks for 415 and names no Spine code; the status is judged, not the body"
REASON = "Cancelled by the conformance suite's content-type test"
UNKNOWN_ID = "gpc-assure-unknown-id"


@dataclass
class Prepared:
    """A well-formed request of one appointment interaction, sent with whatever a test overrides.

    `answered` says the interaction did what was asked (a precondition charged to its own requirement:
    the search answered a searchset, the booking 201 with the appointment booked...); `identity` says a
    successful answer is about what was asked, and is judged only where there is something to compare.
    """

    interaction: str
    kwargs: dict[str, Any]  # gpc.call keyword arguments
    via: Callable[..., Exchange]  # gpc.call, or the booker's book (which tracks what it creates)
    verify: Any
    answered: tuple[Check, ...]
    identity: tuple[Check, ...]

    def send(self, label: str, body_format: str = "json", **overrides: Any) -> Exchange:
        kwargs = probes.merged(self.kwargs, **overrides)
        if body_format == "xml":
            kwargs["body"] = as_xml(self.verify, kwargs["body"])
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Type": XML + ";charset=utf-8"}
        return self.via(self.interaction, label=label, **kwargs)

    def served(self, ex: Exchange, what: str) -> Exchange:
        """A success this test judges a common rule on (a precondition of the interaction's own rules)."""
        return require(self.verify, ex, *self.answered, identity=self.identity, what=what)

    def judged(self, ex: Exchange, own: Check | tuple[Check, ...], what: str) -> Exchange:
        """An answer whose success is the test's own rule (`own`): a refusal fails `own`; an answer about
        something else is charged to the interaction's requirement and leaves `own` not judged."""
        checks = own if isinstance(own, tuple) else (own,)
        return require(self.verify, ex, *checks, identity=self.identity, what=what)


def as_xml(verify: Any, resource_json: dict[str, Any]) -> bytes:
    """The same FHIR resource written as FHIR XML. A resource the target returned that is not valid STU3 (it
    cannot be written as XML) is charged to APT-PRF-003 in plain words, and the test stops."""
    problems = validate_structure(resource_json)
    if problems:
        verify.stop(f"the Appointment the target returned is not a valid STU3 resource, so it cannot be sent back as "
                    f"XML: {problems[0]}", cause="APT-PRF-003")
    return model_for(resource_json["resourceType"]).model_validate(resource_json).model_dump_xml()


def served_check(requirement: str, what: str) -> Check:
    """The request was served (2xx): a common rule about how success is answered needs one."""
    return Check(requirement, lambda ex: [] if 200 <= ex.response.status < 300 else
                 [f"{what} was answered HTTP {ex.response.status}, not served"], f"{what} was served")


def _amended(appt: dict[str, Any]) -> dict[str, Any]:
    body = booking.for_update(appt)
    body["description"] = "Amended by the conformance suite's content-type test"
    return body


def _if_match(appt: dict[str, Any]) -> dict[str, str]:
    return {"If-Match": f'W/"{booking.version_of(appt)}"'}


def _start_day(appt: dict[str, Any]) -> str:
    start = uktime.parse_instant(appt.get("start"))
    return start.astimezone(uktime.LONDON).date().isoformat() if start else day(0)


def prepare(interaction: str, gpc: GpcClient, diary: Diary, booker: Booker, verify: Any) -> Prepared:
    """The request a consumer would send, booking the appointment it works on where it needs one."""
    call = gpc.call
    if interaction == "slot.search":
        # Two days keep the searchset (and its XML) small while it still holds slots and all includes.
        lo, hi = f"ge{day(0)}", f"le{day(1)}"
        return Prepared(interaction, {"params": diary.params(lo, hi, recurse=ALL_RECURSE)}, call, verify,
                        (slot.answered("APT-SLOT-012"),), (slot.in_range(lo, hi, "APT-SLOT-013"),))
    if interaction == "appointment.book":
        body = booker.payload([diary.slot()])
        return Prepared(interaction, {"body": body}, lambda _interaction, **kw: booker.book(**kw), verify,
                        (rules.made(body, "APT-BOOK-015"),), (rules.about_booking(body, "APT-BOOK-015"),))
    if interaction == "appointment.retrieve":
        # The latest free slot: a day few other tests book, so the searchset (and its XML) stays small.
        appt = booker.booked([diary.free(enough=50)[-1]], description=f"booked to test {interaction}")
    else:
        appt = booker.booked(diary=diary, description=f"booked to test {interaction}")
    aid = appt["id"]
    if interaction == "appointment.read":
        return Prepared(interaction, {"path_params": {"id": aid}}, call, verify,
                        (rules.is_appointment(aid, "APT-READ-001", what="the read"),),
                        (rules.about(aid, "APT-READ-001"),))
    if interaction == "appointment.retrieve":
        on, pid = _start_day(appt), booker.patient_id()
        params = [("start", f"ge{on}"), ("start", f"le{on}")]
        return Prepared(interaction, {"path_params": {"id": pid}, "params": params}, call, verify,
                        (rules.retrieved(pid, "APT-RET-006"),), (rules.about_patient(pid, "APT-RET-006"),))
    if interaction == "appointment.amend":
        body, req, what = _amended(appt), "APT-AMD-007", "the amend"
    else:
        body, req, what = booking.cancellation(appt, REASON), "APT-CAN-005", "the cancel"
    return Prepared(interaction, {"path_params": {"id": aid}, "body": body, "headers": _if_match(appt)}, call, verify,
                    (rules.is_appointment(aid, req, what=what),), (rules.about(aid, req),))


def _how(via: str, media: str) -> dict[str, Any]:
    if via == "_format":
        return {"params": [("_format", media)], "headers": NO_ACCEPT}
    return {"headers": {"Accept": media}}


def _need_xml(gpc: GpcClient, diary: Diary, verify: Any, test_data: Any) -> None:
    """XML must be served on appointment interactions at all before precedence towards it can be judged: a
    target declaring XML that serves none is charged to GEN-CT-001b, and the test stops."""
    test_data.capability("xml")
    probe = gpc.call("slot.search", params=[*diary.params(f"ge{day(0)}", f"le{day(0)}"), ("_format", XML)],
                     headers=NO_ACCEPT, label="is XML served on appointment interactions at all?")
    verify.needs(probe, http.in_format("xml", "GEN-CT-001b"), what="FHIR XML served on appointment interactions")


# -- formats ---------------------------------------------------------------------------------------

@pytest.mark.creates_data
@pytest.mark.title("{interaction} answers FHIR JSON, application/fhir+json;charset=utf-8, when asked by {via}")
@pytest.mark.requirement("GEN-CT-001a", "GEN-CT-006a", "GEN-CT-006b")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_answers_json(gpc, diary, booker, verify, interaction, via):
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction} as JSON by {via}", **_how(via, JSON))
    request.judged(ex, served_check("GEN-CT-001a", f"{interaction} asking for JSON by {via}"),
                   f"the JSON answer of {interaction}")
    verify(ex, http.media_type("json", "GEN-CT-001a"), http.in_format("json", "GEN-CT-001a"),
           http.charset_utf8("GEN-CT-006a", reading=CHARSET_READING),
           http.charset_unspaced("GEN-CT-006b", reading=CHARSET_READING))


@pytest.mark.creates_data
@pytest.mark.title("{interaction} answers valid FHIR XML, application/fhir+xml;charset=utf-8, when asked by {via}")
@pytest.mark.requirement("GEN-CT-001b", "GEN-CT-006a", "GEN-CT-006b")
@pytest.mark.parametrize("via", ["Accept", "_format"])
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_answers_xml(gpc, diary, booker, verify, test_data, interaction, via):
    test_data.capability("xml")
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction} as XML by {via}", **_how(via, XML))
    request.judged(ex, served_check("GEN-CT-001b", f"{interaction} asking for XML by {via}"),
                   f"the XML answer of {interaction}")
    verify(ex, http.media_type("xml", "GEN-CT-001b"), http.in_format("xml", "GEN-CT-001b"),
           http.charset_utf8("GEN-CT-006a", reading=CHARSET_READING),
           http.charset_unspaced("GEN-CT-006b", reading=CHARSET_READING))


@pytest.mark.creates_data
@pytest.mark.title("{interaction}: _format={wins} overrides Accept")
@pytest.mark.requirement("GEN-CT-002")
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_format_param_overrides_accept(gpc, diary, booker, verify, test_data, interaction, wins):
    if wins == "xml":
        _need_xml(gpc, diary, verify, test_data)
    loses = XML if wins == "json" else JSON
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction}: Accept {loses}, _format {wins}", params=[("_format", http.FHIR_MEDIA[wins])],
                      headers={"Accept": loses})
    request.judged(ex, (served_check("GEN-CT-002", f"{interaction} with Accept {loses} and _format {wins}"),
                        http.in_format(wins, "GEN-CT-002")), f"the answer of {interaction} in {wins}")


@pytest.mark.creates_data
@pytest.mark.title("{interaction}: _format={wins} overrides the request body's Content-Type")
@pytest.mark.requirement("GEN-CT-002")
@pytest.mark.parametrize("wins", ["json", "xml"])
@pytest.mark.parametrize("interaction", WRITES)
def test_format_param_overrides_content_type(gpc, diary, booker, verify, test_data, interaction, wins):
    _need_xml(gpc, diary, verify, test_data)  # one of the body and the answer is XML
    sent = "xml" if wins == "json" else "json"
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction}: {sent} body, no Accept, _format {wins}", body_format=sent,
                      params=[("_format", http.FHIR_MEDIA[wins])], headers=NO_ACCEPT)
    request.judged(ex, (served_check("GEN-CT-002", f"{interaction} with a {sent} body and _format {wins}"),
                        http.in_format(wins, "GEN-CT-002")), f"the answer of {interaction} in {wins}")


@pytest.mark.creates_data
@pytest.mark.title("With neither Accept nor _format, {interaction} answers in the request body's format ({fmt})")
@pytest.mark.requirement("GEN-CT-003")
@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("interaction", WRITES)
def test_content_type_sets_format(gpc, diary, booker, verify, test_data, interaction, fmt):
    if fmt == "xml":
        _need_xml(gpc, diary, verify, test_data)
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction} with a {fmt} body, no Accept", body_format=fmt, headers=NO_ACCEPT)
    request.judged(ex, (served_check("GEN-CT-003", f"{interaction} with a {fmt} body and no Accept"),
                        http.in_format(fmt, "GEN-CT-003")), f"the answer of {interaction} to a {fmt} body")


@pytest.mark.creates_data
@pytest.mark.title("With no Accept, _format or Content-Type, {interaction} answers JSON")
@pytest.mark.requirement("GEN-CT-004")
@pytest.mark.parametrize("interaction", READS)
def test_default_json(gpc, diary, booker, verify, interaction):
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction} with no format asked", headers=NO_ACCEPT)
    request.judged(ex, (served_check("GEN-CT-004", f"{interaction} with no format asked"),
                        http.in_format("json", "GEN-CT-004")), f"the answer of {interaction} with no format asked")


UNSUPPORTED = {
    "Accept: application/pdf": {"headers": {"Accept": "application/pdf"}},
    "_format=text/html": {"params": [("_format", "text/html")], "headers": NO_ACCEPT},
}


@pytest.mark.creates_data
@pytest.mark.title("{interaction} asking for {case} is answered 415 Unsupported Media Type")
@pytest.mark.requirement("GEN-CT-005")
@pytest.mark.parametrize("case", list(UNSUPPORTED))
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_unsupported_format(gpc, diary, booker, verify, interaction, case):
    ex = prepare(interaction, gpc, diary, booker, verify).send(f"{interaction} asking for {case}",
                                                               **UNSUPPORTED[case])
    verify(ex, http.status(415, "GEN-CT-005", reading=UNSUPPORTED_READING))


# -- caching ---------------------------------------------------------------------------------------

@pytest.mark.creates_data
@pytest.mark.title("A successful {interaction} carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_cache_control_on_success(gpc, diary, booker, verify, interaction):
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.served(request.send(interaction), f"the {interaction} whose Cache-Control this test reads")
    verify(ex, http.cache_control_no_store("GEN-HTTP-001"))


# A request of each interaction the provider must refuse, and the requirement that says so.
REFUSED_BY = {"slot.search": "APT-SLOT-006", "appointment.read": "APT-READ-003",
              "appointment.retrieve": "APT-RET-003", "appointment.book": "APT-BOOK-019",
              "appointment.amend": "APT-AMD-002", "appointment.cancel": "APT-CAN-008"}


def _refusal(interaction: str, diary: Diary, booker: Booker) -> Exchange:
    """A request of this interaction the provider must refuse (its own tests judge the refusal)."""
    if interaction == "slot.search":
        return diary.search(f"ge{day(0)}", f"le{day(30)}", label="search 30 days ahead (longer than 14)")
    if interaction == "appointment.read":
        return booker.read(UNKNOWN_ID, label="read an unknown appointment")
    if interaction == "appointment.retrieve":
        return booker.retrieve(booker.patient_id(), day(-1), day(1), label="retrieve from yesterday (in the past)")
    if interaction == "appointment.book":
        body = booker.payload([diary.slot()])
        del body["slot"]
        return booker.book(body, label="book without a slot")
    appt = booker.booked(diary=diary, description=f"booked to have {interaction} refused")
    if interaction == "appointment.amend":
        body = _amended(appt)
        body["start"] = uktime.format_local(uktime.parse_instant(body["start"]) + dt.timedelta(minutes=10))
        return booker.amend(appt["id"], body, booking.version_of(appt), label="amend changing the start time")
    return booker.cancel(appt, body=booking.cancellation(appt, ""), label="cancel with an empty reason")


@pytest.mark.creates_data
@pytest.mark.title("A refused {interaction} carries Cache-Control: no-store")
@pytest.mark.requirement("GEN-HTTP-001")
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_cache_control_on_refusal(diary, booker, verify, interaction):
    ex = _refusal(interaction, diary, booker)
    verify.needs(ex, http.error_status(REFUSED_BY[interaction]), what=f"the refused {interaction}")
    verify(ex, http.cache_control_no_store("GEN-HTTP-001"))


# -- Prefer ----------------------------------------------------------------------------------------

PREFER = {"no Prefer header": {}, "Prefer: return=representation": {"Prefer": "return=representation"}}


@pytest.mark.creates_data
@pytest.mark.title("{interaction} with {prefer} answers with the whole Appointment")
@pytest.mark.requirement("GEN-HTTP-005a")
@pytest.mark.parametrize("prefer", list(PREFER))
@pytest.mark.parametrize("interaction", WRITES)
def test_prefer_representation(gpc, diary, booker, verify, interaction, prefer):
    request = prepare(interaction, gpc, diary, booker, verify)
    ex = request.send(f"{interaction} with {prefer}", headers=PREFER[prefer])
    request.judged(ex, (served_check("GEN-HTTP-005a", f"{interaction} with {prefer}"),
                        rules.returned("GEN-HTTP-005a")), f"the answer of {interaction} with {prefer}")


def _success(interaction: str) -> Check:
    """Book answers 201, amend and cancel 200 (each interaction's own requirement), whatever the body."""
    status, requirement = {"appointment.book": (201, "APT-BOOK-015"), "appointment.amend": (200, "APT-AMD-007"),
                           "appointment.cancel": (200, "APT-CAN-005")}[interaction]
    return http.status(status, requirement)


@pytest.mark.creates_data
@pytest.mark.title("{interaction} with Prefer: return=minimal answers success with an empty body")
@pytest.mark.requirement("GEN-HTTP-005b")
@pytest.mark.parametrize("interaction", WRITES)
def test_prefer_minimal(gpc, diary, booker, verify, interaction):
    ex = prepare(interaction, gpc, diary, booker, verify).send(f"{interaction} with Prefer: return=minimal",
                                                               headers={"Prefer": "return=minimal"})
    verify.needs(ex, _success(interaction), what=f"the {interaction} asked to return nothing")
    body = ex.response.body.strip() if ex.response else b""
    verify.that(not body, "GEN-HTTP-005b", f"return=minimal was answered with a {len(body)}-byte body", exchange=ex,
                held=f"{interaction} with Prefer: return=minimal was answered with an empty body")


# -- Ssp-InteractionID and search parameters -------------------------------------------------------

# Another interaction's ID for each endpoint (never one the same URL and verb also serve).
WRONG_INTERACTION = {
    "slot.search": "rest:search:patient_appointments-1",
    "appointment.read": "rest:read:patient-1",
    "appointment.retrieve": "rest:search:patient-1",
    "appointment.book": "rest:read:appointment-1",
    "appointment.amend": "rest:create:appointment-1",
    "appointment.cancel": "rest:read:appointment-1",
}


@pytest.mark.creates_data
@pytest.mark.title("{interaction} sent with another interaction's Ssp-InteractionID is refused 400 BAD_REQUEST, "
                   "Cache-Control: no-store")
@pytest.mark.requirement("GEN-HDR-008", "GEN-HTTP-001")
@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_wrong_interaction_id(gpc, diary, booker, verify, interaction):
    wrong = PREFIX + WRONG_INTERACTION[interaction]
    ex = prepare(interaction, gpc, diary, booker, verify).send(f"{interaction} sent as {wrong}",
                                                               headers={"Ssp-InteractionID": wrong})
    verify(ex, outcome.operation_outcome(400, "BAD_REQUEST", "GEN-HDR-008"),
           http.cache_control_no_store("GEN-HTTP-001"))


def _ids(ex: Exchange) -> set[str]:
    body = body_as_json(ex)
    return {str(e.get("resource", {}).get("id")) for e in (body or {}).get("entry") or [] if isinstance(e, dict)} \
        if isinstance(body, dict) else set()


EXTRA_PARAMETERS = {"_sort=start": ("_sort", "start"), "an unknown parameter": ("gpcAssureUnknownParameter", "1")}


@pytest.mark.creates_data
@pytest.mark.title("{interaction} ignores a parameter it does not use ({extra})")
@pytest.mark.requirement("GEN-HTTP-007b")
@pytest.mark.parametrize("extra", list(EXTRA_PARAMETERS))
@pytest.mark.parametrize("interaction", ["slot.search", "appointment.retrieve"])
def test_unused_search_parameter_ignored(gpc, diary, booker, verify, interaction, extra):
    request = prepare(interaction, gpc, diary, booker, verify)
    plain = request.served(request.send(interaction), f"the plain {interaction} to compare with")
    expected = _ids(plain)
    if not expected:
        verify.stop(f"the plain {interaction} returned nothing, so an ignored parameter cannot be told from one "
                    "that hides everything")
    ex = request.send(f"{interaction} with {extra}", params=[EXTRA_PARAMETERS[extra]])
    request.judged(ex, served_check("GEN-HTTP-007b", f"{interaction} with {extra}"), f"{interaction} with {extra}")
    got = _ids(ex)
    verify.that(got == expected, "GEN-HTTP-007b", f"with {extra} the search returned {len(got)} entries, "
                f"{len(expected - got)} of the {len(expected)} expected left out and {len(got - expected)} added",
                exchange=ex, held=f"with {extra} the search returned the same {len(expected)} entries as without it")
