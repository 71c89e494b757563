"""The error hierarchy. Each user-facing error maps to one CLI exit code and prints as one line."""

from __future__ import annotations


class GpcAssureError(Exception):
    """Base of every error gpc-assure raises on purpose."""

    exit_code = 2


class ConfigError(GpcAssureError):
    """Bad usage or configuration: a target file, an option, a catalogue entry (exit 2)."""

    exit_code = 2


class TargetUnreachable(GpcAssureError):
    """The run could not reach or complete against the target (exit 3)."""

    exit_code = 3


class EvidenceWriteError(GpcAssureError):
    """The evidence pack could not be written (disk full, permissions)."""

    exit_code = 3
