"""Fixtures of the Send Document sender suite: the suite is the patient's registered practice.

The system under test is asked to send a report (the reference sender directly; a real one through the
target's trigger_command, or by a person within the bound), then an updated report of the same
encounter. The suite collects each from its MESH mailboxes and hands it to the tests. When nothing
arrives, the MSG-SD-001 test fails with the time waited (and how the trigger command ended), and every
test that needs the message stops with its requirements not judged, naming MSG-SD-001 as the cause
(`practice.arrived` / `practice.readable`); none is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpc_assure.messaging.harness import MeshSetup, SuitePeer
from gpc_assure.messaging.practice import SENT, Collected, collect_document


@pytest.fixture(scope="session")
def first_document(mesh: SuitePeer, mesh_setup: MeshSetup) -> Collected:
    return collect_document(mesh, mesh_setup, "original")


@pytest.fixture(scope="session")
def replacement_document(first_document: Collected, mesh: SuitePeer, mesh_setup: MeshSetup) -> Collected:
    if first_document.arrival is None:
        why = f"the sender was not asked for an updated report: {first_document.nothing_arrived()}"
        return Collected("replacement", None, 0.0, mesh_setup.ack_wait_s, blocked=(why, SENT))
    return collect_document(mesh, mesh_setup, "replacement")


def _cite_collected(doc: Collected, cite: Any) -> None:
    cite(doc.trigger_exchange)
    if doc.arrival is not None:
        cite(doc.arrival.exchange)


@pytest.fixture
def document(first_document: Collected, cite: Any) -> Collected:
    """The first document, its download (and the trigger command's run) cited as this test's evidence."""
    _cite_collected(first_document, cite)
    return first_document


@pytest.fixture
def replacement(replacement_document: Collected, cite: Any) -> Collected:
    """The updated report, cited as this test's evidence."""
    _cite_collected(replacement_document, cite)
    return replacement_document
