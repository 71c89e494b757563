"""Consumer assurance: a provider simulator that drives a consumer under test and judges what it sends.

- section: the target file's [consumer_test] section (how to drive the consumer, where to listen)
- recording: the ASGI layer that records every request the consumer makes, with its correlation key
- simulator: the reference GP system (or a proxy to a real provider) served to the consumer
- scenarios: the journeys a consumer is asked to perform, step by step
- driver: how each step is set off (the built-in reference consumer, a command, or a person)
- attestation: what only a person can confirm, with the exact data the simulator served
"""
