"""The built-in reference consumer: a GP Connect consumer and patient-facing app that follows the rules.

A library (one `Session` per user session, `perform(session, step, context)` per step) and a command
(`gpc-assure reference consumer --step ...`, or `python -m gpc_assure.reference.consumer`). The
consumer simulator drives it in-process in the demo run; its named faults (role "consumer") each make
it break one consumer requirement, so the consumer suites can be shown to catch them.
"""

from __future__ import annotations

from collections.abc import Callable

from gpc_assure.reference.consumer import appointments, foundations, permissions
from gpc_assure.reference.consumer.client import Session

StepFunction = Callable[[Session, dict[str, str]], None]

STEPS: dict[str, StepFunction] = {**foundations.STEPS, **appointments.STEPS, **permissions.STEPS}


def perform(session: Session, step: str, context: dict[str, str]) -> None:
    """Do one step as a user of the app would; unknown steps are ignored (the app has no such screen)."""
    fn = STEPS.get(step)
    if fn is None:
        session.note(f"the reference consumer has no step {step!r}")
        return
    fn(session, context)


__all__ = ["STEPS", "Session", "perform"]
