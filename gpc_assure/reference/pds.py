"""The reference system's PDS verification: does a set of demographics verify an NHS number on PDS?

One rule serves Find a patient (#921, FND-FP-015/016) and Register a patient (FND-REG-005/006/007):
the NHS number is on PDS and either the birth date matches exactly, or two of its three parts match
and the family name's first three letters and the given name's initial match. The record must also
be alive and carry none of the flags invalid, sensitive or superseded.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpc_assure.reference.data import PdsRecord
from gpc_assure.reference.faults import ActiveFaults, declare

EXACT_DOB_ONLY = declare(
    "pds-verification-exact-dob-only", ["FND-FP-015"], "foundations",
    "PDS verification passes only on an exact birth date; the partial rule (2 of 3 date parts, family "
    "prefix, given initial) is not applied, so a #921 patient with one differing date part is not returned")


@dataclass(frozen=True)
class Demographics:
    family: str
    given: tuple[str, ...]
    birth_date: str  # YYYY-MM-DD


def _date_parts(value: str) -> tuple[str, str, str] | None:
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return parts[0], parts[1], parts[2]


def _fold(text: str) -> str:
    return "".join(text.split()).casefold()


def demographics_match(pds: PdsRecord, who: Demographics, faults: ActiveFaults) -> bool:
    """FND-FP-015: the PDS record verifies these demographics."""
    if who.birth_date == pds.birth_date:
        return True
    if faults.on(EXACT_DOB_ONLY):
        return False
    ours, theirs = _date_parts(who.birth_date), _date_parts(pds.birth_date)
    if ours is None or theirs is None:
        return False
    same_parts = sum(a == b for a, b in zip(ours, theirs, strict=True))
    # Names shorter than three letters compare whole.
    family_ok = bool(_fold(who.family)) and _fold(who.family)[:3] == _fold(pds.family)[:3]
    ours_given = _fold(who.given[0]) if who.given else ""
    theirs_given = _fold(pds.given[0]) if pds.given else ""
    initial_ok = bool(ours_given) and ours_given[:1] == theirs_given[:1]
    return same_parts >= 2 and family_ok and initial_ok


def record_problem(pds: PdsRecord) -> str | None:
    """FND-FP-016 / FND-REG-006: why this PDS record cannot verify anyone (deceased or flagged), if it cannot."""
    if pds.deceased:
        return "the patient is recorded as deceased on PDS"
    if pds.flags:
        return f"the PDS record is flagged {', '.join(pds.flags)}"
    return None
