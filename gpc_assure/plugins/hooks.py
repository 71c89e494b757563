"""Hooks the gpc-assure plugins offer to other plugins (reporters, the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_gpc_test_recorded(record: dict[str, Any], config: pytest.Config) -> None:
    """A conformance test finished and its record (as in results.json) is ready."""


def pytest_gpc_results_built(results: dict[str, Any], config: pytest.Config) -> None:
    """results are built and about to be written; plugins may amend them in place first
    (accepted deviations, redaction of everything written)."""


def pytest_gpc_results_written(results: dict[str, Any], output: Path, config: pytest.Config) -> None:
    """results.json has been written to the evidence pack folder `output`."""
