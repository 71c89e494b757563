"""Soundness self-test for Send Document: degenerate senders and receivers, configured through the target's
[mesh] section as a supplier's own would be, meet nothing beyond the justified allowlist, never pass the
gate, and are charged on the requirement their one defect is about."""

from __future__ import annotations

import json

import pytest
import soundness_messaging as sm

# What each degenerate counterpart is charged with (not met): the root cause a supplier fixes first.
CHARGED = {
    "sender-does-nothing": {"MSG-SD-001"},
    "sender-non-itk-body": {"MSG-SD-002"},
    "sender-crashes": {"MSG-SD-001"},
    "receiver-never-answers": {"MSG-SD-013", "MSG-SD-093", "MSG-SD-094"},
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The run against each counterpart, made once for the tests of this module."""
    cache: dict[str, tuple[dict, object]] = {}

    def get(key: str) -> tuple[dict, object]:
        if key not in cache:
            workdir = tmp_path_factory.mktemp(key)
            cache[key] = (sm.run_counterpart(key, workdir), workdir / key / "pack")
        return cache[key]

    return get


def _not_met(results: dict) -> set[str]:
    return {r["id"] for r in results["requirements"] if r["verdict"] == "not-met"}


@pytest.mark.slow
@pytest.mark.parametrize("key", list(sm.COUNTERPARTS))
def test_degenerate_counterpart_meets_nothing(key, ran):
    results, _ = ran(key)
    bad = sm.unexplained(key, results)
    detail = "\n  ".join(f"{rid}: {sm.soundness.evidence_of(results, rid)}" for rid in bad)
    assert not bad, f"the '{key}' {sm.COUNTERPARTS[key].role} meets requirements the allowlist does not explain:" \
                    f"\n  {detail}"
    assert results["_exit"] == 1, f"the '{key}' counterpart did not fail the gate (exit {results['_exit']}): " \
                                  f"{results['_stderr']}"
    assert CHARGED[key] <= _not_met(results), f"{key}: not met {sorted(_not_met(results))}"
    assert not [t for t in results["tests"] if t["outcome"] in ("error", "skipped")], "a test errored or was skipped"
    if key.startswith("sender-"):
        # Nothing about the document is judged on a document that never came or cannot be read.
        assert _not_met(results) == CHARGED[key]


@pytest.mark.slow
def test_a_crashing_trigger_is_seen(ran):
    """The trigger command's exit code and the end of its output reach the judgement and the evidence."""
    results, pack = ran("sender-crashes")
    test = next(t for t in results["tests"] if t["id"].endswith("::test_document_arrives"))
    judgement = next(j for j in test["judgements"] if j["requirement"] == "MSG-SD-001")
    assert judgement["verdict"] == "not-met"
    assert "exited with code 3" in judgement["message"] and "the report service is not configured" in \
        judgement["message"]
    record = json.loads((pack / judgement["exchanges"][0]).read_text("utf-8"))
    assert record["interaction"] == "mesh.trigger" and "exit code: 3" in record["notes"][0]
    assert "RuntimeError" in record["notes"][1]
    # Everything else of the sender suite is not judged, naming MSG-SD-001 as the cause (never skipped).
    others = [j for t in results["tests"] for j in t.get("judgements", []) if j["requirement"] != "MSG-SD-001"]
    assert others and all(j["verdict"] == "not-judged" and j.get("cause") == "MSG-SD-001" for j in others)


def test_counterparts_are_named_for_the_allowlist():
    for key, c in sm.COUNTERPARTS.items():
        assert key == f"{c.role}-{c.name}" and c.role in ("sender", "receiver")
        assert (c.trigger is not None) == (c.role == "sender")
    assert set(CHARGED) == set(sm.COUNTERPARTS)
