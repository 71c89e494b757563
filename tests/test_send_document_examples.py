"""The published Send Document v1.3 worked example, judged by every sender rule the product has.

Each problem the rules find must be a departure listed in send_document_departures.toml, and each
listed departure must still happen; every source conflict (SD-C01..SD-C13 in the reference notes §1.5)
must be accounted for as a departure, a reading (the example passes only under the reading the
catalogue records) or something the example does not contain. No rule is loosened for the example.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gpc_assure.checks import send_document as sd
from gpc_assure.messaging import itk3
from gpc_assure.messaging.spec import V13
from gpc_assure.paths import SHARED_SPECS_DIR
from gpc_assure.requirements import load_catalogue

EXAMPLES_DIR = SHARED_SPECS_DIR / "send-document-examples"
EXAMPLE = "v1.3-consultation_report.xml"
DEFINITION = "v1.3-message-definition.xml"
LEDGER = tomllib.loads(Path(__file__).with_name("send_document_departures.toml").read_text("utf-8"))
CONFLICTS = [f"SD-C{n:02d}" for n in range(1, 14)]

pytestmark = pytest.mark.skipif(not (EXAMPLES_DIR / EXAMPLE).is_file(),
                                reason=f"the worked example is not at {EXAMPLES_DIR}")


def _xml(name: str) -> bytes:
    """The XML inside the page's {% highlight xml %} block (the file is a Jekyll include)."""
    text = (EXAMPLES_DIR / name).read_text("utf-8")
    m = re.search(r"\{%\s*highlight xml\s*%\}(.*?)\{%\s*endhighlight\s*%\}", text, re.DOTALL)
    return (m.group(1) if m else text).strip().encode("utf-8")


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return itk3.parse_message(_xml(EXAMPLE))


@pytest.fixture(scope="module")
def problems(example) -> dict[str, list[str]]:
    return sd.message_problems(example, V13)


def test_every_problem_is_a_listed_departure(problems):
    listed = [d for d in LEDGER["departure"] if d["example"] == EXAMPLE]
    unlisted = [f"{rid}: {p}" for rid, found in problems.items() for p in found
                if not any(d["requirement"] == rid and d["problem"] in p for d in listed)]
    assert not unlisted, "problems in the worked example no departure names:\n  " + "\n  ".join(unlisted)


def test_every_listed_departure_still_happens(problems):
    stale = [f"{d['requirement']}: {d['problem']}" for d in LEDGER["departure"] if d["example"] == EXAMPLE
             and not any(d["problem"] in p for p in problems.get(d["requirement"], []))]
    assert not stale, "departures listed that the rules no longer report:\n  " + "\n  ".join(stale)


def test_every_conflict_is_accounted_for():
    named = {d["conflict"] for d in LEDGER["departure"] if d.get("conflict")}
    named |= {r["conflict"] for r in LEDGER["reading"]} | {n["conflict"] for n in LEDGER["not_judged"]}
    assert sorted(named) == CONFLICTS, f"conflicts not accounted for: {sorted(set(CONFLICTS) - named)}"


def test_conflicts_named_by_the_example_have_catalogue_readings():
    cat = load_catalogue()
    for entry in [*LEDGER["reading"], *(d for d in LEDGER["departure"] if d.get("conflict"))]:
        refs = [r.ref for r in cat[entry["requirement"]].readings]
        assert entry["conflict"] in refs, f"{entry['requirement']} has no reading {entry['conflict']} in the catalogue"


def _value_at(example: dict[str, Any], path: str) -> Any:
    header = itk3.message_header(example)
    doc = itk3.document_bundle(example)
    comp = next(iter(itk3.resources(doc, "Composition")), {})
    handling = itk3.handling(header) or {}
    if path == "MessageHeader handling MessageDefinition":
        return handling.get("MessageDefinition")
    if path == "MessageHeader handling RecipientType":
        return (handling.get("RecipientType") or {}).get("code")
    if path == "Composition.author":
        return (itk3.resolve(doc, (comp.get("author") or [None])[0]) or {}).get("resourceType")
    if path == "Composition.type":
        return ((comp.get("type") or {}).get("coding") or [{}])[0].get("code")
    raise KeyError(path)


@pytest.mark.parametrize("reading", LEDGER["reading"], ids=lambda r: r["conflict"])
def test_readings_are_what_the_example_passes_by(reading, example, problems):
    """The example holds the value the reading is about, and the rule passes it (so it is the reading, not a
    blind spot, that lets it through)."""
    assert _value_at(example, reading["path"]) == reading["value"]
    assert reading["requirement"] not in problems


def test_scal_message_definition_would_fail_where_the_example_passes(example):
    """SD-C03: the published MessageDefinition's url is the requirement's, and the SCAL value is refused."""
    definition = itk3.parse_message(_xml(DEFINITION))
    assert definition["url"] == itk3.SEND_DOCUMENT_DEFINITION
    header = itk3.message_header(example)
    for part in header["extension"][0]["extension"]:
        if part["url"] == "MessageDefinition":
            part["valueReference"]["reference"] = itk3.SEND_DOCUMENT_DEFINITION_SCAL
    try:
        assert sd.message_definition(example, V13) and "SCAL" in sd.message_definition(example, V13)[0]
    finally:
        for part in header["extension"][0]["extension"]:
            if part["url"] == "MessageDefinition":
                part["valueReference"]["reference"] = itk3.SEND_DOCUMENT_DEFINITION


def test_example_under_v2_shows_the_version_differences(example):
    """Judged as v2 instead, the example's v1 LocalExtension is still refused (v2 wants None) and its missing
    careSettingType is reported: the version is a setting, not a loosening."""
    from gpc_assure.messaging.spec import V2

    found = sd.message_problems(example, V2)
    assert "MSG-SD-036" in found and "MSG-SD-055" in found
