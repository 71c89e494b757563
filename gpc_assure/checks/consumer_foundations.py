"""What a consumer sends for Foundations: finding, reading and registering patients, in the right order.

Per-request rules take one recorded request (`CallRecord`); journey rules take the requests of a step
or scenario in arrival order and compare requests with the answers the consumer had received before
them (a read must name an id a find returned; a register must follow an empty find). A rule that finds
nothing of the kind it judges (no read, no register, no Patient in the register request) raises
`NotJudged`: it is never met on nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

from gpc_assure.checks.core import NotJudged
from gpc_assure.checks.patient import official_names
from gpc_assure.fhir import profiles
from gpc_assure.transport.exchange import BodyNotJson, Exchange

REGISTER_PARAMETER = "registerPatient"
# What a register request may carry: the minimum, the recommended details and the temporary ones (FND-REG-002..004).
REGISTER_ALLOWED = {"resourceType", "meta", "id", "identifier", "name", "birthDate", "gender", "address", "telecom",
                    "extension"}
NHS_COMMUNICATION = profiles.SD + "Extension-CareConnect-GPC-NHSCommunication-1"


def request_json(ex: Exchange) -> Any:
    """The request body as JSON (None when absent or not JSON)."""
    try:
        return json.loads(ex.request.body.decode("utf-8")) if ex.request.body else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def response_json(ex: Exchange) -> Any:
    try:
        return ex.json
    except BodyNotJson:
        return None


def a_resource(body: Any) -> str:
    """'a Patient', 'an Appointment', or what the JSON is when it names no resource type."""
    kind = body.get("resourceType") if isinstance(body, dict) else None
    if not isinstance(kind, str) or not kind:
        return "JSON that names no resourceType" if isinstance(body, dict) else "not a JSON object"
    return f"{'an' if kind[0].lower() in 'aeiou' else 'a'} {kind}"


def raw_query(ex: Exchange) -> str:
    return ex.request.url.split("?", 1)[1] if "?" in ex.request.url else ""


def query(ex: Exchange) -> list[tuple[str, str]]:
    """(name, value) pairs as sent, decoded."""
    out = []
    for part in raw_query(ex).split("&"):
        if part:
            name, _, value = part.partition("=")
            out.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return out


# -- find and read ---------------------------------------------------------------------------------------

def find_identifier(nhs_number: str | None = None) -> Any:
    """FND-FP-001 / CON-005: one identifier parameter, the NHS number system, the '|' percent-encoded."""

    def rule(ex: Exchange) -> list[str]:
        """the find sends one identifier: the NHS number system and the step's patient, the '|' percent-encoded"""
        ids = [v for k, v in query(ex) if k == "identifier"]
        if len(ids) != 1:
            return [f"the find sends {len(ids)} identifier parameters (one is expected)"]
        system, bar, value = ids[0].rpartition("|")
        out = []
        if not bar or system != profiles.NHS_NUMBER_SYSTEM:
            out.append(f"the identifier {ids[0]!r} does not name the system {profiles.NHS_NUMBER_SYSTEM}")
        elif nhs_number and value != nhs_number:
            out.append(f"the identifier asks for NHS number {value!r}, not the step's patient {nhs_number!r}")
        raw = next((p for p in raw_query(ex).split("&") if p.startswith("identifier=")), "")
        if bar and "|" in raw:
            out.append("the '|' in the identifier is not percent-encoded (%7C)")
        return out

    return rule


def patients_in(body: Any) -> list[tuple[dict[str, Any], str | None]]:
    """(Patient, fullUrl) for each Patient in a Bundle."""
    if not isinstance(body, dict):
        return []
    return [(e["resource"], e.get("fullUrl")) for e in body.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Patient"]


def _read_id(ex: Exchange) -> str:
    return unquote(ex.request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1])


def read_after_find(calls: Sequence[Exchange]) -> list[str]:
    """FND-RP-004: every patient read names a logical id a find returned to the consumer before it."""
    out, known, reads = [], set(), 0
    for ex in calls:
        if ex.interaction == "patient.find":
            known |= {p.get("id") for p, _ in patients_in(response_json(ex)) if p.get("id")}
        elif ex.interaction == "patient.read":
            reads += 1
            pid = _read_id(ex)
            if pid not in known:
                out.append(f"the patient read names id {pid!r}, which no earlier find returned "
                           f"({', '.join(sorted(known)) or 'no find returned a patient'})")
    if not reads:
        raise NotJudged("the consumer read no patient")
    return out


def no_full_url(calls: Sequence[Exchange]) -> list[str]:
    """CON-010: reads use the resource's id, never an id taken from Bundle.entry.fullUrl."""
    out, decoys, reads = [], set(), 0
    for ex in calls:
        if ex.interaction == "patient.find":
            for p, full_url in patients_in(response_json(ex)):
                if full_url:
                    tail = str(full_url).rstrip("/").rsplit("/", 1)[-1]
                    if tail != p.get("id"):
                        decoys.add(tail)
        elif ex.interaction == "patient.read" and decoys:
            reads += 1
            if _read_id(ex) in decoys:
                out.append(f"the patient was read as {_read_id(ex)!r}, the id in Bundle.entry.fullUrl, not the "
                           "resource's own id")
    if not decoys:
        raise NotJudged("no find returned a Patient whose fullUrl differs from its id")
    if not reads:
        raise NotJudged("the consumer read no patient after a find returned one with a decoy fullUrl")
    return out


def found_nothing(ex: Exchange, nhs_number: str | None = None) -> bool:
    """A find (for this NHS number) answered 200 with no Patient."""
    if ex.interaction != "patient.find" or ex.status != 200:
        return False
    if nhs_number and not any(v.endswith(f"|{nhs_number}") for k, v in query(ex) if k == "identifier"):
        return False
    return not patients_in(response_json(ex))


def register_after_empty_find(calls: Sequence[Exchange]) -> list[str]:
    """CON-006a: a patient is registered only after a find for the same NHS number came back empty."""
    out, registers = [], 0
    for n, ex in enumerate(calls):
        if ex.interaction != "patient.register":
            continue
        registers += 1
        nhs = registered_nhs_number(request_json(ex))
        if not any(found_nothing(earlier, nhs) for earlier in calls[:n]):
            who = f"patient {nhs}" if nhs else "a patient (no NHS number in the request)"
            out.append(f"{who} was registered without an earlier find showing the practice does not hold them")
    if not registers:
        raise NotJudged("the consumer registered no patient")
    return out


def read_capability(calls: Iterable[Exchange]) -> list[str]:
    """FND-CAP-009 / CON-021: the consumer reads the CapabilityStatement (once is enough; it may cache it)."""
    calls = list(calls)
    if not calls:
        raise NotJudged("the consumer made no request")
    return [] if any(c.interaction == "metadata.read" for c in calls) else [
        "the consumer never read the provider's CapabilityStatement (GET /metadata)"]


# -- register ----------------------------------------------------------------------------------------------

def registered_patient(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for p in body.get("parameter") or []:
            if isinstance(p, dict) and p.get("name") == REGISTER_PARAMETER and isinstance(p.get("resource"), dict):
                return p["resource"]
    return None


def registered_nhs_number(body: Any) -> str | None:
    patient = registered_patient(body) or (body if isinstance(body, dict) and body.get("resourceType") == "Patient"
                                           else None)
    for i in (patient or {}).get("identifier") or []:
        if isinstance(i, dict) and i.get("system") == profiles.NHS_NUMBER_SYSTEM:
            return i.get("value")
    return None


def register_shape(ex: Exchange) -> list[str]:
    """FND-REG-001: a Parameters resource with one registerPatient parameter holding a CareConnect-GPC-Patient-1."""
    body = request_json(ex)
    if not isinstance(body, dict):
        return ["the register request body is not JSON"]
    if body.get("resourceType") != "Parameters":
        return [f"the register request is {a_resource(body)}, not a Parameters resource"]
    params = [p for p in body.get("parameter") or [] if isinstance(p, dict)]
    named = [p for p in params if p.get("name") == REGISTER_PARAMETER]
    out = []
    if len(params) != 1 or len(named) != 1:
        out.append(f"Parameters holds {len(params)} parameter(s), {len(named)} named {REGISTER_PARAMETER} (one "
                   "registerPatient parameter is expected)")
    patient = registered_patient(body)
    if patient is None or patient.get("resourceType") != "Patient":
        out.append(f"the {REGISTER_PARAMETER} parameter does not hold a Patient resource")
    elif profiles.PATIENT not in ((patient.get("meta") or {}).get("profile") or []):
        out.append(f"the Patient's meta.profile does not name {profiles.PATIENT}")
    return out


def _patient(ex: Exchange) -> dict[str, Any] | None:
    return registered_patient(request_json(ex))


def _patient_or_not_judged(ex: Exchange) -> dict[str, Any]:
    p = _patient(ex)
    if p is None or p.get("resourceType") != "Patient":
        raise NotJudged("the register request holds no Patient in a registerPatient parameter (FND-REG-001 judges "
                        "its shape)")
    return p


def register_minimum(nhs_number: str | None = None) -> Any:
    """FND-REG-002: NHS number identifier, one official name with family and given, birthDate."""

    def rule(ex: Exchange) -> list[str]:
        """the registered Patient carries the NHS number, one official name with family and given, and birthDate"""
        p = _patient_or_not_judged(ex)
        out = []
        nhs = registered_nhs_number(request_json(ex))
        if nhs is None:
            out.append(f"no identifier with system {profiles.NHS_NUMBER_SYSTEM}")
        elif nhs_number and nhs != nhs_number:
            out.append(f"the NHS number {nhs!r} is not the step's patient {nhs_number!r}")
        names = official_names(p)
        if len(names) != 1:
            out.append(f"{len(names)} official names (exactly one, use official, is expected)")
        elif not names[0].get("family") or not names[0].get("given"):
            out.append("the official name needs family and given")
        if not p.get("birthDate"):
            out.append("no birthDate")
        return out

    return rule


def register_recommended(gender: str | None = None) -> Any:
    """FND-REG-003: gender (when known) and at most one home address, one phone per use, one email, one
    nhsCommunication."""

    def rule(ex: Exchange) -> list[str]:
        """the registered Patient carries gender when held, and at most one of each contact detail"""
        p = _patient_or_not_judged(ex)
        out = []
        if gender and not p.get("gender"):
            out.append(f"no gender, though the consumer holds it ({gender})")
        homes = [a for a in p.get("address") or [] if isinstance(a, dict) and a.get("use") == "home"]
        if len(homes) > 1:
            out.append(f"{len(homes)} home addresses (at most one)")
        telecom = [t for t in p.get("telecom") or [] if isinstance(t, dict)]
        for use in ("home", "work", "mobile"):
            n = sum(1 for t in telecom if t.get("system") == "phone" and t.get("use") == use)
            if n > 1:
                out.append(f"{n} {use} phone numbers (at most one)")
        emails = sum(1 for t in telecom if t.get("system") == "email")
        if emails > 1:
            out.append(f"{emails} email addresses (at most one)")
        comms = [e for e in p.get("extension") or [] if isinstance(e, dict) and e.get("url") == NHS_COMMUNICATION]
        if len(comms) > 1:
            out.append(f"{len(comms)} nhsCommunication extensions (at most one)")
        return out

    return rule


def register_nothing_else(ex: Exchange) -> list[str]:
    """FND-REG-004: beyond the minimum and recommended details only a temporary address and phone."""
    p = _patient_or_not_judged(ex)
    out = [f"the Patient carries {k}, which register must not send" for k in sorted(set(p) - REGISTER_ALLOWED)]
    for a in p.get("address") or []:
        if isinstance(a, dict) and a.get("use") not in (None, "home", "temp"):
            out.append(f"an address with use {a.get('use')!r} (home or temp only)")
    for t in p.get("telecom") or []:
        if isinstance(t, dict) and t.get("system") == "phone" and t.get("use") not in ("home", "work", "mobile",
                                                                                        "temp"):
            out.append(f"a phone number with use {t.get('use')!r}")
    others = [e.get("url") for e in p.get("extension") or []
              if isinstance(e, dict) and e.get("url") != NHS_COMMUNICATION]
    out += [f"the extension {u!r}, which register must not send" for u in others]
    return out
