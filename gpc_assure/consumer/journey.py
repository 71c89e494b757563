"""Running a scenario against the consumer under test: set off each step, wait (bounded), keep what arrived.

A step's wait ends when the requests it `expects` have arrived after the driver finished, or when
its bound passes: `settle_s` after a command or the reference consumer returns, `wait_s` for a
person. A consumer that has made no request at all by the end of a step is taken to be silent: the
remaining steps are not set off, so a consumer that never calls ends the run within one wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gpc_assure.consumer.driver import Driver, DriverOutcome
from gpc_assure.consumer.recording import CallRecord
from gpc_assure.consumer.scenarios import APPOINTMENTS, SCENARIOS, Step, applies, instruction
from gpc_assure.consumer.section import PLACEHOLDERS, ConsumerTestSection
from gpc_assure.consumer.simulator import PFS_RECORD_PATH, Simulator
from gpc_assure.fhir import uktime
from gpc_assure.redaction import remember_secrets
from gpc_assure.target import Target

# Why a step was not set off; the suites turn each into the right outcome.
VERSION, NO_DATA, NO_APPOINTMENT, SILENT = "version", "insufficient-data", "no-appointment", "silent"


@dataclass
class StepRecord:
    step: Step
    key: str
    context: dict[str, str] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    driver: DriverOutcome | None = None
    not_driven: tuple[str, str] | None = None  # (kind, why)
    waited_s: float = 0.0
    complete: bool = False  # every expected request arrived
    notes: list[str] = field(default_factory=list)

    def of(self, *interactions: str) -> list[CallRecord]:
        return [c for c in self.calls if not interactions or c.interaction in interactions]

    def summary(self) -> dict[str, Any]:
        return {
            "step": self.step.name, "instruction": instruction(self.step, self.context),
            "correlation": self.key, "expects": list(self.step.expects), "complete": self.complete,
            "waited_s": round(self.waited_s, 3),
            "not_driven": {"kind": self.not_driven[0], "why": self.not_driven[1]} if self.not_driven else None,
            "driver": None if self.driver is None else {
                "how": self.driver.how, "seconds": round(self.driver.seconds, 3), "exit_code": self.driver.exit_code,
                "output": self.driver.output, "problem": self.driver.problem},
            "calls": [{"seq": c.seq, "interaction": c.interaction, "method": c.request.method, "route": c.route,
                       "status": c.status, "served_by": c.served_by, "matched_by": c.matched_by,
                       "evidence": c.evidence_file} for c in self.calls],
            "notes": self.notes,
        }


@dataclass
class Journey:
    scenario: str
    key: str
    view: Target
    pfs_version: str
    steps: dict[str, StepRecord] = field(default_factory=dict)
    late: list[CallRecord] = field(default_factory=list)  # carried the key but arrived outside its step

    def calls(self, *interactions: str) -> list[CallRecord]:
        """Every call of the scenario in arrival order (optionally only these interactions)."""
        out = [c for r in self.steps.values() for c in r.calls] + self.late
        return sorted((c for c in out if not interactions or c.interaction in interactions), key=lambda c: c.seq)

    def service_roots(self) -> set[str]:
        return {r.context.get("base_url", "") for r in self.steps.values()} | {
            r.context.get("plain_base_url", "") for r in self.steps.values()} - {""}


class Runner:
    """Runs the scenarios of one run against the consumer under test, each once, on first use."""

    def __init__(self, section: ConsumerTestSection, simulator: Simulator, driver: Driver):
        self.section = section
        self.simulator = simulator
        self.driver = driver
        self.journeys: dict[str, Journey] = {}
        self.silent = False

    def journey(self, scenario: str) -> Journey:
        if scenario not in self.journeys:
            self.journeys[scenario] = self._run(scenario)
        return self.journeys[scenario]

    def _run(self, scenario: str) -> Journey:
        sim = self.simulator
        key = sim.begin(scenario)
        journey = Journey(scenario, key, sim.view(key), sim.pfs_version)
        state: dict[str, str] = {}
        for step in SCENARIOS[scenario]:
            record = StepRecord(step, key)
            journey.steps[step.name] = record
            if not applies(step, sim.pfs_version):
                record.not_driven = (VERSION, f"applies to the {' and '.join(step.versions)} version of User "
                                              f"Permissions; the simulator serves {sim.pfs_version}")
                continue
            try:
                record.context = context(step, journey.view, key, state, sim)
            except LookupError as exc:
                record.not_driven = (NO_DATA, str(exc))
                continue
            if step.needs_appointment and not record.context.get("appointment_id"):
                record.not_driven = (NO_APPOINTMENT, "no future appointment was retrieved or booked in an earlier "
                                                     "step, so there is none to change")
                continue
            if self.silent:
                record.not_driven = (SILENT, "the consumer made no request at all in the earlier steps, so the rest "
                                             "of the run was not set off")
                continue
            self._drive(journey, record)
            if not self.simulator.recorder.snapshot():
                self.silent = True
            if step.scenario == APPOINTMENTS:
                _remember_appointment(journey, state)
        journey.late = [c for c in sim.recorder.snapshot() if c.scenario == key and c.step is None]
        return journey

    def _drive(self, journey: Journey, record: StepRecord) -> None:
        sim, step = self.simulator, record.step
        if step.amend_elsewhere and sim.amend_elsewhere(record.context["appointment_id"]):
            record.notes.append(f"before the step, the simulator changed appointment "
                                f"{record.context['appointment_id']} as someone at the practice would, so versions "
                                "the consumer kept from earlier are out of date")
        started = time.monotonic()
        deadline = started + self.section.wait_s
        sim.open(journey.key, step)
        try:
            record.driver = self.driver.run(journey.key, step, record.context, deadline)
            if self.driver.waits_for_person:
                until = deadline
            elif self.driver.kind == "reference":
                until = min(deadline, time.monotonic() + 0.05)
            else:
                until = min(deadline, time.monotonic() + self.section.settle_s)

            def done(calls: list[CallRecord]) -> bool:
                got = {c.interaction for c in calls if c.scenario == journey.key and c.step == step.name}
                return all(e in got for e in step.expects)

            record.complete = sim.recorder.wait(done, until)
        finally:
            sim.close()
        record.waited_s = time.monotonic() - started
        record.calls = [c for c in sim.recorder.snapshot() if c.scenario == journey.key and c.step == step.name]


def _remember_appointment(journey: Journey, state: dict[str, str]) -> None:
    """The appointment later steps amend and cancel: the first future booked one the consumer retrieved,
    else the last one it booked."""
    now = uktime.now()
    for call in journey.calls("appointment.retrieve"):
        for res in resources_of(call, "Appointment"):
            start = uktime.parse_instant(res.get("start"))
            if res.get("status") == "booked" and start is not None and start > now and res.get("id"):
                state["appointment_id"] = str(res["id"])
                return
    for call in reversed(journey.calls("appointment.book")):
        for res in resources_of(call, "Appointment"):
            if call.status == 201 and res.get("id"):
                state["appointment_id"] = str(res["id"])
                return


def resources_of(call: CallRecord, resource_type: str) -> list[dict[str, Any]]:
    try:
        body = call.json
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == resource_type:
        return [body]
    found = [e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)]
    return [r for r in found if isinstance(r, dict) and r.get("resourceType") == resource_type]


def context(step: Step, view: Target, key: str, state: dict[str, str], sim: Simulator) -> dict[str, str]:
    """Every placeholder's value for this step (LookupError when the test data lacks what it needs)."""
    ctx = {name: "" for name in PLACEHOLDERS}
    base = sim.base(key)
    ctx.update(step=step.name, scenario=step.scenario, correlation=key, base_url=view.provider.base_url,
               plain_base_url=view.provider.base_url.replace(f"/s/{key}", "", 1),
               provider_asid=view.provider.asid, ods_code=view.provider.ods_code, consumer_asid=view.consumer.asid,
               consumer_ods_code=view.consumer.ods_code,
               permissions_url=view.permissions.base_url if view.permissions else "",
               pfs_record_url=base + PFS_RECORD_PATH)
    org = view.appointments.booking_organisation
    ctx.update(org_ods_code=org.ods_code if org else view.consumer.ods_code,
               org_name=org.name if org else view.consumer.organisation_name,
               org_telephone=org.telephone if org else "", org_type=(org.type or "") if org else "")
    if step.patient_role:
        p = view.test_data.patients.get(step.patient_role)
        if p is None:
            raise LookupError(f"the target names no '{step.patient_role}' patient")
        ctx.update(nhs_number=p.nhs_number, family=p.family or "", given=" ".join(p.given),
                   birth_date=p.birth_date or "", gender=p.gender or "")
    if step.permissions_role:
        if view.permissions is None:
            raise LookupError("the target has no [permissions] section")
        from gpc_assure.transport.pfs import TokenSource

        pp = view.permissions.patients.get(step.permissions_role)
        if pp is None:
            raise LookupError(f"the target's [permissions] section names no '{step.permissions_role}' patient")
        try:
            token = TokenSource(view.permissions).token(step.permissions_role)
        except Exception as exc:  # InsufficientData, or a token command that failed
            raise LookupError(getattr(exc, "msg", None) or str(exc)) from None
        remember_secrets([token])
        ctx.update(nhs_number=pp.nhs_number, token=token)
    ctx.update(step.params)
    if "days" in step.params:
        ctx["days"] = step.params["days"]
    ctx["appointment_id"] = state.get("appointment_id", "")
    return ctx
