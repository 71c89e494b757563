"""Outcomes a conformance test can end with besides pass and fail, raised from test code.

They subclass pytest's skip so pytest stops the test cleanly; the report plugin tells them apart
and records the right outcome with the reason.
"""

from __future__ import annotations

import pytest

_Skip = pytest.skip.Exception


class InsufficientData(_Skip):
    """The target's test data cannot exercise this test (e.g. no patient with the needed role)."""


class NotApplicable(_Skip):
    """The target declares it does not offer this option (a capability or spec variant)."""


class RunDeadline(_Skip):
    """The run's time limit was reached before this test started."""


def insufficient_data(reason: str) -> InsufficientData:
    return InsufficientData(msg=reason, allow_module_level=False)


def not_applicable(reason: str) -> NotApplicable:
    return NotApplicable(msg=reason, allow_module_level=False)


class TargetFailure(AssertionError):
    """The target gave nothing a check could judge (no answer, reset, garbage). A failed test."""


class SuiteDefect(Exception):
    """Our own mistake: a finding for a requirement the test does not declare, an unknown ID..."""
