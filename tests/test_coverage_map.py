"""docs/coverage/official-suite.json (our map of the official provider suite) still matches the suites.

The map names our tests and requirement IDs; when one is renamed or removed, or a test stops naming a
requirement its row claims, these tests fail so the comparison cannot rot silently.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

import pytest

from gpc_assure.paths import PROJECT_ROOT
from gpc_assure.requirements import load_catalogue

MAP = PROJECT_ROOT / "docs" / "coverage" / "official-suite.json"
STATUSES = {"same", "not-covered"}
OUT_OF_PACK = "1.2.8-only"  # rows listed for completeness but not counted in the 1.2.7 totals


@cache
def coverage_map() -> dict[str, Any]:
    return json.loads(MAP.read_text(encoding="utf-8"))


def base_id(test_id: str) -> str:
    """A collected test id without its parametrize suffix (the map names test functions)."""
    return test_id.split("[", 1)[0]


@pytest.fixture(scope="module")
def requirements_by_test(collected_tests: list[dict]) -> dict[str, set[str]]:
    """Every collected test function, with the requirement IDs its cases name."""
    out: dict[str, set[str]] = {}
    for t in collected_tests:
        out.setdefault(base_id(t["id"]), set()).update(t["requirements"])
    return out


def test_rows_are_well_formed() -> None:
    bad = []
    for row in coverage_map()["rows"]:
        where = f"{row['feature']}: {row['scenario']}"
        if row["status"] not in STATUSES:
            bad.append(f"{where}: status {row['status']!r}")
        if row["status"] == "same" and not row["tests"]:
            bad.append(f"{where}: 'same' names no test of ours")
        if row["status"] == "not-covered" and not (row.get("reason") or "").strip():
            bad.append(f"{where}: 'not-covered' gives no reason")
    assert not bad, "malformed rows:\n  " + "\n  ".join(bad)


def test_named_tests_exist(requirements_by_test: dict[str, set[str]]) -> None:
    doc = coverage_map()
    named = {t for row in doc["rows"] for t in row["tests"]}
    named |= {x["test"] for area in doc["extras"].values() for x in area["tests_without_counterpart"]}
    missing = sorted(t for t in named if t not in requirements_by_test)
    assert not missing, "the coverage map names tests that are no longer collected:\n  " + "\n  ".join(missing)


def test_named_requirements_exist() -> None:
    cat = load_catalogue()
    doc = coverage_map()
    named = {q for row in doc["rows"] for q in row["requirements"]}
    named |= {q["id"] for area in doc["extras"].values() for q in area["requirements_without_counterpart"]}
    named |= {q for area in doc["extras"].values() for x in area["tests_without_counterpart"]
              for q in x["requirements"]}
    missing = sorted(q for q in named if q not in cat)
    assert not missing, f"the coverage map names requirement IDs the catalogue no longer has: {missing}"


def test_rows_requirements_are_named_by_their_tests(requirements_by_test: dict[str, set[str]]) -> None:
    """A row's requirements are the ones its tests verify: the map may not claim more than the tests do."""
    bad = []
    for row in coverage_map()["rows"]:
        if not row["tests"]:
            continue
        verified = set().union(*(requirements_by_test.get(t, set()) for t in row["tests"]))
        if unclaimed := sorted(set(row["requirements"]) - verified):
            bad.append(f"{row['feature']}: {row['scenario']}: {unclaimed}")
    assert not bad, "rows listing requirements none of their tests names:\n  " + "\n  ".join(bad)


def test_totals_match_rows() -> None:
    doc = coverage_map()
    counted: Counter[tuple[str, str]] = Counter()
    for row in doc["rows"]:
        if row["tag"] != OUT_OF_PACK:
            counted[(row["area"], row["status"])] += 1
    for area, totals in doc["totals"].items():
        assert totals["same"] == counted[(area, "same")], area
        assert totals["not_covered"] == counted[(area, "not-covered")], area
        assert totals["official_scenarios"] == totals["same"] + totals["not_covered"], area
