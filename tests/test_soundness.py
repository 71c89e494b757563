"""Soundness self-test: providers that do nothing useful meet nothing beyond the justified allowlist."""

from __future__ import annotations

import pytest
import soundness


@pytest.fixture(scope="module")
def mapping():
    with soundness.reference_mapping() as m:
        yield m


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(soundness.PROVIDERS))
def test_degenerate_provider_meets_nothing(kind, mapping, tmp_path):
    results = soundness.run_provider(kind, mapping, tmp_path)
    bad = soundness.unexplained(kind, results)
    detail = "\n  ".join(f"{rid}: {soundness.evidence_of(results, rid)}" for rid in bad)
    assert not bad, f"the '{kind}' provider meets requirements the allowlist does not explain:\n  {detail}"
    assert results["_exit"] != 0, f"the '{kind}' provider passed the gate"


def test_allowlist_entries_say_why():
    for kind, rows in soundness.allowlist().items():
        # Degenerate consumers, senders and receivers have their own modules (tests/soundness_*.py).
        known = kind == "*" or kind in soundness.PROVIDERS or kind.startswith(("consumer-", "sender-", "receiver-"))
        assert known, f"allowlist names an unknown provider {kind!r}"
        for rid, why in rows.items():
            assert len(why.split()) >= 6, f"{kind}/{rid}: say why in a sentence"
