"""Mutation self-test: the fault-free reference passes everything and every named fault is caught."""

from __future__ import annotations

import pytest

from gpc_assure import selftest


@pytest.fixture(scope="module")
def mutation_results(tmp_path_factory):
    clean, detections = selftest.run_all(workdir=tmp_path_factory.mktemp("mutation"))
    return clean, detections


@pytest.mark.slow
def test_fault_free_reference_passes_everything(mutation_results, capsys):
    clean, detections = mutation_results
    with capsys.disabled():
        print("\n" + selftest.table(clean, detections))
    assert clean.exit_code == 0 and not clean.failed_tests and not clean.error_tests, (
        f"the fault-free reference must pass: exit {clean.exit_code}, failed {clean.failed_tests}, "
        f"error {clean.error_tests}, problem {clean.problem}")


@pytest.mark.slow
def test_every_fault_is_caught_by_a_test_naming_its_requirements(mutation_results):
    _clean, detections = mutation_results
    missed = [f"{d.fault.name} (breaks {', '.join(d.fault.breaks)}; not met: {d.outcome.not_met}; "
              f"exit {d.outcome.exit_code}; {d.outcome.problem or ''})" for d in detections if not d.caught]
    assert not missed, "faults no test caught:\n  " + "\n  ".join(missed)


@pytest.mark.slow
def test_faults_break_only_what_they_name(mutation_results):
    _clean, detections = mutation_results
    imprecise = [f"{d.fault.name}: also not met {d.extra}" for d in detections if d.extra]
    assert not imprecise, "faults whose runs report requirements they do not name:\n  " + "\n  ".join(imprecise)
