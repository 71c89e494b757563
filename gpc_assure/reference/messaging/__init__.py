"""The reference Send Document sender and receiver, and the built-in MESH network they run on."""
