"""The system under test: a target file, or the built-in reference GP system started for the run.

Before the first conformance test the plugin checks that the target answers at all (a preflight
GET /metadata); a target that cannot be reached ends the run with exit code 3 and a one-line
reason, and the evidence pack is still written.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest

from gpc_assure.errors import GpcAssureError
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import RUN, Run
from gpc_assure.target import Target, load_target
from gpc_assure.transport.client import GpcClient, Observer
from gpc_assure.transport.exchange import Exchange

EXIT_UNREACHABLE = 3


def pytest_configure(config: pytest.Config) -> None:
    # Generated inputs: no example database in the project, no per-example deadline (network
    # latency is the target's, judged by the exchange timeouts), fixtures shared across examples.
    from hypothesis import HealthCheck, settings

    settings.register_profile("gpc-assure", database=None, deadline=None, max_examples=25,
                              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    settings.load_profile("gpc-assure")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gpc-assure")
    g.addoption("--gpc-target", default=None, help="target TOML file (default: the built-in reference system)")
    g.addoption("--gpc-fault", default=None, help="start the reference system with this named fault")


def _start(run: Run, config: pytest.Config) -> None:
    target_file = config.getoption("gpc_target")
    fault = config.getoption("gpc_fault")
    if target_file and fault:
        raise pytest.UsageError("--fault applies to the built-in reference system; do not combine with --target")
    if target_file:
        run.target = load_target(target_file)
        run.target_file = str(target_file)
    else:
        # A fault of the messaging peers (role sender/receiver) is applied by plugins/messaging.py, and one of
        # the reference consumer (role consumer) by plugins/consumer.py, not here.
        from gpc_assure.reference.faults import get as get_fault
        from gpc_assure.reference.server import ReferenceServer

        provider_fault = fault if fault and get_fault(fault).role not in ("sender", "receiver", "consumer") else None
        run.server = ReferenceServer(faults=[provider_fault] if provider_fault else []).start()
        run.target = run.server.target()
        run.fault = fault
    run.deadline = time.monotonic() + run.target.timeouts.run_s


def preflight(target: Target, observers: Iterable[Observer] = ()) -> str | None:
    """None when the target answers HTTP at all, else why it cannot be used."""
    with GpcClient(target, observers=observers) as client:
        ex = client.call("metadata.read", label="preflight")
    if ex.response is None:
        where = f" [{ex.evidence_file}]" if ex.evidence_file else ""
        return f"target {target.provider.base_url} cannot be used: {ex.error}{where}"
    return None


def _record_preflight(run: Run) -> Observer:
    """The preflight exchange goes into the evidence pack: it is the evidence for an unreachable target."""

    def record(ex: Exchange) -> None:
        # Imported here: importing a later plugin module at load time defeats pytest's assertion rewriting.
        from gpc_assure.plugins.evidence import evidence_store

        evidence_store(run).write(ex, "preflight")

    return record


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    run = session.config.stash.get(RUN, None)
    if run is not None and any(meta_of(i) for i in session.items) and not session.config.option.collectonly:
        run.active = True
        try:
            _start(run, session.config)
            # A messaging-only run talks to MESH, and a consumer-only run serves the consumer its own simulator:
            # neither calls the provider's FHIR endpoint.
            if any((m := meta_of(i)) and m.flow != "messaging" and m.role != "consumer" for i in session.items):
                run.setup_error = preflight(run.target, [_record_preflight(run)])
        except GpcAssureError as exc:
            run.setup_error = str(exc)
            if exc.exit_code == 2:
                raise pytest.UsageError(str(exc)) from None
        if run.setup_error:
            pytest.exit(run.setup_error, returncode=EXIT_UNREACHABLE)
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None and run.server is not None:
        run.server.stop()
        run.server = None


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    run = request.config.stash[RUN]
    if run.target is None:
        pytest.skip("no target: this test runs only inside a gpc-assure run")
    return run.target
