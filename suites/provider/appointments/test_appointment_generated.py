"""Generated inputs (hypothesis) where tables miss things: search windows cut anywhere through the day,
malformed dates, any text in description and comment, and any change an amend must refuse.

Each property keeps only the smallest failing example's findings, and is met only by examples it could
judge (gpc_assure.properties).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gpc_assure.checks import appointment as rules
from gpc_assure.checks import outcome, slot
from gpc_assure.checks.core import Judgement, Verdict
from gpc_assure.checks.resources import each
from gpc_assure.diary_client import body_of, day
from gpc_assure.fhir import booking, uktime
from gpc_assure.properties import Examples, check_property

QUICK = settings(suppress_health_check=list(HealthCheck))
# Booking is slow and changes the target: no shrinking (the first failing example is reported as found).
NO_SHRINK = settings(suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])

# Text a person might type anywhere in the world: letters, marks, symbols, emoji; no control characters.
TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))


def _text(limit: int) -> st.SearchStrategy[str]:
    """Non-blank text up to `limit` characters, often near the limit (where byte/character bugs show)."""
    return (st.integers(1, limit).flatmap(lambda n: st.text(TEXT, min_size=n, max_size=n))
            .filter(lambda t: t.strip() and t == t.strip()))


# -- search windows --------------------------------------------------------------------------------

@pytest.mark.title("Generated search windows return exactly the free slots a wider search shows inside them")
@pytest.mark.requirement("APT-SLOT-013")
def test_generated_search_windows(diary, verify):
    # The wider searches the windows are compared with: each must be a searchset about its own range (a
    # precondition), so a window is compared with the answer expected, never only with another answer.
    wide: dict[int, list[dict[str, Any]]] = {}
    for first in range(5):  # days first..first+3 (date-only bounds: no slot is cut by midnight)
        ex = diary.searched(f"ge{day(first)}", f"le{day(first + 3)}", recurse=(), label="wide search",
                            what="the wider search the generated windows are compared with")
        wide[first] = slot.entries(ex.json, "Slot")

    def covering(first: int) -> list[dict[str, Any]]:
        return wide[first]

    @QUICK
    @given(first=st.integers(0, 4), start_min=st.integers(0, 3 * 24 * 12).map(lambda n: n * 5),
           length_min=st.integers(0, 24 * 12).map(lambda n: n * 5))
    def prop(first: int, start_min: int, length_min: int) -> None:
        base = uktime.day_start(uktime.today() + dt.timedelta(days=first))
        start = base + dt.timedelta(minutes=start_min)
        end = min(start + dt.timedelta(minutes=length_min), uktime.day_start(base.date() + dt.timedelta(days=4)))
        # Wall-clock arithmetic across a clock change: re-anchor both bounds in UK local time.
        start, end = start.astimezone(uktime.LONDON), end.astimezone(uktime.LONDON)
        expected = {s["id"] for s in covering(first) if s.get("status") == "free"
                    and (a := uktime.parse_instant(s.get("start"))) and (b := uktime.parse_instant(s.get("end")))
                    and a >= start and b <= end}
        lo, hi = "ge" + uktime.format_local(start), "le" + uktime.format_local(end)
        ex = diary.search(lo, hi, recurse=(), label="generated search window")
        window = f"window {uktime.format_local(start)} to {uktime.format_local(end)}"
        examples.judge(ex, slot.answered("APT-SLOT-013"), label=f"a valid {window}")
        examples.judge(ex, slot.in_range(lo, hi, "APT-SLOT-013", need_slots=True))
        if not expected:
            return  # nothing free in this window by the wider search: no slot to expect or to miss
        got = {s.get("id") for s in slot.entries(ex.json, "Slot")}
        if got != expected:
            examples.fail("APT-SLOT-013", f"{window} left out {', '.join(sorted(expected - got)[:5]) or 'none'} and "
                          f"added {', '.join(sorted(got - expected)[:5]) or 'none'} compared with the wider search", ex)
        examples.held("APT-SLOT-013", "a search window returns exactly the free slots a wider search shows "
                      "inside it", ex)

    examples = Examples()
    check_property(verify, prop, examples)


@pytest.mark.title("Generated malformed start and end values are refused with 422 INVALID_PARAMETER")
@pytest.mark.requirement("APT-SLOT-010", "GEN-ERR-001c")
def test_generated_malformed_dates(diary, verify):
    d = (uktime.today() + dt.timedelta(days=1)).isoformat()
    prefixes = st.sampled_from(["", "gt", "lt", "eq", "ne", "sa", "eb", "ap"])
    bad_value = st.sampled_from([d[:4], d[:7], f"{d}T09:00:00", f"{d}T09:00:00Z", f"{d}T09:00", f"{d}T09"])

    @QUICK
    @given(which=st.sampled_from(["start", "end"]), kind=st.sampled_from(["prefix", "value"]), prefix=prefixes,
           value=bad_value)
    def prop(which: str, kind: str, prefix: str, value: str) -> None:
        good = {"start": "ge", "end": "le"}[which]
        raw = f"{prefix}{d}" if kind == "prefix" else f"{good}{value}"
        if kind == "prefix" and prefix == good:
            return
        start = raw if which == "start" else f"ge{day(0)}"
        end = raw if which == "end" else f"le{day(3)}"
        ex = diary.search(start, end, recurse=(), label=f"search with {which}={raw}")
        examples.judge(ex, outcome.operation_outcome(422, "INVALID_PARAMETER", "APT-SLOT-010"),
                       outcome.diagnostics("GEN-ERR-001c", statuses=(422,)), label=f"{which}={raw}")

    examples = Examples()
    check_property(verify, prop, examples)


# -- booking and amending text ---------------------------------------------------------------------

@pytest.mark.creates_data
@pytest.mark.title("Generated descriptions and comments within the limits are booked and returned exactly")
@pytest.mark.requirement("APT-BOOK-009")
def test_generated_booking_text(diary, booker, verify):
    slots = diary.free(enough=30)
    # Booking itself must work before text can be judged (a precondition charged to APT-BOOK-015).
    first = booker.booked(slots[:1], what="a plain booking, before generated text is booked")
    booker.cancel_id(first["id"])
    pool = iter(slots[1:])

    @NO_SHRINK
    @given(description=_text(100), comment=st.none() | _text(500))
    def prop(description: str, comment: str | None) -> None:
        free = next(pool, None)
        if free is None:  # no slot left for more examples
            return
        body = booker.payload([free], description=description, comment=comment)
        ex = booker.book(body, label="book with generated text")
        try:
            sizes = f"a {len(description)}-character description and {len(comment or '')}-character comment"
            if ex.status is None or not 200 <= ex.status < 300:
                examples.fail("APT-BOOK-009", f"a booking with {sizes} (within the limits) was answered "
                              f"{f'HTTP {ex.status}' if ex.status else 'with no response'}", ex)
            made = rules.made(body)(ex)
            if not all(j.met for j in made):  # Book's own rule (APT-BOOK-015): the text cannot be read back
                examples.judged([Judgement("APT-BOOK-009", Verdict.NOT_JUDGED, f"the booking with {sizes} was not "
                                           f"answered with the appointment booked: {made[0].message}")], ex)
                return
            examples.judge(ex, each("Appointment", rules.text_kept(description, comment), "APT-BOOK-009"))
        finally:
            body = body_of(ex)
            if isinstance(body, dict) and body.get("id"):
                booker.cancel_id(body["id"])

    examples = Examples()
    check_property(verify, prop, examples)


@pytest.mark.creates_data
@pytest.mark.title("Generated amended descriptions and comments are returned exactly")
@pytest.mark.requirement("APT-AMD-006")
def test_generated_amend_text(diary, booker, verify):
    state = {"appt": booker.booked(diary=diary)}

    @QUICK
    @given(description=_text(100), comment=st.none() | _text(500))
    def prop(description: str, comment: str | None) -> None:
        appt = state["appt"]
        body = booking.for_update(appt)
        body["description"] = description
        body.pop("comment", None)
        if comment is not None:
            body["comment"] = comment
        ex = booker.amend(appt["id"], body, booking.version_of(appt), label="amend with generated text")
        if ex.status is None or not 200 <= ex.status < 300:
            examples.fail("APT-AMD-006", f"an amend to a {len(description)}-character description (within the "
                          f"limits) was answered {f'HTTP {ex.status}' if ex.status else 'with no response'}", ex)
        answer = rules.is_appointment(appt["id"], "APT-AMD-006", what="the amend")(ex)
        if not all(j.met for j in answer):  # Amend's own rule (APT-AMD-007): the text cannot be read back
            examples.judged([Judgement("APT-AMD-006", Verdict.NOT_JUDGED, f"{answer[0].message}")], ex)
            return
        state["appt"] = ex.json
        examples.judge(ex, each("Appointment", rules.text_kept(description, comment), "APT-AMD-006"))

    examples = Examples()
    check_property(verify, prop, examples)


# -- amend must refuse every other change ----------------------------------------------------------

_AMENDABLE = {"description", "comment", "meta", "id", "text"}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any, salt: int) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 + salt
    text = str(value)
    moment = uktime.parse_instant(text)
    if moment is not None:
        return uktime.format_local(moment + dt.timedelta(minutes=5 * (salt + 1)))
    return f"{text}-changed{salt}"


@pytest.mark.creates_data
@pytest.mark.title("Generated changes to any element but description and comment are refused by amend")
@pytest.mark.requirement("APT-AMD-002", "GEN-ERR-001c")
def test_generated_amend_changes(diary, booker, verify):
    state = {"appt": booker.booked(diary=diary)}
    paths = [p for p in _leaves(state["appt"]) if p and p[0] not in _AMENDABLE]
    additions = {"priority": 5, "minutesDuration": 15, "indication": [{"reference": "Condition/1"}]}
    choices = [("change", p) for p in paths] + [("add", (k,)) for k in additions if k not in state["appt"]]
    counter = itertools.count()

    @QUICK
    @given(choice=st.sampled_from(choices), salt=st.integers(0, 3))
    def prop(choice: tuple[str, tuple[Any, ...]], salt: int) -> None:
        appt = state["appt"]
        body = copy.deepcopy(booking.for_update(appt))
        how, path = choice
        if how == "add":
            body[path[0]] = additions[path[0]]
        else:
            target = body
            for part in path[:-1]:
                try:
                    target = target[part]
                except (KeyError, IndexError, TypeError):
                    return  # the element is gone (the target changed the appointment): nothing to change
            try:
                target[path[-1]] = _changed(target[path[-1]], salt)
            except (KeyError, IndexError, TypeError):
                return
        where = ".".join(map(str, path))
        ex = booker.amend(appt["id"], body, booking.version_of(appt),
                          label=f"amend changing {where} ({next(counter)})")
        if ex.status == 200 and isinstance(body_of(ex), dict):
            state["appt"] = ex.json
        examples.judge(ex, outcome.operation_outcome(422, "INVALID_RESOURCE", "APT-AMD-002"),
                       outcome.diagnostics("GEN-ERR-001c", statuses=(422,)), label=f"{how} {where}")

    examples = Examples()
    check_property(verify, prop, examples)
