"""The reference consumer as a command: one step per invocation, every driver placeholder an option."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpc_assure.consumer.section import PLACEHOLDERS
from gpc_assure.errors import ConfigError, GpcAssureError


def add_arguments(p: argparse.ArgumentParser) -> None:
    for name, help_text in PLACEHOLDERS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default="", help=help_text,
                       required=name == "step")
    p.add_argument("--fault", action="append", default=[], help="a consumer fault to switch on (repeatable)")
    p.add_argument("--identity", type=Path,
                   help="a target file whose [consumer] section is who the consumer is (default: the reference pack's)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")


def run(args: argparse.Namespace) -> int:
    from gpc_assure.reference.consumer import Session, perform
    from gpc_assure.reference.faults import ActiveFaults, get

    for name in args.fault:
        if get(name).role != "consumer":
            raise ConfigError(f"fault {name} is not a consumer fault")
    if args.identity:
        from gpc_assure.target import load_target

        identity = load_target(args.identity).consumer
    else:
        from gpc_assure.reference.data import load_pack

        identity = load_pack().consumer
    context = {name: str(getattr(args, name) or "") for name in PLACEHOLDERS}
    if not context["base_url"] and not context["permissions_url"]:
        raise ConfigError("reference consumer: give --base-url (GP Connect) or --permissions-url (Patient Facing)")
    session = Session(identity, ActiveFaults(args.fault), timeout_s=args.timeout)
    try:
        perform(session, args.step, context)
    finally:
        session.close()
    for line in session.log:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpc_assure.reference.consumer",
                                description="one step of the gpc-assure reference consumer")
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except GpcAssureError as exc:
        print(f"gpc-assure: {exc}", file=sys.stderr)
        return exc.exit_code
