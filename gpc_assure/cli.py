"""The `gpc-assure` command: run the suites, serve the reference system, list faults, and rebuild,
verify and compare evidence packs (report, verify, diff).

Exit codes (DESIGN.md): 0 every requirement tested was met, 1 a requirement not met, 2 bad usage
or configuration (one line, no traceback), 3 the run could not reach or complete against the target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpc_assure import __version__
from gpc_assure.errors import ConfigError, GpcAssureError

FLOWS = ("foundations", "appointments", "permissions", "messaging")
ROLES = ("provider", "consumer", "sender", "receiver")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        command = self.prog.removeprefix("gpc-assure").strip()
        raise ConfigError(f"{command}: {message}" if command else message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gpc-assure", description="Conformance and assurance suite for NHS GP Connect APIs")
    p.add_argument("--version", action="version", version=f"gpc-assure {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the conformance suites and write an evidence pack")
    run.add_argument("--target", type=Path, help="target TOML file (default: the built-in reference GP system)")
    run.add_argument("--flow", action="append", choices=FLOWS, help="only this flow (repeatable)")
    run.add_argument("--role", action="append", choices=ROLES, help="only this role (repeatable)")
    run.add_argument("--requirement", action="append", metavar="ID",
                     help="only the tests that name this requirement ID (repeatable)")
    run.add_argument("--output", type=Path, help="evidence pack folder (default reports/<run-id>/)")
    run.add_argument("--fault", help="start the reference system with this named fault (see 'faults')")
    run.add_argument("--pfs-version", choices=("current", "legacy"),
                     help="the User Permissions version the built-in reference serves (default current; a "
                          "target file declares its own in [permissions])")
    run.add_argument("--seed", type=int, help="seed for generated inputs (default: random, recorded)")
    run.add_argument("-k", dest="keyword", help="only tests matching this pytest keyword expression")
    run.add_argument("--quiet", action="store_true", help="no progress display; the summary only")
    run.add_argument("--deviations", type=Path,
                     help="TOML file of accepted deviations (requirement or test, justification, expiry date)")
    run.add_argument("--mask-patients", action="store_true",
                     help="mask NHS numbers and names in everything written to the evidence pack")
    run.add_argument("--declarations", type=Path,
                     help="the supplier's declarations file (see 'gpc-assure declarations template')")
    run.add_argument("--baseline", type=Path, metavar="PACK",
                     help="an earlier evidence pack: the report shows what changed since it")
    run.add_argument("--gate", choices=("technical", "submission"), default="technical",
                     help="technical (default): exit 1 when a requirement is not met; submission: also while "
                          "anything is outstanding (awaiting attestation, SHALLs not judged, declarations)")

    rep = sub.add_parser("report", help="rebuild a pack's reports and manifest from its results.json")
    rep.add_argument("pack", type=Path, metavar="DIR")
    ver = sub.add_parser("verify", help="check every file of a pack against its manifest.json, and every verdict "
                                        "against the test records")
    ver.add_argument("pack", type=Path, metavar="DIR")
    ver.add_argument("--public-key", type=Path, metavar="PEM",
                     help="also check manifest.sig against the supplier's Ed25519 public key")
    sig = sub.add_parser("sign", help="sign a pack's manifest.json with the supplier's Ed25519 private key")
    sig.add_argument("pack", type=Path, metavar="DIR")
    sig.add_argument("--key", type=Path, required=True, metavar="PEM", help="Ed25519 private key (PEM)")
    sig.add_argument("--password-env", metavar="NAME", help="environment variable holding the key's password")
    dif = sub.add_parser("diff", help="requirements and tests whose verdict changed between two runs")
    dif.add_argument("old", type=Path, metavar="OLD", help="evidence pack folder (or its results.json)")
    dif.add_argument("new", type=Path, metavar="NEW", help="evidence pack folder (or its results.json)")
    dif.add_argument("--json", action="store_true", help="print the differences as JSON")

    dec = sub.add_parser("declarations", help="the supplier's declarations file")
    dec_sub = dec.add_subparsers(dest="declarations_command", required=True, parser_class=_Parser)
    tpl = dec_sub.add_parser("template", help="write a starting declarations file for these flows and roles")
    tpl.add_argument("--flow", action="append", choices=FLOWS, help="only this flow (repeatable)")
    tpl.add_argument("--role", action="append", choices=ROLES, help="only this role (repeatable)")
    tpl.add_argument("--output", type=Path, help="write here (default: print it)")

    sub.add_parser("faults", help="list the reference system's named faults")
    st = sub.add_parser("selftest", help="mutation self-test: a clean reference run, then one run per named fault")
    st.add_argument("--fault", action="append", help="only this fault (repeatable; default all)")
    st.add_argument("--flow", action="append", choices=FLOWS, help="only the faults of this flow (repeatable)")
    st.add_argument("--full", action="store_true",
                    help="run each fault's whole flow, not only the tests naming its requirements (precision audit)")
    st.add_argument("--workers", type=int, help="parallel runs (default: the number of CPUs)")

    ref = sub.add_parser("reference", help="the built-in reference GP system")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True, parser_class=_Parser)
    serve = ref_sub.add_parser("serve", help="serve the reference system until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--write-target", type=Path, help="write a target file pointing at it")
    serve.add_argument("--fault", help="start with this named fault")
    serve.add_argument("--pfs-version", choices=("current", "legacy"),
                       help="the User Permissions version to serve (default current)")
    cons = ref_sub.add_parser("consumer", help="perform one step of the reference consumer against a provider")
    from gpc_assure.reference.consumer.cli import add_arguments as consumer_arguments

    consumer_arguments(cons)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from gpc_assure.paths import PROJECT_ROOT, REPORTS_DIR, SUITES_DIR
    from gpc_assure.plugins.evidence import new_run_id
    from gpc_assure.reference import faults as fault_registry
    from gpc_assure.report.results import exit_code
    from gpc_assure.target import load_target
    from gpc_assure.transport.client import build_ssl_context

    if args.target and args.fault:
        raise ConfigError("--fault starts the built-in reference system; it cannot be combined with --target")
    if args.target:
        build_ssl_context(load_target(args.target))  # fail fast with a one-line message
    if args.fault:
        fault_registry.get(args.fault)
    if args.pfs_version:
        if args.target:
            raise ConfigError("--pfs-version chooses the built-in reference system's User Permissions version; a "
                              "target file declares its own ([permissions] version)")
        from gpc_assure.reference.permissions import choose_version

        choose_version([args.fault] if args.fault else [], args.pfs_version)  # fail fast with a one-line message
    if args.requirement:
        from gpc_assure.requirements import load_catalogue

        unknown = sorted(set(args.requirement) - {r.id for r in load_catalogue()})
        if unknown:
            raise ConfigError(f"--requirement: unknown requirement {', '.join(unknown)} (see profiles/requirements/)")
    if args.deviations:
        from gpc_assure.report.deviations import load as load_deviations
        from gpc_assure.requirements import load_catalogue

        load_deviations(args.deviations, load_catalogue())  # fail fast with a one-line message
    declarations_file = args.declarations or _declarations_of(args.target)
    if declarations_file:
        from gpc_assure.declarations import load as load_declarations
        from gpc_assure.requirements import load_catalogue

        load_declarations(declarations_file, load_catalogue())  # fail fast with a one-line message
    if args.baseline:
        from gpc_assure.report.pack import load_results

        load_results(args.baseline)  # a baseline that is not a pack is a usage error
    output: Path = args.output or REPORTS_DIR / new_run_id()
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {output}: {exc.strerror}") from None
    _check_writable(output)
    results_path = output / "results.json"
    if results_path.exists():
        results_path.unlink()

    # schemathesis is used as a library (suites/provider/permissions/test_properties.py); its pytest plugin
    # would only slow every start.
    pytest_args = [str(SUITES_DIR), "--rootdir", str(PROJECT_ROOT), "-p", "no:cacheprovider", "-p", "no:schemathesis",
                   "--gpc-output", str(output), "-p", "no:terminal",
                   # junit.xml is written from results.json by the outputs plugin (rebuildable, redacted,
                   # deviation-aware); allure-pytest writes allure-results/ live, links resolve to report.html.
                   f"--alluredir={output / 'allure-results'}", "--clean-alluredir",
                   "--allure-link-pattern=tms:../report.html#req-{}"]
    if args.deviations:
        pytest_args += ["--gpc-deviations", str(args.deviations)]
    if args.mask_patients:
        pytest_args.append("--gpc-mask-patients")
    if declarations_file:
        pytest_args += ["--gpc-declarations", str(declarations_file)]
    if args.baseline:
        pytest_args += ["--gpc-baseline", str(args.baseline)]
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
    for rid in args.requirement or []:
        pytest_args += ["--gpc-requirement", rid]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    pytest_args += ["--gpc-seed", str(seed), f"--hypothesis-seed={seed}"]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    started = time.monotonic()
    try:
        code = _with_pfs_version(args.pfs_version, lambda: pytest.main(pytest_args))
    except OSError as exc:  # a pack file a third-party plugin writes on a full or failing disk
        print(f"gpc-assure: could not write the evidence pack in {output}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    if code == pytest.ExitCode.USAGE_ERROR and not results_path.exists():
        print("gpc-assure: the suites could not be started (see the message above)", file=sys.stderr)
        return 2
    if not results_path.exists():
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            print("gpc-assure: no conformance test matched the selection", file=sys.stderr)
            return 2
        print(f"gpc-assure: the run ended without writing {results_path}", file=sys.stderr)
        return 3
    results = json.loads(results_path.read_text("utf-8"))
    if args.quiet and results["run"].get("error"):
        print(f"gpc-assure: {results['run']['error']}", file=sys.stderr)
    if results["run"].get("evidence_write_failures"):
        print(f"gpc-assure: the evidence pack is incomplete: {results['run']['evidence_write_failures']} "
              f"file(s) could not be written to {output} "
              f"({results['run'].get('evidence_write_error') or 'write failed'})", file=sys.stderr)
    if args.quiet:
        s = results["summary"]
        print(f"gpc-assure: {s['tests']} tests, {s['passed']} passed, {s['failed']} failed, {s['error']} error; "
              f"requirements {s['requirements']}; pack {output} ({time.monotonic() - started:.1f} s)")
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR) and not results["run"].get("error"):
        return 3
    verdict = exit_code(results)
    readiness = results["summary"].get("readiness") or {}
    if args.gate == "submission" and verdict == 0 and not readiness.get("ready", False):
        outstanding = {k: len(v) for k, v in readiness.items() if isinstance(v, list) and v
                       and k != "accepted_deviations"}
        print(f"gpc-assure: submission gate: not ready, outstanding {outstanding}", file=sys.stderr)
        verdict = 1
    _print_manifest_hash(output)
    if not (output / "junit.xml").is_file():
        print(f"gpc-assure: the evidence pack is incomplete: {output / 'junit.xml'} could not be written",
              file=sys.stderr)
        return verdict or 3
    return verdict


def cmd_sign(args: argparse.Namespace) -> int:
    from gpc_assure.report import manifest

    if not (args.pack / manifest.MANIFEST).is_file():
        raise ConfigError(f"{args.pack}: no {manifest.MANIFEST} (not an evidence pack, or not finished)")
    password = os.environ.get(args.password_env) if args.password_env else None
    path = manifest.sign(args.pack, args.key, password)
    print(f"gpc-assure: signed {args.pack / manifest.MANIFEST} -> {path}")
    return 0


def _declarations_of(target: Path | None) -> Path | None:
    """The declarations file a target file names in [system] (relative to the target file)."""
    if target is None:
        return None
    from gpc_assure.target import load_target

    system = getattr(load_target(target), "system", None)
    value = getattr(system, "declarations", None) if system is not None else None
    return (target.parent / value) if value else None


def cmd_declarations(args: argparse.Namespace) -> int:
    from gpc_assure.declarations import template
    from gpc_assure.requirements import load_catalogue

    text = template(load_catalogue(), set(args.flow or []) or None, set(args.role or []) or None)
    if args.output:
        try:
            args.output.write_text(text + "\n", "utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"gpc-assure: wrote {args.output}")
    else:
        print(text)
    return 0


def _print_manifest_hash(pack: Path) -> None:
    """The manifest's own hash in the log: a record outside the pack of what the pack was."""
    try:
        digest = json.loads((pack / "manifest.json").read_text("utf-8")).get("manifest_sha256")
    except (OSError, ValueError):
        print(f"gpc-assure: the evidence pack has no readable manifest.json in {pack}", file=sys.stderr)
        return
    print(f"gpc-assure: pack manifest sha256 {digest}")


def cmd_report(args: argparse.Namespace) -> int:
    from gpc_assure.report import integrity, pack

    results = pack.load_results(args.pack)
    for p in integrity.problems(args.pack, results):
        print(f"gpc-assure: results.json does not follow from its test records: {p}", file=sys.stderr)
    # The outputs show the verdicts the test records give, never the ones results.json merely states.
    problems = pack.build(args.pack, integrity.with_derived_verdicts(results), built_by="gpc-assure report")
    for p in problems:
        print(f"gpc-assure: could not build {p}", file=sys.stderr)
    print(f"gpc-assure: rebuilt {', '.join(pack.OUTPUTS)}, allure-results/ and manifest.json in {args.pack}")
    _print_manifest_hash(args.pack)
    return 3 if problems else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from gpc_assure.report import manifest

    if not (args.pack / manifest.MANIFEST).is_file():
        raise ConfigError(f"{args.pack}: no {manifest.MANIFEST} (not an evidence pack, or not finished)")
    from gpc_assure.report import integrity, pack

    result = manifest.verify(args.pack)
    for line in result.lines():
        print(line)
    try:
        unfounded = integrity.problems(args.pack, pack.load_results(args.pack))
    except ConfigError as exc:
        unfounded = [str(exc)]
    for line in unfounded:
        print(f"verdict: {line}")
    if args.public_key:
        bad = manifest.check_signature(args.pack, args.public_key)
        if bad:
            unfounded.append(bad)
            print(f"signature: {bad}")
        else:
            print(f"signature: manifest.json is signed by the key {args.public_key.name}")
    if result.ok and not unfounded:
        print(f"gpc-assure: {args.pack}: all {result.checked} files match manifest.json and every verdict follows "
              f"from the test records (manifest sha256 {result.manifest_sha256})")
        return 0
    if not result.ok:
        print(f"gpc-assure: {args.pack}: the pack does NOT match its manifest", file=sys.stderr)
    if unfounded:
        print(f"gpc-assure: {args.pack}: {len(unfounded)} problem(s) with the verdicts or the signature",
              file=sys.stderr)
    return 1


def cmd_diff(args: argparse.Namespace) -> int:
    from gpc_assure.report import diff, pack

    def load(path: Path) -> dict:
        return pack.load_results(path.parent if path.is_file() else path)

    result = diff.compare(load(args.old), load(args.new))
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    else:
        print("\n".join(result.lines()))
    return 0 if result.same else 1


def _with_pfs_version(version: str | None, run: Callable[[], Any]) -> Any:
    """Run with the reference's User Permissions version set (it reads $GPC_ASSURE_PFS_VERSION), then restore."""
    from gpc_assure.reference.permissions import ENV_VERSION

    if version is None:
        return run()
    before = os.environ.get(ENV_VERSION)
    os.environ[ENV_VERSION] = version
    try:
        return run()
    finally:
        if before is None:
            os.environ.pop(ENV_VERSION, None)
        else:
            os.environ[ENV_VERSION] = before


def _check_writable(output: Path) -> None:
    """Fail before the run, not after it, when the evidence pack cannot be written."""
    probe = output / f".gpc-assure-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {output}: {exc.strerror}") from None


def cmd_faults() -> int:
    from rich.console import Console
    from rich.table import Table

    from gpc_assure.reference.faults import registry

    table = Table(show_lines=False)
    for col in ("fault", "role", "flow", "breaks", "what it changes"):
        table.add_column(col)
    for f in registry().values():
        table.add_row(f.name, f.role, f.flow, ", ".join(f.breaks), f.description)
    Console(width=200).print(table)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gpc_assure.reference.server import ReferenceServer

    server = ReferenceServer(faults=[args.fault] if args.fault else [], port=args.port,
                             pfs_version=args.pfs_version).start()
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


def cmd_selftest(args: argparse.Namespace) -> int:
    from gpc_assure import selftest
    from gpc_assure.reference import faults as fault_registry

    chosen = [fault_registry.get(n) for n in args.fault] if args.fault else list(fault_registry.registry().values())
    if args.flow:
        chosen = [f for f in chosen if f.flow in args.flow]
    clean, detections = selftest.run_all(chosen, workers=args.workers, focused=not args.full)
    print(selftest.table(clean, detections))
    ok = clean.exit_code == 0 and all(d.caught and not d.extra for d in detections)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "faults":
            return cmd_faults()
        if args.command == "declarations":
            return cmd_declarations(args)
        if args.command == "selftest":
            return cmd_selftest(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "sign":
            return cmd_sign(args)
        if args.command == "diff":
            return cmd_diff(args)
        if args.command == "reference" and args.reference_command == "consumer":
            from gpc_assure.reference.consumer.cli import run as run_consumer

            return run_consumer(args)
        if args.command == "reference":
            return cmd_serve(args)
        raise ConfigError(f"unknown command {args.command}")
    except GpcAssureError as exc:
        print(f"gpc-assure: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the output was piped into something that stopped reading (head, less)
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # the interpreter flushes stdout again on exit
        return 0
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
