"""The supplier's declarations: what no test can observe, declared by a named person with evidence.

A declarations file (TOML) answers the `declaration` rows of the catalogue
(profiles/requirements/declarations.toml) and may attest any other `attested` requirement:

```toml
[declarant]
name = "Dr A. Example"
role = "Clinical Safety Officer"
organisation = "Example Health Ltd"
date = 2026-11-30

[[declaration]]
requirement = "DEC-CS-001"
answer = "yes"                      # yes | no | not-applicable
evidence = "Clinical safety case report CSCR-12 v3.1; hazard log HL-12 v7"

[[declaration]]
requirement = "DEC-IG-001"
answer = "yes"
dspt_org_code = "8JK23"
dspt_status = "Standards Met"
dspt_year = "2025-26"

[[attestation]]                     # an attested requirement a person confirmed (who, when, what was seen)
requirement = "GEN-SEC-001"
by = "A. Tester, test lead"
at = 2026-11-29
seen = "TLS 1.2 and 1.3 only, checked with testssl.sh against the INT endpoint"
evidence = "evidence/testssl-int.txt"          # optional, relative to this file; copied into the pack
```

Named on the command line (`gpc-assure run --declarations FILE`) or in the target file
(`[system] declarations = "FILE"`). Problems are one-line ConfigErrors (exit 2); a date in the future
is an error; a DSPT assessment year that has run out (each year's assessment is due by 30 June of its
second year) leaves the row outstanding, with the reason. The file and every evidence file are
copied into the pack, so the manifest covers them and `verify` and `diff` see changes.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from gpc_assure.errors import ConfigError
from gpc_assure.requirements import Catalogue, in_scope

PACK_DIR = "declarations"
ANSWERED = "declared"
OUTSTANDING = "outstanding"
DSPT_STATUSES = ("Standards Met", "Standards Exceeded", "Approaching Standards", "Standards Not Met")
_DSPT_YEAR = re.compile(r"^(\d{4})[-/](\d{2}|\d{4})$")
# What some rows need besides the answer, so a reviewer can check the declaration.
REQUIRED_FIELDS = {
    "DEC-CS-005": ("cso_name",), "DEC-CS-006": ("cso_name",), "DEC-CS-007": ("cso_name",),
    "DEC-CS-008": ("cso_name",),
    "DEC-IG-001": ("dspt_org_code", "dspt_status", "dspt_year"),
    "DEC-IG-002": ("dspt_org_code", "dspt_status", "dspt_year"),
    "DEC-IG-003": ("dspt_org_code", "dspt_status", "dspt_year"),
    "DEC-IG-004": ("dspt_org_code", "dspt_status", "dspt_year"),
    "DEC-PFS-001": ("category",), "DEC-PFS-002": ("category",),
}
CATEGORIES = {"DEC-PFS-001": ("incumbent-provider", "nme-provider"),
              "DEC-PFS-002": ("incumbent-consumer", "nme-consumer")}


def _date_text(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date | dt.datetime) else v


class Declarant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    organisation: str
    date: str

    _when = field_validator("date", mode="before")(classmethod(lambda cls, v: _date_text(v)))

    @field_validator("name", "role", "organisation")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requirement: str
    answer: Literal["", "yes", "no", "not-applicable"] = ""  # "" not answered yet: the row stays outstanding
    evidence: str | None = None
    note: str | None = None
    cso_name: str | None = None
    dspt_org_code: str | None = None
    dspt_status: str | None = None
    dspt_year: str | None = None
    category: str | None = None


class Attestation(BaseModel):
    """A person's attestation of one attested requirement: who, when, what they saw, and evidence.

    The same record serves the declarations file and a consumer's attestation file
    (gpc_assure/consumer/attestation.py), where a reviewer may add who confirmed it and when.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    requirement: str
    by: str
    at: str
    seen: str
    evidence: str | None = None
    run: str | None = None  # the run the person watched
    confirmed_by: str | None = None  # added by the reviewer who checked the evidence
    confirmed_at: str | None = None

    @field_validator("at", "confirmed_at", mode="before")
    @classmethod
    def _when(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date | dt.datetime | dt.time) else v

    @field_validator("by", "seen")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class DeclarationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    declarant: Declarant
    declaration: list[Declaration] = []
    attestation: list[Attestation] = []


def _day(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a date such as 2026-11-30") from None


def dspt_expiry(year: str) -> dt.date | None:
    """The last day an assessment of this DSPT year counts: 30 June of its second year ('2025-26')."""
    m = _DSPT_YEAR.match(year.strip())
    if not m:
        return None
    first = int(m.group(1))
    return dt.date(first + 1, 6, 30)


def load(path: Path, catalogue: Catalogue, today: dt.date | None = None) -> DeclarationsFile:
    """The supplier's declarations file, validated; every problem is a one-line ConfigError."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: declarations file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the declarations file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        parsed = DeclarationsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{path}: {loc}: {msg}") from None
    if _day(parsed.declarant.date, f"{path}: declarant.date") > today:
        raise ConfigError(f"{path}: declarant.date {parsed.declarant.date} is in the future")
    seen: set[str] = set()
    for n, d in enumerate(parsed.declaration):
        where = f"{path}: declaration[{n}] ({d.requirement})"
        req = catalogue.by_id.get(d.requirement)
        if req is None:
            raise ConfigError(f"{where}: unknown requirement")
        if req.kind != "declaration":
            raise ConfigError(f"{where}: not a declaration row; attest it with [[attestation]] instead")
        if d.requirement in seen:
            raise ConfigError(f"{where}: answered twice")
        seen.add(d.requirement)
        if d.answer == "yes":
            for name in REQUIRED_FIELDS.get(d.requirement, ()):
                if not getattr(d, name):
                    raise ConfigError(f"{where}: needs {name}")
            if d.dspt_status and d.dspt_status not in DSPT_STATUSES:
                raise ConfigError(f"{where}: dspt_status must be one of {', '.join(DSPT_STATUSES)}")
            if d.dspt_year and dspt_expiry(d.dspt_year) is None:
                raise ConfigError(f"{where}: dspt_year must read like 2025-26")
            if d.category and d.category not in CATEGORIES.get(d.requirement, ()):
                raise ConfigError(f"{where}: category must be one of {', '.join(CATEGORIES[d.requirement])}")
        if d.evidence and _is_file_ref(d.evidence) and not (path.parent / d.evidence).is_file():
            raise ConfigError(f"{where}: evidence file not found: {path.parent / d.evidence}")
    for n, a in enumerate(parsed.attestation):
        where = f"{path}: attestation[{n}] ({a.requirement})"
        req = catalogue.by_id.get(a.requirement)
        if req is None:
            raise ConfigError(f"{where}: unknown requirement")
        if req.verification != "attested" or req.kind == "declaration":
            raise ConfigError(f"{where}: the requirement is not an attested check (declarations go in "
                              "[[declaration]])")
        if _day(a.at, f"{where}: at") > today:
            raise ConfigError(f"{where}: at {a.at} is in the future")
        if a.evidence and not (path.parent / a.evidence).is_file():
            raise ConfigError(f"{where}: evidence file not found: {path.parent / a.evidence}")
    return parsed


def _is_file_ref(text: str) -> bool:
    """An evidence value that names a file beside the declarations file (else it names a document)."""
    return "/" in text and " " not in text.strip()


def status(d: Declaration | None, today: dt.date) -> tuple[str, str]:
    """(verdict, why) of one declaration row."""
    if d is None or not d.answer:
        return "awaiting-attestation", "not answered in the declarations file"
    if d.answer == "no":
        return "not-met", "the supplier declares it does not meet this" + (f": {d.note}" if d.note else "")
    if d.answer == "not-applicable":
        return "not-applicable", "the supplier declares it does not apply" + (f": {d.note}" if d.note else "")
    if d.dspt_year:
        ends = dspt_expiry(d.dspt_year)
        if ends is not None and ends < today:
            return "awaiting-attestation", (f"the DSPT assessment for {d.dspt_year} ran out on {ends.isoformat()}: "
                                            "declare the current year's")
        if d.dspt_status and d.dspt_status not in ("Standards Met", "Standards Exceeded"):
            return "not-met", f"DSPT status is {d.dspt_status}; at least Standards Met is required"
    return "attested", "declared"


def annotate(results: dict[str, Any], parsed: DeclarationsFile, source: Path, pack: Path,
             today: dt.date | None = None) -> None:
    """Give declaration and attested rows their verdicts from the file; copy the file into the pack."""
    today = today or dt.datetime.now(dt.UTC).date()
    decl = {d.requirement: d for d in parsed.declaration}
    att = {a.requirement: a for a in parsed.attestation}
    who = parsed.declarant
    for req in results["requirements"]:
        rid = req["id"]
        if rid in decl:
            d = decl[rid]
            verdict, why = status(d, today)
            req["verdict"], req["reason"] = verdict, why if verdict != "attested" else req.get("reason")
            req["attestation"] = {"status": ANSWERED if verdict == "attested" else verdict, "by":
                                  f"{who.name}, {who.role}, {who.organisation}", "at": who.date,
                                  "seen": _declared_text(d), "evidence": d.evidence}
        elif rid in att and req.get("verification") == "attested" and req["verdict"] in ("attested",
                                                                                          "awaiting-attestation"):
            a = att[rid]
            req["verdict"] = "attested"
            req["attestation"] = {"status": "attested", "by": a.by, "at": a.at, "seen": a.seen,
                                  "evidence": a.evidence}
    target = pack / PACK_DIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / source.name)
    for ref in [d.evidence for d in parsed.declaration if d.evidence and _is_file_ref(d.evidence)] + \
               [a.evidence for a in parsed.attestation if a.evidence]:
        dest = target / ref
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.parent / ref, dest)
    results.setdefault("run", {})["declarations"] = {
        "file": f"{PACK_DIR}/{source.name}", "declarant": who.model_dump(),
        "answered": len(decl), "attested": len(att)}


def _declared_text(d: Declaration) -> str:
    parts = [f"answer: {d.answer}"]
    for name in ("cso_name", "dspt_org_code", "dspt_status", "dspt_year", "category", "evidence", "note"):
        value = getattr(d, name)
        if value:
            parts.append(f"{name.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def template(catalogue: Catalogue, flows: set[str] | None, roles: set[str] | None) -> str:
    """A starting declarations file for these flows and roles: every row to answer, with what it needs."""
    lines = ["# gpc-assure declarations: answer each row (yes | no | not-applicable) and name the evidence.",
             "# Unanswered rows stay outstanding in the report and fail `gpc-assure run --gate submission`.",
             "", "[declarant]", 'name = ""', 'role = ""', 'organisation = ""',
             f"date = {dt.datetime.now(dt.UTC).date().isoformat()}", ""]
    for req in catalogue:
        if req.kind != "declaration" or not in_scope(req, flows, roles):
            continue
        lines.append(f"# {req.id} ({req.actor}): {req.statement}")
        lines.append(f"# why declared: {req.reason}")
        lines += ["[[declaration]]", f'requirement = "{req.id}"', 'answer = ""', 'evidence = ""']
        for name in REQUIRED_FIELDS.get(req.id, ()):
            hint = f"  # one of: {', '.join(CATEGORIES[req.id])}" if name == "category" else ""
            lines.append(f'{name} = ""{hint}')
        lines.append("")
    return "\n".join(lines)
