"""UK local time as GP Connect writes it: `yyyy-mm-ddThh:mm:ss+hh:mm`, with +00:00 (GMT) or +01:00 (BST).

Appointment Management exchanges every date and time in UK local time with an explicit offset
(APT-SLOT-002, APT-SLOT-020, APT-RET-009). The reference provider and the checks share these
helpers so both read "UK local time" the same way: the offset must be the one the UK actually used
at that instant, not merely one of the two allowed values.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\+00:00|\+01:00)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now() -> dt.datetime:
    return dt.datetime.now(LONDON)


def today() -> dt.date:
    return now().date()


def at(day: dt.date, hhmm: str) -> dt.datetime:
    """That wall-clock time on that day in the UK (zoneinfo picks GMT or BST)."""
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=LONDON)


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=LONDON)


def format_local(moment: dt.datetime) -> str:
    """The instant in UK local time, e.g. 2026-07-01T10:00:00+01:00."""
    return moment.astimezone(LONDON).isoformat(timespec="seconds")


def parse_instant(text: object) -> dt.datetime | None:
    """An ISO 8601 date-time with an offset (or Z), else None. Lenient: for comparing instants."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def local_problem(text: object, what: str) -> str | None:
    """Why `text` is not a UK local date-time in the GP Connect form, or None when it is."""
    if not isinstance(text, str):
        return f"{what} is missing" if text is None else f"{what} is not a string"
    if not LOCAL_DATETIME.match(text):
        return f"{what} {text!r} is not yyyy-mm-ddThh:mm:ss+hh:mm with +00:00 or +01:00"
    moment = parse_instant(text)
    if moment is None:
        return f"{what} {text!r} is not a valid date-time"
    expected = format_local(moment)[-6:]
    if text[-6:] != expected:
        return f"{what} {text!r} has offset {text[-6:]}, but UK local time then was {expected}"
    return None
