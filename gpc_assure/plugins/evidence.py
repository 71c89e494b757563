"""The evidence pack folder, and every exchange of a test written into it (redacted).

`--gpc-output DIR` names the pack; the report plugin writes results.json there at the end.
The `gpc` fixture is the client tests use: each exchange it makes is written as evidence and
listed against the running test.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from allure_commons import hookimpl as allure_hookimpl
from allure_commons import plugin_manager as allure_plugins

from gpc_assure.errors import GpcAssureError
from gpc_assure.evidence import EvidenceStore
from gpc_assure.paths import REPORTS_DIR
from gpc_assure.plugins.state import EXCHANGES, RUN, Run
from gpc_assure.transport.client import GpcClient
from gpc_assure.transport.exchange import Exchange

ALLURE_GUARD = pytest.StashKey["AllureWriteGuard"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gpc-assure")
    g.addoption("--gpc-output", default=None, help="evidence pack folder (default reports/<run-id>/)")
    g.addoption("--gpc-seed", type=int, default=None, help="seed for generated inputs (recorded in the pack)")


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    run_id = new_run_id()
    out = config.getoption("gpc_output")
    seed = config.getoption("gpc_seed")
    config.stash[RUN] = Run(
        id=run_id,
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        output=Path(out) if out else REPORTS_DIR / run_id,
        seed=seed if seed is not None else random.SystemRandom().randrange(2**31),
    )


def evidence_store(run: Run) -> EvidenceStore:
    if run.evidence is None:
        run.evidence = EvidenceStore(run.output)
    return run.evidence


class AllureWriteGuard:
    """allure-pytest writes allure-results/ as the tests run, and an OSError there (a full disk) would
    end the whole session with an internal error and no results.json. This wraps its file writes: a
    failed one is counted with the pack's other failed writes, and its half-written file removed."""

    def __init__(self, run: Run, folder: Path):
        self.run = run
        self.folder = folder

    def _guard(self):
        try:
            return (yield)
        except OSError as exc:
            try:
                store = evidence_store(self.run)
                store.failed_writes += 1
                store.last_write_error = exc.strerror or str(exc)
            except GpcAssureError:
                pass  # the exchange files fail too, and say so
            for partial in self.folder.glob("*.tmp"):
                partial.unlink(missing_ok=True)
            return None

    @allure_hookimpl(wrapper=True)
    def report_result(self, result):
        return (yield from self._guard())

    @allure_hookimpl(wrapper=True)
    def report_container(self, container):
        return (yield from self._guard())

    @allure_hookimpl(wrapper=True)
    def report_attached_file(self, source, file_name):
        return (yield from self._guard())

    @allure_hookimpl(wrapper=True)
    def report_attached_data(self, body, file_name):
        return (yield from self._guard())

    @allure_hookimpl(wrapper=True)
    def report_globals(self, globals_item):
        return (yield from self._guard())


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    folder = getattr(session.config.option, "allure_report_dir", None)
    run = session.config.stash.get(RUN, None)
    if folder and run is not None:
        guard = AllureWriteGuard(run, Path(folder))
        allure_plugins.register(guard)
        session.config.stash[ALLURE_GUARD] = guard


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(ALLURE_GUARD, None)
    if guard is not None and allure_plugins.is_registered(guard):
        allure_plugins.unregister(guard)


def update_latest_link(output: Path) -> None:
    """reports/latest -> the newest pack, when the pack lives under reports/."""
    try:
        if output.resolve().parent != REPORTS_DIR.resolve():
            return
        link = REPORTS_DIR / "latest"
        tmp = REPORTS_DIR / f".latest-{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(output.name)
        os.replace(tmp, link)
    except OSError:
        pass  # a missing convenience link must not fail the run


@pytest.fixture
def gpc(request: pytest.FixtureRequest, target) -> Iterator[GpcClient]:
    """A GP Connect client for this test; its exchanges become this test's evidence."""
    run: Run = request.config.stash[RUN]
    item = request.node
    files = item.stash.setdefault(EXCHANGES, [])
    store = evidence_store(run)

    def record(ex: Exchange) -> None:
        name = store.write(ex, item.nodeid)
        if name:
            files.append(name)

    client = GpcClient(target, observers=[record])
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def left_behind(request: pytest.FixtureRequest):
    """Call with a description of anything this test created on the target and could not undo."""
    run: Run = request.config.stash[RUN]

    def note(what: str) -> None:
        run.left_behind.append(f"{request.node.nodeid}: {what}")

    return note
