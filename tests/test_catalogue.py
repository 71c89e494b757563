"""The requirement catalogue and the suites agree: traceability both ways, and every check can fail."""

from __future__ import annotations

from collections import defaultdict

from gpc_assure.reference.faults import registry
from gpc_assure.requirements import load_catalogue


def test_catalogue_loads_and_ids_are_unique():
    cat = load_catalogue()
    assert len(cat) > 0


def test_every_test_names_known_requirements(collected_tests):
    cat = load_catalogue()
    unknown = [(t["id"], r) for t in collected_tests for r in t["requirements"] if r not in cat]
    assert not unknown, f"tests naming unknown requirements: {unknown}"
    nameless = [t["id"] for t in collected_tests if not t["requirements"]]
    assert not nameless, f"tests naming no requirement: {nameless}"


def test_every_automated_requirement_has_a_test(collected_tests):
    tested = {r for t in collected_tests for r in t["requirements"]}
    untested = [r.id for r in load_catalogue() if r.verification == "automated" and r.id not in tested]
    assert not untested, f"automated requirements without a test: {untested}"


def test_every_automated_requirement_has_a_fault():
    broken = {rid for f in registry().values() for rid in f.breaks}
    missing = [r.id for r in load_catalogue() if r.verification == "automated" and r.id not in broken]
    assert not missing, f"automated requirements no named fault breaks (checks never shown to fail): {missing}"


def test_faults_name_known_automated_requirements():
    cat = load_catalogue()
    bad = [(f.name, rid) for f in registry().values() for rid in f.breaks
           if rid not in cat or cat[rid].verification != "automated"]
    assert not bad, f"faults breaking unknown or non-automated requirements: {bad}"


def test_tests_do_not_name_untested_requirements(collected_tests):
    cat = load_catalogue()
    odd = defaultdict(list)
    for t in collected_tests:
        for r in t["requirements"]:
            if r in cat and cat[r].verification == "not-tested":
                odd[r].append(t["id"])
    assert not odd, f"requirements marked not-tested but named by tests: {dict(odd)}"


def test_non_automated_requirements_give_reasons():
    missing = [r.id for r in load_catalogue() if r.verification != "automated" and not (r.reason or "").strip()]
    assert not missing


def test_each_rows_wording_matches_its_level():
    """A SHALL row does not say should/may (it would read as optional); a SHOULD or MAY row does not say must."""
    import re

    loose = re.compile(r"\b(should|may|might|optional|optionally)\b", re.IGNORECASE)
    strict = re.compile(r"\b(must|shall)\b", re.IGNORECASE)
    odd = [f"{r.id} ({r.level}): {r.statement}" for r in load_catalogue()
           if (r.level == "SHALL" and loose.search(r.statement)) or (r.level != "SHALL" and strict.search(r.statement))]
    assert not odd, "statements whose wording contradicts their level:\n  " + "\n  ".join(odd)
