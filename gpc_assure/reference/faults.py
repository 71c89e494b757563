"""The registry of named faults the reference GP system can be started with.

Each fault changes one behaviour and names the requirement IDs that change breaks. The module that
implements a behaviour declares its faults next to it with `declare(...)`, and tests the switch
with `faults.on(NAME)` at the point of change. The mutation self-test runs the suites of a fault's
flow against the system started with that fault and expects a failing test naming one of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from gpc_assure.errors import ConfigError


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: tuple[str, ...]
    flow: str
    description: str
    role: str = "provider"  # the role of the system under test whose suite catches it


_REGISTRY: dict[str, Fault] = {}

# Modules that declare faults; imported on first use so the registry is complete.
_DECLARING_MODULES = [
    "gpc_assure.reference.security",
    "gpc_assure.reference.negotiation",
    "gpc_assure.reference.app",
    "gpc_assure.reference.capability",
    "gpc_assure.reference.patients",
    "gpc_assure.reference.pds",
    "gpc_assure.reference.directory",
    "gpc_assure.reference.slots",
    "gpc_assure.reference.appointments",
    "gpc_assure.reference.permissions",
    "gpc_assure.reference.messaging.sender",  # Send Document faults (roles "sender" and "receiver")
    "gpc_assure.reference.messaging.receiver",
    "gpc_assure.reference.consumer",  # the reference consumer's faults (role "consumer")
]


def declare(name: str, breaks: list[str] | tuple[str, ...], flow: str, description: str,
            role: str = "provider") -> str:
    if name in _REGISTRY and _REGISTRY[name].breaks != tuple(breaks):
        raise ValueError(f"fault {name} declared twice")
    _REGISTRY[name] = Fault(name, tuple(breaks), flow, description, role)
    return name


def registry() -> dict[str, Fault]:
    for mod in _DECLARING_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Fault:
    faults = registry()
    if name not in faults:
        raise ConfigError(f"unknown fault '{name}' (see 'gpc-assure faults' for the list)")
    return faults[name]


class ActiveFaults:
    """The faults one running reference system has switched on (usually none, at most a few)."""

    def __init__(self, names: list[str] | tuple[str, ...] = ()):
        for n in names:
            get(n)
        self.names = frozenset(names)

    def on(self, name: str) -> bool:
        if name not in _REGISTRY:
            # A typo here would make a fault silently do nothing; fail loudly instead.
            raise KeyError(f"fault '{name}' is checked but was never declared")
        return name in self.names
