"""A consumer's side of a provider's appointment book, for the Appointment Management suites.

- `Diary` searches for free slots as the booking organisation would (CON-011/012) and finds slots to
  book. Every search a test relies on is a precondition: it must be answered 200 with a searchset
  (APT-SLOT-012) about the range asked (APT-SLOT-013); otherwise the test stops, charged to that
  requirement, with its own requirements not judged. A target offering no free slot is a lack of test
  data: the test ends insufficient-data.
- `Booker` finds the patient (Find a patient, as CON-006 orders it: search, find, book), books,
  reads, amends and cancels. The booking, read or retrieve a test needs is a precondition charged to
  the requirement about that interaction (APT-BOOK-015, APT-READ-001, APT-RET-006...), never to the
  test's own. Every appointment it books is recorded in the run's `Ledger` and cancelled by `cleanup`
  when the test ends, pass or fail; what it cannot cancel is reported as left behind.

Both take the test's `verify` (see the appointments conftest), through which preconditions are charged.
"""


from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from gpc_assure.checks import appointment as appt_checks
from gpc_assure.checks import slot as slot_checks
from gpc_assure.checks.core import Check, compact
from gpc_assure.checks.outcome import body_as_json
from gpc_assure.checks.resources import resource
from gpc_assure.fhir import booking, profiles, uktime
from gpc_assure.fhir.booking import FreeSlot
from gpc_assure.fhir.parse import validate_structure
from gpc_assure.outcomes import InsufficientData, NotApplicable
from gpc_assure.target import AppointmentsSection, BookingOrganisation, Target
from gpc_assure.transport.client import GpcClient
from gpc_assure.transport.exchange import BodyNotJson, Exchange

ORG_TYPE_SYSTEM = booking.ORGANISATION_TYPE_SYSTEM
ALL_RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location", "Location:managingOrganization")
ACTOR_RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location")
LEAD = dt.timedelta(hours=1)  # slots starting sooner are not booked: they could be past before the test ends
CLEANUP_REASON = "gpc-assure: conformance test clean-up"
NO_ID = "the target did not say which appointment it created"


def day(offset: int) -> str:
    """Today (UK) plus `offset` days, as yyyy-mm-dd."""
    return (uktime.today() + dt.timedelta(days=offset)).isoformat()


def at(offset: int, hhmm: str) -> dt.datetime:
    return uktime.at(uktime.today() + dt.timedelta(days=offset), hhmm)


def body_of(ex: Exchange) -> Any:
    try:
        return ex.json
    except BodyNotJson:
        return None


def organisation_claim(org: BookingOrganisation) -> dict[str, Any]:
    """A JWT requesting_organization for another organisation (APT-READ-005, APT-AMD-008)."""
    return {"resourceType": "Organization",
            "identifier": [{"system": profiles.ODS_ORG_SYSTEM, "value": org.ods_code}], "name": org.name}


def need(value: Any, what: str) -> Any:
    """A target-file value the test needs, else insufficient-data naming the [appointments] key."""
    if value is None:
        raise InsufficientData(msg=f"the target file's [appointments] section has no {what}")
    return value


def capability(flag: bool, what: str) -> None:
    if not flag:
        raise NotApplicable(msg=f"the target declares it does not support {what}")


def require(verify: Any, ex: Exchange, *checks: Check, identity: tuple[Check, ...] = (), what: str) -> Exchange:
    """A precondition (`verify.needs`) that is met only on an answer about what was asked.

    `identity` says the answer is about what was asked (the range searched, the appointment booked);
    `checks` are the rules the answer must obey. A met judgement is recorded only when everything was
    met. Otherwise the test stops, charged to what was not met: an answer about something else is
    charged to its identity requirement alone (the other rules are not judged on it); an answer of
    the wrong kind (a refusal, a body that is not a searchset) to the checks it broke.
    """
    def not_all_met(cs: tuple[Check, ...], wrong: bool) -> list[Check]:
        out = []
        for c in cs:
            js = c(ex)
            if (any(j.not_met for j in js) if wrong else not all(j.met for j in js)):
                out.append(c)
        return out

    for cs, wrong in ((identity, True), (checks, False), (identity, False)):
        failing = not_all_met(cs, wrong)
        if failing:
            verify.needs(ex, *failing, what=what)
    # Everything held: the judgements of the test's own requirements are its evidence (a precondition that
    # holds records nothing for the requirements the test does not name).
    declared = set(verify.declared or ())
    own = [c for c in (*checks, *identity) if c.requirement in declared]
    if own:
        verify(ex, *own)
    return ex


# -- searching -------------------------------------------------------------------------------------

class Diary:
    """Free-slot searches for one test."""

    def __init__(self, gpc: GpcClient, settings: AppointmentsSection, verify: Any):
        self.gpc = gpc
        self.settings = settings
        self.verify = verify

    def filters(self) -> list[tuple[str, str]]:
        s = self.settings
        org = s.booking_organisation
        org_type = s.search_filter_org_type or (org.type if org else None)
        ods = s.search_filter_ods_code or (org.ods_code if org else None)
        out = []
        if org_type:
            out.append(("searchFilter", f"{ORG_TYPE_SYSTEM}|{org_type}"))
        if ods:
            out.append(("searchFilter", f"{profiles.ODS_ORG_SYSTEM}|{ods}"))
        return out

    def params(self, start: str | None, end: str | None, *, filters: bool | list[tuple[str, str]] = True,
               recurse: tuple[str, ...] = ACTOR_RECURSE, status: str | None = "free",
               include: bool = True) -> list[tuple[str, str]]:
        p: list[tuple[str, str]] = []
        if start is not None:
            p.append(("start", start))
        if end is not None:
            p.append(("end", end))
        if status is not None:
            p.append(("status", status))
        if include:
            p.append(("_include", "Slot:schedule"))
        p += [("_include:recurse", r) for r in recurse]
        p += self.filters() if filters is True else (filters or [])
        return p

    def search(self, start: str | None, end: str | None, label: str = "search for free slots",
               **kw: Any) -> Exchange:
        """The search as sent and answered, judged by nobody (the test judges it)."""
        return self.gpc.call("slot.search", params=self.params(start, end, **kw), label=label)

    def searched(self, start: str, end: str, *, what: str = "the free-slot search this test reads",
                 **kw: Any) -> Exchange:
        """A search this test reads (a precondition): answered 200 with a searchset about the range asked,
        else the test stops, charged to APT-SLOT-012 or APT-SLOT-013."""
        ex = self.search(start, end, **kw)
        return require(self.verify, ex, slot_checks.answered("APT-SLOT-012"),
                       identity=(slot_checks.in_range(start, end, "APT-SLOT-013"),), what=what)

    def accepted(self, own: Check | tuple[Check, ...], start: str | None, end: str | None, *,
                 what: str = "the search this test judges", **kw: Any) -> Exchange:
        """A search whose answer is the test's own rule (`own`, e.g. answered 200 with a searchset): a refusal
        fails `own`; an answer about another range is charged to APT-SLOT-013 alone; `own` is met only on an
        answer about the range asked."""
        ex = self.search(start, end, **kw)
        checks = own if isinstance(own, tuple) else (own,)
        return require(self.verify, ex, *checks, identity=(slot_checks.in_range(start, end, "APT-SLOT-013"),),
                       what=what)

    def free(self, days: int = 13, *, filters: bool | list[tuple[str, str]] = True,
             lead: dt.timedelta = LEAD, enough: int = 1,
             what: str = "the free-slot search for a slot this test books") -> list[FreeSlot]:
        """Bookable free slots from now + lead; a short window first, then up to `days` days.

        The search is a precondition (see `searched`); no bookable slot at all makes the test
        insufficient-data, with the reason.
        """
        soon = uktime.now() + lead
        slots: list[FreeSlot] = []
        for span in sorted({min(1, days), days}):
            ex = self.searched(f"ge{day(0)}", f"le{day(span)}", filters=filters, recurse=ALL_RECURSE,
                               label="search for free slots to book", what=what)
            slots = [s for s in booking.free_slots(body_as_json(ex)) if s.start >= soon and s.bookable]
            if len(slots) >= enough:
                return slots
        if not slots:
            self.verify.stop(f"the target offers no bookable free slot from {day(0)} to {day(days)} (starting at "
                             "least an hour from now, with a Location on its Schedule)")
        return slots

    def slot(self, **kw: Any) -> FreeSlot:
        return self.free(**kw)[0]


# -- booking, with clean-up ------------------------------------------------------------------------

@dataclass
class Booked:
    id: str  # "?" when the target did not say which appointment it created
    patient_id: str
    start: dt.datetime | None
    org: BookingOrganisation
    test: str
    cancelled: bool = False  # a cancel was accepted (200 with status cancelled), or a read showed it cancelled
    left: str | None = None  # why the clean-up could not cancel it
    # The clean-up sent a valid cancel (the appointment as Read returned it) and the target refused it.
    cancel_refused: bool = False


@dataclass
class Ledger:
    """Every appointment the suite booked in this run, and the patients' logical ids it found."""

    booked: list[Booked] = field(default_factory=list)
    patient_ids: dict[str, str] = field(default_factory=dict)


_LOCATION_ID = re.compile(r"/Appointment/([^/]+)(?:/_history/[^/]+)?/?$")


def _has_nhs_number(patient: dict[str, Any], nhs_number: str) -> bool:
    return any(isinstance(i, dict) and i.get("system") == profiles.NHS_NUMBER_SYSTEM and i.get("value") == nhs_number
               for i in patient.get("identifier") or [])


def found_patient(nhs_number: str, role: str, requirement: str = "FND-FP-002") -> Check:
    """Find a patient answered 200 with a searchset holding the patient searched for, with a logical id."""

    def rule(ex: Exchange) -> list[str]:
        assert ex.response is not None
        if ex.response.status != 200:
            return [f"Find a patient was answered HTTP {ex.response.status}, not 200 with a searchset"]
        body = body_as_json(ex)
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            return ["Find a patient was answered HTTP 200 without a searchset Bundle"]
        patients = slot_checks.entries(body, "Patient")
        if not any(_has_nhs_number(p, nhs_number) and isinstance(p.get("id"), str) and p["id"] for p in patients):
            others = f" (it returned {len(patients)} other patient{'s' if len(patients) != 1 else ''})" \
                if patients else ""
            return [f"Find a patient by NHS number {nhs_number} did not return the '{role}' patient with a "
                    f"logical id{others}"]
        return []

    return Check(requirement, rule, f"Find a patient returned the '{role}' patient searched for, with a logical id")


class Booker:
    def __init__(self, gpc: GpcClient, target: Target, ledger: Ledger, test_data: Any, node: str, verify: Any):
        self.gpc = gpc
        self.settings = target.appointments
        self.ledger = ledger
        self.test_data = test_data
        self.node = node
        self.verify = verify
        self.mine: list[Booked] = []

    # -- who books, for whom
    def _setting(self, value: Any, what: str) -> Any:
        """A target-file value the test needs; without it the test stops insufficient-data, naming the key."""
        if value is None:
            self.verify.stop(f"the target file's [appointments] section has no {what}")
        return value

    @property
    def org(self) -> BookingOrganisation:
        return self._setting(self.settings.booking_organisation, "booking_organisation")

    @property
    def other_org(self) -> BookingOrganisation:
        return self._setting(self.settings.other_organisation, "other_organisation")

    def patient_id(self, role: str | None = None) -> str:
        """The logical id of the booking patient, from Find a patient (cached for the run). A find that does
        not return the patient is charged to FND-FP-002 and stops the test."""
        role = role or self.settings.patient_role
        if role in self.ledger.patient_ids:
            return self.ledger.patient_ids[role]
        p = self.test_data.patient(role)
        ex = self.gpc.call("patient.find", params=[("identifier", f"{profiles.NHS_NUMBER_SYSTEM}|{p.nhs_number}")],
                           label=f"find the {role} patient")
        require(self.verify, ex, found_patient(p.nhs_number, role), what=f"the '{role}' patient this test books for")
        found = [r for r in slot_checks.entries(body_as_json(ex), "Patient") if _has_nhs_number(r, p.nhs_number)]
        self.ledger.patient_ids[role] = str(found[0]["id"])
        return self.ledger.patient_ids[role]

    def payload(self, slots: list[FreeSlot], description: str = "gpc-assure conformance test appointment",
                comment: str | None = "Booked by an automated conformance test; cancelled at once.",
                org: BookingOrganisation | None = None, patient_id: str | None = None) -> dict[str, Any]:
        return booking.appointment(slots, patient_id or self.patient_id(), org or self.org, description, comment)

    # -- calls
    def book(self, body: Any, org: BookingOrganisation | None = None, label: str = "book an appointment",
             **kw: Any) -> Exchange:
        """POST /Appointment; whatever the target creates is tracked for clean-up."""
        ex = self.gpc.call("appointment.book", body=body, label=label, **kw)
        if ex.status is not None and 200 <= ex.status < 300:
            self._track(ex, body, org or self.org)
        return ex

    def _track(self, ex: Exchange, body: Any, org: BookingOrganisation) -> None:
        res = body_as_json(ex)
        aid = res.get("id") if isinstance(res, dict) and res.get("resourceType") == "Appointment" else None
        if not aid and ex.response is not None:
            m = _LOCATION_ID.search(ex.response.header("Location") or "")
            aid = m.group(1) if m else None
        patient = next((p.get("actor", {}).get("reference", "").split("/", 1)[-1]
                        for p in (body or {}).get("participant") or [] if isinstance(p, dict)
                        and str(p.get("actor", {}).get("reference", "")).startswith("Patient/")), "?") \
            if isinstance(body, dict) else "?"
        start = uktime.parse_instant(body.get("start")) if isinstance(body, dict) else None
        rec = Booked(str(aid) if aid else "?", patient, start, org, self.node)
        self.mine.append(rec)
        self.ledger.booked.append(rec)

    def booked(self, slots: list[FreeSlot] | None = None, diary: Diary | None = None, *,
               what: str = "the booking this test needs", **payload_kw: Any) -> dict[str, Any]:
        """A booked appointment this test needs (a precondition): its representation as the booking returned it.

        A booking not answered 201 with the appointment booked is charged to APT-BOOK-015, and one whose
        Appointment is not a valid STU3 resource to APT-PRF-003; the test stops with its own requirements
        not judged.
        """
        if slots is None:
            assert diary is not None
            slots = [diary.slot()]
        org = payload_kw.get("org")
        body = self.payload(slots, **payload_kw)
        ex = self.book(body, org=org, label="book the appointment this test needs")
        require(self.verify, ex, appt_checks.made(body, "APT-BOOK-015"), resource("Appointment", "APT-PRF-003"),
                what=what)
        return ex.json

    def retrieve(self, patient_id: str, ge: str, le: str, label: str = "retrieve the patient's appointments",
                 **kw: Any) -> Exchange:
        """GET /Patient/{id}/Appointment?start=ge{ge}&start=le{le} (dates yyyy-mm-dd, or anything to probe)."""
        params = kw.pop("params", None) or [("start", f"ge{ge}"), ("start", f"le{le}")]
        return self.gpc.call("appointment.retrieve", path_params={"id": patient_id}, params=params, label=label,
                             **kw)

    def retrieved(self, patient_id: str, ge: str, le: str, *, what: str = "the retrieve this test reads",
                  **kw: Any) -> Exchange:
        """A retrieve this test reads (a precondition): 200 with a searchset of the patient's appointments,
        else charged to APT-RET-006."""
        ex = self.retrieve(patient_id, ge, le, **kw)
        return require(self.verify, ex, appt_checks.retrieved(patient_id, "APT-RET-006"), what=what)

    def started_today(self) -> dict[str, Any]:
        """An appointment of the booking patient that has already started today and is still booked, as
        retrieve returns it (a consumer holding its current representation); the test stops insufficient-data
        when there is none."""
        ex = self.retrieved(self.patient_id(), day(0), day(0), label="retrieve today's appointments",
                            what="the retrieve of today's appointments this test picks one from")
        now = uktime.now()
        for appt in slot_checks.entries(body_as_json(ex), "Appointment"):
            start = uktime.parse_instant(appt.get("start"))
            if start is not None and start < now and appt.get("status") == "booked" and appt.get("id"):
                return appt
        self.verify.stop(f"the '{self.settings.patient_role}' patient has no booked appointment that started earlier "
                         f"today ({ex.describe()}); the test needs one it can try to amend or cancel")
        raise AssertionError("unreachable")

    def read(self, appointment_id: str, org: BookingOrganisation | None = None, label: str = "read the appointment",
             **kw: Any) -> Exchange:
        if org is not None and "claims" not in kw:
            claims = self.gpc.claims("appointment.read")
            claims["requesting_organization"] = organisation_claim(org)
            kw["claims"] = claims
        return self.gpc.call("appointment.read", path_params={"id": appointment_id}, label=label, **kw)

    def current(self, appointment_id: str, org: BookingOrganisation | None = None, *,
                label: str = "read the appointment's current version",
                what: str = "the read of the appointment this test works on") -> dict[str, Any]:
        """The appointment as it is now (a precondition read, charged to APT-READ-001)."""
        ex = self.read(appointment_id, org, label=label)
        require(self.verify, ex, appt_checks.is_appointment(appointment_id, "APT-READ-001", what="the read"),
                what=what)
        return body_as_json(ex)

    def amend(self, appointment_id: str, body: Any, version: str | None, label: str = "amend the appointment",
              **kw: Any) -> Exchange:
        headers = dict(kw.pop("headers", {}) or {})
        if version is not None:
            headers.setdefault("If-Match", f'W/"{version}"')
        return self.gpc.call("appointment.amend", path_params={"id": appointment_id}, body=body, headers=headers,
                             label=label, **kw)

    def amended(self, appointment_id: str, body: Any, version: str | None, *, label: str = "amend the appointment",
                what: str = "the amend this test needs") -> dict[str, Any]:
        """An amend this test relies on (a precondition, charged to APT-AMD-007): the amended appointment."""
        ex = self.amend(appointment_id, body, version, label=label)
        require(self.verify, ex, appt_checks.is_appointment(appointment_id, "APT-AMD-007", what="the amend"),
                what=what)
        return body_as_json(ex)

    def cancel(self, appt: dict[str, Any], reason: str = "Patient no longer needs the appointment",
               body: Any = None, version: str | None = None, label: str = "cancel the appointment",
               **kw: Any) -> Exchange:
        headers = dict(kw.pop("headers", {}) or {})
        v = version or booking.version_of(appt)
        if v is not None:
            headers.setdefault("If-Match", f'W/"{v}"')
        ex = self.gpc.call("appointment.cancel", path_params={"id": str(appt.get("id"))},
                           body=booking.cancellation(appt, reason) if body is None else body, headers=headers,
                           label=label, **kw)
        res = body_as_json(ex)
        if ex.status == 200 and isinstance(res, dict) and res.get("status") == "cancelled" \
                and res.get("id") == appt.get("id"):
            for rec in self.ledger.booked:
                if rec.id == str(appt.get("id")):
                    rec.cancelled = True
        return ex

    def cancelled(self, appt: dict[str, Any], reason: str = "Patient no longer needs the appointment", *,
                  label: str = "cancel the appointment", what: str = "the cancel this test needs") -> dict[str, Any]:
        """A cancel this test relies on (a precondition, charged to APT-CAN-005): the cancelled appointment."""
        ex = self.cancel(appt, reason, label=label)
        aid = str(appt.get("id"))
        require(self.verify, ex, appt_checks.is_appointment(aid, "APT-CAN-005", what="the cancel"),
                Check("APT-CAN-005", lambda e: [] if (body_as_json(e) or {}).get("status") == "cancelled" else
                      [f"the cancel was answered with Appointment {aid} of status "
                       f"{compact((body_as_json(e) or {}).get('status'))}, not cancelled"],
                      "the cancelled appointment has status cancelled"), what=what)
        return body_as_json(ex)

    def cancel_id(self, appointment_id: str) -> None:
        """Cancel now (inside a test), quietly; the finaliser retries whatever this leaves booked."""
        rec = next((r for r in self.mine if r.id == appointment_id), None)
        self._undo(rec or Booked(appointment_id, "?", None, self.org, self.node))

    # -- clean-up
    def _undo(self, rec: Booked) -> str | None:
        """Cancel one booked appointment; None when done, else why not."""
        if rec.cancelled:
            return None
        claims = self.gpc.claims("appointment.read")
        claims["requesting_organization"] = organisation_claim(rec.org)
        ex = self.gpc.call("appointment.read", path_params={"id": rec.id}, claims=claims,
                           label="clean-up: read the appointment the test booked")
        appt = body_as_json(ex)
        if ex.status != 200 or not isinstance(appt, dict) or appt.get("resourceType") != "Appointment":
            return f"it could not be read to cancel it ({ex.describe()})"
        if appt.get("status") == "cancelled":
            rec.cancelled = True
            return None
        claims = self.gpc.claims("appointment.cancel")
        claims["requesting_organization"] = organisation_claim(rec.org)
        version = booking.version_of(appt, ex.response.header("ETag") if ex.response else None)
        ex = self.gpc.call("appointment.cancel", path_params={"id": rec.id}, claims=claims,
                           body=booking.cancellation(appt, CLEANUP_REASON),
                           headers={"If-Match": f'W/"{version}"'} if version else None,
                           label="clean-up: cancel the appointment the test booked")
        res = body_as_json(ex)
        if ex.status == 200 and isinstance(res, dict) and res.get("status") == "cancelled":
            rec.cancelled = True
            return None
        invalid = validate_structure(appt, "Appointment")
        if invalid:  # the target's own representation, sent back as the cancel: its refusal says little of cancel
            return (f"the cancel was not accepted ({ex.describe()}); the appointment as Read returned it, which the "
                    f"cancel sent back, is not a valid STU3 Appointment ({invalid[0]})")
        rec.cancel_refused = True
        return f"the cancel was not accepted ({ex.describe()})"

    def cleanup(self, left_behind: Any) -> None:
        for rec in self.mine:
            why = self._undo(rec) if rec.id != "?" else NO_ID
            rec.left = why
            if why:
                when = uktime.format_local(rec.start) if rec.start else "an unknown start"
                what = "an appointment" if rec.id == "?" else f"appointment {rec.id}"
                left_behind(f"{what} for Patient/{rec.patient_id} at {when} may still be booked: {why}")
