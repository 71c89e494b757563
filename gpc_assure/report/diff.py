"""`gpc-assure diff OLD NEW`: what changed between two runs, requirement by requirement and test by test.

A requirement changed when its verdict did. A test changed when its outcome did, or, when it
failed or errored in both runs, when what it reported did. Messages are compared after
normalising what differs from run to run anyway (timestamps, trace and message IDs, UUIDs, ports,
durations, exchange file numbers, run IDs, masked-patient pseudonyms), so two runs of the same
system compare equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_NORMALISE = [
    (re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b"), "<run-id>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b"), "<time>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\b"), "<http-date>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"\[NHS-[0-9a-f]{8}\]"), "<nhs>"),
    (re.compile(r"((?:127\.\d+\.\d+\.\d+|localhost|\[::1\]):)\d+"), r"\1<port>"),
    (re.compile(r"exchanges/\d{5}-"), "exchanges/<n>-"),
    (re.compile(r"\b\d+(\.\d+)?\s?(ms|s|seconds)\b"), "<duration>"),
    (re.compile(r"(?i)\b(seed)[ =:]+\d+"), r"\1 <seed>"),
]


def normalise(text: str | None) -> str:
    text = text or ""
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    return text.strip()


def _test_signature(test: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    outcome = test["outcome"]
    if outcome not in ("failed", "error"):
        return outcome, ()
    report = [normalise(test.get("message"))]
    report += sorted(f"{f['requirement']}: {normalise(f.get('message'))}" for f in test.get("findings", []))
    return outcome, tuple(report)


@dataclass
class Change:
    id: str
    old: str | None  # None: not in the old run
    new: str | None  # None: not in the new run
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "old": self.old, "new": self.new, "detail": self.detail}


@dataclass
class RunDiff:
    old_run: str | None
    new_run: str | None
    requirements: list[Change] = field(default_factory=list)
    tests: list[Change] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.requirements or self.tests)

    def as_dict(self) -> dict[str, Any]:
        return {"old_run": self.old_run, "new_run": self.new_run, "same": self.same,
                "requirements": [c.as_dict() for c in self.requirements], "tests": [c.as_dict() for c in self.tests]}

    def lines(self) -> list[str]:
        out = [f"comparing {self.old_run} -> {self.new_run}"]
        if self.same:
            return [*out, "no requirement or test verdict changed"]
        out.append(f"requirements whose verdict changed: {len(self.requirements)}")
        out += [f"  {c.id}: {c.old or '(absent)'} -> {c.new or '(absent)'}" + (f"  {c.detail}" if c.detail else "")
                for c in self.requirements]
        out.append(f"tests whose verdict changed: {len(self.tests)}")
        out += [f"  {c.id}: {c.old or '(absent)'} -> {c.new or '(absent)'}" + (f"  {c.detail}" if c.detail else "")
                for c in self.tests]
        return out


def _key(test_id: str) -> str:
    """Test IDs can carry per-run values in their parameters; compare them normalised."""
    return normalise(test_id)


def compare(old: dict[str, Any], new: dict[str, Any]) -> RunDiff:
    result = RunDiff(old.get("run", {}).get("id"), new.get("run", {}).get("id"))
    old_reqs = {r["id"]: r for r in old.get("requirements", [])}
    new_reqs = {r["id"]: r for r in new.get("requirements", [])}
    for rid in sorted(old_reqs.keys() | new_reqs.keys()):
        a, b = old_reqs.get(rid), new_reqs.get(rid)
        va, vb = (a or {}).get("verdict"), (b or {}).get("verdict")
        if va != vb:
            detail = ((b or {}).get("reason") or "") if vb not in ("met", None) else ""
            result.requirements.append(Change(rid, va, vb, detail))
    old_tests = {_key(t["id"]): t for t in old.get("tests", [])}
    new_tests = {_key(t["id"]): t for t in new.get("tests", [])}
    for key in sorted(old_tests.keys() | new_tests.keys()):
        a, b = old_tests.get(key), new_tests.get(key)
        if a is None or b is None:
            present = a or b
            assert present is not None
            result.tests.append(Change(present["id"], a and a["outcome"], b and b["outcome"]))
            continue
        sa, sb = _test_signature(a), _test_signature(b)
        if sa == sb:
            continue
        detail = "" if sa[0] != sb[0] else "same outcome, different problem reported"
        if sb[0] in ("failed", "error"):
            first = (b.get("message") or "").splitlines()
            detail = (detail + ": " if detail else "") + (first[0][:200] if first else "")
        result.tests.append(Change(b["id"], sa[0], sb[0], detail))
    return result
