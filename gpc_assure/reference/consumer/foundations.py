"""The reference consumer's Foundations steps: find a patient and open their record, register a patient.

It reads the provider's CapabilityStatement once per session (FND-CAP-009: it MAY cache it), finds
patients by NHS number with the system and a percent-encoded '|', reads the patient by the logical id
the search returned (never a fullUrl), and registers only after a search came back empty.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gpc_assure.fhir import profiles
from gpc_assure.reference.consumer.client import Session, json_of
from gpc_assure.reference.faults import declare


def _fault(name: str, breaks: list[str], description: str) -> str:
    return declare(name, breaks, "foundations", description, role="consumer")


NEVER_READS_CAPABILITY = _fault("never-reads-capability-statement", ["FND-CAP-009", "CON-021"],
                                "the CapabilityStatement is never read")
PIPE_NOT_ENCODED = _fault("find-pipe-not-encoded", ["FND-FP-001", "CON-005"],
                          "the '|' between system and NHS number in the find identifier is sent unencoded")
READS_BY_NHS_NUMBER = _fault("reads-patient-by-nhs-number", ["FND-RP-004"],
                             "the patient is read as Patient/<NHS number>, not by the logical id the find returned")
READS_VIA_FULL_URL = _fault("reads-patient-via-full-url", ["CON-010", "FND-RP-004"],
                            "the patient is read by the id in Bundle.entry.fullUrl, not the resource's own id")
SKIPS_FIND = _fault("skips-find-before-register", ["CON-006a"],
                    "a patient is registered without first finding out whether the practice already holds them")
BARE_PATIENT = _fault("register-posts-bare-patient", ["FND-REG-001"],
                      "register posts the Patient itself instead of a Parameters resource wrapping it")
NO_BIRTH_DATE = _fault("register-without-birth-date", ["FND-REG-002", "CON-007"], "register sends no birthDate")
NO_GENDER = _fault("register-omits-gender", ["FND-REG-003"],
                   "register leaves out the gender the consumer holds")
DISALLOWED_ELEMENTS = _fault("register-sends-disallowed-elements", ["FND-REG-004", "CON-007"],
                             "register sends active, maritalStatus and generalPractitioner")

REGISTER_OPERATION_PARAMETER = "registerPatient"


def read_capability(s: Session, ctx: dict[str, str]) -> None:
    """Once per session and service root (the app caches it, as FND-CAP-009 allows)."""
    if s.faults.on(NEVER_READS_CAPABILITY) or ctx["base_url"] in s.capability:
        return
    body = json_of(s.call(ctx, "metadata.read"))
    s.capability[ctx["base_url"]] = body if isinstance(body, dict) else {}


def find(s: Session, ctx: dict[str, str], nhs_number: str | None = None) -> tuple[bool, list[dict[str, Any]]]:
    """(answered 200, the Bundle entries holding a Patient) for an NHS number."""
    nhs = nhs_number or ctx["nhs_number"]
    value = f"{profiles.NHS_NUMBER_SYSTEM}|{nhs}"
    if s.faults.on(PIPE_NOT_ENCODED):
        response = s.call(ctx, "patient.find", raw_query=f"identifier={value}")
    else:
        response = s.call(ctx, "patient.find", raw_query="identifier=" + quote(value, safe=""))
    body = json_of(response)
    if response is None or response.status_code != 200 or not isinstance(body, dict):
        return False, []
    entries = [e for e in body.get("entry") or [] if isinstance(e, dict)
               and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Patient"]
    return True, entries


def patient_id(s: Session, ctx: dict[str, str], entry: dict[str, Any], reading: bool = False) -> str | None:
    """The logical id to read or book with: the resource's own id (GEN-RES-003: never the fullUrl)."""
    if reading and s.faults.on(READS_BY_NHS_NUMBER):
        return ctx["nhs_number"]
    if reading and s.faults.on(READS_VIA_FULL_URL) and entry.get("fullUrl"):
        return str(entry["fullUrl"]).rstrip("/").rsplit("/", 1)[-1]
    rid = entry["resource"].get("id")
    return rid if isinstance(rid, str) else None


def find_patient(s: Session, ctx: dict[str, str]) -> None:
    read_capability(s, ctx)
    ok, entries = find(s, ctx)
    if not ok or not entries:
        s.note("the patient was not found")
        return
    pid = patient_id(s, ctx, entries[0], reading=True)
    if pid:
        s.call(ctx, "patient.read", path_params={"id": pid})


def registration(s: Session, ctx: dict[str, str]) -> dict[str, Any]:
    """The register request for the step's patient: the minimum, and the recommended details it holds."""
    f = s.faults
    name: dict[str, Any] = {"use": "official", "family": ctx["family"]}
    if ctx.get("given"):
        name["given"] = ctx["given"].split()
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [profiles.PATIENT]},
        "identifier": [{"system": profiles.NHS_NUMBER_SYSTEM, "value": ctx["nhs_number"]}],
        "name": [name],
    }
    if ctx.get("gender") and not f.on(NO_GENDER):
        patient["gender"] = ctx["gender"]
    if ctx.get("birth_date") and not f.on(NO_BIRTH_DATE):
        patient["birthDate"] = ctx["birth_date"]
    if f.on(DISALLOWED_ELEMENTS):
        patient["active"] = True
        patient["maritalStatus"] = {"text": "Single"}
        patient["generalPractitioner"] = [{"reference": "Practitioner/1"}]
    if f.on(BARE_PATIENT):
        return patient
    return {"resourceType": "Parameters", "parameter": [{"name": REGISTER_OPERATION_PARAMETER, "resource": patient}]}


def register(s: Session, ctx: dict[str, str]) -> str | None:
    """Register the step's patient; the logical id of the registered Patient, if the provider gave one."""
    body = json_of(s.call(ctx, "patient.register", body=registration(s, ctx)))
    for entry in (body or {}).get("entry") or [] if isinstance(body, dict) else []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Patient" and isinstance(res.get("id"), str):
            return res["id"]
    return None


def find_or_register(s: Session, ctx: dict[str, str]) -> str | None:
    """The patient's logical id: found at the practice, else registered there (CON-006)."""
    if s.faults.on(SKIPS_FIND):
        return register(s, ctx)
    ok, entries = find(s, ctx)
    if not ok:
        return None
    if entries:
        return patient_id(s, ctx, entries[0])
    return register(s, ctx)


def register_patient(s: Session, ctx: dict[str, str]) -> None:
    read_capability(s, ctx)
    find_or_register(s, ctx)


STEPS = {"find-patient": find_patient, "register-patient": register_patient}
