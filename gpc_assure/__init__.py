"""gpc-assure: conformance and assurance suite for NHS GP Connect APIs."""

__version__ = "0.1.0"

SPEC_VERSIONS = {"gpconnect": "1.2.7"}
