"""Fixtures of the Send Document sender suite: the suite is the patient's registered practice.

The system under test is asked to send a report (the reference sender directly; a real one through the
target's trigger_command, or by a person within the bound), then an updated report of the same
encounter. The suite collects each from its MESH mailboxes and hands it to the tests. When nothing
arrives, the MSG-SD-001 test fails with the time waited and every test that needs the message is skipped
with a reason naming it.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpc_assure.messaging.harness import MeshSetup, SuitePeer
from gpc_assure.messaging.practice import Collected, collect_document


@pytest.fixture(scope="session")
def first_document(mesh: SuitePeer, mesh_setup: MeshSetup) -> Collected:
    return collect_document(mesh, mesh_setup, "original")


@pytest.fixture(scope="session")
def replacement_document(first_document: Collected, mesh: SuitePeer, mesh_setup: MeshSetup) -> Collected:
    if first_document.arrival is None:
        return Collected("replacement", None, 0.0, mesh_setup.ack_wait_s)
    return collect_document(mesh, mesh_setup, "replacement")


@pytest.fixture
def document(first_document: Collected, cite: Any) -> Collected:
    """The first document, its download cited as this test's evidence."""
    if first_document.arrival is not None:
        cite(first_document.arrival.exchange)
    return first_document


@pytest.fixture
def message(document: Collected) -> dict[str, Any]:
    """The first document's FHIR message, or skip (its absence is judged by MSG-SD-001 / MSG-SD-002)."""
    why = document.missing()
    if why:
        pytest.skip(why)
    return document.message
