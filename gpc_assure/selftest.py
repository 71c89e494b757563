"""The mutation self-test: proof that every check can fail.

The reference system is run fault-free (every test must pass) and once per named fault (a failed
test must name one of the fault's requirements). Runs happen in forked workers of a parent that has
already imported the heavy modules, so each fault pays only for its own tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpc_assure.reference.faults import Fault, registry


@dataclass
class RunOutcome:
    name: str  # the fault, or "(none)" for the fault-free run
    exit_code: int
    seconds: float
    failed_tests: list[str] = field(default_factory=list)
    error_tests: list[str] = field(default_factory=list)
    not_met: list[str] = field(default_factory=list)
    naming_tests: list[str] = field(default_factory=list)  # failed tests that name a broken requirement
    problem: str | None = None


@dataclass
class Detection:
    fault: Fault
    outcome: RunOutcome

    @property
    def caught(self) -> bool:
        return bool(self.outcome.naming_tests) and self.outcome.exit_code == 1

    @property
    def extra(self) -> list[str]:
        """Requirements reported not met that the fault does not claim to break (imprecision)."""
        return sorted(set(self.outcome.not_met) - set(self.fault.breaks))


def _run(args: tuple[str, list[str], str, list[str]]) -> RunOutcome:
    """In a forked worker: one `gpc-assure run`, summarised."""
    name, cli_args, out_dir, breaks = args
    from gpc_assure.cli import main

    _forget_parent_conftests()

    started = time.monotonic()
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = main(["run", "--quiet", "--seed", "1", "--output", out_dir, *cli_args])
    except BaseException as exc:  # report, never kill the pool
        return RunOutcome(name, -1, time.monotonic() - started, problem=f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    path = Path(out_dir) / "results.json"
    if not path.exists():
        return RunOutcome(name, code, seconds, problem="no results.json: " + sink.getvalue()[-500:])
    data = json.loads(path.read_text("utf-8"))
    failed = [t for t in data["tests"] if t["outcome"] == "failed"]
    return RunOutcome(
        name=name,
        exit_code=code,
        seconds=seconds,
        failed_tests=[t["id"] for t in failed],
        error_tests=[f"{t['id']}: {t['message'][:200]}" for t in data["tests"] if t["outcome"] == "error"],
        not_met=sorted(r["id"] for r in data["requirements"] if r["verdict"] == "not-met"),
        naming_tests=[t["id"] for t in failed if set(t["failed_requirements"]) & set(breaks)],
        problem=(data["run"].get("error") or "") + (" | " + " ".join(sink.getvalue().split())[-600:]
                                                    if code not in (0, 1) else "") or None,
    )


def _forget_parent_conftests() -> None:
    # When the self-test runs inside pytest (the project's own tests), the parent has imported its own
    # conftest and test modules; the child's run imports the suites' modules under top-level names
    # (rootdir import mode), so a same-named parent module would make its collection fail.
    from gpc_assure.paths import SUITES_DIR

    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name == "conftest" or name.endswith(".conftest") or (
                name.split(".")[-1].startswith("test_") and not file.startswith(str(SUITES_DIR))):
            del sys.modules[name]


def _preload() -> None:
    # Import once in the parent so forked workers share it (the "set-up shared across faults").
    import fhir.resources.STU3.bundle  # noqa: F401
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import uvicorn  # noqa: F401

    import gpc_assure.cli
    import gpc_assure.reference.app  # noqa: F401


def run_all(faults: Iterable[Fault] | None = None, workers: int | None = None,
            workdir: Path | None = None, focused: bool = True) -> tuple[RunOutcome, list[Detection]]:
    """The fault-free run and one run per fault.

    A focused fault run (the default) runs only the tests of the fault's flow and role that name one of
    the requirements it breaks: that is what detection needs, and it keeps a few hundred faults within
    minutes. `focused=False` runs the whole flow per fault, so `Detection.extra` also shows a fault
    breaking requirements it does not name anywhere in the flow (slower; for precision audits).
    """
    faults = list(registry().values() if faults is None else faults)
    base = Path(workdir or tempfile.mkdtemp(prefix="gpc-selftest-"))
    jobs = [("(none)", [], str(base / "clean"), [])]
    for f in faults:
        selection = [a for rid in f.breaks for a in ("--requirement", rid)] if focused else []
        jobs.append((f.name, ["--fault", f.name, "--flow", f.flow, "--role", f.role, *selection],
                     str(base / f.name), list(f.breaks)))
    _preload()
    ctx = multiprocessing.get_context("fork")
    n = workers or max(1, os.cpu_count() or 1)
    with ctx.Pool(n, maxtasksperchild=1) as pool:
        outcomes = pool.map(_run, jobs, chunksize=1)
    clean = outcomes[0]
    return clean, [Detection(f, o) for f, o in zip(faults, outcomes[1:], strict=True)]


def table(clean: RunOutcome, detections: list[Detection]) -> str:
    rows = [f"{'fault':44} {'flow':13} {'caught':6} {'s':>5}  breaks -> not met (extra)"]
    for d in detections:
        extra = f"  EXTRA {', '.join(d.extra)}" if d.extra else ""
        mark = "yes" if d.caught else "NO"
        rows.append(f"{d.fault.name:44} {d.fault.flow:13} {mark:6} {d.outcome.seconds:5.1f}  "
                    f"{', '.join(d.fault.breaks)} -> {', '.join(d.outcome.not_met) or '-'}{extra}"
                    + (f"  [{d.outcome.problem}]" if d.outcome.problem else ""))
    caught = sum(d.caught for d in detections)
    rows.append(f"fault-free run: exit {clean.exit_code}, {len(clean.failed_tests)} failed, "
                f"{len(clean.error_tests)} error, {clean.seconds:.1f} s")
    imprecise = [d.fault.name for d in detections if d.extra]
    rows.append(f"detected {caught}/{len(detections)} faults"
                + (f" ({100 * caught / len(detections):.0f}%)" if detections else "")
                # A fault that also fails requirements it does not name blames the wrong rows in a report.
                + (f"; {len(imprecise)} also failed requirements they do not name: {', '.join(imprecise)}"
                   if imprecise else "; every failure among the requirements its fault names"))
    return "\n".join(rows)


def summary_dict(clean: RunOutcome, detections: list[Detection]) -> dict[str, Any]:
    return {
        "clean": {"exit": clean.exit_code, "failed": clean.failed_tests, "error": clean.error_tests},
        "faults": {d.fault.name: {"caught": d.caught, "breaks": list(d.fault.breaks),
                                  "not_met": d.outcome.not_met, "extra": d.extra} for d in detections},
    }
