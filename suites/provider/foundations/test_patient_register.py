"""Register a patient (POST /Patient/$gpc.registerpatient), and the find -> register flow around it.

Registrations cannot be undone through GP Connect, so every test here is `creates_data` and reports
what it registered. Tests run in file order: first those a conformant provider answers with an
error (nothing is created), then the ones that register, then those that rely on a registration.
Invalid bodies are built on the `not_on_pds` NHS number, so even a provider that wrongly accepted
one could not register anybody. The tests that register take the first patient of their role that Find
shows still plays it (the target's more_patients extend a role), so repeated runs against a test
environment that is not reset give the same verdicts, and end insufficient-data once every one is used.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gpc_assure import strategies
from gpc_assure.checks import http, outcome, resources
from gpc_assure.checks import patient as rules
from gpc_assure.checks.core import condition, either
from gpc_assure.fhir import profiles
from gpc_assure.fhir.parse import model_for
from gpc_assure.outcomes import InsufficientData
from gpc_assure.target import PatientData
from gpc_assure.transport.exchange import Exchange

pytestmark = pytest.mark.creates_data

D04 = "D-04: the page's 422 INVALID_RESOURCE for missing minimum details, not the suite's 400 BAD_REQUEST"
D05 = "D-05: failing PDS verification is INVALID_PATIENT_DEMOGRAPHICS, not the suite's 400 BAD_REQUEST"
D13 = "D-13: issue type processing (error table) or exception (the page's example)"
D16 = "D-16: issue type business-rule (error page) or invalid (demonstrator)"
REG_STORE = ("REG-STORE: the record is built from what the consumer sent (a SHOULD) and address, telecom and "
             "nhsCommunication are returned where available; details just sent are read as available")
REG_ALLOWED = ("REG-ALLOWED: judged on the not_on_pds NHS number, where validating the body comes before the "
               "PDS trace: an allowed addition must leave the answer unchanged")
DEMOGRAPHICS_ISSUE = ("business-rule", "invalid")
SENT_TELECOM = ({"system": "phone", "value": "01132 000001", "use": "home"},
                {"system": "phone", "value": "07700 900001", "use": "mobile"})
# Made-up demographics for NHS numbers the target declares no demographics for.
STAND_IN = PatientData(nhs_number="0000000000", family="Assurance", given=["Tess"], birth_date="1980-01-01",
                       gender="female")


def register(gpc, body: Any, label: str) -> Exchange:
    return gpc.call("patient.register", body=body, label=label)


def patient_body(p: PatientData, **changes: Any) -> dict[str, Any]:
    """A conformant registerPatient Patient for this test patient (FND-REG-002/003).

    A patient the target gives no demographics for (not_on_pds) is sent the stand-in's, gender included,
    so a body is only without gender where a test says so (FND-REG-028).
    """
    gender = p.gender or (None if p.has_demographics else STAND_IN.gender)
    return rules.register_patient(p.nhs_number, p.family or STAND_IN.family, p.given or STAND_IN.given,
                                  p.birth_date or STAND_IN.birth_date, gender, **changes)


def body_for(p: PatientData, **changes: Any) -> dict[str, Any]:
    return rules.register_parameters(patient_body(p, **changes))


def created(ex: Exchange) -> bool:
    return ex.status is not None and 200 <= ex.status < 300


def note_if_created(ex: Exchange, left_behind, role: str, nhs: str) -> None:
    if created(ex):
        left_behind(f"Register answered {ex.status} for the {role} patient (NHS number {nhs}): the target "
                    "may now hold a temporary registration for them, which GP Connect cannot undo")


def errors(status: int, code: str, requirements: tuple[str, ...], issue_code: Any = None,
           reading: str | None = None) -> list:
    return [outcome.operation_outcome(status, code, r, issue_code=issue_code, reading=reading) for r in requirements]


def halted_on_pds(requirement: str) -> Any:
    """FND-REG-006: the registration stopped at the PDS checks (400 with one of their codes)."""
    return outcome.operation_outcome(400, ("INVALID_PATIENT_DEMOGRAPHICS", "INVALID_NHS_NUMBER"), requirement)


def found_patients(gpc, verify, nhs: str, label: str) -> tuple[list[dict[str, Any]], Exchange]:
    """The Patients Find returns for the NHS number, and the exchange.

    Precondition: Find answers a searchset (FND-FP-002) and every Patient in it is the one asked for
    (FND-FP-006); when not, the test stops with its own requirements not judged.
    """
    ex = gpc.call("patient.find", params=[rules.identifier_param(nhs)], label=label)
    verify.needs(ex, http.status(200, "FND-FP-002"), resources.searchset("FND-FP-002", entry_type="Patient"),
                 what=label)
    found = rules.patients_in(ex.json)
    if found:
        verify.needs(ex, rules.about_patient(nhs, "FND-FP-006"), what=label)
    return found, ex


def still_in_role(gpc, verify, test_data, role: str, holds, own_last: bool = False) -> PatientData:
    """The first patient the target names for `role` who still plays it, judged by what Find returns for them.

    Register uses these patients up (it reactivates or registers them) and a test environment is not reset
    between runs: when none is left, the test ends insufficient-data asking for the test data to be reset.
    """
    pool = test_data.candidates(role, demographics=True)
    if own_last:
        pool = [*pool[1:], *pool[:1]]
    for p in pool:
        found, _ = found_patients(gpc, verify, p.nhs_number,
                                  f"checking the {role} patient {p.nhs_number} still plays that role")
        if holds(found):
            return p
    raise InsufficientData(msg=f"no '{role}' patient the target names still plays the role ({len(pool)} tried: "
                               "registered by an earlier run?): reset the test data for role "
                               f"{role}, or name more patients for it under [test_data.more_patients]")


def unregistered(gpc, verify, test_data) -> PatientData:
    """A `not_registered_pds_known` patient Find does not return yet."""
    return still_in_role(gpc, verify, test_data, "not_registered_pds_known", lambda found: not found)


def still_inactive(gpc, verify, test_data) -> PatientData:
    """An `inactive` patient not yet reactivated: Find returns nobody, or only an inactive Patient (the latter is
    FND-FP-004's failure, not a change to the test data). The role's own patient is used last: Find's test of
    FND-FP-004 relies on it."""
    return still_in_role(gpc, verify, test_data, "inactive",
                         lambda found: all(f.get("active", True) is False for f in found), own_last=True)


# -- bodies a conformant provider refuses -----------------------------------------------------------
def _without(*path: str):
    def change(params: dict[str, Any]) -> None:
        target: Any = params["parameter"][0]["resource"]
        for key in path[:-1]:
            target = target[key][0] if isinstance(target[key], list) else target[key]
        del target[path[-1]]
    return change


def _set(key: str, value: Any):
    def change(params: dict[str, Any]) -> None:
        params["parameter"][0]["resource"][key] = copy.deepcopy(value)
    return change


def _name_use(params: dict[str, Any]) -> None:
    params["parameter"][0]["resource"]["name"][0]["use"] = "usual"


def _twice(params: dict[str, Any]) -> None:
    params["parameter"].append(copy.deepcopy(params["parameter"][0]))


def _renamed(params: dict[str, Any]) -> None:
    params["parameter"][0]["name"] = "patient"


def _not_parameters(params: dict[str, Any]) -> None:
    patient = params["parameter"][0]["resource"]
    params.clear()
    params.update(patient)


def _other_resource_type(params: dict[str, Any]) -> None:
    params["parameter"][0]["resource"] = {
        "resourceType": "Organization", "identifier": [{"system": profiles.ODS_ORG_SYSTEM, "value": "A12345"}],
        "name": "Not a patient"}


def _phone_twice(params: dict[str, Any]) -> None:
    params["parameter"][0]["resource"]["telecom"] = [
        {"system": "phone", "value": "01132 000001", "use": "home"},
        {"system": "phone", "value": "01132 000002", "use": "home"}]


HOME = {"use": "home", "line": ["1 Test Street"], "city": "Leeds", "postalCode": "LS1 1AA"}
TEMP = {"use": "temp", "line": ["Flat 2, 9 Harbour Road"], "city": "Whitby", "postalCode": "YO21 1AA"}
EXTRA_GIVEN = ["Avery", "Quinn", "Rowan", "Sasha", "Morgan"]
NHS_COMMUNICATION = {"url": profiles.EXT_NHS_COMMUNICATION, "extension": [
    {"url": "language", "valueCodeableConcept": {"coding": [{
        "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-HumanLanguage-1", "code": "en",
        "display": "English"}]}},
    {"url": "interpreterRequired", "valueBoolean": False}]}

# (case, change, requirements the refusal evidences, words the diagnostics should contain)
MISSING_OR_INVALID = [
    ("no birthDate", _without("birthDate"), ("FND-REG-017", "FND-REG-026"), ("birthDate",)),
    ("a birthDate that is not a date", _set("birthDate", "1980-13-45"), ("FND-REG-017",), ("birthDate",)),
    ("no official name", _name_use, ("FND-REG-017", "FND-REG-026"), ("name", "official")),
    ("no family name", _without("name", "family"), ("FND-REG-017", "FND-REG-026"), ("family",)),
    ("no given name", _without("name", "given"), ("FND-REG-017",), ("given",)),
    ("no identifier", _without("identifier"), ("FND-REG-017",), ("identifier", "NHS number")),
    ("an identifier without a system", _without("identifier", "system"), ("FND-REG-017", "FND-REG-026"),
     ("identifier", "system")),
    ("two registerPatient parameters", _twice, ("FND-REG-017", "FND-REG-026"), ("registerPatient",)),
    ("no registerPatient parameter", _renamed, ("FND-REG-017",), ("registerPatient",)),
    ("a Patient instead of Parameters", _not_parameters, ("FND-REG-017",), ("Parameters",)),
    ("an Organization as the registerPatient resource", _other_resource_type, ("FND-REG-017",),
     ("registerPatient", "Patient")),
    ("a Patient element FHIR does not define", _set("favouriteColour", "green"), ("FND-REG-017",),
     ("favouriteColour",)),
    ("two home phone numbers", _phone_twice, ("FND-REG-017", "FND-REG-026"), ("telecom", "phone")),
]

DISALLOWED = [
    ("active", _set("active", True), ("active",)),
    ("multipleBirth", _set("multipleBirthBoolean", False), ("multipleBirth",)),
    ("generalPractitioner", _set("generalPractitioner", [{"reference": "Practitioner/1"}]), ("generalPractitioner",)),
    ("contact", _set("contact", [{"relationship": [{"text": "Next of kin"}],
                                  "name": {"use": "official", "family": "Kin"}}]), ("contact",)),
    ("managingOrganization", _set("managingOrganization", {"reference": "Organization/1"}), ("managingOrganization",)),
    ("maritalStatus", _set("maritalStatus", {"coding": [{"system": "http://hl7.org/fhir/v3/MaritalStatus",
                                                         "code": "S", "display": "Never Married"}]}),
     ("maritalStatus",)),
    ("animal", _set("animal", {"species": {"coding": [{"system": "http://hl7.org/fhir/animal-species",
                                                       "code": "canislf", "display": "Dog"}]}}), ("animal",)),
    ("communication", _set("communication", [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                                       "code": "en"}]}}]), ("communication",)),
    ("photo", _set("photo", [{"contentType": "image/png", "data": "iVBORw0KGgo="}]), ("photo",)),
    ("deceased", _set("deceasedBoolean", False), ("deceased",)),
    ("two home addresses", _set("address", [HOME, {**HOME, "line": ["2 Test Street"]}]), ("address",)),
    ("a work address", _set("address", [{**HOME, "use": "work"}]), ("address", "work")),
    ("an old address", _set("address", [{**HOME, "use": "old"}]), ("address", "old")),
    ("two nhsCommunication extensions", _set("extension", [NHS_COMMUNICATION, NHS_COMMUNICATION]),
     ("nhsCommunication", "extension")),
]


def _refused(gpc, verify, test_data, left_behind, case, change, requirements, words, accept_system_error=False):
    p = test_data.patient("not_on_pds")
    params = body_for(p)
    change(params)
    ex = register(gpc, params, label="register an invalid body")
    note_if_created(ex, left_behind, "not_on_pds", p.nhs_number)
    checks = errors(422, "INVALID_RESOURCE", (*requirements, "ERR-009"), issue_code="invalid", reading=D04)
    if accept_system_error:
        checks = [either(c, outcome.operation_outcome(400, "INVALID_IDENTIFIER_SYSTEM", r, reading=D04))
                  for c, r in zip(checks, (*requirements, "ERR-009"), strict=True)]
    verify(ex, *checks, rules.diagnostics_mention(words, "FND-REG-023"))
    for rid in set(verify.declared or ()) - {*requirements, "FND-REG-023", "ERR-009"}:
        verify.not_judged(rid, f"a body with {case} is not one of the cases {rid} is about")


@pytest.mark.title("Register with {case} answers 422 INVALID_RESOURCE naming what is wrong")
@pytest.mark.requirement("FND-REG-017", "FND-REG-026", "FND-REG-023", "ERR-009")
@pytest.mark.parametrize("case,change,requirements,words", MISSING_OR_INVALID, ids=[c[0] for c in MISSING_OR_INVALID])
def test_register_refuses_invalid_body(gpc, verify, test_data, left_behind, case, change, requirements, words):
    _refused(gpc, verify, test_data, left_behind, case, change, requirements, words,
             accept_system_error=case == "an identifier without a system")


@pytest.mark.title("Register with {case} in the Patient answers 422 INVALID_RESOURCE naming it")
@pytest.mark.requirement("FND-REG-024", "FND-REG-023", "ERR-009")
@pytest.mark.parametrize("case,change,words", DISALLOWED, ids=[c[0] for c in DISALLOWED])
def test_register_refuses_disallowed_elements(gpc, verify, test_data, left_behind, case, change, words):
    _refused(gpc, verify, test_data, left_behind, case, change, ("FND-REG-024",), words)


# -- bodies a conformant provider takes ------------------------------------------------------------
def _add_given(n: int):
    def change(patient: dict[str, Any]) -> None:
        patient["name"][0]["given"] = [*patient["name"][0]["given"], *EXTRA_GIVEN[:n]]
    return change


def _patient_set(key: str, value: Any):
    def change(patient: dict[str, Any]) -> None:
        patient[key] = copy.deepcopy(value)
    return change


def _no_gender(patient: dict[str, Any]) -> None:
    patient.pop("gender", None)


def _second_name(patient: dict[str, Any]) -> None:
    patient["name"].append({"use": "usual", "family": "Assured", "given": ["Sam"]})


def _contact_details(patient: dict[str, Any]) -> None:
    patient.update(address=[copy.deepcopy(HOME)], telecom=[dict(SENT_TELECOM[0])],
                   extension=[copy.deepcopy(NHS_COMMUNICATION)])


# (case, change to the registerPatient Patient)
ALLOWED = [
    ("no gender", _no_gender),
    ("one extra given name", _add_given(1)),
    ("two extra given names", _add_given(2)),
    ("five extra given names", _add_given(5)),
    ("a home address", _patient_set("address", [HOME])),
    ("a second, usual name", _second_name),
    ("a work phone number", _patient_set("telecom", [{"system": "phone", "value": "0113 496 0000", "use": "work"}])),
    ("a temporary phone number and an email address", _patient_set("telecom", [
        {"system": "phone", "value": "07700 900002", "use": "temp"},
        {"system": "email", "value": "assurance@example.org", "use": "home"}])),
    ("a home and a temporary address", _patient_set("address", [HOME, TEMP])),
    ("a temporary and a home address", _patient_set("address", [TEMP, HOME])),
    ("an address, a telecom and an nhsCommunication", _contact_details),
]


def _answer(ex: Exchange) -> tuple[int | None, list[str]]:
    body = outcome.body_as_json(ex)
    return ex.status, sorted(outcome.spine_codes(body)) if isinstance(body, dict) else []


@pytest.mark.title("Register with {case} is not refused: answered as the same Patient without it")
@pytest.mark.requirement("FND-REG-028")
@pytest.mark.parametrize("case,change", ALLOWED, ids=[c[0] for c in ALLOWED])
def test_register_accepts_allowed_content(gpc, verify, test_data, left_behind, case, change):
    # Built on the not_on_pds NHS number, so a conformant provider answers both bodies with PDS's
    # refusal and nobody is registered; an addition it wrongly refuses as invalid changes the answer.
    p = test_data.patient("not_on_pds")
    plain = patient_body(p)
    base = register(gpc, rules.register_parameters(plain), label="register the plain body (not on PDS)")
    note_if_created(base, left_behind, "not_on_pds", p.nhs_number)
    # The plain body must get the expected answer, PDS's refusal: only then does "answered the same" mean
    # the addition was taken (two equal 500s, or two equal 302s, would show nothing).
    verify.needs(base, outcome.operation_outcome(400, "INVALID_PATIENT_DEMOGRAPHICS", "FND-REG-018",
                                                 issue_code=DEMOGRAPHICS_ISSUE, reading=D16),
                 what="the plain body, for an NHS number PDS does not hold, must be refused by the PDS check")
    extended = copy.deepcopy(plain)
    change(extended)
    ex = register(gpc, rules.register_parameters(extended), label=f"register with {case} (not on PDS)")
    note_if_created(ex, left_behind, "not_on_pds", p.nhs_number)
    got = " ".join(map(str, _answer(ex)[1])) or "without a Spine code"
    verify.that(_answer(ex) == _answer(base), "FND-REG-028",
                f"with {case} the registration was answered {f'HTTP {ex.status} {got}' if ex.status else 'nothing'}, "
                f"but the same Patient without it 400 INVALID_PATIENT_DEMOGRAPHICS (PDS's refusal): an allowed "
                "addition was refused",
                held=f"with {case} the registration got PDS's refusal, 400 INVALID_PATIENT_DEMOGRAPHICS, as the same "
                     "Patient without it did: the addition was not refused as invalid",
                reading=REG_ALLOWED, exchange=ex)


@pytest.mark.title("Register with an NHS number failing its structural checks answers 400 INVALID_NHS_NUMBER")
@pytest.mark.requirement("FND-REG-025", "ERR-003")
def test_register_invalid_nhs_number(gpc, verify, left_behind):
    def send(value: str) -> Exchange:
        body = rules.register_parameters(rules.register_patient(
            value, STAND_IN.family, STAND_IN.given, STAND_IN.birth_date, STAND_IN.gender))
        ex = register(gpc, body, label=f"register NHS number {value!r}")
        note_if_created(ex, left_behind, "generated", value)
        return ex

    strategies.explore(verify, strategies.invalid_nhs_numbers(), send,
                       lambda _: errors(400, "INVALID_NHS_NUMBER", ("FND-REG-025", "ERR-003"), issue_code="value"),
                       describe="NHS number")


# -- the format of the answer ---------------------------------------------------------------------------
JSON, XML = http.FHIR_MEDIA["json"], http.FHIR_MEDIA["xml"]
NO_ACCEPT = {"Accept": None}
REG_FORMAT = ("REG-FORMAT: judged on a complete registerPatient body for the not_on_pds NHS number, which a "
              "conformant provider answers with PDS's refusal, so nobody is registered; the format is "
              "negotiated before the registration is decided, so the refusal's format is the registration's")


def _need_xml(gpc, test_data) -> None:
    test_data.capability("xml")
    probe = gpc.call("metadata.read", params=[("_format", XML)], headers=NO_ACCEPT, label="is XML served at all?")
    if http.body_format(probe) != "xml":
        pytest.skip("the provider does not serve FHIR XML at all (judged by GEN-CT-001b), so a registration "
                    "answered in XML cannot be judged here")


def _register_asking(gpc, test_data, left_behind, label: str, body_format: str = "json",
                     fmt_param: str | None = None, accept: str | None = None) -> Exchange:
    """Register the not_on_pds patient with the body in `body_format`, asking by _format and/or Accept."""
    p = test_data.patient("not_on_pds")
    params = body_for(p)
    raw = (model_for("Parameters").model_validate(params).model_dump_xml() if body_format == "xml"
           else json.dumps(params).encode("utf-8"))
    query = [("_format", http.FHIR_MEDIA[fmt_param])] if fmt_param else None
    ex = gpc.call("patient.register", body=raw, params=query,
                  headers={"Accept": http.FHIR_MEDIA[accept] if accept else None,
                           "Content-Type": http.FHIR_MEDIA[body_format] + ";charset=utf-8"},
                  label=label)
    note_if_created(ex, left_behind, "not_on_pds", p.nhs_number)
    return ex


def _pds_refusal(ex: Exchange) -> bool:
    body = outcome.body_as_json(ex)
    return (ex.status == 400 and isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
            and "INVALID_PATIENT_DEMOGRAPHICS" in outcome.spine_codes(body))


# The format of an answer says something about negotiation only when it is the registration's own answer,
# PDS's refusal (in whichever format), not a server error, the request sent back or a fixed page.
REGISTRATION_ANSWER = condition("the registration's answer: PDS's refusal, 400 INVALID_PATIENT_DEMOGRAPHICS (in "
                                "JSON or XML)", _pds_refusal,
                                "the answer is not PDS's refusal of the registration, so its format shows nothing")


def _other(fmt: str) -> str:
    return "xml" if fmt == "json" else "json"


@pytest.mark.title("Register asked _format={wins} ({how}) answers in {wins}")
@pytest.mark.requirement("GEN-CT-002")
@pytest.mark.parametrize("how", ["no Accept", "Accept naming the other format"])
@pytest.mark.parametrize("wins", ["json", "xml"])
def test_register_format_param_picks_format(gpc, verify, test_data, left_behind, wins, how):
    if wins == "xml" or how != "no Accept":
        _need_xml(gpc, test_data)
    accept = None if how == "no Accept" else _other(wins)
    ex = _register_asking(gpc, test_data, left_behind, f"register (not on PDS), _format {wins}, {how}",
                          fmt_param=wins, accept=accept)
    verify(ex, http.in_format(wins, "GEN-CT-002", reading=REG_FORMAT).needing(REGISTRATION_ANSWER))


# (case, _format asks for the winner, what Accept asks for): the request body is always in the other format.
# _format against Accept is test_register_format_param_picks_format; _format against Accept and Content-Type
# together is left out on purpose: when those two agree, an answer in their format cannot tell which rule
# the provider broke, so it would blame GEN-CT-002 and GEN-CT-010 at once.
MATRIX = [
    ("_format against the body's Content-Type", True, None),
    ("Accept against the body's Content-Type", False, "winner"),
]


@pytest.mark.title("Register: {case}, asking for {wins}, answers in {wins}")
@pytest.mark.requirement("GEN-CT-010")
@pytest.mark.parametrize("case,by_format,accept", MATRIX, ids=[m[0] for m in MATRIX])
@pytest.mark.parametrize("wins", ["json", "xml"])
def test_register_format_matrix(gpc, verify, test_data, left_behind, wins, case, by_format, accept):
    _need_xml(gpc, test_data)  # one of the body and the answer is XML
    other = _other(wins)
    ex = _register_asking(gpc, test_data, left_behind, f"register (not on PDS), {other} body: {case}, {wins}",
                          body_format=other, fmt_param=wins if by_format else None,
                          accept={"winner": wins, "other": other}.get(accept or ""))
    verify(ex, http.in_format(wins, "GEN-CT-010", reading=REG_FORMAT).needing(REGISTRATION_ANSWER))


# -- what PDS says ------------------------------------------------------------------------------------
@pytest.mark.title("Register for an NHS number PDS does not hold answers 400 INVALID_PATIENT_DEMOGRAPHICS")
@pytest.mark.requirement("FND-REG-018", "ERR-004")
def test_register_not_on_pds(gpc, verify, test_data, left_behind):
    p = test_data.patient("not_on_pds")
    ex = register(gpc, body_for(p), label="register a patient PDS does not know")
    note_if_created(ex, left_behind, "not_on_pds", p.nhs_number)
    verify(ex, *errors(400, "INVALID_PATIENT_DEMOGRAPHICS", ("FND-REG-018", "ERR-004"),
                       issue_code=DEMOGRAPHICS_ISSUE, reading=D16))


@pytest.mark.title("Register for a patient PDS flags superseded or invalid answers 400 INVALID_NHS_NUMBER")
@pytest.mark.requirement("FND-REG-021", "FND-REG-006", "ERR-003")
def test_register_superseded(gpc, verify, test_data, left_behind):
    p = test_data.patient("superseded", demographics=True)
    ex = register(gpc, body_for(p), label="register a superseded patient")
    note_if_created(ex, left_behind, "superseded", p.nhs_number)
    verify(ex, halted_on_pds("FND-REG-006"), *errors(400, "INVALID_NHS_NUMBER", ("FND-REG-021", "ERR-003")))


@pytest.mark.title("Register for a deceased patient answers 400 INVALID_PATIENT_DEMOGRAPHICS")
@pytest.mark.requirement("FND-REG-010", "FND-REG-019", "FND-REG-006", "ERR-004")
def test_register_deceased(gpc, verify, test_data, left_behind):
    p = test_data.patient("deceased", demographics=True)
    ex = register(gpc, body_for(p), label="register a deceased patient")
    note_if_created(ex, left_behind, "deceased", p.nhs_number)
    verify(ex, halted_on_pds("FND-REG-006"),
           *errors(400, "INVALID_PATIENT_DEMOGRAPHICS", ("FND-REG-010", "FND-REG-019", "ERR-004"),
                   issue_code=DEMOGRAPHICS_ISSUE, reading=D16))


@pytest.mark.title("Register for a sensitive (S-flagged) patient answers 400 INVALID_PATIENT_DEMOGRAPHICS")
@pytest.mark.requirement("FND-REG-020", "FND-REG-006", "ERR-004")
def test_register_sensitive(gpc, verify, test_data, left_behind):
    p = test_data.patient("sensitive", demographics=True)
    ex = register(gpc, body_for(p), label="register a sensitive patient")
    note_if_created(ex, left_behind, "sensitive", p.nhs_number)
    verify(ex, halted_on_pds("FND-REG-006"),
           *errors(400, "INVALID_PATIENT_DEMOGRAPHICS", ("FND-REG-020", "ERR-004"),
                   issue_code=DEMOGRAPHICS_ISSUE, reading=D16))


@pytest.mark.title("Register while PDS is unavailable answers 500 INTERNAL_SERVER_ERROR")
@pytest.mark.requirement("FND-REG-022", "ERR-014")
def test_register_pds_unavailable(gpc, verify, test_data, left_behind):
    p = test_data.patient("pds_unavailable", demographics=True)
    ex = register(gpc, body_for(p), label="register while PDS is down")
    note_if_created(ex, left_behind, "pds_unavailable", p.nhs_number)
    verify(ex, *errors(500, "INTERNAL_SERVER_ERROR", ("FND-REG-022", "ERR-014"),
                       issue_code=("processing", "exception"), reading=D13))


# -- already registered ---------------------------------------------------------------------------------
@pytest.mark.title("Register for a patient already active at the practice answers 409 DUPLICATE_REJECTED")
@pytest.mark.requirement("FND-REG-008", "ERR-008")
def test_register_active_patient_duplicate(gpc, verify, test_data, left_behind):
    p = test_data.patient("registered_verified", demographics=True)
    ex = register(gpc, body_for(p), label="register a registered patient")
    note_if_created(ex, left_behind, "registered_verified", p.nhs_number)
    verify(ex, *errors(409, "DUPLICATE_REJECTED", ("FND-REG-008", "ERR-008"), issue_code="duplicate"))


@pytest.mark.title("#921 flow: Find returns an unverified patient PDS verifies, and Register for them answers 409")
@pytest.mark.requirement("FND-FP-014", "FND-REG-008", "ERR-008")
def test_flow_921_find_then_register(gpc, verify, test_data, left_behind):
    # Before #921 Find left such a patient out, the consumer then called Register, and Register said
    # DUPLICATE_REJECTED: a patient the practice holds could be neither found nor registered.
    p = test_data.patient("unverified_pds_traceable", demographics=True)
    _, find = found_patients(gpc, verify, p.nhs_number, "find (#921 patient)")
    verify(find, rules.returns_patients("FND-FP-014", 1))
    ex = register(gpc, body_for(p), label="register the #921 patient anyway")
    note_if_created(ex, left_behind, "unverified_pds_traceable", p.nhs_number)
    verify(ex, *errors(409, "DUPLICATE_REJECTED", ("FND-REG-008", "ERR-008"), issue_code="duplicate"))


# -- registering ----------------------------------------------------------------------------------------
@pytest.mark.title("Find -> Register -> Find -> Register: a patient new to the practice gets one temporary record")
@pytest.mark.requirement("FND-REG-011", "FND-REG-013", "FND-REG-014", "FND-REG-015", "FND-REG-016", "FND-REG-008",
                         "ERR-008")
def test_flow_register_new_patient(gpc, verify, test_data, left_behind):
    p = unregistered(gpc, verify, test_data)
    given = [*p.given, *EXTRA_GIVEN[:2]]
    sent = rules.register_patient(p.nhs_number, p.family or "", given, p.birth_date or "", p.gender,
                                  telecom=SENT_TELECOM, address=HOME)
    sent["extension"] = [copy.deepcopy(NHS_COMMUNICATION)]
    body = rules.register_parameters(sent)
    ex = register(gpc, body, label="register a patient new to the practice (two extra given names, a home "
                                   "address, telecoms and nhsCommunication)")
    note_if_created(ex, left_behind, "not_registered_pds_known", p.nhs_number)
    verify.must(ex, http.status(200, "FND-REG-011"))
    verify(ex, resources.searchset("FND-REG-013", entry_type="Patient", min_entries=1, max_entries=1,
                                   profile=profiles.SEARCHSET_BUNDLE))
    registered_is(verify, ex, p, "FND-REG-011", "Register a patient new to the practice")
    each = resources.each
    verify(ex,
           resources.meta("Patient", profiles.PATIENT, "FND-REG-013"),
           each("Patient", rules.registration_type_is(rules.TEMPORARY), "FND-REG-011"),
           each("Patient", rules.active, "FND-REG-011"),
           each("Patient", rules.nhs_number_identifier, "FND-REG-014"),
           each("Patient", rules.carries_nhs_number(p.nhs_number), "FND-REG-014"),
           each("Patient", rules.official_name, "FND-REG-014"),
           each("Patient", rules.named(p.family, p.given), "FND-REG-014"),
           each("Patient", rules.demographics, "FND-REG-014"),
           each("Patient", rules.born(p.birth_date, p.gender), "FND-REG-014"),
           each("Patient", rules.telecom_includes(SENT_TELECOM), "FND-REG-014"),
           each("Patient", rules.given_names_include(given), "FND-REG-014", reading=REG_STORE),
           each("Patient", rules.address_includes(HOME), "FND-REG-014", reading=REG_STORE),
           each("Patient", rules.communicates_in("en"), "FND-REG-014", reading=REG_STORE),
           each("Patient", rules.managing_organization, "FND-REG-014"),
           each("Patient", rules.registration_type_present, "FND-REG-015", reading=rules.SYSTEMS_READING),
           each("Patient", rules.excluded_elements, "FND-REG-016"))
    if test_data.data.organisation_id:
        verify(ex, each("Patient", rules.managed_by(test_data.data.organisation_id), "FND-REG-014"))

    after, fex = found_patients(gpc, verify, p.nhs_number, "find after registering")
    verify.that(len(after) == 1, "FND-REG-011",
                f"Find after a successful Register returned {len(after)} patients; the new temporary patient "
                "should be found", held="Find after Register returns the new temporary patient", exchange=fex)
    again = register(gpc, body, label="register the same patient again")
    verify(again, *errors(409, "DUPLICATE_REJECTED", ("FND-REG-008", "ERR-008"), issue_code="duplicate"))


def registered_is(verify, ex: Exchange, p: PatientData, requirement: str, what: str) -> None:
    """Precondition: Register's answer holds a Patient, and it is the patient sent (`requirement` is charged)."""
    if not rules.patients_in(outcome.body_as_json(ex)):
        verify.stop(f"{what}: the answer holds no Patient to judge", cause="FND-REG-013")
    verify.needs(ex, rules.about_patient(p.nhs_number, requirement), what=what)


@pytest.mark.title("Register with demographics PDS does not verify answers 400 INVALID_PATIENT_DEMOGRAPHICS (D-05)")
@pytest.mark.requirement("FND-REG-005", "FND-REG-018", "ERR-004")
def test_register_unverifiable_demographics(gpc, verify, test_data, left_behind):
    p = unregistered(gpc, verify, test_data)

    def send(who: dict[str, str]) -> Exchange:
        body = rules.register_parameters(rules.register_patient(
            p.nhs_number, who["family"], [who["given"]], who["birth_date"], p.gender))
        ex = register(gpc, body, label=f"register with demographics {who}")
        note_if_created(ex, left_behind, "not_registered_pds_known", p.nhs_number)
        return ex

    strategies.explore(
        verify, strategies.unverifiable_demographics(p.family or "", p.given[0], p.birth_date or ""), send,
        lambda _: errors(400, "INVALID_PATIENT_DEMOGRAPHICS", ("FND-REG-005", "FND-REG-018", "ERR-004"),
                         issue_code=DEMOGRAPHICS_ISSUE, reading=D05),
        describe="demographics")


@pytest.mark.title("Register (sent without gender) for a patient who left the practice reactivates them as a "
                   "temporary patient")
@pytest.mark.requirement("FND-REG-009", "FND-REG-013", "FND-REG-014", "FND-REG-015")
def test_register_reactivates_inactive_patient(gpc, verify, test_data, left_behind):
    # Gender is only a SHOULD for the consumer (FND-REG-028): the provider takes it from its record or PDS.
    p = still_inactive(gpc, verify, test_data)
    body = body_for(p, telecom=SENT_TELECOM)
    body["parameter"][0]["resource"].pop("gender", None)
    ex = register(gpc, body, label="register a patient who left, without gender")
    note_if_created(ex, left_behind, "inactive", p.nhs_number)
    verify.must(ex, http.status(200, "FND-REG-009"))
    verify(ex, resources.searchset("FND-REG-013", entry_type="Patient", min_entries=1, max_entries=1,
                                   profile=profiles.SEARCHSET_BUNDLE))
    registered_is(verify, ex, p, "FND-REG-009", "Register a patient who left")
    verify.must(ex, rules.returns_patients("FND-REG-009", 1))
    each = resources.each
    verify(ex,
           each("Patient", rules.registration_type_is(rules.TEMPORARY), "FND-REG-009"),
           each("Patient", rules.active, "FND-REG-009"),
           each("Patient", rules.telecom_includes(SENT_TELECOM), "FND-REG-014"),
           each("Patient", rules.demographics, "FND-REG-014"),
           each("Patient", rules.registration_type_present, "FND-REG-015", reading=rules.SYSTEMS_READING),
           each("Patient", rules.branch_reference, "FND-REG-015"))
    after, fex = found_patients(gpc, verify, p.nhs_number, "find after reactivating")
    verify.that(len(after) == 1, "FND-REG-009",
                f"Find after reactivation returned {len(after)} patients; the patient is active again and should "
                "be found", held="Find after reactivation returns the patient, active again", exchange=fex)
