"""Choosing legacy POST requests from what a GET says, so tests work on any provider's live state.

A real provider's permissions and pending requests persist between runs (nobody reviews the
requests a test files), so tests never assume a starting state: they read it and pick a request
that exercises the rule under test, or end as insufficient-data when none exists.
"""

from __future__ import annotations

from typing import Any

from gpc_assure.pfs import levels as lv

Choice = tuple[lv.Target, str]


def usable_targets(body: Any) -> list[lv.Target]:
    """Legacy targets whose level and maximum are present and known (others are another check's finding)."""
    out = []
    for target in lv.TARGETS["legacy"]:
        have, top = lv.level_of(body, target), lv.level_of(body, target, "accessLevelMax")
        if have is not None and top is not None and lv.rank(target, have) >= 0 and lv.rank(target, top) >= 0:
            out.append(target)
    return out


def increases(body: Any) -> list[Choice]:
    """Every request the rules allow: above the level held, up to accessLevelMax."""
    out = []
    for target in usable_targets(body):
        have = lv.rank(target, lv.level_of(body, target) or "")
        top = lv.rank(target, lv.level_of(body, target, "accessLevelMax") or "")
        out.extend((target, level) for level in lv.levels(target)[have + 1:top + 1])
    return out


def not_pending(body: Any, choices: list[Choice]) -> list[Choice]:
    return [(t, level) for t, level in choices if not lv.pending_for(body, t, level)]


def same_level(body: Any) -> list[Choice]:
    return [(t, lv.level_of(body, t) or "") for t in usable_targets(body)]


def lower_levels(body: Any) -> list[Choice]:
    out = []
    for target in usable_targets(body):
        have = lv.rank(target, lv.level_of(body, target) or "")
        out.extend((target, level) for level in lv.levels(target)[:have])
    return out


def above_max(body: Any) -> list[Choice]:
    out = []
    for target in usable_targets(body):
        top = lv.rank(target, lv.level_of(body, target, "accessLevelMax") or "")
        out.extend((target, level) for level in lv.levels(target)[top + 1:])
    return out


def describe(choice: Choice) -> str:
    target, level = choice
    return f"{level} for the {lv.label(target)}"
