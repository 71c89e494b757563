"""What `gpc-assure run` shows while it runs: a progress bar, each failure as it happens, a summary.

Active only with `--gpc-console` (the CLI sets it, replacing pytest's own terminal output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gpc_assure.plugins.requirements import meta_of

_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "not-met": "red", "met": "green",
          "insufficient-data": "yellow", "not-applicable": "cyan", "skipped": "yellow", "not-tested": "yellow",
          "attested": "blue", "accepted-deviation": "yellow", "awaiting-attestation": "yellow"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("gpc-assure").addoption("--gpc-console", action="store_true",
                                            help="show gpc-assure's progress display and summary")


class ConsoleReporter:
    def __init__(self) -> None:
        self.console = Console(stderr=False, highlight=False)
        self.progress: Progress | None = None
        self.task: Any = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        total = sum(1 for i in session.items if meta_of(i) is not None)
        self.progress = Progress(TextColumn("[bold]gpc-assure"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console,
                                 transient=True, disable=not self.console.is_terminal)
        self.progress.start()
        self.task = self.progress.add_task("", total=total)

    def pytest_gpc_test_recorded(self, record: dict[str, Any], config: pytest.Config) -> None:
        if self.progress is None:
            return
        self.progress.update(self.task, advance=1, description=record["title"][:60])
        if record["outcome"] in ("failed", "error"):
            lines = [ln.strip(" -") for ln in record["message"].splitlines() if ln.strip()]
            if lines and lines[0].endswith(":") and len(lines) > 1:
                lines = lines[1:]  # "N finding(s):" header
            detail = (lines[0].split(" — ")[0] if lines else "")[:160]
            self.progress.console.print(f"[{_STYLE[record['outcome']]}]{record['outcome'].upper():6}[/] "
                                        f"{record['title']}  [dim]{detail}[/]")

    def pytest_sessionfinish(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def pytest_gpc_results_written(self, results: dict[str, Any], output: Path, config: pytest.Config) -> None:
        s = results["summary"]
        run = results["run"]
        if run.get("error"):
            self.console.print(f"[red]gpc-assure: {run['error']}[/]")
        table = Table(title="Requirements", show_edge=False)
        table.add_column("flow")
        verdicts = ["met", "not-met", "insufficient-data", "not-tested", "not-applicable", "awaiting-attestation",
                    "attested"]
        if any(r["verdict"] == "accepted-deviation" for r in results["requirements"]):
            verdicts.insert(2, "accepted-deviation")  # only when a deviations file accepted a failure
        for v in verdicts:
            table.add_column(v, justify="right", style=_STYLE.get(v))
        flows = sorted({r["flow"] for r in results["requirements"]})
        for flow in flows:
            rows = [r for r in results["requirements"] if r["flow"] == flow]
            table.add_row(flow, *[str(sum(1 for r in rows if r["verdict"] == v)) for v in verdicts])
        self.console.print(table)
        self.console.print(
            f"tests: {s['tests']}  [green]passed {s['passed']}[/]  [red]failed {s['failed']}[/]  "
            f"[magenta]error {s['error']}[/]  [yellow]insufficient-data {s['insufficient_data']}[/]  "
            f"[cyan]not-applicable {s['not_applicable']}[/]  skipped {s['skipped']}")
        ready = s.get("readiness") or {}
        gate = "incomplete" if run.get("error") else ("failed" if s["requirements"].get("not-met") or s["failed"]
                                                        else "passed")
        pending = ", ".join(f"{len(ready[k])} {label}" for k, label in (
            ("awaiting_attestation", "awaiting attestation"), ("shall_not_tested", "SHALL not judged"),
            ("declarations_outstanding", "declarations outstanding")) if ready.get(k))
        state = "ready" if ready.get("ready") else "not ready"
        self.console.print(f"technical conformance: [bold]{gate}[/]   submission readiness: [bold]{state}[/]"
                           + (f" ({pending})" if pending else ""))
        not_met = [r for r in results["requirements"] if r["verdict"] == "not-met"]
        for r in not_met[:20]:
            self.console.print(f"  [red]not met[/] {r['id']} ({r['level']}): {r['statement'][:90]}")
        if len(not_met) > 20:
            self.console.print(f"  ... and {len(not_met) - 20} more")
        causes = s.get("root_causes") or []
        if causes:
            self.console.print("[bold]fix first[/] (failures that left other requirements unjudged):")
        for c in causes[:5]:
            finding = f": {c['finding']}" if c.get("finding") else ""
            self.console.print(f"  {len(c['unjudged'])} requirement(s) could not be judged because {c['requirement']} "
                               f"was not met{finding[:120]}")
        if run.get("fault"):
            self.console.print(f"reference system fault: [bold]{run['fault']}[/]")
        self.console.print(f"evidence pack: {output}")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("gpc_console", False):
        config.pluginmanager.register(ConsoleReporter(), "gpc-console")
