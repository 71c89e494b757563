"""Outcomes of conformance tests, and results.json written at the end of every run.

The outcome vocabulary is the design's: passed, failed, error (the run or environment failed,
not the target), skipped, not-applicable, insufficient-data. results.json is written even when
the run stops early (unreachable target, run deadline, interrupt).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from gpc_assure.outcomes import InsufficientData, NotApplicable, RunDeadline, SuiteDefect
from gpc_assure.plugins.evidence import update_latest_link
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import EXCHANGES, JUDGEMENTS, RUN, STOPPED
from gpc_assure.redaction import redact_text
from gpc_assure.report import results as results_mod
from gpc_assure.requirements import load_catalogue

PHASES = pytest.StashKey[dict[str, tuple[pytest.TestReport, type | None, str]]]()
RESULTS = pytest.StashKey[dict[str, Any]]()
MAX_MESSAGE = 4000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report: pytest.TestReport = yield
    if meta_of(item) is not None:
        exc_type = call.excinfo.type if call.excinfo else None
        message = ""
        if call.excinfo is not None:
            value = call.excinfo.value
            message = getattr(value, "msg", None) or str(value) or call.excinfo.typename
            notes = getattr(value, "__notes__", None)
            if notes:  # hypothesis attaches the falsifying example here
                message += "\n" + "\n".join(str(n) for n in notes)
            if exc_type is not None and not issubclass(exc_type, (AssertionError, pytest.skip.Exception)):
                message = f"{call.excinfo.typename}: {message}"
        item.stash.setdefault(PHASES, {})[call.when] = (report, exc_type, message)
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    meta = meta_of(item)
    if meta is None:
        return
    for rid in meta.requirements:
        item.user_properties.append(("requirement", rid))
    item.user_properties.append(("title", meta.title))
    run = item.config.stash.get(RUN, None)
    if run is not None and run.deadline is not None and time.monotonic() > run.deadline:
        limit = run.target.timeouts.run_s if run.target else 0
        raise RunDeadline(msg=f"the run's time limit ({limit:g} s) was reached before this test started")


def _classify(phases: dict[str, tuple[pytest.TestReport, type | None, str]]) -> tuple[str, str]:
    setup = phases.get("setup")
    call = phases.get("call")
    teardown = phases.get("teardown")
    for phase in (setup, call):
        if phase is None:
            continue
        report, exc_type, message = phase
        if report.skipped:
            if exc_type and issubclass(exc_type, InsufficientData):
                return "insufficient-data", message
            if exc_type and issubclass(exc_type, NotApplicable):
                return "not-applicable", message
            if exc_type and issubclass(exc_type, RunDeadline):
                return "error", message
            return "skipped", message
        if report.failed:
            if phase is setup or (exc_type and issubclass(exc_type, SuiteDefect)):
                return "error", message
            return "failed", message
    if teardown is not None and teardown[0].failed:
        return "error", f"teardown failed: {teardown[2]}"
    return "passed", ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    meta = meta_of(item)
    run = item.config.stash.get(RUN, None)
    if meta is None or run is None:
        return result
    phases = item.stash.get(PHASES, {})
    outcome, message = _classify(phases)
    judgements = results_mod.aggregate(j.as_dict() for j in item.stash.get(JUDGEMENTS, []))
    duration = sum(rep.duration for rep, _, _ in phases.values())
    run.records.append({
        "id": meta.id,
        "title": meta.title,
        "flow": meta.flow,
        "role": meta.role,
        "requirements": list(meta.requirements),
        "outcome": outcome,
        "message": message[:MAX_MESSAGE],
        "duration_s": round(duration, 4),
        "exchanges": list(item.stash.get(EXCHANGES, [])),
        "judgements": judgements,
        # The not-met judgements, as every output lists them.
        "findings": [{"requirement": j["requirement"], "message": _finding_text(j), "reading": j.get("reading"),
                      "path": j.get("path")} for j in judgements if j["verdict"] == "not-met"],
        "failed_requirements": sorted({j["requirement"] for j in judgements if j["verdict"] == "not-met"}),
        "stopped": item.stash.get(STOPPED, None),
    })
    item.config.hook.pytest_gpc_test_recorded(record=run.records[-1], config=item.config)
    return result


def _finding_text(j: dict[str, Any]) -> str:
    where = f" — {j['request']}" + (f" [{j['exchange']}]" if j.get("exchange") else "") if j.get("request") else ""
    return (j["message"] + where)[:1000]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from gpc_assure.plugins import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    # A wrapper rather than trylast: results.json is written after every other plugin has finished,
    # even when one of them failed (pytest's junit.xml writer raises OSError on a full disk).
    try:
        yield
    except OSError as exc:
        print(f"gpc-assure: could not write {exc.filename or 'a report file'}: {exc.strerror or exc}",
              file=sys.stderr)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    _redact_junit(session.config)
    _write_results(session)


def _redact_junit(config: pytest.Config) -> None:
    """junit.xml quotes failure messages, which may echo a token or key the target sent back."""
    xmlpath = getattr(config.option, "xmlpath", None)
    if not xmlpath or not Path(xmlpath).is_file():
        return
    path = Path(xmlpath)
    try:
        text = path.read_text("utf-8")
        ElementTree.fromstring(text)  # a file cut short by a full disk is removed, not left half-written
        redacted = redact_text(text)
        if redacted != text:
            path.write_text(redacted, "utf-8")
    except (OSError, UnicodeDecodeError, ElementTree.ParseError) as exc:
        print(f"gpc-assure: removed an incomplete {path.name} ({getattr(exc, 'strerror', None) or exc})",
              file=sys.stderr)
        path.unlink(missing_ok=True)


class RunWatcher:
    """Failures pytest reports without a config in hand: a suite module that cannot be collected (our
    defect) and an internal error. Registered per run, so the pack can say so plainly."""

    def __init__(self, run: Any):
        self.run = run

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.run.collect_error:
            text = str(report.longrepr).strip().splitlines()
            self.run.collect_error = f"{report.nodeid}: {text[-1] if text else 'could not be collected'}"

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        if not self.run.internal_error:
            self.run.internal_error = f"{excinfo.typename}: {excinfo.value}"[:500]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        config.pluginmanager.register(RunWatcher(run), "gpc-run-watcher")


def _write_results(session: pytest.Session) -> None:
    config = session.config
    run = config.stash.get(RUN, None)
    if run is not None and run.collect_error and not run.setup_error:
        run.setup_error = f"the suites could not be collected (a defect of gpc-assure): {run.collect_error}"
    if run is not None and run.internal_error and not run.setup_error:
        run.setup_error = f"the run stopped on an internal error of gpc-assure: {run.internal_error}"
    if run is None or not (run.active or run.setup_error):
        return
    if session.exitstatus == pytest.ExitCode.INTERRUPTED and not run.setup_error:
        run.setup_error = "the run was interrupted before it finished; the pack holds what ran until then"
    flows = set(config.getoption("gpc_flow") or []) or None
    roles = set(config.getoption("gpc_role") or []) or None
    data = results_mod.build(run, run.records, load_catalogue(), flows, roles)
    config.hook.pytest_gpc_results_built(results=data, config=config)
    # Plugins amended verdicts (declarations, attestations, deviations): count them again.
    kept = {k: data["summary"][k] for k in ("accepted_deviations", "expired_deviations") if k in data["summary"]}
    data["summary"] = {**results_mod.summary(data["tests"], data["requirements"]), **kept}
    config.stash[RESULTS] = data
    try:
        results_mod.write_json(run.output / "results.json", data)
    except OSError as exc:
        print(f"gpc-assure: could not write results.json to {run.output}: {exc.strerror}", file=sys.stderr)
        session.exitstatus = 3
        return
    update_latest_link(run.output)
    try:
        config.hook.pytest_gpc_results_written(results=data, output=run.output, config=config)
    except OSError as exc:  # the outputs built from results.json, on a full or failing disk
        print(f"gpc-assure: could not write the evidence pack's other files to {run.output}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def results_of(config: pytest.Config) -> dict[str, Any] | None:
    return config.stash.get(RESULTS, None)
