"""Consumer suites: the provider simulator and the driver, started only when consumer tests are selected.

The demo run (no target file) drives the built-in reference consumer; a target file drives the
consumer its [consumer_test] section describes, and without that section consumer tests are
not-applicable. A `--gpc-fault` of role "consumer" switches on a fault of the reference consumer.

Tests use the `consumer` fixture: `consumer.calls(flow, step, interaction...)` runs the flow's
scenario once (on first use), attaches the step's exchanges to the test as evidence, and returns the
recorded requests. When none arrived, the consumer did not perform the step: that is charged (not met)
to the requirement about performing it (`scenarios.PERFORMS`: no booking -> APT-BOOK-001) and the test
stops, its own requirements not judged with that cause. So a consumer that never performs a step can
never pass the gate. Only a refusal the simulator gave on purpose (a planted 409, 503...) excuses a
missing request after it; the consumer's own bad requests never do. At the end of the run the journeys
are written to consumer-journeys.json and each attested requirement gets the data the simulator served
and the supplier's attestation, if any.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gpc_assure.consumer.journey import NO_APPOINTMENT, NO_DATA, SILENT, VERSION, Journey, Runner, StepRecord
from gpc_assure.consumer.recording import CallRecord
from gpc_assure.consumer.scenarios import FLOWS, FOUNDATIONS, PERFORMS
from gpc_assure.consumer.scenarios import step as scenario_step
from gpc_assure.errors import ConfigError, GpcAssureError
from gpc_assure.outcomes import InsufficientData, NotApplicable
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import EXCHANGES, RUN, Run
from gpc_assure.target import Target

RIG = pytest.StashKey["ConsumerRig"]()
JOURNEYS_FILE = "consumer-journeys.json"
ROLE = "consumer"


class ConsumerRig:
    """The simulator, the driver and the scenarios' results for one run."""

    def __init__(self, run: Run, flows: set[str]):
        from gpc_assure.consumer import attestation
        from gpc_assure.consumer.driver import make_driver
        from gpc_assure.consumer.section import ConsumerTestSection
        from gpc_assure.consumer.simulator import Simulator
        from gpc_assure.reference.data import load_pack
        from gpc_assure.reference.faults import get
        from gpc_assure.requirements import load_catalogue

        target = run.target
        assert target is not None
        self.run = run
        self.target: Target = target
        demo = run.target_file is None
        section = ConsumerTestSection() if demo else target.consumer_test
        if section is None:
            raise NotApplicable(msg="the target file has no [consumer_test] section: no consumer under test")
        self.section = section
        faults = [run.fault] if run.fault and get(run.fault).role == ROLE else []
        self.version = _pfs_version(section.pfs_version, faults)
        self.attested = attestation.load(section.attestation, load_catalogue()) if section.attestation else None
        base_dir = Path(run.target_file).parent if run.target_file else None
        self.driver = make_driver(section, target.consumer, faults, cwd=base_dir)
        self.simulator = Simulator(section, target.consumer, load_pack(), None if demo else target, self.version)
        self.simulator.start()
        self.runner = Runner(section, self.simulator, self.driver)
        self.written: set[str] = set()
        self.flows = flows  # the consumer flows this run selected

    def journey(self, scenario: str) -> Journey:
        # Scenarios run in flow order whatever order the tests ask in, so a shared provider (proxy mode) sees
        # the Foundations journey's registration before the booking journey looks the patient up.
        for earlier in FLOWS[:FLOWS.index(scenario)]:
            if earlier in self.flows and earlier not in self.runner.journeys:
                self.journey(earlier)
        journey = self.runner.journey(scenario)
        if scenario not in self.written:
            self.written.add(scenario)
            from gpc_assure.plugins.evidence import evidence_store

            store = evidence_store(self.run)
            for call in journey.calls():
                call.label = f"consumer {scenario}: step {call.step or '(arrived outside its step)'}"
                store.write(call, call.label)
        return journey

    def all_calls(self) -> list[CallRecord]:
        """Every request of the scenarios run so far, and every request that arrived outside all of them."""
        calls = [c for j in self.runner.journeys.values() for c in j.calls()]
        stray = [c for c in self.simulator.recorder.snapshot() if c.scenario is None]
        if stray:
            from gpc_assure.plugins.evidence import evidence_store

            store = evidence_store(self.run)
            for call in stray:
                if not call.evidence_file:
                    call.label = "consumer: a request outside every scenario and step"
                    store.write(call, call.label)
        return sorted([*calls, *stray], key=lambda c: c.seq)

    def close(self) -> None:
        self.driver.close()
        self.simulator.stop()

    def journeys_record(self) -> dict[str, Any]:
        sim = self.simulator
        return {
            "mode": sim.mode, "driver": self.section.kind, "simulator": sim.origin, "pfs_version": self.version,
            "wait_s": self.section.wait_s, "settle_s": self.section.settle_s,
            "journeys": {name: {"correlation": j.key, "steps": [r.summary() for r in j.steps.values()],
                                "late": [c.seq for c in j.late]}
                         for name, j in self.runner.journeys.items()},
            "unattributed": [{"seq": c.seq, "method": c.request.method, "route": c.route, "status": c.status}
                             for c in sim.recorder.snapshot() if c.scenario is None],
        }


def _pfs_version(explicit: str | None, faults: list[str]) -> str:
    """The User Permissions version the simulator serves: as configured, else $GPC_ASSURE_PFS_VERSION, else
    legacy when a legacy-only consumer fault is on, else current."""
    from gpc_assure.reference.consumer.permissions import LEGACY_FAULTS
    from gpc_assure.reference.permissions import ENV_VERSION

    asked = explicit or os.environ.get(ENV_VERSION) or None
    if asked:
        return asked
    return "legacy" if set(faults) & LEGACY_FAULTS else "current"


def _consumer_items(items: list[pytest.Item]) -> bool:
    return any((m := meta_of(i)) is not None and m.role == ROLE for i in items)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    config = session.config
    run = config.stash.get(RUN, None)
    if (run is not None and run.target is not None and not run.setup_error and not config.option.collectonly
            and _consumer_items(session.items)):
        try:
            flows = {m.flow for i in session.items if (m := meta_of(i)) is not None and m.role == ROLE}
            config.stash[RIG] = ConsumerRig(run, flows)
        except NotApplicable:
            pass  # each consumer test says so itself
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        except GpcAssureError as exc:
            run.setup_error = str(exc)
            pytest.exit(run.setup_error, returncode=3)
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    rig = config.stash.get(RIG, None)
    if rig is not None:
        rig.close()
        del config.stash[RIG]


class ConsumerView:
    """What a consumer test reads: the recorded journeys, with its evidence attached as it reads them."""

    def __init__(self, rig: ConsumerRig, item: pytest.Item):
        self.rig = rig
        self.item = item

    @property
    def identity(self):
        """Who the consumer is meant to be: the [consumer] section its requests are judged against."""
        return self.rig.target.consumer

    @property
    def version(self) -> str:
        return self.rig.version

    def journey(self, scenario: str) -> Journey:
        return self.rig.journey(scenario)

    def attach(self, calls: list[CallRecord]) -> None:
        files = self.item.stash.setdefault(EXCHANGES, [])
        for c in calls:
            if c.evidence_file and c.evidence_file not in files:
                files.append(c.evidence_file)

    def step(self, scenario: str, name: str) -> StepRecord:
        """The step's record; not-applicable or insufficient-data when it could not be set off for those reasons."""
        scenario_step(scenario, name)  # an unknown step is a suite defect
        record = self.journey(scenario).steps[name]
        _unless_set_off(record)
        self.attach(record.calls)
        return record

    def calls(self, scenario: str, name: str, *interactions: str) -> list[CallRecord]:
        """The step's requests of these interactions; when none arrived, see `no_request`."""
        record = self.step(scenario, name)
        found = record.of(*interactions)
        if not found:
            self.no_request(record, interactions)
        return found

    def scenario_calls(self, scenario: str, *interactions: str) -> list[CallRecord]:
        """Every request of the scenario (of these interactions), whatever the step; at least one."""
        journey = self.journey(scenario)
        found = journey.calls(*interactions)
        self.attach(found)
        if not found:
            driven = [r for r in journey.steps.values() if r.not_driven is None or r.not_driven[0] == SILENT]
            self.no_request(driven[0] if driven else next(iter(journey.steps.values())), interactions)
        return found

    def gp_connect_calls(self) -> list[CallRecord]:
        """Every request the consumer sent to the GP Connect provider in the run: the scenarios of every flow
        the run selected (they are run now if they have not been), and any request that arrived outside them.
        At least one (else, see `no_request`)."""
        from gpc_assure.checks.consumer_headers import is_gp_connect

        for flow in FLOWS:
            if flow in self.rig.flows:
                self.journey(flow)
        found = [c for c in self.rig.all_calls() if is_gp_connect(c)]
        self.attach(found)
        if not found:
            self.no_request(self.step(FOUNDATIONS, "find-patient"), ("patient.find",))
        return found

    def service_roots(self) -> set[str]:
        """The GP Connect service roots the consumer was given in the scenarios run so far."""
        return {root for j in self.rig.runner.journeys.values() for root in j.service_roots()}

    def performs(self, interactions: tuple[str, ...]) -> str:
        """The requirement about performing a request of these interactions (else the test's first)."""
        rid = PERFORMS.get(interactions[0]) if interactions else None
        meta = meta_of(self.item)
        if rid is None and meta is not None and meta.requirements:
            rid = meta.requirements[0]
        return rid or "UNKNOWN"

    def no_request(self, record: StepRecord, interactions: tuple[str, ...]) -> None:
        """The step's request never arrived: the consumer did not perform the step.

        It is charged (not met) to the requirement about performing it, and the test stops with its own
        requirements not judged, naming that requirement as the cause. Two things excuse it (the test ends
        without charging anyone): the practice already holds the patient a register step is about (test
        data an earlier run changed), or the simulator itself refused an earlier request of the step on
        purpose (a planted answer), after which the consumer may reasonably have stopped. A refusal the
        consumer's own bad request earned never excuses a missing request.
        """
        from gpc_assure.checks.core import Judgement, Verdict
        from gpc_assure.plugins.checks import Stopped, Verify

        _unless_set_off(record)
        what = " or ".join(interactions) or "request"
        name = record.step.name
        if record.step.registers and "patient.register" in interactions and _already_held(record):
            raise InsufficientData(msg=f"step '{name}': the practice already holds the patient (an earlier "
                                       "step or run registered them), so a conformant consumer does not register them")
        planted = next((c for c in record.calls if (c.status or 0) >= 400 and c.served_by.startswith("planted")),
                       None)
        if planted is not None and record.not_driven is None:
            raise Stopped(f"no {what} arrived in step '{name}' after the simulator refused an earlier request of the "
                          f"step on purpose ({planted.served_by.removeprefix('planted: ')}; {planted.describe()}): "
                          "the consumer may reasonably have stopped there, so the rest of the step is not judged")
        if record.not_driven is not None:
            message = f"no request arrived: no {what} for step '{name}': {record.not_driven[1]}"
        else:
            message = f"no request arrived: no {what} for step '{name}' within {record.waited_s:.1f} s" + (
                f" (the driver: {record.driver.problem})" if record.driver and record.driver.problem else "")
        refused = next((c for c in record.calls if (c.status or 0) >= 400), None)
        if refused is not None:
            message += (f"; the provider had refused the consumer's own earlier request of the step "
                        f"({refused.describe()}), which does not excuse the step")
        rid = self.performs(interactions)
        Verify(self.item).record([Judgement(rid, Verdict.NOT_MET, message,
                                            check=f"the consumer performs step '{name}'")], precondition=True)
        raise Stopped(message, cause=rid)


def _unless_set_off(record: StepRecord) -> None:
    """Not-applicable or insufficient-data when the step could not be set off for a reason that is not the
    consumer's (the version served, the test data); a silent consumer's steps are judged."""
    if record.not_driven is not None:
        kind, why = record.not_driven
        if kind == VERSION:
            raise NotApplicable(msg=why)
        if kind in (NO_DATA, NO_APPOINTMENT):
            raise InsufficientData(msg=f"step '{record.step.name}' was not set off: {why}")


def _already_held(record: StepRecord) -> bool:
    """A find of the step's patient, in the step, returned them: the practice holds them already."""
    from gpc_assure.checks.consumer_foundations import patients_in, query, response_json
    from gpc_assure.fhir import profiles

    nhs = record.context.get("nhs_number")
    for c in record.of("patient.find"):
        if c.status != 200:
            continue
        if nhs and not any(k == "identifier" and v == f"{profiles.NHS_NUMBER_SYSTEM}|{nhs}" for k, v in query(c)):
            continue
        for patient, _ in patients_in(response_json(c)):
            ids = [i.get("value") for i in patient.get("identifier") or [] if isinstance(i, dict)]
            if not nhs or nhs in ids:
                return True
    return False


@pytest.fixture
def consumer(request: pytest.FixtureRequest) -> ConsumerView:
    run: Run = request.config.stash[RUN]
    if run.target is None:
        pytest.skip("no target: this test runs only inside a gpc-assure run")
    rig = request.config.stash.get(RIG, None)
    if rig is None:
        if run.target_file is not None and run.target.consumer_test is None:
            raise NotApplicable(msg="the target file has no [consumer_test] section: no consumer under test")
        pytest.skip("the consumer simulator is not running")
    return ConsumerView(rig, request.node)


def pytest_gpc_results_built(results: dict[str, Any], config: pytest.Config) -> None:
    """The journeys and the attestation items go into the pack before the manifest is built."""
    from gpc_assure.consumer import attestation
    from gpc_assure.redaction import redact_mapping

    rig = config.stash.get(RIG, None)
    run = config.stash.get(RUN, None)
    if rig is None or run is None:
        return
    out = Path(run.output)
    try:
        (out / JOURNEYS_FILE).write_text(json.dumps(redact_mapping(rig.journeys_record()), indent=1,
                                                    ensure_ascii=False), "utf-8")
        attestation.annotate(results, attestation.served(rig.runner.journeys), rig.attested, out)
    except OSError as exc:
        print(f"gpc-assure: could not write the consumer evidence to {out}: {exc.strerror or exc}", file=sys.stderr)
    if config.getoption("gpc_console", False):
        pending = [r for r in results.get("requirements", [])
                   if r.get("verdict") in ("attested", "awaiting-attestation") and r.get("actor") == ROLE]
        if pending:
            print(f"\ngpc-assure: {len(pending)} consumer requirement(s) need a person's attestation "
                  "(report.html#attested):", file=sys.stderr)
            for r in pending:
                served = (r.get("attestation") or {}).get("served") or []
                print(f"  {r['id']} [{(r.get('attestation') or {}).get('status')}]: "
                      f"{served[0] if served else r.get('statement')}", file=sys.stderr)
