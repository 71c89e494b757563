"""The evidence pack's outputs, all built from results.json: the run writes them, `gpc-assure report DIR`
rebuilds them.

Order matters: every output first, manifest.json last (it hashes all of them). One output that
cannot be built does not stop the others; its problem is returned so the caller can say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpc_assure.errors import ConfigError
from gpc_assure.report import allure, coverage, html, junit, manifest, scal

RESULTS = "results.json"
OUTPUTS: dict[str, Callable[[Path, dict[str, Any]], Path]] = {
    "report.html": html.write,
    "scal.xlsx": scal.write,
    "requirements.csv": coverage.write,
    "junit.xml": junit.write,
}


def load_results(pack: Path) -> dict[str, Any]:
    path = pack / RESULTS
    if not pack.is_dir():
        raise ConfigError(f"{pack}: not a folder")
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{pack}: no {RESULTS} (not an evidence pack)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not {"run", "requirements", "tests"} <= set(data):
        raise ConfigError(f"{path}: not a gpc-assure results file")
    return data


def build(pack: Path, results: dict[str, Any], *, built_by: str = "gpc-assure run",
          allure_from_results: bool | None = None) -> list[str]:
    """Write every output into the pack, then the manifest; returns problems (empty when all built).

    allure_from_results: True writes allure-results/ from results.json; False finishes what
    allure-pytest wrote during the run; None (a rebuild) keeps allure-pytest's files if there are any.
    """
    problems: list[str] = []
    for name, writer in OUTPUTS.items():
        try:
            writer(pack, results)
        except Exception as exc:  # one broken output must not lose the others or the manifest
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    if allure_from_results is None:
        allure_from_results = not any((pack / allure.DIR).glob("*-result.json"))
    try:
        if allure_from_results:
            allure.write_from_results(pack, results)
        else:
            allure.finish(pack, results)
    except Exception as exc:
        problems.append(f"{allure.DIR}: {type(exc).__name__}: {exc}")
    try:
        manifest.write(pack, results, built_by)
    except OSError as exc:  # a full disk: say so, and let the caller decide (the CLI exits 3)
        problems.append(f"{manifest.MANIFEST}: {exc.strerror or exc}")
    return problems
