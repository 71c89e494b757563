"""What only a person can confirm: items listing the exact data the simulator served, and the supplier's file.

For each `attested` requirement the run lists what the consumer was shown ("the slot type 'Blood
Test' was served; confirm it is displayed"). The supplier answers with an attestation file:

```toml
[[attestation]]
requirement = "CON-013"
by = "A. Tester, test lead, Example Health"
at = 2025-05-01T10:30:00Z
seen = "The slot list showed 'General GP Appointment' under 'General GP Appointments', 09:00-09:10, ..."
evidence = "evidence/slots.png"            # relative to this file; copied into the pack and hashed
run = "20250501T102900Z-1a2b3c"            # optional: the run the person watched
# confirmed_by = "NHS assurance reviewer"  # added by the reviewer who checked the evidence
# confirmed_at = 2025-05-08
```

An attested requirement never counts as met: its verdict stays `attested`, and its status says
whether it is still awaiting attestation, attested and awaiting a reviewer's confirmation, or
confirmed. The file and every evidence file are copied into the pack, so manifest.json hashes them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from gpc_assure.consumer.journey import Journey, resources_of
from gpc_assure.consumer.scenarios import PFS_GET, PFS_POST, PFS_RECORD
from gpc_assure.declarations import Attestation
from gpc_assure.errors import ConfigError
from gpc_assure.fhir import booking
from gpc_assure.pfs import levels as lv
from gpc_assure.requirements import Catalogue

PACK_DIR = "attestation"
AWAITING = "awaiting attestation"
ATTESTED = "attested, awaiting confirmation by a reviewer"
CONFIRMED = "attested and confirmed by a reviewer"


Entry = Attestation  # one attestation record for every role (gpc_assure/declarations.py)


class AttestationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attestation: list[Entry] = []


def load(path: Path, catalogue: Catalogue) -> tuple[AttestationFile, Path]:
    """The supplier's attestation file, validated (one-line ConfigError naming the problem)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the attestation file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        parsed = AttestationFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {loc}: {err['msg']}") from None
    for n, e in enumerate(parsed.attestation):
        where = f"{path}: attestation[{n}] ({e.requirement})"
        if e.requirement not in catalogue:
            raise ConfigError(f"{where}: unknown requirement")
        if catalogue[e.requirement].verification != "attested":
            raise ConfigError(f"{where}: the requirement is {catalogue[e.requirement].verification}, not attested")
        if e.evidence and not (path.parent / e.evidence).is_file():
            raise ConfigError(f"{where}: evidence file not found: {path.parent / e.evidence}")
    return parsed, path


# -- what the simulator served, per attested requirement ------------------------------------------------

Builder = Callable[[Journey], list[str]]


def _text(value: Any) -> str:
    return str(value.get("text")) if isinstance(value, dict) and value.get("text") else ""


def _patients_served(j: Journey) -> list[str]:
    out = []
    for call in j.steps["find-patient"].of("patient.find") if "find-patient" in j.steps else []:
        for p in resources_of(call, "Patient"):
            names = [n for n in p.get("name") or [] if isinstance(n, dict)]
            name = names[0] if names else {}
            out.append(f"the patient was served as family '{name.get('family', '')}', given "
                       f"'{' '.join(name.get('given') or [])}', born {p.get('birthDate')}, {p.get('gender')} "
                       f"(exchange {call.evidence_file}): confirm the consumer compared these with its own record "
                       "and showed the user any difference")
    return out[:2]


def _numbers_used(j: Journey) -> list[str]:
    numbers = sorted({v.rsplit("|", 1)[-1] for c in j.calls("patient.find") for k, v in c.query if k == "identifier"})
    return [f"the consumer looked up NHS numbers {', '.join(numbers)}: confirm each was traced on PDS first"] \
        if numbers else []


def _slots_served(j: Journey) -> list[str]:
    seen: set[tuple[str | None, str | None]] = set()
    out = []
    for call in j.calls("slot.search"):
        try:
            body = call.json
        except ValueError:
            continue
        bundle_locations = {r.get("id"): r for r in resources_of(call, "Location")}
        practitioners = {r.get("id"): r for r in resources_of(call, "Practitioner")}
        for slot in booking.free_slots(body):
            if (slot.slot_type, slot.schedule_type) in seen or not slot.bookable:
                continue
            seen.add((slot.slot_type, slot.schedule_type))
            loc = bundle_locations.get(slot.location_id) or {}
            addr = loc.get("address") or {}
            where = ", ".join([loc.get("name") or "", *(addr.get("line") or []), addr.get("city") or ""]).strip(", ")
            pr = practitioners.get(slot.practitioner_id) or {}
            pname = next((n for n in pr.get("name") or [] if isinstance(n, dict)), {})
            who = " ".join([*(pname.get("prefix") or []), *(pname.get("given") or []), pname.get("family") or ""])
            out.append(f"the slot type '{slot.slot_type}' and schedule type '{slot.schedule_type}' were served for "
                       f"the slot {slot.start.isoformat()} to {slot.end.isoformat()} ({slot.channel}"
                       f"{', at ' + where if where else ''}{', with ' + who.strip() if who.strip() else ''}"
                       f"{' (' + pr['gender'] + ')' if pr.get('gender') else ''}): confirm they are displayed")
            if len(out) >= 4:
                return out
    return out


def _appointments_served(j: Journey) -> list[str]:
    out = []
    for call in j.calls("appointment.retrieve"):
        for a in resources_of(call, "Appointment"):
            types = ", ".join(t for t in (_text(x) for x in a.get("serviceType") or []) if t)
            out.append(f"appointment {a.get('id')} was served with slot type '{types}' and schedule type "
                       f"'{_text(a.get('serviceCategory'))}', {a.get('start')} to {a.get('end')}: confirm both types "
                       "are displayed with it")
    return out[:4]


def _retrieve_range(j: Journey) -> list[str]:
    out = []
    for call in j.calls("appointment.retrieve")[:1]:
        bounds = [v for k, v in call.query if k == "start"]
        out.append(f"the consumer retrieved appointments with start {' and '.join(bounds)}: confirm the user was told "
                   "that only appointments from today are shown")
    return out


def _texts_sent(j: Journey) -> list[str]:
    out = []
    for call in j.calls("appointment.book")[:1]:
        try:
            body = json.loads(call.request.body) if call.request.body else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            out.append(f"the consumer booked with description {body.get('description')!r}: confirm the patient was "
                       "told that the practice's staff can read the description and comment")
    return out


def _permissions_served(j: Journey) -> list[str]:
    out: dict[tuple[str, str], str] = {}
    for call in j.calls(PFS_GET):
        if call.status != 200:
            continue
        try:
            body = call.json
        except ValueError:
            continue
        levels = ", ".join(f"{lv.label(t)} '{lv.level_of(body, t)}'" for t in lv.TARGETS[j.pfs_version]
                           if lv.level_of(body, t))
        nhs = call.route.rsplit("/", 1)[-1]
        line = f"for patient {nhs} the simulator served {levels} (exchange {call.evidence_file})"
        out.setdefault((nhs, levels), line)
    return list(out.values())[:4]


def _with(suffix: str, builder: Builder) -> Builder:
    return lambda j: [f"{line}: {suffix}" for line in builder(j)]


def _planted(interaction: str, step: str) -> Builder:
    def build(j: Journey) -> list[str]:
        record = j.steps.get(step)
        out = []
        for call in record.of(interaction) if record else []:
            if not call.served_by.startswith("planted"):
                continue
            try:
                issue = (call.json.get("issue") or [{}])[0]
            except (ValueError, AttributeError):
                issue = {}
            details = issue.get("details") or {}
            code = next((c.get("code") for c in details.get("coding") or []), "")
            text = details.get("text") or issue.get("diagnostics") or ""
            out.append(f"the simulator answered {call.request.method} {call.route} with HTTP {call.status} {code}: "
                       f"{text!r}")
        return out
    return build


def _pending_served(j: Journey) -> list[str]:
    out = []
    for call in j.calls(PFS_GET):
        try:
            body = call.json
        except ValueError:
            continue
        for r in lv.pending(body):
            t = lv.target_of(r)
            out.append(f"a pending request for '{r.get('accessLevel')}' access to the "
                       f"{lv.label(t) if t else r.get('permissionType')} (made {r.get('createdDateTime')}) was served: "
                       "confirm the app showed it to the patient")
    return list(dict.fromkeys(out))[:3]


ITEMS: dict[str, tuple[str, Builder]] = {
    "CON-004": ("foundations", _numbers_used),
    "CON-008": ("foundations", _patients_served),
    "CON-013": ("appointments", _slots_served),
    "CON-014": ("appointments", _appointments_served),
    "CON-018b": ("appointments", _retrieve_range),
    "CON-025": ("appointments", _texts_sent),
    "PFS-UPC-002": ("permissions", _with("confirm the app told the patient their record is not available online yet "
                                         "and did not fail", _planted(PFS_RECORD, "documents-not-found"))),
    "PFS-UPC-003": ("permissions", _with("confirm the app offers no feature these levels do not allow (for example no "
                                         "prescription ordering with 'view')", _permissions_served)),
    "PFS-UPC-004": ("permissions", _with("confirm the record sections shown follow the cumulative levels (summary, "
                                         "then detailed, documents, full)", _permissions_served)),
    "PFS-UPC-006": ("permissions", _with("confirm the app explained these in terms of what the patient can see and do",
                                         _permissions_served)),
    "PFS-UPC-009": ("permissions", _with("confirm this reason was shown to the patient",
                                         _planted(PFS_POST, "request-refused"))),
    "PFS-UPC-010": ("permissions", _pending_served),
}


def served(journeys: dict[str, Journey]) -> dict[str, list[str]]:
    """Attested requirement -> what the simulator served that a person must check in the consumer."""
    out: dict[str, list[str]] = {}
    for rid, (scenario, build) in ITEMS.items():
        if scenario in journeys:
            out[rid] = build(journeys[scenario])
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def annotate(results: dict[str, Any], items: dict[str, list[str]], attested: tuple[AttestationFile, Path] | None,
             pack: Path) -> None:
    """Give every attested requirement its status, the data served and the supplier's attestation; copy the
    attestation file and its evidence into the pack."""
    entries: dict[str, Entry] = {}
    copied: dict[str, str] = {}
    if attested is not None:
        parsed, path = attested
        folder = pack / PACK_DIR
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name)
        for e in parsed.attestation:
            entries[e.requirement] = e
            if e.evidence:
                dest = folder / "evidence" / Path(e.evidence).name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path.parent / e.evidence, dest)
                copied[e.requirement] = dest.relative_to(pack).as_posix()
        results["run"]["attestation_file"] = f"{PACK_DIR}/{path.name}"
    for req in results.get("requirements", []):
        if req.get("verdict") not in ("attested", "awaiting-attestation") or req.get("kind") == "declaration":
            continue
        if (req.get("attestation") or {}).get("by") and req["id"] not in entries:
            continue  # attested in the supplier's declarations file
        e = entries.get(req["id"])
        req["verdict"] = "awaiting-attestation" if e is None else "attested"
        status = AWAITING if e is None else (CONFIRMED if e.confirmed_by else ATTESTED)
        record: dict[str, Any] = {"status": status, "served": items.get(req["id"], [])}
        if e is not None:
            record.update(by=e.by, at=e.at, seen=e.seen, run=e.run, confirmed_by=e.confirmed_by,
                          confirmed_at=e.confirmed_at)
            if req["id"] in copied:
                record["evidence"] = copied[req["id"]]
                record["evidence_sha256"] = _sha256(pack / copied[req["id"]])
        req["attestation"] = record
        base = req.get("reason") or ""
        req["reason"] = f"{status}: {base}" if base else status
