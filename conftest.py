"""Registers the gpc-assure plugin and the suite fixtures when running from a checkout."""

pytest_plugins = ["gpc_assure.plugin", "fixtures.test_data"]
