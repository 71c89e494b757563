"""Keys under which the plugins keep run state on the pytest config and items (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gpc_assure.checks.core import Judgement
    from gpc_assure.evidence import EvidenceStore
    from gpc_assure.reference.server import ReferenceServer
    from gpc_assure.target import Target


@dataclass
class Run:
    """One assurance run: what it is against, where its evidence goes, what it has recorded."""

    id: str
    started: str
    output: Any  # pathlib.Path
    seed: int
    fault: str | None = None
    target_file: str | None = None
    target: Target | None = None
    server: ReferenceServer | None = None
    evidence: EvidenceStore | None = None
    deadline: float | None = None
    setup_error: str | None = None  # why the run could not start against the target (exit 3)
    collect_error: str | None = None  # a suite module that could not be collected (our defect)
    internal_error: str | None = None  # pytest's INTERNALERROR: the run cannot be trusted
    records: list[dict[str, Any]] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)  # data tests created and could not undo
    active: bool = False  # any conformance test was collected


RUN = pytest.StashKey[Run]()
META = pytest.StashKey["TestMeta"]()
JUDGEMENTS = pytest.StashKey[list["Judgement"]]()
STOPPED = pytest.StashKey[str]()  # why the test stopped early (a precondition or a must)
EXCHANGES = pytest.StashKey[list[str]]()
