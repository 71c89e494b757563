"""Fixtures for the Appointment Management provider suite (helpers live in gpc_assure.diary_client).

Every appointment a test books through `booker` is cancelled when the test ends, pass or fail;
what cannot be cancelled is reported through `left_behind`, and the session `ledger` lets the last
test of the run prove nothing the suite booked is still booked. `diary` and `booker` charge the
searches, bookings and reads a test relies on through the test's own `verify` (as preconditions).
"""

from __future__ import annotations

from typing import Any

import pytest

from gpc_assure.diary_client import Booker, Diary, Ledger
from gpc_assure.target import AppointmentsSection, Target
from gpc_assure.transport.client import GpcClient

LAST_TEST = "test_no_appointment_left_booked"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The clean-up proof runs after every other test, so it sees everything the run booked."""
    last = [i for i in items if getattr(i, "originalname", i.name) == LAST_TEST]
    if last:
        items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="session")
def appointments(target: Target) -> AppointmentsSection:
    return target.appointments


@pytest.fixture
def diary(gpc: GpcClient, appointments: AppointmentsSection, verify: Any) -> Diary:
    return Diary(gpc, appointments, verify)


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def booker(gpc: GpcClient, target: Target, ledger: Ledger, test_data: Any, left_behind: Any, verify: Any,
           request: pytest.FixtureRequest):
    b = Booker(gpc, target, ledger, test_data, request.node.nodeid, verify)
    try:
        yield b
    finally:
        b.cleanup(left_behind)
