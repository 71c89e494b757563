"""Print how many requirements each degenerate provider meets (the soundness self-test's figures).

    .venv/bin/python benchmarks/soundness.py [KIND ...]

For each provider of tests/soundness.py: the requirements reported met, those the allowlist explains,
and any it does not (each with the check that met it). Asserts nothing; tests/test_soundness.py does.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import soundness


def main(kinds: list[str]) -> None:
    with soundness.reference_mapping() as mapping, tempfile.TemporaryDirectory() as tmp:
        print(f"{'provider':18} {'met':>4} {'allowed':>7} {'unexplained':>11} {'tests':>6} {'exit':>4} {'s':>6}")
        for kind in kinds or list(soundness.PROVIDERS):
            started = time.monotonic()
            res = soundness.run_provider(kind, mapping, Path(tmp))
            took = time.monotonic() - started
            met = soundness.met(res)
            bad = soundness.unexplained(kind, res)
            print(f"{kind:18} {len(met):4} {len(met) - len(bad):7} {len(bad):11} {res['summary']['tests']:6} "
                  f"{res['_exit']:4} {took:6.1f}")
            for rid in bad:
                print(f"    {rid}: {soundness.evidence_of(res, rid)}")


if __name__ == "__main__":
    main(sys.argv[1:])
