"""The evidence pack's outputs: everything built from results.json, then the manifest.

- `--gpc-deviations FILE`: the supplier's accepted deviations, applied to results.json before
  it is written (report/deviations.py);
- `--gpc-mask-patients`: NHS numbers and names masked in everything written (redaction.py);
- everything written is redacted, results.json included (test messages can quote a target);
- allure-pytest (when the run passes --alluredir) gets epic/feature/story, requirement labels and
  links, and each exchange file attached;
- at the end: report.html, scal.xlsx, requirements.csv, junit.xml, allure-results/, manifest.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from gpc_assure import declarations, redaction
from gpc_assure.errors import ConfigError
from gpc_assure.plugins.requirements import meta_of
from gpc_assure.plugins.state import EXCHANGES, RUN
from gpc_assure.report import allure as allure_out
from gpc_assure.report import deviations, pack
from gpc_assure.requirements import load_catalogue

DEVIATIONS = pytest.StashKey[list[deviations.Deviation]]()
DECLARED = pytest.StashKey[declarations.DeclarationsFile]()
TARGET_SEEN = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gpc-assure")
    g.addoption("--gpc-deviations", default=None,
                help="TOML file of accepted deviations (requirement or test, justification, expires)")
    g.addoption("--gpc-mask-patients", action="store_true", default=False,
                help="mask NHS numbers and names in everything the run writes")
    g.addoption("--gpc-declarations", default=None,
                help="the supplier's declarations file (declarations and attestations; gpc_assure/declarations.py)")
    g.addoption("--gpc-baseline", default=None,
                help="an earlier evidence pack: the report shows what changed since it")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("gpc_deviations", None)
    if path:
        try:
            config.stash[DEVIATIONS] = deviations.load(path, load_catalogue())
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    if config.getoption("gpc_mask_patients", False):
        redaction.set_patient_masking(True)
    path = config.getoption("gpc_declarations", None)
    if path:
        try:
            config.stash[DECLARED] = declarations.load(Path(path), load_catalogue())
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None


def _allure_on(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _allure_on(config):
        return
    catalogue = load_catalogue()
    label, link = pytest.mark.allure_label, pytest.mark.allure_link
    # --allure-link-pattern tms:URL{} turns the requirement ID into a URL (the CLI: the pack's report.html)
    tms = dict(getattr(config.option, "allure_link_pattern", None) or []).get("tms", "{}")
    for item in items:
        meta = meta_of(item)
        if meta is None:
            continue
        item.add_marker(label(meta.flow, label_type="epic"))
        item.add_marker(label(meta.role, label_type="feature"))
        item.add_marker(label(meta.id, label_type=allure_out.TEST_LABEL))
        for rid in meta.requirements:
            item.add_marker(label(rid, label_type="requirement"))
            refs = catalogue[rid].refs if rid in catalogue else []
            item.add_marker(link(tms.format(allure_out.requirement_link(rid)), link_type="tms",
                                 name=rid + (f" ({', '.join(refs)})" if refs else "")))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Once the target is known, remember its secrets (and, when masking, its patients' names)."""
    config = item.config
    run = config.stash.get(RUN, None)
    if run is None or run.target is None or config.stash.get(TARGET_SEEN, False):
        return
    config.stash[TARGET_SEEN] = True
    dumped = run.target.model_dump(mode="json")
    redaction.remember_secrets(redaction.secrets_in(dumped))
    if redaction.patient_masking():
        names: list[str | None] = []
        for p in dumped.get("test_data", {}).get("patients", {}).values():
            names += [p.get("family"), *p.get("given", [])]
        practitioner = dumped.get("consumer", {}).get("practitioner", {})
        names += [practitioner.get("family"), *practitioner.get("given", [])]
        redaction.set_patient_masking(True, names)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before fixtures are torn down, while the test is still allure's current one: story and exchanges."""
    if not _allure_on(item.config) or meta_of(item) is None:
        return
    import allure

    run = item.config.stash.get(RUN, None)
    if run is None:
        return
    stories: list[str] = []
    for name in item.stash.get(EXCHANGES, []):
        path = Path(run.output) / name
        interaction = allure_out.interaction_of(Path(run.output), name)
        if interaction and interaction not in stories:
            stories.append(interaction)
        if path.is_file():
            allure.attach.file(str(path), name=Path(name).name, attachment_type=allure.attachment_type.JSON)
    if stories:
        allure.dynamic.story(*stories)
    allure.dynamic.title(meta_of(item).title)  # type: ignore[union-attr]


def pytest_gpc_results_built(results: dict[str, Any], config: pytest.Config) -> None:
    # Everything written is redacted: test messages and findings can quote what a target sent.
    cleaned = redaction.redact_mapping(results)
    results.clear()
    results.update(cleaned)
    if redaction.patient_masking():
        results["run"]["patients_masked"] = True
    declared = config.stash.get(DECLARED, None)
    run = config.stash.get(RUN, None)
    if declared is not None and run is not None:
        declarations.annotate(results, declared, Path(config.getoption("gpc_declarations")), Path(run.output))
    entries = config.stash.get(DEVIATIONS, None)
    if entries is not None:
        deviations.apply(results, entries, source=Path(config.getoption("gpc_deviations")).name)
        for rid in deviations.expired(results):
            print(f"gpc-assure: EXPIRED accepted deviation for {rid}: renew it or fix the failure "
                  "(the gate fails until then)", file=sys.stderr)
    baseline = config.getoption("gpc_baseline", None)
    if baseline:
        results["baseline"] = since(Path(baseline), results)


def since(pack_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    """What changed since an earlier pack (gpc-assure diff), for the report's summary."""
    from gpc_assure.report import diff

    try:
        old = pack.load_results(pack_dir)
    except ConfigError as exc:
        return {"run": None, "problem": str(exc), "requirements": [], "tests": []}
    d = diff.compare(old, results)
    return {"run": d.old_run, "pack": pack_dir.name, "requirements": [c.as_dict() for c in d.requirements],
            "tests": [c.as_dict() for c in d.tests]}


def pytest_gpc_results_written(results: dict[str, Any], output: Path, config: pytest.Config) -> None:
    problems = pack.build(Path(output), results, built_by="gpc-assure run",
                          allure_from_results=not _allure_on(config))
    for p in problems:
        print(f"gpc-assure: could not build {p}", file=sys.stderr)
