"""A consumer's side of a provider's appointment book, for the Appointment Management suites.

- `Diary` searches for free slots as the booking organisation would (CON-011/012) and finds slots to
  book; a target with no free slots makes the tests that need one insufficient-data.
- `Booker` finds the patient (Find a patient, as CON-006 orders it: search, find, book), books,
  reads, amends and cancels. Every appointment it books is recorded in the run's `Ledger` and
  cancelled by `cleanup` when the test ends, pass or fail; what it cannot cancel is reported as
  left behind.
"""


from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from gpc_assure.checks import http
from gpc_assure.checks.resources import searchset
from gpc_assure.fhir import booking, profiles, uktime
from gpc_assure.fhir.booking import FreeSlot
from gpc_assure.outcomes import InsufficientData, NotApplicable
from gpc_assure.target import AppointmentsSection, BookingOrganisation, Target
from gpc_assure.transport.client import GpcClient
from gpc_assure.transport.exchange import BodyNotJson, Exchange

ORG_TYPE_SYSTEM = booking.ORGANISATION_TYPE_SYSTEM
ALL_RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location", "Location:managingOrganization")
ACTOR_RECURSE = ("Schedule:actor:Practitioner", "Schedule:actor:Location")
LEAD = dt.timedelta(hours=1)  # slots starting sooner are not booked: they could be past before the test ends
CLEANUP_REASON = "gpc-assure: conformance test clean-up"


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


def no_data(reason: str) -> NoReturn:
    """End the test as insufficient-data: the target's test data cannot exercise it."""
    raise InsufficientData(msg=reason)


def capability(flag: bool, what: str) -> None:
    if not flag:
        raise NotApplicable(msg=f"the target declares it does not support {what}")


# -- searching -------------------------------------------------------------------------------------

class Diary:
    """Free-slot searches for one test."""

    def __init__(self, gpc: GpcClient, settings: AppointmentsSection):
        self.gpc = gpc
        self.settings = settings

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
        return self.gpc.call("slot.search", params=self.params(start, end, **kw), label=label)

    def search_ok(self, verify: Any, requirement: str, start: str, end: str, **kw: Any) -> Exchange:
        """A search this test depends on: 200 with a searchset, else the test stops on `requirement`."""
        ex = self.search(start, end, **kw)
        verify.must(ex, http.status(200, requirement), searchset(requirement))
        return ex

    def free(self, days: int = 13, *, filters: bool | list[tuple[str, str]] = True,
             lead: dt.timedelta = LEAD, enough: int = 1) -> list[FreeSlot]:
        """Bookable free slots from now + lead; a short window first, then up to `days` days.

        No slot at all makes the calling test insufficient-data, with the reason.
        """
        soon = uktime.now() + lead
        slots: list[FreeSlot] = []
        for span in sorted({min(1, days), days}):
            ex = self.search(f"ge{day(0)}", f"le{day(span)}", filters=filters, recurse=ALL_RECURSE,
                             label="search for free slots to book")
            body = body_of(ex)
            if ex.status != 200 or not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise InsufficientData(msg=f"Search for free slots did not answer with a searchset, so this test "
                                           f"has no slot to book ({ex.describe()})")
            slots = [s for s in booking.free_slots(body) if s.start >= soon and s.bookable]
            if len(slots) >= enough:
                return slots
        if not slots:
            raise InsufficientData(msg=f"the target offers no bookable free slot from {day(0)} to {day(days)} "
                                       "(starting at least an hour from now, with a Location on its Schedule)")
        return slots

    def slot(self, **kw: Any) -> FreeSlot:
        return self.free(**kw)[0]



# -- booking, with clean-up ------------------------------------------------------------------------

@dataclass
class Booked:
    id: str
    patient_id: str
    start: dt.datetime | None
    org: BookingOrganisation
    test: str
    cancelled: bool = False


@dataclass
class Ledger:
    """Every appointment the suite booked in this run, and the patients' logical ids it found."""

    booked: list[Booked] = field(default_factory=list)
    patient_ids: dict[str, str] = field(default_factory=dict)



_LOCATION_ID = re.compile(r"/Appointment/([^/]+)(?:/_history/[^/]+)?/?$")


class Booker:
    def __init__(self, gpc: GpcClient, target: Target, ledger: Ledger, test_data: Any, node: str):
        self.gpc = gpc
        self.settings = target.appointments
        self.ledger = ledger
        self.test_data = test_data
        self.node = node
        self.mine: list[Booked] = []

    # -- who books, for whom
    @property
    def org(self) -> BookingOrganisation:
        return need(self.settings.booking_organisation, "booking_organisation")

    @property
    def other_org(self) -> BookingOrganisation:
        return need(self.settings.other_organisation, "other_organisation")

    def patient_id(self, role: str | None = None) -> str:
        """The logical id of the booking patient, from Find a patient (cached for the run)."""
        role = role or self.settings.patient_role
        if role in self.ledger.patient_ids:
            return self.ledger.patient_ids[role]
        p = self.test_data.patient(role)
        ex = self.gpc.call("patient.find", params=[("identifier", f"{profiles.NHS_NUMBER_SYSTEM}|{p.nhs_number}")],
                           label=f"find the {role} patient")
        body = body_of(ex)
        ids = [e.get("resource", {}).get("id") for e in (body or {}).get("entry") or []] if isinstance(body, dict) \
            else []
        if ex.status != 200 or not ids or not ids[0]:
            raise InsufficientData(msg=f"Find a patient did not return the '{role}' patient, so there is no logical "
                                       f"id to book for ({ex.describe()})")
        self.ledger.patient_ids[role] = ids[0]
        return ids[0]

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
        res = body_of(ex)
        aid = res.get("id") if isinstance(res, dict) and res.get("resourceType") == "Appointment" else None
        if not aid and ex.response is not None:
            m = _LOCATION_ID.search(ex.response.header("Location") or "")
            aid = m.group(1) if m else None
        patient = next((p.get("actor", {}).get("reference", "").split("/", 1)[-1]
                        for p in (body or {}).get("participant") or [] if isinstance(p, dict)
                        and str(p.get("actor", {}).get("reference", "")).startswith("Patient/")), "?") \
            if isinstance(body, dict) else "?"
        start = uktime.parse_instant(body.get("start")) if isinstance(body, dict) else None
        if not aid:
            self.ledger.booked.append(Booked("?", patient, start, org, self.node))
            return
        rec = Booked(str(aid), patient, start, org, self.node)
        self.mine.append(rec)
        self.ledger.booked.append(rec)

    def booked(self, slots: list[FreeSlot] | None = None, diary: Diary | None = None,
               **payload_kw: Any) -> dict[str, Any]:
        """A booked appointment this test needs (a precondition): its representation, or insufficient-data."""
        if slots is None:
            assert diary is not None
            slots = [diary.slot()]
        org = payload_kw.get("org")
        ex = self.book(self.payload(slots, **payload_kw), org=org, label="book the appointment this test needs")
        body = body_of(ex)
        if ex.status != 201 or not isinstance(body, dict) or body.get("resourceType") != "Appointment":
            raise InsufficientData(msg=f"booking the appointment this test needs failed ({ex.describe()}); "
                                       "Book an appointment's own tests report why")
        return body

    def retrieve(self, patient_id: str, ge: str, le: str, label: str = "retrieve the patient's appointments",
                 **kw: Any) -> Exchange:
        """GET /Patient/{id}/Appointment?start=ge{ge}&start=le{le} (dates yyyy-mm-dd, or anything to probe)."""
        params = kw.pop("params", None) or [("start", f"ge{ge}"), ("start", f"le{le}")]
        return self.gpc.call("appointment.retrieve", path_params={"id": patient_id}, params=params, label=label,
                             **kw)

    def started_today(self) -> dict[str, Any]:
        """An appointment of the booking patient that has already started today, as retrieve returns it
        (a consumer holding its current representation), or insufficient-data."""
        ex = self.retrieve(self.patient_id(), day(0), day(0), label="retrieve today's appointments")
        body = body_of(ex)
        now = uktime.now()
        for e in (body or {}).get("entry") or [] if isinstance(body, dict) else []:
            appt = e.get("resource") if isinstance(e, dict) else None
            start = uktime.parse_instant((appt or {}).get("start"))
            if isinstance(appt, dict) and start is not None and start < now and appt.get("status") == "booked":
                return appt
        raise InsufficientData(msg=f"the '{self.settings.patient_role}' patient has no booked appointment that "
                                   f"started earlier today ({ex.describe()}); the test needs one it can try to "
                                   "amend or cancel")

    def read(self, appointment_id: str, org: BookingOrganisation | None = None, label: str = "read the appointment",
             **kw: Any) -> Exchange:
        if org is not None and "claims" not in kw:
            claims = self.gpc.claims("appointment.read")
            claims["requesting_organization"] = organisation_claim(org)
            kw["claims"] = claims
        return self.gpc.call("appointment.read", path_params={"id": appointment_id}, label=label, **kw)

    def current(self, appointment_id: str, org: BookingOrganisation | None = None) -> dict[str, Any]:
        """The appointment as it is now (a precondition read)."""
        ex = self.read(appointment_id, org, label="read the appointment's current version")
        body = body_of(ex)
        if ex.status != 200 or not isinstance(body, dict) or body.get("resourceType") != "Appointment":
            raise InsufficientData(msg=f"reading the appointment this test works on failed ({ex.describe()}); "
                                       "Read an appointment's own tests report why")
        return body

    def amend(self, appointment_id: str, body: Any, version: str | None, label: str = "amend the appointment",
              **kw: Any) -> Exchange:
        headers = dict(kw.pop("headers", {}) or {})
        if version is not None:
            headers.setdefault("If-Match", f'W/"{version}"')
        return self.gpc.call("appointment.amend", path_params={"id": appointment_id}, body=body, headers=headers,
                             label=label, **kw)

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
        res = body_of(ex)
        if ex.status == 200 and isinstance(res, dict) and res.get("status") == "cancelled":
            for rec in self.ledger.booked:
                if rec.id == str(appt.get("id")):
                    rec.cancelled = True
        return ex

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
        appt = body_of(ex)
        if ex.status != 200 or not isinstance(appt, dict) or appt.get("resourceType") != "Appointment":
            return f"could not read it to cancel it ({ex.describe()})"
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
        res = body_of(ex)
        if ex.status == 200 and isinstance(res, dict) and res.get("status") == "cancelled":
            rec.cancelled = True
            return None
        return f"the cancel was not accepted ({ex.describe()})"

    def cleanup(self, left_behind: Any) -> None:
        for rec in self.mine:
            why = self._undo(rec) if rec.id != "?" else "the target did not say which appointment it created"
            if why:
                when = uktime.format_local(rec.start) if rec.start else "unknown start"
                left_behind(f"appointment {rec.id} for Patient/{rec.patient_id} at {when} is still booked: {why}")
