"""The `gpc-assure` command: run the suites, serve the reference system, list faults.

Exit codes (DESIGN.md): 0 every requirement tested was met, 1 a requirement not met, 2 bad usage
or configuration (one line, no traceback), 3 the run could not reach or complete against the target.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from gpc_assure import __version__
from gpc_assure.errors import ConfigError, GpcAssureError

FLOWS = ("foundations", "appointments", "permissions", "messaging")
ROLES = ("provider", "consumer", "sender", "receiver")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise ConfigError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gpc-assure", description="Conformance and assurance suite for NHS GP Connect APIs")
    p.add_argument("--version", action="version", version=f"gpc-assure {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the conformance suites and write an evidence pack")
    run.add_argument("--target", type=Path, help="target TOML file (default: the built-in reference GP system)")
    run.add_argument("--flow", action="append", choices=FLOWS, help="only this flow (repeatable)")
    run.add_argument("--role", action="append", choices=ROLES, help="only this role (repeatable)")
    run.add_argument("--output", type=Path, help="evidence pack folder (default reports/<run-id>/)")
    run.add_argument("--fault", help="start the reference system with this named fault (see 'faults')")
    run.add_argument("--seed", type=int, help="seed for generated inputs (default: random, recorded)")
    run.add_argument("-k", dest="keyword", help="only tests matching this pytest keyword expression")
    run.add_argument("--quiet", action="store_true", help="no progress display; the summary only")

    sub.add_parser("faults", help="list the reference system's named faults")

    ref = sub.add_parser("reference", help="the built-in reference GP system")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True, parser_class=_Parser)
    serve = ref_sub.add_parser("serve", help="serve the reference system until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--write-target", type=Path, help="write a target file pointing at it")
    serve.add_argument("--fault", help="start with this named fault")
    return p


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from gpc_assure.paths import PROJECT_ROOT, REPORTS_DIR, SUITES_DIR
    from gpc_assure.plugins.evidence import new_run_id
    from gpc_assure.reference import faults as fault_registry
    from gpc_assure.report.results import exit_code
    from gpc_assure.target import load_target

    if args.target and args.fault:
        raise ConfigError("--fault starts the built-in reference system; it cannot be combined with --target")
    if args.target:
        load_target(args.target)  # fail fast with a one-line message
    if args.fault:
        fault_registry.get(args.fault)
    output: Path = args.output or REPORTS_DIR / new_run_id()
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {output}: {exc.strerror}") from None
    results_path = output / "results.json"
    if results_path.exists():
        results_path.unlink()

    pytest_args = [str(SUITES_DIR), "--rootdir", str(PROJECT_ROOT), "-p", "no:cacheprovider",
                   "--gpc-output", str(output), f"--junitxml={output / 'junit.xml'}", "-o", "junit_family=xunit1",
                   "-o", "junit_suite_name=gpc-assure", "-p", "no:terminal"]
    if not args.quiet:
        pytest_args.append("--gpc-console")
    if args.target:
        pytest_args += ["--gpc-target", str(args.target)]
    if args.fault:
        pytest_args += ["--gpc-fault", args.fault]
    for f in args.flow or []:
        pytest_args += ["--gpc-flow", f]
    for r in args.role or []:
        pytest_args += ["--gpc-role", r]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    pytest_args += ["--gpc-seed", str(seed), f"--hypothesis-seed={seed}"]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    started = time.monotonic()
    code = pytest.main(pytest_args)
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR) and not results_path.exists():
        print("gpc-assure: the suites could not be started (see the message above)", file=sys.stderr)
        return 2
    if not results_path.exists():
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            print("gpc-assure: no conformance test matched the selection", file=sys.stderr)
            return 2
        print(f"gpc-assure: the run ended without writing {results_path}", file=sys.stderr)
        return 3
    results = json.loads(results_path.read_text("utf-8"))
    if args.quiet:
        s = results["summary"]
        print(f"gpc-assure: {s['tests']} tests, {s['passed']} passed, {s['failed']} failed, {s['error']} error; "
              f"requirements {s['requirements']}; pack {output} ({time.monotonic() - started:.1f} s)")
    if code == pytest.ExitCode.INTERRUPTED and not results["run"].get("error"):
        return 3
    return exit_code(results)


def cmd_faults() -> int:
    from rich.console import Console
    from rich.table import Table

    from gpc_assure.reference.faults import registry

    table = Table(show_lines=False)
    for col in ("fault", "flow", "breaks", "what it changes"):
        table.add_column(col)
    for f in registry().values():
        table.add_row(f.name, f.flow, ", ".join(f.breaks), f.description)
    Console(width=200).print(table)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gpc_assure.reference.server import ReferenceServer

    server = ReferenceServer(faults=[args.fault] if args.fault else [], port=args.port).start()
    try:
        target = server.target()
        print(f"reference GP system serving {target.provider.base_url}" +
              (f" with fault {args.fault}" if args.fault else ""), flush=True)
        if args.write_target:
            server.write_target(args.write_target)
            print(f"target file written to {args.write_target}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "faults":
            return cmd_faults()
        if args.command == "reference":
            return cmd_serve(args)
        raise ConfigError(f"unknown command {args.command}")
    except GpcAssureError as exc:
        print(f"gpc-assure: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            print(f"gpc-assure: the disk is full: {exc.filename or ''}", file=sys.stderr)
            return 3
        raise
    except KeyboardInterrupt:
        print("gpc-assure: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
