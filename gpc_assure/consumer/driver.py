"""How a step is set off in the consumer under test: the reference consumer, a command, or a person.

- `reference`: the built-in reference consumer, in-process, one app session per scenario.
- a command template: run once per step with the placeholders filled in (each word of the template
  filled separately, never through a shell) and exported as GPC_* environment variables; bounded
  by the step's wait.
- `manual`: the instruction is printed for a person, who does the step in the consumer; the run
  waits, bounded, for the requests to arrive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gpc_assure.consumer.scenarios import Step, instruction
from gpc_assure.consumer.section import ConsumerTestSection, command_words
from gpc_assure.errors import ConfigError
from gpc_assure.redaction import redact_text
from gpc_assure.target import ConsumerSection

MAX_OUTPUT = 4000  # characters of a driver command's output kept as evidence


@dataclass
class DriverOutcome:
    """What setting off one step did (not what the consumer sent: the recorder has that)."""

    how: str  # what was run or asked, redacted
    seconds: float = 0.0
    exit_code: int | None = None
    output: str = ""  # the tail of what a command printed, redacted
    problem: str | None = None  # the driver itself failed: did not start, timed out...


class Driver(Protocol):
    kind: str
    waits_for_person: bool

    def run(self, scenario_key: str, step: Step, context: dict[str, str], deadline: float) -> DriverOutcome: ...

    def close(self) -> None: ...


class ReferenceDriver:
    """The built-in reference consumer; its consumer faults (if any) switched on."""

    kind = "reference"
    waits_for_person = False

    def __init__(self, identity: ConsumerSection, faults: list[str], timeout_s: float = 10.0):
        from gpc_assure.reference.faults import ActiveFaults

        self.identity = identity
        self.faults = ActiveFaults(faults)
        self.timeout_s = timeout_s
        self.sessions: dict[str, object] = {}

    def run(self, scenario_key: str, step: Step, context: dict[str, str], deadline: float) -> DriverOutcome:
        from gpc_assure.reference.consumer import Session, perform

        session = self.sessions.get(scenario_key)
        if session is None:
            session = self.sessions[scenario_key] = Session(self.identity, self.faults, self.timeout_s)
        assert isinstance(session, Session)
        started = time.monotonic()
        before = len(session.log)
        perform(session, step.name, context)
        return DriverOutcome(f"reference consumer: {step.name}", time.monotonic() - started,
                             output=redact_text("\n".join(session.log[before:])))

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()  # type: ignore[attr-defined]
        self.sessions.clear()


class CommandDriver:
    """A command that makes the consumer under test perform a step."""

    kind = "command"
    waits_for_person = False

    def __init__(self, template: str, cwd: Path | None = None):
        self.words = command_words(template)
        self.cwd = cwd
        program = self.words[0]
        if not ("{" in program or shutil.which(program, path=os.environ.get("PATH"))
                or (cwd and shutil.which(str(cwd / program)))):
            raise ConfigError(f"consumer_test.driver: the command {program!r} was not found")

    def argv(self, context: dict[str, str]) -> list[str]:
        # Split first, then fill in each word: a value can never add arguments.
        return [w.format(**context) for w in self.words]

    def run(self, scenario_key: str, step: Step, context: dict[str, str], deadline: float) -> DriverOutcome:
        argv = self.argv(context)
        if self.cwd and not os.path.isabs(argv[0]) and (self.cwd / argv[0]).exists():
            argv[0] = str(self.cwd / argv[0])
        env = {**os.environ, **{f"GPC_{k.upper()}": v for k, v in context.items()}}
        how = redact_text(" ".join(argv))
        started = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=env, cwd=self.cwd,
                                  timeout=max(0.1, deadline - started), check=False)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
            return DriverOutcome(how, time.monotonic() - started, output=redact_text(out[-MAX_OUTPUT:]),
                                 problem="the driver command did not finish within the step's wait and was stopped")
        except OSError as exc:
            return DriverOutcome(how, time.monotonic() - started,
                                 problem=f"the driver command could not run: {exc.strerror or exc}")
        output = (done.stdout + ("\n" + done.stderr if done.stderr else "")).strip()
        outcome = DriverOutcome(how, time.monotonic() - started, done.returncode, redact_text(output[-MAX_OUTPUT:]))
        if done.returncode != 0:
            outcome.problem = f"the driver command exited with {done.returncode}"
        return outcome

    def close(self) -> None:
        pass


class ManualDriver:
    """A person does each step in the consumer; the run says what, where, and how long it waits."""

    kind = "manual"
    waits_for_person = True

    def __init__(self, wait_s: float):
        self.wait_s = wait_s

    def run(self, scenario_key: str, step: Step, context: dict[str, str], deadline: float) -> DriverOutcome:
        text = instruction(step, context)
        stream = sys.__stderr__ or sys.stderr
        print(f"\ngpc-assure consumer step [{step.scenario}/{step.name}] — within {self.wait_s:g} s:\n"
              f"  {text}\n  (service root {context.get('plain_base_url') or context.get('base_url')}, provider ASID "
              f"{context.get('provider_asid')})", file=stream, flush=True)
        return DriverOutcome(f"asked a person: {redact_text(text)}")

    def close(self) -> None:
        pass


def make_driver(section: ConsumerTestSection, identity: ConsumerSection, faults: list[str],
                cwd: Path | None = None) -> Driver:
    if section.kind == "reference":
        return ReferenceDriver(identity, faults)
    if section.kind == "manual":
        return ManualDriver(section.wait_s)
    return CommandDriver(section.driver, cwd)
