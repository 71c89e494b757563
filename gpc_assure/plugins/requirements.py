"""Test metadata as data: title, requirement IDs, flow and role, read from markers and location.

A conformance test lives in `suites/<role>/<flow>/` and carries
`@pytest.mark.title("...")` and `@pytest.mark.requirement("ID", ...)`. Collection fails with a
clear message when a test has no requirement or names one the catalogue does not know.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from gpc_assure.paths import SUITES_DIR
from gpc_assure.plugins.state import META
from gpc_assure.requirements import load_catalogue

ROLES = ("provider", "consumer", "sender", "receiver")


@dataclass(frozen=True)
class TestMeta:
    __test__ = False

    id: str
    title: str
    flow: str
    role: str
    requirements: tuple[str, ...]
    creates_data: bool


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gpc-assure")
    g.addoption("--gpc-flow", action="append", default=[], help="run only this flow (repeatable)")
    g.addoption("--gpc-role", action="append", default=[], help="run only this role (repeatable)")
    g.addoption("--gpc-requirement", action="append", default=[],
                help="run only the tests that name this requirement ID (repeatable)")
    g.addoption("--gpc-list-tests", default=None, metavar="FILE",
                help="write the collected conformance tests and their metadata to FILE (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "requirement(*ids): the requirement IDs a conformance test verifies",
        "title(text): the human title of a conformance test, shown in reports",
        "creates_data: the test creates data on the target; such tests run after read-only ones",
    ):
        config.addinivalue_line("markers", line)


def suite_location(path: Path) -> tuple[str, str] | None:
    """(role, flow) for a file under suites/<role>/<flow>/, else None."""
    try:
        rel = path.resolve().relative_to(SUITES_DIR)
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) >= 3 and parts[0] in ROLES:
        return parts[0], parts[1]
    return None


def _title(item: pytest.Item) -> str:
    mark = item.get_closest_marker("title")
    if mark is None or not mark.args:
        return item.name
    text = str(mark.args[0])
    params = getattr(getattr(item, "callspec", None), "params", {})
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    if fields and fields <= set(params):
        text = text.format(**params)
    return text


def build_meta(item: pytest.Item) -> TestMeta | None:
    loc = suite_location(Path(str(item.path)))
    if loc is None:
        return None
    role, flow = loc
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(a) for a in mark.args)
    return TestMeta(
        id=item.nodeid,
        title=_title(item),
        flow=flow,
        role=role,
        requirements=tuple(dict.fromkeys(ids)),
        creates_data=item.get_closest_marker("creates_data") is not None,
    )


def meta_of(item: pytest.Item) -> TestMeta | None:
    return item.stash.get(META, None)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    catalogue = load_catalogue()
    flows = set(config.getoption("gpc_flow") or [])
    roles = set(config.getoption("gpc_role") or [])
    wanted = set(config.getoption("gpc_requirement") or [])
    unknown = sorted(r for r in wanted if r not in catalogue)
    if unknown:
        raise pytest.UsageError(f"unknown requirement {', '.join(unknown)} (see profiles/requirements/)")
    problems: list[str] = []
    selected, deselected = [], []
    for item in items:
        meta = build_meta(item)
        if meta is None:
            selected.append(item)
            continue
        if not meta.requirements:
            problems.append(f"{item.nodeid}: names no requirement (@pytest.mark.requirement)")
        for rid in meta.requirements:
            if rid not in catalogue:
                problems.append(f"{item.nodeid}: names unknown requirement {rid}")
        item.stash[META] = meta
        if ((flows and meta.flow not in flows) or (roles and meta.role not in roles)
                or (wanted and not wanted & set(meta.requirements))):
            deselected.append(item)
        else:
            selected.append(item)
    if problems:
        raise pytest.UsageError("the suites do not match the requirement catalogue:\n  " + "\n  ".join(problems))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Tests that create data run last, so read-only tests never see what they leave behind.
    selected.sort(key=lambda i: bool((m := meta_of(i)) and m.creates_data))
    items[:] = selected


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("gpc_list_tests")
    if path:
        metas = [asdict(m) for i in session.items if (m := meta_of(i)) is not None]
        Path(path).write_text(json.dumps(metas, indent=1), "utf-8")
