"""Accepted deviations: failures a supplier has agreed, with a justification, to live with until a date.

The supplier keeps a TOML file and passes it with `gpc-assure run --deviations FILE`:

    [[deviation]]
    requirement = "FND-CAP-002"          # or: test = "suites/provider/foundations/test_x.py::test_y"
    justification = "Version string fixed in release 4.2 (ticket ABC-123)"
    expires = 2027-03-31                 # a TOML date (or "2027-03-31"); valid through that day
    accepted_by = "J. Smith, clinical safety officer"   # optional

How they change a run:
- A not-met requirement whose failures are all covered by live entries (an entry for the
  requirement, or one for each failing test) gets the verdict `accepted-deviation`. It stays in
  every report, with the justification and expiry, and does not fail the gate.
- An entry past its expiry date covers nothing: its failures stay `not-met`, the reports say the
  deviation expired, and the gate fails (exit 1) even when the entry matched no failure in this
  run, because a run of a subset of tests cannot tell whether the expired problem was fixed.
- An entry naming a requirement the catalogue does not know is a configuration error (exit 2);
  a live entry that matched no failure is listed as unused, so stale entries are visible.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpc_assure.errors import ConfigError
from gpc_assure.report import results as results_mod
from gpc_assure.requirements import Catalogue

ACCEPTED = "accepted-deviation"


@dataclass(frozen=True)
class Deviation:
    requirement: str | None
    test: str | None
    justification: str
    expires: dt.date
    accepted_by: str | None = None

    @property
    def key(self) -> str:
        return self.requirement or self.test or ""

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def as_dict(self, today: dt.date) -> dict[str, Any]:
        return {"requirement": self.requirement, "test": self.test, "justification": self.justification,
                "expires": self.expires.isoformat(), "accepted_by": self.accepted_by,
                "status": "expired" if self.expired(today) else "active"}


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: expires must be a date such as 2027-03-31")


def parse(data: dict[str, Any], source: str, catalogue: Catalogue | None = None) -> list[Deviation]:
    unknown_top = set(data) - {"deviation"}
    if unknown_top:
        raise ConfigError(f"{source}: unknown table(s) {', '.join(sorted(unknown_top))} (expected [[deviation]])")
    out: list[Deviation] = []
    for n, raw in enumerate(data.get("deviation", []), start=1):
        where = f"{source}: deviation #{n}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table")
        extra = set(raw) - {"requirement", "test", "justification", "expires", "accepted_by"}
        if extra:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        req, test = raw.get("requirement"), raw.get("test")
        if bool(req) == bool(test):
            raise ConfigError(f"{where}: give exactly one of 'requirement' or 'test'")
        justification = str(raw.get("justification") or "").strip()
        if not justification:
            raise ConfigError(f"{where} ({req or test}): a justification is required")
        if "expires" not in raw:
            raise ConfigError(f"{where} ({req or test}): an expiry date ('expires') is required")
        if req and catalogue is not None and req not in catalogue:
            raise ConfigError(f"{where}: requirement {req} is not in the catalogue")
        out.append(Deviation(requirement=req, test=test, justification=justification,
                             expires=_date(raw["expires"], where), accepted_by=raw.get("accepted_by")))
    return out


def load(path: str | Path, catalogue: Catalogue | None = None) -> list[Deviation]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: deviations file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read deviations file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    return parse(data, str(p), catalogue)


_PARAMS = re.compile(r"\[.*\]$")


def _test_matches(entry_test: str, test_id: str) -> bool:
    """An entry names a test by node ID; without [params] it covers every parametrisation."""
    return entry_test == test_id or entry_test == _PARAMS.sub("", test_id)


def apply(results: dict[str, Any], deviations: list[Deviation], today: dt.date | None = None,
          source: str | None = None) -> None:
    """Amend results (as in results.json) in place with the deviations; recompute the summary."""
    today = today or dt.datetime.now(dt.UTC).date()
    tests = {t["id"]: t for t in results["tests"]}
    used: dict[int, list[str]] = {i: [] for i in range(len(deviations))}
    by_req = {d.requirement: i for i, d in enumerate(deviations) if d.requirement}
    by_test = [(i, d) for i, d in enumerate(deviations) if d.test]

    def covering(rid: str, failing: list[str]) -> list[int] | None:
        """The entries that cover every failure of rid, or None when some failure is uncovered."""
        if rid in by_req:
            return [by_req[rid]]
        found = []
        for tid in failing:
            entry = next((i for i, d in by_test if _test_matches(d.test or "", tid)), None)
            if entry is None:
                return None
            found.append(entry)
        return found or None

    accepted_by_test: dict[str, set[str]] = {}
    expired_by_test: dict[str, set[str]] = {}
    for req in results["requirements"]:
        if req["verdict"] != "not-met":
            continue
        failing = [t["id"] for t in results["tests"] if req["id"] in t.get("failed_requirements", [])]
        entries = covering(req["id"], failing)
        if entries is None:
            continue
        for i in entries:
            used[i].append(req["id"])
        dead = [deviations[i] for i in entries if deviations[i].expired(today)]
        if dead:
            d = dead[0]
            req["deviation"] = d.as_dict(today)
            req["reason"] = (f"accepted deviation EXPIRED on {d.expires.isoformat()} (renew or fix): "
                             f"{d.justification}; {req.get('reason') or ''}").rstrip("; ")
            for tid in failing:
                expired_by_test.setdefault(tid, set()).add(req["id"])
            continue
        d = deviations[entries[0]]
        req["deviation"] = d.as_dict(today)
        req["verdict"] = ACCEPTED
        req["reason"] = f"accepted deviation until {d.expires.isoformat()}: {d.justification}"
        for tid in failing:
            accepted_by_test.setdefault(tid, set()).add(req["id"])

    for tid, test in tests.items():
        failed = set(test.get("failed_requirements", []))
        if not failed:
            continue
        if tid in expired_by_test:
            test["deviation"] = {"status": "expired", "requirements": sorted(expired_by_test[tid])}
        elif failed <= accepted_by_test.get(tid, set()):
            test["deviation"] = {"status": "active", "requirements": sorted(failed)}

    entries_out = []
    for i, d in enumerate(deviations):
        entry = d.as_dict(today)
        entry["matched"] = sorted(set(used[i]))
        entries_out.append(entry)
    results["deviations"] = {
        "file": source,
        "today": today.isoformat(),
        "entries": entries_out,
        "expired": [e["requirement"] or e["test"] for e in entries_out if e["status"] == "expired"],
        "unused": [e["requirement"] or e["test"] for e in entries_out
                   if e["status"] == "active" and not e["matched"]],
    }
    summary = results_mod.summary(results["tests"], results["requirements"])
    summary["accepted_deviations"] = sum(1 for r in results["requirements"] if r["verdict"] == ACCEPTED)
    summary["expired_deviations"] = len(results["deviations"]["expired"])
    results["summary"] = summary


def expired(results: dict[str, Any]) -> list[str]:
    return list((results.get("deviations") or {}).get("expired") or [])
